"""Calibration's population figures, learnt on the six shared phones: printed by
``python -m pytest_tflite_latency.bench.calibration_curve --priors`` (regenerate after retraining the
stock profiles)."""

# N measurements → (5th, 95th) percentiles of calibrated profiles' relative errors on unseen families
INTERVALS: dict[int, tuple[float, float]] = {
    1: (-0.3249, 0.5947),
    3: (-0.2231, 0.4001),
    10: (-0.1702, 0.3224),
    30: (-0.1611, 0.3012),
}
# N → median over the six phones of the share of unseen models within ±10% (median over draws)
EXPECTED_WITHIN_10PCT: dict[int, float] = {
    1: 40.9,
    3: 49.3,
    10: 62.7,
    30: 56.9,
}
