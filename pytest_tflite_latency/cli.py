"""``tflite-latency``: estimate a model's latency, list device profiles, run the bench loop."""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from pytest_tflite_latency.estimator.defaults import DEFAULT_DEVICE, GPU_ALIASES, PRECISIONS
from pytest_tflite_latency.estimator.errors import EstimatorError
from pytest_tflite_latency.estimator.inputs import whole_number

BENCH_COMMANDS = ("bench", "calibrate")  # the commands whose options bench/cli.py declares
BENCH_HELP = "measure kernels on a phone or this host, train and export profiles"
PROFILES_HELP = ("a folder of the team's own (calibrated) profiles, repeatable: --device NAME finds DIR/NAME.json "
                 "there first (as latency_profiles in pytest)")
CALIBRATE_HELP = "a profile for your phone from a few measured models"
PRECISION_HELP = ("what the app's GPU delegate computes in: fp16 where it allows precision loss (as "
                  "benchmark_model does, and as the stock profiles measured), fp32 otherwise (GpuDelegate's "
                  "default). Where it differs from the profile's, the estimate keeps the profile's precision and "
                  "says so in a warning (default: the profile's). GPU devices only: a CPU device times the "
                  "model's own precision (-cpu float32, -cpu-int8 int8) and warns that this does not apply")


class _Version(argparse.Action):
    """``--version``, looked up only when asked for (reading package metadata costs ~80 ms)."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, help=None):
        super().__init__(option_strings, dest, nargs=0, default=default, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        sys.stdout.write(f"{parser.prog} {_version()}\n")
        parser.exit()


def _device_help() -> str:
    from pytest_tflite_latency.estimator.registry import device_names

    aliases = ", ".join(f"{a} ({n})" for a, n in GPU_ALIASES.items())
    return (f"a bundled profile: {', '.join(device_names())}; a GPU's name: {aliases}; or a profile .json "
            f"file. `tflite-latency devices` describes each (default: {DEFAULT_DEVICE})")


def _parser(with_bench: bool = True) -> argparse.ArgumentParser:
    """The CLI's parser; ``with_bench=False`` leaves out the bench steps' options (they import NumPy)."""
    p = argparse.ArgumentParser(
        prog="tflite-latency",
        description="Estimate the latency of a TensorFlow Lite model on a phone's GPU or CPU, layer by layer.",
        epilog="exit codes: 0 ok, 1 failure, 2 bad input or usage")
    p.add_argument("--version", action=_Version, help="print the version and exit")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    e = sub.add_parser("estimate", help="estimate a .tflite model's latency on a device",
                       description="Print the estimated latency of MODEL, in total and per kernel.")
    e.add_argument("model", metavar="MODEL.tflite", help="the TensorFlow Lite model to estimate")
    e.add_argument("--device", default=DEFAULT_DEVICE, help=_device_help())
    e.add_argument("--profiles", default=[], action="append", metavar="DIR", help=PROFILES_HELP)
    e.add_argument("--precision", choices=PRECISIONS, help=PRECISION_HELP)
    e.add_argument("--format", choices=("table", "csv", "json", "html", "model-explorer", "model-explorer-kernels"),
                   default="table",
                   help="table (default): the kernels and a summary by op type for a terminal; csv, json: every "
                        "kernel's figures; html: a self-contained page; model-explorer: node data for Google's Model "
                        "Explorer, each kernel's time on its main op (it adds up to the total less the per-inference "
                        "overhead); model-explorer-kernels: each op with its whole kernel's time")
    e.add_argument("-o", "--output", metavar="PATH", help="write to PATH instead of standard output")
    e.add_argument("--top", type=whole_number(), metavar="N", help="table: only the N costliest kernels")
    f = sub.add_parser("diff", help="compare the estimates of two models, kernel by kernel",
                       description="Total before and after, and the kernels that appeared, disappeared or "
                                   "changed cost, largest change first.")
    f.add_argument("old", metavar="OLD.tflite", help="the model before the change")
    f.add_argument("new", metavar="NEW.tflite", help="the model after the change")
    f.add_argument("--device", default=DEFAULT_DEVICE, help=_device_help())
    f.add_argument("--old-device", metavar="DEVICE",
                   help="estimate OLD.tflite on this device instead (as --device): a float32 model on pixel4-cpu "
                        "against its int8 twin on pixel4-cpu-int8")
    f.add_argument("--profiles", default=[], action="append", metavar="DIR", help=PROFILES_HELP)
    f.add_argument("--precision", choices=PRECISIONS, help=PRECISION_HELP)
    f.add_argument("--format", choices=("text", "json", "html"), default="text",
                   help="text (default) for a terminal, json, or a self-contained html page")
    f.add_argument("-o", "--output", metavar="PATH", help="write to PATH instead of standard output")
    d = sub.add_parser("devices", help="list the bundled device profiles and their accuracy",
                       description="One line per bundled profile (and per team profile given with --profiles): "
                                   "phone, GPU, runtime and its error on networks of families it never trained on; "
                                   "-v for what each learned from.")
    d.add_argument("--profiles", nargs="+", default=[], action="extend", metavar="PATH",
                   help="also list the team's own profiles: .json files, or folders holding them (as "
                        "--latency-profiles / latency_profiles in pytest)")
    d.add_argument("--format", choices=("table", "csv", "json"), default="table",
                   help="table (default) for a terminal; csv and json give every field")
    d.add_argument("-v", "--verbose", action="store_true",
                   help="the long form: training data, all error figures, GPU names that select each profile")
    z = sub.add_parser("example", help="write a reference model (MobileNet, ResNet, NAS-Bench-201)",
                       description="Write a model from the project's zoo with its own model writer: a real "
                                   ".tflite file to try the estimator and the pytest plugin on.")
    z.add_argument("name", choices=("mobilenet_v1", "mobilenet_v2", "resnet18", "nasbench201"),
                   help="which network: MobileNet V1, MobileNet V2 or ResNet-18 (224×224 input), or a "
                        "NAS-Bench-201 cell network")
    z.add_argument("output", metavar="OUT.tflite", help="where to write the model")
    z.add_argument("--dtype", choices=("float32", "float16", "int8"), default="float32",
                   help="weights in float32 (default), float16 (with DEQUANTIZE ops, as TFLite's float16 "
                        "quantization writes them) or int8 (quantized)")
    if with_bench:
        from pytest_tflite_latency.bench.calibrate_command import add_arguments
        from pytest_tflite_latency.bench.cli import add_parser

        add_parser(sub)
        # `tflite-latency calibrate`, the documented name of `bench calibrate`, dispatched as that step
        top = sub.add_parser("calibrate", help=CALIBRATE_HELP)
        add_arguments(top)
        top.set_defaults(command="bench", bench_command="calibrate")
    else:  # placeholders that list the commands; each is built in full when it is the one run
        sub.add_parser("calibrate", help=CALIBRATE_HELP, add_help=False)
        sub.add_parser("bench", help=BENCH_HELP, add_help=False)
    return p


def _version() -> str:
    from importlib import metadata

    try:
        return metadata.version("pytest-tflite-latency")
    except metadata.PackageNotFoundError:  # run from a checkout that was never installed
        return "(not installed)"


def _output_is_no_input(args) -> None:
    """``-o`` naming a model the command reads would replace it with the report: refused before anything runs."""
    output = getattr(args, "output", None)
    inputs = [getattr(args, name, None) for name in ("model", "old", "new")]
    for model in (m for m in inputs if m is not None):
        if output is not None and Path(output).exists() and Path(model).exists() and \
                Path(output).resolve() == Path(model).resolve():
            raise EstimatorError(f"-o {output}: that is the model {model} itself; write the report elsewhere")


def _emit(text: str, output: str | None) -> None:
    """Write ``text`` to ``output``, or to standard output when no path is given."""
    if output is None:
        sys.stdout.write(text)
        return
    _write(output, text.encode())


def _write(path: str, data: bytes) -> None:
    try:
        with open(path, "wb") as f:
            f.write(data)
    except OSError as exc:
        raise EstimatorError(f"{path}: cannot write: {exc.strerror}") from None


def _terminal_width() -> int:
    """Columns of the terminal (``COLUMNS`` when set; 80 when there is none)."""
    return shutil.get_terminal_size((80, 24)).columns


def _estimate(args) -> int:
    from pytest_tflite_latency.estimator.pipeline import estimate

    est = estimate(args.model, _device(args), precision=args.precision)
    if args.format in ("html", "model-explorer", "model-explorer-kernels"):
        from pytest_tflite_latency.estimator.graph import load_graph

        graph = load_graph(args.model)
        if args.format == "html":
            from pytest_tflite_latency.estimator.html_report import render_html

            _emit(render_html(est, graph), args.output)
        else:
            from pytest_tflite_latency.estimator.model_explorer import render_node_data

            _emit(render_node_data(est, graph, "charged" if args.format == "model-explorer" else "kernel"),
                  args.output)
        return 0
    from pytest_tflite_latency.estimator.report import render

    _emit(render(est, args.format, args.top, _terminal_width()), args.output)
    return 0


def _device(args):
    """``--device``, a team profile's name found in the ``--profiles`` folders first (as pytest's
    ``latency_profiles``)."""
    if not args.profiles:
        return args.device
    from pytest_tflite_latency.estimator.profile import load_profile

    for folder in args.profiles:
        if not Path(folder).is_dir():
            raise EstimatorError(f"--profiles: {folder}: not a folder")
    return load_profile(args.device, search_dirs=tuple(args.profiles))


def _diff(args) -> int:
    from pytest_tflite_latency.estimator.diff import diff_estimates, render
    from pytest_tflite_latency.estimator.pipeline import estimate

    device = _device(args)
    old_device = _device(argparse.Namespace(device=args.old_device, profiles=args.profiles)) if args.old_device \
        else device
    d = diff_estimates(estimate(args.old, old_device, precision=args.precision),
                       estimate(args.new, device, precision=args.precision))
    _emit(render(d, args.format, _terminal_width()), args.output)
    return 0


def _devices(args) -> int:
    from pytest_tflite_latency.estimator.profile import device_names, load_profile
    from pytest_tflite_latency.estimator.report import render_devices

    profiles = [load_profile(n) for n in device_names()] + _team_profiles(args.profiles)
    sys.stdout.write(render_devices(profiles, args.format, _terminal_width(), verbose=args.verbose))
    return 0


def _team_profiles(paths: list[str]) -> list:
    """The profiles named, a folder standing for the profiles among its ``*.json``: another JSON kept
    beside them (the measurements a profile was calibrated from) is skipped with a note, as the
    plugin's ``latency_profiles`` lookup never reads it; a file named outright must be a profile."""
    from pytest_tflite_latency.estimator.errors import ProfileError
    from pytest_tflite_latency.estimator.profile import load_profile

    profiles = []
    for text in paths:
        path = Path(text)
        if path.is_dir():
            for f in sorted(path.glob("*.json")):
                try:
                    profiles.append(load_profile(f))
                except ProfileError as exc:
                    print(f"skipped: {exc}", file=sys.stderr)
        elif path.suffix == ".json":
            profiles.append(load_profile(path))
        else:
            raise EstimatorError(f"--profiles: {text}: neither a profile .json file nor a folder")
    return profiles


def _example(args) -> int:
    from pytest_tflite_latency.bench import zoo

    data = zoo.build(args.name, dtype=args.dtype)
    _write(args.output, data)
    print(f"wrote {args.output} ({len(data) / 1e6:.1f} MB, {args.name}, {args.dtype})")
    return 0


def _bench(args) -> int:
    from pytest_tflite_latency.bench.cli import main as bench_main
    from pytest_tflite_latency.bench.db import DatabaseError
    from pytest_tflite_latency.bench.extras import missing_extra

    try:
        return bench_main(args)
    except DatabaseError as exc:
        raise EstimatorError(str(exc)) from None
    except ModuleNotFoundError as exc:
        step = "calibrate" if args.bench_command == "calibrate" else f"bench {args.bench_command}"
        message = missing_extra(exc, step)
        if message is None:
            raise
        raise EstimatorError(message) from None


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    command = next((a for a in argv if not a.startswith("-")), None)
    args = _parser(with_bench=command in BENCH_COMMANDS).parse_args(argv)
    handler = {"estimate": _estimate, "diff": _diff, "devices": _devices, "example": _example,
               "bench": _bench}[args.command]
    try:
        _output_is_no_input(args)
        return handler(args)
    except EstimatorError as exc:
        print(f"tflite-latency: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
