"""One measured latency, as the plugin's adb runner, the bench's runners and its database share it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Measurement:
    """A model's measured latency: mean and spread over ``runs`` inferences (ms), and the repeats kept."""

    mean_ms: float
    std_ms: float
    runs: int
    repeats_ms: tuple[float, ...] = ()
