"""features → prediction: per-kernel milliseconds, the whole model's total and its interval.

This is the one prediction path: `estimate` serves it, and the trainer's cross-validation judges it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .features import kinds_of
from .profile import DeviceProfile, roofline
from .wording import counted

UNSEEN_LOW, UNSEEN_HIGH = 0.5, 1.0  # a kernel known only from priors may be 2× off either way
# Kernels outside the training data below this share of the estimate get no warning: even 2× off
# (UNSEEN_HIGH) they move the total by under 1%, well inside any profile's error (the interval
# still widens for them).
NEGLIGIBLE_SHARE = 0.01
_TINY_MS = 1e-12  # divides a share of the estimate when every kernel is 0 ms


@dataclass(frozen=True)
class KernelTimes:
    ms: np.ndarray
    total_ms: float
    interval_ms: tuple[float, float]
    warnings: tuple[str, ...]
    uncertain: np.ndarray  # kernels estimated from priors alone (outside the training data)
    overhead_ms: float = 0.0  # the per-inference cost in total_ms besides the kernels


def learned_side(backend: str) -> str:
    """Where a profile's learned kernels run ("GPU" or "CPU"); kernels elsewhere are fallback or copies."""
    return "GPU" if backend == "gpu" else "CPU"


def kernel_ms(profile: DeviceProfile, X: np.ndarray, runs_on: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(ms per kernel, uncertain mask) on ``profile``'s device; ``runs_on`` is "GPU"/"CPU"/"copy" per row.

    Learned kernels: base cost × learned correction (within the trained range) × ``kernel_scale``,
    plus the in-network context; kinds the profile fitted only as a whole (stand-alone element-wise
    kernels) keep their fitted base cost. CPU fallback and copies use their roofline priors (`predict`
    times CPU fallback with the phone's CPU profile instead, where it has one)."""
    kinds = np.array(kinds_of(X)) if len(X) else np.array([], str)
    learned = runs_on == learned_side(profile.backend)
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


def _outside_warnings(profile: DeviceProfile, X: np.ndarray, ms: np.ndarray, outside: np.ndarray) -> list[str]:
    """Why kernels fall outside what the profile learned: a kind it never trained on, or a kernel
    larger than twice the largest of its kind it trained on."""
    if not outside.any():
        return []
    kinds = np.array(kinds_of(X))
    total = max(float(ms.sum()), _TINY_MS)
    unknown = outside & ~np.isin(kinds, list(profile.trained_range))
    larger = outside & ~unknown
    out = []
    for mask, why in ((unknown, "of kinds it never trained on"),
                      (larger, "more than 2× the FLOPs or bytes of the largest it trained on")):
        if mask.any() and ms[mask].sum() / total >= NEGLIGIBLE_SHARE:
            out.append(f"{counted(int(mask.sum()), 'kernel')} ({', '.join(sorted(set(kinds[mask])))}; "
                       f"{ms[mask].sum() / total:.0%} of the estimate) outside what {profile.name} was "
                       f"trained on, {why}: estimated from its analytic base cost only, with a wider interval")
    return out


def _time_cpu_fallback(cpu: tuple[DeviceProfile, np.ndarray], fallback: np.ndarray, ms: np.ndarray) -> np.ndarray:
    """Time the ``fallback`` kernels in ``ms`` (in place) with the phone's CPU profile (``cpu``: it and every
    kernel's features as it sees them); the mask of those outside what that profile trained on."""
    outside = np.zeros(len(ms), bool)
    if fallback.any():
        ms[fallback], outside[fallback] = kernel_ms(cpu[0], cpu[1][fallback], np.full(int(fallback.sum()), "CPU"))
    return outside


def predict(X: np.ndarray, runs_on: np.ndarray, profile: DeviceProfile,
            cpu: tuple[DeviceProfile, np.ndarray] | None = None, runs: np.ndarray | None = None) -> KernelTimes:
    """Milliseconds per kernel, the total and a calibrated interval for ``profile``'s device
    (``cpu``: the phone's CPU profile and every kernel's features as it sees them, which times the kernels
    left on the CPU; warned of, as in a CPU estimate, where they are outside what it trained on; ``runs``:
    how many times each kernel runs per inference, 1 where not given)."""
    ms, uncertain = kernel_ms(profile, X, runs_on)
    learned = runs_on == learned_side(profile.backend)
    cpu_outside = _time_cpu_fallback(cpu, (runs_on == "CPU") & ~learned, ms) if cpu is not None else None
    if runs is not None:
        ms = ms * runs
    warnings = _outside_warnings(profile, X, ms, learned & uncertain)
    if cpu_outside is not None:
        warnings += _outside_warnings(cpu[0], cpu[1], ms, cpu_outside)
    overhead = per_inference_ms(profile, learned, cpu)
    total = float(ms.sum()) + overhead
    u = float(ms[uncertain].sum())
    # the interval holds the estimate even when a profile's held-out errors all lie on one side, and
    # when kernels below zero (lifted to 0 ms by the pipeline, with the interval) make the total negative
    lo = min(total, max(0.0, total * (1 + profile.interval.low) - UNSEEN_LOW * u))
    hi = max(total, total * (1 + profile.interval.high) + UNSEEN_HIGH * u)
    return KernelTimes(ms, total, (lo, hi), tuple(warnings), uncertain, overhead)


def per_inference_ms(profile: DeviceProfile, learned: np.ndarray,
                     cpu: tuple[DeviceProfile, np.ndarray] | None) -> float:
    """The per-inference cost besides the kernels: the profile's, unless none of the kernels runs where it
    learned (a GPU delegate that takes no op is never applied: the model runs on the CPU alone, with the
    CPU profile's cost where one times it)."""
    if learned.any() or not len(learned):
        return profile.overhead_ms
    return cpu[0].overhead_ms if cpu is not None else 0.0
