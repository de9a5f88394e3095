"""The ``tflite_latency`` fixture: receives its test item and settings, imports no plugin."""

from __future__ import annotations

import pytest

from pytest_tflite_latency.check import BudgetResult, estimate_file
from pytest_tflite_latency.estimator.pipeline import Estimate
from pytest_tflite_latency.session import model_path, run_check, settings_of


class LatencyFixture:
    """Call it like `assert_latency`; ``.estimate(model)`` returns the full `Estimate`."""

    def __init__(self, item: pytest.Item):
        self.item = item
        self.settings = settings_of(item)

    def __call__(self, model, max_ms: float, device: str | None = None, policy: str | None = None,
                 margin_pct: float | None = None) -> BudgetResult:
        return run_check(self.item, model, max_ms, device, policy, margin_pct)

    def estimate(self, model, device: str | None = None) -> Estimate:
        """The full estimate of ``model`` (relative to the test's file) on ``device``."""
        return estimate_file(model_path(self.item, model), device or self.settings.default_device)
