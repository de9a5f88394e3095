"""What a pytest session knows about latency: its settings (on ``config.stash``), the item whose test
is running, and the check that `assert_latency`, the fixture, the marker and budget files share.

Kept light at import: the estimator loads on the first check.
"""

from __future__ import annotations

import os
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from pytest_tflite_latency.estimator.defaults import DEFAULT_DEVICE


@dataclass
class Settings:
    """A session's latency options; ``Settings()`` are the defaults outside a session."""

    budgets: Path | None = None
    device: str | None = None
    policy: str = "estimate"
    margin_pct: float = 0.0
    report: Path | None = None
    baseline: dict[tuple[str, str], dict] = field(default_factory=dict)  # a baseline report's records
    regression_pct: float = 5.0
    on_device: str | None = None  # None | "auto" | "required" | a serial
    benchmark_binary: str | None = None
    device_serial: str | None = None  # the phone --on-device measures on; None: estimates only
    device_note: str = ""  # which phone, or why there is none, for the report header
    results: list[dict] = field(default_factory=list)  # every check of the session (controller)
    html: Path | None = None  # --latency-html

    @property
    def default_device(self) -> str:
        return self.device or DEFAULT_DEVICE


SETTINGS = pytest.StashKey[Settings]()
RESULTS = pytest.StashKey[list]()  # an item's BudgetResults (or errored checks' dicts), in check order
# The item whose test is running, for `assert_latency` called without the fixture; set and reset around
# each test by the plugin, so a nested or finished session leaves the outer value as it was.
CURRENT_ITEM: ContextVar[pytest.Item | None] = ContextVar("tflite_latency_item", default=None)


def settings_of(item: pytest.Item | None) -> Settings:
    """The settings of ``item``'s session, or the defaults outside a session with this plugin."""
    if item is None:
        return Settings()
    return item.config.stash.get(SETTINGS, None) or Settings()


def model_path(item: pytest.Item | None, model: str | os.PathLike) -> Path:
    """A model named in a test: a relative path is relative to the test's file (outside a session:
    to the working directory), as a budget file's paths are relative to the budget file."""
    path = Path(model)
    if item is None or path.is_absolute():
        return path
    return Path(item.path).parent / path


def run_check(item: pytest.Item | None, model, max_ms, device=None, policy=None, margin_pct=None,
              label=None):
    """Estimate (and with --on-device, measure) ``model``, record the result on ``item`` (or, when the
    check cannot be made, its error), raise `LatencyBudgetExceeded` on a miss; the `BudgetResult`
    otherwise."""
    from pytest_tflite_latency.check import LatencyBudgetExceeded

    settings = settings_of(item)
    device = device or settings.default_device
    try:
        result = _checked(item, settings, model, max_ms, device, policy, margin_pct, label or str(model))
    except Exception as exc:  # recorded in the report, then failed as usual
        if item is not None:
            record_error(item, label or str(model), device, max_ms, str(exc))
        raise
    if item is not None:
        item.stash.setdefault(RESULTS, []).append(result)
    if not result.passed:
        raise LatencyBudgetExceeded(result)
    return result


def _checked(item: pytest.Item | None, settings: Settings, model, max_ms, device: str, policy, margin_pct,
             label: str):
    """The budget result, with its test, the baseline and, with --on-device, the phone's measurement."""
    from pytest_tflite_latency.check import check_budget

    path = model_path(item, model)
    result = check_budget(path, max_ms, device, policy or settings.policy,
                          settings.margin_pct if margin_pct is None else margin_pct, label)
    result.test = item.nodeid if item is not None else ""
    baseline = settings.baseline.get((result.model, result.device))
    result.baseline_ms = baseline["estimate_ms"] if baseline else None
    result.regression_limit_pct = settings.regression_pct
    if settings.device_serial:
        from pytest_tflite_latency.device import measure

        result.measured_ms = measure(path, settings.device_serial, settings.benchmark_binary)
    return result


def record_error(item: pytest.Item, model: str, device: str, max_ms, error: str) -> None:
    """A check that could not be made still appears in the report, failed, with its error."""
    entry = {"model": model, "device": device, "max_ms": max_ms if isinstance(max_ms, (int, float)) else None,
             "error": error, "passed": False, "test": item.nodeid}
    item.stash.setdefault(RESULTS, []).append(entry)
