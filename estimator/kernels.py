"""graph → kernels: group ops into the kernels a runtime really launches.

GPU backend (TFLite GPU delegate): constant sub-graphs folded (`folding`), ops the delegate refuses
(`delegate_rules`) or that lie outside its largest partition (`partition`) left on the CPU, the rest built
into the kernels it launches (`fusion`). CPU backend: every op is its own kernel. Ops of subgraphs run by
control flow are CPU kernels, counted once.
"""

from __future__ import annotations

from .folding import fold_constants
from .fusion import build_kernels
from .graph import Graph, Op
from .kernel_types import Backend, Kernel, KernelGraph, RunsOn
from .loops import trip_count
from .ops import CONTROL_FLOW, KINDS, KernelKind, kind_of
from .partition import place_on_gpu

__all__ = ["KINDS", "Backend", "Kernel", "KernelGraph", "KernelKind", "RunsOn", "group_kernels"]


def group_kernels(graph: Graph, backend: Backend = "gpu", max_partitions: int = 1) -> KernelGraph:
    """Kernels of the main subgraph (plus control-flow bodies on the CPU) for ``backend``."""
    if backend == "xnnpack":  # the CPU with TFLite's default delegate: its own module, which imports this one
        from .xnnpack import group_xnnpack

        return group_xnnpack(graph)
    sg, folded = fold_constants(graph.main)
    result = KernelGraph([], list(graph.warnings))
    live = [op for op in sg.ops if op.index not in folded]
    if backend == "gpu":
        on_gpu, result.partitions = place_on_gpu(sg, live, result.warnings, max_partitions)
    else:
        on_gpu = dict.fromkeys((op.index for op in live), False)
    build_kernels(sg, live, on_gpu, backend, result)
    control_flow_bodies(graph, live, result)
    for i, k in enumerate(result.kernels):
        k.index = i
    return result


def control_flow_bodies(graph: Graph, live: list[Op], result: KernelGraph) -> None:
    """Ops of subgraphs run by WHILE / IF / CALL_ONCE run on the CPU: a WHILE loop's body once per iteration
    where the file says how many (`loops.trip_count`, its condition once more), every other body once."""
    seen: set[int] = {0}
    stack = [(op, graph.main, 1) for op in live if op.opcode in CONTROL_FLOW]
    while stack:
        op, caller, runs = stack.pop()
        count = trip_count(graph, caller, op) if op.opcode == "WHILE" else None
        for key in CONTROL_FLOW[op.opcode]:
            s = op.options.get(key)
            if not isinstance(s, int) or s in seen or not 0 <= s < len(graph.subgraphs):
                continue
            seen.add(s)
            sub = graph.subgraphs[s]
            times = runs * (count + (key == "CondSubgraphIndex")) if count is not None else runs
            result.warnings.append(_body_warning(s, sub.name, op.opcode, len(sub.ops), times, count))
            for body_op in sub.ops:
                out = sub.tensors[body_op.outputs[0]] if body_op.outputs else None
                result.kernels.append(Kernel(
                    0, kind_of(body_op.opcode), [body_op], "CPU",
                    [sub.tensors[i] for i in body_op.inputs if i >= 0 and not sub.tensors[i].is_const],
                    [sub.tensors[i] for i in body_op.inputs if i >= 0 and sub.tensors[i].is_const],
                    out, f"in subgraph {s}" + (f", ×{times}" if times != 1 else ""), runs=times))
                if body_op.opcode in CONTROL_FLOW:
                    stack.append((body_op, sub, times))


def _body_warning(s: int, name: str, opcode: str, ops: int, times: int, count: int | None) -> str:
    head = f"subgraph {s} ('{name}') run by {opcode}: {ops} ops estimated on the CPU"
    if count is not None:
        return f"{head}, {times}× per inference (the loop's count of {count}, read from its condition)"
    if opcode == "WHILE":
        return f"{head}, counted once: the file does not say how many times the loop runs"
    return f"{head}, counted once"
