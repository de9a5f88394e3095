"""Calibration's population figures, learnt on the six shared phones: printed by
``python -m pytest_tflite_latency.bench.calibration_curve --priors`` (regenerate after retraining the
stock profiles)."""

# N measurements → (5th, 95th) percentiles of calibrated profiles' relative errors on unseen families
INTERVALS: dict[int, tuple[float, float]] = {
    1: (-0.3263, 0.5710),
    3: (-0.2256, 0.3417),
    10: (-0.1726, 0.1981),
    30: (-0.1552, 0.1785),
}
# N → median over the six phones of the share of unseen models within ±10% (median over draws)
EXPECTED_WITHIN_10PCT: dict[int, float] = {
    1: 39.1,
    3: 52.5,
    10: 65.6,
    30: 74.6,
}
