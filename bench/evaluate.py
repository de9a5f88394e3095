"""Accuracy of the device profiles on networks they did not train on.

    python -m pytest_tflite_latency.bench.evaluate [--devices adreno640 adreno630 cortexa76] [--algorithms ...]

5-fold cross-validation over the shared NAS-Bench-201 networks: each fold's networks are
predicted by a model trained on the other four. Prints, per device and regressor, the share of
networks within ±5% / ±10% of their measured latency, the MAPE, and how often the measurement
falls inside the 90% interval calibrated on the other folds.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
from pytest_tflite_latency.bench import profiles, train
from pytest_tflite_latency.bench.dataset import NB201_DEVICES, nb201_records
from pytest_tflite_latency.bench.progress import progress


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m pytest_tflite_latency.bench.evaluate", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--devices", nargs="+", default=list(NB201_DEVICES), choices=list(NB201_DEVICES))
    p.add_argument("--algorithms", nargs="+", default=list(train.ALGORITHMS), choices=train.ALGORITHMS)
    args = p.parse_args(argv)
    records = nb201_records(args.devices, progress=lambda rows: progress(rows, "building networks"))
    print(f"{'device':10s} {'regressor':14s} {'networks':>8s} {'±5%':>7s} {'±10%':>7s} {'MAPE':>7s} "
          f"{'90% interval coverage':>22s}")
    for device in args.devices:
        for algorithm in args.algorithms:
            errors = profiles.cross_validate(records[device], algorithm)
            s = profiles.summarize(errors)
            print(f"{device:10s} {algorithm:14s} {len(errors):8d} {s['within_5pct']:6.1f}% "
                  f"{s['within_10pct']:6.1f}% {s['mape_pct']:6.2f}% {coverage(errors):21.1f}%")
    return 0


def coverage(errors: np.ndarray) -> float:
    """Share of networks inside an interval calibrated on the other folds' errors."""
    order = np.random.default_rng(1).permutation(len(errors))
    inside = 0
    for fold in np.array_split(order, profiles.FOLDS):
        rest = np.setdiff1d(order, fold)
        lo, hi = np.quantile(errors[rest], profiles.INTERVAL)
        inside += int(np.sum((errors[fold] >= lo) & (errors[fold] <= hi)))
    return 100.0 * inside / len(errors)


if __name__ == "__main__":
    sys.exit(main())
