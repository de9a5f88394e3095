"""Write real `.tflite` files with the FlatBuffers builders of the `tflite` package.

`ModelWriter` is a small graph-building API (``conv2d``, ``add``, ``avg_pool`` ...) that infers
shapes, creates weights and serialises a model LiteRT and the estimator both read.
Float32, float16 (fp16 weights + DEQUANTIZE, as TFLite's fp16 quantisation writes them) and int8
(per-tensor quantised activations, per-channel weights) models are supported.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import flatbuffers
import numpy as np
import tflite

from ..estimator.runtime_rules import OPTIONS_TABLE

_ACTIVATIONS = {None: 0, "relu": 1, "relu_n1_to_1": 2, "relu6": 3, "tanh": 4}
_PADDING = {"SAME": 0, "VALID": 1}
_TYPES = {"float32": 0, "float16": 1, "int32": 2, "uint8": 3, "int64": 4, "bool": 6, "int16": 7, "int8": 9}
_NUMPY = {"float32": np.float32, "float16": np.float16, "int32": np.int32, "uint8": np.uint8,
          "int64": np.int64, "bool": np.bool_, "int16": np.int16, "int8": np.int8}
# builtin op -> its options table (name in tflite.BuiltinOptions): the priced ops' from the estimator's
# runtime rules, and these others the writer also emits
_OPTIONS = {**OPTIONS_TABLE,
            "TRANSPOSE": "TransposeOptions", "DEQUANTIZE": "DequantizeOptions", "QUANTIZE": "QuantizeOptions",
            "HARD_SWISH": "HardSwishOptions", "CALL_ONCE": "CallOnceOptions",
            "SQUARED_DIFFERENCE": "SquaredDifferenceOptions", "BATCH_MATMUL": "BatchMatMulOptions",
            "WHILE": "WhileOptions", "IF": "IfOptions"}


def conv_output_size(size: int, kernel: int, stride: int, padding: str, dilation: int = 1) -> int:
    """Spatial output size of a TFLite convolution or pooling."""
    effective = (kernel - 1) * dilation + 1
    if padding == "SAME":
        return math.ceil(size / stride)
    return (size - effective) // stride + 1


class _Tensor:
    __slots__ = ("buffer", "dtype", "name", "quant", "shape", "signature")

    def __init__(self, shape, dtype, name, buffer, quant, signature):
        self.shape, self.dtype, self.name = tuple(int(d) for d in shape), dtype, name
        self.buffer, self.quant, self.signature = buffer, quant, signature


class GraphWriter:
    """Tensors and operators of one subgraph; create it through `ModelWriter`."""

    def __init__(self, model: ModelWriter, name: str):
        self._model, self.name = model, name
        self.tensors: list[_Tensor] = []
        self.ops: list[tuple[str, list[int], list[int], dict, bytes | None]] = []
        self.inputs: list[int] = []
        self.outputs: list[int] = []

    # -- tensors -------------------------------------------------------------------------------
    def shape(self, t: int) -> tuple[int, ...]:
        return self.tensors[t].shape

    def _tensor(self, shape, dtype, name=None, data=None, quant=None, signature=None) -> int:
        buffer = self._model._buffer(data)
        name = name or f"t{len(self.tensors)}"
        self.tensors.append(_Tensor(shape, dtype, name, buffer, quant, signature))
        return len(self.tensors) - 1

    def input(self, shape: Sequence[int], dtype: str | None = None, name: str | None = None,
              dynamic_batch: bool = False, open_dims: Sequence[int] = ()) -> int:
        """A runtime input; ``dynamic_batch`` writes -1 in the shape signature's batch, ``open_dims`` in these
        dimensions (a size the app sets by resizing the input)."""
        dtype = dtype or self._model.activation_dtype
        open_dims = {*open_dims, *((0,) if dynamic_batch else ())}
        signature = tuple(-1 if d in open_dims else n for d, n in enumerate(shape)) if open_dims else None
        t = self._tensor(shape, dtype, name or f"input{len(self.inputs)}", quant=self._act_quant(dtype),
                         signature=signature)
        self.inputs.append(t)
        return t

    def const(self, array: np.ndarray, name: str | None = None, quant=None) -> int:
        array = np.ascontiguousarray(array)
        dtype = next(k for k, v in _NUMPY.items() if v == array.dtype.type)
        return self._tensor(array.shape, dtype, name, array.tobytes(), quant)

    @staticmethod
    def _act_quant(dtype):
        return ((0.05,), (0,), 0) if dtype == "int8" else None

    def _weights(self, shape: Sequence[int], channel_axis: int = 0) -> int:
        """Weights in the model's weight format; float16 weights get a DEQUANTIZE op."""
        rng, fmt = self._model.rng, self._model.weight_dtype
        fan_in = max(1, int(np.prod(shape)) // shape[channel_axis])
        values = rng.standard_normal(shape).astype(np.float32) / math.sqrt(fan_in) \
            if self._model.fill == "random" else np.zeros(shape, np.float32)
        if fmt == "int8":
            n = shape[channel_axis]
            scales = tuple(float(s) for s in np.full(n, 0.01))
            q = np.clip(np.round(values / 0.01), -127, 127).astype(np.int8)
            return self.const(q, quant=(scales, (0,) * n, channel_axis))
        if fmt == "float16":
            half = self.const(values.astype(np.float16))
            out = self._tensor(shape, "float32")
            self.ops.append(("DEQUANTIZE", [half], [out], {}, None))
            return out
        return self.const(values)

    def _bias(self, n: int, weights: int) -> int:
        if self._model.weight_dtype == "int8":
            return self.const(np.zeros(n, np.int32), quant=((0.0005,) * n, (0,) * n, 0))
        return self.const(np.zeros(n, np.float32))

    # -- operators -----------------------------------------------------------------------------
    def op(self, opcode: str, inputs: Sequence[int], output_shapes: Sequence[Sequence[int]],
           options: dict | None = None, custom_options: bytes | None = None,
           output_dtype: str | None = None) -> list[int]:
        """Append any operator (builtin name, or ``CUSTOM:Name``) with explicit output shapes."""
        like = next((i for i in inputs if i >= 0), None)
        dtype = output_dtype or (self.tensors[like].dtype if like is not None else "float32")
        outs = [self._tensor(s, dtype, quant=self._act_quant(dtype)) for s in output_shapes]
        self.ops.append((opcode, list(inputs), outs, dict(options or {}), custom_options))
        return outs

    def _op1(self, opcode, inputs, shape, options=None) -> int:
        return self.op(opcode, inputs, [shape], options)[0]

    def conv2d(self, x: int, filters: int, kernel: int | tuple[int, int] = 3, stride: int = 1,
               padding: str = "SAME", activation: str | None = None, dilation: int = 1) -> int:
        """CONV_2D; like TensorFlow's converter, a bias tensor is always written (zeros)."""
        n, h, w, c = self.shape(x)
        kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
        wt = self._weights((filters, kh, kw, c))
        b = self._bias(filters, wt)
        shape = (n, conv_output_size(h, kh, stride, padding, dilation),
                 conv_output_size(w, kw, stride, padding, dilation), filters)
        return self._op1("CONV_2D", [x, wt, b], shape, dict(
            Padding=_PADDING[padding], StrideW=stride, StrideH=stride, DilationWFactor=dilation,
            DilationHFactor=dilation, FusedActivationFunction=_ACTIVATIONS[activation]))

    def depthwise_conv2d(self, x: int, kernel: int = 3, stride: int = 1, padding: str = "SAME",
                         multiplier: int = 1, activation: str | None = None) -> int:
        n, h, w, c = self.shape(x)
        wt = self._weights((1, kernel, kernel, c * multiplier), channel_axis=3)
        b = self._bias(c * multiplier, wt)
        shape = (n, conv_output_size(h, kernel, stride, padding),
                 conv_output_size(w, kernel, stride, padding), c * multiplier)
        return self._op1("DEPTHWISE_CONV_2D", [x, wt, b], shape, dict(
            Padding=_PADDING[padding], StrideW=stride, StrideH=stride, DepthMultiplier=multiplier,
            DilationWFactor=1, DilationHFactor=1, FusedActivationFunction=_ACTIVATIONS[activation]))

    def fully_connected(self, x: int, units: int, bias: bool = True,
                        activation: str | None = None) -> int:
        shape = self.shape(x)
        wt = self._weights((units, shape[-1]))
        b = self._bias(units, wt) if bias else -1
        return self._op1("FULLY_CONNECTED", [x, wt, b], (*shape[:-1], units), dict(
            FusedActivationFunction=_ACTIVATIONS[activation], KeepNumDims=len(shape) > 2))

    def _pool(self, opcode, x, size, stride, padding, activation=None) -> int:
        n, h, w, c = self.shape(x)
        shape = (n, conv_output_size(h, size, stride, padding),
                 conv_output_size(w, size, stride, padding), c)
        return self._op1(opcode, [x], shape, dict(
            Padding=_PADDING[padding], StrideW=stride, StrideH=stride, FilterWidth=size,
            FilterHeight=size, FusedActivationFunction=_ACTIVATIONS[activation]))

    def avg_pool(self, x: int, size: int = 2, stride: int = 2, padding: str = "VALID") -> int:
        return self._pool("AVERAGE_POOL_2D", x, size, stride, padding)

    def max_pool(self, x: int, size: int = 2, stride: int = 2, padding: str = "VALID") -> int:
        return self._pool("MAX_POOL_2D", x, size, stride, padding)

    def _binary(self, opcode: str, a: int, b: int, activation: str | None) -> int:
        sa, sb = self.shape(a), self.shape(b)
        shape = tuple(np.broadcast_shapes(sa, sb))
        options = {} if opcode == "SQUARED_DIFFERENCE" else dict(
            FusedActivationFunction=_ACTIVATIONS[activation])
        return self._op1(opcode, [a, b], shape, options)

    def add(self, a: int, b: int, activation: str | None = None) -> int:
        return self._binary("ADD", a, b, activation)

    def mul(self, a: int, b: int, activation: str | None = None) -> int:
        return self._binary("MUL", a, b, activation)

    def sub(self, a: int, b: int, activation: str | None = None) -> int:
        return self._binary("SUB", a, b, activation)

    def channel_const(self, x: int, value: float = 1.0) -> int:
        """A per-channel constant vector matching x's last dimension (for MUL/ADD by constants), of x's type:
        LiteRT's ADD and MUL refuse operands of two types."""
        if self.tensors[x].dtype == "int8":
            (scale,), (zero,), _ = self._act_quant("int8")
            q = np.clip(np.round(value / scale) + zero, -128, 127).astype(np.int8)
            return self.const(np.full(self.shape(x)[-1], q, np.int8), quant=self._act_quant("int8"))
        return self.const(np.full(self.shape(x)[-1], value, np.float32))

    def unary(self, opcode: str, x: int) -> int:
        """Any one-input op that keeps the shape (RELU, RELU6, LOGISTIC, TANH, HARD_SWISH, ...)."""
        return self._op1(opcode, [x], self.shape(x))

    def relu(self, x: int) -> int:
        return self.unary("RELU", x)

    def mean(self, x: int, axes: Sequence[int] = (1, 2), keepdims: bool = False) -> int:
        shape = self.shape(x)
        out = tuple(1 if i in axes else d for i, d in enumerate(shape) if keepdims or i not in axes)
        ax = self.const(np.array(axes, np.int32))
        return self._op1("MEAN", [x, ax], out, dict(KeepDims=keepdims))

    def concat(self, xs: Sequence[int], axis: int = -1) -> int:
        shapes = [self.shape(x) for x in xs]
        axis = axis % len(shapes[0])
        shape = list(shapes[0])
        shape[axis] = sum(s[axis] for s in shapes)
        return self._op1("CONCATENATION", list(xs), shape, dict(Axis=axis))

    def reshape(self, x: int, shape: Sequence[int]) -> int:
        s = self.const(np.array(shape, np.int32))
        return self._op1("RESHAPE", [x, s], shape)

    def pad(self, x: int, pads: Sequence[tuple[int, int]]) -> int:
        p = self.const(np.array(pads, np.int32))
        shape = tuple(d + a + b for d, (a, b) in zip(self.shape(x), pads, strict=True))
        return self._op1("PAD", [x, p], shape)

    def softmax(self, x: int) -> int:
        y = self._op1("SOFTMAX", [x], self.shape(x), dict(Beta=1.0))
        if self.tensors[y].dtype == "int8":  # LiteRT's int8 softmax writes [0, 1) as scale 1/256, zero point -128
            self.tensors[y].quant = ((1 / 256,), (-128,), 0)
        return y

    def resize(self, x: int, scale: int = 2, method: str = "bilinear") -> int:
        n, h, w, c = self.shape(x)
        size = self.const(np.array([h * scale, w * scale], np.int32))
        opcode = "RESIZE_BILINEAR" if method == "bilinear" else "RESIZE_NEAREST_NEIGHBOR"
        return self._op1(opcode, [x, size], (n, h * scale, w * scale, c))


class ModelWriter(GraphWriter):
    """Build a TFLite model: ``m = ModelWriter(); x = m.input((1,32,32,3)); ...; m.to_bytes([y])``.

    dtype: ``float32`` | ``float16`` (fp16 weights) | ``int8`` (quantised activations and weights).
    fill: ``random`` weights (seeded) or ``zeros`` (faster, same latency on every runtime).
    """

    def __init__(self, dtype: str = "float32", fill: str = "random", seed: int = 0,
                 description: str = "pytest-tflite-latency model writer"):
        if dtype not in ("float32", "float16", "int8"):
            raise ValueError(f"unsupported model dtype {dtype!r}")
        self.activation_dtype = "int8" if dtype == "int8" else "float32"
        self.weight_dtype, self.fill, self.description = dtype, fill, description
        self.rng = np.random.default_rng(seed)
        self._buffers: list[bytes | None] = [None]  # buffer 0 is the empty sentinel
        self._subgraphs: list[GraphWriter] = [self]
        self._metadata: list[tuple[str, int]] = []
        super().__init__(self, "main")

    def _buffer(self, data: bytes | None) -> int:
        if data is None:
            return 0
        self._buffers.append(data)
        return len(self._buffers) - 1

    def subgraph(self, name: str) -> GraphWriter:
        """Add another subgraph (for CALL_ONCE / IF / WHILE style models)."""
        g = GraphWriter(self, name)
        self._subgraphs.append(g)
        return g

    def add_metadata(self, name: str, data: bytes) -> None:
        self._metadata.append((name, self._buffer(data)))

    def to_bytes(self, outputs: Sequence[int]) -> bytes:
        """Serialise the model with ``outputs`` as the main subgraph's outputs."""
        self.outputs = list(outputs)
        return _Serializer(self).run()

    def save(self, path, outputs: Sequence[int]) -> None:
        with open(path, "wb") as f:
            f.write(self.to_bytes(outputs))


class _Serializer:
    def __init__(self, model: ModelWriter):
        self.m = model
        self.b = flatbuffers.Builder(1024 + sum(len(d) for d in model._buffers if d))
        self.opcodes: dict[str, int] = {}

    def run(self) -> bytes:
        b, m = self.b, self.m
        for g in m._subgraphs:
            for opcode, *_ in g.ops:
                self.opcodes.setdefault(opcode, len(self.opcodes))
        buffers = [self._buffer_table(d) for d in m._buffers]
        subgraphs = [self._subgraph(g) for g in m._subgraphs]
        codes = [self._opcode(name) for name in self.opcodes]
        metadata = [self._metadata(name, index) for name, index in m._metadata]
        desc = b.CreateString(m.description)
        vectors = {"OperatorCodes": codes, "Subgraphs": subgraphs, "Buffers": buffers,
                   "Metadata": metadata}
        offsets = {k: self._vector_of(f"ModelStart{k}Vector", v)
                   for k, v in vectors.items() if v or k != "Metadata"}
        tflite.ModelStart(b)
        tflite.ModelAddVersion(b, 3)
        tflite.ModelAddDescription(b, desc)
        for k, off in offsets.items():
            getattr(tflite, f"ModelAdd{k}")(b, off)
        b.Finish(tflite.ModelEnd(b), file_identifier=b"TFL3")
        return bytes(b.Output())

    def _ints(self, values: Sequence[int], dtype=np.int32) -> int:
        return self.b.CreateNumpyVector(np.asarray(values, dtype))

    def _buffer_table(self, data: bytes | None) -> int:
        b = self.b
        vec = None
        if data:
            b.StartVector(1, len(data), 16)  # 16-byte alignment for weights
            b.head -= len(data)
            b.Bytes[b.head:b.head + len(data)] = data
            vec = b.EndVector()
        tflite.BufferStart(b)
        if vec is not None:
            tflite.BufferAddData(b, vec)
        return tflite.BufferEnd(b)

    def _metadata(self, name: str, index: int) -> int:
        name_off = self.b.CreateString(name)
        tflite.MetadataStart(self.b)
        tflite.MetadataAddName(self.b, name_off)
        tflite.MetadataAddBuffer(self.b, index)
        return tflite.MetadataEnd(self.b)

    def _opcode(self, name: str) -> int:
        b = self.b
        custom = b.CreateString(name.split(":", 1)[1]) if name.startswith("CUSTOM:") else None
        code = tflite.BuiltinOperator.CUSTOM if custom else getattr(tflite.BuiltinOperator, name)
        tflite.OperatorCodeStart(b)
        tflite.OperatorCodeAddDeprecatedBuiltinCode(b, min(code, 127))
        tflite.OperatorCodeAddBuiltinCode(b, code)
        tflite.OperatorCodeAddVersion(b, 1)
        if custom is not None:
            tflite.OperatorCodeAddCustomCode(b, custom)
        return tflite.OperatorCodeEnd(b)

    def _quant(self, quant) -> int:
        scales, zeros, axis = quant
        b = self.b
        s = b.CreateNumpyVector(np.asarray(scales, np.float32))
        z = self._ints(zeros, np.int64)
        tflite.QuantizationParametersStart(b)
        tflite.QuantizationParametersAddScale(b, s)
        tflite.QuantizationParametersAddZeroPoint(b, z)
        tflite.QuantizationParametersAddQuantizedDimension(b, axis)
        return tflite.QuantizationParametersEnd(b)

    def _tensor(self, t: _Tensor) -> int:
        b = self.b
        name, shape = b.CreateString(t.name), self._ints(t.shape)
        sig = self._ints(t.signature) if t.signature else None
        quant = self._quant(t.quant) if t.quant else None
        tflite.TensorStart(b)
        tflite.TensorAddShape(b, shape)
        if sig is not None:
            tflite.TensorAddShapeSignature(b, sig)
        tflite.TensorAddType(b, _TYPES[t.dtype])
        tflite.TensorAddBuffer(b, t.buffer)
        tflite.TensorAddName(b, name)
        if quant is not None:
            tflite.TensorAddQuantization(b, quant)
        return tflite.TensorEnd(b)

    def _options(self, opcode: str, options: dict) -> tuple[int, int]:
        table = _OPTIONS.get(opcode)
        if table is None:
            return 0, 0
        b = self.b
        getattr(tflite, f"{table}Start")(b)
        for field, value in options.items():
            getattr(tflite, f"{table}Add{field}")(b, value)
        return getattr(tflite.BuiltinOptions, table), getattr(tflite, f"{table}End")(b)

    def _operator(self, op) -> int:
        opcode, inputs, outputs, options, custom = op
        b = self.b
        ins, outs = self._ints(inputs), self._ints(outputs)
        custom_vec = b.CreateByteVector(custom) if custom else None
        opt_type, opt = self._options(opcode, options)
        tflite.OperatorStart(b)
        tflite.OperatorAddOpcodeIndex(b, self.opcodes[opcode])
        tflite.OperatorAddInputs(b, ins)
        tflite.OperatorAddOutputs(b, outs)
        if opt_type:
            tflite.OperatorAddBuiltinOptionsType(b, opt_type)
            tflite.OperatorAddBuiltinOptions(b, opt)
        if custom_vec is not None:
            tflite.OperatorAddCustomOptions(b, custom_vec)
        return tflite.OperatorEnd(b)

    def _subgraph(self, g: GraphWriter) -> int:
        b = self.b
        tensors = self._vector_of("SubGraphStartTensorsVector", [self._tensor(t) for t in g.tensors])
        ops = self._vector_of("SubGraphStartOperatorsVector", [self._operator(o) for o in g.ops])
        ins, outs, name = self._ints(g.inputs), self._ints(g.outputs), b.CreateString(g.name)
        tflite.SubGraphStart(b)
        tflite.SubGraphAddTensors(b, tensors)
        tflite.SubGraphAddInputs(b, ins)
        tflite.SubGraphAddOutputs(b, outs)
        tflite.SubGraphAddOperators(b, ops)
        tflite.SubGraphAddName(b, name)
        return tflite.SubGraphEnd(b)

    def _vector_of(self, starter: str, offsets: list[int]) -> int:
        getattr(tflite, starter)(self.b, len(offsets))
        for off in reversed(offsets):
            self.b.PrependUOffsetTRelative(off)
        return self.b.EndVector()
