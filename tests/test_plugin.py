"""The pytest plugin, run on example projects with pytester (small models only: NAS-Bench-201 cells,
and MobileNet V2 where a check must carry an estimator warning)."""

from __future__ import annotations

import contextvars
import json
import os
import re
import shutil
import subprocess
import sys

import pytest

from pytest_tflite_latency.estimator import DEFAULT_DEVICE
from pytest_tflite_latency.estimator.pipeline import estimate

pytest_plugins = ["pytester"]


@pytest.fixture
def project(pytester: pytest.Pytester, nb201_path, monkeypatch):
    """An example project with two small models (links to one file written once a session), at the
    terminal width most CI logs have."""
    monkeypatch.setenv("COLUMNS", "80")
    (pytester.path / "models").mkdir()
    (pytester.path / "models" / "net.tflite").symlink_to(nb201_path)
    shutil.copyfile(nb201_path, pytester.path / "models" / "other.tflite")  # a file of its own
    return pytester


@pytest.fixture
def warned_model(project):
    """A model whose estimate carries a warning that matters: a large softmax, a kind of kernel the
    default profile never trained on."""
    from pytest_tflite_latency.bench.writer import ModelWriter

    m = ModelWriter(fill="zeros")
    x = m.conv2d(m.input((1, 64, 64, 64)), 64, 3)
    path = project.path / "models" / "softmax.tflite"
    path.write_bytes(m.to_bytes([m.softmax(x)]))
    assert any("softmax" in w for w in estimate(path).warnings)
    return "models/softmax.tflite"


def budgets(pytester, text: str) -> None:
    (pytester.path / "latency-budgets.yaml").write_text(text)


NET_15_AND_OTHER_1 = ("budgets:\n  - model: models/net.tflite\n    device: adreno640\n    max_ms: 15\n"
                      "  - model: models/other.tflite\n    device: adreno640\n    max_ms: 1\n")


def test_budget_file_fails_the_model_over_its_budget_with_its_costliest_kernels(project):
    budgets(project, NET_15_AND_OTHER_1)
    r = project.runpytest("-p", "no:cacheprovider")
    r.assert_outcomes(passed=1, failed=1)
    r.stdout.fnmatch_lines(["*models/other.tflite on adreno640: estimated * exceeds the 1.00 ms budget by *",
                            "*costliest kernels:*", "*#* on GPU: *ms*"])
    assert "Traceback" not in r.stdout.str()


def test_session_table_lists_each_check_with_its_verdict(project):
    budgets(project, NET_15_AND_OTHER_1)
    r = project.runpytest()
    r.stdout.fnmatch_lines(["*tflite latency*", "*model*device*latency*budget*headroom*result*",
                            "latency-budgets.yaml", "*models/net.tflite*adreno640*ok", "*models/other.tflite*OVER"])


def test_session_table_fits_80_columns_with_long_names(project, nb201_path):
    deep = project.path / ("a_rather_long_folder_name_" * 3) / "and_a_model_with_a_long_name_too.tflite"
    deep.parent.mkdir()
    deep.symlink_to(nb201_path)
    rel = deep.relative_to(project.path).as_posix()
    project.makepyfile(**{("test_" + "long_" * 12).rstrip("_"): f"""
        from pytest_tflite_latency import assert_latency

        def test_a_test_with_a_rather_long_name_that_goes_on():
            assert_latency("{rel}", max_ms=1000, device="nnmeter-adreno630", policy="upper")
    """})
    r = project.runpytest("--latency-device", "nnmeter-adreno630")
    r.assert_outcomes(passed=1)
    table = r.stdout.str().split("tflite latency", 1)[1].splitlines()
    assert table and max(len(line) for line in table) <= 80
    r.stdout.fnmatch_lines(["*nnmeter-adreno630*ms upper*1000 ms*ok"])


def test_short_test_summary_shows_the_verdict(project):
    project.makepyfile(test_x="""
        from pytest_tflite_latency import assert_latency

        def test_y():
            assert_latency("models/net.tflite", max_ms=1)
    """)
    r = project.runpytest("-rf", "-vv")
    r.assert_outcomes(failed=1)
    r.stdout.re_match_lines([rf"FAILED test_x.py::test_y - models/net.tflite on {DEFAULT_DEVICE}: "
                             r"[\d.]+ ms > 1 ms budget \(\+\d+%\)$"])


def test_k_selects_budget_items_and_globs_expand(project):
    budgets(project, "defaults:\n  device: nnmeter-adreno630\nbudgets:\n  - model: 'models/*.tflite'\n"
                     "    devices: [adreno640, nnmeter-adreno630]\n    max_ms: 1000\n")
    r = project.runpytest("-k", "net", "-v")
    r.assert_outcomes(passed=2)
    r.stdout.fnmatch_lines(["*models/net.tflite?adreno640? PASSED*", "*models/net.tflite?nnmeter-adreno630? PASSED*"])


def test_assert_latency_fixture_and_marker_each_hold_their_budget(project):
    project.makepyfile(test_models="""
        import pytest
        from pytest_tflite_latency import assert_latency

        def test_function():
            result = assert_latency("models/net.tflite", max_ms=50)
            assert result.passed and result.estimate_ms > 0

        def test_fixture(tflite_latency):
            assert tflite_latency.estimate("models/net.tflite").total_ms > 0
            tflite_latency("models/other.tflite", max_ms=1)

        @pytest.mark.latency_budget(model="models/net.tflite", max_ms=0.01, device="nnmeter-adreno630")
        def test_marker():
            pass

        def test_upper_policy():
            r = assert_latency("models/net.tflite", max_ms=1000, policy="upper")
            assert r.compared_ms == r.interval_ms[1]
    """)
    r = project.runpytest()
    r.assert_outcomes(passed=2, failed=2)
    r.stdout.fnmatch_lines(["*models/other.tflite on pixel4-gpu*exceeds the 1.00 ms budget*",
                            "*models/net.tflite on nnmeter-adreno630*exceeds the 0.01 ms budget*"])


@pytest.mark.parametrize("text,message", [
    ("budgets: [unclosed", "latency-budgets.yaml:1: not valid YAML"),
    ("- just a list", "expected a mapping with a 'budgets:' list"),
    ("a: &x [1, 2]\nb: [*x, *x]\nbudgets: []", "latency-budgets.yaml:2: not valid YAML: aliases (*name)"),
    ("budgets: []\n1: 2\n", "latency-budgets.yaml:2: not valid YAML: keys must be names, got 1"),
    ("budgets: []\ntrue: 2\n", "latency-budgets.yaml:2: not valid YAML: keys must be names, got True"),
    ("budgets:\n  - {model: m, max_ms: 1, max_ms: 2}\n", ":2: not valid YAML: duplicate key 'max_ms'"),
    ("budgets: []\nbudgets: []\n", "latency-budgets.yaml:2: not valid YAML: duplicate key 'budgets'"),
    ("devcie: nnmeter-adreno630\nbudgets: []\n", "latency-budgets.yaml:1: unknown top-level key 'devcie'"),
    ("budgets: []\ndefualts: {}\n", "latency-budgets.yaml:2: unknown top-level key 'defualts'; did you mean "
                                    "'defaults'?"),
    ("budget:\n  - model: m.tflite\n    max_ms: 5\n", "latency-budgets.yaml:1: unknown top-level key 'budget'; "
                                                      "did you mean 'budgets'?"),
    ("defaults:\n  device: adreno640\n  polcy: upper\nbudgets: []\n",
     "latency-budgets.yaml:3: unknown key in 'defaults' 'polcy'; did you mean 'policy'?"),
    ("budgets: " + "[" * 5000 + "]" * 5000, "latency-budgets.yaml: nested too deeply to read"),
    ("budgets:\n  - max_ms: " + "9" * 5000 + "\n", "latency-budgets.yaml: a value YAML cannot convert"),
])
def test_unusable_budget_file_is_a_collection_error_naming_the_line(project, text, message):
    budgets(project, text)
    r = project.runpytest()
    assert r.ret != 0
    r.stdout.fnmatch_lines([f"*{message}*"])
    assert "Traceback" not in r.stdout.str() and "Error:" not in r.stdout.str()


@pytest.mark.parametrize("entry,message", [
    ("  - model: models/net.tflite\n    max_ms: -3\n", ":4: max_ms must be a finite positive number"),
    ("  - model: models/net.tflite\n    max_ms: fast\n", ":4: max_ms must be a finite positive number"),
    ("  - model: models/net.tflite\n    max_ms: .inf\n", ":4: max_ms must be a finite positive number"),
    ("  - model: models/net.tflite\n    max_ms: 1e400\n", ":4: max_ms must be a finite positive number"),
    ("  - model: models/net.tflite\n    max_ms: .nan\n", ":4: max_ms must be a finite positive number"),
    ("  - model: models/net.tflite\n    max_ms: " + "9" * 400 + "\n", ":4: max_ms must be a finite positive"),
    ("  - model: models/net.tflite\n    max_ms: 5\n    margin_pct: 100\n", ":5: margin_pct must be a number from 0"),
    ("  - model: models/net.tflite\n    max_m: 5\n", ":4: unknown key 'max_m'; did you mean 'max_ms'?"),
    ("  - model: models/missing.tflite\n    max_ms: 5\n", ":3: model 'models/missing.tflite' matches no file"),
    ("  - max_ms: 5\n", ":3: budget #2 has no 'model'"),
    ("  - model: 'models/*.onnx'\n    max_ms: 5\n", ":3: model 'models/*.onnx' matches no file"),
    ("  - model: " + "x" * 300 + "/m.tflite\n    max_ms: 5\n", ":3: model 'xxxxxxxxx"),
    ("  - model: models/net.tflite\n    max_ms: 5\n    device: pixel99\n", ":3: unknown device 'pixel99'"),
])
def test_bad_entry_fails_its_own_item_at_the_line_of_the_mistake(project, entry, message):
    budgets(project, "budgets:\n  - {model: models/net.tflite, max_ms: 100}\n" + entry)
    r = project.runpytest()
    r.assert_outcomes(passed=1, failed=1)
    r.stdout.fnmatch_lines([f"*{message}*"])
    assert "Traceback" not in r.stdout.str()


def test_unparsable_model_fails_with_its_path(project):
    (project.path / "models" / "broken.tflite").write_bytes(b"\x00" * 10)
    budgets(project, "budgets:\n  - model: models/broken.tflite\n    max_ms: 5\n")
    r = project.runpytest()
    r.assert_outcomes(failed=1)
    r.stdout.fnmatch_lines(["*latency-budgets.yaml:2: *models/broken.tflite: not a TFLite model*"])


def test_profile_that_is_not_a_profile_fails_the_item_with_file_and_line(project):
    (project.path / "report.json").write_text(json.dumps({"model": "x", "total_ms": 3}))
    budgets(project, "budgets:\n  - model: models/net.tflite\n    device: report.json\n    max_ms: 5\n")
    r = project.runpytest()
    r.assert_outcomes(failed=1)
    r.stdout.fnmatch_lines(["*latency-budgets.yaml:2: report.json: not a usable device profile: missing key*"])
    assert "Traceback" not in r.stdout.str()


def test_report_records_checks_that_errored_with_matching_counts(project):
    budgets(project, "budgets:\n  - {model: models/net.tflite, max_ms: 100}\n"
                     "  - {model: models/net.tflite, max_ms: 100, device: pixel99}\n"
                     "  - {model: models/gone.tflite, max_ms: 100}\n"
                     "  - {model: models/net.tflite, max_ms: .inf}\n")
    r = project.runpytest("--latency-report", "report.json")
    r.assert_outcomes(passed=1, failed=3)
    report = json.loads((project.path / "report.json").read_text())
    assert (report["passed"], report["failed"], report["errors"]) == (1, 3, 3)
    errors = {res["device"]: res["error"] for res in report["results"] if res.get("error")}
    assert "unknown device 'pixel99'" in errors["pixel99"]
    assert [res["verdict"] for res in report["results"]] == ["ok", "ERROR", "ERROR", "ERROR"]
    r.stdout.fnmatch_lines(["*models/net.tflite*pixel99*ERROR"])


def test_report_entries_carry_kernels_and_verdict(project):
    budgets(project, "budgets:\n  - model: models/net.tflite\n    max_ms: 15\n")
    project.runpytest("--latency-report", "out/report.json").assert_outcomes(passed=1)
    (res,) = json.loads((project.path / "out" / "report.json").read_text())["results"]
    assert res["model"] == "models/net.tflite" and res["device"] == "pixel4-gpu" and res["verdict"] == "ok"
    assert res["interval_ms"][0] < res["estimate_ms"] < res["interval_ms"][1]
    assert sum(layer["ms"] for layer in res["layers"]) == pytest.approx(res["estimate_ms"], rel=0.5)


def test_report_is_written_with_the_usual_file_mode(project):
    budgets(project, "budgets:\n  - model: models/net.tflite\n    max_ms: 15\n")
    old = os.umask(0o022)
    try:
        project.runpytest("--latency-report", "report.json").assert_outcomes(passed=1)
    finally:
        os.umask(old)
    assert oct((project.path / "report.json").stat().st_mode & 0o777) == oct(0o644)


def test_junit_xml_gets_the_checks_figures_as_properties(project):
    budgets(project, "budgets:\n  - model: models/net.tflite\n    max_ms: 15\n")
    project.runpytest("--junitxml", "junit.xml").assert_outcomes(passed=1)
    junit = (project.path / "junit.xml").read_text()
    assert 'name="latency_estimate_ms"' in junit and 'name="latency_budget_ms" value="15.0"' in junit
    assert 'name="latency_verdict" value="ok"' in junit


def test_github_job_summary_gets_the_table(project, monkeypatch):
    budgets(project, "budgets:\n  - model: models/net.tflite\n    max_ms: 15\n")
    summary = project.path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    project.runpytest().assert_outcomes(passed=1)
    assert "| models/net.tflite | pixel4-gpu | estimate |" in summary.read_text()


def test_a_conftest_can_extend_the_json_report_through_the_hook(project):
    budgets(project, "budgets:\n  - model: models/net.tflite\n    max_ms: 15\n")
    project.makeconftest("""
        def pytest_tflite_latency_update_json(config, report):
            report["commit"] = "abc123"
            report["results"][0]["owner"] = "vision-team"
    """)
    project.runpytest("--latency-report", "r.json").assert_outcomes(passed=1)
    report = json.loads((project.path / "r.json").read_text())
    assert report["commit"] == "abc123" and report["results"][0]["owner"] == "vision-team"


def test_baseline_regression_fails_even_under_budget(project):
    budgets(project, "budgets:\n  - model: models/net.tflite\n    max_ms: 100\n")
    project.runpytest("--latency-report", "base.json").assert_outcomes(passed=1)
    base = json.loads((project.path / "base.json").read_text())
    base["results"][0]["estimate_ms"] *= 0.8  # pretend the model used to be 20% faster
    (project.path / "base.json").write_text(json.dumps(base))
    r = project.runpytest("--latency-baseline", "base.json", "--latency-regression", "10")
    r.assert_outcomes(failed=1)
    r.stdout.fnmatch_lines(["*regressed +25.0% from the baseline*threshold 10%*", "*models/net.tflite*REGRESSED"])


def test_missing_baseline_is_a_usage_error_by_default(project):
    budgets(project, "budgets:\n  - model: models/net.tflite\n    max_ms: 100\n")
    r = project.runpytest("--latency-baseline", "first-run.json")
    assert r.ret == pytest.ExitCode.USAGE_ERROR
    r.stderr.fnmatch_lines(["*--latency-baseline: first-run.json: no such file (a first run has none: "
                            "--latency-baseline-missing=skip checks budgets only)*"])


def test_missing_baseline_with_skip_is_a_notice_and_budgets_still_hold(project):
    budgets(project, "budgets:\n  - model: models/net.tflite\n    max_ms: 100\n")
    r = project.runpytest("--latency-baseline", "first-run.json", "--latency-baseline-missing=skip", "-q")
    r.assert_outcomes(passed=1)
    assert r.stdout.str().count("first-run.json: no such file: no regression checks this run") == 1


def test_ini_keys_and_explicit_budget_path(project):
    (project.path / "budgets").mkdir()
    (project.path / "budgets" / "phone.yaml").write_text(
        "budgets:\n  - model: ../models/net.tflite\n    max_ms: 2\n")
    project.makeini("[pytest]\nlatency_budgets = budgets/phone.yaml\nlatency_device = nnmeter-cortexa76\n")
    r = project.runpytest()
    r.assert_outcomes(failed=1)  # one CPU core is far slower than 2 ms
    r.stdout.fnmatch_lines(["*on nnmeter-cortexa76*exceeds the 2.00 ms budget*"])


def test_works_under_xdist(project):
    pytest.importorskip("xdist")
    budgets(project, "budgets:\n  - model: 'models/*.tflite'\n    devices: [adreno640, nnmeter-adreno630]\n"
                     "    max_ms: 1000\n")
    r = project.runpytest("-n", "2", "--latency-report", "r.json", "--latency-html", "r.html")
    r.assert_outcomes(passed=4)
    assert len(json.loads((project.path / "r.json").read_text())["results"]) == 4
    r.stdout.fnmatch_lines(["*tflite latency*"])
    assert (project.path / "r.html").read_text().count('<td class="verdict">ok</td>') == 4


def test_verdict_reaches_the_short_summary_from_xdist_workers(project):
    pytest.importorskip("xdist")
    budgets(project, "budgets:\n  - model: models/net.tflite\n    max_ms: 1\n")
    r = project.runpytest("-n", "2", "-rf", "-vv")
    r.assert_outcomes(failed=1)
    r.stdout.re_match_lines([r"FAILED latency-budgets.yaml::.* - models/net.tflite on pixel4-gpu: [\d.]+ ms > 1 ms"])


def test_latency_html_lists_every_check_and_links_each_model_page(project, monkeypatch):
    budgets(project, "budgets:\n  - model: models/net.tflite\n    max_ms: 15\n"
                     "  - model: models/other.tflite\n    max_ms: 1\n")
    summary = project.path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    project.runpytest("--latency-html", "out/latency.html").assert_outcomes(passed=1, failed=1)
    page = (project.path / "out" / "latency.html").read_text()
    verdicts = re.findall(r'<a href="([^"]+)">(models/\w+\.tflite)</a>.*?<td class="verdict">(\w+)</td>', page)
    assert [(model, verdict) for _, model, verdict in verdicts] == [("models/net.tflite", "ok"),
                                                                    ("models/other.tflite", "OVER")]
    for href, model, _ in verdicts:
        total = estimate(project.path / model).total_ms
        assert f'id="total">{total:.3f} ms<' in (project.path / "out" / href).read_text()
    assert "HTML latency report: `out/latency.html`" in summary.read_text()


def test_latency_html_is_the_same_for_the_same_results(project):
    budgets(project, "budgets:\n  - model: models/net.tflite\n    max_ms: 15\n")
    project.runpytest("--latency-html", "out/latency.html").assert_outcomes(passed=1)
    first = (project.path / "out" / "latency.html").read_text()
    project.runpytest("--latency-html", "out/latency.html").assert_outcomes(passed=1)
    assert (project.path / "out" / "latency.html").read_text() == first


def test_latency_html_has_one_page_per_model_and_device(project):
    budgets(project, "budgets:\n  - model: models/net.tflite\n    devices: [pixel4-gpu, nnmeter-adreno630]\n"
                     "    max_ms: 1000\n")
    project.makepyfile(test_again="""
        from pytest_tflite_latency import assert_latency

        def test_twice():
            assert_latency("models/net.tflite", max_ms=1000)
            assert_latency("models/net.tflite", max_ms=900)
    """)
    project.runpytest("--latency-html", "h.html").assert_outcomes(passed=3)
    pages = sorted(p.name for p in (project.path / "h-models").iterdir())
    assert len(pages) == 2, pages
    links = set(re.findall(r'<a href="h-models/([^"]+)">', (project.path / "h.html").read_text()))
    assert links == set(pages)


def test_latency_html_shows_the_kernel_diff_of_a_regression(project):
    budgets(project, "budgets:\n  - model: models/net.tflite\n    max_ms: 100\n")
    project.runpytest("--latency-report", "base.json").assert_outcomes(passed=1)
    base = json.loads((project.path / "base.json").read_text())
    (record,) = base["results"]
    record["estimate_ms"] *= 0.8
    slower = record["layers"][0]
    slower["ms"] *= 0.5  # pretend one kernel used to take half as long
    (project.path / "base.json").write_text(json.dumps(base))
    r = project.runpytest("--latency-baseline", "base.json", "--latency-html", "r.html")
    r.assert_outcomes(failed=1)
    page = (project.path / "r.html").read_text()
    assert "Regressions against the baseline" in page and page.count("<td>changed</td>") == 1
    assert f"<td>#{slower['index']}→#{slower['index']}</td>" in page


def test_latency_html_shows_the_kernel_diff_of_a_model_named_from_its_test_file(project):
    (project.path / "tests").mkdir()
    (project.path / "tests" / "test_net.py").write_text(
        "from pytest_tflite_latency import assert_latency\n\n"
        "def test_net():\n    assert_latency('../models/net.tflite', 100)\n")
    project.runpytest("tests", "--latency-report", "base.json").assert_outcomes(passed=1)
    base = json.loads((project.path / "base.json").read_text())
    base["results"][0]["estimate_ms"] *= 0.8
    base["results"][0]["layers"][0]["ms"] *= 0.5
    (project.path / "base.json").write_text(json.dumps(base))
    r = project.runpytest("tests", "--latency-baseline", "base.json", "--latency-html", "r.html")
    r.assert_outcomes(failed=1)
    page = (project.path / "r.html").read_text()
    assert page.count("<td>changed</td>") == 1 and "has no kernel figures" not in page


def test_latency_html_says_when_the_baseline_has_no_kernels(project):
    budgets(project, "budgets:\n  - model: models/net.tflite\n    max_ms: 100\n")
    project.runpytest("--latency-report", "base.json").assert_outcomes(passed=1)
    base = json.loads((project.path / "base.json").read_text())
    base["results"][0]["estimate_ms"] *= 0.8
    del base["results"][0]["layers"]  # a report from before kernels were recorded: totals only
    (project.path / "base.json").write_text(json.dumps(base))
    project.runpytest("--latency-baseline", "base.json", "--latency-html", "r.html").assert_outcomes(failed=1)
    assert "has no kernel figures" in (project.path / "r.html").read_text()


def test_warnings_reach_the_failure_text_the_summary_and_the_report(project, warned_model):
    budgets(project, f"budgets:\n  - model: {warned_model}\n    max_ms: 0.001\n")
    r = project.runpytest("--latency-report", "r.json")
    r.assert_outcomes(failed=1)
    r.stdout.fnmatch_lines(["estimator warnings:", "*softmax*outside what pixel4-gpu was trained on*"])
    r.stdout.fnmatch_lines(["estimator warnings: 1 warning on 1 check", "*-v lists them*r.json*"])
    (res,) = json.loads((project.path / "r.json").read_text())["results"]
    assert any("softmax" in w for w in res["warnings"])


def test_int8_precision_warning_is_in_the_report(project, tmp_path):
    from pytest_tflite_latency.bench import zoo

    (project.path / "models" / "int8.tflite").write_bytes(zoo.build("nasbench201", dtype="int8", fill="zeros"))
    budgets(project, "budgets:\n  - model: models/int8.tflite\n    max_ms: 1000\n")
    project.runpytest("--latency-report", "r.json").assert_outcomes(passed=1)
    (res,) = json.loads((project.path / "r.json").read_text())["results"]
    assert any("int8-quantized model" in w for w in res["warnings"])


def test_budget_checks_without_latency_html_load_no_report_format(project):
    project.makepyfile(test_formats="""
        import sys
        from pytest_tflite_latency import assert_latency

        def test_check_then_look():
            assert_latency("models/net.tflite", max_ms=1000)
            loaded = [m for m in sys.modules if m.startswith("pytest_tflite_latency") and
                      m.rsplit(".", 1)[-1] in ("html_report", "model_explorer", "diff", "html_session")]
            assert "pytest_tflite_latency.estimator.pipeline" in sys.modules and loaded == []
    """)
    project.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_session_without_budgets_never_loads_the_estimator(pytester):
    pytester.makepyfile(test_plain="""
        import sys
        def test_nothing_heavy():
            assert "pytest_tflite_latency.estimator.pipeline" not in sys.modules
            assert "numpy" not in sys.modules
    """)
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_core_check_does_not_import_the_budget_file_parser():
    code = ("import sys, pytest_tflite_latency.check; "
            "assert 'pytest_tflite_latency.budgets' not in sys.modules and 'yaml' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_failing_checks_in_python_tests_print_the_budget_message_not_plugin_source(project):
    project.makepyfile(test_models="""
        import pytest
        from pytest_tflite_latency import assert_latency

        def test_function():
            assert_latency("models/net.tflite", max_ms=1)

        def test_fixture(tflite_latency):
            tflite_latency("models/net.tflite", max_ms=2)

        @pytest.mark.latency_budget(model="models/net.tflite", max_ms=3)
        def test_marker():
            pass

        def test_missing_model():
            assert_latency("models/missing.tflite", max_ms=5)
    """)
    r = project.runpytest()
    r.assert_outcomes(failed=4)
    r.stdout.fnmatch_lines([
        f"test_models.py:5: models/net.tflite on {DEFAULT_DEVICE}: estimated * exceeds the 1.00 ms budget*",
        f"test_models.py:8: models/net.tflite on {DEFAULT_DEVICE}: estimated * exceeds the 2.00 ms budget*",
        f"test_models.py::test_marker: models/net.tflite on {DEFAULT_DEVICE}: estimated * exceeds the 3.00 ms budget*",
        "test_models.py:15: *models/missing.tflite: *",
    ])
    out = r.stdout.str()
    assert "run_check" not in out and "During handling" not in out and "Traceback" not in out


def test_settings_stay_with_their_session(project, nb201_path):
    from pytest_tflite_latency import assert_latency
    from pytest_tflite_latency.estimator.profile import device_names

    other = next(n for n in device_names() if n != DEFAULT_DEVICE)
    project.makepyfile(test_inner=f"""
        from pytest_tflite_latency import assert_latency

        def test_device_from_the_command_line():
            assert assert_latency("models/net.tflite", max_ms=1000).device == "{other}"
    """)
    project.runpytest("--latency-device", other).assert_outcomes(passed=1)
    # an empty context: no running test of this session either, so this call is outside every session
    outside = contextvars.Context().run(assert_latency, nb201_path, max_ms=1000)
    assert outside.device == DEFAULT_DEVICE


def test_fixture_module_does_not_import_the_plugin():
    code = "import sys, pytest_tflite_latency.fixture; assert 'pytest_tflite_latency.plugin' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_unknown_latency_device_is_one_usage_error(project):
    budgets(project, "budgets:\n  - model: 'models/*.tflite'\n    max_ms: 10\n")
    r = project.runpytest("--latency-device", "pixel99")
    assert r.ret == pytest.ExitCode.USAGE_ERROR
    assert (r.stdout.str() + r.stderr.str()).count("unknown device 'pixel99'") == 1
    r.stderr.fnmatch_lines(["*--latency-device: unknown device 'pixel99'*"])


def test_a_gpu_name_and_its_profile_name_are_one_device_for_duplicates_and_globs(project):
    budgets(project, "budgets:\n  - model: 'models/*.tflite'\n    devices: [pixel4-gpu]\n    max_ms: 1000\n"
                     "  - model: models/net.tflite\n    device: adreno640\n    max_ms: 500\n"
                     "  - model: models/net.tflite\n    device: pixel4-gpu\n    max_ms: 400\n")
    r = project.runpytest("--latency-report", "r.json")
    r.assert_outcomes(passed=2, failed=1)
    r.stdout.fnmatch_lines(["*latency-budgets.yaml:8: models/net.tflite on pixel4-gpu already has a budget on line 5*"])
    results = json.loads((project.path / "r.json").read_text())["results"]
    assert sorted((x["model"], x["max_ms"]) for x in results if not x.get("error")) == [
        ("models/net.tflite", 500.0), ("models/other.tflite", 1000.0)]


def test_node_id_selection_leaves_out_the_root_budget_file(project):
    budgets(project, "budgets:\n  - model: models/net.tflite\n    max_ms: 1000\n")
    project.makepyfile(test_x="def test_y():\n    pass\n\ndef test_z():\n    pass\n")
    project.runpytest("test_x.py::test_y").assert_outcomes(passed=1)
    project.runpytest("test_x.py").assert_outcomes(passed=2)
    project.runpytest().assert_outcomes(passed=3)


def test_explicit_entry_wins_over_a_glob_without_duplicate_node_ids(project):
    budgets(project, "budgets:\n  - model: 'models/*.tflite'\n    max_ms: 1000\n"
                     "  - model: models/net.tflite\n    max_ms: 500\n"
                     "  - model: models/net.tflite\n    max_ms: 400\n")
    r = project.runpytest("--latency-report", "r.json", "-v")
    r.assert_outcomes(passed=2, failed=1)
    r.stdout.fnmatch_lines([f"*latency-budgets.yaml:6: models/net.tflite on {DEFAULT_DEVICE} already has a budget "
                            "on line 4*"])
    results = json.loads((project.path / "r.json").read_text())["results"]
    assert sorted((x["model"], x["max_ms"]) for x in results if not x.get("error")) == [
        ("models/net.tflite", 500.0), ("models/other.tflite", 1000.0)]
    assert [x["model"] for x in results if x.get("error")] == ["models/net.tflite@line6"]
    ids = [ln.split(" ")[0] for ln in r.stdout.lines if "latency-budgets.yaml::" in ln and "PASSED" in ln]
    assert len(ids) == len(set(ids)) == 2


def test_junit_names_are_unique_when_a_test_makes_several_checks(project):
    project.makepyfile(test_two="""
        from pytest_tflite_latency import assert_latency

        def test_two_models():
            assert_latency("models/net.tflite", max_ms=1000)
            assert_latency("models/other.tflite", max_ms=1000, policy="upper")
    """)
    project.runpytest("--junitxml", "junit.xml").assert_outcomes(passed=1)
    names = re.findall(r'<property name="([^"]+)"', (project.path / "junit.xml").read_text())
    assert len(names) == len(set(names))
    assert f"latency_estimate_ms[models/net.tflite@{DEFAULT_DEVICE}]" in names
    assert f"latency_policy[models/other.tflite@{DEFAULT_DEVICE}]" in names


def test_session_table_names_the_test_and_the_upper_policy(project):
    project.makepyfile(test_two="""
        from pytest_tflite_latency import assert_latency

        def test_two_models():
            assert_latency("models/net.tflite", max_ms=1000)
            assert_latency("models/other.tflite", max_ms=1000, policy="upper")
    """)
    r = project.runpytest()
    r.stdout.fnmatch_lines(["test_two.py::test_two_models", f"  models/net.tflite*{DEFAULT_DEVICE}*ms*ok",
                            f"  models/other.tflite*{DEFAULT_DEVICE}*ms upper*ok"])


def test_model_paths_in_tests_are_relative_to_the_test_file(project, nb201_path):
    sub = project.path / "tests" / "phone"
    sub.mkdir(parents=True)
    (sub / "local.tflite").symlink_to(nb201_path)
    (sub / "test_rel.py").write_text(
        "import pytest\nfrom pytest_tflite_latency import assert_latency\n\n"
        "def test_function(tflite_latency):\n"
        "    assert_latency('local.tflite', max_ms=1000)\n"
        "    assert tflite_latency.estimate('local.tflite').total_ms > 0\n\n"
        "@pytest.mark.latency_budget(model='../../models/net.tflite', max_ms=1000)\n"
        "def test_marker():\n    pass\n")
    project.runpytest("tests").assert_outcomes(passed=2)


def _team_profiles(project, name: str = "pixel8-gpu"):
    """A team's profile folder holding one calibrated profile (here: a bundled one under a new name)."""
    from importlib import resources

    bundled = json.loads((resources.files("pytest_tflite_latency.estimator") / "profiles" /
                          "nnmeter-adreno630.json").read_text())
    bundled["name"] = name
    (project.path / "profiles").mkdir(exist_ok=True)
    (project.path / "profiles" / f"{name}.json").write_text(json.dumps(bundled))


def test_a_budget_file_finds_a_team_profile_by_name_through_the_ini_key(project):
    _team_profiles(project)
    project.makeini("[pytest]\nlatency_profiles = profiles\n")
    budgets(project, "budgets:\n  - model: models/net.tflite\n    device: pixel8-gpu\n    max_ms: 1000\n")
    r = project.runpytest("--latency-report", "r.json")
    r.assert_outcomes(passed=1)
    (res,) = json.loads((project.path / "r.json").read_text())["results"]
    expected = estimate(project.path / "models" / "net.tflite", "nnmeter-adreno630").total_ms
    assert res["device"] == "pixel8-gpu" and res["estimate_ms"] == pytest.approx(expected, rel=1e-9)


def test_latency_device_takes_a_team_profile_by_path_or_by_name(project):
    _team_profiles(project)
    project.makepyfile(test_dev="""
        from pytest_tflite_latency import assert_latency

        def test_it():
            assert assert_latency("models/net.tflite", max_ms=1000).passed
    """)
    project.runpytest("--latency-device", "profiles/pixel8-gpu.json").assert_outcomes(passed=1)
    project.runpytest("--latency-profiles", "profiles", "--latency-device", "pixel8-gpu").assert_outcomes(passed=1)
    r = project.runpytest("--latency-device", "pixel8-gpu")
    assert r.ret == pytest.ExitCode.USAGE_ERROR


def test_a_profiles_folder_that_is_not_there_is_a_usage_error(project):
    project.makeini("[pytest]\nlatency_profiles = no-such-folder\n")
    r = project.runpytest()
    assert r.ret == pytest.ExitCode.USAGE_ERROR
    r.stderr.fnmatch_lines(["*latency_profiles (ini): *no-such-folder: not a folder*"])


def test_a_budget_file_names_a_profile_json_relative_to_itself(project):
    _team_profiles(project)
    (project.path / "budgets").mkdir()
    (project.path / "budgets" / "phone.yaml").write_text(
        "budgets:\n  - model: ../models/net.tflite\n    device: ../profiles/pixel8-gpu.json\n    max_ms: 1000\n")
    r = project.runpytest("--latency-budgets", "budgets/phone.yaml", "--latency-report", "r.json")
    r.assert_outcomes(passed=1)
    (res,) = json.loads((project.path / "r.json").read_text())["results"]
    assert res["device"] == "profiles/pixel8-gpu.json"


def test_a_report_path_linked_to_a_device_is_written_into_it_not_replaced(project):
    budgets(project, "budgets:\n  - model: models/net.tflite\n    max_ms: 15\n")
    (project.path / "report.json").symlink_to(os.devnull)  # as --latency-report /dev/null: never replaced
    (project.path / "page.html").symlink_to(os.devnull)
    project.runpytest("--latency-report", "report.json", "--latency-html", "page.html").assert_outcomes(passed=1)
    for name in ("report.json", "page.html"):
        assert (project.path / name).is_symlink() and (project.path / name).is_char_device()


def test_a_report_path_under_a_file_is_said_to_be_no_folder(project):
    budgets(project, "budgets:\n  - model: models/net.tflite\n    max_ms: 15\n")
    (project.path / "plain").write_text("")
    r = project.runpytest("--latency-report", "plain/report.json")
    r.stdout.fnmatch_lines(["tflite-latency: --latency-report: plain/report.json: cannot write: "
                            "Not a directory: plain"])


def _team_profile(project) -> None:
    from pytest_tflite_latency.bench.build_profiles import PROFILE_DIR

    (project.path / "profiles").mkdir()
    shutil.copyfile(PROFILE_DIR / "pixel4-gpu.json", project.path / "profiles" / "team.json")
    (project.path / "tests" / "deep").mkdir(parents=True)


def test_a_profile_path_in_a_test_is_relative_to_the_tests_file_wherever_pytest_runs(project, monkeypatch):
    _team_profile(project)
    (project.path / "tests" / "deep" / "test_team.py").write_text(
        "from pytest_tflite_latency import assert_latency\n\n"
        "def test_team():\n"
        "    assert_latency('../../models/net.tflite', 100, device='../../profiles/team.json')\n\n"
        "def test_fixture(tflite_latency):\n"
        "    tflite_latency('../../models/net.tflite', 100, device='../../profiles/team.json')\n\n"
        "@pytest.mark.latency_budget('../../models/net.tflite', 100, device='../../profiles/team.json')\n"
        "def test_marker():\n    pass\n")
    (project.path / "tests" / "deep" / "test_team.py").write_text(
        "import pytest\n" + (project.path / "tests" / "deep" / "test_team.py").read_text())
    project.runpytest("tests").assert_outcomes(passed=3)
    monkeypatch.chdir(project.path / "tests" / "deep")
    project.runpytest(".").assert_outcomes(passed=3)


def test_a_profile_path_in_the_ini_file_is_relative_to_it_and_an_error_names_the_ini_key(project, monkeypatch):
    _team_profile(project)
    (project.path / "tests" / "deep" / "test_team.py").write_text(
        "from pytest_tflite_latency import assert_latency\n\n"
        "def test_team():\n    assert_latency('../../models/net.tflite', 100)\n")
    project.makeini("[pytest]\nlatency_device = profiles/team.json\n")
    monkeypatch.chdir(project.path / "tests")
    project.runpytest(".").assert_outcomes(passed=1)
    project.makeini("[pytest]\nlatency_device = profiles/gone.json\n")
    r = project.runpytest(".")
    assert r.ret == pytest.ExitCode.USAGE_ERROR
    r.stderr.fnmatch_lines(["*latency_device (ini): *gone.json*"])


@pytest.mark.parametrize(("entry", "problem"), [
    ("device: pixel4-cpu\n    devices: [pixel4-gpu]", "give device or devices, not both"),
    ("devices: []", "devices must be a non-empty list of device names"),
])
def test_a_budget_entry_that_would_drop_a_device_is_an_error_on_its_line(project, entry, problem):
    budgets(project, f"budgets:\n  - model: models/net.tflite\n    max_ms: 15\n    {entry}\n")
    r = project.runpytest()
    r.assert_outcomes(failed=1)
    r.stdout.fnmatch_lines([f"*latency-budgets.yaml:*{problem}*"])


def test_a_baseline_tells_two_models_of_one_name_in_two_folders_apart(project):
    for folder in ("fast", "slow"):
        (project.path / "tests" / folder).mkdir(parents=True)
        (project.path / "tests" / folder / "net.tflite").symlink_to(project.path / "models" / "net.tflite")
        (project.path / "tests" / folder / f"test_{folder}.py").write_text(
            "from pytest_tflite_latency import assert_latency\n\n"
            f"def test_{folder}():\n    assert_latency('net.tflite', 100)\n")
    project.runpytest("tests", "--latency-report", "base.json").assert_outcomes(passed=2)
    base = json.loads((project.path / "base.json").read_text())
    assert sorted(r["model_key"] for r in base["results"]) == ["tests/fast/net.tflite", "tests/slow/net.tflite"]
    for res in base["results"]:  # the fast one was 20% faster before; the slow one unchanged
        res["estimate_ms"] *= 0.8 if "fast" in res["model_key"] else 1.0
    (project.path / "base.json").write_text(json.dumps(base))
    r = project.runpytest("tests", "--latency-baseline", "base.json", "--latency-regression", "10")
    r.assert_outcomes(passed=1, failed=1)
    r.stdout.fnmatch_lines(["tests/fast/test_fast.py:4: net.tflite on pixel4-gpu: *regressed +25.0% from the baseline*",
                            "FAILED tests/fast/test_fast.py::test_fast*"])


def test_a_baseline_matches_a_gpus_name_with_its_profile_and_says_what_it_could_not_match(project):
    budgets(project, "budgets:\n  - {model: models/net.tflite, max_ms: 100, device: pixel4-gpu}\n")
    project.runpytest("--latency-report", "base.json").assert_outcomes(passed=1)
    base = json.loads((project.path / "base.json").read_text())
    base["results"][0]["estimate_ms"] *= 0.8  # 20% faster before
    (project.path / "base.json").write_text(json.dumps(base))
    budgets(project, "budgets:\n  - {model: models/net.tflite, max_ms: 100, device: adreno640}\n"
                     "  - {model: models/other.tflite, max_ms: 100}\n")
    r = project.runpytest("--latency-baseline", "base.json", "--latency-regression", "10")
    r.assert_outcomes(passed=1, failed=1)  # adreno640 is pixel4-gpu's GPU: its regression is caught
    r.stdout.fnmatch_lines(["*--latency-baseline: 1 check(s) had no entry in it*not checked for a regression"])


def test_a_baseline_made_with_another_version_of_a_profile_is_not_read_as_a_regression(project):
    from pytest_tflite_latency.estimator.profile import load_profile

    profile = load_profile("pixel4-gpu").to_dict()
    (project.path / "phone.json").write_text(json.dumps(profile))
    budgets(project, "budgets:\n  - {model: models/net.tflite, max_ms: 100, device: phone.json}\n")
    project.runpytest("--latency-report", "base.json").assert_outcomes(passed=1)
    assert json.loads((project.path / "base.json").read_text())["results"][0]["profile_sha"]
    profile["kernel_scale"] *= 1.5  # recalibrated under the same name: every figure 50% higher
    (project.path / "phone.json").write_text(json.dumps(profile))
    r = project.runpytest("--latency-baseline", "base.json", "--latency-regression", "10")
    r.assert_outcomes(passed=1)
    r.stdout.fnmatch_lines(["*--latency-baseline: 1 check(s) used another version of their profile than the "
                            "baseline did (recalibrated or retrained since): not checked for a regression"])
    assert "REGRESSED" not in r.stdout.str() and "had no entry" not in r.stdout.str()
