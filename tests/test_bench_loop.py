"""The whole bench loop on this host and on an emulated phone: measure → store → train → export →
estimate → verify."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from pytest_tflite_latency.bench import zoo
from pytest_tflite_latency.bench.db import Database
from pytest_tflite_latency.bench.writer import ModelWriter
from pytest_tflite_latency.estimator.pipeline import estimate

if TYPE_CHECKING:
    from conftest import CliRun

pytest.importorskip("ai_edge_litert")

LOOP_JOBS = 61  # 60 kernels of the small grid's mobilenet_v1 slice (--limit 60) and the one --models file


def _counts(stdout: str) -> dict[str, int]:
    """{"measured": n, "already": n, "failed": n} from the summary line of `bench run`."""
    line = next(ln for ln in stdout.splitlines() if " measured, " in ln)
    numbers = [int(w) for w in line.replace(",", " ").split() if w.isdigit()]
    return dict(zip(("measured", "already", "failed"), numbers, strict=True))


@dataclass(frozen=True)
class LocalLoop:
    """What each step of one local loop printed, and the profile it exported."""

    first_run: CliRun
    second_run: CliRun
    status: CliRun
    train: CliRun
    export: CliRun
    profile_path: Path
    train_model: Path
    db: Path


@pytest.fixture(scope="module")
def local_loop(tmp_path_factory, cli) -> LocalLoop:
    """One loop on this host, shared by the tests below (it takes most of a minute): `bench run` twice
    (the second resumes), `status`, `train`, `export`. Deterministic facts only are checked; accuracy is
    `python -m pytest_tflite_latency.bench.local_eval`'s job, not a test's."""
    tmp = tmp_path_factory.mktemp("local-loop")
    db = tmp / "b.sqlite"
    train_model = tmp / "train.tflite"
    train_model.write_bytes(zoo.build("mobilenet_v1", size=64))
    run = ("bench", "run", "--runner", "local", "--device-name", "host-cpu", "--db", db, "--grid", "small",
           "--from-models", "mobilenet_v1", "--limit", "60", "--repeats", "3", "--models", train_model)
    first, second = cli(*run), cli(*run)
    status = cli("bench", "status", "--db", db)
    train = cli("bench", "train", "--db", db, "--device-name", "host-cpu", "--algorithm", "xgboost")
    out = tmp / "profiles" / "host-cpu.json"  # a folder not there yet
    export = cli("bench", "export", "--db", db, "--device-name", "host-cpu", "--out", out, "--algorithm", "xgboost")
    return LocalLoop(first, second, status, train, export, out, train_model, db)


def test_local_run_stores_every_planned_job(local_loop):
    # a kernel no longer than an empty invoke on this host is stored as a fault: which ones depends on the CPU
    assert local_loop.first_run.returncode == 0, local_loop.first_run.stderr
    counts = _counts(local_loop.first_run.stdout)
    assert counts["measured"] + counts["already"] + counts["failed"] == LOOP_JOBS, local_loop.first_run.stdout
    assert counts["measured"] >= LOOP_JOBS // 2, local_loop.first_run.stdout


def test_local_run_again_measures_nothing_it_measured_before(local_loop):
    r = local_loop.second_run
    assert r.returncode == 0, r.stderr
    first, again = _counts(local_loop.first_run.stdout), _counts(r.stdout)
    assert again["already"] >= first["measured"] and sum(again.values()) == LOOP_JOBS, r.stdout + r.stderr[-2000:]
    assert again["measured"] + again["failed"] == first["failed"]  # only the faults are tried again


def test_status_lists_both_kinds_of_measurement_of_the_device(local_loop):
    out = local_loop.status.stdout
    assert "host-cpu" in out and "kernel ok" in out and "model  ok" in out


def test_train_prints_its_error(local_loop):
    assert local_loop.train.returncode == 0 and "MAPE" in local_loop.train.stdout, local_loop.train.stderr


def test_exported_profile_runs_on_the_cpu(local_loop):
    assert local_loop.export.returncode == 0, local_loop.export.stderr
    assert json.loads(local_loop.profile_path.read_text())["backend"] == "cpu"


def test_export_makes_the_out_folder_and_leaves_no_temporary_file(local_loop):
    assert local_loop.export.returncode == 0, local_loop.export.stderr
    assert [p.name for p in local_loop.profile_path.parent.iterdir()] == ["host-cpu.json"]


def test_export_that_cannot_write_is_one_line_exit_2(local_loop, cli, tmp_path):
    (tmp_path / "file").write_text("")
    r = cli("bench", "export", "--db", local_loop.db, "--device-name", "host-cpu",
            "--out", tmp_path / "file" / "p.json", "--algorithm", "decision_tree")
    error = [ln for ln in r.stderr.splitlines() if "cross-validating" not in ln]  # the progress bar aside
    assert r.returncode == 2 and len(error) == 1 and "--out: " in error[0] and "cannot write" in error[0]


def test_exported_profile_names_this_host_as_its_device(local_loop, cli):
    import platform

    listed = json.loads(cli("devices", "--profiles", local_loop.profile_path, "--format", "json").stdout)[-1]
    assert platform.machine() in listed["phone"] and listed["gpu"] == "CPU, float32"


def test_exported_profile_counts_the_measurements_it_learned_from(local_loop):
    provenance = json.loads(local_loop.profile_path.read_text())["provenance"]
    kernels = provenance["measurements"] - 1  # the one --models file is the whole model
    assert provenance["heldout"]["method"].endswith(f"over {kernels} single-kernel and 1 whole-model measurements")
    with Database(local_loop.db) as db:  # what both runs stored (the second measures the first's faults again)
        assert provenance["measurements"] == len(db.records("host-cpu"))


def test_exported_profile_estimates_an_unseen_model_with_finite_non_negative_times(local_loop):
    est = estimate(zoo.build("mobilenet_v2", size=96), local_loop.profile_path)
    assert est.device == "host-cpu" and est.layers
    assert all(math.isfinite(layer.ms) and layer.ms >= 0 for layer in est.layers) and est.total_ms > 0


def test_exported_profiles_interval_holds_its_estimate(local_loop):
    est = estimate(zoo.build("mobilenet_v2", size=96), local_loop.profile_path)
    assert 0 <= est.interval_ms[0] <= est.total_ms <= est.interval_ms[1] and math.isfinite(est.interval_ms[1])


def test_estimate_takes_an_exported_profile_file_as_its_device(local_loop, cli):
    r = cli("estimate", "--device", local_loop.profile_path, "--format", "json", local_loop.train_model)
    assert json.loads(r.stdout)["device"] == "host-cpu"


def test_adb_run_measures_every_job_leaving_the_phone_clean(tmp_path, cli, phone_factory, benchmark_binary):
    phone = phone_factory()
    db = tmp_path / "b.sqlite"
    r = cli("bench", "run", "--runner", "adb", "--serial", phone.serial, "--benchmark-binary", benchmark_binary,
            "--device-name", "emu-gpu", "--db", db, "--grid", "small", "--kernels", "conv,pool", "--limit", "6")
    assert r.returncode == 0, r.stderr
    assert "emu-gpu: 6 measured" in r.stdout and phone.benchmarks == 6
    assert not phone.path("/data/local/tmp/tflite_latency").exists()
    assert "emu-gpu" in cli("bench", "status", "--db", db).stdout


def test_adb_run_records_phone_faults_as_failed_jobs(tmp_path, cli, phone_factory, benchmark_binary):
    phone = phone_factory("nonsense")
    db = tmp_path / "b.sqlite"
    r = cli("bench", "run", "--runner", "adb", "--serial", phone.serial, "--benchmark-binary", benchmark_binary,
            "--device-name", "emu", "--db", db, "--grid", "small", "--kernels", "pool", "--limit", "3")
    assert r.returncode == 0 and "0 measured" in r.stdout and "3 failed" in r.stdout
    assert "printed no 'Inference timings' line" in r.stderr and "Traceback" not in r.stderr
    assert "last errors on emu" in cli("bench", "status", "--db", db).stdout


def test_phone_that_disconnects_stops_the_run_with_a_resume_hint(tmp_path, cli, phone_factory, benchmark_binary):
    phone = phone_factory("disconnect")
    r = cli("bench", "run", "--runner", "adb", "--serial", phone.serial, "--benchmark-binary", benchmark_binary,
            "--device-name", "emu", "--db", tmp_path / "b.sqlite", "--grid", "small", "--kernels", "conv",
            "--limit", "8")
    assert r.returncode != 0 and "Traceback" not in r.stderr
    assert "re-run the same command to resume" in r.stderr or "adb device" in r.stderr


def test_adb_run_without_an_adb_server_is_exit_2_naming_adb(tmp_path, cli, no_adb_server):
    r = cli("bench", "run", "--runner", "adb", "--device-name", "x", "--db", tmp_path / "b.sqlite")
    assert r.returncode == 2 and "Traceback" not in r.stderr and "adb" in r.stderr


def _nb201_subset(tmp_path: Path, networks: int) -> Path:
    """The first ``networks`` rows of the committed NAS-Bench-201 measurements."""
    from pytest_tflite_latency.bench.dataset import NB201_CSV

    if not NB201_CSV.is_file():
        pytest.skip(f"{NB201_CSV} is missing (TFLITE_LATENCY_SHARED names a folder without it?)")
    csv = tmp_path / "subset.csv"
    csv.write_text("\n".join(NB201_CSV.read_text().splitlines()[:networks + 1]) + "\n")
    return csv


def test_few_shot_calibration_beats_the_uncalibrated_source(tmp_path):
    """Adreno 640's profile calibrated on 20 Adreno 630 networks predicts the other 40 Adreno 630
    networks better than it did before (real measurements, bench/data/nnmeter-nasbench201)."""
    import numpy as np

    from pytest_tflite_latency.bench.calibrate import calibrate
    from pytest_tflite_latency.bench.dataset import nb201_records
    from pytest_tflite_latency.bench.train import predict
    from pytest_tflite_latency.estimator.profile import load_profile

    records = nb201_records(["adreno630"], _nb201_subset(tmp_path, 60))["adreno630"]
    shots, rest = records[:20], records[20:]
    source = load_profile("pixel4-gpu")
    y = np.array([r.y_ms for r in rest])
    before = np.mean(np.abs(predict(rest, source) / y - 1))
    calibrated = calibrate(source, shots, "a630-fewshot")
    after = np.mean(np.abs(predict(rest, calibrated) / y - 1))
    assert after < before / 2
    assert calibrated.provenance["calibrated_from"] == "pixel4-gpu"


@pytest.fixture(scope="module")
def adaptive_run(tmp_path_factory, cli) -> CliRun:
    """15 kernels of the small grid measured, then ``--adaptive 5``."""
    db = tmp_path_factory.mktemp("adaptive") / "b.sqlite"
    base = ("bench", "run", "--runner", "local", "--device-name", "host", "--db", db, "--grid", "small",
            "--kernels", "conv,pool,elementwise")
    first = cli(*base, "--limit", "15")
    assert first.returncode == 0, first.stderr
    return cli(*base, "--adaptive", "5")


def test_adaptive_sampling_plans_as_many_kernels_as_asked(adaptive_run):
    assert adaptive_run.returncode == 0, adaptive_run.stderr
    counts = _counts(adaptive_run.stdout)
    assert counts["measured"] + counts["already"] == 5 and counts["failed"] == 0


def test_adaptive_sampling_shows_the_progress_of_choosing(adaptive_run):
    assert "choosing 5 of " in adaptive_run.stderr  # reading every candidate's features is the slow part


def test_adaptive_sampling_picks_kernels_not_measured_before(adaptive_run):
    assert _counts(adaptive_run.stdout)["measured"] >= 1  # the forest is least sure where it has no data


@dataclass(frozen=True)
class Nb201Import:
    imported: CliRun
    status: CliRun
    train: CliRun
    calibrate: CliRun
    calibrated_path: Path


@pytest.fixture(scope="module")
def nb201_import(tmp_path_factory, cli) -> Nb201Import:
    """25 committed NAS-Bench-201 networks imported, Adreno 630 trained on and calibrated from `auto`."""
    tmp = tmp_path_factory.mktemp("nb201")
    db = tmp / "b.sqlite"
    imported = cli("bench", "import-nb201", "--db", db, "--csv", _nb201_subset(tmp, 25))
    status = cli("bench", "status", "--db", db)
    train = cli("bench", "train", "--db", db, "--device-name", "adreno630", "--algorithm", "decision_tree")
    out = tmp / "a630.json"
    calibrated = cli("bench", "calibrate", "--db", db, "--from", "auto", "--device-name", "adreno630", "--out", out)
    return Nb201Import(imported, status, train, calibrated, out)


def test_import_nb201_stores_each_network_on_its_three_devices(nb201_import):
    assert nb201_import.imported.returncode == 0, nb201_import.imported.stderr
    assert "imported 25 networks × 3 devices" in nb201_import.imported.stdout
    assert all(d in nb201_import.status.stdout for d in ("adreno640", "adreno630", "cortexa76"))


def test_train_on_imported_networks_uses_each_one(nb201_import):
    assert nb201_import.train.returncode == 0 and "25 measurements" in nb201_import.train.stdout


def test_calibrate_from_auto_records_the_source_it_chose(nb201_import):
    r = nb201_import.calibrate
    assert r.returncode == 0, r.stderr
    source = r.stdout.split("starting point: ")[1].split(",")[0].split()[0]
    provenance = json.loads(nb201_import.calibrated_path.read_text())["provenance"]
    assert provenance["calibrated_from"] == source and provenance["calibration"]["scales"]


def test_profile_calibrated_on_the_adreno_630_estimates_it_slower_than_the_adreno_640(nb201_import, cli, nb201_path):
    a640 = json.loads(cli("estimate", nb201_path, "--device", "pixel4-gpu", "--format", "json").stdout)["total_ms"]
    cal = json.loads(cli("estimate", nb201_path, "--device", nb201_import.calibrated_path, "--format",
                         "json").stdout)["total_ms"]
    assert cal > a640


def test_bench_run_measures_every_model_of_a_models_folder(tmp_path, cli):
    folder = tmp_path / "models"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.tflite").write_bytes(zoo.build("nasbench201", fill="zeros"))
    (folder / "sub" / "b.tflite").write_bytes(zoo.build("mobilenet_v1", size=32, fill="zeros"))
    (folder / "notes.txt").write_text("not a model")
    r = cli("bench", "run", "--runner", "local", "--device-name", "host-cpu", "--db", tmp_path / "b.sqlite",
            "--grid", "none", "--repeats", "2", "--models", folder)
    assert r.returncode == 0, r.stderr
    assert _counts(r.stdout) == {"measured": 2, "already": 0, "failed": 0}


def test_bench_run_refuses_a_models_fifo_without_waiting(tmp_path, cli):
    import os

    os.mkfifo(tmp_path / "m.tflite")
    r = cli("bench", "run", "--runner", "local", "--device-name", "host-cpu", "--db", tmp_path / "b.sqlite",
            "--grid", "none", "--models", tmp_path / "m.tflite")
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "not a regular file" in r.stderr


def test_bench_run_measures_a_weight_stripped_graph_and_records_a_model_litert_refuses(tmp_path, cli):
    from pytest_tflite_latency.bench.qed import GRAPHS

    refused = ModelWriter()
    (y,) = refused.op("CUSTOM:NoSuchOp", [refused.input((1, 8))], [(1, 8)])  # LiteRT has no kernel for it
    (tmp_path / "custom.tflite").write_bytes(refused.to_bytes([y]))
    stripped = GRAPHS / "squeezenet_v1_1.tflite"  # the repository's graphs keep one byte of each weight
    r = cli("bench", "run", "--runner", "local", "--device-name", "host-cpu", "--db", tmp_path / "b.sqlite",
            "--grid", "none", "--repeats", "2", "--models", tmp_path / "custom.tflite", stripped)
    assert "Traceback" not in r.stderr
    assert _counts(r.stdout) == {"measured": 1, "already": 0, "failed": 1}
    assert "custom.tflite: LiteRT refused the model: " in r.stderr


def test_a_local_time_no_longer_than_an_empty_invoke_is_a_fault_not_a_measurement():
    from pytest_tflite_latency.adb import DeviceError
    from pytest_tflite_latency.bench.litert import ready_interpreter
    from pytest_tflite_latency.bench.runners import LocalRunner

    runner = LocalRunner(repeats=2)
    heavy = ModelWriter()  # as if invoking at all cost more than the model measured: nothing left to time
    runner._empty = ready_interpreter(heavy.to_bytes([heavy.conv2d(heavy.input((1, 64, 64, 32)), 32, 3)]))
    m = ModelWriter()
    with pytest.raises(DeviceError, match=r"not resolved: \d+\.\d+ µs an invoke, no more than an empty invoke "
                                          r"\(\d+\.\d+ µs\) on this host"):
        runner.measure(m.to_bytes([m.relu(m.input((1, 8)))]), "tiny")


@pytest.mark.parametrize(("option", "value", "expected"), [
    ("--repeats", "0", "a positive whole number"), ("--limit", "-1", "a positive whole number"),
    ("--adaptive", "-2", "a positive whole number"), ("--coverage", "x", "a positive whole number"),
    ("--seed", "-1", "a whole number of at least 0")])
def test_bench_run_refuses_a_count_it_cannot_use_before_touching_the_database(tmp_path, cli, option, value,
                                                                              expected):
    db = tmp_path / "b.sqlite"
    r = cli("bench", "run", "--runner", "local", "--device-name", "host-cpu", "--db", db, "--grid", "small",
            option, value)
    assert r.returncode == 2 and f"{option}: expected {expected}, got '{value}'" in r.stderr
    assert not db.exists()


@pytest.mark.parametrize(("content", "problem"), [(b"", "not a TFLite model: file is only 0 bytes"),
                                                   (b"PK\x03\x04" + b"\0" * 64, "not a TFLite model")])
def test_bench_run_names_a_models_file_that_is_no_model_before_measuring(tmp_path, cli, content, problem):
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(content)
    db = tmp_path / "b.sqlite"
    r = cli("bench", "run", "--runner", "local", "--device-name", "host-cpu", "--db", db, "--grid", "none",
            "--models", bad)
    assert r.returncode == 2 and f"--models: {bad}: {problem}" in r.stderr and "<bytes>" not in r.stderr


def test_a_database_that_cannot_be_written_is_said_so_not_called_damaged(tmp_path, cli, nb201_path):
    import os
    import subprocess

    db = tmp_path / "b.sqlite"
    run = ("bench", "run", "--runner", "local", "--device-name", "host-cpu", "--db", db, "--grid", "none",
           "--repeats", "2", "--models", nb201_path)
    assert cli(*run).returncode == 0
    os.chmod(db, 0o444)
    immutable = os.geteuid() == 0 and subprocess.run(["chattr", "+i", str(db)], capture_output=True).returncode == 0
    if os.geteuid() == 0 and not immutable:
        pytest.skip("root writes a read-only file, and chattr +i is not allowed here")
    try:
        r = cli(*run[:-2], "--from-models", "nasbench201", "--limit", "1")
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(db)], check=True)
    assert r.returncode == 2 and "cannot write the measurement database" in r.stderr and "damaged" not in r.stderr
