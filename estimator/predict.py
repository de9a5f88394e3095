"""features → prediction: per-kernel milliseconds and the model's prediction interval."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pytest_tflite_latency.estimator.kernels import Kernel
from pytest_tflite_latency.estimator.profile import DeviceProfile, roofline

UNSEEN_LOW, UNSEEN_HIGH = 0.5, 1.0  # a kernel known only from priors may be 2× off either way


def learned_ms(profile: DeviceProfile, X: np.ndarray, kinds: list[str], seen: np.ndarray) -> np.ndarray:
    """(Base cost × learned correction for kernels within the trained range + in-network context)
    × calibration."""
    factor = np.where(seen, profile.correction_factor(X), 1.0)
    ms = profile.base_ms(X) * factor + profile.context_ms(X)
    if profile.calibration:
        ms = ms * np.array([profile.calibration.get(k, 1.0) for k in kinds])
    return ms


@dataclass(frozen=True)
class KernelTimes:
    ms: np.ndarray
    total_ms: float
    interval_ms: tuple[float, float]
    warnings: tuple[str, ...]


def predict(kernels: list[Kernel], X: np.ndarray, profile: DeviceProfile) -> KernelTimes:
    """Milliseconds per kernel, the total and a calibrated interval for ``profile``'s device."""
    learned_side = "GPU" if profile.backend == "gpu" else "CPU"
    runs = np.array([k.runs_on for k in kernels])
    kinds = [k.kind for k in kernels]
    learned = runs == learned_side
    seen = profile.in_range(X, kinds)
    ms = np.zeros(len(kernels))
    if learned.any():
        ms[learned] = learned_ms(profile, X[learned], [k for k, m in zip(kinds, learned, strict=True) if m],
                                 seen[learned])
    for side, params in (("CPU", profile.cpu_fallback), ("copy", profile.transfer)):
        mask = (runs == side) & ~learned
        if mask.any():
            ms[mask] = roofline(X[mask], profile.features, params)
    uncertain = ~learned | ~seen
    warnings = []
    outside = np.flatnonzero(learned & ~seen)
    if len(outside):
        kinds_out = sorted({kinds[i] for i in outside})
        share = ms[outside].sum() / max(ms.sum(), 1e-12)
        warnings.append(
            f"{len(outside)} kernels ({', '.join(kinds_out)}; {share:.0%} of the estimate) lie outside "
            f"what {profile.name} was trained on: estimated from its analytic base cost only, "
            "with a wider interval")
    total = float(ms.sum())
    u = float(ms[uncertain].sum())
    lo = max(0.0, total * (1 + profile.interval["low"]) - UNSEEN_LOW * u)
    hi = total * (1 + profile.interval["high"]) + UNSEEN_HIGH * u
    return KernelTimes(ms, total, (lo, hi), tuple(warnings))
