"""Which device profiles are bundled: their names, without loading NumPy or a profile (the CLI's
``--help`` lists them)."""

from __future__ import annotations

from functools import cache
from importlib import resources
from importlib.abc import Traversable

from pytest_tflite_latency.estimator.defaults import DEFAULT_DEVICE


def bundled_dir() -> Traversable:
    """The folder of the bundled profile JSON files."""
    return resources.files(__package__) / "profiles"


@cache
def device_names() -> tuple[str, ...]:
    """Names of the bundled device profiles, default first."""
    names = sorted(p.name[:-5] for p in bundled_dir().iterdir() if p.name.endswith(".json"))
    return tuple(sorted(names, key=lambda n: n != DEFAULT_DEVICE))
