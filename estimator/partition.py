"""Delegate partitioning: which ops the GPU delegate takes. Only the largest ``max_partitions`` runs of
supported ops are delegated (the delegate's default ``max_delegated_partitions = 1``); the rest stay on the
CPU, with a warning saying why."""

from __future__ import annotations

from .delegate_rules import gpu_support
from .graph import Op, Subgraph


def place_on_gpu(sg: Subgraph, live: list[Op], warnings: list[str], max_partitions: int) -> tuple[dict[int, bool], int]:
    """(op index → runs on the GPU, number of delegate partitions kept); appends why ops stay on the CPU
    to ``warnings``."""
    reasons = {op.index: gpu_support(sg, op) for op in live}
    for op in live:
        if reasons[op.index]:
            warnings.append(f"op {op.index} ({reasons[op.index]}): runs on the CPU")
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
        which = f"op {r[0]}" if len(r) == 1 else f"ops {r[0]}-{r[-1]}"
        warnings.append(
            f"{which}: GPU-capable but outside the largest delegate partition "
            f"(max_delegated_partitions={max_partitions}): run{'s' if len(r) == 1 else ''} on the CPU")
    return {op.index: op.index in kept for op in live}, min(len(partitions), max_partitions)
