"""How many times a WHILE loop runs, where the file says it: a counter compared with a constant bound.

The pattern TensorFlow writes for `tf.while_loop` and Keras' recurrent layers: the condition subgraph
compares loop variables with LESS / LESS_EQUAL (several joined by LOGICAL_AND), each variable starts at a
constant of the calling subgraph and the body adds a constant step to it; the bound is a constant of the
condition, or a loop variable that starts at a constant and the body passes through unchanged.
"""

from __future__ import annotations

import math

from .graph import Graph, Op, Subgraph

_COMPARISONS = frozenset({"LESS", "LESS_EQUAL"})
MAX_TRIP_COUNT = 1_000_000  # beyond it the file's "count" is not a loop anyone runs per inference


def trip_count(graph: Graph, caller: Subgraph, op: Op) -> int | None:
    """How many times the body of the WHILE ``op`` (in ``caller``) runs; None where the file does not say."""
    cond, body = (_subgraph(graph, op.options.get(key)) for key in ("CondSubgraphIndex", "BodySubgraphIndex"))
    if cond is None or body is None or not cond.ops:
        return None
    if any(o.opcode not in _COMPARISONS | {"LOGICAL_AND"} for o in cond.ops):
        return None  # another test than "counter below bound": its count is a run-time value
    counts = [n for o in cond.ops if o.opcode in _COMPARISONS
              if (n := _comparison_count(caller, op, cond, body, o)) is not None]
    return min(counts) if counts and 0 <= min(counts) <= MAX_TRIP_COUNT else None


def _subgraph(graph: Graph, index) -> Subgraph | None:
    return graph.subgraphs[index] if isinstance(index, int) and 0 < index < len(graph.subgraphs) else None


def _comparison_count(caller: Subgraph, op: Op, cond: Subgraph, body: Subgraph, compare: Op) -> int | None:
    if len(compare.inputs) != 2 or min(compare.inputs) < 0:
        return None
    counter, bound = compare.inputs
    j = _loop_var(cond, counter)
    limit = _constant(cond, bound)
    if limit is None:
        k = _loop_var(cond, bound)
        limit = _start(caller, op, k) if k is not None and _unchanged(body, k) else None
    start = _start(caller, op, j) if j is not None else None
    step = _step(body, j) if j is not None else None
    if None in (start, limit, step) or step <= 0:
        return None
    span = limit - start + (1 if compare.opcode == "LESS_EQUAL" else 0)
    return max(0, math.ceil(span / step))


def _loop_var(sg: Subgraph, tensor: int) -> int | None:
    return sg.inputs.index(tensor) if tensor in sg.inputs else None


def _constant(sg: Subgraph, tensor: int) -> int | None:
    t = sg.tensors[tensor] if 0 <= tensor < len(sg.tensors) else None
    return t.values[0] if t is not None and t.is_const and t.values is not None and len(t.values) == 1 else None


def _start(caller: Subgraph, op: Op, j: int) -> int | None:
    return _constant(caller, op.inputs[j]) if j < len(op.inputs) and op.inputs[j] >= 0 else None


def _unchanged(body: Subgraph, j: int) -> bool:
    return j < len(body.inputs) and j < len(body.outputs) and body.outputs[j] == body.inputs[j]


def _step(body: Subgraph, j: int) -> int | None:
    """The constant the body adds to loop variable ``j`` (its output ``j`` = ADD(its input ``j``, c))."""
    if j >= len(body.outputs) or j >= len(body.inputs):
        return None
    producer = next((o for o in body.ops if body.outputs[j] in o.outputs), None)
    if producer is None or producer.opcode != "ADD" or len(producer.inputs) != 2:
        return None
    a, b = producer.inputs
    if a == body.inputs[j]:
        return _constant(body, b)
    return _constant(body, a) if b == body.inputs[j] else None
