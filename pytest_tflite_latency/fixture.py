"""The ``tflite_latency`` fixture."""

from __future__ import annotations

import pytest

from pytest_tflite_latency.check import BudgetResult, estimate_file
from pytest_tflite_latency.estimator.pipeline import Estimate
from pytest_tflite_latency.plugin import _default_device, _State, run_check


class LatencyFixture:
    """Call it like `assert_latency`; ``.estimate(model)`` returns the full `Estimate`."""

    def __init__(self, item: pytest.Item):
        self.item = item

    def __call__(self, model, max_ms: float, device: str | None = None, policy: str | None = None,
                 margin_pct: float | None = None) -> BudgetResult:
        return run_check(self.item, model, max_ms, device, policy, margin_pct)

    def estimate(self, model, device: str | None = None) -> Estimate:
        settings = _State.settings
        return estimate_file(model, device or (settings and settings.device) or _default_device())
