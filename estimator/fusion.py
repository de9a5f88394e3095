"""The fusion builder: one pass over the placed ops, in model order, that turns them into the kernels the
GPU delegate launches (`delegates/gpu/common/transformations`, `gpu_model.cc`):

- no-op reshapes and runtime (de)quantisation removed;
- a PAD merged into the convolution or pooling it feeds;
- element-wise ops (activations, ADD, MUL ...) linked into the kernel producing their input when that
  kernel's output has no other reader; a MUL or ADD by a constant right after a convolution folded into it;
- the delegate's rewrites that change what runs (1×1 convolution on a 1×1 map → FULLY_CONNECTED, a global
  average pool → MEAN);
- a copy kernel for each tensor crossing a GPU/CPU boundary.
On the CPU backend every op is its own kernel.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .delegate_rules import gpu_support
from .graph import Op, Subgraph, Tensor
from .kernel_types import Backend, Kernel, KernelGraph
from .ops import NOOP_RESHAPES, RUNTIME_QUANTIZATION, WINDOW_OPS, fused_activation, kind_of, linked_name

# transformations/fuse_mul_to_conv, fuse_add_to_conv: a constant MUL or ADD after these joins their weights
FOLDS_INTO_WEIGHTS = frozenset({"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"})


@dataclass
class _Builder:
    """State of one pass over the partitioned ops, in model order."""

    sg: Subgraph
    backend: Backend
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


def build_kernels(sg: Subgraph, live: list[Op], on_gpu: dict[int, bool], backend: Backend,
                  result: KernelGraph) -> None:
    """Append the kernels of ``live`` (placed by ``on_gpu``) to ``result``."""
    readers: dict[int, list[Op]] = {}
    for op in live:
        for i in set(op.inputs):
            if i >= 0:
                readers.setdefault(i, []).append(op)
    b = _Builder(sg, backend, result, read_counts(sg, live), readers)
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


def read_counts(sg: Subgraph, live: list[Op]) -> dict[int, int]:
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
    if op.opcode not in NOOP_RESHAPES | RUNTIME_QUANTIZATION \
            or not op.inputs or op.inputs[0] < 0 or not op.outputs:
        return False
    if op.inputs[0] in op.outputs:
        return False  # an op that reads its own output is no rewrite the delegate can make
    src, dst = sg.tensors[op.inputs[0]], sg.tensors[op.outputs[0]]
    if op.opcode in RUNTIME_QUANTIZATION:
        return True  # the delegate computes in float: runtime (de)quantisation disappears
    return [d for d in src.shape if d != 1] == [d for d in dst.shape if d != 1]


def _new_kernel(b: _Builder, op: Op, gpu: bool) -> None:
    ins = [b.real(i) for i in op.inputs if i >= 0]
    runtime = [i for i in ins if not b.tensor(i).is_const and i not in b.pending_pad]
    pads = [b.pending_pad.pop(i) for i in ins if i in b.pending_pad]
    runtime += [b.real(p.inputs[0]) for p in pads]
    _add_transfers(b, runtime, gpu)
    output = b.tensor(op.outputs[0]) if op.outputs else None
    kernel = Kernel(0, kind_of(op.opcode), [*pads, op], "GPU" if gpu else "CPU",
                    [b.tensor(i) for i in runtime], [b.tensor(i) for i in ins if b.tensor(i).is_const],
                    output)
    if gpu and b.backend == "gpu":
        _rewrite(kernel, op, b.tensor(op.inputs[0]).shape if op.inputs and op.inputs[0] >= 0 else ())
        kernel.linked = fused_activation(op.options)
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
    target.linked += (() if folded else (linked_name(op.opcode),)) + fused_activation(op.options)
    for o in op.outputs:
        b.producer[o] = target
        b.written_at[o] = position
    return True


def _folds_into_weights(target: Kernel, op: Op, runtime: list[int]) -> bool:
    """A MUL or ADD by a constant right after a convolution is folded into its weights and bias
    (transformations/fuse_mul_to_conv, fuse_add_to_conv): no linked op remains."""
    main = target.main_op
    return op.opcode in ("MUL", "ADD") and len(runtime) == 1 and not target.linked \
        and len(target.ops) >= 2 and main is not None and main.opcode in FOLDS_INTO_WEIGHTS \
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
    return nxt is not None and nxt.opcode in WINDOW_OPS and nxt.inputs[:1] == (out,)


def _add_transfers(b: _Builder, runtime: list[int], gpu: bool) -> None:
    """A copy for each runtime input produced on the other side of a GPU/CPU boundary."""
    if b.backend != "gpu":
        return
    for i in runtime:
        k = b.producer.get(i)
        if k is not None and (k.runs_on == "GPU") != gpu:
            t = b.tensor(i)
            b.result.kernels.append(Kernel(0, "transfer", [], "copy", [t], [], t,
                                           f"{'GPU→CPU' if not gpu else 'CPU→GPU'} copy of '{t.name}'"))
