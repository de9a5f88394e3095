"""Calibration's population figures, learnt on the six shared phones: printed by
``python -m pytest_tflite_latency.bench.calibration_curve --priors`` (regenerate after retraining the
stock profiles)."""

# N measurements → (5th, 95th) percentiles of calibrated profiles' relative errors on unseen families
INTERVALS: dict[int, tuple[float, float]] = {
    1: (-0.3284, 0.5496),
    3: (-0.2229, 0.3480),
    10: (-0.1744, 0.2206),
    30: (-0.1663, 0.1949),
}
# N → median over the six phones of the share of unseen models within ±10% (median over draws)
EXPECTED_WITHIN_10PCT: dict[int, float] = {
    1: 41.7,
    3: 51.1,
    10: 62.7,
    30: 61.2,
}
