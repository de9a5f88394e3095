"""prediction → report: the layer table for a terminal, CSV and JSON."""

from __future__ import annotations

import csv
import io
import json

from pytest_tflite_latency.estimator.pipeline import Estimate, LayerEstimate
from pytest_tflite_latency.estimator.profile import DeviceProfile

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


def render(est: Estimate, fmt: str = "table") -> str:
    """The estimate as ``table`` (default), ``csv`` or ``json`` text."""
    if fmt == "json":
        return json.dumps(est.to_dict(), indent=2, allow_nan=False) + "\n"  # the pipeline returns finite figures
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.DictWriter(out, CSV_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(_cells(layer) for layer in est.layers)
        return out.getvalue()
    return _table(est)


def _table(est: Estimate) -> str:
    heads = ("#", "ops", "on", "input", "output", "kernel", "stride", "filters", "groups", "ms", "%")
    total = max(est.total_ms, 1e-12)
    rows = []
    for layer in est.layers:
        c = _cells(layer)
        ops = c["ops"] if len(c["ops"]) <= 30 else c["ops"][:29] + "…"
        rows.append((c["index"], ops, layer.runs_on, c["input_shapes"].split(" ")[0],
                     c["output_shape"], c["kernel"], c["stride"], c["filters"], c["groups"],
                     f"{layer.ms:.3f}", f"{100 * layer.ms / total:.1f}"))
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(heads)]
    numeric = {0, 6, 7, 8, 9, 10}

    def line(cells):
        return "  ".join(c.rjust(w) if i in numeric else c.ljust(w)
                         for i, (c, w) in enumerate(zip(cells, widths, strict=True))).rstrip()

    lo, hi = est.interval_ms
    out = [f"{est.model} on {est.device} ({est.device_title})",
           f"estimated latency: {est.total_ms:.2f} ms  (90% interval {lo:.2f}–{hi:.2f} ms), "
           f"{len(est.layers)} kernels", "", line(heads), line(["-" * w for w in widths])]
    out += [line(r) for r in rows]
    out += [""] + [f"warning: {w}" for w in est.warnings]
    return "\n".join(out).rstrip() + "\n"


def render_devices(profiles: list[DeviceProfile], fmt: str = "table") -> str:
    """The bundled device profiles: phone, GPU, runtime, what each learned from and its error on
    networks of families it never saw."""
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
        precision = (f"; measured {i['model_precision']} models, {i['compute_precision']} on the GPU"
                     if i["model_precision"] else "")
        lines += [f"{i['name']}{' (default)' if i['default'] else ''}: {i['title']}",
                  f"    runtime:     {i['runtime']}{precision}"
                  + (f"; also selected by '{i['aliases']}'" if i["aliases"] else ""),
                  f"    trained on:  {i['trained_on']} ({i['measurements']}), {i['regressor']}"]
        if i["unseen_families"]:
            lines.append(f"    unseen families: {_figures(i['unseen_families'])}")
            floor = i["unseen_families"].get("floor")
            if floor:
                lines.append(f"    floor (FLOPs + file size): {_figures(floor)}")
        if i["in_family"]:
            lines.append(f"    in family:   {_figures(i['in_family'])}")
        if i["real_networks"]:
            lines.append(f"    real CNNs:   {_figures(i['real_networks'])} ({i['real_networks']['method']})")
    return "\n".join(lines) + "\n"


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
            "regressor": prov.get("regressor"), "unseen_families": heldout if stock else {},
            "in_family": {} if stock else heldout, "real_networks": prov.get("real_networks", {})}
