"""`LatencySession`: what a pytest session knows about latency, built once in ``pytest_configure`` from the
options (kept on ``config.stash``). It owns the baseline, the phone, one `CheckRecord` per check, and the
writers of every output (JSON report, measurements, HTML, JUnit properties, terminal and GitHub summaries).

Kept light at import: the estimator loads on the first check.
"""

from __future__ import annotations

import os
from contextvars import ContextVar
from pathlib import Path

import pytest

from pytest_tflite_latency.baseline import baseline_entry, same_profile
from pytest_tflite_latency.estimator.defaults import DEFAULT_DEVICE
from pytest_tflite_latency.options import LatencyOptions
from pytest_tflite_latency.records import CheckRecord

SESSION = pytest.StashKey["LatencySession"]()
RECORDS = pytest.StashKey[list]()  # an item's CheckRecords, in check order
# The item whose test is running, for `assert_latency` called without the fixture; set and reset around
# each test by the plugin, so a nested or finished session leaves the outer value as it was.
CURRENT_ITEM: ContextVar[pytest.Item | None] = ContextVar("tflite_latency_item", default=None)


class LatencySession:
    """One pytest session's latency checks; ``LatencySession()`` is the defaults outside a session."""

    def __init__(self, options: LatencyOptions | None = None, config: pytest.Config | None = None):
        self.options = options or LatencyOptions()
        self.config = config
        self.baseline: dict[tuple[str, str], CheckRecord] = {}
        self.notices: list[str] = []  # said once in the header (and with -q, in the summary)
        self.device_serial: str | None = None  # the phone --on-device measures on; None: estimates only
        self.started_adb_server = False
        self.records: list[CheckRecord] = []  # every check of the session (the controller's, under xdist)
        self._pages: set[str] = set()  # model pages this process wrote
        self.output_errors: list[str] = []  # files that could not be written

    # -- setup ----------------------------------------------------------------------------------------
    @property
    def default_device(self) -> str:
        return self.options.device or DEFAULT_DEVICE

    @property
    def is_worker(self) -> bool:
        return self.config is not None and hasattr(self.config, "workerinput")

    def load_baseline(self) -> None:
        """Read ``--latency-baseline``; a missing file is a usage error unless --latency-baseline-missing=skip."""
        from pytest_tflite_latency.baseline import BaselineMissing, load_baseline
        from pytest_tflite_latency.estimator.inputs import InputError

        path = self.options.baseline
        if path is None:
            return
        try:
            self.baseline = load_baseline(path)
        except BaselineMissing as exc:
            if self.options.baseline_missing != "skip":
                raise pytest.UsageError(f"{exc} (a first run has none: --latency-baseline-missing=skip "
                                        "checks budgets only)") from None
            self.notices.append(f"{exc}: no regression checks this run (--latency-baseline-missing=skip)")
        except InputError as exc:
            raise pytest.UsageError(str(exc)) from None

    def check_device_names(self) -> None:
        """An unknown --latency-device is one usage error, not one failure per test."""
        if not self.options.device:
            return
        from pytest_tflite_latency.check import profile_for
        from pytest_tflite_latency.estimator.errors import EstimatorError

        try:
            profile_for(self.options.device, self.options.profiles)
        except EstimatorError as exc:
            raise pytest.UsageError(f"{self.options.device_where}: {exc}") from None

    def find_phone(self) -> None:
        """With --on-device: the phone to measure on (or why there is none); `pytest.UsageError` when the
        phone asked for cannot be used."""
        from pytest_tflite_latency.device import DeviceError, find_device

        wanted = self.options.on_device
        if not wanted:
            return
        flag = {"auto": "--on-device", "required": "--on-device-required"}.get(wanted, f"--device-serial {wanted}")
        try:
            found = find_device(wanted)
        except DeviceError as exc:
            raise pytest.UsageError(f"{flag}: {exc}") from None
        self.device_serial, self.started_adb_server = found.serial, found.started_server
        self.notices.append(f"tflite-latency --on-device: {found.note}")

    def stop(self) -> None:
        """Stop what the session started (the adb server)."""
        if self.started_adb_server:
            from pytest_tflite_latency.adb import kill_server

            kill_server()
            self.started_adb_server = False

    # -- checks ---------------------------------------------------------------------------------------
    def check(self, item: pytest.Item | None, model, max_ms, device=None, policy=None, margin_pct=None,
              label=None, precision=None) -> CheckRecord:
        """Estimate (and with --on-device, measure) ``model``; record the outcome on ``item`` (a check that
        cannot be made too, with its error); raise `LatencyBudgetExceeded` on a miss."""
        from pytest_tflite_latency.check import LatencyBudgetExceeded

        device = device or self.default_device
        label = label or str(model)
        try:
            record = self._checked(item, model, max_ms, device, policy, margin_pct, label, precision)
        except Exception as exc:  # recorded in the report, then failed as usual
            if item is not None:
                self.record_error(item, label, device, max_ms, str(exc))
            raise
        if item is not None:
            item.stash.setdefault(RECORDS, []).append(record)
        if not record.passed:
            raise LatencyBudgetExceeded(record)
        return record

    def _checked(self, item, model, max_ms, device: str, policy, margin_pct, label: str,
                 precision: str | None) -> CheckRecord:
        from pytest_tflite_latency.check import check_budget
        from pytest_tflite_latency.estimator.inputs import InputError

        if not isinstance(model, (str, os.PathLike)):
            raise InputError("model", f"expected a path to a .tflite file, got {str(model)[:40]!r}")
        if not isinstance(device, str):
            raise InputError("device", f"expected a device name or a profile path, got {str(device)[:40]!r}")

        path = model_path(item, model)
        record = check_budget(path, max_ms, device, policy or self.options.policy,
                              self.options.margin_pct if margin_pct is None else margin_pct, label,
                              self.options.profiles, precision)
        record.test = item.nodeid if item is not None else ""
        record.model_key = self._from_rootdir(path)
        old = baseline_entry(self.baseline, record)
        record.baseline_profile_changed = old is not None and not same_profile(old, record)
        record.baseline_ms = old.estimate_ms if old and not record.baseline_profile_changed else None
        record.regression_limit_pct = self.options.regression_pct
        if self.device_serial:
            from pytest_tflite_latency.device import measure

            record.measurement = measure(path, self.device_serial, self.options.benchmark_binary,
                                         on_cpu=self._times_the_cpu(device))
            record.measured_ms = record.measurement.mean_ms
        if self.options.html is not None:
            from pytest_tflite_latency.html_session import write_model_page

            try:
                record.page = write_model_page(self.options.html, record, path, self._pages, self.options.profiles)
            except OSError:  # the session page says so when it cannot be written either; the check stands
                record.page = ""
        return record

    def _from_rootdir(self, path: Path) -> str:
        """The model file from pytest's rootdir (posix, the same on every machine; links not followed: the
        path is the file's name in the project), else its absolute path."""
        absolute = Path(os.path.abspath(path))
        root = Path(os.path.abspath(self.config.rootpath)) if self.config is not None else None
        return absolute.relative_to(root).as_posix() if root and absolute.is_relative_to(root) else str(absolute)

    def _times_the_cpu(self, device: str) -> bool:
        """Whether ``device`` is a CPU profile (XNNPACK or nn-Meter's CPU): the phone measures its CPU then."""
        from pytest_tflite_latency.check import profile_for

        return profile_for(device, self.options.profiles).backend != "gpu"

    def record_error(self, item: pytest.Item, model: str, device: str, max_ms, error: str) -> None:
        """A check that could not be made still appears in every output, failed, with its error."""
        from pytest_tflite_latency.estimator.inputs import InputError, checked_number

        try:
            budget = checked_number(max_ms, "max_ms", low=0, low_open=True)
        except InputError:
            budget = None  # the budget itself was the problem: the record keeps no unusable figure
        record = CheckRecord(str(model), str(device), budget, error=error, test=item.nodeid)
        item.stash.setdefault(RECORDS, []).append(record)

    def collect(self, records: list[dict]) -> None:
        """Records from a test report (a worker's, under xdist)."""
        self.records += [CheckRecord.from_dict(r) for r in records]

    # -- outputs --------------------------------------------------------------------------------------
    def terminal_summary(self, terminalreporter) -> None:
        from pytest_tflite_latency import summary

        if terminalreporter.config.get_verbosity() < 0:  # -q hides the header: say it here, once
            for notice in self.notices:
                terminalreporter.write_line(notice)
        for error in self.output_errors:
            terminalreporter.write_line(f"tflite-latency: {error}", red=True)
        if not self.records:
            return
        width = max(terminalreporter.config.get_terminal_writer().fullwidth, 40)
        terminalreporter.write_sep("-", "tflite latency")
        for line in summary.terminal_lines(self.records, width, verbose=terminalreporter.config.get_verbosity() > 0,
                                           report=self.options.report):
            terminalreporter.write_line(line)
        changed = sum(r.baseline_profile_changed for r in self.records)
        unmatched = sum(not r.error and r.baseline_ms is None for r in self.records) - changed
        if self.baseline and unmatched:
            terminalreporter.write_line(f"--latency-baseline: {unmatched} check(s) had no entry in it (a new model, a "
                                        "moved file or another device): not checked for a regression")
        if self.baseline and changed:
            terminalreporter.write_line(f"--latency-baseline: {changed} check(s) used another version of their "
                                        "profile than the baseline did (recalibrated or retrained since): not "
                                        "checked for a regression")
        if self.options.html:
            terminalreporter.write_line(f"HTML latency report: {self.options.html}")
        github = os.environ.get("GITHUB_STEP_SUMMARY")
        if github:
            with open(github, "a", encoding="utf-8") as f:
                f.write(summary.markdown_summary(self.records))
                if self.options.html:
                    f.write(summary.markdown_html_link(self.options.html))

    def finish(self) -> bool:
        """Write the session's files (on the controller); False when one could not be written (said in the
        terminal summary)."""
        from pytest_tflite_latency import html_session, json_report

        writers = [("--latency-report", self.options.report,
                    lambda p: json_report.write_report(p, self.records, self.config)),
                   ("--latency-measurements", self.options.measurements if any(r.measurement for r in self.records)
                    else None, lambda p: json_report.write_measurements(p, self.records)),
                   ("--latency-html", self.options.html,
                    lambda p: html_session.write_session_html(p, self.records, self.baseline))]
        for option, path, write in writers:
            if path is None:
                continue
            try:
                write(path)
            except OSError as exc:
                self.output_errors.append(f"{option}: {path}: cannot write: {exc.strerror or exc}")
        return not self.output_errors


def session_of(item: pytest.Item | None) -> LatencySession:
    """The session of ``item``, or the defaults outside a session with this plugin."""
    if item is None:
        return LatencySession()
    return item.config.stash.get(SESSION, None) or LatencySession()


def model_path(item: pytest.Item | None, model: str | os.PathLike) -> Path:
    """A model named in a test: a relative path is relative to the test's file (outside a session:
    to the working directory), as a budget file's paths are relative to the budget file."""
    path = Path(model)
    if item is None or path.is_absolute():
        return path
    return Path(item.path).parent / path


def test_device(item: pytest.Item | None, device):
    """A device named in a test: a profile JSON path is relative to the test's file, as its model is."""
    if item is None or not isinstance(device, str):
        return device
    from pytest_tflite_latency.budgets import profile_relative_to

    return profile_relative_to(Path(item.path).parent, device)


def run_check(item: pytest.Item | None, model, max_ms, device=None, policy=None, margin_pct=None,
              label=None, precision=None) -> CheckRecord:
    """`LatencySession.check` in ``item``'s session (the defaults outside one), for a check a test makes."""
    return session_of(item).check(item, model, max_ms, test_device(item, device), policy, margin_pct, label,
                                  precision)
