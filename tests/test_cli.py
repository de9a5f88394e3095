"""`tflite-latency` as a user runs it: output formats, exit codes, one-line errors.

Most tests run the CLI in this process (the `cli` fixture); the subprocess tests at the end check what
only a fresh interpreter shows: the console script, exit statuses through the process, and what
estimating imports."""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_tflite_latency.estimator.profile import device_names


def test_estimate_prints_a_table_by_default(cli, nb201_path):
    r = cli("estimate", nb201_path)
    assert r.returncode == 0, r.stderr
    assert "on pixel4-gpu" in r.stdout and "AVERAGE_POOL_2D" in r.stdout


def test_estimate_tables_last_line_is_the_total_with_its_interval(cli, nb201_path):
    last = cli("estimate", nb201_path).stdout.splitlines()[-1]
    assert last.startswith("total: ") and "% interval" in last


@pytest.mark.parametrize("columns", [60, 80, 200])
def test_estimate_table_fits_the_terminal(cli, mobilenet_path, columns):
    r = cli("estimate", mobilenet_path, "--top", "3", columns=columns)
    assert r.returncode == 0, r.stderr
    assert max(len(ln) for ln in r.stdout.splitlines() if not ln.startswith(str(mobilenet_path))) <= columns


def test_estimate_top_n_shows_n_kernels_then_the_rest_in_one_line(cli, mobilenet_path):
    lines = cli("estimate", mobilenet_path, "--top", "3").stdout.splitlines()
    head = next(i for i, ln in enumerate(lines) if ln.lstrip().startswith("#"))
    assert lines[head + 5].startswith("(") and "cheaper kernels not shown" in lines[head + 5]


def test_estimate_table_has_a_summary_by_kernel_type(cli, mobilenet_path):
    lines = cli("estimate", mobilenet_path, "--top", "3").stdout.splitlines()
    assert "summary by op type:" in lines


def test_table_shows_the_overhead_so_its_times_add_up_to_the_total(cli, mobilenet_path):
    lines = cli("estimate", mobilenet_path, "--top", "3").stdout.splitlines()
    total = float(lines[-1].split()[1])
    shown = [float(ln.split()[-2]) for ln in lines[lines.index(next(x for x in lines if x.startswith("--"))) + 1:][:3]]
    rest = float(next(ln for ln in lines if "cheaper kernels not shown" in ln).split()[-2])
    overhead = next(ln for ln in lines if ln.startswith("per-inference overhead (no kernel of its own)"))
    assert sum(shown) + rest + float(overhead.split(": ")[1].split()[0]) == pytest.approx(total, abs=0.02)


def test_summary_by_type_shares_add_up_to_100_percent_with_the_overhead(cli, mobilenet_path):
    lines = cli("estimate", mobilenet_path, "--top", "3").stdout.splitlines()
    summary = lines[lines.index("summary by op type:") + 3:]
    shares = [float(ln.split()[-1]) for ln in summary[:summary.index("")]]
    assert summary[len(shares) - 1].startswith("per-inference overhead")
    assert sum(shares) == pytest.approx(100, abs=0.5)


def test_devices_fit_an_80_column_terminal(cli):
    r = cli("devices", columns=80)
    assert r.returncode == 0 and max(len(ln) for ln in r.stdout.splitlines()) <= 80


def test_devices_at_80_columns_keep_two_phones_of_one_maker_apart(cli):
    rows = cli("devices", columns=80).stdout.splitlines()
    start = rows[0].index("phone")
    cells = {ln.split()[0]: ln[start:rows[0].index("GPU or CPU")].strip() for ln in rows if ln.startswith("galaxy")}
    assert cells["galaxya03s-gpu"] != cells["galaxys10-gpu"] and "…" not in cells["galaxya03s-gpu"], cells
    assert cells["galaxya03s-gpu"] == "Galaxy A03s"  # the maker dropped to fit, not the model's name cut
    assert "Google Pixel 4" in rows[2]  # a phone that fits keeps its maker


def test_repeated_warnings_fold_into_one_line_with_a_count():
    from pytest_tflite_latency.estimator.report import fold_warnings

    warnings = [f"op {i} (CUSTOM 'Foo'): runs on the CPU" for i in (3, 7, 9)] + ["subgraph 1: dynamic dims"]
    assert fold_warnings(warnings) == ["op 3 (CUSTOM 'Foo'): runs on the CPU (and 2 more like it)",
                                       "subgraph 1: dynamic dims"]


def test_version_prints_the_programs_version_number(cli):
    r = cli("--version")
    assert r.returncode == 0 and r.stdout.startswith("tflite-latency ") and r.stdout.split()[1][0].isdigit()


def test_bench_run_with_a_missing_model_is_one_line_exit_2(cli, tmp_path):
    r = cli("bench", "run", "--runner", "local", "--device-name", "x", "--db", tmp_path / "b.sqlite",
            "--models", tmp_path / "missing.tflite")
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.strip().endswith("--models: " + str(tmp_path / "missing.tflite") + ": no such file")
    assert len(r.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("step", ["train", "export", "status"])
def test_bench_step_on_a_missing_database_is_exit_2(cli, tmp_path, step):
    args = ["--device-name", "x"] if step != "status" else []
    r = cli("bench", step, "--db", tmp_path / "missing.sqlite", *args)
    assert r.returncode == 2 and "missing.sqlite: no such measurement database" in r.stderr
    assert "Traceback" not in r.stderr


@pytest.mark.parametrize("step", ["train", "export", "status"])
def test_bench_step_on_a_missing_database_creates_none(cli, tmp_path, step):
    db = tmp_path / "missing.sqlite"
    cli("bench", step, "--db", db, *(["--device-name", "x"] if step != "status" else []))
    assert not db.exists()


def test_bench_train_on_an_unknown_device_name_lists_the_known_ones(cli, tmp_path, nb201_path):
    pytest.importorskip("ai_edge_litert")
    db = tmp_path / "b.sqlite"
    cli("bench", "run", "--runner", "local", "--device-name", "x", "--db", db, "--grid", "none", "--repeats", "1",
        "--models", nb201_path)
    r = cli("bench", "train", "--db", db, "--device-name", "nosuch")
    assert r.returncode == 2 and "no measurements of 'nosuch'" in r.stderr and "(devices there: x)" in r.stderr


def test_estimate_json_on_a_cpu_profile_puts_every_layer_on_the_cpu(cli, nb201_path):
    r = cli("estimate", nb201_path, "--device", "nnmeter-cortexa76", "--format", "json")
    d = json.loads(r.stdout)
    assert d["device"] == "nnmeter-cortexa76" and d["total_ms"] > 0
    assert {layer["runs_on"] for layer in d["layers"]} == {"CPU"}


def test_estimate_csv_starts_with_its_header(cli, nb201_path):
    r = cli("estimate", nb201_path, "--format", "csv")
    assert r.stdout.splitlines()[0].startswith("index,ops,kind,runs_on")


def test_devices_lists_every_bundled_profile_with_the_default_first(cli):
    from pytest_tflite_latency.estimator.profile import device_names

    r = cli("devices", "-v")
    assert r.returncode == 0
    assert r.stdout.startswith("pixel4-gpu (default): Adreno 640 GPU (Google Pixel 4)")
    assert all(f"{name}" in r.stdout for name in device_names())


def test_devices_list_the_default_phones_other_profiles_next_and_nn_meters_last(cli):
    lines = [line.split()[0] for line in cli("devices").stdout.splitlines() if line[:1].isalpha()]
    names = [n for n in lines if n.startswith(("pixel4-", "nnmeter-", "galaxy", "iphone", "mi8se"))]
    pixel4 = [n for n in names if n.startswith("pixel4-")]
    assert names[:len(pixel4)] == pixel4 and len(pixel4) >= 1
    nnmeter = [i for i, n in enumerate(names) if n.startswith("nnmeter-")]
    assert nnmeter and nnmeter == list(range(len(names) - len(nnmeter), len(names)))


def test_devices_states_each_profiles_error_on_unseen_families(cli):
    out = cli("devices", "-v").stdout
    stock = 6 + sum("-cpu" in n for n in device_names())  # six GPU profiles and the CPU ones
    assert out.count("unseen families:") == stock and out.count("floor (FLOPs + file size):") == stock
    assert out.count("real CNNs:") == 3


def test_devices_states_what_a_gpu_profile_charges_beside_its_kernels(cli):
    from pytest_tflite_latency.estimator.profile import load_profile

    out = cli("devices", "-v").stdout
    block = out[out.index("galaxya03s-gpu:"):]
    block = block[:block.index("\n", block.index("beside the kernels:"))]
    a03s = load_profile("galaxya03s-gpu")
    assert a03s.context.ms_per_kernel > 0
    assert f"beside the kernels: {a03s.overhead_ms:.3g} ms per inference, " \
           f"{1000 * a03s.context.ms_per_kernel:.3g} µs per kernel dispatched" in block
    assert "beside the kernels" not in out[out.index("galaxya03s-cpu:"):out.index("galaxya03s-cpu-int8:")]


def test_devices_names_the_gpu_aliases(cli):
    assert "also selected by 'mali-g76'" in cli("devices", "-v").stdout


def test_devices_json_holds_the_error_on_unseen_families_as_a_percentage(cli):
    d = json.loads(cli("devices", "--format", "json").stdout)
    assert 0 < d[0]["unseen_families"]["within_10pct"] <= 100 and d[0]["gpu"] == "Adreno 640"


def test_devices_lists_the_team_profiles_given_with_their_own_error(cli, tmp_path):
    import dataclasses

    from pytest_tflite_latency.estimator.profile import DeviceInfo, load_profile

    heldout = {"method": "leave-one-out over the 8 calibration measurements", "models": 8, "mape_pct": 11.3,
               "within_10pct": 75.0, "within_25pct": 87.5, "interval_coverage_pct": 87.5}
    team = dataclasses.replace(load_profile("pixel4-gpu"), name="pixel8-gpu", device=DeviceInfo("Pixel 8"),
                               provenance={"heldout": heldout})
    (tmp_path / "profiles").mkdir()
    team.save(tmp_path / "profiles" / "pixel8-gpu.json")
    listed = json.loads(cli("devices", "--profiles", tmp_path / "profiles", "--format", "json").stdout)
    assert [d["name"] for d in listed] == [*device_names(), "pixel8-gpu"]
    assert listed[-1]["phone"] == "Pixel 8" and listed[-1]["in_family"]["mape_pct"] == pytest.approx(11.3)
    r = cli("devices", "--profiles", tmp_path / "notes.txt")
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "notes.txt" in r.stderr


def test_estimate_finds_a_team_profile_by_name_in_the_profiles_folder(cli, tmp_path, nb201_path):
    import dataclasses

    from pytest_tflite_latency.estimator.profile import load_profile

    (tmp_path / "profiles").mkdir()
    dataclasses.replace(load_profile("pixel4-gpu"), name="pixel8-gpu").save(tmp_path / "profiles" / "pixel8-gpu.json")
    r = cli("estimate", nb201_path, "--device", "pixel8-gpu", "--profiles", tmp_path / "profiles", "--format", "json")
    assert r.returncode == 0 and json.loads(r.stdout)["device"] == "pixel8-gpu"
    unknown = cli("estimate", nb201_path, "--device", "pixel8-gpu")
    assert unknown.returncode == 2 and "estimate: --profiles" in unknown.stderr
    missing = cli("estimate", nb201_path, "--device", "pixel8-gpu", "--profiles", tmp_path / "nodir")
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1 and "nodir: not a folder" in missing.stderr


def test_devices_skips_a_json_beside_the_team_profiles_that_is_no_profile_and_names_it(cli, tmp_path):
    from pytest_tflite_latency.estimator.profile import load_profile

    load_profile("pixel4-gpu").save(tmp_path / "pixel8-gpu.json")
    (tmp_path / "pixel8-measurements.json").write_text('{"format": "tflite-latency-measurements/1"}')
    r = cli("devices", "--profiles", tmp_path, "--format", "json")
    assert r.returncode == 0 and len(json.loads(r.stdout)) == len(device_names()) + 1
    assert r.stderr.startswith("skipped: ") and "pixel8-measurements.json" in r.stderr
    named = cli("devices", "--profiles", tmp_path / "pixel8-measurements.json")
    assert named.returncode == 2 and "pixel8-measurements.json" in named.stderr


def test_devices_states_a_calibrated_profiles_own_error_as_leave_one_out_and_none_when_too_few(cli, tmp_path):
    import dataclasses

    from pytest_tflite_latency.estimator.profile import load_profile

    loo = {"method": "leave-one-out over the 8 calibration measurements", "models": 8, "mape_pct": 11.3,
           "within_10pct": 75.0, "within_25pct": 87.5, "interval_coverage_pct": 87.5}
    few = {**loo, "method": "leave-one-out over the 2 calibration measurements", "models": 2,
           **dict.fromkeys(("mape_pct", "within_10pct", "within_25pct", "interval_coverage_pct"))}
    for name, heldout in (("eight", loo), ("two", few)):
        dataclasses.replace(load_profile("pixel4-gpu"), name=name, provenance={"heldout": heldout,
                            "trained_on": "whole models"}).save(tmp_path / f"{name}.json")
    long = cli("devices", "-v", "--profiles", tmp_path).stdout
    assert "None" not in long and "calibration: 75.0% within ±10%" in long and "(leave-one-out)" in long
    short = {ln.split()[0]: ln.split()[-1] for ln in cli("devices", "--profiles", tmp_path).stdout.splitlines()[2:]
             if ln.strip()}
    assert short["eight"] == "(11.3%)" and short["two"] == "—"


def test_a_gpus_name_selects_its_stock_profile(cli, nb201_path):
    d = json.loads(cli("estimate", nb201_path, "--device", "mali-g76", "--format", "json").stdout)
    assert d["device"] == "galaxys10-gpu"


def test_example_writes_a_model_that_estimates(cli, tmp_path):
    out = tmp_path / "m.tflite"
    assert cli("example", "mobilenet_v1", out).returncode == 0
    assert json.loads(cli("estimate", out, "--format", "json").stdout)["layers"]


@pytest.mark.parametrize("make,needle", [
    (lambda p: None, "no such file"),
    (lambda p: p.write_bytes(b""), "file is empty"),
    (lambda p: p.write_text("not a model at all, just some text"), "not a TFLite model"),
])
def test_bad_input_is_one_line_exit_2(cli, tmp_path, make, needle):
    path = tmp_path / "bad.tflite"
    make(path)
    r = cli("estimate", path)
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and needle in r.stderr and str(path) in r.stderr


def test_truncated_model_is_exit_2_naming_the_fault(cli, tmp_path, nb201_bytes):
    path = tmp_path / "cut.tflite"
    path.write_bytes(nb201_bytes[:5000])
    r = cli("estimate", path)
    assert r.returncode == 2 and "truncated or corrupted" in r.stderr and "Traceback" not in r.stderr


def test_unknown_device_is_one_line_exit_2(cli, nb201_path):
    r = cli("estimate", nb201_path, "--device", "pixel99")
    assert r.returncode == 2 and "unknown device 'pixel99'" in r.stderr
    assert r.stderr.count("\n") == 1


def test_estimate_without_a_model_is_a_usage_error(cli):
    r = cli("estimate")
    assert r.returncode == 2 and "usage:" in r.stderr


def test_help_exits_0(cli):
    r = cli("--help")
    assert r.returncode == 0 and "usage:" in r.stdout


# In a fresh interpreter: what the process itself shows.

def _run(*args: str, code: str | None = None) -> subprocess.CompletedProcess:
    """``python -m pytest_tflite_latency.cli ARGS``, or ``python -c CODE ARGS``."""
    cmd = [sys.executable, *(("-c", code) if code else ("-m", "pytest_tflite_latency.cli")), *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def test_console_script_prints_its_version():
    script = shutil.which("tflite-latency", path=str(Path(sys.executable).parent))
    if script is None:
        pytest.skip(f"no tflite-latency script beside {sys.executable} (the project is not installed there)")
    r = subprocess.run([script, "--version"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stdout.startswith("tflite-latency ")


def test_a_bad_model_exits_the_process_with_status_2_in_one_line(tmp_path):
    r = _run("estimate", str(tmp_path / "missing.tflite"))
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr


def test_a_usage_error_exits_the_process_with_status_2():
    assert _run("estimate").returncode == 2


def test_estimating_never_imports_the_training_libraries(nb201_path):
    code = ("import sys; from pytest_tflite_latency import estimator; estimator.estimate(sys.argv[1]); "
            "print(sorted(m for m in ('xgboost', 'sklearn', 'scipy') if m in sys.modules))")
    r = _run(str(nb201_path), code=code)
    assert r.stdout.strip() == "[]", r.stderr


def test_local_bench_run_without_the_bench_extra_names_it_before_creating_anything(tmp_path, nb201_path):
    db = tmp_path / "b.sqlite"
    code = ("import sys; sys.modules['ai_edge_litert'] = None\n"  # as if the bench extra were not installed
            "from pytest_tflite_latency.cli import main; sys.exit(main(sys.argv[1:]))")
    r = _run("bench", "run", "--runner", "local", "--device-name", "x", "--db", str(db), "--models", str(nb201_path),
             code=code)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "needs ai_edge_litert, from the bench extra: pip install 'pytest-tflite-latency[bench]'" in r.stderr
    assert not db.exists()


@pytest.mark.parametrize(("script", "args"), [("cpu_profiles", ["--evaluate", "--only", "pixel4-cpu-int8"]),
                                             ("calibration_curve", ["--draws", "1"])])
def test_a_bench_script_without_the_bench_extra_names_it_in_one_line(script, args):
    code = ("import runpy, sys; sys.modules['scipy'] = None; sys.modules['xgboost'] = None\n"  # no bench extra
            f"runpy.run_module('pytest_tflite_latency.bench.{script}', run_name='__main__', alter_sys=True)")
    r = _run(*args, code=code)
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert r.stdout == "", f"printed before the error: {r.stdout!r}"
    assert r.stderr.strip().splitlines() == [(
        f"error: python -m pytest_tflite_latency.bench.{script} needs scipy, from the bench extra: pip install "
        "'pytest-tflite-latency[bench]' (from a checkout: pip install -e '.[bench]' -c bench/constraints.txt)")]


# From cli-reports' branch (new CLI behaviour), merged by ci-docs.

def test_devices_prints_one_line_per_profile_by_default(capsys, monkeypatch):
    from pytest_tflite_latency.cli import main
    from pytest_tflite_latency.estimator.profile import device_names

    monkeypatch.setenv("COLUMNS", "80")
    assert main(["devices"]) == 0
    lines = capsys.readouterr().out.splitlines()
    rows = lines[2:lines.index("")]
    assert [r.split()[0].rstrip("*") for r in rows] == list(device_names())
    assert rows[0].startswith("pixel4-gpu* ") and "Google Pixel 4" in rows[0] and "Adreno 640" in rows[0]
    assert rows[0].endswith("%") and "MAPE unseen" in lines[0] and max(map(len, lines)) <= 80


def test_devices_cite_no_path_of_the_checkout(capsys):
    from pytest_tflite_latency.cli import main

    for args in (["devices"], ["devices", "-v"], ["devices", "--format", "json"]):
        assert main(args) == 0
        assert "shared/" not in capsys.readouterr().out


def _actions(parser: argparse.ArgumentParser, path: str = "tflite-latency"):
    """Every option and argument of ``parser`` and its subcommands, with the command it belongs to."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _actions(sub, f"{path} {name}")
        elif not isinstance(action, argparse._HelpAction):
            yield path, action


def test_every_option_and_argument_says_what_it_does():
    from pytest_tflite_latency.cli import _parser

    silent = [f"{path} {a.dest}" for path, a in _actions(_parser(with_bench=True)) if not a.help]
    assert silent == []


def test_help_prints_no_markup(capsys):
    from pytest_tflite_latency.cli import main

    for args in (["--help"], ["bench", "--help"], ["bench", "run", "--help"], ["estimate", "--help"]):
        with pytest.raises(SystemExit):
            main(args)
        assert "``" not in capsys.readouterr().out


def test_estimate_help_lists_the_profiles_and_the_gpu_names(capsys):
    from pytest_tflite_latency.cli import main
    from pytest_tflite_latency.estimator.defaults import GPU_ALIASES
    from pytest_tflite_latency.estimator.profile import device_names

    with pytest.raises(SystemExit):
        main(["estimate", "--help"])
    text = " ".join(capsys.readouterr().out.split()).replace("- ", "-")  # undo argparse's line breaks
    assert all(name in text for name in (*device_names(), *GPU_ALIASES))


def test_version_imports_no_numpy_and_builds_no_bench_parser():
    code = ("import sys\nfrom pytest_tflite_latency.cli import main\ntry:\n    main(['--version'])\n"
            "except SystemExit:\n    pass\n"
            "print(sorted(m for m in ('numpy', 'pytest_tflite_latency.bench.cli') if m in sys.modules))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.stdout.startswith("tflite-latency ") and r.stdout.splitlines()[-1] == "[]"


def test_not_a_model_error_reads_as_a_sentence(tmp_path, capsys):
    from pytest_tflite_latency.cli import main

    path = tmp_path / "notes.tflite"
    path.write_bytes(b"justtesting, not a model at all")
    assert main(["estimate", str(path)]) == 2
    assert capsys.readouterr().err.endswith("not a TFLite model: file identifier is 'test', expected 'TFL3'\n")


def test_precision_fp32_warns_in_the_table(nb201_path, capsys):
    from pytest_tflite_latency.cli import main

    assert main(["estimate", str(nb201_path), "--precision", "fp32"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "warning: precision fp32: pixel4-gpu measured its GPU delegate computing in fp16" in out


@pytest.mark.parametrize("command", ["estimate", "diff"])
def test_output_naming_the_model_itself_is_refused_and_the_model_kept(tmp_path, cli, nb201_bytes, command):
    model = tmp_path / "net.tflite"
    model.write_bytes(nb201_bytes)
    args = [model] if command == "estimate" else [model, model]
    r = cli(command, *args, "--format", "json", "-o", tmp_path / "." / "net.tflite")
    assert r.returncode == 2 and "that is the model" in r.stderr and model.read_bytes() == nb201_bytes
