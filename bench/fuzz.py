"""Structure-aware fuzzing of the estimator: hostile models must end in an estimate or a clear error.

    python -m pytest_tflite_latency.bench.fuzz [--cases 5000] [--seed 0] [--timeout 5] [--memory-mb 1024]

Each case takes a real model (the project's zoo, and the TensorFlow-converted graphs under
``bench/data/qed-usc-mobile-cnn/`` when present) and mutates it where the FlatBuffer says the
structure is: operator inputs and outputs rewired (self-loops and two-op cycles included), opcodes
swapped, tensor shapes and option values set to extremes, vtables and offsets corrupted, the file
truncated, or several of these at once. The whole estimator then runs on it, on each bundled device
in turn, in a worker process with a per-case timeout and a memory limit.

Allowed outcomes: an estimate whose figures are finite and positive and whose JSON report is valid
JSON, or `EstimatorError` (exit code 2 in the CLI). Counted as failures: crashes (any other
exception), hangs (over ``--timeout``), cases over the memory limit, and figures that are not finite
and positive yet were returned. Exit code 1 when any occurred. ``--case N`` replays one case.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import resource
import struct
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import tflite

from pytest_tflite_latency.bench import zoo
from pytest_tflite_latency.bench.progress import progress
from pytest_tflite_latency.estimator.errors import EstimatorError
from pytest_tflite_latency.estimator.graph import Graph, load_graph
from pytest_tflite_latency.estimator.pipeline import Estimate, estimate
from pytest_tflite_latency.estimator.profile import device_names
from pytest_tflite_latency.estimator.report import render

QED_MODELS = Path(__file__).parent / "data" / "qed-usc-mobile-cnn"
FAILURES = ("crash", "hang", "memory", "nonsense")
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
        sites.tensors = max(sites.tensors, sg.TensorsLength())
        for i in range(sg.OperatorsLength()):
            op = sg.Operators(i)
            _table(op._tab, sites, offsets=(6, 8, 12))
            if op._tab.Offset(4):
                sites.opcode.append(op._tab.Pos + op._tab.Offset(4))
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


MUTATIONS = {"rewire": _rewire, "cycle": _cycle, "opcode": _opcode, "shape": _shape, "option": _option,
             "vtable": _vtable_entry, "offset": _offset, "flip": _flip}


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


def make_case(seeds: list[Seed], devices: tuple[str, ...], seed: int, i: int) -> tuple[bytes, str, str]:
    """Case ``i``: (mutated model, device, description), the same for the same seed and number."""
    rng = np.random.default_rng([seed, i])
    base = seeds[i % len(seeds)]
    data, how = mutate(base, rng)
    device = devices[(i // len(seeds)) % len(devices)]
    return data, device, f"{base.name} on {device}: {how}"


def run_case(seeds: list[Seed], devices: tuple[str, ...], seed: int, i: int) -> tuple[str, str, bool]:
    """(outcome, description, did the parsed graph change) for case ``i``."""
    data, device, how = make_case(seeds, devices, seed, i)
    try:
        changed = signature(load_graph(data)) != seeds[i % len(seeds)].signature
        est = estimate(data, device, name=f"case{i}")
    except EstimatorError:
        return "error", how, True
    except MemoryError:
        return "memory", how, True
    except Exception as exc:
        return "crash", f"{how}: {type(exc).__name__}: {exc}", True
    problem = figure_problem(est)
    return ("nonsense", f"{how}: {problem}", changed) if problem else ("estimated", how, changed)


def _worker(conn, seeds: list[Seed], seed: int, memory_mb: int) -> None:
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
        conn.send(run_case(seeds, devices, seed, i))


def _address_space() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmSize:"):
            return int(line.split()[1]) * 1024
    return 0


@dataclass
class Tally:
    """Outcomes of a fuzzing run."""

    outcomes: Counter = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    changed: int = 0
    slowest_s: float = 0.0
    seeds: int = 0

    def add(self, i: int, outcome: str, how: str, changed: bool, seconds: float) -> None:
        self.outcomes[outcome] += 1
        self.changed += changed
        self.slowest_s = max(self.slowest_s, seconds)
        if outcome in FAILURES:
            self.failures.append(f"case {i} {outcome}: {how}")


class _Pool:
    """One worker process, replaced when a case hangs."""

    def __init__(self, seeds: list[Seed], seed: int, memory_mb: int):
        self.args, self.ctx = (seeds, seed, memory_mb), multiprocessing.get_context("fork")
        self._start()

    def _start(self) -> None:
        self.conn, child = self.ctx.Pipe()
        self.proc = self.ctx.Process(target=_worker, args=(child, *self.args), daemon=True)
        self.proc.start()
        child.close()

    def run(self, i: int, timeout: float) -> tuple[str, str, bool] | None:
        """The case's result, or None when it ran past ``timeout`` (the worker is then replaced)."""
        self.conn.send(i)
        if self.conn.poll(timeout):
            try:
                return self.conn.recv()
            except EOFError:  # the worker died (killed by the kernel, a hard crash)
                self.close()
                code = self.proc.exitcode
                self._start()
                return "crash", f"the worker process died (exit code {code})", True
        self.close()
        self._start()
        return None

    def close(self) -> None:
        self.proc.kill()
        self.proc.join()
        self.conn.close()


def fuzz(cases: range, seed: int = 0, timeout: float = 5.0, memory_mb: int = 1024, show: bool = False) -> Tally:
    """Run ``cases`` (case numbers) against the seed models; each case in a worker process."""
    seeds = seed_models()
    tally = Tally(seeds=len(seeds))
    pool = _Pool(seeds, seed, memory_mb)
    try:
        for i in progress(cases, "fuzzing") if show else cases:
            start = time.perf_counter()
            result = pool.run(i, timeout)
            if result is None:
                result = ("hang", f"{make_case(seeds, device_names(), seed, i)[2]}: over {timeout:g} s", True)
            outcome, how, changed = result
            tally.add(i, outcome, how, changed, time.perf_counter() - start)
    finally:
        pool.close()
    return tally


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m pytest_tflite_latency.bench.fuzz", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cases", type=int, default=5000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--case", type=int, help="replay this one case")
    p.add_argument("--timeout", type=float, default=5.0, help="seconds a case may take before it counts as a hang")
    p.add_argument("--memory-mb", type=int, default=1024, help="memory a case may allocate")
    args = p.parse_args(argv)
    cases = range(args.case, args.case + 1) if args.case is not None else range(args.cases)
    t = fuzz(cases, args.seed, args.timeout, args.memory_mb, show=args.case is None)
    o = t.outcomes
    print(f"{len(cases)} cases on {t.seeds} seed models ({t.changed} changed the parsed graph): "
          f"{o['estimated']} estimated, {o['error']} errors (exit 2), {o['crash']} crashes, {o['hang']} hangs, "
          f"{o['memory']} over {args.memory_mb} MB, {o['nonsense']} non-finite or negative results that passed; "
          f"slowest case {t.slowest_s:.2f} s")
    for line in t.failures[:20]:
        print("  " + line)
    return 1 if t.failures else 0


if __name__ == "__main__":
    sys.exit(main())
