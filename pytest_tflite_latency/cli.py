"""``tflite-latency``: estimate a model's latency, list device profiles, run the bench loop."""

from __future__ import annotations

import argparse
import sys

from pytest_tflite_latency.estimator.errors import EstimatorError
from pytest_tflite_latency.estimator.profile import DEFAULT_DEVICE

EXIT_USAGE = 2


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="tflite-latency",
        description="Estimate the latency of a TensorFlow Lite model on a mobile GPU, layer by layer.",
        epilog="exit codes: 0 ok, 1 failure, 2 bad input or usage")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    e = sub.add_parser("estimate", help="estimate a .tflite model's latency on a device",
                       description="Print the estimated latency of MODEL, in total and per kernel.")
    e.add_argument("model", metavar="MODEL.tflite")
    e.add_argument("--device", default=DEFAULT_DEVICE,
                   help=f"bundled profile name or profile .json path (default: {DEFAULT_DEVICE})")
    e.add_argument("--format", choices=("table", "csv", "json"), default="table")
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


def _estimate(args) -> int:
    from pytest_tflite_latency.estimator.pipeline import estimate
    from pytest_tflite_latency.estimator.report import render

    sys.stdout.write(render(estimate(args.model, args.device), args.format))
    return 0


def _devices(args) -> int:
    from pytest_tflite_latency.estimator.profile import device_names, load_profile
    from pytest_tflite_latency.estimator.report import render_devices

    sys.stdout.write(render_devices([load_profile(n) for n in device_names()], args.format))
    return 0


def _example(args) -> int:
    from pytest_tflite_latency.bench import zoo

    data = zoo.build(args.name, dtype=args.dtype)
    try:
        with open(args.output, "wb") as f:
            f.write(data)
    except OSError as exc:
        raise EstimatorError(f"{args.output}: cannot write: {exc.strerror}") from None
    print(f"wrote {args.output} ({len(data) / 1e6:.1f} MB, {args.name}, {args.dtype})")
    return 0


def _bench(args) -> int:
    from pytest_tflite_latency.bench.cli import main as bench_main
    from pytest_tflite_latency.bench.db import DatabaseError

    try:
        return bench_main(args)
    except DatabaseError as exc:
        raise EstimatorError(str(exc)) from None


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    handler = {"estimate": _estimate, "devices": _devices, "example": _example, "bench": _bench}[args.command]
    try:
        return handler(args)
    except EstimatorError as exc:
        print(f"tflite-latency: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
