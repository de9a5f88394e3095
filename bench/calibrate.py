"""Few-shot calibration: adapt an existing device profile to a new phone from ~20 whole-model
measurements, instead of thousands of kernel measurements.

The source profile's per-kernel predictions are grouped into compute-bound kernels (convolutions,
fully connected) and the rest; one factor per group is fitted so the records' sums match their
measurements (least squares on relative errors, pulled toward 1). Held-out error and the interval
come from leave-one-out over the records.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from pytest_tflite_latency.bench.dataset import Record
from pytest_tflite_latency.estimator.features import kinds_of
from pytest_tflite_latency.estimator.predict import learned_ms
from pytest_tflite_latency.estimator.profile import DeviceProfile
from scipy.optimize import lsq_linear

GROUPS = {"compute": ("conv", "dwconv", "convtrans", "fc")}
PULL = 0.1  # ridge toward the source profile (factor 1) against one record's relative error


def _group(kind: str) -> int:
    return 0 if kind in GROUPS["compute"] else 1


def _parts(profile: DeviceProfile, records: list[Record]) -> np.ndarray:
    """Per record, the source profile's predicted ms of its compute and its other kernels."""
    A = np.zeros((len(records), 2))
    for i, r in enumerate(records):
        X = r.X[r.learned]
        kinds = kinds_of(X)
        ms = learned_ms(profile, X, kinds, profile.in_range(X, kinds))
        np.add.at(A[i], [_group(k) for k in kinds], ms)
    return A


def fit_factors(A: np.ndarray, y: np.ndarray) -> np.ndarray:
    M = np.vstack([A / y[:, None], PULL * np.eye(2)])
    rhs = np.concatenate([np.ones(len(y)), PULL * np.ones(2)])
    return lsq_linear(M, rhs, bounds=(0.05, 20.0)).x


def calibrate(profile: DeviceProfile, records: list[Record], name: str) -> DeviceProfile:
    """``profile`` rescaled to the device the records were measured on."""
    A, y = _parts(profile, records), np.array([r.y_ms for r in records])
    factors = fit_factors(A, y)
    loo = np.array([A[i] @ fit_factors(np.delete(A, i, 0), np.delete(y, i)) / y[i] - 1
                    for i in range(len(y))]) if len(y) > 2 else np.zeros(len(y))
    calibration = {k: float(factors[0]) for k in GROUPS["compute"]}
    calibration.update({k: float(factors[1]) for k in ("pool", "reduce", "elementwise", "concat", "layout",
                                                       "resize", "softmax", "other")})
    a = np.abs(loo)
    provenance = {**profile.provenance, "calibrated_from": profile.name,
                  "calibration": {"compute": round(float(factors[0]), 4), "other": round(float(factors[1]), 4),
                                  "records": len(records)},
                  "heldout": {"method": "leave-one-out over the calibration records",
                              "mape_pct": round(float(a.mean() * 100), 3),
                              "within_10pct": round(float(np.mean(a <= 0.1) * 100), 2)}}
    lo, hi = (np.quantile(loo, [0.05, 0.95]) if len(loo) else (-0.2, 0.2))
    return dataclasses.replace(profile, name=name, title=f"{name} (calibrated from {profile.name})",
                               calibration=calibration, provenance=provenance,
                               interval={"low": float(min(lo, -0.01)), "high": float(max(hi, 0.01)),
                                         "coverage": 0.9})
