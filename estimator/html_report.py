"""prediction → one self-contained HTML page: the model's kernels drawn in graph order, sized and
coloured by their estimated time, the costliest kernels, the per-op-type breakdown, the layer table.

Offline by construction: no external resource, and a Content-Security-Policy that allows only this
page's own stylesheet and script (by hash), so even a string that escaped escaping could not run.
The same input gives the same bytes: no timestamps, every ordering is stable.
Loaded only for ``--format html`` (and by `diff` / the plugin's session page for the page shell).
"""

from __future__ import annotations

import base64
import hashlib
import math
from collections.abc import Iterable, Sequence
from html import escape

from pytest_tflite_latency.estimator.attribution import by_op_type, op_owners
from pytest_tflite_latency.estimator.graph import Graph
from pytest_tflite_latency.estimator.pipeline import Estimate, LayerEstimate
from pytest_tflite_latency.estimator.table import interval_label

CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:0 auto;max-width:1200px;padding:0 16px 40px;color:#222}
h1{font-size:20px;margin:18px 0 4px;word-break:break-all}h2{font-size:16px;margin:26px 0 8px}
.total{font-size:28px;font-weight:600}.muted{color:#666}.warn{color:#8a4b00}
dl.facts{display:grid;grid-template-columns:max-content auto;gap:2px 14px;margin:8px 0}dt{color:#666}dd{margin:0}
table{border-collapse:collapse;font-size:13px}th,td{padding:3px 8px;border-bottom:1px solid #e4e4e4;text-align:left}
th{cursor:pointer;background:#f4f4f4;position:sticky;top:0;user-select:none}
th[aria-sort=ascending]::after{content:" \\25B2"}th[aria-sort=descending]::after{content:" \\25BC"}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}tr:target{background:#fff3c4}
.scroll{overflow-x:auto}svg text{font:12px system-ui,sans-serif}svg a:hover rect.node{stroke-width:3}
.up,tr.fail .verdict{color:#b2182b}tr.fail .verdict{font-weight:600}.down{color:#1a7f37}
"""

JS = """
document.querySelectorAll('table.sortable').forEach(function (table) {
  var heads = table.tHead.rows[0].cells;
  Array.prototype.forEach.call(heads, function (th, col) {
    th.addEventListener('click', function () {
      var asc = th.getAttribute('aria-sort') !== 'ascending';
      Array.prototype.forEach.call(heads, function (h) { h.removeAttribute('aria-sort'); });
      th.setAttribute('aria-sort', asc ? 'ascending' : 'descending');
      var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
      function key(row) {
        var c = row.cells[col];
        return c.hasAttribute('data-v') ? +c.getAttribute('data-v') : c.textContent;
      }
      rows.sort(function (a, b) {
        var x = key(a), y = key(b), d = x < y ? -1 : x > y ? 1 : 0;
        return (asc ? d : -d) || (+a.getAttribute('data-i') - +b.getAttribute('data-i'));
      });
      var frag = document.createDocumentFragment();
      rows.forEach(function (r) { frag.appendChild(r); });
      body.appendChild(frag);
    });
  });
});
"""

ROW_H, NODE_H, NODE_W, BAR_W, ARC_MAX = 26, 20, 360, 220, 110
BAR_CHART_ROWS = 15


def esc(value: object) -> str:
    """Text or attribute value with every markup character escaped."""
    return escape(str(value), quote=True)


def ms(value: float) -> str:
    """A figure in milliseconds, fixed precision so equal inputs give equal bytes."""
    return f"{value:.3f}" if math.isfinite(value) else "n/a"


def share(value: float, total: float) -> float:
    """``value`` as a fraction of ``total``, 0 for non-finite or non-positive totals."""
    if not (math.isfinite(value) and math.isfinite(total)) or total <= 0:
        return 0.0
    return min(max(value / total, 0.0), 1.0)


def _csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def page(title: str, body: str) -> str:
    """A complete HTML document around ``body`` with the shared stylesheet and table-sorting script."""
    csp = (f"default-src 'none'; style-src {_csp_hash(CSS)}; script-src {_csp_hash(JS)}; "
           "img-src 'self' data:; base-uri 'none'; form-action 'none'")
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">\n'
            f'<meta http-equiv="Content-Security-Policy" content="{esc(csp)}">\n'
            f'<meta name="viewport" content="width=device-width,initial-scale=1">\n'
            f"<title>{esc(title)}</title><style>{CSS}</style></head>\n<body>\n{body}\n"
            f"<script>{JS}</script>\n</body></html>\n")


def shape(dims: Sequence[int] | None) -> str:
    """``1x56x56x64`` (empty for no shape)."""
    return "x".join(str(d) for d in dims) if dims is not None else ""


def heat(t: float) -> str:
    """Fill colour for a share ``t`` in [0, 1] of the costliest kernel: pale yellow to dark red."""
    lo, hi = (255, 244, 200), (178, 24, 43)
    return "#" + "".join(f"{round(a + (b - a) * t):02x}" for a, b in zip(lo, hi, strict=True))


def table(heads: Sequence[tuple[str, bool]], rows: Iterable[Sequence[tuple[str, float | None]]],
          anchors: Sequence[str] = ()) -> str:
    """A sortable table. ``heads``: (title, numeric); each cell: (text, sort value or None)."""
    th = "".join(f'<th class="n">{esc(h)}</th>' if num else f"<th>{esc(h)}</th>" for h, num in heads)
    out = [f'<div class="scroll"><table class="sortable"><thead><tr>{th}</tr></thead><tbody>']
    for i, row in enumerate(rows):
        anchor = f' id="{esc(anchors[i])}"' if i < len(anchors) else ""
        cells = "".join(f'<td class="n" data-v="{v!r}">{esc(t)}</td>' if v is not None and math.isfinite(v)
                        else f"<td>{esc(t)}</td>" for t, v in row)
        out.append(f'<tr data-i="{i}"{anchor}>{cells}</tr>')
    out.append("</tbody></table></div>")
    return "\n".join(out)


def bar_chart(items: Sequence[tuple[str, float, str]], total: float, label_w: int = 330) -> str:
    """Horizontal bars: (label, ms, link target or "") each, the bar as a share of ``total``."""
    top = max((v for _, v, _ in items if math.isfinite(v)), default=0.0)
    out = [f'<svg class="bars" width="{label_w + BAR_W + 150}" height="{ROW_H * len(items) + 4}" '
           f'role="img" xmlns="http://www.w3.org/2000/svg">']
    for i, (label, value, href) in enumerate(items):
        y = i * ROW_H + 2
        t = share(value, top)
        w = BAR_W * t
        text = (f'<text x="0" y="{y + 15}">{esc(label)}</text>'
                f'<rect x="{label_w}" y="{y + 3}" width="{w:.1f}" height="{NODE_H - 6}" fill="{heat(t)}"'
                f' stroke="#999"/><text x="{label_w + w + 6:.1f}" y="{y + 15}">{ms(value)} ms '
                f"({100 * share(value, total):.1f}%)</text>")
        out.append(f'<a href="#{esc(href)}">{text}</a>' if href else text)
    out.append("</svg>")
    return "\n".join(out)


def kernel_edges(est: Estimate, graph: Graph) -> list[tuple[int, int]]:
    """Data-flow edges between kernels (producer, consumer), from the main subgraph's tensors."""
    owner = {i: layer.index for i, layer in op_owners(est, graph).items()}
    producer = {t: op.index for op in graph.main.ops for t in op.outputs if t >= 0}
    edges = set()
    for op in graph.main.ops:
        dst = owner.get(op.index)
        for t in op.inputs:
            src = owner.get(producer.get(t, -1))
            if dst is not None and src is not None and src != dst:
                edges.add((src, dst))
    return sorted(edges)


def _node(layer: LayerEstimate, row: int, x: int, top_ms: float, total: float) -> str:
    y = row * ROW_H + 4
    t = share(layer.ms, top_ms)
    fill = "#e8e8e8" if layer.runs_on == "copy" else heat(t)
    stroke = {"CPU": ' stroke="#6a3d9a" stroke-width="3"', "copy": ' stroke="#777" stroke-dasharray="4 3"'}.get(
        layer.runs_on, ' stroke="#1a7f37"')
    ops = "+".join(layer.ops)
    label = f"#{layer.index} {ops} {shape(layer.output_shape)}"
    if layer.runs_on != "GPU":
        label = f"{label} [{layer.note or layer.runs_on}]" if layer.runs_on == "copy" else f"{label} [CPU]"
    label = label if len(label) <= 52 else label[:51] + "…"
    ink = "#fff" if t > 0.6 and layer.runs_on != "copy" else "#222"
    w = BAR_W * t
    tip = f"#{layer.index} {ops} on {layer.runs_on}: {ms(layer.ms)} ms {layer.note}".strip()
    return (f'<a href="#k{layer.index}"><g class="kernel" data-kernel="{layer.index}" '
            f'data-runs-on="{esc(layer.runs_on)}">'
            f"<title>{esc(tip)}</title>"
            f'<rect class="node" x="{x}" y="{y}" width="{NODE_W}" height="{NODE_H}" rx="4" fill="{fill}"{stroke}/>'
            f'<text x="{x + 6}" y="{y + 14}" fill="{ink}">{esc(label)}</text>'
            f'<rect x="{x + NODE_W + 8}" y="{y + 4}" width="{w:.1f}" height="{NODE_H - 8}" fill="{heat(t)}"/>'
            f'<text x="{x + NODE_W + 14 + w:.1f}" y="{y + 14}">{ms(layer.ms)} ms '
            f"({100 * share(layer.ms, total):.1f}%)</text></g></a>")


def _partitions(layers: Sequence[LayerEstimate], x: int) -> list[str]:
    """A green band beside each run of consecutive GPU kernels."""
    out, start = [], None
    for row, layer in enumerate((*layers, None)):
        if layer is not None and layer.runs_on == "GPU":
            start = row if start is None else start
        elif start is not None:
            out.append(f'<rect class="partition" x="{x - 7}" y="{start * ROW_H + 2}" width="4" '
                       f'height="{(row - start) * ROW_H}" fill="#1a7f37"><title>on the GPU delegate: kernels '
                       f"#{layers[start].index}–#{layers[row - 1].index}</title></rect>")
            start = None
    return out


def graph_svg(est: Estimate, edges: Sequence[tuple[int, int]]) -> str:
    """The kernels in execution order, one row each, with data-flow arcs on the left."""
    row = {layer.index: r for r, layer in enumerate(est.layers)}
    x = ARC_MAX + 16
    top = max((layer.ms for layer in est.layers if math.isfinite(layer.ms)), default=0.0)
    arcs = []
    for src, dst in edges:
        a, b = row[src], row[dst]
        off = min(ARC_MAX, 8 + 14 * math.log2(max(abs(b - a), 1)))
        y1, y2 = a * ROW_H + 4 + NODE_H // 2, b * ROW_H + 4 + NODE_H // 2
        arcs.append(f'<path d="M{x} {y1}C{x - off:.1f} {y1} {x - off:.1f} {y2} {x} {y2}" fill="none" '
                    f'stroke="#9aa" stroke-width="1.2"/>')
    nodes = [_node(layer, r, x, top, est.total_ms) for r, layer in enumerate(est.layers)]
    height = ROW_H * len(est.layers) + 8
    return (f'<svg id="graph" width="{x + NODE_W + BAR_W + 140}" height="{height}" role="img" '
            f'aria-label="kernels in graph order" xmlns="http://www.w3.org/2000/svg">\n'
            + "\n".join([*arcs, *_partitions(est.layers, x), *nodes]) + "\n</svg>")


def layer_table(est: Estimate) -> str:
    """The full layer table, sortable by any column."""
    heads = [("#", True), ("ops", False), ("kind", False), ("on", False), ("input", False), ("output", False),
             ("kernel", False), ("stride", True), ("filters", True), ("groups", True), ("ms", True),
             ("%", True), ("note", False)]

    def num(v: int | None) -> tuple[str, float | None]:
        return (str(v), float(v)) if v is not None else ("", None)

    rows = [[(str(layer.index), float(layer.index)), ("+".join(layer.ops), None), (layer.kind, None),
             (layer.runs_on, None), (" ".join(shape(s) for s in layer.input_shapes), None),
             (shape(layer.output_shape), None), ("x".join(map(str, layer.kernel)) if layer.kernel else "", None),
             num(layer.stride), num(layer.filters), num(layer.groups), (ms(layer.ms), layer.ms),
             (f"{100 * share(layer.ms, est.total_ms):.1f}", 100 * share(layer.ms, est.total_ms)),
             (layer.note, None)] for layer in est.layers]
    return table(heads, rows, [f"k{layer.index}" for layer in est.layers])


def op_breakdown(est: Estimate) -> list[tuple[str, float, int]]:
    """(label, total ms, kernel count) per main op type (`attribution.by_op_type`, the CLI's rule),
    costliest first; where kernels run on more than one side, the label says where."""
    rows = by_op_type(est)
    sides = len({r.runs_on for r in rows}) > 1
    return [(f"{r.op} on {r.runs_on}" if sides else r.op, r.ms, r.kernels) for r in rows]


def all_on_cpu(est: Estimate) -> bool:
    """Whether the estimate is a CPU profile's: every kernel on the CPU, no GPU partition, and a CPU backend
    (where the estimate says; else no per-inference overhead). A GPU profile's that fell back whole keeps
    the delegate's facts."""
    known = est.backend != "gpu" if est.backend else est.overhead_ms == 0
    return known and est.gpu_partitions == 0 and bool(est.layers) \
        and all(layer.runs_on == "CPU" for layer in est.layers)


def summary(est: Estimate, description: str = "") -> str:
    """The page header: model, device, total, interval, partitions and fallbacks."""
    lo, hi = est.interval_ms
    on = [layer.runs_on for layer in est.layers]
    facts = [("description", description)] if description else []
    facts += [("device", f"{est.device} ({est.device_title})"),
              (interval_label(est.interval_coverage), f"{ms(lo)}–{ms(hi)} ms"), ("kernels", str(len(est.layers)))]
    if all_on_cpu(est):  # a CPU profile's estimate: no delegate, partitions, copies or fallback to speak of
        facts += [("runs on", "the CPU, every kernel")]
    else:
        facts += [("per-inference overhead", f"{ms(est.overhead_ms)} ms, no kernel of its own"),
                  ("GPU partitions", str(est.gpu_partitions)),
                  ("CPU kernels", str(on.count("CPU"))), ("GPU↔CPU copies", str(on.count("copy")))]
    dl = "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in facts)
    return (f"<h1>{esc(est.model)}</h1>\n<div class=\"total\" id=\"total\">{ms(est.total_ms)} ms</div>\n"
            f'<div class="muted">estimated latency on {esc(est.device)}</div>\n<dl class="facts">{dl}</dl>')


def warnings_list(warnings: Sequence[str]) -> str:
    """The estimator's warnings as a list (empty string when there are none)."""
    if not warnings:
        return ""
    items = "".join(f'<li class="warn">{esc(w)}</li>' for w in warnings)
    return f'<h2>Warnings</h2><ul id="warnings">{items}</ul>'


def render_html(est: Estimate, graph: Graph) -> str:
    """The whole report page for ``est``; ``graph`` (the parsed model) gives the data-flow edges."""
    costly = [(f"#{layer.index} {'+'.join(layer.ops)} {shape(layer.output_shape)}", layer.ms, f"k{layer.index}")
              for layer in est.top_layers(BAR_CHART_ROWS)]
    by_op = [(f"{name} ×{n}", total, "") for name, total, n in op_breakdown(est)]
    if est.overhead_ms > 0:
        by_op.append(("per-inference overhead", est.overhead_ms, ""))
    body = [summary(est, graph.description), warnings_list(est.warnings),
            f"<h2>Costliest kernels</h2>\n{bar_chart(costly, est.total_ms)}",
            f"<h2>By op type</h2>\n{bar_chart(by_op, est.total_ms)}",
            "<h2>Graph</h2>\n<p class=\"muted\">Kernels in execution order; colour and bar: estimated time. "
            + ("Purple border: on the CPU (every kernel). " if all_on_cpu(est) else
               "Green edge and band: on the GPU delegate; purple border: CPU fallback; dashed: GPU↔CPU copy. ")
            + "Arcs: data flow. Click a kernel for its row.</p>",
            f'<div class="scroll">{graph_svg(est, kernel_edges(est, graph))}</div>',
            f"<h2>Layers</h2>\n{layer_table(est)}"]
    return page(f"{est.model} on {est.device}: {ms(est.total_ms)} ms", "\n".join(b for b in body if b))
