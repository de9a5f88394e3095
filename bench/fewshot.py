"""How well few-shot calibration serves a phone no profile covers.

    python -m pytest_tflite_latency.bench.fewshot [--draws 20]

Each Android phone of the shared data in turn plays the new phone: its own profile is left out. N of
its measured models, drawn at random, calibrate another profile (`bench calibrate`); its other models
judge. Two ways to pick the source: each other Android phone's profile in turn (averaged), and `auto`
(`bench calibrate --from auto`: of every other bundled GPU profile, the one with the smallest
leave-one-out error on the N models). Prints, per N, the share within ±10% of the measurement and the
MAPE, averaged over draws. The networks are the shared ones the sources trained on: this measures
moving to a new phone, not to new networks.
"""

from __future__ import annotations

import argparse
import random
import sys

import numpy as np

from pytest_tflite_latency.bench import qed
from pytest_tflite_latency.bench.calibrate import best_source, calibrate
from pytest_tflite_latency.bench.train import predict
from pytest_tflite_latency.estimator.profile import load_profile

ANDROID = ("pixel4", "mi8se", "s10", "a03s")
SHOTS = (0, 1, 3, 10, 30)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m pytest_tflite_latency.bench.fewshot", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--draws", type=int, default=20, help="random draws of the N measured models")
    args = p.parse_args(argv)
    models = qed.usable(qed.load())
    print(f"{'new phone':10s} {'source':8s} " + " ".join(f"{f'N={n}':>15s}" for n in SHOTS)
          + "   (within ±10% / MAPE)")
    overall: dict[str, dict[int, list[float]]] = {"each": {n: [] for n in SHOTS}, "auto": {n: [] for n in SHOTS}}
    for target in ANDROID:
        records = qed.model_records(models, target)
        others = [load_profile(spec[0]) for phone, spec in qed.PHONES.items() if phone != target]
        android = [p for p in others if p.name in {qed.PHONES[a][0] for a in ANDROID}]
        for how in ("each", "auto"):
            cells = []
            for n in SHOTS:
                scores = [_score(records, n, draw, source, others if how == "auto" else None)
                          for source in (android if how == "each" else [None])
                          for draw in range(args.draws if n else 1)]
                within, mape = np.mean(scores, axis=0)
                overall[how][n].append(within)
                cells.append(f"{within:5.1f}% / {mape:4.1f}%")
            print(f"{target:10s} {how:8s} " + " ".join(f"{c:>15s}" for c in cells), flush=True)
    for how, per_n in overall.items():
        print(f"{'mean':10s} {how:8s} " + " ".join(f"{f'{np.mean(per_n[n]):5.1f}%':>15s}" for n in SHOTS))
    return 0


def _score(records, n: int, draw: int, source, candidates) -> tuple[float, float]:
    """(within ±10%, MAPE) on the records left after calibrating with ``n`` drawn ones."""
    idx = list(range(len(records)))
    random.Random(draw).shuffle(idx)
    shots, rest = [records[i] for i in idx[:n]], [records[i] for i in idx[n:]]
    if candidates is not None:
        source = best_source(candidates, shots) if n >= 2 else candidates[0]
    tuned = calibrate(source, shots, "new-phone") if n else source
    e = np.abs(predict(rest, tuned) / np.array([r.y_ms for r in rest]) - 1)
    return float(np.mean(e <= 0.10) * 100), float(np.mean(e) * 100)


if __name__ == "__main__":
    sys.exit(main())
