"""file → graph: read any `.tflite` file into plain, typed Python objects.

Uses the FlatBuffers accessors of the `tflite` package. Every read is bounds-checked and the work
is capped in proportion to the file size, so a truncated, corrupted or hostile file raises
`ModelError` instead of crashing or hanging.
"""

from __future__ import annotations

import inspect
import os
import struct
from dataclasses import dataclass, field
from functools import cache

import numpy as np
import tflite

from .errors import ModelError
from .flatbuffer_check import FlatBufferError, verify_table, verify_tree
from .inputs import InputError, read_regular_file
from .wording import counted

_OPCODE_NAMES = {v: k for k, v in vars(tflite.BuiltinOperator).items() if not k.startswith("_")}
_TYPE_NAMES = {v: k.lower() for k, v in vars(tflite.TensorType).items() if not k.startswith("_")}
_OPTION_NAMES = {v: k for k, v in vars(tflite.BuiltinOptions).items() if not k.startswith("_")}
_ITEMSIZE = {"float32": 4, "float16": 2, "int32": 4, "uint8": 1, "int64": 8, "string": 1,
             "bool": 1, "int16": 2, "complex64": 8, "int8": 1, "float64": 8, "complex128": 16,
             "uint64": 8, "resource": 1, "variant": 1, "uint32": 4, "uint16": 2, "int4": 1,
             "bfloat16": 2}
_SKIP_GETTERS = ("Init", "GetRootAs")
MAX_FILE_BYTES = 2**31 - 1  # a FlatBuffer addresses at most 2 GB
MAX_ELEMENTS = 2**31  # no tensor of a model a phone runs holds more
MAX_WINDOW = 2**16  # strides, filter sizes and dilations: 1 … 65536
# Integer constants up to this many elements have their values read: the parameters that decide an op's output
# shape (a reshape's shape, paddings, axes, slice bounds, split sizes) are this small.
MAX_PARAMETER_VALUES = 64
_INDEX_DTYPES = {"int32": "<i4", "int64": "<i8"}
# Elements (shape entries, vector items, tables) a file may make the parser read: a FlatBuffer of n bytes
# holds at most n/4 int32 entries, so 64 per byte (plus a floor for tiny files) only stops corrupted length
# fields that point far beyond what the file holds.
ELEMENTS_PER_FILE_BYTE, MIN_ELEMENT_BUDGET = 64, 10_000
_WINDOW_OPTIONS = ("StrideW", "StrideH", "FilterWidth", "FilterHeight", "DilationWFactor", "DilationHFactor")


@dataclass(frozen=True)
class Tensor:
    """One tensor: runtime activations or constant data (weights, shapes, axes)."""

    index: int
    name: str
    shape: tuple[int, ...]
    dtype: str
    is_const: bool
    quantized: bool = False
    data_bytes: int = -1  # bytes of a constant's buffer (-1 for a runtime tensor)
    scale_zero: tuple[float, int] | None = None  # a quantized runtime tensor's first scale and zero point
    scales: int = 0  # how many scales its quantization holds (0: none, 1: per tensor, n: per channel)
    scale_max: float = 0.0  # a quantized constant's largest scale (its weights' coarsest channel)
    values: tuple[int, ...] | None = None  # a small integer constant's values (shapes, axes, paddings ...)
    dynamic: tuple[int, ...] = ()  # dimensions its shape signature leaves open (-1): set when the app resizes it

    @property
    def size(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n

    @property
    def nbytes(self) -> int:
        return self.size * _ITEMSIZE.get(self.dtype, 4)


@dataclass(frozen=True)
class Op:
    """One operator: builtin name (``CONV_2D``) or ``CUSTOM:Name``, its tensors and options."""

    index: int
    opcode: str
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    options: dict = field(default_factory=dict, hash=False, compare=False)
    options_type: str = field(default="", compare=False)  # the options table's type ("Conv2DOptions"), "" if none
    unclamped: dict = field(default_factory=dict, hash=False, compare=False)  # window options' values as written


@dataclass
class Subgraph:
    index: int
    name: str
    tensors: list[Tensor]
    ops: list[Op]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]


@dataclass
class Graph:
    """A parsed model: its subgraphs (0 is the one the interpreter runs) and parse warnings."""

    source: str
    subgraphs: list[Subgraph]
    description: str = ""
    metadata: tuple[str, ...] = ()
    warnings: list[str] = field(default_factory=list)

    @property
    def main(self) -> Subgraph:
        return self.subgraphs[0]


class _Budget:
    """Caps the total number of elements read so corrupted length fields cannot cause a hang."""

    def __init__(self, source: str, size: int):
        self.source, self.left = source, ELEMENTS_PER_FILE_BYTE * size + MIN_ELEMENT_BUDGET

    def take(self, n: int, what: str) -> int:
        if n < 0 or n > self.left:
            raise ModelError(self.source, f"corrupted model: implausible {what} count {n}")
        self.left -= n
        return n


def load_graph(model: str | os.PathLike | bytes, name: str | None = None) -> Graph:
    """Parse a `.tflite` path or its bytes; raise `ModelError` with one clear line on bad input."""
    source, data = _read(model, name)
    if len(data) < 8:
        raise ModelError(source, f"not a TFLite model: file is only {counted(len(data), 'byte')}")
    if data[4:8] != b"TFL3":
        found = ascii(data[4:8].decode("latin-1"))  # 'test', not b'test'
        raise ModelError(source, f"not a TFLite model: file identifier is {found}, expected 'TFL3'")
    try:
        return _parse(source, data)
    except ModelError:
        raise
    except FlatBufferError as exc:
        raise ModelError(source, f"truncated or corrupted TFLite model (FlatBuffers' verifier, which LiteRT runs, "
                                 f"refuses it: {exc})") from None
    except (struct.error, IndexError, ValueError, TypeError, OverflowError, UnicodeDecodeError,
            AttributeError, KeyError, MemoryError, RecursionError) as exc:
        why = "its tables point outside the file" if isinstance(exc, (struct.error, IndexError)) else \
            f"unreadable structure: {type(exc).__name__}"
        raise ModelError(source, f"truncated or corrupted TFLite model ({why})") from None


def _read(model, name) -> tuple[str, bytes]:
    if isinstance(model, (bytes, bytearray, memoryview)):
        return name or "<bytes>", bytes(model)
    source = name or str(model)
    try:
        data = read_regular_file(model, MAX_FILE_BYTES, ".tflite file",
                                 "beyond the 2 GB a TFLite FlatBuffer can address")
    except InputError as exc:
        raise ModelError(source, exc.problem) from None
    if not data:
        raise ModelError(source, "file is empty")
    return source, data


def _parse(source: str, data: bytes) -> Graph:
    budget = _Budget(source, len(data))
    model = tflite.Model.GetRootAs(data, 0)
    verify_tree(data, model._tab.Pos, tflite.Model, budget.left)  # every table but the options unions
    opcodes = [_opcode_name(model.OperatorCodes(i))
               for i in range(budget.take(model.OperatorCodesLength(), "operator code"))]
    const_buffers = _ConstBuffers(model, budget.take(model.BuffersLength(), "buffer"))
    n_sub = budget.take(model.SubgraphsLength(), "subgraph")
    if n_sub == 0:
        raise ModelError(source, "model has no subgraphs")
    graph = Graph(source, [], _text(model.Description()),
                  tuple(_text(model.Metadata(i).Name())
                        for i in range(budget.take(model.MetadataLength(), "metadata"))))
    for s in range(n_sub):
        graph.subgraphs.append(_subgraph(model.Subgraphs(s), s, opcodes, const_buffers, budget, graph))
    signatures = [(_text(model.SignatureDefs(i).SignatureKey()), model.SignatureDefs(i).SubgraphIndex())
                  for i in range(budget.take(model.SignatureDefsLength(), "signature"))]
    others = [(key, s) for key, s in signatures if s != 0]
    if others:
        main = next((key for key, s in signatures if s == 0), "")
        graph.warnings.append(
            f"{len(signatures)} signatures ({', '.join(f'{k!r}: subgraph {s}' for k, s in signatures)}): the estimate "
            f"is of subgraph 0{f' ({main!r})' if main else ''}, the one the interpreter runs without a signature "
            f"runner; {', '.join(repr(k) for k, _ in others)} not estimated")
    return graph


class _ConstBuffers:
    """``index in const_buffers``: does that buffer hold data? Looked up lazily, once each."""

    def __init__(self, model, n: int):
        self.model, self.n, self.seen = model, n, {}

    def __contains__(self, index: int) -> bool:
        return self._lookup(index)[0]

    def size(self, index: int) -> int:
        """Bytes of data the buffer holds, inline or at an offset."""
        return self._lookup(index)[1]

    def ints(self, index: int, dtype: str, count: int) -> tuple[int, ...] | None:
        """The first ``count`` values of an int32/int64 buffer, or None where it holds fewer (or is another
        type, or larger than a parameter)."""
        if dtype not in _INDEX_DTYPES or count > MAX_PARAMETER_VALUES or index not in self:
            return None
        buf = self.model.Buffers(index)
        n = count * int(_INDEX_DTYPES[dtype][-1])
        if buf.DataLength() > 0:
            raw = buf.DataAsNumpy()[:n].tobytes()
        else:  # stored after the FlatBuffer, at an offset into the file
            raw = bytes(self.model._tab.Bytes[buf.Offset():buf.Offset() + min(buf.Size(), n)])
        if len(raw) < n:
            return None
        return tuple(int(v) for v in np.frombuffer(raw, _INDEX_DTYPES[dtype]))

    def _lookup(self, index: int) -> tuple[bool, int]:
        if index not in self.seen:
            buf = self.model.Buffers(index) if 0 < index < self.n else None
            if buf is None:
                self.seen[index] = (False, 0)
            elif buf.DataLength() > 0:
                self.seen[index] = (True, buf.DataLength())
            else:
                self.seen[index] = (buf.Offset() > 1, buf.Size())
        return self.seen[index]


def _checked(table):
    """``table`` (a generated accessor object, or None) once it passes FlatBuffers' verifier checks (for the
    options unions, which `verify_tree` leaves out)."""
    if table is not None:
        verify_table(table._tab.Bytes, table._tab.Pos, type(table))
    return table


def _text(value) -> str:
    return value.decode("utf-8", "replace") if value else ""


def _opcode_name(code) -> str:
    builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
    name = _OPCODE_NAMES.get(builtin, f"BUILTIN_{builtin}")
    if name == "CUSTOM":
        return f"CUSTOM:{_text(code.CustomCode()) or '?'}"
    return name


def _ints(obj, getter: str, budget: _Budget, what: str) -> tuple[int, ...]:
    values = getattr(obj, f"{getter}AsNumpy")()  # 0 when the field is absent
    if isinstance(values, int):
        return ()
    budget.take(len(values), what)
    return tuple(values.tolist())


def _subgraph(sg, s: int, opcodes, const_buffers, budget: _Budget, graph: Graph) -> Subgraph:
    dynamic: dict[tuple[int, int], list[str]] = {}
    tensors = [_tensor(sg.Tensors(i), i, const_buffers, budget, dynamic)
               for i in range(budget.take(sg.TensorsLength(), "tensor"))]
    for (dim, value), names in sorted(dynamic.items()):
        what = "batch dimension" if dim == 0 else f"dimension {dim}"
        count = f"{len(names)} tensor{'s' if len(names) > 1 else ''}"
        graph.warnings.append(f"subgraph {s}: dynamic {what} in {count} "
                              f"(first '{names[0]}'), assumed {value}")
    ops = []
    for i in range(budget.take(sg.OperatorsLength(), "operator")):
        o = sg.Operators(i)
        idx = o.OpcodeIndex()
        if idx >= len(opcodes):
            raise ModelError(graph.source,
                             f"corrupted model: operator {i} uses opcode {idx} of {len(opcodes)}")
        inputs = _ints(o, "Inputs", budget, "operator input")
        outputs = _ints(o, "Outputs", budget, "operator output")
        for t in (*inputs, *outputs):
            if t >= len(tensors) or t < -1:
                raise ModelError(graph.source, f"corrupted model: operator {i} refers to tensor {t}")
        options_type = _OPTION_NAMES.get(o.BuiltinOptionsType(), "")
        options = _options(o)
        written = {k: v for k, v in options.items() if k in _WINDOW_OPTIONS and v > MAX_WINDOW}
        ops.append(Op(i, opcodes[idx], inputs, outputs, _clamped(options, s, i, opcodes[idx], graph),
                      "" if options_type == "NONE" else options_type, written))
    return Subgraph(s, _text(sg.Name()), tensors, ops, _ints(sg, "Inputs", budget, "input"),
                    _ints(sg, "Outputs", budget, "output"))


def _tensor(t, i: int, const_buffers, budget: _Budget, dynamic_dims: dict) -> Tensor:
    dtype = _TYPE_NAMES.get(t.Type(), f"type{t.Type()}")
    if not 0 <= t.Buffer() < max(const_buffers.n, 1):  # model.cc: "specifies out of range buffer"
        raise ModelError(budget.source, f"corrupted model: tensor {i} uses buffer {t.Buffer()} of {const_buffers.n}")
    shape = list(_ints(t, "Shape", budget, "shape"))
    _check_size(shape, i, budget.source)
    if t.IsVariable() and t.Buffer() in const_buffers:  # model.cc: variable tensors with a buffer unsupported
        raise ModelError(budget.source, f"tensor {i} is a variable tensor with a constant buffer: LiteRT refuses "
                                        "the model")
    scales = _quantization_scales(t, i, shape, budget.source)
    if t.Buffer() in const_buffers:  # constants: never dynamic, their names never shown
        if any(d < 0 for d in shape):
            raise ModelError(budget.source, f"corrupted model: constant tensor {i} has shape {tuple(shape)}")
        size = int(np.prod(shape, dtype=object))
        scale_max = float(np.max(t.Quantization().ScaleAsNumpy())) if scales else 0.0
        return Tensor(i, "", tuple(shape), dtype, True, False, const_buffers.size(t.Buffer()), scales=scales,
                      scale_max=scale_max, values=const_buffers.ints(t.Buffer(), dtype, size))
    name = _text(t.Name()) or f"tensor{i}"
    signature = _ints(t, "ShapeSignature", budget, "shape signature")
    if any(d < 0 for d in shape):  # subgraph.cc: BytesRequired fails ("invalidly specified in schema")
        raise ModelError(budget.source, f"tensor {i} ('{name}') has shape {tuple(shape)}: a dynamic size belongs in "
                                        "its shape signature, LiteRT refuses a negative one in its shape")
    dynamic = tuple(d for d in sorted({d for d, v in enumerate(signature) if v < 0}) if d < len(shape))
    for d in dynamic:
        dynamic_dims.setdefault((d, shape[d]), []).append(name)
    quantized, scale_zero = False, None
    if dtype in ("int8", "uint8", "int16", "int32"):
        q = t.Quantization()
        quantized = q is not None and q.ScaleLength() > 0
        if quantized:
            scale_zero = (float(q.Scale(0)), int(q.ZeroPoint(0)) if q.ZeroPointLength() else 0)
    return Tensor(i, name, tuple(shape), dtype, False, quantized, scale_zero=scale_zero, scales=scales,
                  dynamic=dynamic)


def open_input_size(graph: Graph) -> str:
    """Why the model has no one size to estimate ("" when it has): an input of its main subgraph whose size
    beyond the batch is left open (a shape signature of -1) is set only when the app resizes it, and the
    file's own shape (1 there) makes a figure for a 1-pixel or 1-token input that any budget would pass."""
    sg = graph.main
    for i in sg.inputs:
        t = sg.tensors[i] if 0 <= i < len(sg.tensors) else None
        open_dims = [d for d in (t.dynamic if t is not None else ()) if d > 0]
        if open_dims:
            return (f"input '{t.name}' has an open size in dimension{'s' if len(open_dims) > 1 else ''} "
                    f"{', '.join(map(str, open_dims))} (shape "
                    f"signature -1, stored as {list(t.shape)}): the estimate needs the size the app runs; convert "
                    "the model with a fixed input shape (e.g. tf.keras.Input(shape=(224, 224, 3)))")
    return ""


def _quantization_scales(t, i: int, shape: list[int], source: str) -> int:
    """How many scales the tensor's quantization holds, checked as LiteRT's InterpreterBuilder::ParseQuantization
    checks them (a model it refuses is a `ModelError`): as many zero points as scales, a quantized dimension
    inside the shape, one scale or one per entry of that dimension."""
    q = t.Quantization()
    scales = q.ScaleLength() if q is not None else 0
    if not scales:
        return 0
    problem = ""
    if q.ZeroPointLength() != scales:
        problem = f"{scales} quantization scales and {q.ZeroPointLength()} zero points"
    elif shape and not 0 <= q.QuantizedDimension() < len(shape):
        problem = f"quantized dimension {q.QuantizedDimension()} outside its {len(shape)}-D shape"
    elif scales != 1 and shape and scales != shape[q.QuantizedDimension()]:
        problem = (f"{scales} quantization scales for the {shape[q.QuantizedDimension()]} entries of its "
                   f"dimension {q.QuantizedDimension()}")
    if problem:
        raise ModelError(source, f"tensor {i} has {problem}: LiteRT refuses the model")
    return scales


def _check_size(shape: list[int], i: int, source: str) -> None:
    """At most MAX_ELEMENTS elements, counting a dynamic (negative) dimension as 1."""
    n = 1
    for d in shape:
        n *= max(d, 1)
    if n > MAX_ELEMENTS:
        raise ModelError(source, f"corrupted model: tensor {i} has shape {tuple(shape)}, "
                                 f"more than 2^31 elements")


@cache
def _getters(cls) -> tuple[tuple[str, str], ...]:
    """(field name, accessor) for each scalar or vector field of a generated options table."""
    out = []
    for attr, fn in vars(cls).items():
        if attr.startswith(("_", *_SKIP_GETTERS)) or not callable(fn):
            continue
        if attr.endswith(("IsNone", "Length", "BufferHasIdentifier")):
            continue
        params = len(inspect.signature(fn).parameters)
        if attr.endswith("AsNumpy"):
            out.append((attr[:-7], attr))
        elif params == 1 and f"{attr}AsNumpy" not in vars(cls):
            out.append((attr, attr))
    return tuple(out)


def _clamped(options: dict, s: int, i: int, opcode: str, graph: Graph) -> dict:
    """Strides and dilations above MAX_WINDOW clamped to it, with a warning (where the runtime accepts them,
    the output is empty or one pixel; `Op.unclamped` keeps the values as written). A filter size above it is
    refused as implausible: LiteRT's pooling kernels refuse a SAME window above 65,536 (its padding would not
    fit their int16), its CPU delegate fails to prepare windows of 2^28. Values below 1 are left for
    `runtime_rules` to name."""
    bad = {k: v for k, v in options.items() if k in _WINDOW_OPTIONS and v > MAX_WINDOW}
    filters = {k: v for k, v in bad.items() if k.startswith("Filter")}
    if filters:
        raise ModelError(graph.source, f"implausible model: subgraph {s} operator {i} ({opcode}) has "
                                       f"{', '.join(f'{k} {v}' for k, v in filters.items())}, a window beyond "
                                       f"{MAX_WINDOW} that LiteRT's CPU delegate cannot be relied on to prepare")
    if bad:
        graph.warnings.append(f"subgraph {s}: operator {i} ({opcode}) has "
                              f"{', '.join(f'{k} {v}' for k, v in bad.items())}, above {MAX_WINDOW}: clamped")
        options.update(dict.fromkeys(bad, MAX_WINDOW))
    return options


def _options(o) -> dict:
    """Every field of the op's builtin options table, e.g. ``{"StrideW": 2, "Padding": 0}``."""
    kind = _OPTION_NAMES.get(o.BuiltinOptionsType())
    table = o.BuiltinOptions()
    cls = getattr(tflite, kind, None) if kind and kind != "NONE" else None
    if cls is None or table is None:
        return {}
    opts = cls()
    opts.Init(table.Bytes, table.Pos)
    _checked(opts)
    values = {}
    for name, getter in _getters(cls):
        v = getattr(opts, getter)()
        if hasattr(v, "tolist"):
            v = tuple(v.tolist()) if not isinstance(v, int) else v
        if isinstance(v, (int, float, bool, tuple)):
            values[name] = v
    return values
