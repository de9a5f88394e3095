"""NAS-Bench-201 networks ("infer.tiny", C=16, N=5) as the shared measurements describe them.

The structure follows ``shared/data/nnmeter-nasbench201/README.md``: batch norms folded into
convolution biases, a separate RELU op before each cell convolution, the head's batch norm as
MUL + ADD(relu), MEAN over H and W, and a bias-free FULLY_CONNECTED to 10 classes.
"""

from __future__ import annotations

from pytest_tflite_latency.bench.writer import GraphWriter, ModelWriter

CELL_OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")


def parse_arch(arch: str) -> list[list[tuple[str, int]]]:
    """``|op~0|+|op~0|op~1|+|...|`` → per node, its (op, input node) entries."""
    nodes = []
    for group in arch.strip().split("+"):
        entries = [e for e in group.split("|") if e]
        node = []
        for entry in entries:
            op, _, src = entry.partition("~")
            if op not in CELL_OPS or not src.isdigit():
                raise ValueError(f"bad NAS-Bench-201 cell entry {entry!r}")
            node.append((op, int(src)))
        nodes.append(node)
    if len(nodes) != 3:
        raise ValueError(f"a NAS-Bench-201 cell has 3 nodes, got {len(nodes)}: {arch!r}")
    return nodes


def _cell_op(g: GraphWriter, op: str, x: int, channels: int) -> int:
    if op == "skip_connect":
        return x
    if op == "avg_pool_3x3":
        return g.avg_pool(x, 3, 1, "SAME")
    kernel = 3 if op == "nor_conv_3x3" else 1
    return g.conv2d(g.relu(x), channels, kernel)


def live_cell(nodes: list[list[tuple[str, int]]], none_node: str = "hybrid") -> list[list[tuple[str, int]]]:
    """The cell as TensorFlow's converter leaves it: dead entries removed.

    A node whose entries are all ``none``: with ``none_node="zero"`` it is a constant zero, so
    every op reading it folds away; with ``"repeat"`` it repeats the node before it; ``"hybrid"``
    (what the measured networks show): node 1 is zero, nodes 2 and 3 repeat. Entries feeding only
    nodes the output never reads are pruned, as the converter does.
    """
    resolved: list[list[tuple[str, int]]] = []
    zero = [False]
    for entries in nodes:
        kept = [(op, src) for op, src in entries if op != "none" and not zero[src]]
        if not kept and (none_node == "repeat" or (none_node == "hybrid" and resolved)):
            previous = len(resolved)
            kept = [] if zero[previous] else [("skip_connect", previous)]
        resolved.append(kept)
        zero.append(not kept)
    live = {3}
    for j in (3, 2, 1):
        if j in live:
            live.update(src for _, src in resolved[j - 1])
    return [entries if j + 1 in live else [] for j, entries in enumerate(resolved)]


def _cell(g: GraphWriter, x: int, nodes: list[list[tuple[str, int]]], channels: int) -> int:
    values: list[int | None] = [x]
    for entries in nodes:
        terms = [_cell_op(g, op, values[src], channels) for op, src in entries]
        acc = terms[0] if terms else None
        for t in terms[1:]:
            acc = g.add(acc, t)
        values.append(acc)
    if values[3] is None:
        raise ValueError("cell output is constant zero: the network has no path from input to output")
    return values[3]


def _reduction(g: GraphWriter, x: int, channels: int) -> int:
    y = g.conv2d(x, channels, 3, stride=2, activation="relu")
    y = g.conv2d(y, channels, 3)
    shortcut = g.conv2d(g.avg_pool(x, 2, 2, "VALID"), channels, 1)
    return g.add(y, shortcut)


def build(arch: str, fill: str = "random", seed: int = 0, dtype: str = "float32",
          none_node: str = "hybrid") -> bytes:
    """The `.tflite` bytes of the NAS-Bench-201 network with cell ``arch``."""
    nodes = live_cell(parse_arch(arch), none_node)
    m = ModelWriter(dtype=dtype, fill=fill, seed=seed, description=f"NAS-Bench-201 {arch}")
    x = m.input((1, 32, 32, 3))
    x = m.conv2d(x, 16, 3)
    for stage, channels in enumerate((16, 32, 64)):
        if stage:
            x = _reduction(m, x, channels)
        for _ in range(5):
            x = _cell(m, x, nodes, channels)
    x = m.mul(x, m.channel_const(x))
    x = m.add(x, m.channel_const(x, 0.0), activation="relu")
    x = m.mean(x, (1, 2), keepdims=False)
    x = m.fully_connected(x, 10, bias=False)
    return m.to_bytes([x])
