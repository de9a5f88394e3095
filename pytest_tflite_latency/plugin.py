"""pytest plugin: latency budgets as tests (registered through the ``pytest11`` entry point).

Kept light at import: the estimator (NumPy, the tflite parser) loads only when a budget is checked,
so a session without budgets pays nothing.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pytest

from pytest_tflite_latency.session import CURRENT_ITEM, RESULTS, SETTINGS, Settings, record_error, run_check

CONVENTIONAL_NAMES = ("latency-budgets.yaml", "latency-budgets.yml")
_COLLECTOR = "tflite-latency-results"


def pytest_addoption(parser: pytest.Parser) -> None:
    g = parser.getgroup("tflite-latency", "TFLite latency budgets (pytest-tflite-latency)")
    g.addoption("--latency-budgets", metavar="PATH",
                help="budget YAML file (default: latency-budgets.yaml files found in the tests)")
    g.addoption("--latency-device", metavar="NAME", help="device for checks that name none (pixel4-gpu)")
    g.addoption("--latency-policy", choices=("estimate", "upper"),
                help="hold the estimate (default) or the interval's upper bound to the budget")
    g.addoption("--latency-margin", type=float, metavar="PCT", help="demand PCT%% of headroom")
    g.addoption("--latency-report", metavar="PATH", help="write a JSON report of every check")
    g.addoption("--latency-html", metavar="PATH",
                help="write an HTML page of every check, with a page per model and regressions' kernel diffs")
    g.addoption("--latency-baseline", metavar="PATH",
                help="a previous --latency-report: fail on estimates that regressed beyond the threshold")
    g.addoption("--latency-regression", type=float, metavar="PCT",
                help="regression threshold against --latency-baseline (default 5%%)")
    g.addoption("--on-device", nargs="?", const="auto", default=None, metavar="SERIAL",
                help="measure on an Android phone over adb; 'required' fails when none is attached")
    g.addoption("--latency-benchmark-binary", metavar="PATH",
                help="TFLite benchmark_model binary to push (default: one already on the phone)")
    parser.addini("latency_budgets", "budget YAML file")
    parser.addini("latency_device", "default device profile")
    parser.addini("latency_policy", "estimate | upper", default="estimate")
    parser.addini("latency_margin", "headroom in percent", default="0")
    parser.addini("latency_regression", "regression threshold in percent", default="5")
    parser.addini("latency_benchmark_binary", "TFLite benchmark_model binary to push")
    parser.addini("latency_report", "JSON report path")


def _opt(config: pytest.Config, option: str, ini: str):
    value = config.getoption(option)
    return value if value is not None else (config.getini(ini) or None)


def _number(config: pytest.Config, option: str, ini: str) -> float:
    value = _opt(config, option, ini)
    try:
        return float(value)
    except (TypeError, ValueError):
        raise pytest.UsageError(f"{ini} must be a number, got {value!r}") from None


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "latency_budget(model, max_ms, device=None, policy=None, "
                                       "margin_pct=None): check the model's latency after the test body")
    budgets = _opt(config, "--latency-budgets", "latency_budgets")
    report = _opt(config, "--latency-report", "latency_report")
    baseline_path = config.getoption("--latency-baseline")
    settings = Settings(
        Path(budgets).resolve() if budgets else None, _opt(config, "--latency-device", "latency_device"),
        _opt(config, "--latency-policy", "latency_policy") or "estimate",
        _number(config, "--latency-margin", "latency_margin"), Path(report) if report else None,
        _load_baseline(Path(baseline_path)) if baseline_path else {},
        _number(config, "--latency-regression", "latency_regression"), config.getoption("--on-device"),
        _opt(config, "--latency-benchmark-binary", "latency_benchmark_binary"),
        html=Path(config.getoption("--latency-html")) if config.getoption("--latency-html") else None)
    if settings.budgets and not settings.budgets.is_file():
        raise pytest.UsageError(f"--latency-budgets: {settings.budgets}: no such file")
    if settings.device:
        _check_device(settings.device)
    config.stash[SETTINGS] = settings
    config.pluginmanager.register(_Collector(settings), _COLLECTOR)


def pytest_unconfigure(config: pytest.Config) -> None:
    collector = config.pluginmanager.get_plugin(_COLLECTOR)
    if collector is not None:
        config.pluginmanager.unregister(collector)


def _check_device(device: str) -> None:
    """An unknown --latency-device is one usage error, not one failure per test."""
    from pytest_tflite_latency.estimator.errors import EstimatorError
    from pytest_tflite_latency.estimator.profile import load_profile

    try:
        load_profile(device)
    except EstimatorError as exc:
        raise pytest.UsageError(f"--latency-device: {exc}") from None


def _load_baseline(path: Path) -> dict[tuple[str, str], dict]:
    """(model, device) → that check's result in a previous report; every estimate finite and positive."""
    try:
        data = json.loads(path.read_text())
        baseline = {(r["model"], r["device"]): r for r in data["results"] if not r.get("error")}
        figures = {key: r["estimate_ms"] for key, r in baseline.items()}
    except (OSError, ValueError, KeyError, TypeError, RecursionError) as exc:
        raise pytest.UsageError(f"--latency-baseline: {path}: not a latency report "
                                f"({type(exc).__name__}: {str(exc)[:80]})") from None
    for (model, device), ms in figures.items():
        if isinstance(ms, bool) or not isinstance(ms, (int, float)) or not (math.isfinite(ms) and ms > 0):
            raise pytest.UsageError(f"--latency-baseline: {path}: {model} on {device} has estimate_ms {ms!r}, "
                                    "not a finite positive time")
    return {key: {**r, "estimate_ms": float(r["estimate_ms"])} for key, r in baseline.items()}


def pytest_sessionstart(session: pytest.Session) -> None:
    settings = session.config.stash[SETTINGS]
    if settings.on_device:
        from pytest_tflite_latency.device import DeviceError, find_device

        try:
            settings.device_serial, settings.device_note = find_device(settings.on_device)
        except DeviceError as exc:
            raise pytest.UsageError(f"--on-device={settings.on_device}: {exc}") from None


def pytest_report_header(config: pytest.Config) -> str | None:
    settings = config.stash.get(SETTINGS, None)
    return f"tflite-latency --on-device: {settings.device_note}" if settings and settings.device_note else None


def pytest_collect_file(file_path: Path, parent: pytest.Collector):
    settings = parent.config.stash[SETTINGS]
    if file_path.name in CONVENTIONAL_NAMES or file_path == settings.budgets:
        return BudgetFile.from_parent(parent, path=file_path)
    return None


@pytest.hookimpl(tryfirst=True)  # before -k / -m deselection, which then applies to these items too
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list) -> None:
    """A run given no paths (pytest's testpaths or its directory) also takes the configured or
    root-level budget file its paths did not reach; a run given paths takes only the budget files
    under them, as it does test files."""
    if config.args_source == pytest.Config.ArgsSource.ARGS:
        return
    settings = config.stash[SETTINGS]
    wanted = [settings.budgets] if settings.budgets else \
        [config.rootpath / n for n in CONVENTIONAL_NAMES if (config.rootpath / n).is_file()]
    seen = {Path(item.path) for item in items if isinstance(item, BudgetItem)}
    for path in wanted:
        if path in seen:
            continue
        from pytest_tflite_latency.budgets import BudgetFileError

        try:
            new = list(BudgetFile.from_parent(session, path=path).collect())
        except BudgetFileError as exc:
            raise pytest.UsageError(str(exc)) from None
        items += new


class BudgetFile(pytest.File):
    """A budget YAML file: one test item per model × device."""

    def collect(self):
        from pytest_tflite_latency.budgets import load_budgets

        settings = self.config.stash[SETTINGS]
        for b in load_budgets(Path(self.path), settings.default_device, settings.policy):
            yield BudgetItem.from_parent(self, name=f"{b.label}[{b.device}]", budget=b)

    def repr_failure(self, excinfo):
        from pytest_tflite_latency.budgets import BudgetFileError

        if isinstance(excinfo.value, BudgetFileError):
            return str(excinfo.value)
        return super().repr_failure(excinfo)


class BudgetItem(pytest.Item):
    def __init__(self, *, budget, **kwargs):
        super().__init__(**kwargs)
        self.budget = budget

    def runtest(self) -> None:
        from pytest_tflite_latency.budgets import BudgetFileError
        from pytest_tflite_latency.estimator.errors import EstimatorError

        b = self.budget
        if b.error:
            record_error(self, b.label, b.device, b.max_ms or None, b.error)  # 0: the entry had none usable
            raise BudgetFileError(Path(self.path), b.line, b.error)
        settings = self.config.stash[SETTINGS]
        margin = b.margin_pct or settings.margin_pct
        try:
            run_check(self, b.model, b.max_ms, b.device, b.policy, margin, b.label)
        except EstimatorError as exc:  # a missing model, a typo in a device name: point at the line
            raise BudgetFileError(Path(self.path), b.line, str(exc)) from None

    def repr_failure(self, excinfo):
        return _short_failure(excinfo) or super().repr_failure(excinfo)

    def reportinfo(self):
        return self.path, self.budget.line - 1, f"latency budget {self.name}"


def _short_failure(excinfo) -> str | None:
    """Expected faults read as one message, without an internal traceback."""
    from pytest_tflite_latency.budgets import BudgetFileError
    from pytest_tflite_latency.check import LatencyBudgetExceeded
    from pytest_tflite_latency.device import DeviceError
    from pytest_tflite_latency.estimator.errors import EstimatorError

    if isinstance(excinfo.value, (LatencyBudgetExceeded, BudgetFileError, EstimatorError, DeviceError)):
        return str(excinfo.value)
    return None


def _raised_by_a_check(excinfo) -> bool:
    return any(entry.frame.code.raw is run_check.__code__ for entry in excinfo.traceback)


def _where(item: pytest.Item, excinfo) -> str:
    """``file:line`` of the test's line that made the check (the test itself for a marker)."""
    entries = [e for e in excinfo.traceback if Path(e.path) == Path(item.path)]
    if not entries:
        return item.nodeid
    return f"{os.path.relpath(entries[-1].path, item.config.rootpath)}:{entries[-1].lineno + 1}"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem):
    token = CURRENT_ITEM.set(item)
    try:
        return (yield)
    finally:
        CURRENT_ITEM.reset(token)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item):
    result = yield
    for mark in item.iter_markers("latency_budget"):
        kwargs = dict(mark.kwargs)
        if mark.args:
            kwargs.update(zip(("model", "max_ms"), mark.args, strict=False))
        if "model" not in kwargs or "max_ms" not in kwargs:
            pytest.fail(f"{item.nodeid}: latency_budget needs model and max_ms", pytrace=False)
        run_check(item, **kwargs)
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """A check's failure reads as a budget file's does; its results ride on the report (to JUnit
    as properties, and from xdist workers to the controller as ``latency_results``)."""
    results = item.stash.get(RESULTS, []) if call.when == "call" else []
    if results:
        item.user_properties += junit_properties(results)
    report = yield
    if results:
        report.latency_results = [r if isinstance(r, dict) else r.to_dict() for r in results]
    excinfo = call.excinfo
    if report.failed and excinfo is not None and not isinstance(item, BudgetItem) \
            and _raised_by_a_check(excinfo):
        message = _short_failure(excinfo)
        if message:
            report.longrepr = f"{_where(item, excinfo)}: {message}"
    return report


def junit_properties(results: list) -> list[tuple[str, object]]:
    """``latency_estimate_ms`` … for a test's one check; with several, each name ends in
    ``[model@device]`` (and ``#n`` when that repeats). A check that could not be made gives its error."""
    props, seen = [], {}
    for r in (r if isinstance(r, dict) else r.to_dict() for r in results):
        tag = ""
        if len(results) > 1:
            key = f"{r['model']}@{r['device']}"
            seen[key] = seen.get(key, 0) + 1
            tag = f"[{key}]" if seen[key] == 1 else f"[{key}#{seen[key]}]"
        props += [(f"latency_{name}{tag}", value) for name, value in _junit_fields(r)]
    return props


def _junit_fields(r: dict) -> list[tuple[str, object]]:
    fields = [("model", r["model"]), ("device", r["device"])]
    if r.get("error"):
        return [*fields, ("budget_ms", r["max_ms"]), ("error", r["error"]), ("passed", False)]
    fields += [("policy", r["policy"]), ("estimate_ms", round(r["estimate_ms"], 4)), ("budget_ms", r["max_ms"]),
               ("interval_ms", f"{r['interval_ms'][0]:.4f}-{r['interval_ms'][1]:.4f}")]
    if r.get("measured_ms") is not None:
        fields.append(("measured_ms", round(r["measured_ms"], 4)))
    return [*fields, ("passed", r["passed"])]


class _Collector:
    """Gathers the session's results from every report (the controller's, under xdist)."""

    def __init__(self, settings: Settings):
        self.settings = settings

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        results = getattr(report, "latency_results", None)
        if results and report.when == "call":
            self.settings.results.extend(results)


@pytest.fixture
def tflite_latency(request: pytest.FixtureRequest):
    """Check budgets and read estimates inside a test: ``tflite_latency("m.tflite", max_ms=15)``."""
    from pytest_tflite_latency.fixture import LatencyFixture

    return LatencyFixture(request.node)


def pytest_terminal_summary(terminalreporter, exitstatus, config: pytest.Config) -> None:
    settings = config.stash.get(SETTINGS, None)
    if settings is None or not settings.results or hasattr(config, "workerinput"):
        return
    from pytest_tflite_latency.summary import markdown_summary, terminal_table

    terminalreporter.write_sep("-", "tflite latency")
    for line in terminal_table(settings.results):
        terminalreporter.write_line(line)
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        from pytest_tflite_latency.summary import markdown_html_link

        with open(summary, "a") as f:
            f.write(markdown_summary(settings.results))
            if settings.html:
                f.write(markdown_html_link(settings.html))
    if settings.html:
        terminalreporter.write_line(f"HTML latency report: {settings.html}")


def pytest_sessionfinish(session: pytest.Session, exitstatus) -> None:
    settings = session.config.stash.get(SETTINGS, None)
    if settings is None or hasattr(session.config, "workerinput"):
        return
    if settings.report is not None:
        from pytest_tflite_latency.summary import write_report

        write_report(settings.report, settings.results)
    if settings.html is not None:
        from pytest_tflite_latency.html_session import write_session_html

        write_session_html(settings.html, settings.results, settings.baseline)
