"""Whole-model measurements from where teams have them, for `tflite-latency calibrate`.

- `benchmark_model` output (a log of one or several runs, either of tsl::Stat's statistics formats;
  parsed by the plugin's own `parse_benchmark_output`), the model named by its ``Graph: [path]`` line;
- Qualcomm AI Hub profile JSON (``ProfileJob.download_profile()``): ``execution_summary.
  estimated_inference_time`` in µs, the model named by the file (``mobilenet_v2.json``) unless the
  JSON names it; its per-layer ``execution_detail`` rows are counted and kept;
- a CSV with the header ``model,ms`` and optional ``std``, ``runtime`` columns;
- the measurements JSON `pytest --on-device` writes (``"format": "tflite-latency-measurements/1"``).

Every fault is an `InputError`: one line naming the file (and row) and the problem.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from pytest_tflite_latency.estimator.inputs import InputError, checked_number, read_regular_file
from pytest_tflite_latency.estimator.wording import first_few

MAX_BYTES = 64 * 1024 * 1024  # a measurement file larger than this is not one
MEASUREMENTS_FORMAT = "tflite-latency-measurements/1"
PLAUSIBLE_MS = (1e-3, 3.6e6)  # 1 µs … 1 hour, as the plugin's adb runner accepts
_GRAPH = re.compile(r"Graph: \[([^\]\n]*)\]")
_TIMINGS_LINE = re.compile(r"[Ii]nference timings in us")
# benchmark_model's "Use <delegate>: [1]" lines (its --use_* flags), the first one on naming what ran
_DELEGATES = tuple((name, re.compile(pattern, re.IGNORECASE)) for name, pattern in (
    ("gpu", r"use[ _]gpu: \[(?:1|true)\]|GPU delegate created"), ("nnapi", r"use[ _]nnapi: \[(?:1|true)\]"),
    ("hexagon", r"use[ _]hexagon: \[(?:1|true)\]"), ("coreml", r"use[ _]coreml: \[(?:1|true)\]")))
_LOWER_PRECISION = re.compile(r"(?i)(?:allow lower precision in gpu|gpu_precision_loss_allowed): \[(0|1|true|false)\]")


@dataclass(frozen=True)
class ModelMeasurement:
    """One whole-model latency as read: which model (a path or a name), the mean and spread (ms)."""

    model: str
    mean_ms: float
    std_ms: float | None
    runtime: str
    source: str  # file[:row]
    layers_ms: tuple[float, ...] = field(default=(), repr=False)  # per-layer times where the source has them
    phone: str = ""
    gpu: str = ""
    delegate: str = ""  # "gpu", "cpu", "nnapi", "npu" … where the source says which ran the model
    delegate_inferred: bool = False  # told from a log's lines (no "Use gpu" line: likely the CPU), not stated
    precision: str = ""  # "fp16" or "fp32" where a GPU run says whether it allowed lower precision


def read_measurements(path: str | Path) -> list[ModelMeasurement]:
    """Every measurement in ``path``, its format told by its content."""
    data = read_regular_file(path, MAX_BYTES, "measurement file")
    where = str(path)
    try:
        text = data.decode("utf-8-sig")  # Excel's "CSV UTF-8" starts with a byte-order mark
    except UnicodeDecodeError:
        raise InputError(where, "not text: expected a benchmark_model log, JSON or CSV (a database goes with "
                                "--db)") from None
    stripped = text.lstrip()
    if stripped.startswith(("{", "[")):
        return _from_json(text, where, Path(path))
    if _TIMINGS_LINE.search(text) or "STARTING!" in text:
        return _from_benchmark_log(text, where, Path(path))
    first = stripped.splitlines()[0] if stripped else ""
    if "," in first:
        return _from_csv(text, where)
    raise InputError(where, "not a benchmark_model log (no 'Inference timings in us' line), JSON or CSV "
                            "(model,ms[,std,runtime])")


def _ms(value: object, where: str) -> float:
    return checked_number(value, where, low=PLAUSIBLE_MS[0], high=PLAUSIBLE_MS[1])


def _from_benchmark_log(text: str, where: str, path: Path) -> list[ModelMeasurement]:
    from pytest_tflite_latency.adb import BenchmarkOutputError, parse_benchmark_output

    chunks = [c for c in re.split(r"(?=STARTING!)", text) if _TIMINGS_LINE.search(c) or "STARTING!" in c]
    out = []
    for i, chunk in enumerate(chunks, 1):
        at = f"{where}: run {i}" if len(chunks) > 1 else where
        graph = _GRAPH.search(chunk)
        if not _TIMINGS_LINE.search(chunk):  # a run that never got to its timings: the model did not run
            error = next((ln.strip() for ln in chunk.splitlines() if "ERROR" in ln), "no timings printed")
            said = error if len(error) <= 240 else error[:240] + "…"
            raise InputError(at, f"benchmark_model failed on {graph.group(1).strip() if graph else 'its model'} "
                                 f"({said}): leave that run out, or measure a model it can run")
        try:
            m = parse_benchmark_output(chunk)
        except BenchmarkOutputError as exc:
            raise InputError(at, str(exc)) from None
        if graph is None and len(chunks) > 1:
            raise InputError(at, "no 'Graph: [model.tflite]' line says which model this run measured")
        model = graph.group(1).strip() if graph else path.stem
        delegate = next((name for name, pattern in _DELEGATES if pattern.search(chunk)), "cpu")
        lower = _LOWER_PRECISION.search(chunk) if delegate == "gpu" else None
        precision = "" if lower is None else ("fp16" if lower.group(1).lower() in ("1", "true") else "fp32")
        runtime = f"benchmark_model ({delegate}{', ' + precision if precision else ''})"
        out.append(ModelMeasurement(model, m.mean_ms, m.std_ms if m.runs else None, runtime, at,
                                    delegate=delegate, delegate_inferred=delegate == "cpu", precision=precision))
    return out


def _from_csv(text: str, where: str) -> list[ModelMeasurement]:
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip().lower() for h in reader.fieldnames or []]
    if "model" not in header or "ms" not in header:
        raise InputError(where, f"a CSV needs the header model,ms[,std,runtime]; found {','.join(header)[:80]}")
    reader.fieldnames = header
    out = []
    for row in reader:
        at = f"{where}:{reader.line_num}"
        if row.get(None):  # more fields than the header names: a value split by a decimal comma, say
            fields = len(header) + len(row[None])
            raise InputError(at, f"{fields} fields for the header's {len(header)} ({','.join(header)}): a decimal "
                                 "comma? write 4.9, not 4,9")
        model = (row.get("model") or "").strip()
        if not model:
            raise InputError(at, "no model named")
        std = (row.get("std") or "").strip()
        out.append(ModelMeasurement(model, _ms(row.get("ms"), f"{at}: ms"),
                                    checked_number(std, f"{at}: std", low=0.0) if std else None,
                                    (row.get("runtime") or "").strip(), at))
    if not out:
        raise InputError(where, "no measurement rows")
    return out


def _from_json(text: str, where: str, path: Path) -> list[ModelMeasurement]:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(where, f"not valid JSON (line {exc.lineno}: {exc.msg})") from None
    if isinstance(doc, dict) and doc.get("format") == MEASUREMENTS_FORMAT:
        return _from_records(doc, where)
    if isinstance(doc, dict) and isinstance(doc.get("execution_summary"), dict):
        return [_from_ai_hub(doc, where, path)]
    raise InputError(where, f"JSON neither the on-device measurements ({MEASUREMENTS_FORMAT!r}) nor an AI Hub "
                            "profile (execution_summary)")


def _from_records(doc: dict, where: str) -> list[ModelMeasurement]:
    rows = doc.get("measurements")
    if not isinstance(rows, list) or not rows:
        raise InputError(where, "no measurements")
    out = []
    for i, r in enumerate(rows):
        at = f"{where}: measurements[{i}]"
        if not isinstance(r, dict) or not isinstance(r.get("model"), str):
            raise InputError(at, "a record needs a model path")
        std = r.get("std_ms")
        out.append(ModelMeasurement(r["model"], _ms(r.get("mean_ms"), f"{at}: mean_ms"),
                                    None if std is None else checked_number(std, f"{at}: std_ms", low=0.0),
                                    str(r.get("runtime") or ""), at, phone=str(r.get("phone") or ""),
                                    gpu=str(r.get("gpu") or ""), delegate=str(r.get("delegate") or "")))
    return out


def _from_ai_hub(doc: dict, where: str, path: Path) -> ModelMeasurement:
    summary = doc["execution_summary"]
    us = summary.get("estimated_inference_time")
    ms = _ms(checked_number(us, f"{where}: execution_summary.estimated_inference_time", low_open=True, low=0.0)
             / 1000, f"{where}: execution_summary.estimated_inference_time")
    layers = []
    for i, layer in enumerate(doc.get("execution_detail") or []):
        if isinstance(layer, dict) and layer.get("execution_time") is not None:
            layers.append(checked_number(layer["execution_time"], f"{where}: execution_detail[{i}].execution_time",
                                         low=0.0) / 1000)
    model = next((str(doc[k]) for k in ("model", "model_name", "name") if isinstance(doc.get(k), str)), path.stem)
    units = {str(layer.get("compute_unit", "")).lower() for layer in doc.get("execution_detail") or []
             if isinstance(layer, dict) and layer.get("compute_unit")}
    # a GPU job with CPU fallback layers ran the GPU delegate; a job without GPU layers did not (AI Hub
    # runs many on the NPU)
    delegate = "gpu" if "gpu" in units else "+".join(sorted(units))
    return ModelMeasurement(model, ms, None, "Qualcomm AI Hub profile" + (f" ({delegate})" if delegate else ""),
                            where, tuple(layers), delegate=delegate)


def resolve_models(measurements: list[ModelMeasurement], search: list[Path]) -> dict[Path, list[ModelMeasurement]]:
    """Each measurement's ``.tflite`` file: the path as given (absolute, or relative to the working
    folder or to the measurement file), else a file of ``search`` (files or folders) with the same
    name or stem. Measurements of one file are grouped; an unfound model is an `InputError`."""
    files: dict[str, list[Path]] = {}
    for s in search:
        if not s.exists():
            raise InputError(f"--models {s}", "no such file or folder")
        for f in sorted(s.rglob("*.tflite")) if s.is_dir() else [s]:
            for key in {f.name, f.stem}:
                if not any(_same_file(f, g) for g in files.get(key, [])):
                    files.setdefault(key, []).append(f)
    out: dict[Path, list[ModelMeasurement]] = {}
    for m in measurements:
        p = _find(m, files)
        if p is None:
            where = first_few([str(d) for d in search])
            hint = (f": no {Path(m.model).stem}.tflite in --models {where}" if search
                    else " (name the folder of your models with --models)")
            raise InputError(m.source, f"model {m.model!r} not found{hint}")
        out.setdefault(p.resolve(), []).append(m)
    return out


def _find(m: ModelMeasurement, files: dict[str, list[Path]]) -> Path | None:
    given = Path(m.model)
    beside = Path(m.source.split(":")[0]).parent / given
    for p in (given, beside):
        if p.suffix == ".tflite" and p.is_file():
            return p
    name = given.name
    found = files.get(name) or files.get(Path(name).stem) or files.get(name.removesuffix(".tflite")) or []
    if len(found) > 1:  # a log, a CSV row or an AI Hub job names the file, not which of these it measured
        raise InputError(m.source, f"model {m.model!r} matches {len(found)} different files under --models "
                                   f"({first_few([str(f) for f in found])}): give --models the one measured")
    return found[0] if found else None


def _same_file(a: Path, b: Path) -> bool:
    """The same model: one file twice, or two files of the same bytes."""
    try:
        return a.resolve() == b.resolve() or (a.stat().st_size == b.stat().st_size and a.read_bytes() == b.read_bytes())
    except OSError:
        return False
