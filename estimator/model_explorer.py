"""prediction → node data for Google's Model Explorer (``ai-edge-model-explorer``).

Model Explorer's TFLite adapter names each op's node by its index in the subgraph ("0", "1", …)
and matches node-data keys against those ids (or against output tensor names). The file is the
package's `GraphNodeData` JSON (node_data_builder.py): ``{"name", "results": {node id: {"value"}},
"gradient": [{"stop", "bgColor"}]}``; Model Explorer applies it to the graph on screen, the main
subgraph. Two providers, each its own file:

- ``charged`` (``--format model-explorer``): each kernel's time on its main op and 0 ms on the ops
  fused into it (`attribution.op_ms`), so Model Explorer's own Sum reads the kernels' total;
- ``kernel`` (``--format model-explorer-kernels``): every op of a kernel carries the kernel's whole
  time, so fused ops colour alike; its sum counts a fused kernel once per op.

Ops folded away or dissolved (constant DEQUANTIZE, no-op RESHAPE) get no value. Loaded only for
these formats.
"""

from __future__ import annotations

import json
import math

from pytest_tflite_latency.estimator.attribution import op_ms, op_owners
from pytest_tflite_latency.estimator.graph import Graph
from pytest_tflite_latency.estimator.pipeline import Estimate

GRADIENT = ({"stop": 0, "bgColor": "#fff4c8"}, {"stop": 0.5, "bgColor": "#f4a259"},
            {"stop": 1, "bgColor": "#b2182b"})
PROVIDERS = {"charged": "estimated ms charged to each op (the kernel's time on its main op)",
             "kernel": "estimated ms of each op's whole kernel"}


def node_data(est: Estimate, graph: Graph, provider: str = "charged") -> dict:
    """`GraphNodeData` for the main subgraph: each op's node id → its ms under ``provider``
    (one of `PROVIDERS`)."""
    if provider == "charged":
        values = op_ms(est, graph)
    else:
        values = {i: layer.ms if math.isfinite(layer.ms) else 0.0 for i, layer in op_owners(est, graph).items()}
    results = {str(i): {"value": round(values[i], 6)} for i in sorted(values)}
    return {"name": f"{PROVIDERS[provider]} on {est.device}", "results": results,
            "gradient": [dict(g) for g in GRADIENT]}


def render_node_data(est: Estimate, graph: Graph, provider: str = "charged") -> str:
    """`node_data` as the JSON text Model Explorer's ``--node_data_paths`` reads."""
    return json.dumps(node_data(est, graph, provider), indent=2) + "\n"
