"""Few-shot calibration: adapt an existing device profile to a new phone from a handful of
whole-model measurements, instead of thousands of kernel measurements.

The source profile's kernels keep their shape-dependent costs; the new phone gets one scale for
convolutions and fully connected layers, one for depthwise convolutions, one for everything else, and
its own per-inference overhead: ``measured ≈ Σ scale_g · kernels_g + overhead``, fitted on relative
errors and lightly pulled toward the source. With ``auto`` as the source, every bundled GPU profile is
calibrated and the one with the smallest leave-one-out error on the measurements is kept.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy.optimize import lsq_linear

from pytest_tflite_latency.bench.dataset import Record
from pytest_tflite_latency.bench.train import runs_on
from pytest_tflite_latency.estimator.features import kinds_of
from pytest_tflite_latency.estimator.kernels import KINDS
from pytest_tflite_latency.estimator.predict import kernel_ms
from pytest_tflite_latency.estimator.profile import COEFFICIENTS, DeviceProfile, kind_coefficients

GROUPS = (("conv", "fc", "convtrans"), ("dwconv",))  # and a last group: every other kind
PULL = 0.02  # weight of "stay at the source" against one record's relative error
MIN_FOR_OVERHEAD, MIN_FOR_GROUPS = 3, 8  # fewer records fit fewer parameters (see `fit_scales`)


def _group(kind: str) -> int:
    return next((i for i, g in enumerate(GROUPS) if kind in g), len(GROUPS))


def parts(profile: DeviceProfile, records: list[Record]) -> np.ndarray:
    """Per record, the source's estimate of each kernel group (columns), without the overhead."""
    A = np.zeros((len(records), len(GROUPS) + 1))
    for i, r in enumerate(records):
        ms = kernel_ms(profile, r.X, runs_on(r, profile.backend))[0]
        np.add.at(A[i], [_group(k) for k in kinds_of(r.X)], ms)
    return A


def fit_scales(A: np.ndarray, y: np.ndarray, overhead: float) -> np.ndarray:
    """(scale per group ..., overhead) so that ``A @ scales + overhead`` matches ``y``. Fewer than
    `MIN_FOR_OVERHEAD` records fit one scale for everything, overhead included; fewer than
    `MIN_FOR_GROUPS` one scale for the kernels and the overhead."""
    n = A.shape[1]
    if len(y) < MIN_FOR_OVERHEAD:
        scale = float(np.median(y / (A.sum(axis=1) + overhead)))
        return np.array([scale] * n + [overhead * scale])
    if len(y) < MIN_FOR_GROUPS:
        scale, b = _fit(A.sum(axis=1, keepdims=True), y, overhead)
        return np.array([scale] * n + [b])
    return _fit(A, y, overhead)


def _fit(A: np.ndarray, y: np.ndarray, overhead: float) -> np.ndarray:
    n = A.shape[1]
    M = np.vstack([np.column_stack([A, np.ones(len(y))]) / y[:, None],
                   PULL * np.diag([1.0] * n + [1.0 / max(overhead, 1e-3)])])
    rhs = np.concatenate([np.ones(len(y)), PULL * np.ones(n + 1)])
    return lsq_linear(M, rhs, bounds=([0.05] * n + [0.0], [20.0] * n + [np.inf])).x


def loo_errors(A: np.ndarray, y: np.ndarray, overhead: float) -> np.ndarray:
    """Leave-one-out relative error of each record under the calibration the others give."""
    if len(y) < 2:
        return np.zeros(len(y))
    out = np.zeros(len(y))
    for i in range(len(y)):
        c = fit_scales(np.delete(A, i, 0), np.delete(y, i), overhead)
        out[i] = (A[i] @ c[:-1] + c[-1]) / y[i] - 1
    return out


def calibrate(profile: DeviceProfile, records: list[Record], name: str) -> DeviceProfile:
    """``profile`` rescaled to the device the records were measured on."""
    A, y = parts(profile, records), np.array([r.y_ms for r in records])
    c = fit_scales(A, y, profile.overhead_ms)
    loo = loo_errors(A, y, profile.overhead_ms)
    a = np.abs(loo)
    provenance = {**profile.provenance, "calibrated_from": profile.name,
                  "calibration": {"scales": {"+".join(g): round(float(s), 4) for g, s in
                                             zip([*GROUPS, ("other",)], c[:-1], strict=True)},
                                  "overhead_ms": round(float(c[-1]), 4), "records": len(records)},
                  "heldout": {"method": "leave-one-out over the calibration records",
                              "mape_pct": round(float(a.mean() * 100), 3),
                              "within_10pct": round(float(np.mean(a <= 0.1) * 100), 2)}}
    lo, hi = np.quantile(loo, [0.05, 0.95]) if len(loo) >= 5 else (-0.2, 0.2)
    return dataclasses.replace(profile, name=name, title=f"{name} (calibrated from {profile.name})",
                               base=_scaled_base(profile, c[:-1]), overhead_ms=float(c[-1]),
                               provenance=provenance,
                               interval={"low": float(min(lo, -0.01)), "high": float(max(hi, 0.01)),
                                         "coverage": 0.9})


def best_source(sources: list[DeviceProfile], records: list[Record]) -> DeviceProfile:
    """The source whose calibration predicts the records best, left out one at a time."""
    y = np.array([r.y_ms for r in records])
    return min(sources, key=lambda p: float(np.mean(np.abs(loo_errors(parts(p, records), y, p.overhead_ms)))))


def _scaled_base(profile: DeviceProfile, scales: np.ndarray) -> dict:
    """The base with every kind's own coefficients scaled by its group's factor."""
    per_kind = {kind: {k: kind_coefficients(profile.base, kind)[k] * float(scales[_group(kind)])
                       for k in COEFFICIENTS} for kind in KINDS}
    return {**profile.base.to_dict(), "per_kind": per_kind}
