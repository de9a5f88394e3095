"""Calibration's population figures, learnt on the six shared phones: printed by
``python -m pytest_tflite_latency.bench.calibration_curve --priors`` (regenerate after retraining the
stock profiles)."""

# N measurements → (5th, 95th) percentiles of calibrated profiles' log relative errors on unseen
# families, in units of each calibration's own spread (`calibrate.error_spread`), and the population's
# spread (σ of the log error), which stands in below `calibrate.MIN_RECORDS_FOR_SPREAD` measurements
INTERVALS: dict[int, tuple[float, float, float]] = {
    1: (-1.5275, 1.6979, 0.2638),
    3: (-2.4035, 2.2995, 0.1604),
    10: (-2.1936, 1.9202, 0.1196),
    30: (-2.2009, 1.9881, 0.1102),
}
# N → median over the six phones of the share of unseen models within ±10% (median over draws)
EXPECTED_WITHIN_10PCT: dict[int, float] = {
    1: 44.6,
    3: 58.3,
    10: 67.4,
    30: 73.9,
}
