"""Hostile values the plugin is handed (options, ini keys, baselines, budgets, per-test numbers): each is a
usage error or a failed check naming where it came from; none loses the report, the table or the session."""

from __future__ import annotations

import json
import os

import pytest

pytest_plugins = ["pytester"]


@pytest.fixture
def project(pytester: pytest.Pytester, nb201_path):
    (pytester.path / "models").mkdir()
    (pytester.path / "models" / "net.tflite").symlink_to(nb201_path)
    (pytester.path / "latency-budgets.yaml").write_text("budgets:\n  - model: models/net.tflite\n    max_ms: 100\n")
    return pytester


@pytest.mark.parametrize("args,message", [
    (["--latency-regression", "nan"], "--latency-regression: expected a finite number, got 'nan'"),
    (["--latency-regression", "-1"], "--latency-regression: '-1' is below the allowed minimum 0"),
    (["--latency-regression", "1e400"], "--latency-regression: expected a finite number"),
    (["--latency-margin", "inf"], "--latency-margin: expected a finite number"),
    (["--latency-margin", "100"], "--latency-margin: 100 leaves no budget"),
    (["--latency-margin", "ten"], "--latency-margin: expected a number, got 'ten'"),
])
def test_unusable_number_option_is_a_usage_error_naming_the_option(project, args, message):
    r = project.runpytest(*args)
    assert r.ret == pytest.ExitCode.USAGE_ERROR
    r.stderr.fnmatch_lines([f"*{message}*"])


@pytest.mark.parametrize("ini,message", [
    ("latency_regression = nan", "latency_regression (ini): expected a finite number, got 'nan'"),
    ("latency_margin = -5", "latency_margin (ini): '-5' is below the allowed minimum 0"),
    ("latency_policy = fastest", "latency_policy (ini): expected estimate or upper"),
])
def test_unusable_ini_value_is_a_usage_error_naming_the_key(project, ini, message):
    project.makeini(f"[pytest]\n{ini}\n")
    r = project.runpytest()
    assert r.ret == pytest.ExitCode.USAGE_ERROR
    r.stderr.fnmatch_lines([f"*{message}*"])


def _baseline(project, results) -> None:
    (project.path / "base.json").write_text(json.dumps({"results": results}) if not isinstance(results, str)
                                            else results)


@pytest.mark.parametrize("results,message", [
    ([{"model": "models/net.tflite", "device": "pixel4-gpu", "estimate_ms": float("nan")}],
     "estimate_ms: expected a finite number, got nan; not a finite positive time"),
    ([{"model": "models/net.tflite", "device": "pixel4-gpu", "estimate_ms": -4.0}],
     "estimate_ms: -4.0 is at or below the allowed minimum 0"),
    ('{"results": [{"model": "m", "device": "d", "estimate_ms": ' + "9" * 400 + "}]}",
     "estimate_ms: 9999* is too large"),
    ([[1, 2]], "not a latency report: results?0? is not an object"),
    (["text"], "not a latency report: results?0? is not an object"),
    ('{"results": "all"}', "not a latency report: expected an object with a 'results' list"),
    ('{"results": ' + "[" * 100000 + "]" * 100000 + "}", "not a latency report: not valid JSON"),
])
def test_unusable_baseline_is_a_usage_error_without_exception_names(project, results, message):
    _baseline(project, results)
    r = project.runpytest("--latency-baseline", "base.json")
    assert r.ret == pytest.ExitCode.USAGE_ERROR
    r.stderr.fnmatch_lines([f"*--latency-baseline: base.json*{message}*"])
    assert "RecursionError" not in r.stderr.str() and "ValueError" not in r.stderr.str()


def test_baseline_that_is_a_fifo_is_refused_without_waiting(project):
    os.mkfifo(project.path / "base.json")
    r = project.runpytest("--latency-baseline", "base.json")
    assert r.ret == pytest.ExitCode.USAGE_ERROR
    r.stderr.fnmatch_lines(["*--latency-baseline: base.json: not a regular file*"])


def test_baseline_that_is_dev_zero_is_refused_without_reading_it(project):
    r = project.runpytest("--latency-baseline", "/dev/zero")
    assert r.ret == pytest.ExitCode.USAGE_ERROR
    r.stderr.fnmatch_lines(["*--latency-baseline: /dev/zero: not a regular file*"])


def test_budget_path_with_a_component_over_255_bytes_is_a_usage_error(project):
    r = project.runpytest("--latency-budgets", "x" * 300 + "/b.yaml")
    assert r.ret == pytest.ExitCode.USAGE_ERROR
    r.stderr.fnmatch_lines(["*--latency-budgets: *xxx/b.yaml: no such file*"])


def test_budget_file_that_is_a_fifo_is_refused_without_waiting(project):
    os.mkfifo(project.path / "fifo.yaml")
    r = project.runpytest("--latency-budgets", "fifo.yaml")
    assert r.ret == pytest.ExitCode.USAGE_ERROR
    r.stderr.fnmatch_lines(["*fifo.yaml: not a regular file*"])


@pytest.mark.parametrize("max_ms", ['float("nan")', 'float("inf")', "10**400", "-1", "True", "'fast'", "4e6"])
def test_unusable_max_ms_fails_its_test_and_keeps_report_and_table(project, max_ms):
    project.makepyfile(test_x=f"""
        from pytest_tflite_latency import assert_latency

        def test_bad():
            assert_latency("models/net.tflite", max_ms={max_ms})
    """)
    r = project.runpytest("--latency-report", "r.json")
    r.assert_outcomes(passed=1, failed=1)
    r.stdout.fnmatch_lines(["*test_x.py:4: max_ms: *", "*tflite latency*", "*models/net.tflite*ERROR"])
    report = json.loads((project.path / "r.json").read_text())
    assert report["errors"] == 1 and "INTERNALERROR" not in r.stdout.str()


@pytest.mark.parametrize("margin", ['float("nan")', "100", "-3"])
def test_unusable_per_test_margin_fails_that_test(project, margin):
    project.makepyfile(test_x=f"""
        from pytest_tflite_latency import assert_latency

        def test_bad():
            assert_latency("models/net.tflite", max_ms=100, margin_pct={margin})
    """)
    r = project.runpytest()
    r.assert_outcomes(passed=1, failed=1)
    r.stdout.fnmatch_lines(["*test_x.py:4: margin_pct: *"])


@pytest.mark.parametrize("call,message", [
    ("assert_latency(42, max_ms=100)", "model: expected a path to a .tflite file, got '42'"),
    ("assert_latency('models/net.tflite', max_ms=100, device=['a'])", "device: expected a device name"),
    ("assert_latency('models/net.tflite', max_ms=100, policy='fastest')", "policy: expected one of estimate, upper"),
])
def test_wrong_typed_argument_fails_its_test_with_one_line(project, call, message):
    project.makepyfile(test_x=f"""
        from pytest_tflite_latency import assert_latency

        def test_bad():
            {call}
    """)
    r = project.runpytest("--latency-report", "r.json")
    r.assert_outcomes(passed=1, failed=1)
    r.stdout.fnmatch_lines([f"*test_x.py:4: {message}*"])
    assert "Traceback" not in r.stdout.str()


def test_report_path_that_cannot_be_written_is_said_and_fails_the_run(project):
    r = project.runpytest("--latency-report", "x" * 300 + ".json")
    r.assert_outcomes(passed=1)
    assert r.ret == pytest.ExitCode.USAGE_ERROR and "INTERNALERROR" not in r.stdout.str()
    r.stdout.fnmatch_lines(["tflite-latency: --latency-report: xxx*.json: cannot write: File name too long"])
