"""``tflite-latency bench``: measure kernels and models, store them, train and export profiles."""

from __future__ import annotations

import hashlib
import random
import sys
from pathlib import Path

import numpy as np

from pytest_tflite_latency.estimator.errors import EstimatorError

DEFAULT_DB = "tflite-latency-bench.sqlite"
MAX_CONSECUTIVE_FAILURES = 5


def add_parser(sub) -> None:
    b = sub.add_parser("bench", help="measure kernels on a phone or this host, train and export profiles",
                       description="Measure kernels and models, store them, train and export device profiles.")
    bs = b.add_subparsers(dest="bench_command", required=True, metavar="STEP")

    def db(p):
        p.add_argument("--db", default=DEFAULT_DB, help=f"measurement database (default {DEFAULT_DB})")

    r = bs.add_parser("run", help="measure single-kernel models (and whole models) on a device")
    db(r)
    r.add_argument("--runner", choices=("local", "adb"), required=True,
                   help="local: LiteRT on this host's CPU (the bench extra); adb: benchmark_model on a phone")
    r.add_argument("--device-name", required=True, help="name of the profile to build, e.g. pixel8-gpu")
    r.add_argument("--serial", help="adb serial (default: the only attached phone)")
    r.add_argument("--benchmark-binary", help="TFLite benchmark_model built for the phone (adb runner)")
    r.add_argument("--no-gpu", action="store_true", help="adb runner: measure the CPU, not the GPU delegate")
    r.add_argument("--grid", choices=("small", "full", "none"), default="small",
                   help="which single-kernel configurations to sample: small (default), full, or none")
    r.add_argument("--kernels", default=",".join(("conv", "dwconv", "fc", "pool", "elementwise", "concat",
                                                   "resize", "reduce", "softmax")),
                   help="kernel types to sample, comma-separated")
    r.add_argument("--from-models", nargs="*", metavar="ZOO_MODEL",
                   help="also sample the layers of these zoo networks (none named: all)")
    r.add_argument("--limit", type=int, help="measure at most this many kernels (a seeded random subset)")
    r.add_argument("--adaptive", type=int, metavar="N",
                   help="pick N kernels where a forest trained on the database disagrees most")
    r.add_argument("--models", nargs="*", default=[], metavar="MODEL.tflite", help="whole models to measure")
    r.add_argument("--repeats", type=int, default=15, help="timed runs per model (default 15)")
    r.add_argument("--seed", type=int, default=0, help="seed of the random sampling (default 0)")
    i = bs.add_parser("import-nb201", help="import the published NAS-Bench-201 measurements")
    db(i)
    i.add_argument("--csv", help="measurements.csv (default: bench/data/nnmeter-nasbench201/measurements.csv)")
    for name, text in (("train", "cross-validate the regressors on a device's measurements"),
                       ("export", "train and write the device profile (JSON)")):
        t = bs.add_parser(name, help=text)
        db(t)
        t.add_argument("--device-name", required=True, help="the device whose measurements to learn from")
        t.add_argument("--algorithm", choices=("xgboost", "random_forest", "decision_tree"), default=None,
                       help="the correction trees' regressor (default: each one, compared by cross-validation)")
        if name == "export":
            t.add_argument("--out", type=Path, help="profile path (default NAME.json)")
    c = bs.add_parser("calibrate", help="few-shot: rescale an existing profile with a few whole-model runs")
    db(c)
    c.add_argument("--from", dest="source", required=True,
                   help="profile to start from (name or .json), or auto: the bundled GPU profile that fits best")
    c.add_argument("--device-name", required=True, help="name of the calibrated profile and of its measurements")
    c.add_argument("--out", type=Path, help="profile path (default NAME.json)")
    s = bs.add_parser("status", help="what the database holds")
    db(s)


READS_ONLY = ("train", "export", "calibrate", "status")  # steps that need an existing database


def main(args) -> int:
    """Run one bench step; expected faults raise `EstimatorError` (one line, exit 2)."""
    import sqlite3

    from pytest_tflite_latency.bench.db import Database, DatabaseError

    if args.bench_command in READS_ONLY and not Path(args.db).is_file():
        raise EstimatorError(f"{args.db}: no such measurement database (bench run or import-nb201 creates one)")
    if args.bench_command == "run" and args.runner == "local":
        import ai_edge_litert  # noqa: F401  (the bench extra: missing, it is named before a database is made)
    with Database(args.db) as database:
        handler = {"run": _run, "import-nb201": _import, "train": _train, "export": _export,
                   "calibrate": _calibrate, "status": _status}[args.bench_command]
        try:
            return handler(args, database)
        except sqlite3.DatabaseError as exc:  # corrupt pages show only when they are read
            raise DatabaseError(f"{args.db}: damaged measurement database ({exc})") from None


def _features(data: bytes) -> dict:
    from pytest_tflite_latency.bench.dataset import model_features

    return {b: model_features(data, b) for b in ("gpu", "cpu")}


def _runner(args):
    from pytest_tflite_latency.bench.runners import AdbRunner, LocalRunner

    if args.runner == "local":
        return LocalRunner(repeats=args.repeats)
    return AdbRunner(args.serial, args.benchmark_binary, use_gpu=not args.no_gpu)


def _plan(args, database):
    from pytest_tflite_latency.bench import sampling

    types = tuple(t.strip() for t in args.kernels.split(",") if t.strip())
    unknown = set(types) - set(sampling.KERNEL_TYPES)
    if unknown:
        raise EstimatorError(f"--kernels: unknown kernel type(s) {', '.join(sorted(unknown))}; "
                             f"known: {', '.join(sampling.KERNEL_TYPES)}")
    configs = sampling.grid(types, args.grid) if args.grid != "none" else []
    if args.from_models is not None:
        names = tuple(args.from_models) or ("mobilenet_v1", "mobilenet_v2", "resnet18")
        configs += [c for c in sampling.from_models(names) if c.type in types]
    if args.adaptive:
        feats = {c.key: _features(c.build())[database.device_info(args.device_name)["backend"]][0][0]
                 for c in configs}
        known = database.records(args.device_name, kind="kernel")
        X = np.vstack([r.X[0] for r in known]) if known else np.zeros((0, len(next(iter(feats.values())))))
        y = np.array([r.mean_ms for r in known])
        configs = sampling.adaptive(configs, X, y, feats, args.adaptive, args.seed)
    elif args.limit is not None and len(configs) > args.limit:
        configs = random.Random(args.seed).sample(configs, args.limit)
    return configs


def _read_models(paths: list[str]) -> list[tuple[str, bytes]]:
    """The bytes of each ``--models`` file; one that cannot be read is an `EstimatorError`."""
    out = []
    for path in paths:
        try:
            out.append((path, Path(path).read_bytes()))
        except OSError as exc:
            raise EstimatorError(f"--models: {path}: cannot read ({exc.strerror})") from None
    return out


def _run(args, database) -> int:
    from pytest_tflite_latency.adb import DeviceError

    models = _read_models(args.models)
    try:
        runner = _runner(args)
    except DeviceError as exc:
        print(f"tflite-latency bench: error: {exc}", file=sys.stderr)
        return 2
    device_id = database.device(args.device_name, runner.name, runner.backend, runner.runtime,
                                runner.runtime_version, runner.detail)
    jobs = [("kernel", c.type, c.params, c.key, c.build) for c in _plan(args, database)]
    for path, data in models:
        jobs.append(("model", "model", {"path": str(path)}, Path(path).name, lambda d=data: d))
    try:
        counts = measure_jobs(database, runner, device_id, jobs, f"measuring on {args.device_name}")
    except KeyboardInterrupt:
        print("\ninterrupted; re-run the same command to resume", file=sys.stderr)
        return 130
    finally:
        runner.close()
    print(f"{args.device_name}: {counts['measured']} measured, {counts['skipped']} already in {args.db}, "
          f"{counts['failed']} failed")
    if counts["stopped"]:
        print(f"tflite-latency bench: error: stopping after {MAX_CONSECUTIVE_FAILURES} failures in a row;"
              " re-run the same command to resume", file=sys.stderr)
        return 1
    return 0


def measure_jobs(database, runner, device_id: int, jobs: list, label: str) -> dict[str, int]:
    """Measure each (kind, kernel type, config, name, build) job not yet stored, storing each result
    or error as it comes; stops after MAX_CONSECUTIVE_FAILURES failures in a row."""
    from pytest_tflite_latency.adb import DeviceError
    from pytest_tflite_latency.bench.progress import progress

    counts = {"measured": 0, "skipped": 0, "failed": 0, "stopped": 0}
    failures_in_a_row = 0
    for kind, ktype, params, name, build in progress(jobs, label):
        data = build()
        sha = hashlib.sha256(data).hexdigest()
        model_id = database.model(sha, kind, ktype, params, name, _features(data))
        if database.done(device_id, model_id):
            counts["skipped"] += 1
            continue
        try:
            database.record(device_id, model_id, runner.measure(data, sha[:16]))
            counts["measured"] += 1
            failures_in_a_row = 0
        except DeviceError as exc:
            database.record(device_id, model_id, error=str(exc))
            counts["failed"] += 1
            failures_in_a_row += 1
            print(f"\n{name}: {exc}", file=sys.stderr)
            if failures_in_a_row >= MAX_CONSECUTIVE_FAILURES:
                counts["stopped"] = 1
                break
    return counts


def _import(args, database) -> int:
    from pytest_tflite_latency.adb import Measurement
    from pytest_tflite_latency.bench.dataset import NB201_CSV, NB201_DEVICES, nb201_rows
    from pytest_tflite_latency.bench.nasbench201 import build
    from pytest_tflite_latency.bench.profiles import NNMETER
    from pytest_tflite_latency.bench.progress import progress

    path = Path(args.csv) if args.csv else NB201_CSV
    if not path.is_file():
        print(f"tflite-latency bench: error: {path}: no such file", file=sys.stderr)
        return 2
    spec = {v[0]: v for v in NNMETER.values()}  # dataset column → (column, title, backend, runtime, ...)
    ids = {d: database.device(d, "published", spec[d][2], spec[d][3], "2.1", spec[d][1]) for d in NB201_DEVICES}
    rows = nb201_rows(path)
    for row in progress(rows, "importing NAS-Bench-201"):
        data = build(row["arch_str"], fill="zeros")
        model_id = database.model(hashlib.sha256(data).hexdigest(), "model", "nasbench201",
                                  {"arch": row["arch_str"]}, f"nb201-{row['nb201_id']}", _features(data))
        for device, (column, _) in NB201_DEVICES.items():
            m = Measurement(float(row[column]), float(row[column.replace("_ms", "_std_ms")]), 0)
            database.record(ids[device], model_id, m)
    print(f"imported {len(rows)} networks × {len(ids)} devices into {args.db}")
    return 0


def _records(database, device: str):
    from pytest_tflite_latency.bench.dataset import Record

    stored = database.records(device)
    if not stored:
        known = sorted({r["device"] for r in database.status()})
        raise EstimatorError(f"--device-name: no measurements of {device!r} in {database.path} "
                             f"(devices there: {', '.join(known) or 'none'})")
    return [Record(r.name, r.X, r.mean_ms, r.learned, kind=r.kind) for r in stored], stored


def _train(args, database) -> int:
    from pytest_tflite_latency.bench import profiles, train

    records, _ = _records(database, args.device_name)
    backend = database.device_info(args.device_name)["backend"]
    algorithms = [args.algorithm] if args.algorithm else list(train.ALGORITHMS)
    print(f"{args.device_name}: {len(records)} measurements, {profiles.FOLDS}-fold cross-validation")
    for algorithm in algorithms:
        s = profiles.summarize(profiles.cross_validate(records, algorithm, backend))
        print(f"  {algorithm:14s} MAPE {s['mape_pct']:6.2f}%  within ±10% {s['within_10pct']:5.1f}%  "
              f"within ±25% {s['within_25pct']:5.1f}%")
    return 0


def _export(args, database) -> int:
    from pytest_tflite_latency.bench.profiles import profile_from_records

    records, stored = _records(database, args.device_name)
    info = database.device_info(args.device_name)
    kinds = {r.kind for r in stored}
    profile = profile_from_records(
        args.device_name, records, title=f"{args.device_name} ({info['detail']})", backend=info["backend"],
        runtime=f"{info['runtime']} {info['runtime_version']}",
        trained_on=f"{len(stored)} measurements ({', '.join(sorted(kinds))}) in {database.path.name}",
        algorithms=[args.algorithm] if args.algorithm else None)
    out = args.out or Path(f"{args.device_name}.json")
    profile.save(out)
    h = profile.provenance["heldout"]
    print(f"{out}: {profile.provenance['regressor']}, held-out MAPE {h['mape_pct']}%, "
          f"{h['within_10pct']}% within ±10%; use it with --device {out}")
    return 0


def _calibrate(args, database) -> int:
    from pytest_tflite_latency.bench.calibrate import best_source, calibrate
    from pytest_tflite_latency.estimator.profile import device_names, load_profile

    records, _ = _records(database, args.device_name)
    if args.source == "auto":
        gpu = [p for p in map(load_profile, device_names()) if p.backend == "gpu"]
        source = best_source(gpu, records)
        print(f"auto: {source.name} predicts these measurements best")
    else:
        source = load_profile(args.source)
    profile = calibrate(source, records, args.device_name)
    out = args.out or Path(f"{args.device_name}.json")
    profile.save(out)
    print(f"{out}: {source.name} calibrated on {len(records)} measurements of {args.device_name}: "
          f"{profile.provenance['calibration']}")
    return 0


def _status(args, database) -> int:
    rows = database.status()
    if not rows:
        print(f"{args.db}: empty")
        return 0
    print(f"{args.db}:")
    for r in rows:
        print(f"  {r['device']:14s} {r['runner']:9s} {r['kind']:6s} {r['status']:5s} {r['count']:6d}  "
              f"({r['runtime']} {r['runtime_version']})")
    for device in sorted({r["device"] for r in rows if r["status"] == "error"}):
        for source, error in database.errors(device, 3):
            print(f"  last errors on {device}: {source}: {error}")
    return 0
