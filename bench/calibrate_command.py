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
import dataclasses
import re
import sys
from pathlib import Path

from pytest_tflite_latency.bench.export import save_profile
from pytest_tflite_latency.bench.kernel_calibration import MIN_KERNELS
from pytest_tflite_latency.estimator.errors import EstimatorError
from pytest_tflite_latency.estimator.wording import counted, expected_accuracy, first_few

GPU_HELP = ("the phone's GPU: a vendor (adreno, mali, apple, powervr), a GPU (adreno750, mali-g715, apple-a17, "
            "powervr-ge8320, 'Adreno (TM) 740') or auto (default: the GPU the on-device records name, else all): "
            "chooses which bundled profiles the calibration starts from")


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
    p.add_argument("--phone", default="",
                   help="the phone's name for `devices` and reports, e.g. 'Pixel 8' (default: the on-device "
                        "records' phone, else the profile's name)")
    p.add_argument("--gpu", default="auto", help=GPU_HELP)
    p.add_argument("--from", dest="source", default="auto",
                   help="start from this bundled profile (name or .json) instead of the GPU's")
    p.add_argument("--out", help="profile path, a .json file or a folder (default NAME.json)")
    p.add_argument("--suggest", type=int, metavar="N",
                   help="list the N models of --models that inform a calibration most, and stop")


def run(args) -> int:
    from pytest_tflite_latency.bench import calibrate
    from pytest_tflite_latency.estimator.devices import gpu_family
    from pytest_tflite_latency.estimator.inputs import checked_number
    from pytest_tflite_latency.estimator.profile import PredictionInterval

    args.gpu = "auto" if args.gpu.strip().lower() == "auto" else args.gpu
    try:
        family = gpu_family(args.gpu)
    except ValueError as exc:
        raise EstimatorError(f"--gpu: {exc}") from None
    if args.suggest is not None:
        n = int(checked_number(args.suggest, "--suggest", low=1, high=1000, integer=True))
        if args.measurements or args.db:
            given = first_few(args.measurements) or args.db
            raise EstimatorError(f"--suggest: lists which models to measure and stops, so the measurements given "
                                 f"({given}) would go unused: run it "
                                 "without them, or calibrate without --suggest")
        return _suggest(args.models, n, family)
    if args.name is not None and not args.name.strip():
        raise EstimatorError("--name: empty: give the profile's name, e.g. pixel8-gpu")
    named_by_out = Path(args.out).stem if args.out and Path(args.out).suffix.lower() == ".json" else None
    name = _checked_name(args.name or named_by_out, args.db)
    out = _checked_out(args.out, name)
    _not_an_input(out, args.measurements)
    naming = _out_name_warning(out, name)
    phone = _checked_phone(args.phone)
    sources = _sources(family, args.source) if args.source != "auto" else []
    records, kernels, measured, described, warnings = _records(args)
    family, gpu_said = _measured_gpu(family, args, measured)
    sources = sources or _sources(family, "auto")
    phone = phone or next((m.phone for m in measured if m.phone), "")
    if len(kernels) >= MIN_KERNELS:
        code = _kernel_route(args, kernels, records, sources, name, family, described, out)
        for warning in naming:
            print(f"  warning: {warning}")
        return code
    result = calibrate.calibrate_from(sources, records, name, family, phone)
    profile, misses = _measured_in_provenance(_with_measured_runtime(result.profile, measured), records)
    _servable(profile, out)
    save_profile(profile, out)
    cal = result.profile.provenance["calibration"]
    h = result.profile.provenance["heldout"]
    print(_starting_point(cal["source"], cal["sources_considered"], args.source != "auto", gpu_said, len(records)))
    print(f"{out}: calibrated from {cal['source']} on {counted(len(records), 'measured model')} ({described})")
    print(f"  scales {', '.join(f'{k} ×{v:.3g}' for k, v in cal['scales'].items())}")
    interval = PredictionInterval.of(result.profile.interval)
    print(f"  {interval.coverage:.0%} interval: {interval.low:+.0%} … {interval.high:+.0%} of the estimate")
    if h.get("mape_pct") is None:
        print("  leave-one-out error: not stated (see the warning)")
    else:
        print(f"  leave-one-out over the {counted(h['models'], 'model')}: {h['within_10pct']:.0f}% within ±10%, "
              f"MAPE {h['mape_pct']:.1f}%, {h['interval_coverage_pct']:.0f}% inside the interval")
    for warning in warnings + _unit_warnings(cal) + result.warnings + misses + naming:
        print(f"  warning: {warning}")
    print(f"  expected on unseen models: {expected_accuracy(cal['expected'], len(records))}")
    print(f"  use it with --device {out}")
    return 0




def _sources(family, source: str) -> list:
    """The bundled GPU profiles the calibration may start from (`calibrate.sources_for`); ``--from`` naming
    a CPU profile, or no profile, is refused: the measurements are the GPU delegate's."""
    from pytest_tflite_latency.bench import calibrate
    from pytest_tflite_latency.estimator.devices import PHONES
    from pytest_tflite_latency.estimator.errors import UnknownDeviceError

    gpu_profiles = ", ".join(p.profile for p in PHONES)
    try:
        sources = calibrate.sources_for(family, source)
    except UnknownDeviceError:
        raise EstimatorError(f"--from: no profile {source!r}: name a bundled GPU profile ({gpu_profiles}), a "
                             "GPU's name or a profile's .json file") from None
    for profile in sources:
        if profile.backend != "gpu":
            raise EstimatorError(f"--from: {profile.name} is not a GPU profile (backend {profile.backend}); calibrate "
                                 f"rescales a GPU profile to your phone's GPU delegate ({gpu_profiles})")
    return sources


_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,63}")


def _checked_name(name: str | None, db: str | None = None) -> str:
    """The new profile's name: a file name (``NAME.json``, and ``device: NAME`` with latency_profiles).
    With ``--db`` it is also the database's device name, which `bench run` took as given: only a path is
    refused there."""
    from pytest_tflite_latency.estimator.defaults import resolve_device
    from pytest_tflite_latency.estimator.registry import device_names

    if name is None:
        return "my-phone-gpu"
    a_path = not name or name != Path(name).name or name.startswith(".")
    if a_path or (not db and not _NAME.fullmatch(name)):
        raise EstimatorError(f"--name: {name!r} is not a profile name: up to 64 letters, digits, '.', '_', '+' "
                             "and '-', e.g. pixel8-gpu")
    if name.lower().endswith(".json"):
        raise EstimatorError(f"--name: {name!r} is a file name: give the profile's name ({name[:-5]}); --out "
                             "says where its .json goes")
    if not db and (resolve_device(name) in device_names() or name.lower() in device_names()):
        raise EstimatorError(f"--name: {name} is a bundled profile's or GPU's name: a team profile of that name "
                             "would stand for the bundled one wherever its folder is given; choose another, e.g. "
                             "pixel8-gpu")
    return name


def _out_name_warning(out: Path, name: str) -> list[str]:
    """A profile file's name is its device name (``device: NAME`` finds ``NAME.json`` in latency_profiles)."""
    if out.stem == name:
        return []
    return [f"--out {out.name} and --name {name} differ: in a folder of profiles (--profiles, latency_profiles) "
            f"a profile is found by its file name, `--device {out.stem}`; name the file {name}.json to find it "
            f"as {name}"]


def _not_an_input(out: Path, measurements: list[str]) -> None:
    """``--out`` never replaces one of the measurement files it is made from."""
    for given in measurements:
        try:
            same = Path(given).exists() and out.exists() and out.resolve() == Path(given).resolve()
        except OSError:
            same = False
        if same:
            raise EstimatorError(f"--out {out}: is one of the measurement files read; write the profile elsewhere")


def _checked_phone(phone: str) -> str:
    """``--phone``: a name to print in `devices` and reports, so no control characters."""
    phone = phone.strip()
    if len(phone) > 64 or any(not c.isprintable() for c in phone):
        raise EstimatorError(f"--phone: {phone[:64]!r} is not a phone's name: up to 64 printable characters, "
                             "e.g. 'Pixel 8'")
    return phone


def _checked_out(given: str | None, name: str) -> Path:
    """Where the profile goes: ``--out`` (a folder, or a path ending in ``/``: ``NAME.json`` in it), else
    ``NAME.json``; a profile is a ``.json`` file, as ``--device`` takes it, so a model or a log is never
    written over."""
    if given is None:
        return Path(f"{name}.json")
    out = Path(given)
    if out.is_dir() or given.endswith(("/", "\\")):
        return out / f"{name}.json"
    if out.suffix != ".json":
        raise EstimatorError(f"--out: {out}: name a .json file (--device takes a profile by its .json path) "
                             "or a folder")
    return out


def _with_measured_runtime(profile, measured):
    """The profile stating the runtime its measurements name (a CSV's runtime column, benchmark_model's
    delegate, the on-device records'), not the source phone's: an Android phone calibrated from the
    iPhone 7 runs no Metal delegate. The kernels' costs remain the source's; the GPU's precision is the
    measurements' where they state it (benchmark_model's ``Allow lower precision in gpu``), else the
    source's."""
    runtimes = sorted({m.runtime for m in measured if m.runtime})
    said = (first_few(runtimes, sep="; ") + " as measured" if runtimes
            else "not stated by the measurements")
    source = profile.provenance["calibrated_from"]
    precision = next((m.precision for m in measured if m.precision), profile.device.compute_precision)
    return dataclasses.replace(profile, runtime=f"{said}; kernels from {source} ({profile.runtime})",
                               device=dataclasses.replace(profile.device, compute_precision=precision))


MISFIT = 0.25  # a measured model the calibration puts further off than this (or than its interval) is named


def _servable(profile, out: Path) -> None:
    """Refuse to write a profile that every other command would refuse to load."""
    import json

    from pytest_tflite_latency.estimator.profile import DeviceProfile

    try:
        DeviceProfile.from_dict(json.loads(json.dumps(profile.to_dict())), str(out))  # as the file will be read
    except EstimatorError as exc:
        raise EstimatorError(f"calibrate: the profile these measurements give would not load ({exc}); are "
                             "the times in milliseconds?") from None


def _measured_in_provenance(profile, records: list) -> tuple:
    """The profile listing the models it was calibrated on and their measured times (what a reader of the
    committed file can check it against), and a warning per model its fit misses by more than its interval
    or `MISFIT`."""
    from pytest_tflite_latency.bench.train import predict

    fitted = predict(records, profile)
    low, high = profile.interval.low, profile.interval.high
    calibration = {**profile.provenance["calibration"],
                   "measured": [{"model": r.name, "ms": round(r.y_ms, 4), "fitted_ms": round(float(f), 4)}
                                for r, f in zip(records, fitted, strict=True)]}
    misses = [f"the calibration puts {r.name} at {f:.3g} ms, {f / r.y_ms - 1:+.0%} off its measured {r.y_ms:.3g} "
              "ms: the group scales cannot fit it with the rest (a budget on it holds the estimate, not the "
              "measurement)" for r, f in zip(records, fitted, strict=True)
              if not max(low, -MISFIT) <= f / r.y_ms - 1 <= min(high, MISFIT)]
    provenance = {**profile.provenance, "calibration": calibration}
    return dataclasses.replace(profile, provenance=provenance), misses


IMPLAUSIBLE_SPEED = 50.0  # the bundled phones' GPUs differ by 15× at most: 50× off the source is a unit slip


def _unit_warnings(cal: dict) -> list[str]:
    """A warning where the phone comes out implausibly faster or slower than its starting point: times
    given in µs or in seconds where milliseconds were meant."""
    import math

    speed = math.exp(sum(math.log(v) for v in cal["scales"].values()) / len(cal["scales"]))
    if speed > IMPLAUSIBLE_SPEED:
        unit = "microseconds"
    elif speed < 1 / IMPLAUSIBLE_SPEED:
        unit = "seconds"
    else:
        return []
    return [f"your phone comes out {speed:.3g}× as slow as {cal['source']}: were the times given in {unit}? "
            "calibrate reads milliseconds (a CSV's ms column)"]


def _measured_gpu(family, args, measured) -> tuple:
    """The GPU family the calibration starts from, and how it was said: ``--gpu``, else (``auto``) the one
    GPU the measurements name (`pytest --on-device` records the phone's GPU), else none."""
    from pytest_tflite_latency.estimator.devices import gpu_family

    if args.gpu != "auto":
        return family, f"--gpu {args.gpu}"
    named = {m.gpu for m in measured if m.gpu}
    if len(named) == 1:
        gpu = named.pop()
        try:
            return gpu_family(gpu), f"the {gpu} the measurements name"
        except ValueError:
            print(f"warning: the measurements name the GPU {gpu!r}, which calibrate cannot place: starting from "
                  "every bundled GPU profile (name its vendor with --gpu)", file=sys.stderr)
    return family, None


def _starting_point(source: str, considered: list[str], from_named: bool, gpu_said: str | None, n: int) -> str:
    """Which bundled profile the calibration rescaled, and why that one (`calibrate.choose_source`: one
    measurement fits every candidate alike, so the first, the nearest, is taken)."""
    if from_named:
        return f"starting point: {source} (--from)"
    if len(considered) == 1:
        return f"starting point: {source}, the bundled profile nearest {gpu_said}"
    listed = ", ".join(considered)
    among = f"those nearest {gpu_said} ({listed})" if gpu_said else f"all GPU profiles ({listed}; --gpu narrows)"
    if n == 1:
        return f"starting point: {source}, the first of {among}: one measurement fits each alike"
    return f"starting point: {source}, of {among} the one your measurements fit best"


def _records(args):
    """The measured models as training records, and a short account of where they came from."""
    import numpy as np

    from pytest_tflite_latency.bench.dataset import Record
    from pytest_tflite_latency.bench.measurement_sources import read_measurements, resolve_models

    records: list[Record] = []
    kernels: list[Record] = []
    described = []
    found = []
    warnings = []
    if args.measurements:
        for path in args.measurements:
            if Path(path).is_dir():
                raise EstimatorError(f"{path}: is a folder, not a measurement file: name the files in it "
                                     f"({Path(path) / '*.txt'}, …)")
            found += read_measurements(path)
        found = _gpu_runs(found)
        _one_setting(found)
        by_file = resolve_models(found, args.models)
        for paths, ms, X, learned in _twins_once(by_file):
            disagree = _disagreeing(paths[0].stem, ms)
            warnings += disagree
            if not disagree:
                records.append(Record(paths[0].stem, X, float(np.median([m.mean_ms for m in ms])), learned))
        if not records:
            raise EstimatorError("calibrate: no measured model is left to calibrate on (each was left out, as said "
                                 "above)")
        described.append(f"{counted(len(found), 'measurement')} in {counted(len(args.measurements), 'file')}")
    if args.db:
        stored = _db_records(args)
        records += [r for r in stored if r.kind == "model"]
        kernels = [r for r in stored if r.kind == "kernel"]
        described.append(f"database {args.db}")
    if not records and not kernels:
        swallowed = [str(m) for m in args.models if m.suffix.lower() not in (".tflite", "") and not m.is_dir()]
        if swallowed:
            raise EstimatorError(f"calibrate: no measurements given: --models took {', '.join(swallowed[:3])} as "
                                 "models (it takes every path after it); name the measurement files before --models")
        raise EstimatorError("calibrate: no measurements given (files, or --db with --device-name)")
    if not records:  # single kernels only, too few for the kernel route: they stand in as tiny models
        records, kernels = kernels, []
    return records, kernels, found, "; ".join(described), warnings


def _gpu_runs(measured: list) -> list:
    """The measurements of the GPU delegate: those that ran on something else (an on-device record of a CPU
    device, a benchmark_model log without ``Use gpu: [1]``, an AI Hub job on the NPU) are named and left
    out, since calibrate makes GPU profiles; none left is an error."""
    other: dict[str, list[str]] = {}
    for m in measured:
        if m.delegate and m.delegate != "gpu":
            label = f"{m.delegate}{' (no Use gpu: [1] line)' if m.delegate_inferred else ''}"
            other.setdefault(label, []).append(m.source)
    if not other:
        return measured
    listed = "; ".join(f"{label}: {first_few(where)}" for label, where in other.items())
    kept = [m for m in measured if not m.delegate or m.delegate == "gpu"]
    if not kept:
        raise EstimatorError(f"calibrate: no measurement given ran the GPU delegate ({listed}); calibrate rescales "
                             "a GPU profile to your phone's GPU delegate (benchmark_model --use_gpu=true), and a "
                             "CPU's own profile is trained with bench export")
    print(f"skipped: {counted(sum(map(len, other.values())), 'measurement')} not of the GPU delegate ({listed}): "
          "calibrate makes GPU profiles", file=sys.stderr)
    return kept


def _one_setting(measured: list) -> None:
    """One phone's GPU delegate in one setting: measurements that name two phones, GPUs, runtimes or GPU
    precisions are refused, each named, rather than fitted together into one confident profile."""
    for what, key in (("phones", "phone"), ("GPUs", "gpu"), ("GPU precisions", "precision"), ("runtimes", "runtime")):
        groups: dict[str, list[str]] = {}
        for m in measured:
            if getattr(m, key):
                groups.setdefault(getattr(m, key), []).append(m.source)
        if len(groups) > 1:
            listed = "; ".join(f"{value!r}: {first_few(where)}" for value, where in groups.items())
            raise EstimatorError(f"calibrate: the measurements name {len(groups)} {what} ({listed}): a profile is "
                                 "one phone's GPU delegate in one setting, so calibrate from one's measurements")


def _twins_once(by_file: dict) -> list[tuple]:
    """The measured files grouped by their kernels, each group (files, measurements, features, learned
    mask): two files of the same kernels (a float16 twin, a copy) are one model to the estimator, counted
    once with both files' measurements."""
    from pytest_tflite_latency.bench.dataset import model_features
    from pytest_tflite_latency.estimator.graph import load_graph

    groups: dict[bytes, tuple] = {}
    for path, ms in by_file.items():
        graph = load_graph(path)
        why = _not_estimated(graph)
        if why:
            print(f"skipped: {path.name}: {why}", file=sys.stderr)
            continue
        X, learned = model_features(graph, "gpu")
        group = groups.setdefault(X.tobytes() + learned.tobytes(), ([], [], X, learned))
        group[0].append(path)
        group[1].extend(ms)
    for paths, *_ in groups.values():
        if len(paths) > 1:
            print(f"counted once: {first_few([p.stem for p in paths])} have the same kernels (a float16 twin, a copy)",
                  file=sys.stderr)
    return list(groups.values())


def _not_estimated(graph) -> str:
    """Why no GPU profile estimates the model ("" when one does): a 16x8-quantized one (int16 activations)
    runs on TensorFlow Lite's builtin int16 kernels, which no profile measured, so its time says nothing of
    the GPU delegate's kernels."""
    from pytest_tflite_latency.estimator.xnnpack import model_precision

    if model_precision(graph) == "int16":
        return ("a 16x8-quantized model (int16 activations): the GPU delegate runs none of it and no profile "
                "estimates it")
    return ""


def _disagreeing(model: str, measured) -> list[str]:
    """A warning where one model's measurements disagree by more than a phone's run-to-run noise (another
    phone, runtime or delegate setting mixed in): that model is left out of the calibration."""
    from pytest_tflite_latency.bench.calibrate import INCONSISTENT_SPREAD

    low = min(measured, key=lambda m: m.mean_ms)
    high = max(measured, key=lambda m: m.mean_ms)
    if high.mean_ms <= low.mean_ms * (1 + INCONSISTENT_SPREAD):
        return []
    return [f"{model} measured {counted(len(measured), 'time')} from {low.mean_ms:.3g} ms ({low.source}) to "
            f"{high.mean_ms:.3g} ms ({high.source}), {high.mean_ms / low.mean_ms - 1:.0%} apart: another phone, "
            "runtime or delegate setting mixed in? Left out of the calibration"]


def _db_records(args):
    from pytest_tflite_latency.bench.db import Database, check_readable
    from pytest_tflite_latency.bench.export import device_records

    check_readable(args.db)
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


def _kernel_route(args, kernels, networks, sources, name: str, family, described: str, out: Path) -> int:
    """`bench.kernel_calibration`: a profile trained on the phone's own single-kernel measurements."""
    from pytest_tflite_latency.bench.kernel_calibration import MIN_MODELS, calibrate_kernels

    if len(networks) < MIN_MODELS:
        raise EstimatorError(f"calibrate: {counted(len(kernels), 'single-kernel measurement')} of {args.name} but "
                             f"{counted(len(networks), 'whole model')}; measure at least {MIN_MODELS} whole models "
                             "too (bench run --models ...): they fit the per-inference overhead and pick the route")
    profile, warnings = calibrate_kernels(kernels, networks, sources, name, family)
    # trained on this phone's kernels: the runtime is what measured them, not the lending profile's (Metal)
    profile = dataclasses.replace(profile, runtime=f"GPU delegate as measured ({described})")
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
    from pytest_tflite_latency.estimator.graph import load_graph

    files = sorted({f for p in paths for f in (sorted(p.rglob("*.tflite")) if p.is_dir() else [p])})
    if not files:
        raise EstimatorError(f"--suggest: no .tflite file in --models {first_few([str(p) for p in paths])}" if paths
                             else "--suggest: name your models (files or folders) with --models")
    records, readable = [], []
    for f in files:
        try:
            graph = load_graph(f)
            why = _not_estimated(graph)
            X, learned = model_features(graph, "gpu")
        except EstimatorError as exc:  # one broken file in a folder of models: say so, suggest among the rest
            print(f"skipped: {exc}", file=sys.stderr)
            continue
        if why:
            print(f"skipped: {f}: {why}", file=sys.stderr)
            continue
        records.append(Record(f.stem, X, 0.0, learned))
        readable.append(f)
    if not records:
        raise EstimatorError("--suggest: none of the models given could be read")
    picked = calibrate.suggest(calibrate.sources_for(family, "auto"), records, n)
    for i, (f, name) in enumerate(picked):
        print(f"{i + 1:3d}. {readable[f]}  ({name})")
    if n > len(records) and len(picked) == len(records):
        print(f"all {counted(len(records), 'model')} given are listed (--suggest {n} asked for more)", file=sys.stderr)
    if len(picked) < min(n, len(records)):
        print(f"only {len(picked)} of the {len(records)} models differ in their kernels; each of the others has "
              "the same kernels as one listed (a float16 twin, a copy) and would only repeat its measurement",
              file=sys.stderr)
    return 0

