"""Accuracy of every bundled profile on networks it did not train on: the figures the README and
`tflite-latency devices` state.

    python -m pytest_tflite_latency.bench.evaluate [--profiles pixel4-gpu ...] [--algorithms xgboost ...]

Stock-runtime GPU profiles: leave-one-family-out cross-validation over the shared real CNNs (every
`mobilenetv3_*` in one fold, every ResNet variant in another …), whole-model estimates of exactly the
predictor `estimate` serves against measured end-to-end times, beside the floor (latency linear in
FLOPs and file size, same folds). nn-Meter profiles: 5-fold cross-validation over NAS-Bench-201 (in
family) and the bundled profile on the real CNNs. Also the kernel-list agreement with the delegate.
"""

from __future__ import annotations

import argparse
import sys

from pytest_tflite_latency.bench import build_profiles as profiles
from pytest_tflite_latency.bench import qed, train
from pytest_tflite_latency.bench.crossval import FOLDS, cross_validate
from pytest_tflite_latency.bench.dataset import nb201_records
from pytest_tflite_latency.bench.metrics import summarize
from pytest_tflite_latency.bench.progress import progress
from pytest_tflite_latency.estimator.profile import load_profile

STOCK = {spec.profile: phone for phone, spec in qed.PHONES.items()}


def _row(name: str, what: str, s: dict, cover: float | None = None) -> str:
    cov = f"{cover:8.1f}%" if cover is not None else f"{'':9s}"
    return (f"{name:18s} {what:36s} {s['models']:6d} {s['within_10pct']:6.1f}% {s['within_25pct']:6.1f}% "
            f"{s['mape_pct']:6.2f}% {cov}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m pytest_tflite_latency.bench.evaluate", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--profiles", nargs="+", default=[*STOCK, *profiles.NNMETER],
                   choices=[*STOCK, *profiles.NNMETER])
    p.add_argument("--algorithms", nargs="+", default=list(train.ALGORITHMS), choices=train.ALGORITHMS)
    p.add_argument("--tree-features", nargs="+", default=list(train.TREE_FEATURE_SETS),
                   choices=list(train.TREE_FEATURE_SETS), help="the feature sets the correction trees may read")
    args = p.parse_args(argv)
    everything = qed.load()
    models = qed.usable(everything)
    exact = sum(m.matched() for m in everything)
    print(f"kernel lists against the delegate's rows ({len(everything)} models): {exact} exact "
          f"({100 * exact / len(everything):.0f}%), {len(models)} same kernels in any order "
          f"({100 * len(models) / len(everything):.0f}%)   [python -m pytest_tflite_latency.bench.qed]")
    left_out = sorted(m.name for m in everything if not m.aligned())
    print(f"left out (rebuilt graph differs from the measured file): {', '.join(left_out) or 'none'}\n")
    print(f"{'profile':18s} {'predictor':36s} {'models':>6s} {'±10%':>7s} {'±25%':>7s} {'MAPE':>7s} "
          f"{'coverage':>9s}")
    groups = [m.family for m in models]
    for name in [n for n in args.profiles if n in STOCK]:
        phone = STOCK[name]
        for candidate in [c for c in profiles.CANDIDATES if c[0] in args.algorithms and c[1] in args.tree_features]:
            what = profiles.describe(candidate)
            errors = profiles.leave_family_out(models, phone, candidate, f"{name}: {what}")
            print(_row(name, what, summarize(errors), profiles.interval_level(errors, groups)[1]),
                  flush=True)
        print(_row(name, "floor: FLOPs + file size", summarize(profiles.floor_errors(models, phone))),
              flush=True)
    nnmeter = [n for n in args.profiles if n in profiles.NNMETER]
    if nnmeter:
        columns = [profiles.NNMETER[n].column for n in nnmeter]
        nb201 = nb201_records(columns, progress=lambda rows: progress(rows, "building NAS-Bench-201 networks"))
    for name in nnmeter:
        spec = profiles.NNMETER[name]
        column, backend, phone = spec.column, spec.backend, spec.judged_on
        for algorithm in args.algorithms:
            errors = cross_validate(nb201[column], algorithm, backend)
            print(_row(name, f"{algorithm}, NAS-Bench-201 5-fold", summarize(errors),
                       profiles.coverage(errors, [str(i % FOLDS) for i in range(len(errors))])),
                  flush=True)
        real = profiles.real_network_errors(load_profile(name), phone)
        print(_row(name, "bundled, on the real CNNs", summarize(real)), flush=True)
    return 0


if __name__ == "__main__":
    from pytest_tflite_latency.bench.extras import run_script

    sys.exit(run_script(main))
