"""The kernel route's figures, learnt on the shared phones: printed by
``python -m pytest_tflite_latency.bench.kernel_calibration --priors`` (300 kernels, 10 models); regenerate
after changing the routes or retraining the stock profiles."""

# the candidate (kernel_calibration.CANDIDATES) with the most unseen models within ±10%, phones averaged
SERVED = "direct"
# (5%, 95%) percentiles of its log errors on unseen families, all phones pooled, in
# units of each fit's leave-one-out spread (`calibrate.scaled_interval`); the population's spread σ
INTERVAL = (-2.4473, 2.0814, 0.0681)
COVERAGE = 0.90
# phone left out → its share within ±10% under the candidate chosen on the other phones
NESTED_WITHIN_10PCT: dict[str, float] = {
    "pixel4": 73.2,
    "mi8se": 86.2,
    "s10": 82.6,
    "a03s": 87.7,
    "iphonexs": 86.2,
    "iphone7": 96.4,
}
