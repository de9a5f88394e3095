"""The whole loop on this host, with the figures: generate → measure → store → train → estimate → verify.

    python -m pytest_tflite_latency.bench.local_eval [--db PATH] [--kernels 400]

1. Measures single-kernel models with LiteRT on this CPU (caches evicted before each invoke, see
   `LocalRunner`): a random part of the study's grid plus the layers of MobileNet V1 and ResNet-18
   (stored in the SQLite database; re-runs resume).
2. Trains and exports the host's profile.
3. Measures, in steady state, real models it never trained on — MobileNet V2 at five sizes, MobileNet V1 and
   ResNet-18 at sizes whose layers were not sampled, NAS-Bench-201 networks — and compares.
4. Prints measurement throughput and held-out accuracy against the number of kernel
   measurements used (the curve: how many measurements a profile needs).
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from pytest_tflite_latency.bench import sampling, zoo
from pytest_tflite_latency.bench.build_profiles import profile_from_records
from pytest_tflite_latency.bench.dataset import NB201_CSV, Record, nb201_rows
from pytest_tflite_latency.bench.db import Database
from pytest_tflite_latency.bench.measure import Job, measure_jobs
from pytest_tflite_latency.bench.progress import progress
from pytest_tflite_latency.bench.runners import LocalRunner
from pytest_tflite_latency.estimator.pipeline import estimate

DEVICE = "host-cpu"


def training_models() -> dict[str, bytes]:
    """Whole networks measured for training: they teach the in-network context."""
    models = {f"{n}@{s}": zoo.build(n, size=s) for n in ("mobilenet_v1", "resnet18") for s in (96, 160, 224)}
    rows = nb201_rows() if NB201_CSV.is_file() else []
    for row in random.Random(7).sample(rows, min(4, len(rows))):
        models[f"nb201-{row['nb201_id']}"] = zoo.build("nasbench201", arch=row["arch_str"])
    return models


def held_out_models() -> dict[str, bytes]:
    models = {f"mobilenet_v2@{s}": zoo.build("mobilenet_v2", size=s) for s in (96, 128, 160, 192, 224)}
    models |= {f"mobilenet_v1@{s}": zoo.build("mobilenet_v1", size=s) for s in (128, 192)}
    models |= {f"resnet18@{s}": zoo.build("resnet18", size=s) for s in (128, 192)}
    rows = nb201_rows() if NB201_CSV.is_file() else []
    for row in random.Random(1).sample(rows, min(11, len(rows))):
        models[f"nb201-{row['nb201_id']}"] = zoo.build("nasbench201", arch=row["arch_str"])
    return models


def measure_into(db: Database, runner: LocalRunner, n: int) -> float:
    """Kernels (grid part + layers of the training networks) and the training networks themselves."""
    configs = random.Random(0).sample(sampling.grid(), min(n, len(sampling.grid())))
    configs += sampling.from_models(("mobilenet_v1", "resnet18"), (96, 160, 224))
    jobs = [Job("kernel", c.type, c.params, c.key, c.build) for c in configs]
    jobs += [Job("model", "model", {"zoo": name}, name, lambda d=data: d) for name, data in training_models().items()]
    device_id = db.device(DEVICE, runner.name, runner.backend, runner.runtime, runner.runtime_version,
                          runner.detail)
    start = time.perf_counter()
    counts = measure_jobs(db, runner, device_id, jobs, "measuring kernels and training networks")
    elapsed = time.perf_counter() - start
    return counts.measured / elapsed * 60 if counts.measured else float("nan")


def accuracy(profile, measured: dict[str, float], models: dict[str, bytes]) -> np.ndarray:
    return np.array([estimate(models[n], profile).total_ms / measured[n] - 1 for n in measured])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m pytest_tflite_latency.bench.local_eval", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--db", type=Path, help="database to use (default: a temporary one)")
    p.add_argument("--kernels", type=int, default=400, help="grid kernels to sample")
    args = p.parse_args(argv)
    tmp = tempfile.TemporaryDirectory()
    db = Database(args.db or Path(tmp.name) / "bench.sqlite")
    runner = LocalRunner()
    rate = measure_into(db, runner, args.kernels)
    records = [Record(r.name, r.X, r.mean_ms, r.learned, kind="kernel") for r in db.records(DEVICE, "kernel")]
    networks = [Record(r.name, r.X, r.mean_ms, r.learned) for r in db.records(DEVICE, "model")]
    models = held_out_models()
    # five passes over all models, each model's least median: a busy shared host only ever adds
    # time, and its bursts last seconds, so repeats of one model must not follow each other
    passes = [{n: float(np.median(runner.measure(d, n).repeats_ms)) for n, d in models.items()}
              for _ in progress(range(5), "measuring held-out models (5 passes)")]
    measured = {n: min(p[n] for p in passes) for n in models}
    print(f"\nhost: {runner.detail}; {runner.runtime} {runner.runtime_version}")
    print(f"throughput: {rate:.0f} measurements per minute ({runner.repeats} repeats each)" if rate == rate
          else "throughput: not measured (everything was already in the database)")
    print(f"training networks: {len(networks)}; held-out models: {len(measured)}")
    print(f"\n{'kernels used':>12s} {'with networks':>14s} {'within ±15%':>12s} {'MAPE':>7s}")
    for n in (25, 50, 100, 200, len(records)):
        subset = random.Random(2).sample(records, min(n, len(records)))
        for with_networks in (False, True):
            train_on = subset + (networks if with_networks else [])
            profile = profile_from_records(DEVICE, train_on, DEVICE, "cpu", runner.runtime, "local",
                                                    algorithms=["xgboost"], label=f"training on {n}")
            e = accuracy(profile, measured, models)
            print(f"{len(subset):12d} {'yes' if with_networks else 'no':>14s} "
                  f"{np.mean(np.abs(e) <= 0.15) * 100:11.1f}% {np.mean(np.abs(e)) * 100:6.2f}%")
    print("\nper model with all kernels (estimate / measured):")
    for name, err in zip(measured, e, strict=True):
        print(f"  {name:14s} measured {measured[name]:8.3f} ms  estimate {1 + err:5.2f}×")
    db.close()
    return 0


if __name__ == "__main__":
    from pytest_tflite_latency.bench.extras import run_script

    sys.exit(run_script(main))
