"""graph → kernels: group ops into the kernels a runtime really launches.

GPU backend (TFLite GPU delegate), following `delegates/gpu/common/transformations` and
`tools/versioning/gpu_compatibility.cc`:
- ops the delegate cannot run stay on the CPU; only the largest delegate partition runs on the GPU
  (the delegate's default ``max_delegated_partitions = 1``); every tensor crossing a GPU/CPU
  boundary is a copy, modelled as a ``transfer`` kernel;
- constant sub-graphs (fp16 weights → DEQUANTIZE) are folded, no-op reshapes removed, PAD merged
  into the convolution or pooling it feeds;
- element-wise ops (activations, ADD, MUL ...) are linked into the kernel producing their input
  when that kernel's output has no other consumer.
CPU backend: every op is its own kernel.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
from pytest_tflite_latency.estimator.graph import Graph, Op, Subgraph, Tensor

ELEMENTWISE = frozenset({
    "ABS", "ADD", "ATAN2", "CAST", "CEIL", "COS", "DEQUANTIZE", "DIV", "ELU", "EQUAL", "EXP",
    "FLOOR", "FLOOR_DIV", "FLOOR_MOD", "GELU", "GREATER", "GREATER_EQUAL", "HARD_SWISH",
    "LEAKY_RELU", "LESS", "LESS_EQUAL", "LOG", "LOGICAL_AND", "LOGISTIC", "MAXIMUM", "MINIMUM", "MUL",
    "NEG", "NOT_EQUAL", "POW", "PRELU", "QUANTIZE", "RELU", "RELU6", "RELU_N1_TO_1", "RSQRT",
    "SELECT", "SELECT_V2", "SIGN", "SIN", "SQRT", "SQUARE", "SQUARED_DIFFERENCE", "SUB", "TANH",
    "STABLEHLO_CLAMP",
})
_KIND = {
    "CONV_2D": "conv", "DEPTHWISE_CONV_2D": "dwconv", "TRANSPOSE_CONV": "convtrans",
    "FULLY_CONNECTED": "fc", "BATCH_MATMUL": "fc", "AVERAGE_POOL_2D": "pool", "MAX_POOL_2D": "pool",
    "MEAN": "reduce", "SUM": "reduce", "REDUCE_MAX": "reduce", "REDUCE_MIN": "reduce",
    "REDUCE_PROD": "reduce", "CONCATENATION": "concat", "PACK": "concat", "ADD_N": "elementwise",
    "RESIZE_BILINEAR": "resize", "RESIZE_NEAREST_NEIGHBOR": "resize", "SOFTMAX": "softmax",
    **{op: "layout" for op in ("RESHAPE", "TRANSPOSE", "SPLIT", "SPLIT_V", "SLICE", "STRIDED_SLICE",
                               "PAD", "PADV2", "MIRROR_PAD", "TILE", "DEPTH_TO_SPACE",
                               "SPACE_TO_DEPTH", "GATHER", "SQUEEZE", "EXPAND_DIMS")},
    **{op: "elementwise" for op in ELEMENTWISE},
}
KINDS = ("conv", "dwconv", "convtrans", "fc", "pool", "reduce", "elementwise", "concat", "layout",
         "resize", "softmax", "other", "transfer")
_GPU_OPS = frozenset(ELEMENTWISE | {
    "ADD_N", "AVERAGE_POOL_2D", "BATCH_MATMUL", "CONCATENATION", "CONV_2D", "CUMSUM", "DENSIFY",
    "DEPTHWISE_CONV_2D", "DEPTH_TO_SPACE", "DYNAMIC_UPDATE_SLICE", "EMBEDDING_LOOKUP",
    "FULLY_CONNECTED", "GATHER", "LSTM", "MAX_POOL_2D", "MEAN", "MIRROR_PAD", "ONE_HOT", "PACK", "PAD",
    "PADV2", "REDUCE_MAX", "REDUCE_MIN", "REDUCE_PROD", "RESHAPE", "RESIZE_BILINEAR",
    "RESIZE_NEAREST_NEIGHBOR", "SLICE", "SOFTMAX", "SPACE_TO_DEPTH", "SPLIT", "SPLIT_V",
    "STRIDED_SLICE", "SUM", "TILE", "TRANSPOSE", "TRANSPOSE_CONV",
    "CUSTOM:Convolution2DTransposeBias", "CUSTOM:MaxPoolingWithArgmax2D", "CUSTOM:MaxUnpooling2D",
    "CUSTOM:Resampler",
})
_GPU_DTYPES = frozenset({"float32", "float16", "int8", "uint8", "bool"})
_CONTROL_FLOW = {"WHILE": ("CondSubgraphIndex", "BodySubgraphIndex"),
                 "IF": ("ThenSubgraphIndex", "ElseSubgraphIndex"),
                 "CALL_ONCE": ("InitSubgraphIndex",), "CALL": ("Subgraph",)}
_SIGN_BIT = 5  # ActivationFunctionType.SIGN_BIT: the only fused activation the delegate refuses


@dataclass
class Kernel:
    """One launched kernel: a main op plus the ops linked into it, and where it runs."""

    index: int
    kind: str
    ops: list[Op]
    runs_on: str  # "GPU" | "CPU" | "copy"
    inputs: list[Tensor]  # runtime tensors it reads
    weights: list[Tensor]  # constant tensors it reads
    output: Tensor | None
    note: str = ""
    linked: tuple[str, ...] = ()  # the delegate's names of the ops linked in (fused activations too)
    runs_as: str = ""  # the op the delegate runs when it rewrote the main op (``FULLY_CONNECTED``)

    @property
    def op_names(self) -> tuple[str, ...]:
        return tuple(o.opcode for o in self.ops) or ("TRANSFER",)

    @property
    def main_op(self) -> Op | None:
        """The op the kernel is built around (after a merged PAD, before linked ops)."""
        return next((o for o in self.ops if not o.opcode.startswith("PAD")), self.ops[0] if self.ops else None)


@dataclass
class KernelGraph:
    kernels: list[Kernel]
    warnings: list[str] = field(default_factory=list)
    partitions: int = 0


def kind_of(opcode: str) -> str:
    return _KIND.get(opcode, "other")


def group_kernels(graph: Graph, backend: str = "gpu", max_partitions: int = 1) -> KernelGraph:
    """Kernels of the main subgraph (plus control-flow bodies on the CPU) for ``backend``."""
    if backend == "xnnpack":  # the CPU with TFLite's default delegate: its own module, which imports this one
        from pytest_tflite_latency.estimator.xnnpack import group_xnnpack

        return group_xnnpack(graph)
    sg, folded = _fold_constants(graph.main)
    result = KernelGraph([], list(graph.warnings))
    live = [op for op in sg.ops if op.index not in folded]
    if backend == "gpu":
        on_gpu = _placement(sg, live, result, max_partitions)
    else:
        on_gpu = dict.fromkeys((op.index for op in live), False)
    _build(sg, live, on_gpu, backend, result)
    _control_flow_bodies(graph, live, result)
    for i, k in enumerate(result.kernels):
        k.index = i
    return result


def _fold_constants(sg: Subgraph) -> tuple[Subgraph, set[int]]:
    """Ops whose inputs are all constant (e.g. fp16 weights → DEQUANTIZE) are folded away;
    their outputs become constant tensors. Returns the subgraph so marked and the folded ops."""
    const = {t.index for t in sg.tensors if t.is_const}
    folded = set()
    for op in sg.ops:
        ins = [i for i in op.inputs if i >= 0]
        if ins and all(i in const for i in ins) and not op.opcode.startswith("CUSTOM:"):
            folded.add(op.index)
            const.update(op.outputs)
    tensors = [t if t.is_const or t.index not in const else replace(t, is_const=True)
               for t in sg.tensors]
    return replace(sg, tensors=tensors), folded


def gpu_support(sg: Subgraph, op: Op) -> str:
    """Why the GPU delegate refuses ``op`` ("" when it accepts it)."""
    if op.opcode not in _GPU_OPS:
        return f"{op.opcode} is not supported by the GPU delegate"
    runtime = [sg.tensors[i] for i in (*op.inputs, *op.outputs) if i >= 0 and not sg.tensors[i].is_const]
    for t in runtime:
        if t.dtype not in _GPU_DTYPES and op.opcode not in ("CAST", "GATHER", "EMBEDDING_LOOKUP"):
            return f"{op.opcode} on a {t.dtype} tensor stays on the CPU"
        if len(t.shape) > 4 and op.opcode not in ("RESHAPE",):
            return f"{op.opcode} on a {len(t.shape)}-D tensor stays on the CPU"
    check = _CHECKS.get(op.opcode)
    return check(sg, op) if check else ""


def _check_binary(sg: Subgraph, op: Op) -> str:
    ins = [i for i in op.inputs if i >= 0]
    if len(ins) != 2:
        return f"{op.opcode} needs two inputs"
    a, b = (sg.tensors[i].shape for i in ins)
    try:
        np.broadcast_shapes(a, b)
    except ValueError:
        return f"{op.opcode} cannot broadcast {list(a)} with {list(b)}"
    if op.opcode == "MUL" and len(a) == len(b) and any(x < y for x, y in zip(a, b, strict=True)) \
            and any(y < x for x, y in zip(a, b, strict=True)):
        return "MUL where neither input covers the other is not supported by the GPU delegate"
    return _check_activation(sg, op)


def _check_activation(sg: Subgraph, op: Op) -> str:
    if op.options.get("FusedActivationFunction") == _SIGN_BIT:
        return f"{op.opcode} with a SIGN_BIT activation is not supported by the GPU delegate"
    return ""


def _check_fc(sg: Subgraph, op: Op) -> str:
    if op.options.get("WeightsFormat", 0) != 0:
        return "FULLY_CONNECTED with shuffled weights is not supported by the GPU delegate"
    if not op.inputs or op.inputs[0] < 0 or sg.tensors[op.inputs[0]].is_const:
        return "FULLY_CONNECTED needs a runtime input on the GPU"
    return _check_activation(sg, op)


def _check_axes_const(sg: Subgraph, op: Op) -> str:
    if len(op.inputs) < 2 or op.inputs[1] < 0 or not sg.tensors[op.inputs[1]].is_const:
        return f"{op.opcode} with runtime axes is not supported by the GPU delegate"
    return ""


def _check_softmax(sg: Subgraph, op: Op) -> str:
    return "" if op.options.get("Beta", 1.0) == 1.0 else "SOFTMAX with beta != 1 stays on the CPU"


def _check_slice(sg: Subgraph, op: Op) -> str:
    if op.opcode == "STRIDED_SLICE" and any(op.options.get(m, 0) for m in
                                            ("EllipsisMask", "NewAxisMask", "ShrinkAxisMask")):
        return "STRIDED_SLICE with ellipsis/new-axis/shrink masks stays on the CPU"
    if not op.inputs or op.inputs[0] < 0 or len(sg.tensors[op.inputs[0]].shape) not in (3, 4):
        return f"{op.opcode} supports only 3-D or 4-D tensors on the GPU"
    return ""


_CHECKS = {
    "ADD": _check_binary, "MUL": _check_binary, "SUB": _check_activation, "DIV": _check_activation,
    "CONV_2D": _check_activation, "DEPTHWISE_CONV_2D": _check_activation,
    "FULLY_CONNECTED": _check_fc, "MEAN": _check_axes_const, "SUM": _check_axes_const,
    "REDUCE_MAX": _check_axes_const, "REDUCE_MIN": _check_axes_const,
    "REDUCE_PROD": _check_axes_const, "SOFTMAX": _check_softmax, "SLICE": _check_slice,
    "STRIDED_SLICE": _check_slice,
}


def _placement(sg: Subgraph, live: list[Op], result: KernelGraph, max_partitions: int) -> dict:
    """op index → runs on GPU, keeping only the largest ``max_partitions`` delegate partitions."""
    reasons = {op.index: gpu_support(sg, op) for op in live}
    for op in live:
        if reasons[op.index]:
            result.warnings.append(f"op {op.index} ({reasons[op.index]}): runs on the CPU")
    runs: list[list[int]] = []
    for op in live:
        supported = not reasons[op.index]
        if supported and runs and runs[-1] and not reasons[runs[-1][-1]]:
            runs[-1].append(op.index)
        else:
            runs.append([op.index])
    partitions = sorted((r for r in runs if not reasons[r[0]]), key=len, reverse=True)
    kept = {i for r in partitions[:max_partitions] for i in r}
    for r in partitions[max_partitions:]:
        result.warnings.append(
            f"ops {r[0]}-{r[-1]}: GPU-capable but outside the largest delegate partition "
            f"(max_delegated_partitions={max_partitions}): run on the CPU")
    result.partitions = min(len(partitions), max_partitions)
    return {op.index: op.index in kept for op in live}


def _consumers(sg: Subgraph, live: list[Op]) -> dict[int, int]:
    """Tensor → number of reads (an op reading a tensor twice counts twice, as the delegate's
    linker sees it); graph outputs count as a read."""
    count: dict[int, int] = {}
    for op in live:
        for i in op.inputs:
            if i >= 0:
                count[i] = count.get(i, 0) + 1
    for i in sg.outputs:
        count[i] = count.get(i, 0) + 1
    return count


def _is_noop(sg: Subgraph, op: Op) -> bool:
    if op.opcode not in ("RESHAPE", "SQUEEZE", "EXPAND_DIMS", "QUANTIZE", "DEQUANTIZE") \
            or not op.inputs or op.inputs[0] < 0 or not op.outputs:
        return False
    if op.inputs[0] in op.outputs:
        return False  # an op that reads its own output is no rewrite the delegate can make
    src, dst = sg.tensors[op.inputs[0]], sg.tensors[op.outputs[0]]
    if op.opcode in ("QUANTIZE", "DEQUANTIZE"):
        return True  # the delegate computes in float: runtime (de)quantisation disappears
    return [d for d in src.shape if d != 1] == [d for d in dst.shape if d != 1]


@dataclass
class _Builder:
    """State of one pass over the partitioned ops, in model order."""

    sg: Subgraph
    backend: str
    result: KernelGraph
    consumers: dict[int, int]
    readers: dict[int, list[Op]]  # tensor → ops reading it (for PAD merging)
    producer: dict[int, Kernel] = field(default_factory=dict)  # tensor → kernel writing it
    written_at: dict[int, int] = field(default_factory=dict)  # tensor → position of its kernel
    alias: dict[int, int] = field(default_factory=dict)  # removed no-op output → its input
    pending_pad: dict[int, Op] = field(default_factory=dict)  # PAD output → PAD, merged downstream

    def real(self, i: int) -> int:
        seen = set()
        while i in self.alias and i not in seen:  # aliases can form a cycle in a corrupt graph
            seen.add(i)
            i = self.alias[i]
        return i

    def tensor(self, i: int) -> Tensor:
        return self.sg.tensors[i]


def _build(sg: Subgraph, live: list[Op], on_gpu: dict, backend: str, result: KernelGraph) -> None:
    readers: dict[int, list[Op]] = {}
    for op in live:
        for i in set(op.inputs):
            if i >= 0:
                readers.setdefault(i, []).append(op)
    b = _Builder(sg, backend, result, _consumers(sg, live), readers)
    for op in live:
        gpu = on_gpu[op.index]
        if gpu and _is_noop(sg, op):
            b.alias[op.outputs[0]] = op.inputs[0]
            continue
        if gpu and op.opcode in ("PAD", "PADV2") and op.inputs and op.inputs[0] >= 0 and op.outputs \
                and _feeds_window_op(b, op):
            b.pending_pad[op.outputs[0]] = op
            continue
        if gpu and backend == "gpu" and kind_of(op.opcode) == "elementwise" and _link(b, op):
            continue
        _new_kernel(b, op, gpu)


def _new_kernel(b: _Builder, op: Op, gpu: bool) -> None:
    ins = [b.real(i) for i in op.inputs if i >= 0]
    runtime = [i for i in ins if not b.tensor(i).is_const and i not in b.pending_pad]
    pads = [b.pending_pad.pop(i) for i in ins if i in b.pending_pad]
    runtime += [b.real(p.inputs[0]) for p in pads]
    _add_transfers(b.sg, runtime, gpu, b.producer, b.result, b.backend)
    output = b.tensor(op.outputs[0]) if op.outputs else None
    kernel = Kernel(0, kind_of(op.opcode), [*pads, op], "GPU" if gpu else "CPU",
                    [b.tensor(i) for i in runtime], [b.tensor(i) for i in ins if b.tensor(i).is_const],
                    output)
    if gpu and b.backend == "gpu":
        _rewrite(kernel, op, b.tensor(op.inputs[0]).shape if op.inputs and op.inputs[0] >= 0 else ())
        kernel.linked = _activation(op)
    elif b.backend == "gpu":
        kernel.note = gpu_support(b.sg, op) or "outside the delegate partition"
    b.result.kernels.append(kernel)
    for o in op.outputs:
        b.producer[o] = kernel
        b.written_at[o] = len(b.result.kernels) - 1


def _rewrite(kernel: Kernel, op: Op, src: tuple[int, ...]) -> None:
    """The delegate's own rewrites that change what kernel runs (transformations/
    make_fully_connected, global_pooling_to_reduce_op); ``src`` is the op's own input shape."""
    out = kernel.output.shape if kernel.output is not None else ()
    if len(out) != 4 or len(src) != 4:
        return
    o = op.options
    if op.opcode == "CONV_2D" and src[1:3] == (1, 1) and kernel.weights \
            and tuple(kernel.weights[0].shape[1:3]) == (1, 1) and o.get("StrideH", 1) == 1 \
            and o.get("StrideW", 1) == 1 and len(kernel.ops) == 1:
        kernel.kind, kernel.runs_as = "fc", "FULLY_CONNECTED"
    elif op.opcode == "AVERAGE_POOL_2D" and out[1:3] == (1, 1) and len(kernel.ops) == 1 \
            and o.get("FilterHeight", 0) >= src[1] and o.get("FilterWidth", 0) >= src[2]:
        kernel.kind, kernel.runs_as = "reduce", "MEAN"


_ACTIVATION_NAMES = {1: "relu", 2: "relu", 3: "relu", 4: "tanh"}  # ActivationFunctionType → node


def _activation(op: Op) -> tuple[str, ...]:
    """A fused activation is a node of its own in the delegate's graph, always linked."""
    name = _ACTIVATION_NAMES.get(op.options.get("FusedActivationFunction", 0))
    return (name,) if name else ()


_LINKED_NAMES = {"RELU": "relu", "RELU6": "relu", "RELU_N1_TO_1": "relu", "LOGISTIC": "sigmoid",
                 "HARD_SWISH": "hard_swish", "SQUARED_DIFFERENCE": "squared_diff"}


def linked_name(opcode: str) -> str:
    """The delegate's name of an element-wise op linked into a kernel (``add``, ``relu`` ...)."""
    return _LINKED_NAMES.get(opcode, opcode.lower())


def _link(b: _Builder, op: Op) -> bool:
    """Link ``op`` into the kernel producing its first input, as the delegate's MergeNodes does
    (`gpu_model.cc`): that input has no other reader, it is the op's first input (ADD and MUL
    without broadcasting first reorder their inputs so the latest written comes first), and every
    other input is written no later than that kernel."""
    ins = [b.real(i) for i in op.inputs if i >= 0]
    runtime = [i for i in ins if not b.tensor(i).is_const and i not in b.pending_pad]
    if not runtime or not op.outputs:
        return False
    if len(runtime) > 1 and _associative(b, op, runtime):
        runtime.sort(key=lambda i: b.written_at.get(i, -1), reverse=True)
    first = runtime[0]
    target = b.producer.get(first)
    if target is None or target.runs_on != "GPU" or target.output is None or target.output.index != first \
            or b.consumers.get(first, 0) != 1:
        return False
    position = b.written_at[first]
    if any(b.written_at.get(i, -1) > position for i in runtime[1:]):
        return False
    target.ops.append(op)
    target.inputs += [b.tensor(i) for i in runtime[1:]]
    target.weights += [b.tensor(i) for i in ins if b.tensor(i).is_const]
    target.output = b.tensor(op.outputs[0])
    folded = _folds_into_weights(target, op, runtime)
    target.linked += (() if folded else (linked_name(op.opcode),)) + _activation(op)
    for o in op.outputs:
        b.producer[o] = target
        b.written_at[o] = position
    return True


def _folds_into_weights(target: Kernel, op: Op, runtime: list[int]) -> bool:
    """A MUL or ADD by a constant right after a convolution is folded into its weights and bias
    (transformations/fuse_mul_to_conv, fuse_add_to_conv): no linked op remains."""
    main = target.main_op
    return op.opcode in ("MUL", "ADD") and len(runtime) == 1 and not target.linked \
        and len(target.ops) >= 2 and main is not None \
        and main.opcode in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED") \
        and all(o is main or o.opcode.startswith("PAD") or o.opcode in ("MUL", "ADD") for o in target.ops[:-1])


def _associative(b: _Builder, op: Op, runtime: list[int]) -> bool:
    """ADD or MUL whose runtime inputs all have the output's shape (no broadcasting)."""
    if op.opcode not in ("ADD", "MUL"):
        return False
    out = b.tensor(op.outputs[0]).shape
    return all(b.tensor(i).shape == out for i in runtime)


def _feeds_window_op(b: _Builder, pad: Op) -> bool:
    out = pad.outputs[0]
    if b.consumers.get(out, 0) != 1:
        return False
    nxt = b.readers.get(out, [None])[0]
    return nxt is not None and nxt.opcode in ("CONV_2D", "DEPTHWISE_CONV_2D", "AVERAGE_POOL_2D",
                                              "MAX_POOL_2D") and nxt.inputs[:1] == (out,)


def _add_transfers(sg, runtime, gpu, producer, result: KernelGraph, backend: str) -> None:
    """A copy for each runtime input produced on the other side of a GPU/CPU boundary."""
    if backend != "gpu":
        return
    for i in runtime:
        k = producer.get(i)
        if k is not None and (k.runs_on == "GPU") != gpu:
            t = sg.tensors[i]
            result.kernels.append(Kernel(0, "transfer", [], "copy", [t], [], t,
                                         f"{'GPU→CPU' if not gpu else 'CPU→GPU'} copy of '{t.name}'"))


def _control_flow_bodies(graph: Graph, live: list[Op], result: KernelGraph) -> None:
    """Ops of subgraphs run by WHILE / IF / CALL_ONCE run on the CPU, counted once."""
    seen: set[int] = {0}
    stack = [op for op in live if op.opcode in _CONTROL_FLOW]
    while stack:
        op = stack.pop()
        for key in _CONTROL_FLOW[op.opcode]:
            s = op.options.get(key)
            if not isinstance(s, int) or s in seen or not 0 <= s < len(graph.subgraphs):
                continue
            seen.add(s)
            sub = graph.subgraphs[s]
            result.warnings.append(f"subgraph {s} ('{sub.name}') run by {op.opcode}: "
                                   f"{len(sub.ops)} ops estimated on the CPU, counted once")
            for body_op in sub.ops:
                out = sub.tensors[body_op.outputs[0]] if body_op.outputs else None
                result.kernels.append(Kernel(
                    0, kind_of(body_op.opcode), [body_op], "CPU",
                    [sub.tensors[i] for i in body_op.inputs if i >= 0 and not sub.tensors[i].is_const],
                    [sub.tensors[i] for i in body_op.inputs if i >= 0 and sub.tensors[i].is_const],
                    out, f"in subgraph {s}"))
                if body_op.opcode in _CONTROL_FLOW:
                    stack.append(body_op)
