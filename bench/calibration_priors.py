"""Calibration's population data, learnt on the six shared phones: printed by
``python -m pytest_tflite_latency.bench.calibration_curve --priors`` (regenerate after retraining the
stock profiles)."""

# bundled profile → (mean, spread) of log(scale / overall scale) per column (conv+fc+convtrans, dwconv,
# other, overhead) when that profile is calibrated to each of the other five phones on all shared models
PRIORS: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {}
# N measurements → the (5th, 95th) percentiles of calibrated profiles' relative errors on unseen families
INTERVALS: dict[int, tuple[float, float]] = {1: (-0.3, 0.3)}
# N → median share of unseen models within ±10% over the six phones (bench.calibration_curve)
EXPECTED_WITHIN_10PCT: dict[int, float] = {1: 0.0}
