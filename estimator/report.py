"""prediction → report: the layer table for a terminal, CSV and JSON."""

from __future__ import annotations

import csv
import io
import json
import re
import textwrap

from pytest_tflite_latency.estimator.pipeline import Estimate, LayerEstimate
from pytest_tflite_latency.estimator.profile import DeviceProfile
from pytest_tflite_latency.estimator.table import counted, text_table

CSV_COLUMNS = ("index", "ops", "kind", "runs_on", "input_shapes", "output_shape", "kernel", "stride",
               "filters", "groups", "ms")


def _shape(shape) -> str:
    return "x".join(str(d) for d in shape) if shape is not None else ""


def _cells(layer: LayerEstimate) -> dict[str, str]:
    return {
        "index": str(layer.index), "ops": "+".join(layer.ops), "kind": layer.kind,
        "runs_on": layer.runs_on, "input_shapes": " ".join(_shape(s) for s in layer.input_shapes),
        "output_shape": _shape(layer.output_shape),
        "kernel": "x".join(map(str, layer.kernel)) if layer.kernel else "",
        "stride": str(layer.stride or ""), "filters": str(layer.filters or ""),
        "groups": str(layer.groups or ""), "ms": f"{layer.ms:.4f}",
    }


def render(est: Estimate, fmt: str = "table", top: int | None = None, width: int = 80) -> str:
    """The estimate as ``table`` (default; ``top`` costliest kernels only, lines of at most ``width``
    characters), ``csv`` or ``json`` text."""
    if fmt == "json":
        return json.dumps(est.to_dict(), indent=2, allow_nan=False) + "\n"  # the pipeline returns finite figures
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.DictWriter(out, CSV_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(_cells(layer) for layer in est.layers)
        return out.getvalue()
    return _table(est, top, width)


# What a whole inference costs beyond its kernels (dispatch, synchronisation): learned per profile.
OVERHEAD = "per-inference overhead"
_HEADS = ("#", "ops", "on", "input", "output", "window", "filters", "ms", "%")
_DROP_FIRST = (3, 6, 5)  # input, filters, window: left out, in this order, when a line would not fit
_OPS = 1


def _layer_row(layer: LayerEstimate, total: float) -> list[str]:
    c = _cells(layer)
    window = f"{c['kernel']}/{c['stride']}" if c["kernel"] else ""
    return [c["index"], c["ops"], layer.runs_on, c["input_shapes"].split(" ")[0], c["output_shape"], window,
            c["filters"], f"{layer.ms:.3f}", f"{100 * layer.ms / total:.1f}"]


def _fit(heads: list[str], rows: list[list[str]], width: int) -> list[str]:
    """The layer table in ``width`` columns: optional columns go first, then the ops are cut."""
    keep = list(range(len(heads)))
    for drop in _DROP_FIRST:
        lines = _select(heads, rows, keep, None)
        if max(map(len, lines)) <= width:
            return lines
        keep.remove(drop)
    return _select(heads, rows, keep, width)


def _select(heads, rows, keep: list[int], width: int | None) -> list[str]:
    right = frozenset(i for i, k in enumerate(keep) if k in (0, 6, 7, 8))
    return text_table([heads[k] for k in keep], [[r[k] for k in keep] for r in rows], right, width,
                      shrink=keep.index(_OPS))


def _by_type(est: Estimate, total: float) -> list[str]:
    """Kernels, time and share per kernel kind and where it runs, costliest first (as benchmark_model's
    "summary by node type")."""
    groups: dict[tuple[str, str], list[float]] = {}
    for layer in est.layers:
        groups.setdefault((layer.kind, layer.runs_on), []).append(layer.ms)
    rows = [[kind, on, str(len(ms)), f"{sum(ms):.3f}", f"{100 * sum(ms) / total:.1f}"]
            for (kind, on), ms in sorted(groups.items(), key=lambda g: -sum(g[1]))]
    if est.overhead_ms > 0:
        rows.append([OVERHEAD, "", "", f"{est.overhead_ms:.3f}", f"{100 * est.overhead_ms / total:.1f}"])
    return text_table(("kind", "on", "kernels", "ms", "%"), rows, frozenset({2, 3, 4}))


def fold_warnings(warnings: tuple[str, ...] | list[str]) -> list[str]:
    """Warnings that differ only in their numbers (op indices, counts) as one line with a count."""
    groups: dict[str, list[str]] = {}
    for w in warnings:
        groups.setdefault(re.sub(r"\d+", "#", w), []).append(w)
    return [ws[0] if len(ws) == 1 else f"{ws[0]} (and {len(ws) - 1} more like it)" for ws in groups.values()]


def _table(est: Estimate, top: int | None, width: int) -> str:
    total = max(est.total_ms, 1e-12)
    layers = est.layers if top is None else est.top_layers(top)
    out = [*textwrap.wrap(f"{est.model} on {est.device} ({est.device_title})", width, subsequent_indent="  ",
                                 break_long_words=False, break_on_hyphens=False), ""]
    out += _fit(list(_HEADS), [_layer_row(layer, total) for layer in layers], width)
    if top is not None and len(layers) < len(est.layers):
        rest = est.total_ms - est.overhead_ms - sum(layer.ms for layer in layers)
        out.append(f"({counted(len(est.layers) - len(layers), 'cheaper kernel')} not shown: {rest:.3f} ms)")
    if est.overhead_ms > 0:
        out.append(textwrap.fill(f"{OVERHEAD} (no kernel of its own): {est.overhead_ms:.3f} ms "
                                 f"({100 * est.overhead_ms / total:.1f}%)", width, subsequent_indent="  "))
    out += ["", "summary by kernel type:", *_by_type(est, total), ""]
    out += [textwrap.fill(f"warning: {w}", width, subsequent_indent="  ") for w in fold_warnings(est.warnings)]
    lo, hi = est.interval_ms
    out.append(f"total: {est.total_ms:.2f} ms (90% interval {lo:.2f}–{hi:.2f} ms), {len(est.layers)} kernels")
    return "\n".join(out) + "\n"


def render_devices(profiles: list[DeviceProfile], fmt: str = "table", width: int = 80) -> str:
    """The bundled device profiles: phone, GPU, runtime, what each learned from and its error on
    networks of families it never saw (the table in lines of at most ``width`` characters)."""
    items = [_device_item(p) for p in profiles]
    if fmt == "json":
        return json.dumps(items, indent=2) + "\n"
    if fmt == "csv":
        flat = [{k: v for k, v in i.items() if not isinstance(v, dict)} for i in items]
        out = io.StringIO()
        writer = csv.DictWriter(out, list(flat[0]) if flat else [], lineterminator="\n")
        writer.writeheader()
        writer.writerows(flat)
        return out.getvalue()
    lines = []
    for i in items:
        where = "on the GPU" if i["backend"] == "gpu" else "on the CPU"
        precision = (f"; measured {i['model_precision']} models, {i['compute_precision']} {where}"
                     if i["model_precision"] else "")
        lines += [f"{i['name']}{' (default)' if i['default'] else ''}: {i['title']}",
                  f"    runtime:     {i['runtime']}{precision}"
                  + (f"; also selected by '{i['aliases']}'" if i["aliases"] else ""),
                  f"    trained on:  {i['trained_on']} ({i['measurements']}), {i['regressor']} "
                  f"on {i['tree_features']} features"]
        if i["unseen_families"]:
            lines.append(f"    unseen families: {_figures(i['unseen_families'])}")
            floor = i["unseen_families"].get("floor")
            if floor:
                lines.append(f"    floor (FLOPs + file size): {_figures(floor)}")
        if i["in_family"]:
            lines.append(f"    in family:   {_figures(i['in_family'])}")
        if i["real_networks"]:
            lines.append(f"    real CNNs:   {_figures(i['real_networks'])} ({i['real_networks']['method']})")
    wrapped = [textwrap.fill(line, width, subsequent_indent=" " * (17 if line.startswith(" ") else 4),
                             break_long_words=False, break_on_hyphens=False) for line in lines]
    return "\n".join(wrapped) + "\n"


def _figures(h: dict) -> str:
    parts = [f"{h.get('within_10pct')}% within ±10%", f"{h.get('within_25pct')}% within ±25%",
             f"MAPE {h.get('mape_pct')}%"]
    if h.get("interval_coverage_pct") is not None:
        parts.append(f"90% interval holds {h['interval_coverage_pct']}%")
    return ", ".join(parts) + (f" of {h['models']} models" if h.get("models") else "")


def _device_item(p: DeviceProfile) -> dict:
    from pytest_tflite_latency.estimator.defaults import DEFAULT_DEVICE, GPU_ALIASES

    prov = p.provenance
    heldout = prov.get("heldout", {})
    measured = prov.get("measurements")
    if isinstance(measured, dict):
        measured = " and ".join(f"{v} {k.replace('_', '-').removesuffix('s')}" for k, v in measured.items())
    stock = "families" in heldout.get("method", "")
    return {"name": p.name, "default": p.name == DEFAULT_DEVICE, "title": p.title, "backend": p.backend,
            "runtime": p.runtime, "aliases": ", ".join(a for a, n in GPU_ALIASES.items() if n == p.name),
            **{k: p.device.get(k, "") for k in ("phone", "gpu", "model_precision", "compute_precision")},
            "trained_on": prov.get("trained_on", ""), "measurements": f"{measured} measurements",
            "regressor": prov.get("regressor"), "tree_features": prov.get("tree_features", "all"),
            "unseen_families": heldout if stock else {},
            "in_family": {} if stock else heldout, "real_networks": prov.get("real_networks", {})}
