"""The whole bench loop on this host and on an emulated phone: measure → store → train → export →
estimate → verify."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest
from pytest_tflite_latency.bench import zoo
from pytest_tflite_latency.estimator.pipeline import estimate

pytest.importorskip("ai_edge_litert")


def cli(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pytest_tflite_latency.cli", *args], capture_output=True, text=True,
                          timeout=600, cwd=cwd)


def _counts(stdout: str) -> dict[str, int]:
    """{"measured": n, "already": n, "failed": n} from the summary line of `bench run`."""
    line = next(ln for ln in stdout.splitlines() if " measured, " in ln)
    numbers = [int(w) for w in line.replace(",", " ").split() if w.isdigit()]
    return dict(zip(("measured", "already", "failed"), numbers, strict=True))


def test_local_loop_stores_trains_exports_a_usable_profile_and_resumes(tmp_path):
    """Deterministic facts only: every job stored once, a re-run measures nothing, the exported
    profile loads and estimates a model it never saw with finite times, none negative (accuracy is
    `python -m pytest_tflite_latency.bench.local_eval`'s job, not a test's)."""
    db = str(tmp_path / "b.sqlite")
    train_model = tmp_path / "train.tflite"
    train_model.write_bytes(zoo.build("mobilenet_v1", size=64))
    run = ("bench", "run", "--runner", "local", "--device-name", "host-cpu", "--db", db, "--grid", "small",
           "--from-models", "mobilenet_v1", "--limit", "60", "--repeats", "3", "--models", str(train_model))
    r = cli(*run)
    assert r.returncode == 0, r.stderr
    first = _counts(r.stdout)
    assert first["measured"] + first["already"] == 61 and first["failed"] == 0, r.stdout
    r = cli(*run)
    assert r.returncode == 0, r.stderr
    assert _counts(r.stdout) == {"measured": 0, "already": 61, "failed": 0}, r.stdout + r.stderr[-2000:]
    status = cli("bench", "status", "--db", db).stdout
    assert "host-cpu" in status and "kernel ok" in status and "model  ok" in status
    r = cli("bench", "train", "--db", db, "--device-name", "host-cpu", "--algorithm", "xgboost")
    assert r.returncode == 0 and "MAPE" in r.stdout, r.stderr
    out = tmp_path / "host-cpu.json"
    r = cli("bench", "export", "--db", db, "--device-name", "host-cpu", "--out", str(out),
            "--algorithm", "xgboost")
    assert r.returncode == 0, r.stderr
    profile = json.loads(out.read_text())
    assert profile["backend"] == "cpu" and profile["provenance"]["measurements"] == first["measured"]
    est = estimate(zoo.build("mobilenet_v2", size=96), out)
    assert est.device == "host-cpu" and est.layers
    assert all(math.isfinite(layer.ms) and layer.ms >= 0 for layer in est.layers) and est.total_ms > 0
    assert 0 <= est.interval_ms[0] <= est.total_ms <= est.interval_ms[1] and math.isfinite(est.interval_ms[1])
    r = cli("estimate", "--device", str(out), "--format", "json", str(train_model))
    assert json.loads(r.stdout)["device"] == "host-cpu"


def test_adb_loop_against_the_emulated_phone(tmp_path, phone_factory, benchmark_binary):
    phone = phone_factory()
    db = str(tmp_path / "b.sqlite")
    r = cli("bench", "run", "--runner", "adb", "--serial", phone.serial, "--benchmark-binary",
            str(benchmark_binary), "--device-name", "emu-gpu", "--db", db, "--grid", "small",
            "--kernels", "conv,pool", "--limit", "6")
    assert r.returncode == 0, r.stderr
    assert "emu-gpu: 6 measured" in r.stdout
    assert phone.benchmarks == 6 and not phone.path("/data/local/tmp/tflite_latency").exists()
    assert "emu-gpu" in cli("bench", "status", "--db", db).stdout


def test_phone_faults_are_recorded_and_the_run_goes_on(tmp_path, phone_factory, benchmark_binary):
    phone = phone_factory("nonsense")
    db = str(tmp_path / "b.sqlite")
    r = cli("bench", "run", "--runner", "adb", "--serial", phone.serial, "--benchmark-binary",
            str(benchmark_binary), "--device-name", "emu", "--db", db, "--grid", "small", "--kernels", "pool",
            "--limit", "3")
    assert r.returncode == 0 and "0 measured" in r.stdout and "3 failed" in r.stdout
    assert "printed no 'Inference timings' line" in r.stderr and "Traceback" not in r.stderr
    assert "last errors on emu" in cli("bench", "status", "--db", db).stdout


def test_phone_that_disconnects_stops_the_run_with_a_resume_hint(tmp_path, phone_factory, benchmark_binary):
    phone = phone_factory("disconnect")
    r = cli("bench", "run", "--runner", "adb", "--serial", phone.serial, "--benchmark-binary",
            str(benchmark_binary), "--device-name", "emu", "--db", str(tmp_path / "b.sqlite"),
            "--grid", "small", "--kernels", "conv", "--limit", "8")
    assert r.returncode != 0 and "Traceback" not in r.stderr
    assert "re-run the same command to resume" in r.stderr or "adb device" in r.stderr


def test_no_adb_server_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("ANDROID_ADB_SERVER_PORT", "1")
    r = cli("bench", "run", "--runner", "adb", "--device-name", "x", "--db", str(tmp_path / "b.sqlite"))
    assert r.returncode == 2 and "Traceback" not in r.stderr and "adb" in r.stderr


def test_few_shot_calibration_beats_the_uncalibrated_source(tmp_path):
    """Adreno 640's profile calibrated on 20 Adreno 630 networks predicts the other Adreno 630
    networks better than it did before (real measurements from ../shared)."""
    import numpy as np
    from pytest_tflite_latency.bench.calibrate import calibrate
    from pytest_tflite_latency.bench.dataset import NB201_CSV, nb201_records
    from pytest_tflite_latency.bench.train import predict
    from pytest_tflite_latency.estimator.profile import load_profile

    if not NB201_CSV.is_file():
        pytest.skip("../shared/data/nnmeter-nasbench201 is not beside the checkout")
    csv = tmp_path / "subset.csv"
    lines = NB201_CSV.read_text().splitlines()
    csv.write_text("\n".join(lines[:61]) + "\n")
    records = nb201_records(["adreno630"], csv)["adreno630"]
    shots, rest = records[:20], records[20:]
    source = load_profile("pixel4-gpu")
    y = np.array([r.y_ms for r in rest])
    before = np.mean(np.abs(predict(rest, source) / y - 1))
    calibrated = calibrate(source, shots, "a630-fewshot")
    after = np.mean(np.abs(predict(rest, calibrated) / y - 1))
    assert after < before / 2
    assert calibrated.provenance["calibrated_from"] == "pixel4-gpu"


def test_adaptive_sampling_picks_new_kernels(tmp_path):
    db = str(tmp_path / "b.sqlite")
    base = ("bench", "run", "--runner", "local", "--device-name", "host", "--db", db, "--grid", "small",
            "--kernels", "conv,pool,elementwise")
    assert cli(*base, "--limit", "15").returncode == 0
    r = cli(*base, "--adaptive", "5")
    assert r.returncode == 0, r.stderr
    measured = int(r.stdout.split(": ")[1].split(" measured")[0])
    assert 1 <= measured <= 5  # the forest's most uncertain picks, some possibly measured already


def test_import_nb201_train_and_calibrate_through_the_cli(tmp_path):
    from pytest_tflite_latency.bench.dataset import NB201_CSV

    if not NB201_CSV.is_file():
        pytest.skip("../shared/data/nnmeter-nasbench201 is not beside the checkout")
    csv = tmp_path / "subset.csv"
    csv.write_text("\n".join(NB201_CSV.read_text().splitlines()[:26]) + "\n")
    db = str(tmp_path / "b.sqlite")
    r = cli("bench", "import-nb201", "--db", db, "--csv", str(csv))
    assert r.returncode == 0 and "imported 25 networks × 3 devices" in r.stdout
    status = cli("bench", "status", "--db", db).stdout
    assert all(f"{d}" in status for d in ("adreno640", "adreno630", "cortexa76"))
    r = cli("bench", "train", "--db", db, "--device-name", "adreno630", "--algorithm", "decision_tree")
    assert r.returncode == 0 and "25 measurements" in r.stdout
    out = tmp_path / "a630.json"
    r = cli("bench", "calibrate", "--db", db, "--from", "auto", "--device-name", "adreno630",
            "--out", str(out))
    assert r.returncode == 0, r.stderr
    source = r.stdout.split("auto: ")[1].split()[0]
    profile = json.loads(out.read_text())
    assert profile["provenance"]["calibrated_from"] == source and profile["provenance"]["calibration"]["scales"]
    nb = tmp_path / "nb.tflite"
    nb.write_bytes(zoo.build("nasbench201", fill="zeros"))
    a640 = json.loads(cli("estimate", str(nb), "--device", "pixel4-gpu", "--format", "json").stdout)["total_ms"]
    cal = json.loads(cli("estimate", str(nb), "--device", str(out), "--format", "json").stdout)["total_ms"]
    assert cal > a640  # the Adreno 630 is the slower GPU
