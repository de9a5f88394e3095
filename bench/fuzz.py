"""Structure-aware fuzzing of everything the tool reads: hostile input must end in a trustworthy estimate of a
model the runtime accepts, or in one clear error line.

    python -m pytest_tflite_latency.bench.fuzz [--cases 5000] [--start 0] [--seed 0] [--timeout 5]
                                               [--memory-mb 1024] [--litert-every 4] [--agreement]

Surfaces, each case drawn from one of them:
- ``model``: a real model (the project's zoo, and the TensorFlow-converted graphs under
  ``bench/data/qed-usc-mobile-cnn/``) mutated where the FlatBuffer says the structure is: operator inputs and
  outputs rewired (self-loops and two-op cycles included), opcodes swapped, tensor shapes set to extremes,
  ranks cut (a shape vector shortened, down to 0-D), an op's options table swapped for another type's,
  option values set to extremes, vtables and offsets corrupted, the file truncated, or several at once;
- ``huge``: legal but absurd work written from scratch (pooling windows and convolutions of up to 65,536
  over maps of up to 2^31 elements);
- ``profile``: a bundled device profile's JSON with a hostile number (400-digit integers, 1e308, NaN,
  Infinity, -0.0, denormals, strings, booleans, null) at a random key;
- ``budget`` and ``baseline``: the plugin's budget YAML and baseline JSON with hostile numbers and shapes,
  read by the plugin's own loaders.
Each case runs in a worker process with a per-case timeout and an address-space limit. For every
``--litert-every``-th model the estimator accepted, LiteRT (the bench extra) loads it too (weights stripped
to one byte restored to zeros first) and allocates its tensors, in a child process of its own.

Outcomes: an estimate (finite, positive, within the interval, valid JSON report) or a loaded file; a clean
error (`EstimatorError`, a budget file error or a pytest usage error: one line). Failures: crashes (any other
exception), hangs (over ``--timeout``), cases over the memory limit, figures not finite and positive that
were returned, and models the estimator accepted that LiteRT refuses ("runtime would refuse"). Exit code 1
when any occurred. ``--case N`` replays one case. ``--agreement`` instead checks the other direction: every
seed model LiteRT accepts must still estimate.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import resource
import struct
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import tflite

from ..estimator.errors import EstimatorError
from ..estimator.graph import Graph, load_graph
from ..estimator.pipeline import Estimate, estimate
from ..estimator.profile import DEFAULT_DEVICE, device_names, load_profile
from ..estimator.report import render
from ..estimator.xnnpack import precision_mismatch
from . import zoo
from .litert import restore_stripped
from .progress import progress
from .writer import ModelWriter

QED_MODELS = Path(__file__).parent / "data" / "qed-usc-mobile-cnn"
SURFACES = ("model", "huge", "profile", "budget", "baseline")
SURFACE_WEIGHTS = (0.6, 0.1, 0.1, 0.1, 0.1)
OUTCOMES = ("estimated", "error", "crash", "hang", "memory", "nonsense", "runtime_refuses")
FAILURES = ("crash", "hang", "memory", "nonsense", "runtime_refuses")
LITERT_TIMEOUT_S = 60.0  # restoring and preparing a stripped 60 MB model takes a few seconds on a busy host
# Hostile numbers for the text files: beyond float, at its edges, not numbers at all.
HOSTILE_NUMBERS = (10**400, -(10**400), 1e308, -1e308, math.nan, math.inf, -math.inf, -0.0, 0, 5e-324, -1,
                   2**63, "12", "1e3", True, None, [], {}, 3600e3, 1e-300)
_INT32 = (0, 1, -1, 2, -7, 65535, 65536, 1 << 20, 1 << 24, 2**31 - 1, -(2**31), 0x7FC00000, 0x7F800000)
_BYTE = (0, 1, 0x7F, 0x80, 0xFF)
_NOOPS = ("RESHAPE", "QUANTIZE", "DEQUANTIZE", "SQUEEZE", "EXPAND_DIMS")


@dataclass
class Sites:
    """Byte positions of a model's structure, found once per seed model."""

    inputs: list[list[int]] = field(default_factory=list)  # per op: positions of its input indices
    outputs: list[list[int]] = field(default_factory=list)  # per op: its output tensor indices
    opcode: list[int] = field(default_factory=list)  # per op: position of its opcode index
    noop: list[int] = field(default_factory=list)  # ops whose opcode is a no-op reshape/(de)quantize
    shape: list[int] = field(default_factory=list)  # tensor dimensions (int32)
    rank: list[tuple[int, int]] = field(default_factory=list)  # (position, value) of shape vectors' lengths
    option_type: list[int] = field(default_factory=list)  # ops' builtin_options_type bytes
    option: list[tuple[int, int]] = field(default_factory=list)  # (position, size) of option fields
    vtable: list[int] = field(default_factory=list)  # vtable entries (uint16)
    offset: list[int] = field(default_factory=list)  # uoffset fields (uint32)
    tensors: int = 0
    opcodes: int = 0


@dataclass
class Seed:
    name: str
    data: bytes
    sites: Sites
    signature: tuple


def seed_models() -> list[Seed]:
    """The zoo at a small input size (float32, float16, int8) and the converted graphs if present."""
    models = [("mobilenet_v1-fp16", zoo.build("mobilenet_v1", size=32, fill="zeros", dtype="float16")),
              ("mobilenet_v2", zoo.build("mobilenet_v2", size=32, fill="zeros")),
              ("resnet18-int8", zoo.build("resnet18", size=32, fill="zeros", dtype="int8")),
              ("nasbench201", zoo.build("nasbench201", fill="zeros"))]
    models += [(p.stem, p.read_bytes()) for p in sorted(QED_MODELS.glob("*.tflite"))]
    return [Seed(name, data, find_sites(data), signature(load_graph(data))) for name, data in models]


def find_sites(data: bytes) -> Sites:
    """Where the operators, tensors, options, vtables and offsets of ``data`` lie."""
    model = tflite.Model.GetRootAs(data, 0)
    sites = Sites(opcodes=model.OperatorCodesLength(), offset=[0])
    names = [max(model.OperatorCodes(i).BuiltinCode(), model.OperatorCodes(i).DeprecatedBuiltinCode())
             for i in range(sites.opcodes)]
    noop_codes = {getattr(tflite.BuiltinOperator, n) for n in _NOOPS}
    for s in range(model.SubgraphsLength()):
        sg = model.Subgraphs(s)
        _table(sg._tab, sites, offsets=(4, 6, 8, 10))
        for t in range(sg.TensorsLength()):
            tab = sg.Tensors(t)._tab
            _table(tab, sites, offsets=(4, 10))
            sites.shape += _vector(tab, 4)
            if tab.Offset(4):
                sites.rank.append((tab.Vector(tab.Offset(4)) - 4, tab.VectorLen(tab.Offset(4))))
        sites.tensors = max(sites.tensors, sg.TensorsLength())
        for i in range(sg.OperatorsLength()):
            op = sg.Operators(i)
            _table(op._tab, sites, offsets=(6, 8, 12))
            if op._tab.Offset(4):
                sites.opcode.append(op._tab.Pos + op._tab.Offset(4))
            if op._tab.Offset(10):
                sites.option_type.append(op._tab.Pos + op._tab.Offset(10))
            if op.OpcodeIndex() < len(names) and names[op.OpcodeIndex()] in noop_codes:
                sites.noop.append(len(sites.inputs))
            sites.inputs.append(_vector(op._tab, 6))
            sites.outputs.append(list(op.OutputsAsNumpy()) if op.OutputsLength() else [])
            options = op.BuiltinOptions()
            if options is not None:
                _table(options, sites, offsets=())
                sites.option += _fields(options)
    return sites


def _vtable(tab) -> int:
    return tab.Pos - struct.unpack_from("<i", tab.Bytes, tab.Pos)[0]


def _table(tab, sites: Sites, offsets: tuple[int, ...]) -> None:
    """Record the table's vtable entries and the positions of its offset fields."""
    vt = _vtable(tab)
    n = (struct.unpack_from("<H", tab.Bytes, vt)[0] - 4) // 2
    sites.vtable += [vt + 4 + 2 * k for k in range(n)]
    sites.offset += [tab.Pos + tab.Offset(v) for v in offsets if tab.Offset(v)]


def _vector(tab, slot: int) -> list[int]:
    o = tab.Offset(slot)
    if not o:
        return []
    start = tab.Vector(o)
    return [start + 4 * k for k in range(tab.VectorLen(o))]


def _fields(tab) -> list[tuple[int, int]]:
    """(position, size) of each scalar field present; a field's size is the gap to the next one."""
    vt = _vtable(tab)
    length, inline = struct.unpack_from("<HH", tab.Bytes, vt)
    starts = sorted({struct.unpack_from("<H", tab.Bytes, vt + 4 + 2 * k)[0] for k in range((length - 4) // 2)}
                    - {0})
    ends = [*starts[1:], inline]
    return [(tab.Pos + a, min(4, b - a)) for a, b in zip(starts, ends, strict=False) if b > a]


def _put(buf: bytearray, pos: int, size: int, value: int) -> None:
    if pos >= 0 and pos + size <= len(buf):
        buf[pos:pos + size] = (value & ((1 << (8 * size)) - 1)).to_bytes(size, "little")


def _pick(rng: np.random.Generator, items: list):
    return items[int(rng.integers(len(items)))] if items else None


def _rewire(buf: bytearray, s: Sites, rng: np.random.Generator) -> str:
    """An operator input now reads another op's output, its own, nothing, or beyond the tensors."""
    op = int(rng.integers(len(s.inputs))) if s.inputs else None
    if op is None or not s.inputs[op]:
        return "rewire(none)"
    other = s.outputs[int(rng.integers(len(s.outputs)))]
    value = _pick(rng, [*other, *s.outputs[op], -1, s.tensors, s.tensors + 1000,
                        int(rng.integers(max(s.tensors, 1)))])
    _put(buf, _pick(rng, s.inputs[op]), 4, int(value if value is not None else -1))
    return f"rewire(op {op})"


def _cycle(buf: bytearray, s: Sites, rng: np.random.Generator) -> str:
    """A no-op op (RESHAPE, QUANTIZE ...) reads its own output, or two ops read each other's."""
    ops = s.noop or list(range(len(s.inputs)))
    a, b = _pick(rng, ops), _pick(rng, ops)
    if a is None or not s.inputs[a] or not s.inputs[b] or not s.outputs[a] or not s.outputs[b]:
        return "cycle(none)"
    _put(buf, s.inputs[a][0], 4, int(s.outputs[b][0]))
    _put(buf, s.inputs[b][0], 4, int(s.outputs[a][0]))
    return f"cycle(ops {a}, {b})"


def _opcode(buf: bytearray, s: Sites, rng: np.random.Generator) -> str:
    pos = _pick(rng, s.opcode)
    if pos is not None:
        _put(buf, pos, 4, int(_pick(rng, [int(rng.integers(max(s.opcodes, 1))), s.opcodes, 2**31 - 1])))
    return "opcode"


def _shape(buf: bytearray, s: Sites, rng: np.random.Generator) -> str:
    for _ in range(int(rng.integers(1, 4))):
        if s.shape:
            _put(buf, _pick(rng, s.shape), 4, int(_pick(rng, list(_INT32))))
    return "shape"


def _rank(buf: bytearray, s: Sites, rng: np.random.Generator) -> str:
    """Rank loss: shape vectors shortened, down to 0-D; one tensor, a few, or every tensor of the model."""
    if not s.rank:
        return "rank(none)"
    every = rng.random() < 0.2
    for pos, length in s.rank if every else [_pick(rng, s.rank) for _ in range(int(rng.integers(1, 4)))]:
        _put(buf, pos, 4, int(rng.integers(0, max(length, 1))))
    return "rank(all)" if every else "rank"


def _option_type(buf: bytearray, s: Sites, rng: np.random.Generator) -> str:
    """An op's options table read as another type's (Conv2DOptions as Pool2DOptions ...)."""
    pos = _pick(rng, s.option_type)
    if pos is not None:
        _put(buf, pos, 1, int(_pick(rng, [0, 1, 2, 5, 8, int(rng.integers(1, 127)), 255])))
    return "option_type"


def _option(buf: bytearray, s: Sites, rng: np.random.Generator) -> str:
    site = _pick(rng, s.option)
    if site is not None:
        pos, size = site
        _put(buf, pos, size, int(_pick(rng, list(_BYTE if size == 1 else _INT32))))
    return "option"


def _vtable_entry(buf: bytearray, s: Sites, rng: np.random.Generator) -> str:
    _put(buf, _pick(rng, s.vtable) or 0, 2, int(_pick(rng, [0, 2, 4, 0xFFFF, int(rng.integers(1 << 16))])))
    return "vtable"


def _offset(buf: bytearray, s: Sites, rng: np.random.Generator) -> str:
    pos = _pick(rng, s.offset) or 0
    old = int.from_bytes(buf[pos:pos + 4], "little")
    _put(buf, pos, 4, int(_pick(rng, [0, 4, old + 4, old - 4, len(buf), 2**31 - 1, 0xFFFFFFFF])))
    return "offset"


def _flip(buf: bytearray, s: Sites, rng: np.random.Generator) -> str:
    for pos in rng.integers(0, len(buf), rng.integers(1, 8)):
        buf[int(pos)] = int(rng.integers(256))
    return "flip"


MUTATIONS = {"rewire": _rewire, "cycle": _cycle, "opcode": _opcode, "shape": _shape, "rank": _rank,
             "option_type": _option_type, "option": _option, "vtable": _vtable_entry, "offset": _offset,
             "flip": _flip}


def mutate(seed: Seed, rng: np.random.Generator) -> tuple[bytes, str]:
    """One mutated copy of the seed model and a description of what was done."""
    buf = bytearray(seed.data)
    kinds = list(MUTATIONS)
    n = 1 if rng.random() < 0.6 else int(rng.integers(2, 5))  # 40%: combinations
    done = [MUTATIONS[kinds[int(rng.integers(len(kinds)))]](buf, seed.sites, rng) for _ in range(n)]
    if rng.random() < 0.08:
        buf = buf[: int(rng.integers(0, len(buf)))]
        done.append("truncate")
    return bytes(buf), "+".join(done)


def signature(graph: Graph) -> tuple:
    """What the estimator sees of a graph: ops with their tensors and options, tensor shapes."""
    return tuple((tuple((o.opcode, o.inputs, o.outputs, tuple(sorted(o.options.items()))) for o in sg.ops),
                  tuple((t.shape, t.dtype, t.is_const) for t in sg.tensors)) for sg in graph.subgraphs)


def figure_problem(est: Estimate) -> str:
    """Why the estimate's figures must not be trusted, or "" when they are finite and positive."""
    bad = [f"#{layer.index}: {layer.ms}" for layer in est.layers if not (np.isfinite(layer.ms) and layer.ms >= 0)]
    lo, hi = est.interval_ms
    if bad or not (np.isfinite([est.total_ms, lo, hi]).all() and est.total_ms > 0 and lo <= est.total_ms <= hi):
        return f"total {est.total_ms} ms, interval {lo}–{hi}, layers {', '.join(bad[:3])}"
    try:
        json.loads(render(est, "json"), parse_constant=_reject)
    except ValueError as exc:
        return f"invalid JSON report: {exc}"
    return ""


def _reject(token: str):
    raise ValueError(f"{token} is not JSON")


def make_case(seeds: list[Seed], devices: tuple[str, ...], seed: int, i: int) -> tuple[str, bytes, str, str]:
    """Case ``i``: (surface, mutated model or file text, device, description), the same for the same seed and
    number."""
    rng = np.random.default_rng([seed, i])
    surface = SURFACES[int(rng.choice(len(SURFACES), p=SURFACE_WEIGHTS))]
    device = devices[(i // len(seeds)) % len(devices)]
    if surface == "model":
        base = seeds[i % len(seeds)]
        data, how = mutate(base, rng)
        return surface, data, device, f"{base.name} on {device}: {how}"
    if surface == "huge":
        data, how = huge_model(rng)
        return surface, data, device, f"{how} on {device}"
    text, how = {"profile": profile_text, "budget": budget_text, "baseline": baseline_text}[surface](rng, device)
    return surface, text.encode(), device, how


def huge_model(rng: np.random.Generator) -> tuple[bytes, str]:
    """Legal but absurd work: a pooling window or a convolution of up to 65,536 over a map of up to 2^31
    elements (46,340² × 1), written as the runtime would accept it."""
    side = int(_pick(rng, [46340, 32768, 8192, 1024]))
    channels = int(_pick(rng, [1, 2])) if side >= 32768 else int(_pick(rng, [1, 8, 64]))
    m = ModelWriter(fill="zeros")
    x = m.input((1, side, side, channels))
    padding = str(_pick(rng, ["SAME", "VALID"]))
    if rng.random() < 0.6:
        window, stride = int(_pick(rng, [65536, 46340, 4096, 3])), int(_pick(rng, [1, 2, 65536]))
        y = m.max_pool(x, window, stride, padding) if rng.random() < 0.5 else m.avg_pool(x, window, stride, padding)
        return m.to_bytes([y]), f"huge pool {window}×{window}/{stride} {padding} over {side}²×{channels}"
    kernel, filters = int(_pick(rng, [256, 64, 3])), int(_pick(rng, [1, 4, 64]))
    filters = min(filters, max(1, 2**22 // (kernel * kernel * channels)))  # weights of at most 16 MB
    y = m.conv2d(x, filters, kernel, 1, padding)
    return m.to_bytes([y]), f"huge conv {kernel}×{kernel}→{filters} {padding} over {side}²×{channels}"


def _hostile(rng: np.random.Generator):
    return HOSTILE_NUMBERS[int(rng.integers(len(HOSTILE_NUMBERS)))]


def _leaves(d: object, path: tuple = ()) -> list[tuple]:
    """Key paths to a profile's scalars; of each long list only the first element."""
    if isinstance(d, dict):
        return [leaf for k, v in d.items() for leaf in _leaves(v, (*path, k))]
    if isinstance(d, list):
        return [leaf for j, v in enumerate(d[:1] if len(d) > 8 else d) for leaf in _leaves(v, (*path, j))]
    return [path]


_PROFILES: dict[str, tuple[dict, list[tuple]]] = {}  # per worker process: a device's JSON form and leaves


def profile_text(rng: np.random.Generator, device: str) -> tuple[str, str]:
    """A bundled profile's JSON with one or a few scalars replaced by hostile numbers."""
    if device not in _PROFILES:
        d = load_profile(device).to_dict()
        _PROFILES[device] = d, _leaves(d)
    d, leaves = _PROFILES[device]
    d = json.loads(json.dumps(d))
    keys = [("overhead_ms",), ("kernel_scale",), ("max_partitions",), ("interval", "low"), ("base", "launch_ms")]
    done = []
    for _ in range(int(rng.integers(1, 3))):
        path = keys[int(rng.integers(len(keys)))] if rng.random() < 0.5 else leaves[int(rng.integers(len(leaves)))]
        value = _hostile(rng)
        target = d
        for k in path[:-1]:
            target = target[k]
        target[path[-1]] = value
        done.append(f"{'.'.join(map(str, path))}={str(value)[:12]}")
    return json.dumps(d), f"profile of {device}: {', '.join(done)}"


_YAML_VALUES = ("9" * 400, "-" + "9" * 400, "1e999", "-.inf", ".nan", "1e308", "-0", "0", "5e-324", "0x7fffffff",
                "1_000", "~", "[1, 2]", "{a: 1}", "'12'", "true", "3600000", "!!python/name:os.system", "*nope",
                "'" + "a" * 300 + "/m.tflite'", "/dev/zero", "'**/*'", "-1", "99.9999", "100")


def budget_text(rng: np.random.Generator, device: str) -> tuple[str, str]:
    """A budget YAML with hostile values in its keys (numbers, paths, devices, structure)."""
    fields = {"model": "zoo.tflite", "max_ms": "15", "device": device, "margin_pct": "5"}
    changed = []
    for _ in range(int(rng.integers(1, 3))):
        key = str(_pick(rng, [*fields, "policy", "devices", "defaults.margin_pct", "defaults.device"]))
        fields[key] = _YAML_VALUES[int(rng.integers(len(_YAML_VALUES)))]
        changed.append(f"{key}={fields[key][:12]}")
    defaults = {k.split(".")[1]: v for k, v in fields.items() if k.startswith("defaults.")}
    entry = {k: v for k, v in fields.items() if not k.startswith("defaults.")}
    lines = ["defaults:", *(f"  {k}: {v}" for k, v in defaults.items())] if defaults else []
    lines += ["budgets:", "  - " + "\n    ".join(f"{k}: {v}" for k, v in entry.items())]
    if rng.random() < 0.15:
        lines = ["budgets: " + str(_pick(rng, ["7", "'x'", "{}", "[[1]]", "[~]", "9" * 400]))]
        changed = [lines[0][:24]]
    return "\n".join(lines) + "\n", f"budget file: {', '.join(changed)}"


def baseline_text(rng: np.random.Generator, device: str) -> tuple[str, str]:
    """A baseline (an earlier JSON report) whose results hold hostile numbers or the wrong shapes."""
    result = {"model": "zoo.tflite", "device": device, "estimate_ms": 12.5, "max_ms": 15.0}
    key = str(_pick(rng, [*result, "results", "error"]))
    value = _hostile(rng) if rng.random() < 0.7 else _pick(rng, [[1, 2], "x" * 300, [[]], {"a": 1}])
    doc = {"results": value} if key == "results" else {"results": [{**result, key: value}]}
    return json.dumps(doc), f"baseline: {key}={str(value)[:12]}"


def run_case(seeds: list[Seed], devices: tuple[str, ...], seed: int, i: int,
             litert: bool = False) -> tuple[str, str, str, bool, bool]:
    """(surface, outcome, description, did the parsed graph change, did LiteRT judge it) for case ``i``;
    with ``litert``, a model the estimator accepted is loaded by LiteRT too."""
    surface, data, device, how = make_case(seeds, devices, seed, i)
    changed = True
    try:
        if surface in ("model", "huge"):
            changed = surface == "huge" or signature(load_graph(data)) != seeds[i % len(seeds)].signature
            problem = figure_problem(estimate(data, device, name=f"case{i}"))
        else:
            problem = _read_file(surface, data)
    except MemoryError:
        return surface, "memory", how, True, False
    except Exception as exc:
        if _is_clean(exc):
            return surface, "error", how, changed, False
        return surface, "crash", f"{how}: {type(exc).__name__}: {str(exc)[:200]}", changed, False
    if problem:
        return surface, "nonsense", f"{how}: {problem}", changed, False
    if litert and surface == "model":
        why = litert_refusal(data)
        if why:
            return surface, "runtime_refuses", f"{how}: LiteRT: {why}", changed, True
        return surface, "estimated", how, changed, True
    return surface, "estimated", how, changed, False


def _is_clean(exc: Exception) -> bool:
    """An expected fault reported in one line: the estimator's, the budget file's, or a pytest usage error."""
    from pytest import UsageError

    from ..budgets import BudgetFileError

    return isinstance(exc, (EstimatorError, BudgetFileError, UsageError)) and "\n" not in str(exc).strip()


def _read_file(surface: str, text: bytes) -> str:
    """Read a profile, budget or baseline file as the tool does; why what it loaded is untrustworthy, or ""."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "zoo.tflite").write_bytes(_small_model())
        path = folder / {"profile": "phone.json", "budget": "latency.yml", "baseline": "baseline.json"}[surface]
        path.write_bytes(text)
        if surface == "profile":
            return figure_problem(estimate(_small_model(), path, name="zoo.tflite"))
        if surface == "budget":
            from ..budgets import load_budgets

            budgets = load_budgets(path, DEFAULT_DEVICE)
            bad = [b for b in budgets if not b.error and not (math.isfinite(b.max_ms) and b.max_ms > 0
                                                              and 0 <= b.margin_pct < 100)]
            return f"budget loaded with max_ms {bad[0].max_ms}, margin {bad[0].margin_pct}" if bad else ""
        from ..baseline import load_baseline  # the plugin's own reader of --latency-baseline

        figures = [r.estimate_ms for r in load_baseline(path).values()]
        bad = [f for f in figures if not (isinstance(f, float) and math.isfinite(f) and f > 0)]
        return f"baseline loaded with estimate_ms {bad[0]!r}" if bad else ""


_SMALL: list[bytes] = []


def _small_model() -> bytes:
    if not _SMALL:
        _SMALL.append(zoo.build("mobilenet_v1", size=32, fill="zeros"))
    return _SMALL[0]


def litert_refusal(data: bytes, timeout: float = LITERT_TIMEOUT_S) -> str:
    """Why LiteRT refuses to prepare ``data`` ("" when it allocates its tensors), tried in a forked child so
    that a crash or hang of the runtime is a refusal, not the fuzzer's."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        os.close(read)
        import faulthandler

        faulthandler.disable()  # a runtime that crashes is a refusal, told by the signal, not a traceback on stderr
        code, why = 0, b""
        try:
            _prepare_with_litert(restore_stripped(data))
        except Exception as exc:
            code, why = 1, (str(exc).strip().splitlines() or [type(exc).__name__])[-1].encode()[:300]
        os.write(write, why)
        os._exit(code)
    os.close(write)
    import select

    ready, _, _ = select.select([read], [], [], timeout)
    message = os.read(read, 4096).decode(errors="replace") if ready else ""
    os.close(read)
    if not ready:
        os.kill(pid, 9)
    _, status = os.waitpid(pid, 0)
    if not ready:
        return f"no answer within {timeout:g} s"
    if os.WIFSIGNALED(status):
        return f"the runtime died (signal {os.WTERMSIG(status)})"
    return message if os.WEXITSTATUS(status) else ""


def _prepare_with_litert(data: bytes) -> None:
    """Allocate ``data``'s tensors in LiteRT twice: with its default XNNPACK delegate (the helper the local
    runner uses) and with its built-in kernels alone, whose ``Prepare`` checks are the reference (XNNPACK
    takes some nodes without them); raises what either refuses."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    from .litert import ready_interpreter

    ready_interpreter(data)
    Interpreter(model_content=data,
                experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES).allocate_tensors()


def _worker(conn, seeds: list[Seed], seed: int, memory_mb: int, litert_every: int) -> None:
    """Answer case numbers from ``conn`` until it closes, under an address-space limit."""
    devices = device_names()
    used = _address_space()
    if used:  # without /proc the limit cannot be set relative to what is mapped already
        resource.setrlimit(resource.RLIMIT_AS, (used + memory_mb * 2**20, resource.RLIM_INFINITY))
    while True:
        try:
            i = conn.recv()
        except EOFError:
            return
        conn.send(run_case(seeds, devices, seed, i, litert=bool(litert_every) and i % litert_every == 0))


def _address_space() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmSize:"):
            return int(line.split()[1]) * 1024
    return 0


@dataclass
class Tally:
    """Outcomes of a fuzzing run, per surface."""

    outcomes: Counter = field(default_factory=Counter)  # (surface, outcome) → cases
    failures: list[str] = field(default_factory=list)
    changed: int = 0
    litert_checked: int = 0
    slowest_s: float = 0.0
    seeds: int = 0

    def add(self, i: int, result: tuple[str, str, str, bool, bool], seconds: float) -> None:
        surface, outcome, how, changed, checked = result
        self.outcomes[surface, outcome] += 1
        self.changed += changed
        self.litert_checked += checked
        self.slowest_s = max(self.slowest_s, seconds)
        if outcome in FAILURES:
            self.failures.append(f"case {i} {outcome}: {how}")

    def count(self, outcome: str) -> int:
        return sum(n for (_, o), n in self.outcomes.items() if o == outcome)

    def table(self) -> list[str]:
        """One row per surface: cases, estimates (or files loaded), clean errors and each failure column."""
        heads = ("surface", "cases", "estimated/loaded", "clean errors", "crashes", "hangs", "memory over limit",
                 "non-finite passed", "runtime would refuse")
        rows = []
        for surface in (*SURFACES, "all"):
            row = [self.outcomes[surface, o] if surface != "all" else self.count(o) for o in OUTCOMES]
            rows.append([surface, str(sum(row)), *map(str, row)])
        width = [max(len(h), *(len(r[k]) for r in rows)) for k, h in enumerate(heads)]
        return ["  ".join(c.rjust(w) for c, w in zip(line, width, strict=True)) for line in (heads, *rows)]


class _Pool:
    """One worker process, replaced when a case hangs."""

    def __init__(self, seeds: list[Seed], seed: int, memory_mb: int, litert_every: int):
        self.args, self.ctx = (seeds, seed, memory_mb, litert_every), multiprocessing.get_context("fork")
        self._start()

    def _start(self) -> None:
        self.conn, child = self.ctx.Pipe()
        self.proc = self.ctx.Process(target=_worker, args=(child, *self.args), daemon=True)
        self.proc.start()
        child.close()

    def run(self, i: int, timeout: float) -> tuple | None:
        """The case's result, or None when it ran past ``timeout`` (the worker is then replaced)."""
        self.conn.send(i)
        if self.conn.poll(timeout):
            try:
                return self.conn.recv()
            except EOFError:  # the worker died (killed by the kernel, a hard crash)
                self.close()
                code = self.proc.exitcode
                self._start()
                return None, "crash", f"the worker process died (exit code {code})", True, False
        self.close()
        self._start()
        return None

    def close(self) -> None:
        self.proc.kill()
        self.proc.join()
        self.conn.close()


def fuzz(cases: range, seed: int = 0, timeout: float = 5.0, memory_mb: int = 1024, show: bool = False,
         litert_every: int = 0) -> Tally:
    """Run ``cases`` (case numbers) against the seed models; each case in a worker process. With
    ``litert_every`` N, LiteRT judges every N-th case the estimator accepted (given more time for it)."""
    seeds = seed_models()
    tally = Tally(seeds=len(seeds))
    pool = _Pool(seeds, seed, memory_mb, litert_every)
    devices = device_names()
    try:
        for i in progress(cases, "fuzzing") if show else cases:
            start = time.perf_counter()
            checks_litert = bool(litert_every) and i % litert_every == 0
            result = pool.run(i, timeout + (LITERT_TIMEOUT_S if checks_litert else 0.0))
            surface, _, _, how = make_case(seeds, devices, seed, i)
            if result is None:
                result = (surface, "hang", f"{how}: over {timeout:g} s", True, False)
            elif result[0] is None:
                result = (surface, *result[1:])
            tally.add(i, result, time.perf_counter() - start)
    finally:
        pool.close()
    return tally


def agreement(show: bool = False) -> tuple[int, int, list[str]]:
    """(seed models LiteRT accepts, how many of them estimate on every bundled device that times their
    precision, failures): the zoo at 224 and 32 pixels in float32, float16 and int8, and the shared converted
    CNNs with their weights restored."""
    models = [(f"zoo/{n}-{dtype}-{size}", zoo.build(n, dtype=dtype, fill="zeros", **({} if n == "nasbench201"
                                                                                       else {"size": size})))
              for n in zoo.names() for dtype in ("float32", "float16", "int8") for size in (224, 32)]
    models += [(p.stem, p.read_bytes()) for p in sorted(QED_MODELS.glob("*.tflite"))]
    accepted, estimated, failures = 0, 0, []
    for name, data in progress(models, "LiteRT agreement") if show else models:
        if litert_refusal(data):
            continue
        accepted += 1
        problems = []
        graph = load_graph(data, name)
        for device in device_names():
            if precision_mismatch(graph, load_profile(device)):  # a CPU profile of the other precision: usage
                continue
            try:
                problem = figure_problem(estimate(data, device, name=name))
            except EstimatorError as exc:
                problem = str(exc)
            if problem:
                problems.append(f"{name} on {device}: {problem}")
        estimated += not problems
        failures += problems[:1]
    return accepted, estimated, failures


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m pytest_tflite_latency.bench.fuzz", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cases", type=int, default=5000)
    p.add_argument("--start", type=int, default=0, help="first case number (to run a long campaign in chunks)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--case", type=int, help="replay this one case")
    p.add_argument("--timeout", type=float, default=5.0, help="seconds a case may take before it counts as a hang")
    p.add_argument("--memory-mb", type=int, default=1024, help="memory a case may allocate")
    p.add_argument("--litert-every", type=int, default=4,
                   help="LiteRT judges every N-th case the estimator accepted (0: never; needs the bench extra)")
    p.add_argument("--agreement", action="store_true",
                   help="instead: every seed model LiteRT accepts must estimate on every bundled device that times "
                        "its precision")
    args = p.parse_args(argv)
    if args.agreement:
        accepted, estimated, failures = agreement(show=True)
        print(f"LiteRT accepts {accepted} seed models; {estimated} of them estimate on every bundled device that "
              "times their precision")
        for line in failures[:20]:
            print("  " + line)
        return 1 if failures else 0
    cases = range(args.case, args.case + 1) if args.case is not None else range(args.start, args.start + args.cases)
    t = fuzz(cases, args.seed, args.timeout, args.memory_mb, show=args.case is None, litert_every=args.litert_every)
    print(f"{len(cases)} cases ({cases.start}…{cases.stop - 1}), seed {args.seed}, {t.seeds} seed models "
          f"({t.changed} cases changed what the tool reads); LiteRT judged {t.litert_checked} accepted models; "
          f"slowest case {t.slowest_s:.2f} s")
    print("\n".join(t.table()))
    for line in t.failures[:20]:
        print("  " + line)
    return 1 if t.failures else 0


if __name__ == "__main__":
    from pytest_tflite_latency.bench.extras import run_script

    sys.exit(run_script(main))
