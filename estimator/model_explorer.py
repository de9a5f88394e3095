"""prediction → node data for Google's Model Explorer (``ai-edge-model-explorer``).

Model Explorer's TFLite adapter names each op's node by its index in the subgraph ("0", "1", …)
and matches node-data keys against those ids (or against output tensor names). The file is the
package's `GraphNodeData` JSON (node_data_builder.py): ``{"name", "results": {node id: {"value"}},
"gradient": [{"stop", "bgColor"}]}``; Model Explorer applies it to the graph on screen, the main
subgraph. Every op of a kernel gets the kernel's estimated time, so fused ops colour alike; ops
folded away or dissolved (constant DEQUANTIZE, no-op RESHAPE) get no value. Loaded only for
``--format model-explorer``.
"""

from __future__ import annotations

import json
import math

from pytest_tflite_latency.estimator.graph import Graph
from pytest_tflite_latency.estimator.pipeline import Estimate, LayerEstimate

GRADIENT = ({"stop": 0, "bgColor": "#fff4c8"}, {"stop": 0.5, "bgColor": "#f4a259"},
            {"stop": 1, "bgColor": "#b2182b"})


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


def node_data(est: Estimate, graph: Graph) -> dict:
    """`GraphNodeData` for the main subgraph: each op's node id → its kernel's estimated ms."""
    owners = op_owners(est, graph)
    results = {str(i): {"value": round(owners[i].ms, 6) if math.isfinite(owners[i].ms) else 0.0}
               for i in sorted(owners)}
    return {"name": f"estimated ms on {est.device}", "results": results,
            "gradient": [dict(g) for g in GRADIENT]}


def render_node_data(est: Estimate, graph: Graph) -> str:
    """`node_data` as the JSON text Model Explorer's ``--node_data_paths`` reads."""
    return json.dumps(node_data(est, graph), indent=2) + "\n"
