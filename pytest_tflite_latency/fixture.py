"""The ``tflite_latency`` fixture: receives its test item and session, imports no plugin."""

from __future__ import annotations

import pytest

from pytest_tflite_latency.check import estimate_file
from pytest_tflite_latency.estimator.pipeline import Estimate
from pytest_tflite_latency.records import CheckRecord
from pytest_tflite_latency.session import LatencySession, model_path, test_device


class LatencyFixture:
    """Call it like `assert_latency`; ``.estimate(model)`` returns the full `Estimate`."""

    def __init__(self, item: pytest.Item, session: LatencySession):
        self.item = item
        self.session = session

    def __call__(self, model, max_ms: float, device: str | None = None, policy: str | None = None,
                 margin_pct: float | None = None, precision: str | None = None) -> CheckRecord:
        return self.session.check(self.item, model, max_ms, test_device(self.item, device), policy, margin_pct,
                                  precision=precision)

    def estimate(self, model, device: str | None = None) -> Estimate:
        """The full estimate of ``model`` (relative to the test's file) on ``device``."""
        return estimate_file(model_path(self.item, model), test_device(self.item, device) or
                             self.session.default_device, self.session.options.profiles)
