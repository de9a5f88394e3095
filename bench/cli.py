"""``tflite-latency bench``: measure kernels and models, store them, train and export profiles.

Argument parsing and dispatch only: the measurement loop (`bench.measure`), job planning
(`bench.planning`), the NAS-Bench-201 importer (`bench.nb201_import`), export (`bench.export`) and
calibration (`bench.calibrate_command`) live in modules of their own. Every expected fault is an
`EstimatorError` (one line, exit 2), raised here or below; nothing prints its own error.
"""

from __future__ import annotations

import sys
from pathlib import Path

from pytest_tflite_latency.estimator.errors import EstimatorError
from pytest_tflite_latency.estimator.inputs import whole_number

DEFAULT_DB = "tflite-latency-bench.sqlite"
KERNEL_TYPES = ("conv", "dwconv", "fc", "pool", "elementwise", "concat", "resize", "reduce", "softmax")


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
    r.add_argument("--kernels", default=",".join(KERNEL_TYPES), help="kernel types to sample, comma-separated")
    r.add_argument("--from-models", nargs="*", metavar="ZOO_MODEL",
                   help="also sample the layers of these zoo networks (none named: all)")
    r.add_argument("--limit", type=whole_number(), help="measure at most this many kernels (a seeded random subset)")
    r.add_argument("--adaptive", type=whole_number(), metavar="N",
                   help="pick N kernels where a forest trained on the database disagrees most")
    r.add_argument("--coverage", type=whole_number(), metavar="N",
                   help="pick N kernels spread evenly over the sampled configurations (the set `calibrate` "
                        "trains a phone's profile from; 300 with --grid full --from-models is about ten minutes)")
    r.add_argument("--models", nargs="*", default=[], metavar="MODEL.tflite",
                   help="whole models to measure: .tflite files, or folders holding them")
    r.add_argument("--repeats", type=whole_number(), default=15, help="timed runs per model (default 15)")
    r.add_argument("--seed", type=whole_number(0), default=0, help="seed of the random sampling (default 0)")
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
    from pytest_tflite_latency.bench.calibrate_command import add_arguments

    add_arguments(bs.add_parser("calibrate", help="alias of `tflite-latency calibrate`"))
    s = bs.add_parser("status", help="what the database holds")
    db(s)


READS_ONLY = ("train", "export", "status")  # steps that need an existing database


def main(args) -> int:
    """Run one bench step; expected faults raise `EstimatorError` (one line, exit 2)."""
    if args.bench_command == "calibrate":
        from pytest_tflite_latency.bench.calibrate_command import run

        return run(args)
    import sqlite3

    from pytest_tflite_latency.bench.db import Database, DatabaseError, check_readable

    if args.bench_command in READS_ONLY:
        check_readable(args.db)
    out = getattr(args, "out", None)
    if args.bench_command == "export" and out is not None and Path(out).is_dir():  # before the cross-validation
        raise EstimatorError(f"--out: {out}: a folder; name the profile's .json file")
    if args.bench_command == "run" and args.runner == "local":
        import ai_edge_litert  # noqa: F401  (the bench extra: missing, it is named before a database is made)
    with Database(args.db) as database:
        handler = {"run": _run, "import-nb201": _import, "train": _train, "export": _export,
                   "status": _status}[args.bench_command]
        try:
            return handler(args, database)
        except sqlite3.DatabaseError as exc:  # corrupt pages show only when they are read
            if isinstance(exc, sqlite3.OperationalError) and "readonly" in str(exc):  # readable, not writable
                raise DatabaseError(f"{args.db}: cannot write the measurement database ({exc}); the commands "
                                    "that only read it (status, train, export) still can") from None
            raise DatabaseError(f"{args.db}: damaged measurement database ({exc})") from None


def _runner(args):
    from pytest_tflite_latency.bench.runners import AdbRunner, LocalRunner

    if args.runner == "local":
        return LocalRunner(repeats=args.repeats)
    from pytest_tflite_latency.adb import DeviceError

    try:
        return AdbRunner(args.serial, args.benchmark_binary, use_gpu=not args.no_gpu)
    except DeviceError as exc:
        raise EstimatorError(str(exc)) from None


def _read_models(paths: list[str]) -> list[tuple[str, bytes]]:
    """The bytes of each ``--models`` file, a folder standing for the ``.tflite`` files under it (as in
    ``calibrate --models``); one that cannot be read (or a FIFO, never waited on) or is no model the estimator
    reads is an `EstimatorError` naming the file, before anything is measured."""
    from pytest_tflite_latency.estimator.graph import MAX_FILE_BYTES, load_graph
    from pytest_tflite_latency.estimator.inputs import read_regular_file

    out = []
    for path in paths:
        folder = Path(path)
        files = [str(f) for f in sorted(folder.rglob("*.tflite"))] if folder.is_dir() else [path]
        if not files:
            raise EstimatorError(f"--models: {path}: a folder with no .tflite file under it")
        for f in files:
            try:
                data = read_regular_file(f, MAX_FILE_BYTES, ".tflite file")
                load_graph(data, f)
                out.append((f, data))
            except EstimatorError as exc:
                raise EstimatorError(f"--models: {exc}") from None
    return out


def _run(args, database) -> int:
    from pytest_tflite_latency.bench.measure import MAX_CONSECUTIVE_FAILURES, Job, measure_jobs
    from pytest_tflite_latency.bench.planning import kernel_types, plan_kernels

    models = _read_models(args.models)
    types = kernel_types(args.kernels)
    runner = _runner(args)
    device_id = database.device(args.device_name, runner.name, runner.backend, runner.runtime,
                                runner.runtime_version, runner.detail)
    configs = plan_kernels(types, args.grid, args.from_models, limit=args.limit, adaptive=args.adaptive,
                           coverage=args.coverage,
                           seed=args.seed, database=database, device=args.device_name)
    jobs = [Job("kernel", c.type, c.params, c.key, c.build) for c in configs]
    jobs += [Job("model", "model", {"path": str(path)}, Path(path).name, lambda d=data: d) for path, data in models]
    try:
        counts = measure_jobs(database, runner, device_id, jobs, f"measuring on {args.device_name}")
    except KeyboardInterrupt:
        print("\ninterrupted; re-run the same command to resume", file=sys.stderr)
        return 130
    finally:
        runner.close()
    print(f"{args.device_name}: {counts.measured} measured, {counts.skipped} already in {args.db}, "
          f"{counts.failed} failed")
    if counts.stopped:
        print(f"tflite-latency bench: error: stopping after {MAX_CONSECUTIVE_FAILURES} failures in a row;"
              " re-run the same command to resume", file=sys.stderr)
        return 1
    return 0


def _import(args, database) -> int:
    from pytest_tflite_latency.bench.dataset import NB201_CSV
    from pytest_tflite_latency.bench.nb201_import import import_nb201

    networks, devices = import_nb201(database, Path(args.csv) if args.csv else NB201_CSV)
    print(f"imported {networks} networks × {devices} devices into {args.db}")
    return 0


def _train(args, database) -> int:
    from pytest_tflite_latency.bench import crossval, train
    from pytest_tflite_latency.bench.export import device_records
    from pytest_tflite_latency.bench.metrics import summarize

    records, _ = device_records(database, args.device_name)
    backend = database.device_info(args.device_name)["backend"]
    algorithms = [args.algorithm] if args.algorithm else list(train.ALGORITHMS)
    print(f"{args.device_name}: {len(records)} measurements, {crossval.FOLDS}-fold cross-validation")
    for algorithm in algorithms:
        s = summarize(crossval.cross_validate(records, algorithm, backend))
        print(f"  {algorithm:14s} MAPE {s['mape_pct']:6.2f}%  within ±10% {s['within_10pct']:5.1f}%  "
              f"within ±25% {s['within_25pct']:5.1f}%")
    return 0


def _export(args, database) -> int:
    from pytest_tflite_latency.bench.export import export_profile

    out = args.out or Path(f"{args.device_name}.json")
    profile = export_profile(database, args.device_name, args.algorithm, out)
    h = profile.provenance["heldout"]
    print(f"{out}: {profile.provenance['regressor']}, held-out MAPE {h['mape_pct']}%, "
          f"{h['within_10pct']}% within ±10%; use it with --device {out}")
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
