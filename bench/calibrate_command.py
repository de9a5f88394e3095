"""tflite-latency calibrate (alias: tflite-latency bench calibrate): a profile for your phone from a
few whole-model measurements.

    tflite-latency calibrate run1.txt run2.txt ... --models models/ --gpu mali-g715 --name pixel8-gpu
    tflite-latency calibrate measured.csv --models models/ --gpu adreno750 --out profiles/s24-gpu.json
    tflite-latency calibrate --suggest 5 --models models/      # which models to measure first

Measurements: benchmark_model logs, Qualcomm AI Hub profile JSON, a CSV model,ms[,std,runtime], the
JSON that pytest --on-device writes, or a measurement database (--db with --device-name). A database
that also holds single-kernel measurements of the phone's GPU (bench run --runner adb --coverage 300)
gives a profile trained on its own kernels:

    tflite-latency calibrate --db tflite-latency-bench.sqlite --device-name pixel8-gpu --gpu mali-g715

The profile written states what it was calibrated from and its own leave-one-out error; commit it and
use it with --device profiles/pixel8-gpu.json.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pytest_tflite_latency.bench.export import save_profile
from pytest_tflite_latency.bench.kernel_calibration import MIN_KERNELS
from pytest_tflite_latency.estimator.errors import EstimatorError
from pytest_tflite_latency.estimator.wording import counted

GPU_HELP = ("the phone's GPU: a vendor (adreno, mali, apple, powervr), a GPU (adreno750, mali-g715, apple-a17, "
            "powervr-ge8320) or auto (default): chooses which bundled profiles the calibration starts from")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.description = __doc__
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.add_argument("measurements", nargs="*", metavar="MEASUREMENTS",
                   help="benchmark_model logs, AI Hub profile JSON, CSV (model,ms[,std,runtime]) or "
                        "on-device measurements JSON")
    p.add_argument("--models", nargs="+", type=Path, default=[], action="extend", metavar="PATH",
                   help="the measured .tflite files, or folders holding them")
    p.add_argument("--db", help="also take the measurements of --device-name from this measurement database")
    p.add_argument("--device-name", "--name", dest="name", default=None,
                   help="the new profile's name (default: my-phone-gpu), e.g. pixel8-gpu")
    p.add_argument("--gpu", default="auto", help=GPU_HELP)
    p.add_argument("--from", dest="source", default="auto",
                   help="start from this bundled profile (name or .json) instead of the GPU's")
    p.add_argument("--out", type=Path, help="profile path (default NAME.json)")
    p.add_argument("--suggest", type=int, metavar="N",
                   help="list the N models of --models that inform a calibration most, and stop")


def run(args) -> int:
    from pytest_tflite_latency.bench import calibrate
    from pytest_tflite_latency.estimator.devices import gpu_family
    from pytest_tflite_latency.estimator.inputs import checked_number

    try:
        family = gpu_family(args.gpu)
    except ValueError as exc:
        raise EstimatorError(f"--gpu: {exc}") from None
    if args.suggest is not None:
        n = int(checked_number(args.suggest, "--suggest", low=1, high=1000, integer=True))
        return _suggest(args.models, n, family)
    records, kernels, measured, described = _records(args)
    _warn_of_cpu_logs(measured)
    name = args.name or "my-phone-gpu"
    sources = calibrate.sources_for(family, args.source)
    phone = next((m.phone for m in measured if m.phone), "")
    if len(kernels) >= MIN_KERNELS:
        return _kernel_route(args, kernels, records, sources, name, family, described)
    result = calibrate.calibrate_from(sources, records, name, family, phone)
    out = args.out or Path(f"{name}.json")
    save_profile(result.profile, out)
    cal = result.profile.provenance["calibration"]
    h = result.profile.provenance["heldout"]
    print(f"{args.gpu}: {cal['source']} is the starting point (of {', '.join(cal['sources_considered'])})")
    print(f"{out}: calibrated from {cal['source']} on {len(records)} measured models ({described})")
    print(f"  scales {', '.join(f'{k} ×{v:.3g}' for k, v in cal['scales'].items())}")
    if h.get("mape_pct") is None:
        print("  leave-one-out error: not stated (see the warning)")
    else:
        print(f"  leave-one-out over the {h['models']} measurements: {h['within_10pct']:.0f}% within ±10%, "
              f"MAPE {h['mape_pct']:.1f}%, {h['interval_coverage_pct']:.0f}% inside the interval")
    for warning in result.warnings:
        print(f"  warning: {warning}")
    print(f"  expected on unseen models: about {cal['expected']['within_10pct']:.0f}% within ±10%, as measured "
          f"with {cal['expected']['n']} models, the nearest point at or below your {len(records)} on the curve of "
          "bench.calibration_curve (median over the six shared phones)")
    print(f"  use it with --device {out}")
    return 0


def _records(args):
    """The measured models as training records, and a short account of where they came from."""
    import numpy as np

    from pytest_tflite_latency.bench.dataset import Record, model_features
    from pytest_tflite_latency.bench.measurement_sources import read_measurements, resolve_models

    records: list[Record] = []
    kernels: list[Record] = []
    described = []
    found = []
    if args.measurements:
        for path in args.measurements:
            found += read_measurements(path)
        by_file = resolve_models(found, args.models)
        for path, ms in by_file.items():
            X, learned = model_features(path, "gpu")
            records.append(Record(path.stem, X, float(np.median([m.mean_ms for m in ms])), learned))
        described.append(f"{counted(len(found), 'measurement')} in {counted(len(args.measurements), 'file')}")
    if args.db:
        stored = _db_records(args)
        records += [r for r in stored if r.kind == "model"]
        kernels = [r for r in stored if r.kind == "kernel"]
        described.append(f"database {args.db}")
    if not records and not kernels:
        raise EstimatorError("calibrate: no measurements given (files, or --db with --device-name)")
    if not records:  # single kernels only, too few for the kernel route: they stand in as tiny models
        records, kernels = kernels, []
    return records, kernels, found, "; ".join(described)


def _warn_of_cpu_logs(measured) -> None:
    """A benchmark_model run that shows no GPU delegate (no ``Use gpu: [1]``, no "GPU delegate created")
    most likely timed the CPU: say so before a GPU profile is made from it."""
    cpu = [m.source for m in measured if m.runtime == "benchmark_model (cpu)"]
    if cpu:
        print(f"warning: {counted(len(cpu), 'benchmark_model run')} ({', '.join(cpu[:3])}"
              f"{', …' if len(cpu) > 3 else ''}) show no GPU delegate (--use_gpu=true); a CPU's timings make "
              "a wrong GPU profile", file=sys.stderr)


def _db_records(args):
    from pytest_tflite_latency.bench.db import Database
    from pytest_tflite_latency.bench.export import device_records

    if not Path(args.db).is_file():
        raise EstimatorError(f"{args.db}: no such measurement database (bench run or import-nb201 creates one)")
    if not args.name:
        raise EstimatorError("--db: name the device whose measurements to use with --device-name")
    with Database(args.db) as database:
        records, _ = device_records(database, args.name)
        info = database.device_info(args.name)
    if info["backend"] != "gpu":  # its kernels are the CPU's (XNNPACK), not the GPU delegate's
        raise EstimatorError(f"--device-name: {args.name} was measured on the CPU ({info['runtime']}); calibrate "
                             "starts from the bundled GPU profiles, so train this CPU's own profile instead: "
                             f"tflite-latency bench export --db {args.db} --device-name {args.name} "
                             f"--out {args.name}.json")
    return records


def _kernel_route(args, kernels, networks, sources, name: str, family, described: str) -> int:
    """`bench.kernel_calibration`: a profile trained on the phone's own single-kernel measurements."""
    from pytest_tflite_latency.bench.kernel_calibration import MIN_MODELS, calibrate_kernels

    if len(networks) < MIN_MODELS:
        raise EstimatorError(f"calibrate: {counted(len(kernels), 'single-kernel measurement')} of {args.name} but "
                             f"{counted(len(networks), 'whole model')}; measure at least {MIN_MODELS} whole models "
                             "too (bench run --models ...): they fit the per-inference overhead and pick the route")
    profile, warnings = calibrate_kernels(kernels, networks, sources, name, family)
    out = args.out or Path(f"{name}.json")
    save_profile(profile, out)
    c, h = profile.provenance["calibration"], profile.provenance["heldout"]
    print(f"{out}: from {len(kernels)} single-kernel and {len(networks)} whole-model measurements ({described})")
    print(f"  served: {c['route']} ({c['route_text']}), by the rule chosen on the six shared phones "
          f"({c['candidate']}); leave-one-out MAPE over the measured models: "
          + ", ".join(f"{k} {v:.1f}%" for k, v in c["loo_mape_pct"].items()))
    if h.get("mape_pct") is not None:
        print(f"  leave-one-out over the {h['models']} models: {h['within_10pct']:.0f}% within ±10%, "
              f"{h['interval_coverage_pct']:.0f}% inside the interval")
    for warning in warnings:
        print(f"  warning: {warning}")
    print(f"  expected on unseen models: {c['expected']} (bench.kernel_calibration, 300 kernels and 10 models)")
    print(f"  use it with --device {out}")
    return 0


def _suggest(paths: list[Path], n: int, family) -> int:
    from pytest_tflite_latency.bench import calibrate
    from pytest_tflite_latency.bench.dataset import Record, model_features

    files = sorted({f for p in paths for f in (sorted(p.rglob("*.tflite")) if p.is_dir() else [p])})
    if not files:
        raise EstimatorError("--suggest: name your models (files or folders) with --models")
    records, readable = [], []
    for f in files:
        try:
            X, learned = model_features(f, "gpu")
        except EstimatorError as exc:  # one broken file in a folder of models: say so, suggest among the rest
            print(f"skipped: {exc}", file=sys.stderr)
            continue
        records.append(Record(f.stem, X, 0.0, learned))
        readable.append(f)
    if not records:
        raise EstimatorError("--suggest: none of the models given could be read")
    picked = calibrate.suggest(calibrate.sources_for(family, "auto"), records, n)
    for i, (f, name) in enumerate(picked):
        print(f"{i + 1:3d}. {readable[f]}  ({name})")
    if len(picked) < min(n, len(records)):
        print(f"only {len(picked)} of the {len(records)} models differ in their kernels; each of the others has "
              "the same kernels as one listed (a float16 twin, a copy) and would only repeat its measurement",
              file=sys.stderr)
    return 0

