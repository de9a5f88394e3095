"""How much few-shot calibration helps a phone no profile covers.

    python -m pytest_tflite_latency.bench.fewshot [--shots 20] [--draws 5]

Real data: the Adreno 630 stands in for the new phone. Starting from the bundled Adreno 640 profile,
``--shots`` measured Adreno 630 networks calibrate it; the other networks judge. Compared with
the uncalibrated Adreno 640 profile and with a profile trained from scratch on the same shots.
"""

from __future__ import annotations

import argparse
import random
import sys

import numpy as np
from pytest_tflite_latency.bench import train
from pytest_tflite_latency.bench.calibrate import _parts, calibrate
from pytest_tflite_latency.bench.dataset import nb201_records
from pytest_tflite_latency.bench.progress import progress
from pytest_tflite_latency.estimator.profile import load_profile


def _score(pred: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    e = np.abs(pred / y - 1)
    return float(np.mean(e) * 100), float(np.mean(e <= 0.10) * 100)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m pytest_tflite_latency.bench.fewshot", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--shots", type=int, default=20)
    p.add_argument("--draws", type=int, default=5)
    p.add_argument("--source", default="adreno640")
    p.add_argument("--target", default="adreno630")
    args = p.parse_args(argv)
    records = nb201_records([args.target], progress=lambda rows: progress(rows, "building networks"))[args.target]
    source = load_profile(args.source)
    rows = {"uncalibrated": [], "calibrated": [], "from scratch": []}
    for draw in range(args.draws):
        idx = list(range(len(records)))
        random.Random(draw).shuffle(idx)
        shots = [records[i] for i in idx[:args.shots]]
        rest = [records[i] for i in idx[args.shots:]]
        y = np.array([r.y_ms for r in rest])
        rows["uncalibrated"].append(_score(_parts(source, rest).sum(axis=1), y))
        calibrated = calibrate(source, shots, f"{args.target}-fewshot")
        rows["calibrated"].append(_score(_parts(calibrated, rest).sum(axis=1), y))
        rows["from scratch"].append(_score(train.predict(rest, train.fit(shots, "xgboost")), y))
    print(f"{args.source} → {args.target}, {args.shots} measured networks, {len(records) - args.shots} held out, "
          f"median of {args.draws} draws")
    for name, scores in rows.items():
        mape, within = np.median(np.array(scores), axis=0)
        print(f"  {name:13s} MAPE {mape:6.2f}%   within ±10% {within:5.1f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
