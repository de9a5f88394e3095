"""pytest plugin: latency budgets as tests (registered through the ``pytest11`` entry point).

Kept light at import: the estimator (NumPy, the tflite parser) loads only when a budget is checked,
so a session without budgets pays nothing.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import pytest

CONVENTIONAL_NAMES = ("latency-budgets.yaml", "latency-budgets.yml")
RESULT_PROPERTY = "latency_result"


@dataclass
class Settings:
    budgets: Path | None
    device: str | None
    policy: str
    margin_pct: float
    report: Path | None
    baseline: dict[tuple[str, str], dict]  # the baseline report's records, estimate_ms a float
    regression_pct: float
    on_device: str | None  # None | "auto" | "required" | a serial
    benchmark_binary: str | None
    device_serial: str | None = None
    device_skip: str = ""
    results: list[dict] = field(default_factory=list)
    html: Path | None = None


SETTINGS = pytest.StashKey[Settings]()


class _State:
    """The item whose test body is running, for `assert_latency` called without a fixture."""

    item: pytest.Item | None = None
    settings: Settings | None = None


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
    config.stash[SETTINGS] = settings
    _State.settings = settings


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
        from pytest_tflite_latency.device import find_device

        settings.device_serial, settings.device_skip = find_device(settings.on_device)
        if settings.device_skip and settings.on_device == "required":
            raise pytest.UsageError(f"--on-device=required: {settings.device_skip}")


def pytest_collect_file(file_path: Path, parent: pytest.Collector):
    settings = parent.config.stash[SETTINGS]
    if file_path.name in CONVENTIONAL_NAMES or file_path == settings.budgets:
        return BudgetFile.from_parent(parent, path=file_path)
    return None


@pytest.hookimpl(tryfirst=True)  # before -k / -m deselection, which then applies to these items too
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list) -> None:
    """Collect the configured or root-level budget file when the test paths did not reach it."""
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
        for b in load_budgets(Path(self.path), settings.device or _default_device(), settings.policy):
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
            _record_error(self, b.label, b.device, b.max_ms or None, b.error)  # 0: the entry had none usable
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


def _default_device() -> str:
    from pytest_tflite_latency.estimator.defaults import DEFAULT_DEVICE

    return DEFAULT_DEVICE


def run_check(item: pytest.Item | None, model, max_ms, device=None, policy=None, margin_pct=None,
              label=None):
    """Estimate (and with --on-device, measure), record in the item's report, raise on a miss."""
    from pytest_tflite_latency.check import LatencyBudgetExceeded

    # outside a pytest session with this plugin: plain defaults, no baseline, no phone
    settings = _State.settings or Settings(None, None, "estimate", 0.0, None, {}, 5.0, None, None)
    device = device or settings.device or _default_device()
    try:
        result = _checked(settings, model, max_ms, device, policy, margin_pct, label)
    except Exception as exc:  # recorded in the report, then failed as usual
        if item is not None:
            _record_error(item, label or str(model), device, max_ms, str(exc))
        raise
    result.test = item.nodeid if item is not None else ""
    if item is not None:
        _record(item, result)
    if not result.passed:
        raise LatencyBudgetExceeded(result)
    return result


def _checked(settings: Settings, model, max_ms, device: str, policy, margin_pct, label):
    """The budget result, with the baseline and, with --on-device, the phone's measurement."""
    from pytest_tflite_latency.check import check_budget

    result = check_budget(model, max_ms, device, policy or settings.policy,
                          settings.margin_pct if margin_pct is None else margin_pct, label)
    baseline = settings.baseline.get((result.model, result.device))
    result.baseline_ms = baseline["estimate_ms"] if baseline else None
    result.regression_limit_pct = settings.regression_pct
    if settings.on_device:
        if settings.device_skip:
            pytest.skip(f"--on-device: {settings.device_skip}")
        from pytest_tflite_latency.device import measure

        result.measured_ms = measure(Path(model), settings.device_serial, settings.benchmark_binary)
    return result


def _record_error(item: pytest.Item, model: str, device: str, max_ms, error: str) -> None:
    """A check that could not be made still appears in the report, failed, with its error."""
    entry = {"model": model, "device": device, "max_ms": max_ms if isinstance(max_ms, (int, float)) else None,
             "error": error, "passed": False, "test": item.nodeid}
    item.user_properties.append((RESULT_PROPERTY, json.dumps(entry, default=str)))


def _record(item: pytest.Item, result) -> None:
    """Results travel in user_properties: to JUnit XML, and from xdist workers to the controller."""
    item.user_properties += [
        ("latency_model", result.model), ("latency_device", result.device),
        ("latency_estimate_ms", round(result.estimate_ms, 4)), ("latency_budget_ms", result.max_ms),
        ("latency_interval_ms", f"{result.interval_ms[0]:.4f}-{result.interval_ms[1]:.4f}"),
    ]
    if result.measured_ms is not None:
        item.user_properties.append(("latency_measured_ms", round(result.measured_ms, 4)))
    item.user_properties.append((RESULT_PROPERTY, json.dumps(result.to_dict())))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item):
    _State.item = item
    try:
        result = yield
    finally:
        _State.item = None
    for mark in item.iter_markers("latency_budget"):
        kwargs = dict(mark.kwargs)
        if mark.args:
            kwargs.update(zip(("model", "max_ms"), mark.args, strict=False))
        if "model" not in kwargs or "max_ms" not in kwargs:
            raise pytest.UsageError(f"{item.nodeid}: latency_budget needs model and max_ms")
        _State.item = item
        try:
            run_check(item, **kwargs)
        finally:
            _State.item = None
    return result


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    settings = _State.settings
    if settings is None or report.when != "call":  # properties ride on every phase's report
        return
    for key, value in report.user_properties:
        if key == RESULT_PROPERTY:
            settings.results.append(json.loads(value))


@pytest.fixture
def tflite_latency(request: pytest.FixtureRequest):
    """Check budgets and read estimates inside a test: ``tflite_latency("m.tflite", max_ms=15)``."""
    from pytest_tflite_latency.fixture import LatencyFixture

    return LatencyFixture(request.node)


def pytest_terminal_summary(terminalreporter, exitstatus, config: pytest.Config) -> None:
    settings = config.stash.get(SETTINGS, None)
    if settings is None or not settings.results or hasattr(config, "workerinput"):
        return
    from pytest_tflite_latency.summary import markdown_table, terminal_table

    terminalreporter.write_sep("-", "tflite latency")
    for line in terminal_table(settings.results):
        terminalreporter.write_line(line)
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        from pytest_tflite_latency.summary import markdown_html_link

        with open(summary, "a") as f:
            f.write(markdown_table(settings.results))
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
