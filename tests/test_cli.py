"""`tflite-latency` as a user runs it: output formats, exit codes, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from pytest_tflite_latency.estimator.profile import device_names


def cli(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pytest_tflite_latency.cli", *args], capture_output=True,
                          text=True, timeout=120, cwd=cwd)


def test_estimate_table_by_default(nb201_path):
    r = cli("estimate", str(nb201_path))
    assert r.returncode == 0, r.stderr
    assert "on pixel4-gpu" in r.stdout and "AVERAGE_POOL_2D" in r.stdout
    assert r.stdout.splitlines()[-1].startswith("total: ") and "90% interval" in r.stdout.splitlines()[-1]


def test_estimate_table_fits_the_terminal_and_shows_top_n_and_a_summary_by_type(mobilenet_path):
    import os

    for columns in (60, 80, 200):
        r = subprocess.run([sys.executable, "-m", "pytest_tflite_latency.cli", "estimate", str(mobilenet_path),
                            "--top", "3"], capture_output=True, text=True, timeout=120,
                           env={**os.environ, "COLUMNS": str(columns)})
        assert r.returncode == 0, r.stderr
        lines = r.stdout.splitlines()
        assert max(len(ln) for ln in lines if not ln.startswith(str(mobilenet_path))) <= columns
        head = next(i for i, ln in enumerate(lines) if ln.lstrip().startswith("#"))
        assert lines[head + 5].startswith("(") and "cheaper kernels not shown" in lines[head + 5]
        assert "summary by kernel type:" in lines and lines[-1].startswith("total: ")


def test_table_shows_the_overhead_so_its_shares_add_up_to_the_total(mobilenet_path):
    r = cli("estimate", str(mobilenet_path), "--top", "3")
    lines = r.stdout.splitlines()
    total = float(lines[-1].split()[1])
    shown = [float(ln.split()[-2]) for ln in lines[lines.index(next(x for x in lines if x.startswith("--"))) + 1:][:3]]
    rest = float(next(ln for ln in lines if "cheaper kernels not shown" in ln).split()[-2])
    overhead = next(ln for ln in lines if ln.startswith("per-inference overhead (no kernel of its own)"))
    assert abs(sum(shown) + rest + float(overhead.split(": ")[1].split()[0]) - total) < 0.02
    summary = lines[lines.index("summary by kernel type:") + 3:]
    shares = [float(ln.split()[-1]) for ln in summary[:summary.index("")]]
    assert summary[len(shares) - 1].startswith("per-inference overhead") and abs(sum(shares) - 100) < 0.5


def test_devices_fit_an_80_column_terminal():
    import os

    r = subprocess.run([sys.executable, "-m", "pytest_tflite_latency.cli", "devices"], capture_output=True,
                       text=True, timeout=120, env={**os.environ, "COLUMNS": "80"})
    assert r.returncode == 0 and max(len(ln) for ln in r.stdout.splitlines()) <= 80


def test_local_bench_run_without_the_bench_extra_names_it_and_creates_nothing(tmp_path, nb201_path):
    db = tmp_path / "b.sqlite"
    code = ("import sys; sys.modules['ai_edge_litert'] = None\n"  # as if the bench extra were not installed
            "from pytest_tflite_latency.cli import main; sys.exit(main(sys.argv[1:]))")
    r = subprocess.run([sys.executable, "-c", code, "bench", "run", "--runner", "local", "--device-name", "x",
                        "--db", str(db), "--models", str(nb201_path)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "Traceback" not in r.stderr and not db.exists()
    assert "needs ai_edge_litert, from the bench extra: pip install 'pytest-tflite-latency[bench]'" in r.stderr


def test_repeated_warnings_fold_into_one_line_with_a_count():
    from pytest_tflite_latency.estimator.report import fold_warnings

    warnings = [f"op {i} (CUSTOM 'Foo'): runs on the CPU" for i in (3, 7, 9)] + ["subgraph 1: dynamic dims"]
    assert fold_warnings(warnings) == ["op 3 (CUSTOM 'Foo'): runs on the CPU (and 2 more like it)",
                                       "subgraph 1: dynamic dims"]


def test_version():
    r = cli("--version")
    assert r.returncode == 0 and r.stdout.startswith("tflite-latency ") and r.stdout.split()[1][0].isdigit()


def test_bench_run_with_a_missing_model_is_one_line_exit_2(tmp_path):
    r = cli("bench", "run", "--runner", "local", "--device-name", "x", "--db", str(tmp_path / "b.sqlite"),
            "--models", str(tmp_path / "missing.tflite"))
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.strip().endswith("missing.tflite: cannot read (No such file or directory)")
    assert len(r.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("step", ["train", "export", "status"])
def test_bench_step_on_a_missing_database_creates_nothing(tmp_path, step):
    db = tmp_path / "missing.sqlite"
    args = ["--device-name", "x"] if step != "status" else []
    r = cli("bench", step, "--db", str(db), *args)
    assert r.returncode == 2 and "missing.sqlite: no such measurement database" in r.stderr
    assert not db.exists() and "Traceback" not in r.stderr


def test_bench_train_on_an_unknown_device_name_is_exit_2(tmp_path, nb201_path):
    db = str(tmp_path / "b.sqlite")
    cli("bench", "run", "--runner", "local", "--device-name", "x", "--db", db, "--grid", "none", "--repeats", "1",
        "--models", str(nb201_path))
    r = cli("bench", "train", "--db", db, "--device-name", "nosuch")
    assert r.returncode == 2 and "no measurements of 'nosuch'" in r.stderr and "(devices there: x)" in r.stderr


def test_estimate_json_for_machines(nb201_path):
    r = cli("estimate", str(nb201_path), "--device", "nnmeter-cortexa76", "--format", "json")
    d = json.loads(r.stdout)
    assert d["device"] == "nnmeter-cortexa76" and d["total_ms"] > 0
    assert {layer["runs_on"] for layer in d["layers"]} == {"CPU"}


def test_estimate_csv(nb201_path):
    r = cli("estimate", str(nb201_path), "--format", "csv")
    assert r.stdout.splitlines()[0].startswith("index,ops,kind,runs_on")


def test_devices_lists_provenance_and_error_on_unseen_families():
    r = cli("devices")
    assert r.returncode == 0
    assert r.stdout.startswith("pixel4-gpu (default): Adreno 640 GPU (Google Pixel 4)")
    for name in ("mi8se-gpu", "galaxys10-gpu", "nnmeter-adreno630", "nnmeter-cortexa76"):
        assert f"{name}:" in r.stdout
    stock = 6 + sum("-cpu" in n for n in device_names())  # six GPU profiles and the CPU ones
    assert r.stdout.count("unseen families:") == stock and r.stdout.count("floor (FLOPs + file size):") == stock
    assert r.stdout.count("real CNNs:") == 3 and "also selected by 'mali-g76'" in r.stdout
    d = json.loads(cli("devices", "--format", "json").stdout)
    assert d[0]["unseen_families"]["within_10pct"] >= 0 and d[0]["gpu"] == "Adreno 640"


def test_a_gpus_name_selects_its_stock_profile(nb201_path):
    d = json.loads(cli("estimate", str(nb201_path), "--device", "mali-g76", "--format", "json").stdout)
    assert d["device"] == "galaxys10-gpu"


def test_example_writes_a_model_that_estimates(tmp_path):
    out = tmp_path / "m.tflite"
    assert cli("example", "mobilenet_v1", str(out)).returncode == 0
    r = cli("estimate", str(out), "--format", "json")
    assert json.loads(r.stdout)["layers"]


@pytest.mark.parametrize("make,needle", [
    (lambda p: None, "no such file"),
    (lambda p: p.write_bytes(b""), "file is empty"),
    (lambda p: p.write_text("not a model at all, just some text"), "not a TFLite model"),
])
def test_bad_input_exit_2_one_line_no_traceback(tmp_path, make, needle):
    path = tmp_path / "bad.tflite"
    make(path)
    r = cli("estimate", str(path))
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and needle in r.stderr and str(path) in r.stderr
    assert "Traceback" not in r.stderr


def test_truncated_model_exit_2(tmp_path, nb201_bytes):
    path = tmp_path / "cut.tflite"
    path.write_bytes(nb201_bytes[:5000])
    r = cli("estimate", str(path))
    assert r.returncode == 2 and "truncated or corrupted" in r.stderr and "Traceback" not in r.stderr


def test_unknown_device_exit_2(nb201_path):
    r = cli("estimate", str(nb201_path), "--device", "pixel99")
    assert r.returncode == 2 and "unknown device 'pixel99'" in r.stderr
    assert r.stderr.count("\n") == 1


def test_estimating_never_imports_the_training_libraries(nb201_path):
    code = ("import sys, estimator; estimator.estimate(sys.argv[1]); "
            "print(sorted(m for m in ('xgboost', 'sklearn', 'scipy') if m in sys.modules))")
    r = subprocess.run([sys.executable, "-c", code, str(nb201_path)], capture_output=True, text=True, timeout=120)
    assert r.stdout.strip() == "[]", r.stderr


def test_usage_error_exit_2():
    assert cli("estimate").returncode == 2
    assert cli("--help").returncode == 0
