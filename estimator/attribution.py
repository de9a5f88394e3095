"""Which op a kernel's time is charged to, one rule for every output (the CLI table, the HTML page,
Model Explorer's overlay): the kernel's main op, the one that gives it its kind. A PAD the delegate
folds into the convolution or pooling after it is not the main op (``PAD+CONV_2D`` is charged to
CONV_2D); the other ops fused into a kernel (activations, linked element-wise ops) carry 0 ms, so
the per-op figures add up to the kernels' sum.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from pytest_tflite_latency.estimator.graph import Graph
from pytest_tflite_latency.estimator.pipeline import Estimate, LayerEstimate

FOLDED_PADS = frozenset({"PAD", "PADV2", "MIRROR_PAD"})  # folded into the window op that reads them


def main_position(ops: tuple[str, ...]) -> int:
    """Position in a kernel's ``ops`` of its main op: the first op that is not a pad folded into a
    later op (a kernel of pads alone is its first pad)."""
    for i, name in enumerate(ops):
        if name not in FOLDED_PADS:
            return i
    return 0


def main_op(layer: LayerEstimate) -> str:
    """The op type a kernel's time is charged to (its kind where it lists no ops)."""
    return layer.ops[main_position(layer.ops)] if layer.ops else layer.kind


@dataclass(frozen=True)
class OpTypeShare:
    """Kernels of one main op type running on one side, and their time."""

    op: str
    runs_on: str
    kernels: int
    ms: float


def by_op_type(est: Estimate) -> list[OpTypeShare]:
    """Time per main op type and where it runs, costliest first (as benchmark_model's "summary by
    node type"); the per-inference overhead is not in it."""
    groups: dict[tuple[str, str], list[float]] = {}
    for layer in est.layers:
        groups.setdefault((main_op(layer), layer.runs_on), []).append(layer.ms)
    rows = [OpTypeShare(op, on, len(v), math.fsum(v)) for (op, on), v in groups.items()]
    return sorted(rows, key=lambda r: (-r.ms, r.op, r.runs_on))


def op_owners(est: Estimate, graph: Graph) -> dict[int, LayerEstimate]:
    """Each main-subgraph op index → the kernel that runs it. Kernels of control-flow bodies (ops
    of other subgraphs) are told apart by their opcodes not matching the main subgraph's."""
    ops = graph.main.ops
    owners: dict[int, LayerEstimate] = {}
    for layer in est.layers:
        for i, name in zip(layer.op_indices, layer.ops, strict=False):
            if 0 <= i < len(ops) and ops[i].opcode == name:
                owners.setdefault(i, layer)
    return owners


def op_ms(est: Estimate, graph: Graph) -> dict[int, float]:
    """Each main-subgraph op index that a kernel runs → the ms charged to it: the kernel's time on
    its main op (on its first op in this subgraph where the main op is elsewhere), 0 on the ops
    fused into it. Summed, the time of the kernels that run main-subgraph ops."""
    owners = op_owners(est, graph)
    charged = dict.fromkeys(sorted(owners), 0.0)
    owned: dict[int, list[int]] = {}
    for i, layer in owners.items():
        owned.setdefault(id(layer), []).append(i)
    for layer in est.layers:
        mine = owned.get(id(layer))
        if not mine:
            continue
        main = layer.op_indices[main_position(layer.ops)] if len(layer.op_indices) == len(layer.ops) else None
        charged[main if main in mine else min(mine)] = layer.ms if math.isfinite(layer.ms) else 0.0
    return charged
