"""The pytest plugin, run on example projects with pytester."""

from __future__ import annotations

import contextvars
import json
import re
import subprocess
import sys

import pytest

from pytest_tflite_latency.estimator import DEFAULT_DEVICE
from pytest_tflite_latency.estimator.pipeline import estimate

pytest_plugins = ["pytester"]


@pytest.fixture
def project(pytester: pytest.Pytester, nb201_path, resnet18_path):
    """An example project with a small and a large model (links to files written once a session)."""
    (pytester.path / "models").mkdir()
    (pytester.path / "models" / "net.tflite").symlink_to(nb201_path)
    (pytester.path / "models" / "big.tflite").symlink_to(resnet18_path)
    return pytester


def budgets(pytester, text: str) -> None:
    (pytester.path / "latency-budgets.yaml").write_text(text)


def test_smallest_budget_file_passes_and_fails(project):
    budgets(project, "budgets:\n  - model: models/net.tflite\n    device: adreno640\n    max_ms: 15\n"
                     "  - model: models/big.tflite\n    device: adreno640\n    max_ms: 15\n")
    r = project.runpytest("-p", "no:cacheprovider")
    r.assert_outcomes(passed=1, failed=1)
    r.stdout.fnmatch_lines(["*models/big.tflite on adreno640: estimated * exceeds the 15.00 ms budget by *",
                            "*costliest kernels:*", "*#* CONV_2D*"])
    r.stdout.fnmatch_lines(["*tflite latency*", "*model*device*estimate*budget*",
                            "*models/net.tflite*adreno640*ok*", "*models/big.tflite*OVER*"])
    assert "Traceback" not in r.stdout.str()


def test_k_selects_budget_items_and_globs_expand(project):
    budgets(project, "defaults:\n  device: nnmeter-adreno630\nbudgets:\n  - model: 'models/*.tflite'\n"
                     "    devices: [adreno640, nnmeter-adreno630]\n    max_ms: 1000\n")
    r = project.runpytest("-k", "net", "-v")
    r.assert_outcomes(passed=2)
    r.stdout.fnmatch_lines(["*models/net.tflite?adreno640? PASSED*", "*models/net.tflite?nnmeter-adreno630? PASSED*"])


def test_assert_latency_fixture_and_marker(project):
    project.makepyfile(test_models="""
        import pytest
        from pytest_tflite_latency import assert_latency

        def test_function():
            result = assert_latency("models/net.tflite", max_ms=50)
            assert result.passed and result.estimate_ms > 0

        def test_fixture(tflite_latency):
            assert tflite_latency.estimate("models/net.tflite").total_ms > 0
            tflite_latency("models/big.tflite", max_ms=1)

        @pytest.mark.latency_budget(model="models/net.tflite", max_ms=0.01, device="nnmeter-adreno630")
        def test_marker():
            pass

        def test_upper_policy():
            r = assert_latency("models/net.tflite", max_ms=1000, policy="upper")
            assert r.compared_ms == r.interval_ms[1]
    """)
    r = project.runpytest()
    r.assert_outcomes(passed=2, failed=2)
    r.stdout.fnmatch_lines(["*models/big.tflite on pixel4-gpu*exceeds the 1.00 ms budget*",
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
    ("defualts: {}\nbudgets: []\n", "latency-budgets.yaml:1: unknown top-level key 'defualts'"),
    ("budget:\n  - model: m.tflite\n    max_ms: 5\n", "latency-budgets.yaml:1: unknown top-level key 'budget'"),
    ("defaults: {polcy: upper}\nbudgets: []\n", "latency-budgets.yaml:1: unknown key in 'defaults' 'polcy'"),
    ("budgets: " + "[" * 5000 + "]" * 5000, "latency-budgets.yaml"),
])
def test_unusable_budget_file_is_a_collection_error(project, text, message):
    budgets(project, text)
    r = project.runpytest()
    assert r.ret != 0
    r.stdout.fnmatch_lines([f"*{message}*"])
    assert "Traceback" not in r.stdout.str()


@pytest.mark.parametrize("entry,message", [
    ("  - model: models/net.tflite\n    max_ms: -3\n", ":3: max_ms must be a finite positive number"),
    ("  - model: models/net.tflite\n    max_ms: fast\n", ":3: max_ms must be a finite positive number"),
    ("  - model: models/net.tflite\n    max_ms: .inf\n", ":3: max_ms must be a finite positive number"),
    ("  - model: models/net.tflite\n    max_ms: 1e400\n", ":3: max_ms must be a finite positive number"),
    ("  - model: models/net.tflite\n    max_ms: .nan\n", ":3: max_ms must be a finite positive number"),
    ("  - model: models/net.tflite\n    max_ms: " + "9" * 400 + "\n", ":3: max_ms must be a finite positive"),
    ("  - model: models/missing.tflite\n    max_ms: 5\n", ":3: model 'models/missing.tflite' matches no file"),
    ("  - max_ms: 5\n", ":3: budget #2 has no 'model'"),
    ("  - model: 'models/*.onnx'\n    max_ms: 5\n", ":3: model 'models/*.onnx' matches no file"),
    ("  - model: models/net.tflite\n    max_ms: 5\n    device: pixel99\n", ":3: unknown device 'pixel99'"),
])
def test_bad_entry_fails_its_own_item_with_file_and_line(project, entry, message):
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


def test_report_records_checks_that_errored_and_counts_match(project):
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
    r.stdout.fnmatch_lines(["*models/net.tflite*pixel99*ERROR*"])


@pytest.mark.parametrize("figure,message", [
    (float("nan"), "has estimate_ms nan, not a finite positive time"),
    (-4.0, "has estimate_ms -4.0, not a finite positive time"),
    ("deep", "not a latency report (RecursionError"),
])
def test_unusable_baseline_is_a_usage_error(project, figure, message):
    budgets(project, "budgets:\n  - model: models/net.tflite\n    max_ms: 100\n")
    results = [{"model": "models/net.tflite", "device": "pixel4-gpu", "estimate_ms": figure}]
    text = json.dumps({"results": results}) if figure != "deep" else '{"results": ' + "[" * 100000 + "]" * 100000 + "}"
    (project.path / "base.json").write_text(text)
    r = project.runpytest("--latency-baseline", "base.json")
    assert r.ret == pytest.ExitCode.USAGE_ERROR
    r.stderr.fnmatch_lines([f"*--latency-baseline: *base.json*{message}*"])


def test_json_report_junit_properties_and_github_summary(project, monkeypatch):
    budgets(project, "budgets:\n  - model: models/net.tflite\n    max_ms: 15\n")
    summary = project.path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    r = project.runpytest("--latency-report", "out/report.json", "--junitxml", "junit.xml")
    r.assert_outcomes(passed=1)
    report = json.loads((project.path / "out" / "report.json").read_text())
    (res,) = report["results"]
    assert res["model"] == "models/net.tflite" and res["device"] == "pixel4-gpu" and res["passed"]
    assert res["interval_ms"][0] < res["estimate_ms"] < res["interval_ms"][1]
    junit = (project.path / "junit.xml").read_text()
    assert 'name="latency_estimate_ms"' in junit and 'name="latency_budget_ms" value="15.0"' in junit
    assert "| models/net.tflite | pixel4-gpu |" in summary.read_text()


def test_baseline_regression_fails_even_under_budget(project):
    budgets(project, "budgets:\n  - model: models/net.tflite\n    max_ms: 100\n")
    project.runpytest("--latency-report", "base.json").assert_outcomes(passed=1)
    base = json.loads((project.path / "base.json").read_text())
    base["results"][0]["estimate_ms"] *= 0.8  # pretend the model used to be 20% faster
    (project.path / "base.json").write_text(json.dumps(base))
    r = project.runpytest("--latency-baseline", "base.json", "--latency-regression", "10")
    r.assert_outcomes(failed=1)
    r.stdout.fnmatch_lines(["*regressed +25.0% from the baseline*threshold 10%*"])


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


def test_latency_html_lists_every_check_and_links_each_model_page(project, monkeypatch):
    budgets(project, "budgets:\n  - model: models/net.tflite\n    max_ms: 15\n"
                     "  - model: models/big.tflite\n    max_ms: 15\n")
    summary = project.path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    project.runpytest("--latency-html", "out/latency.html").assert_outcomes(passed=1, failed=1)
    page = (project.path / "out" / "latency.html").read_text()
    verdicts = re.findall(r'<a href="([^"]+)">(models/\w+\.tflite)</a>.*?<td class="verdict">(\w+)</td>', page)
    assert [(model, verdict) for _, model, verdict in verdicts] == [("models/big.tflite", "OVER"),
                                                                    ("models/net.tflite", "ok")]
    for href, model, _ in verdicts:
        total = estimate(project.path / model).total_ms
        assert f'id="total">{total:.3f} ms<' in (project.path / "out" / href).read_text()
    assert "HTML latency report: `out/latency.html`" in summary.read_text()
    first = page
    project.runpytest("--latency-html", "out/latency.html")
    assert (project.path / "out" / "latency.html").read_text() == first  # same results, same page


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
    del record["layers"]  # a report from before kernels were recorded: totals only
    (project.path / "base.json").write_text(json.dumps(base))
    project.runpytest("--latency-baseline", "base.json", "--latency-html", "r.html")
    assert "has no kernel figures" in (project.path / "r.html").read_text()


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


def test_on_device_without_a_phone_still_holds_the_estimate_to_the_budget(project, no_adb_server):
    budgets(project, "budgets:\n  - model: models/net.tflite\n    max_ms: 15\n"
                     "  - model: models/big.tflite\n    max_ms: 15\n")
    r = project.runpytest("--on-device")
    r.assert_outcomes(passed=1, failed=1)
    r.stdout.fnmatch_lines(["*--on-device: adb server not reachable*budgets hold the estimates only*"])
    r.stdout.fnmatch_lines([f"*models/big.tflite on {DEFAULT_DEVICE}: estimated * exceeds the 15.00 ms budget*"])


def test_on_device_required_without_a_phone_is_one_usage_error(project, no_adb_server):
    budgets(project, "budgets:\n  - model: models/net.tflite\n    max_ms: 15\n")
    r = project.runpytest("--on-device=required")
    assert r.ret == pytest.ExitCode.USAGE_ERROR
    r.stderr.fnmatch_lines(["*--on-device=required: adb server not reachable*"])


def test_on_device_serial_that_is_not_attached_is_a_usage_error(project, phone_factory):
    phone = phone_factory()
    budgets(project, "budgets:\n  - model: models/net.tflite\n    max_ms: 15\n")
    r = project.runpytest("--on-device=emulator-5554")
    assert r.ret == pytest.ExitCode.USAGE_ERROR
    r.stderr.fnmatch_lines([f"*device 'emulator-5554' is not attached (adb devices: {phone.serial})*"])


def test_on_device_with_several_phones_says_which_one_it_uses(project, phone_factory, benchmark_binary):
    first, second = phone_factory(), phone_factory()
    budgets(project, "budgets:\n  - model: models/net.tflite\n    max_ms: 1000\n")
    r = project.runpytest("--on-device", "--latency-benchmark-binary", str(benchmark_binary))
    r.assert_outcomes(passed=1)
    r.stdout.fnmatch_lines(["*--on-device: measuring on 127.0.0.1:*, the first of 2 attached*"
                            "name one with --on-device=SERIAL*"])
    assert first.benchmarks + second.benchmarks == 1


def test_missing_benchmark_binary_hint_names_the_plugin_option(project, phone_factory):
    phone_factory()
    budgets(project, "budgets:\n  - model: models/net.tflite\n    max_ms: 1000\n")
    r = project.runpytest("--on-device")
    r.assert_outcomes(failed=1)
    r.stdout.fnmatch_lines(["*no benchmark_model at /data/local/tmp/benchmark_model; "
                            "pass --latency-benchmark-binary*"])


def test_on_device_measures_beside_the_estimate(project, phone_factory, benchmark_binary):
    phone = phone_factory()
    budgets(project, "budgets:\n  - model: models/net.tflite\n    max_ms: 1000\n")
    r = project.runpytest("--on-device", phone.serial, "--latency-benchmark-binary", str(benchmark_binary),
                          "--latency-report", "r.json")
    r.assert_outcomes(passed=1)
    (res,) = json.loads((project.path / "r.json").read_text())["results"]
    assert res["measured_ms"] > 0 and res["compared_ms"] == res["measured_ms"]
    r.stdout.fnmatch_lines(["*models/net.tflite*pixel4-gpu*ms*ms*ok*"])
    assert phone.benchmarks == 1 and not any(phone.path("/data/local/tmp").iterdir())


def test_on_device_measurement_over_budget_fails(project, phone_factory, benchmark_binary):
    phone = phone_factory()
    budgets(project, "budgets:\n  - model: models/big.tflite\n    max_ms: 0.001\n")
    r = project.runpytest("--on-device=required", "--latency-benchmark-binary", str(benchmark_binary))
    r.assert_outcomes(failed=1)
    r.stdout.fnmatch_lines(["*measured * ms on the phone (estimated * ms) exceeds the 0.00 ms budget*"])
    assert phone.benchmarks == 1


def test_phone_crash_fails_the_item_with_one_line(project, phone_factory, benchmark_binary):
    phone_factory("crash")
    budgets(project, "budgets:\n  - model: models/net.tflite\n    max_ms: 1000\n")
    r = project.runpytest("--on-device", "--latency-benchmark-binary", str(benchmark_binary),
                          "--latency-report", "r.json")
    r.assert_outcomes(failed=1)
    r.stdout.fnmatch_lines(["*benchmark_model exited with 139*Segmentation fault*"])
    assert "Traceback" not in r.stdout.str()
    (res,) = json.loads((project.path / "r.json").read_text())["results"]
    assert "exited with 139" in res["error"] and not res["passed"]


def test_on_device_under_xdist_workers_keep_their_own_files(project, phone_factory, benchmark_binary):
    pytest.importorskip("xdist")
    phone = phone_factory()
    budgets(project, "budgets:\n  - model: 'models/*.tflite'\n    devices: [adreno640, nnmeter-adreno630]\n"
                     "    max_ms: 100000\n")
    r = project.runpytest("-n", "2", "--on-device", phone.serial, "--latency-benchmark-binary",
                          str(benchmark_binary), "--latency-report", "r.json")
    r.assert_outcomes(passed=4)
    results = json.loads((project.path / "r.json").read_text())["results"]
    assert all(res["measured_ms"] > 0 for res in results)
    assert phone.benchmarks == 4 and not any(phone.path("/data/local/tmp").iterdir())


def test_failing_checks_in_python_tests_print_the_budget_message_not_plugin_source(project):
    project.makepyfile(test_models="""
        import pytest
        from pytest_tflite_latency import assert_latency

        def test_function():
            assert_latency("models/big.tflite", max_ms=1)

        def test_fixture(tflite_latency):
            tflite_latency("models/big.tflite", max_ms=2)

        @pytest.mark.latency_budget(model="models/big.tflite", max_ms=3)
        def test_marker():
            pass

        def test_missing_model():
            assert_latency("models/missing.tflite", max_ms=5)
    """)
    r = project.runpytest()
    r.assert_outcomes(failed=4)
    r.stdout.fnmatch_lines([
        f"test_models.py:5: models/big.tflite on {DEFAULT_DEVICE}: estimated * exceeds the 1.00 ms budget*",
        f"test_models.py:8: models/big.tflite on {DEFAULT_DEVICE}: estimated * exceeds the 2.00 ms budget*",
        f"test_models.py::test_marker: models/big.tflite on {DEFAULT_DEVICE}: estimated * exceeds the 3.00 ms budget*",
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
        ("models/big.tflite", 1000.0), ("models/net.tflite", 500.0)]


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
        ("models/big.tflite", 1000.0), ("models/net.tflite", 500.0)]
    assert [x["model"] for x in results if x.get("error")] == ["models/net.tflite@line6"]
    ids = [ln.split(" ")[0] for ln in r.stdout.lines if "latency-budgets.yaml::" in ln and "PASSED" in ln]
    assert len(ids) == len(set(ids)) == 2


def test_junit_names_are_unique_and_summary_names_policy_and_test(project):
    project.makepyfile(test_two="""
        from pytest_tflite_latency import assert_latency

        def test_two_models():
            assert_latency("models/net.tflite", max_ms=1000)
            assert_latency("models/big.tflite", max_ms=1000, policy="upper")
    """)
    r = project.runpytest("--junitxml", "junit.xml")
    r.assert_outcomes(passed=1)
    names = re.findall(r'<property name="([^"]+)"', (project.path / "junit.xml").read_text())
    assert len(names) == len(set(names))
    assert f"latency_estimate_ms[models/net.tflite@{DEFAULT_DEVICE}]" in names
    assert f"latency_policy[models/big.tflite@{DEFAULT_DEVICE}]" in names
    r.stdout.fnmatch_lines([f"*models/net.tflite*{DEFAULT_DEVICE}*estimate*ok*test_two.py::test_two_models*",
                            f"*models/big.tflite*{DEFAULT_DEVICE}*upper*ok*test_two.py::test_two_models*"])


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
