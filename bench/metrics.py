"""The accuracy figures every profile and evaluation states, computed in one place."""

from __future__ import annotations

import numpy as np


def relative_errors(predicted: np.ndarray, measured: np.ndarray) -> np.ndarray:
    """predicted / measured − 1, per model."""
    return np.asarray(predicted, float) / np.asarray(measured, float) - 1


def mape_pct(errors: np.ndarray) -> float:
    """Mean absolute relative error, in percent."""
    return float(np.mean(np.abs(errors)) * 100)


def within_pct(errors: np.ndarray, tolerance: float) -> float:
    """Share of models whose relative error is within ±``tolerance`` (0.10 for ±10%), in percent."""
    return float(np.mean(np.abs(errors) <= tolerance) * 100)


def summarize(errors: np.ndarray) -> dict:
    """Relative errors (predicted / measured − 1) as the figures every profile states."""
    return {"models": len(errors), "mape_pct": round(mape_pct(errors), 2),
            "within_10pct": round(within_pct(errors, 0.10), 1),
            "within_25pct": round(within_pct(errors, 0.25), 1),
            "median_error_pct": round(float(np.median(errors) * 100), 2)}
