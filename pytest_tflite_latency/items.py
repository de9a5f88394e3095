"""Collection: a budget YAML file is a `BudgetFile`, each model × device in it a `BudgetItem`. And the one
way a failed check is shown: its message as the long text, its verdict in pytest's short test summary."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from _pytest._code.code import ExceptionChainRepr, ReprEntryNative, ReprFileLocation, ReprTraceback

from pytest_tflite_latency.session import RECORDS, SESSION

CONVENTIONAL_NAMES = ("latency-budgets.yaml", "latency-budgets.yml")


class BudgetFile(pytest.File):
    """A budget YAML file: one test item per model × device."""

    def collect(self):
        from pytest_tflite_latency.budgets import load_budgets

        session = self.config.stash[SESSION]
        for b in load_budgets(Path(self.path), session.default_device, session.options.policy):
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
        try:
            self._check()
        finally:  # every record of the item, the entry's error too, names the entry
            for record in self.stash.get(RECORDS, []):
                record.budget_file = f"{self.path}:{self.budget.line}"

    def _check(self) -> None:
        from pytest_tflite_latency.budgets import BudgetFileError
        from pytest_tflite_latency.estimator.errors import EstimatorError

        b = self.budget
        session = self.config.stash[SESSION]
        if b.error:
            session.record_error(self, b.label, b.device, b.max_ms or None, b.error)  # 0: the entry had none
            raise BudgetFileError(self._shown_path(), b.line, b.error)
        try:
            session.check(self, b.model, b.max_ms, b.device, b.policy, b.margin_pct or session.options.margin_pct,
                          b.label, b.precision)
        except EstimatorError as exc:  # a missing model, a typo in a device name: point at the line
            raise BudgetFileError(self._shown_path(), b.line, str(exc)) from None

    def _shown_path(self) -> Path:
        """The budget file as the user knows it: relative to the root directory when it is under it."""
        try:
            return Path(self.path).relative_to(self.config.rootpath)
        except ValueError:
            return Path(self.path)

    def repr_failure(self, excinfo):
        return short_failure(self, excinfo, with_location=False) or super().repr_failure(excinfo)

    def reportinfo(self):
        return self.path, self.budget.line - 1, f"latency budget {self.name}"


def budget_files_not_collected(session: pytest.Session, config: pytest.Config, items: list) -> list:
    """A run given no paths (pytest's testpaths or its directory) also takes the configured or root-level
    budget file its paths did not reach; a run given paths takes only the budget files under them."""
    if config.args_source == pytest.Config.ArgsSource.ARGS:
        return []
    latency = config.stash[SESSION]
    wanted = [latency.options.budgets.resolve()] if latency.options.budgets else \
        [config.rootpath / n for n in CONVENTIONAL_NAMES if (config.rootpath / n).is_file()]
    seen = {Path(item.path) for item in items if isinstance(item, BudgetItem)}
    new = []
    for path in wanted:
        if path in seen:
            continue
        from pytest_tflite_latency.budgets import BudgetFileError

        try:
            new += list(BudgetFile.from_parent(session, path=path).collect())
        except BudgetFileError as exc:
            raise pytest.UsageError(str(exc)) from None
    return new


def _expected_fault(exc: BaseException) -> bool:
    from pytest_tflite_latency.budgets import BudgetFileError
    from pytest_tflite_latency.check import LatencyBudgetExceeded
    from pytest_tflite_latency.device import DeviceError
    from pytest_tflite_latency.estimator.errors import EstimatorError

    return isinstance(exc, (LatencyBudgetExceeded, BudgetFileError, EstimatorError, DeviceError))


def raised_by_a_check(excinfo) -> bool:
    """Whether the plugin raised it: a check (`assert_latency`, the fixture, the marker) or the fixture's
    ``.estimate`` (a model of the other precision than a CPU device times, a missing file)."""
    from pytest_tflite_latency.fixture import LatencyFixture
    from pytest_tflite_latency.session import LatencySession

    ours = (LatencySession.check.__code__, LatencyFixture.estimate.__code__)
    return any(entry.frame.code.raw in ours for entry in excinfo.traceback)


def _where(item: pytest.Item, excinfo) -> str:
    """``file:line`` of the test's line that made the check (the test itself for a marker)."""
    entries = [e for e in excinfo.traceback if Path(e.path) == Path(item.path)]
    if not entries:
        return item.nodeid
    return f"{os.path.relpath(entries[-1].path, item.config.rootpath)}:{entries[-1].lineno + 1}"


def short_failure(item: pytest.Item, excinfo, with_location: bool = True):
    """An expected fault as its message without an internal traceback, and its verdict as the line pytest's
    short test summary shows (``FAILED id - model on device: 20.5 ms > 5 ms budget (+310%)``); None for
    anything else. Built of pytest's own report parts, so it travels from xdist workers unchanged."""
    from pytest_tflite_latency.check import LatencyBudgetExceeded

    exc = excinfo.value
    if not _expected_fault(exc):
        return None
    text = str(exc)
    headline = exc.result.headline() if isinstance(exc, LatencyBudgetExceeded) else text.splitlines()[0]
    if with_location:
        text = f"{_where(item, excinfo)}: {text}"
    path, line = (str(item.path), item.budget.line) if isinstance(item, BudgetItem) else (str(item.path), 0)
    traceback = ReprTraceback([ReprEntryNative([text + "\n"])], None, "native")
    return ExceptionChainRepr([(traceback, ReprFileLocation(path, line, headline), None)])
