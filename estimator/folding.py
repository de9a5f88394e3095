"""Constant folding: ops whose inputs are all constant (fp16 weights → DEQUANTIZE) run once at load time,
not per inference; their outputs become constants."""

from __future__ import annotations

from dataclasses import replace

from .graph import Subgraph


def fold_constants(sg: Subgraph) -> tuple[Subgraph, set[int]]:
    """The subgraph with folded ops' outputs marked constant, and the indices of the folded ops."""
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
