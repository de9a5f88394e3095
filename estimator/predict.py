"""features → prediction: per-kernel milliseconds, the whole model's total and its interval.

This is the one prediction path: `estimate` serves it, and the trainer's cross-validation judges it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pytest_tflite_latency.estimator.features import kinds_of
from pytest_tflite_latency.estimator.profile import DeviceProfile, roofline

UNSEEN_LOW, UNSEEN_HIGH = 0.5, 1.0  # a kernel known only from priors may be 2× off either way


@dataclass(frozen=True)
class KernelTimes:
    ms: np.ndarray
    total_ms: float
    interval_ms: tuple[float, float]
    warnings: tuple[str, ...]
    uncertain: np.ndarray  # kernels estimated from priors alone (outside the training data)


def kernel_ms(profile: DeviceProfile, X: np.ndarray, runs_on: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(ms per kernel, uncertain mask) on ``profile``'s device; ``runs_on`` is "GPU"/"CPU"/"copy" per row.

    Learned kernels: base cost × learned correction (within the trained range) × ``kernel_scale``,
    plus the in-network context; kinds the profile fitted only as a whole (stand-alone element-wise
    kernels) keep their fitted base cost. CPU fallback and copies use their roofline priors."""
    kinds = np.array(kinds_of(X)) if len(X) else np.array([], str)
    learned = runs_on == ("GPU" if profile.backend == "gpu" else "CPU")
    trained = np.isin(kinds, list(profile.trained_range))
    seen = trained & profile.in_range(X, list(kinds))
    ms = np.zeros(len(X))
    if learned.any():
        Xl = X[learned]
        factor = np.where(seen[learned], profile.correction_factor(Xl), 1.0)
        scale = np.where(trained[learned], profile.kernel_scale, 1.0)
        ms[learned] = profile.base_ms(Xl) * factor * scale + profile.context_ms(Xl)
    for side, params in (("CPU", profile.cpu_fallback), ("copy", profile.transfer)):
        mask = (runs_on == side) & ~learned
        if mask.any():
            ms[mask] = roofline(X[mask], profile.features, params)
    fitted = np.isin(kinds, list(profile.fitted_kinds()))
    uncertain = ~learned | (learned & ~seen & (trained | ~fitted))
    return ms, uncertain


def total_ms(profile: DeviceProfile, X: np.ndarray, runs_on: np.ndarray) -> float:
    """The whole model's estimate as `estimate` serves it: its kernels (none below zero) plus the
    per-inference overhead."""
    return float(np.maximum(kernel_ms(profile, X, runs_on)[0], 0.0).sum()) + profile.overhead_ms


def predict(X: np.ndarray, runs_on: np.ndarray, profile: DeviceProfile) -> KernelTimes:
    """Milliseconds per kernel, the total and a calibrated interval for ``profile``'s device."""
    ms, uncertain = kernel_ms(profile, X, runs_on)
    learned = runs_on == ("GPU" if profile.backend == "gpu" else "CPU")
    warnings = []
    outside = np.flatnonzero(learned & uncertain)
    if len(outside):
        kinds = kinds_of(X[outside])
        share = ms[outside].sum() / max(ms.sum(), 1e-12)
        warnings.append(
            f"{len(outside)} kernels ({', '.join(sorted(set(kinds)))}; {share:.0%} of the estimate) lie outside "
            f"what {profile.name} was trained on: estimated from its analytic base cost only, "
            "with a wider interval")
    total = float(ms.sum()) + profile.overhead_ms
    u = float(ms[uncertain].sum())
    lo = max(0.0, total * (1 + profile.interval["low"]) - UNSEEN_LOW * u)
    hi = total * (1 + profile.interval["high"]) + UNSEEN_HIGH * u
    return KernelTimes(ms, total, (lo, hi), tuple(warnings), uncertain)
