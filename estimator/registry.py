"""Which device profiles are bundled: their names, without loading NumPy or a profile (the CLI's
``--help`` lists them)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from pytest_tflite_latency.estimator.defaults import DEFAULT_DEVICE


def bundled_dir() -> Path:
    """The folder of the bundled profile JSON files (installed as files beside this module; not
    `importlib.resources`, whose import costs a cold start ~10 ms)."""
    return Path(__file__).parent / "profiles"


@cache
def device_names() -> tuple[str, ...]:
    """Names of the bundled device profiles: the default first, then its phone's other profiles (its CPU),
    the other phones', and nn-Meter's last, each group in alphabetical order."""
    names = sorted(p.name[:-5] for p in bundled_dir().iterdir() if p.name.endswith(".json"))
    phone = DEFAULT_DEVICE.rsplit("-", 1)[0] + "-"
    return tuple(sorted(names, key=lambda n: (n != DEFAULT_DEVICE, not n.startswith(phone), n.startswith("nnmeter-"))))
