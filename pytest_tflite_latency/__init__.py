"""pytest-tflite-latency: TFLite latency budgets as tests.

``from pytest_tflite_latency import assert_latency`` then ``assert_latency("model.tflite", max_ms=15)``.
Imports stay light: the estimator loads on the first check.
"""

from __future__ import annotations

import os as _os

# An installed copy holds its subpackages `estimator` and `bench` inside this folder; a source checkout
# keeps them beside it (setuptools' package-dir maps them at install). `python -m pytest` in a checkout
# imports this folder first (the working directory leads sys.path), so find them where the checkout has
# them, as an editable install does.
_CHECKOUT = _os.path.dirname(_os.path.dirname(_os.path.abspath(__file__)))
if not _os.path.isdir(_os.path.join(__path__[0], "estimator")) \
        and _os.path.isfile(_os.path.join(_CHECKOUT, "estimator", "__init__.py")):
    __path__.append(_CHECKOUT)


def assert_latency(model, max_ms: float, device: str | None = None, policy: str | None = None,
                   margin_pct: float | None = None, precision: str | None = None):
    """Fail the current test when ``model`` is estimated (or, with --on-device, measured) slower
    than ``max_ms`` on ``device``; return the `BudgetResult` otherwise. Inside a test a relative
    ``model`` path is relative to the test's file; outside a session, to the working directory.
    ``precision`` ("fp16"/"fp32"): what the app's GPU delegate computes in, if not the profile's."""
    from pytest_tflite_latency.session import CURRENT_ITEM, run_check

    return run_check(CURRENT_ITEM.get(), model, max_ms, device, policy, margin_pct, precision=precision)


def __getattr__(name: str):
    if name in ("BudgetResult", "CheckRecord", "LatencyBudgetExceeded", "check_budget"):
        from pytest_tflite_latency import check

        return getattr(check, name)
    raise AttributeError(name)


__all__ = ["BudgetResult", "CheckRecord", "LatencyBudgetExceeded", "assert_latency", "check_budget"]
