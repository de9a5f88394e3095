"""Where a model's CPU time goes, op by op, on this host's LiteRT against the estimator's XNNPACK kernels.

    python -m pytest_tflite_latency.bench.op_profile bench/data/qed-usc-vit/mit-b0.tflite --device pixel4-cpu

Each op of the main subgraph is cut out into a model of its own (its constant inputs copied, weights a
stripped file lacks restored as zeros) and timed alone on one thread twice: with LiteRT's default XNNPACK
delegate and with TensorFlow Lite's builtin kernels only. The op's host time is the one of the path the
estimator says TensorFlow Lite 2.10 takes (`estimator.xnnpack.xnnpack_support`: XNNPACK where 2.10's
delegate takes the op, the builtin kernel where it does not; today's delegate takes more ops than 2.10's).
Printed per op kind: the host's share of the summed time beside the estimator's share of its estimate on
``--device``; a kind whose host share is far above its estimated share is what the estimator under-prices.
Host shares, not milliseconds, are compared: the host is an x86 server core, not a phone's. One more
caution: the builtin kernels that multiply matrices through ruy (FULLY_CONNECTED, CONV_2D, BATCH_MATMUL)
run ruy's portable C++ path on this x86 build, where phones run its NEON kernels; on the ViTs here the
builtin BATCH_MATMUL takes 25-50× XNNPACK's time, which the phones' whole-model times rule out (DeiT-tiny's
matrix products alone would take longer than the 109 ms the Pixel 4 measured for the whole model). The
reference convolution (grouped CONV_2D) is plain C++ loops on every CPU, so its host time carries over.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pytest_tflite_latency.bench.litert import restore_stripped
from pytest_tflite_latency.estimator.errors import EstimatorError, ModelError
from pytest_tflite_latency.estimator.features import featurize
from pytest_tflite_latency.estimator.graph import load_graph
from pytest_tflite_latency.estimator.predict import kernel_ms
from pytest_tflite_latency.estimator.xnnpack import BACKEND, group_xnnpack, precision_mismatch, xnnpack_support

REPEATS = 5  # each op's time is the least of these invokes (the host's interference comes in bursts)


@dataclass(frozen=True)
class OpTime:
    index: int
    opcode: str
    delegated: bool  # TensorFlow Lite 2.10's XNNPACK delegate takes it (the estimator's rule)
    xnnpack_ms: float
    builtin_ms: float

    @property
    def ms(self) -> float:
        """The time of the path TensorFlow Lite 2.10 takes."""
        return self.xnnpack_ms if self.delegated else self.builtin_ms


def single_op_models(data: bytes) -> list[tuple[int, bytes]]:
    """(op index, a model holding only that op) for every op of the main subgraph of ``data``."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    model = schema.ModelT.InitFromPackedBuf(restore_stripped(data), 0)
    sg = model.subgraphs[0]
    out = []
    for index, op in enumerate(sg.operators or []):
        tensors, buffers, remap = [], [schema.BufferT()], {}
        for t in [*op.inputs, *op.outputs]:
            if t < 0 or t in remap:
                continue
            tensor = sg.tensors[t]
            data_buffer = model.buffers[tensor.buffer] if tensor.buffer > 0 else None
            copy = schema.TensorT.InitFromObj(_packed_tensor(tensor))
            copy.buffer = 0
            if data_buffer is not None and data_buffer.data is not None and len(data_buffer.data):
                buffers.append(data_buffer)
                copy.buffer = len(buffers) - 1
            remap[t] = len(tensors)
            tensors.append(copy)
        one = schema.OperatorT()
        one.opcodeIndex, one.builtinOptionsType, one.builtinOptions = op.opcodeIndex, op.builtinOptionsType, \
            op.builtinOptions
        one.customOptions = op.customOptions
        one.inputs = [remap[t] if t >= 0 else -1 for t in op.inputs]
        one.outputs = [remap[t] for t in op.outputs]
        sub = schema.SubGraphT()
        sub.tensors, sub.operators = tensors, [one]
        sub.inputs = [remap[t] for t in op.inputs if t >= 0 and tensors[remap[t]].buffer == 0]
        sub.outputs = list(one.outputs)
        m = schema.ModelT()
        m.version, m.operatorCodes, m.buffers, m.subgraphs = 3, model.operatorCodes, buffers, [sub]
        builder = flatbuffers.Builder(1024)
        builder.Finish(m.Pack(builder), file_identifier=b"TFL3")
        out.append((index, bytes(builder.Output())))
    return out


def _packed_tensor(tensor):
    """``tensor`` packed and read back (the object API copies a table only through its packed form)."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    builder = flatbuffers.Builder(256)
    builder.Finish(tensor.Pack(builder))
    return schema.Tensor.GetRootAs(builder.Output(), 0)


def time_model(data: bytes, delegate: bool, repeats: int = REPEATS) -> float:
    """Least ms of ``repeats`` invokes on one thread, with the default XNNPACK delegate or builtin kernels only."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    resolver = OpResolverType.AUTO if delegate else OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    it = Interpreter(model_content=data, num_threads=1, experimental_op_resolver_type=resolver)
    it.allocate_tensors()
    it.invoke()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        it.invoke()
        best = min(best, time.perf_counter() - start)
    return 1000.0 * best


def profile_ops(path: Path, repeats: int = REPEATS) -> list[OpTime]:
    """Every op of the model at ``path`` timed alone on this host (see the module's docstring)."""
    graph = load_graph(path)
    sg = graph.main
    out = []
    for index, data in single_op_models(Path(path).read_bytes()):
        op = sg.ops[index]
        out.append(OpTime(index, op.opcode, not xnnpack_support(sg, op),
                          time_model(data, True, repeats), time_model(data, False, repeats)))
    return out


def estimated_by_opcode(path: Path, device: str) -> dict[str, float]:
    """The estimator's ms on ``device`` per opcode of each XNNPACK kernel's main op."""
    from pytest_tflite_latency.estimator.profile import device_names, load_profile

    graph = load_graph(path)
    profile = load_profile(device)
    if profile.backend != BACKEND:
        cpu = ", ".join(n for n in device_names() if load_profile(n).backend == BACKEND)
        raise EstimatorError(f"--device {device}: not an XNNPACK CPU profile (the CPU profiles: {cpu})")
    mismatch = precision_mismatch(graph, profile)
    if mismatch:  # the estimator refuses it too: its shares would be another precision's
        raise ModelError(graph.source, mismatch)
    kernels = group_xnnpack(graph).kernels
    ms = kernel_ms(profile, featurize(kernels, BACKEND), np.full(len(kernels), "CPU"))[0]
    out: dict[str, float] = defaultdict(float)
    for k, t in zip(kernels, ms, strict=True):
        out[_label(k.main_op.opcode, bool(k.note), k.main_op.opcode == "CONV_2D" and _grouped(k))] += float(t)
    return out


def _grouped(kernel) -> bool:
    return bool(kernel.inputs and kernel.weights and len(kernel.weights[0].shape) == 4
                and kernel.inputs[0].shape[-1] != kernel.weights[0].shape[3])


def _label(opcode: str, builtin: bool, grouped: bool = False) -> str:
    return opcode + (" grouped" if grouped else "") + (" (builtin)" if builtin else "")


def table(times: list[OpTime], estimated: dict[str, float], path: Path) -> list[str]:
    """Per op kind: count, host ms on the 2.10 path, host share, estimated share, and the host's time on
    the other path (where the delegate takes the op: builtin; where not: today's XNNPACK)."""
    graph = load_graph(path)
    sg = graph.main
    host: dict[str, list[OpTime]] = defaultdict(list)
    for t in times:
        op = sg.ops[t.index]
        grouped = op.opcode == "CONV_2D" and len(op.inputs) > 1 and \
            sg.tensors[op.inputs[0]].shape[-1:] != sg.tensors[op.inputs[1]].shape[-1:]
        host[_label(t.opcode, not t.delegated, grouped)].append(t)
    total = sum(t.ms for t in times) or 1.0
    est_total = sum(estimated.values()) or 1.0
    lines = [f"{'op kind (path in 2.10)':34s} {'ops':>4s} {'host ms':>8s} {'host %':>7s} {'est. %':>7s} "
             f"{'other path ms':>13s}"]
    for label, ts in sorted(host.items(), key=lambda kv: -sum(t.ms for t in kv[1])):
        ms = sum(t.ms for t in ts)
        other = sum(t.builtin_ms if t.delegated else t.xnnpack_ms for t in ts)
        lines.append(f"{label:34s} {len(ts):4d} {ms:8.2f} {100 * ms / total:6.1f}% "
                     f"{100 * estimated.get(label, 0.0) / est_total:6.1f}% {other:13.2f}")
    lines.append(f"{'all':34s} {len(times):4d} {total:8.2f} {100.0:6.1f}% {100.0:6.1f}%")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pytest_tflite_latency.bench.op_profile", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", type=Path)
    parser.add_argument("--device", default="pixel4-cpu", help="the CPU profile whose per-kernel shares print beside")
    parser.add_argument("--repeats", type=int, default=REPEATS)
    args = parser.parse_args(argv)
    try:
        estimated = estimated_by_opcode(args.model, args.device)
        times = profile_ops(args.model, args.repeats)
    except (EstimatorError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print("\n".join(table(times, estimated, args.model)))
    return 0


if __name__ == "__main__":
    from pytest_tflite_latency.bench.extras import run_script

    sys.exit(run_script(main))
