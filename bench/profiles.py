"""Rebuild the bundled device profiles from the shared NAS-Bench-201 measurements, bit for bit.

    python -m pytest_tflite_latency.bench.profiles            # writes estimator/profiles/*.json
    python -m pytest_tflite_latency.bench.profiles --check    # rebuilds in memory and fails if any bundled file differs
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from pytest_tflite_latency.bench import train
from pytest_tflite_latency.bench.dataset import NB201_CSV, Record, file_sha256, nb201_records
from pytest_tflite_latency.bench.progress import progress
from pytest_tflite_latency.estimator.features import FEATURES
from pytest_tflite_latency.estimator.profile import DeviceProfile

PROFILE_DIR = Path(__file__).resolve().parents[1] / "estimator" / "profiles"
FOLDS, SEED = 5, 0
INTERVAL = (0.05, 0.95)  # a 90% prediction interval from held-out relative errors
DEVICES = {
    "adreno640": ("Adreno 640 GPU (Snapdragon 855, Xiaomi Mi 9)", "gpu",
                  "TensorFlow Lite 2.1 GPU delegate (OpenCL)", 1.0),
    "adreno630": ("Adreno 630 GPU (Snapdragon 845, Pixel 3 XL)", "gpu",
                  "TensorFlow Lite 2.1 GPU delegate (OpenCL)", 1.25),
    "cortexa76": ("Cortex-A76 CPU, one core (Pixel 4)", "cpu", "TensorFlow Lite 2.1 CPU", 1.0),
}
# Copies between GPU and CPU memory at a partition boundary: a prior, not fitted (the shared
# measurements have no partitioned model): 0.1 ms synchronisation + 2 GB/s.
TRANSFER = {"launch_ms": 0.1, "ms_per_flop": 0.0, "ms_per_byte": 5e-7, "relative_flop_cost": {}}


def cross_validate(records: list[Record], algorithm: str) -> np.ndarray:
    """Held-out relative errors (predicted / measured - 1), one per record."""
    order = np.random.default_rng(SEED).permutation(len(records))
    errors = np.zeros(len(records))
    for fold in np.array_split(order, FOLDS):
        held = set(fold.tolist())
        f = train.fit([r for i, r in enumerate(records) if i not in held], algorithm, SEED)
        test = [records[i] for i in fold]
        errors[fold] = train.predict(test, f) / np.array([r.y_ms for r in test]) - 1
    return errors


def summarize(errors: np.ndarray) -> dict:
    a = np.abs(errors)
    return {"mape_pct": round(float(a.mean() * 100), 3),
            "within_5pct": round(float(np.mean(a <= 0.05) * 100), 2),
            "within_10pct": round(float(np.mean(a <= 0.10) * 100), 2),
            "p95_abs_error_pct": round(float(np.quantile(a, 0.95) * 100), 3)}


def profile_from_records(name: str, records: list[Record], title: str, backend: str, runtime: str,
                         trained_on: str, algorithms: list[str] | None = None, cpu_base: dict | None = None,
                         extra: dict | None = None, label: str | None = None) -> DeviceProfile:
    """Cross-validate each regressor, keep the best, fit it on everything, state the provenance."""
    algorithms = algorithms or list(train.ALGORITHMS)
    compared, errors = {}, {}
    for algorithm in progress(algorithms, label or f"{name}: cross-validating"):
        errors[algorithm] = cross_validate(records, algorithm)
        compared[algorithm] = summarize(errors[algorithm])
    best = min(algorithms, key=lambda a: (compared[a]["mape_pct"], algorithms.index(a)))
    f = train.fit(records, best, SEED)
    lo, hi = np.quantile(errors[best], INTERVAL)
    provenance = {"trained_on": trained_on, "measurements": len(records), **(extra or {}),
                  "regressor": best,
                  "heldout": {"method": f"{FOLDS}-fold cross-validation over measured models",
                              **compared[best]},
                  "compared": compared}
    interval = {"low": round(float(lo), 6), "high": round(float(hi), 6),
                "coverage": round(INTERVAL[1] - INTERVAL[0], 6)}
    return DeviceProfile(name, title, backend, runtime, FEATURES, f.base, f.correction, f.trained_range,
                         interval, dict(cpu_base or f.base), TRANSFER, provenance, context=f.context)


def build_profile(name: str, records: list[Record], cpu_base: dict | None) -> DeviceProfile:
    title, backend, runtime, cpu_slowdown = DEVICES[name]
    cpu = dict(cpu_base) if cpu_base else None
    if cpu:
        for key in ("launch_ms", "ms_per_flop", "ms_per_byte"):
            cpu[key] = cpu[key] * cpu_slowdown
    extra = {
        "dataset_sha256": file_sha256(NB201_CSV),
        "measurement_kind": "whole-model latency",
        "cpu_fallback": "Cortex-A76 base cost" + (f" × {cpu_slowdown}" if cpu_slowdown != 1 else "")
                        + " (a prior: no measured model ran partly on the CPU)",
        "regenerate": "python -m pytest_tflite_latency.bench.profiles",
    }
    return profile_from_records(
        name, records, title, backend, runtime,
        "NAS-Bench-201 networks measured by nn-Meter (shared/data/nnmeter-nasbench201), "
        "built with the project's model writer", cpu_base=cpu, extra=extra)


def build_all() -> dict[str, DeviceProfile]:
    records = nb201_records(list(DEVICES), progress=lambda rows: progress(rows, "building networks"))
    cpu_fit = train.fit_base(records["cortexa76"])
    return {name: build_profile(name, records[name], cpu_fit if DEVICES[name][1] == "gpu" else None)
            for name in DEVICES}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pytest_tflite_latency.bench.profiles", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=PROFILE_DIR, help="where to write the profiles")
    parser.add_argument("--check", action="store_true", help="compare with the files in --out")
    args = parser.parse_args(argv)
    if not NB201_CSV.is_file():
        print(f"error: {NB201_CSV}: shared measurements not found", file=sys.stderr)
        return 2
    differ = []
    for name, profile in build_all().items():
        path = args.out / f"{name}.json"
        tmp = path.with_suffix(".json.tmp")
        args.out.mkdir(parents=True, exist_ok=True)
        profile.save(tmp)
        if args.check:
            same = path.is_file() and path.read_bytes() == tmp.read_bytes()
            tmp.unlink()
            differ += [] if same else [name]
            print(f"{name}: {'identical' if same else 'DIFFERS'}")
        else:
            tmp.replace(path)
            h = profile.provenance["heldout"]
            print(f"{name}: {profile.provenance['regressor']}, held-out MAPE {h['mape_pct']}%, "
                  f"{h['within_10pct']}% within ±10% → {path}")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
