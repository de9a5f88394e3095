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
# N → each shared phone's share of unseen models within ±10% when it played the new phone, calibrated
# with its GPU named (the curve's ``calibrated`` column, median over draws): what `calibrate.expected`
# states for a GPU whose calibration these phones' own stand for (`devices.analogue_phones`)
WITHIN_10PCT_BY_PHONE: dict[str, dict[int, float]] = {
    "pixel4": {1: 46.4, 3: 53.6, 10: 62.3, 30: 55.8},
    "mi8se": {1: 60.9, 3: 66.7, 10: 68.1, 30: 78.3},
    "s10": {1: 10.1, 3: 43.5, 10: 60.9, 30: 55.8},
    "a03s": {1: 44.9, 3: 65.9, 10: 73.9, 30: 81.2},
    "iphonexs": {1: 37.0, 3: 51.4, 10: 66.7, 30: 71.0},
    "iphone7": {1: 44.2, 3: 63.0, 10: 77.5, 30: 76.8},
}
