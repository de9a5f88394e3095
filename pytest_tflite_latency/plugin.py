"""pytest plugin: latency budgets as tests (registered through the ``pytest11`` entry point).

Hooks only: each forwards to the session's `LatencySession` (built once in `pytest_configure`, kept on
``config.stash``), to the collection items, or to the options module. Kept light at import: the
estimator (NumPy, the tflite parser) loads only when a budget is checked.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_tflite_latency.items import (
    CONVENTIONAL_NAMES,
    BudgetFile,
    BudgetItem,
    budget_files_not_collected,
    raised_by_a_check,
    short_failure,
)
from pytest_tflite_latency.options import LatencyOptions, add_options
from pytest_tflite_latency.session import CURRENT_ITEM, RECORDS, SESSION, LatencySession, test_device

_COLLECTOR = "tflite-latency-results"


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    from pytest_tflite_latency import hooks

    pluginmanager.add_hookspecs(hooks)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "latency_budget(model, max_ms, device=None, policy=None, "
                                       "margin_pct=None): check the model's latency after the test body")
    session = LatencySession(LatencyOptions.from_config(config), config)
    budgets = session.options.budgets
    if budgets is not None and not _exists(budgets):  # what it holds is read (and checked) on collection
        raise pytest.UsageError(f"--latency-budgets: {budgets}: no such file")
    session.check_device_names()
    session.load_baseline()
    config.stash[SESSION] = session
    config.pluginmanager.register(_Collector(session), _COLLECTOR)


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except (OSError, ValueError):  # a name too long for the file system: no such file
        return False


def pytest_unconfigure(config: pytest.Config) -> None:
    collector = config.pluginmanager.get_plugin(_COLLECTOR)
    if collector is not None:
        config.pluginmanager.unregister(collector)
    session = config.stash.get(SESSION, None)
    if session is not None:
        session.stop()


@pytest.hookimpl(tryfirst=True)  # before xdist starts its workers, so they find the server this one started
def pytest_sessionstart(session: pytest.Session) -> None:
    latency = session.config.stash[SESSION]
    latency.find_phone()
    if latency.is_worker:
        latency.started_adb_server = False  # the controller stops it


def pytest_report_header(config: pytest.Config) -> list[str] | None:
    session = config.stash.get(SESSION, None)
    return list(session.notices) if session and session.notices else None


def pytest_collect_file(file_path: Path, parent: pytest.Collector):
    budgets = parent.config.stash[SESSION].options.budgets
    if file_path.name in CONVENTIONAL_NAMES or (budgets is not None and file_path == budgets.resolve()):
        return BudgetFile.from_parent(parent, path=file_path)
    return None


@pytest.hookimpl(tryfirst=True)  # before -k / -m deselection, which then applies to these items too
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list) -> None:
    items += budget_files_not_collected(session, config, items)


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
        if "device" in kwargs:
            kwargs["device"] = test_device(item, kwargs["device"])
        item.config.stash[SESSION].check(item, **kwargs)
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """A check's failure reads as its message with its verdict in the short summary; its records ride on
    the report (to JUnit as properties, and from xdist workers to the controller as ``latency_results``)."""
    from pytest_tflite_latency.junit import junit_properties

    records = item.stash.get(RECORDS, []) if call.when == "call" else []
    if records:
        item.user_properties += junit_properties(records)
    report = yield
    if records:
        report.latency_results = [r.to_dict() for r in records]
    excinfo = call.excinfo
    if report.failed and excinfo is not None and not isinstance(item, BudgetItem) and raised_by_a_check(excinfo):
        longrepr = short_failure(item, excinfo)
        if longrepr is not None:
            report.longrepr = longrepr
    return report


class _Collector:
    """Gathers the session's records from every report (the controller's, under xdist)."""

    def __init__(self, session: LatencySession):
        self.session = session

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        results = getattr(report, "latency_results", None)
        if results and report.when == "call":
            self.session.collect(results)


@pytest.fixture
def tflite_latency(request: pytest.FixtureRequest):
    """Check budgets and read estimates inside a test: ``tflite_latency("m.tflite", max_ms=15)``."""
    from pytest_tflite_latency.fixture import LatencyFixture

    return LatencyFixture(request.node, request.config.stash.get(SESSION, None) or LatencySession())


def pytest_terminal_summary(terminalreporter, exitstatus, config: pytest.Config) -> None:
    session = config.stash.get(SESSION, None)
    if session is not None and not session.is_worker:
        session.terminal_summary(terminalreporter)


def pytest_sessionfinish(session: pytest.Session, exitstatus) -> None:
    latency = session.config.stash.get(SESSION, None)
    if latency is not None and not latency.is_worker and not latency.finish() \
            and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.USAGE_ERROR  # a file asked for is missing: the run did not do its job
