"""Hooks other plugins and a project's ``conftest.py`` may implement (registered by `pytest_addhooks`)."""

from __future__ import annotations

import pytest


def pytest_tflite_latency_update_json(config: pytest.Config, report: dict) -> None:
    """Add to, or change, the ``--latency-report`` data before it is written (as pytest-benchmark's
    ``pytest_benchmark_update_json``): e.g. ``report["commit"] = os.environ["GITHUB_SHA"]``."""
