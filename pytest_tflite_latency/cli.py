"""``tflite-latency``: estimate a model's latency, list device profiles, run the bench loop."""

from __future__ import annotations

import argparse
import shutil
import sys

from pytest_tflite_latency.estimator.errors import EstimatorError
from pytest_tflite_latency.estimator.profile import DEFAULT_DEVICE

BENCH_MODULES = ("xgboost", "sklearn", "scipy", "ai_edge_litert")  # the bench extra


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="tflite-latency",
        description="Estimate the latency of a TensorFlow Lite model on a mobile GPU, layer by layer.",
        epilog="exit codes: 0 ok, 1 failure, 2 bad input or usage")
    p.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    e = sub.add_parser("estimate", help="estimate a .tflite model's latency on a device",
                       description="Print the estimated latency of MODEL, in total and per kernel.")
    e.add_argument("model", metavar="MODEL.tflite")
    e.add_argument("--device", default=DEFAULT_DEVICE,
                   help=f"bundled profile name or profile .json path (default: {DEFAULT_DEVICE})")
    e.add_argument("--format", choices=("table", "csv", "json", "html", "model-explorer"), default="table",
                   help="html: a self-contained page; model-explorer: node data for Model Explorer")
    e.add_argument("-o", "--output", metavar="PATH", help="write to PATH instead of standard output")
    e.add_argument("--top", type=_positive_int, metavar="N", help="table: only the N costliest kernels")
    f = sub.add_parser("diff", help="compare the estimates of two models, kernel by kernel",
                       description="Total before and after, and the kernels that appeared, disappeared or "
                                   "changed cost, largest change first.")
    f.add_argument("old", metavar="OLD.tflite")
    f.add_argument("new", metavar="NEW.tflite")
    f.add_argument("--device", default=DEFAULT_DEVICE,
                   help=f"bundled profile name or profile .json path (default: {DEFAULT_DEVICE})")
    f.add_argument("--format", choices=("text", "json", "html"), default="text")
    f.add_argument("-o", "--output", metavar="PATH", help="write to PATH instead of standard output")
    d = sub.add_parser("devices", help="list the bundled device profiles and their accuracy")
    d.add_argument("--format", choices=("table", "csv", "json"), default="table")
    z = sub.add_parser("example", help="write a reference model (MobileNet, ResNet, NAS-Bench-201)",
                       description="Write a model from the project's zoo with its own model writer.")
    z.add_argument("name", choices=("mobilenet_v1", "mobilenet_v2", "resnet18", "nasbench201"))
    z.add_argument("output", metavar="OUT.tflite")
    z.add_argument("--dtype", choices=("float32", "float16", "int8"), default="float32")
    from pytest_tflite_latency.bench.cli import add_parser

    add_parser(sub)
    return p


def _version() -> str:
    from importlib import metadata

    try:
        return metadata.version("pytest-tflite-latency")
    except metadata.PackageNotFoundError:  # run from a checkout that was never installed
        return "(not installed)"


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


def _positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {text!r}")
    return int(text)


def _terminal_width() -> int:
    """Columns of the terminal (``COLUMNS`` when set; 80 when there is none)."""
    return shutil.get_terminal_size((80, 24)).columns


def _estimate(args) -> int:
    from pytest_tflite_latency.estimator.pipeline import estimate

    est = estimate(args.model, args.device)
    if args.format in ("html", "model-explorer"):
        from pytest_tflite_latency.estimator.graph import load_graph

        graph = load_graph(args.model)
        if args.format == "html":
            from pytest_tflite_latency.estimator.html_report import render_html as render_graph
        else:
            from pytest_tflite_latency.estimator.model_explorer import render_node_data as render_graph
        _emit(render_graph(est, graph), args.output)
        return 0
    from pytest_tflite_latency.estimator.report import render

    _emit(render(est, args.format, args.top, _terminal_width()), args.output)
    return 0


def _diff(args) -> int:
    from pytest_tflite_latency.estimator.diff import diff_estimates, render
    from pytest_tflite_latency.estimator.pipeline import estimate

    d = diff_estimates(estimate(args.old, args.device), estimate(args.new, args.device))
    _emit(render(d, args.format, _terminal_width()), args.output)
    return 0


def _devices(args) -> int:
    from pytest_tflite_latency.estimator.profile import device_names, load_profile
    from pytest_tflite_latency.estimator.report import render_devices

    sys.stdout.write(render_devices([load_profile(n) for n in device_names()], args.format, _terminal_width()))
    return 0


def _example(args) -> int:
    from pytest_tflite_latency.bench import zoo

    data = zoo.build(args.name, dtype=args.dtype)
    _write(args.output, data)
    print(f"wrote {args.output} ({len(data) / 1e6:.1f} MB, {args.name}, {args.dtype})")
    return 0


def _bench(args) -> int:
    from pytest_tflite_latency.bench.cli import main as bench_main
    from pytest_tflite_latency.bench.db import DatabaseError

    try:
        return bench_main(args)
    except DatabaseError as exc:
        raise EstimatorError(str(exc)) from None
    except ModuleNotFoundError as exc:
        if exc.name not in BENCH_MODULES:
            raise
        raise EstimatorError(f"bench {args.bench_command} needs {exc.name}, from the bench extra: "
                             "pip install 'pytest-tflite-latency[bench]'") from None


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    handler = {"estimate": _estimate, "diff": _diff, "devices": _devices, "example": _example,
               "bench": _bench}[args.command]
    try:
        return handler(args)
    except EstimatorError as exc:
        print(f"tflite-latency: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
