"""prediction → report: the layer table for a terminal, CSV and JSON."""

from __future__ import annotations

import io
import json
import re
import textwrap

from pytest_tflite_latency.estimator.attribution import by_op_type
from pytest_tflite_latency.estimator.pipeline import Estimate, LayerEstimate
from pytest_tflite_latency.estimator.profile import DeviceProfile
from pytest_tflite_latency.estimator.table import counted, interval_label, text_table
from pytest_tflite_latency.estimator.wording import expected_accuracy

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
        import csv  # only for this format: a cold table estimate does not load it

        writer = csv.DictWriter(out, CSV_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(_cells(layer) for layer in est.layers)
        return out.getvalue()
    return _table(est, top, width)


# What a whole inference costs beyond its kernels (dispatch, synchronisation): learned per profile.
OVERHEAD = "per-inference overhead"
_HEADS = ("#", "ops", "on", "input", "output", "window", "filters", "ms", "%")
INDEX, OPS, ON, INPUT, OUTPUT, WINDOW, FILTERS, MS, SHARE = range(len(_HEADS))  # column positions
_RIGHT = frozenset({INDEX, FILTERS, MS, SHARE})  # numbers align right
_DROP_FIRST = (INPUT, FILTERS, WINDOW)  # left out, in this order, when a line would not fit


def _layer_row(layer: LayerEstimate, total: float) -> list[str]:
    c = _cells(layer)
    window = f"{c['kernel']}/{c['stride']}" if c["kernel"] else ""
    ops = c["ops"] + (f" ×{layer.runs}" if layer.runs != 1 else "")  # a loop body's kernel: its ms is all runs
    return [c["index"], ops, layer.runs_on, c["input_shapes"].split(" ")[0], c["output_shape"], window,
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
    right = frozenset(i for i, k in enumerate(keep) if k in _RIGHT)
    return text_table([heads[k] for k in keep], [[r[k] for k in keep] for r in rows], right, width,
                      shrink=keep.index(OPS))


def _by_type(est: Estimate, total: float) -> list[str]:
    """Kernels, time and share per main op type and where it runs, costliest first (as
    benchmark_model's "summary by node type"; `attribution.by_op_type`, the HTML page's rule)."""
    rows = [[r.op, r.runs_on, str(r.kernels), f"{r.ms:.3f}", f"{100 * r.ms / total:.1f}"] for r in by_op_type(est)]
    if est.overhead_ms > 0:
        rows.append([OVERHEAD, "", "", f"{est.overhead_ms:.3f}", f"{100 * est.overhead_ms / total:.1f}"])
    return text_table(("op", "on", "kernels", "ms", "%"), rows, frozenset({2, 3, 4}))


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
    if any(layer.runs != 1 for layer in layers):
        out.append("(×N: a loop's kernel, run N times per inference; its ms is all N runs)")
    if top is not None and len(layers) < len(est.layers):
        rest = est.total_ms - est.overhead_ms - sum(layer.ms for layer in layers)
        out.append(f"({counted(len(est.layers) - len(layers), 'cheaper kernel')} not shown: {rest:.3f} ms)")
    if est.overhead_ms > 0:
        out.append(textwrap.fill(f"{OVERHEAD} (no kernel of its own): {est.overhead_ms:.3f} ms "
                                 f"({100 * est.overhead_ms / total:.1f}%)", width, subsequent_indent="  "))
    out += ["", "summary by op type:", *_by_type(est, total), ""]
    out += [textwrap.fill(f"warning: {w}", width, subsequent_indent="  ") for w in fold_warnings(est.warnings)]
    lo, hi = est.interval_ms
    out.append(f"total: {est.total_ms:.2f} ms ({interval_label(est.interval_coverage)} {lo:.2f}–{hi:.2f} ms), "
               f"{len(est.layers)} kernels")
    return "\n".join(out) + "\n"


def render_devices(profiles: list[DeviceProfile], fmt: str = "table", width: int = 80,
                   verbose: bool = False) -> str:
    """The bundled device profiles: one line each (name, phone, GPU, runtime, error on networks of
    families it never saw), or with ``verbose`` what each learned from and all its figures; lines
    of at most ``width`` characters. ``csv`` and ``json`` give every field."""
    items = [_device_item(p) for p in profiles]
    if fmt == "json":
        return json.dumps(items, indent=2) + "\n"
    if fmt == "csv":
        flat = [{k: v for k, v in i.items() if not isinstance(v, dict)} for i in items]
        out = io.StringIO()
        import csv

        writer = csv.DictWriter(out, list(flat[0]) if flat else [], lineterminator="\n")
        writer.writeheader()
        writer.writerows(flat)
        return out.getvalue()
    items = [_printable(i) for i in items]  # a committed profile's text never reaches a terminal as controls
    return _devices_long(items, width) if verbose else _devices_short(items, width)


def _printable(value):
    """``value`` with every control character in its text (nested) shown as '?'."""
    if isinstance(value, str):
        return "".join(c if c.isprintable() else "?" for c in value)
    if isinstance(value, dict):
        return {k: _printable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_printable(v) for v in value]
    return value


_DEVICE_HEADS = ("profile", "phone", "GPU or CPU", "runtime", "MAPE unseen")
_DEVICE_CUTS = ((3, 12), (2, 14), (1, 14))  # (column, narrowest): cut in this order to fit a line


def _devices_short(items: list[dict], width: int) -> str:
    rows = []
    for i in items:
        h, own = i["unseen_families"], i["in_family"]
        error = f"{h['mape_pct']}%" if h else f"({own['mape_pct']}%)" if own else "—"
        rows.append([i["name"] + ("*" if i["default"] else ""), i["phone"], i["gpu"], _short_runtime(i["runtime"]),
                     error])
    widths = [max(len(h), *(len(r[c]) for r in rows)) for c, h in enumerate(_DEVICE_HEADS)]
    for column, narrowest in _DEVICE_CUTS:
        over = sum(widths) + 2 * (len(widths) - 1) - width
        if over > 0:
            widths[column] = max(narrowest, widths[column] - over)
    for r in rows:  # a phone that no longer fits loses its maker before its model's name is cut
        r[1] = r[1] if len(r[1]) <= widths[1] else _without_maker(r[1])
    cut = [[c if len(c) <= w else c[:w - 1] + "…" for c, w in zip(r, widths, strict=True)] for r in rows]
    foot = ("* the default. MAPE unseen: mean error on networks of families it never trained on; (in "
            "brackets): only measured on its own family, or a calibrated profile's leave-one-out error over its "
            "own measurements. -v: what each profile learned from, all its figures and the GPU names that select "
            "it.")
    lines = text_table(_DEVICE_HEADS, cut, frozenset({4}))
    return "\n".join([*lines, "", textwrap.fill(foot, width)]) + "\n"


def _without_maker(phone: str) -> str:
    """"Samsung Galaxy A03s" → "Galaxy A03s": the maker dropped where the model's name stays two words or more,
    so two phones of one maker stay apart in a narrow column."""
    words = phone.split()
    return " ".join(words[1:]) if len(words) >= 3 else phone


def _short_runtime(runtime: str) -> str:
    """"TensorFlow Lite 2.10 GPU delegate (OpenCL), fp16" → "TFLite 2.10 OpenCL fp16"."""
    short = runtime.replace("TensorFlow Lite", "TFLite").replace(" GPU delegate", "").replace(", nn-Meter's build",
                                                                                           " nn-Meter")
    return re.sub(r" \((\w+)\),?", r" \1", short).replace(",", "")


def _devices_long(items: list[dict], width: int) -> str:
    lines = []
    for i in items:
        where = "on the GPU" if i["backend"] == "gpu" else "on the CPU"
        precision = (f"; measured {i['model_precision']} models, {i['compute_precision']} {where}"
                     if i["model_precision"] else "")
        lines += [f"{i['name']}{' (default)' if i['default'] else ''}: {i['title']}",
                  f"    runtime:     {i['runtime']}{precision}"
                  + (f"; also selected by '{i['aliases']}'" if i["aliases"] else ""),
                  f"    trained on:  {i['trained_on']}" + (f" ({i['measurements']})" if i["measurements"] else "")
                  + (f", {i['regressor']} on {i['tree_features']} features" if i["regressor"] else "")]
        label = interval_label(i["interval_coverage"])
        if i["unseen_families"]:
            lines.append(f"    unseen families: {_figures(i['unseen_families'], label)}")
            floor = i["unseen_families"].get("floor")
            if floor:
                lines.append(f"    floor (FLOPs + file size): {_figures(floor, label)}")
        if i["in_family"]:
            own = i["in_family"]
            if "leave-one-out" in own.get("method", ""):  # a calibrated profile: its own measurements
                lines.append(f"    calibration: {_figures(own, label)} (leave-one-out)")
                if isinstance(i["expected"], dict) and "n" in i["expected"]:
                    lines.append(f"    expected on unseen models: {expected_accuracy(i['expected'])}")
            else:
                lines.append(f"    in family:   {_figures(own, label)}")
        vit = i["unseen_families"].get("vit") if i["unseen_families"] else None
        if vit:  # a CPU profile trained on the shared ViTs too: their own figure, within ±15%
            lines.append(f"    unseen ViT families: {vit['within_15pct']}% of {vit['models']} within ±15%, MAPE "
                         f"{vit['mape_pct']}%, {label} holds {vit['interval_coverage_pct']}%")
        if i["real_networks"]:
            lines.append(f"    real CNNs:   {_figures(i['real_networks'], label)} ({i['real_networks']['method']})")
        if i["overhead_ms"] > 0 or i["dispatch_ms"] > 0:  # what a model costs beyond its kernels' own time
            dispatch = f", {1000 * i['dispatch_ms']:.3g} µs per kernel dispatched" if i["dispatch_ms"] > 0 else ""
            lines.append(f"    beside the kernels: {i['overhead_ms']:.3g} ms per inference{dispatch}")
    wrapped = [textwrap.fill(line, width, subsequent_indent=" " * (17 if line.startswith(" ") else 4),
                             break_long_words=False, break_on_hyphens=False) for line in lines]
    return "\n".join(wrapped) + "\n"


def _figures(h: dict, interval: str) -> str:
    parts = [f"{h.get('within_10pct')}% within ±10%", f"{h.get('within_25pct')}% within ±25%",
             f"MAPE {h.get('mape_pct')}%"]
    if h.get("interval_coverage_pct") is not None:
        parts.append(f"{interval} holds {h['interval_coverage_pct']}%")
    return ", ".join(parts) + (f" of {h['models']} models" if h.get("models") else "")


_DATA_PATH = re.compile(r"(?: \((?:\.\./)?shared/data/[^)]*\)|, (?:\.\./)?shared/data/[^),]*)")


def _without_paths(text: str) -> str:
    """Provenance text without the checkout's data folders (a pip user has none): "62 real CNNs
    (qed-usc mobile-ml-benchmark, shared/data/qed-usc-mobile-cnn)" → "62 real CNNs (qed-usc
    mobile-ml-benchmark)"."""
    return _DATA_PATH.sub("", text)


def _hardware(p: DeviceProfile) -> tuple[str, str]:
    """(phone, GPU or CPU): the profile's device record, else read from its title ("Adreno 630 GPU
    (Snapdragon 845, Pixel 3 XL), ...")."""
    if p.backend != "gpu" and p.device.phone:  # a phone's CPU profile: the precision it measured
        return p.device.phone, f"CPU, {p.device.model_precision or 'float32'}"
    if p.device.phone or p.device.gpu:
        return p.device.phone or "", p.device.gpu or ""
    m = re.match(r"(.*?) \((?:[^,)]*, )?([^)]*)\)", p.title)
    return (m.group(2), m.group(1)) if m else ("", p.title)


def _device_item(p: DeviceProfile) -> dict:
    from pytest_tflite_latency.estimator.defaults import DEFAULT_DEVICE, GPU_ALIASES

    prov = p.provenance
    heldout = prov.get("heldout", {})
    measured = prov.get("measurements")
    if isinstance(measured, dict):
        measured = " and ".join(f"{v} {k.replace('_', '-').removesuffix('s')}" for k, v in measured.items())
    stock = "families" in heldout.get("method", "")
    phone, gpu = _hardware(p)
    return {"name": p.name, "default": p.name == DEFAULT_DEVICE, "title": p.title, "backend": p.backend,
            "runtime": p.runtime, "aliases": ", ".join(a for a, n in GPU_ALIASES.items() if n == p.name),
            "phone": phone, "gpu": gpu, "model_precision": p.device.model_precision or "",
            "compute_precision": p.device.compute_precision or "",
            "trained_on": _without_paths(prov.get("trained_on", "")),
            "measurements": f"{measured} measurements" if measured else "",
            "regressor": prov.get("regressor"), "tree_features": prov.get("tree_features", "all"),
            "interval_coverage": p.interval.coverage,
            "unseen_families": heldout if stock else {},
            "in_family": {} if stock or heldout.get("mape_pct") is None else heldout,  # None: too few to state
            "real_networks": prov.get("real_networks", {}),
            "expected": (prov.get("calibration") or {}).get("expected") or {},
            "overhead_ms": p.overhead_ms, "dispatch_ms": p.context.ms_per_kernel if p.context else 0.0}
