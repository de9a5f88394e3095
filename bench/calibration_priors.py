"""Calibration's population figures, learnt on the six shared phones: printed by
``python -m pytest_tflite_latency.bench.calibration_curve --priors`` (regenerate after retraining the
stock profiles)."""

# N measurements → (5th, 95th) percentiles of calibrated profiles' log relative errors on unseen
# families, in units of each calibration's own spread (`calibrate.error_spread`), and the population's
# spread (σ of the log error), which stands in below `calibrate.MIN_RECORDS_FOR_SPREAD` measurements
INTERVALS: dict[int, tuple[float, float, float]] = {
    1: (-1.4807, 1.7481, 0.2603),
    3: (-2.3964, 2.3293, 0.1523),
    10: (-2.2247, 1.8723, 0.1154),
    30: (-2.1227, 1.8840, 0.1041),
}
# N → median over the six phones of the share of unseen models within ±10% (median over draws)
EXPECTED_WITHIN_10PCT: dict[int, float] = {
    1: 47.1,
    3: 62.3,
    10: 71.4,
    30: 79.7,
}
# N → each shared phone's share of unseen models within ±10% when it played the new phone, calibrated
# with its GPU named (the curve's ``calibrated`` column, median over draws): what `calibrate.expected`
# states for a GPU whose calibration these phones' own stand for (`devices.analogue_phones`)
WITHIN_10PCT_BY_PHONE: dict[str, dict[int, float]] = {
    "pixel4": {1: 47.8, 3: 52.9, 10: 62.3, 30: 54.3},
    "mi8se": {1: 60.9, 3: 66.7, 10: 68.1, 30: 78.3},
    "s10": {1: 10.1, 3: 44.9, 10: 58.7, 30: 57.2},
    "a03s": {1: 46.4, 3: 65.2, 10: 76.8, 30: 84.1},
    "iphonexs": {1: 39.9, 3: 59.4, 10: 76.8, 30: 81.2},
    "iphone7": {1: 48.6, 3: 68.8, 10: 74.6, 30: 84.1},
}
