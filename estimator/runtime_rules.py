"""What LiteRT itself accepts: the checks its interpreter builder and each priced op's kernel ``Prepare`` make
(tensorflow/lite/core/subgraph.cc; kernels/conv.cc, depthwise_conv.cc, pooling.cc, fully_connected.cc,
add.cc, sub.cc, mul.cc, div.cc, concatenation.cc, reshape.cc, activations.cc,
pad.cc, transpose.cc, reduce.cc, resize_bilinear.cc, resize_nearest_neighbor.cc, depth_to_space.cc,
space_to_depth.cc, slice.cc, strided_slice.cc, split.cc, split_v.cc). A model they refuse never runs on
a phone, so estimating it would let a budget pass a model the real runtime fails: it is a `ModelError` naming
the operator and the rule, never an estimate.

Where the runtime recomputes an output shape (convolutions, pooling, fully connected, element-wise ops,
concatenation), the file's declared shape must also be the one it computes: the estimate prices the
declared shapes, so a file whose shapes disagree with its own ops is refused as inconsistent.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable

import numpy as np

from .errors import ModelError
from .graph import Graph, Op, Subgraph, Tensor
from .wording import short_repr

Rule = Callable[[Subgraph, Op], str]

CONV_TYPES = frozenset({"float32", "uint8", "int8", "int16"})  # conv.cc, depthwise_conv.cc, pooling.cc
# A filter of another type than its input: hybrid float × int8/uint8 weights, int16 × int8 (16x8), int8 × int4.
HYBRID_FILTERS = {"float32": frozenset({"int8", "uint8"}), "int16": frozenset({"int8"}),
                  "int8": frozenset({"int4"})}
BINARY_TYPES = {  # add.cc, sub.cc, mul.cc, div.cc: the types their Eval switches over
    "ADD": frozenset({"float32", "int32", "int64", "int16", "int8", "uint8"}),
    "SUB": frozenset({"float32", "int32", "int64", "int16", "int8", "uint8"}),
    "MUL": frozenset({"float32", "int32", "int64", "int16", "int8", "uint8", "complex64"}),
    "DIV": frozenset({"float32", "int32", "uint8"}),
}
SOFTMAX_TYPES = frozenset({"float32", "uint8", "int8", "int16"})
# activations.cc: a quantized SOFTMAX or LOGISTIC output must hold [0, 1) exactly: (scale, zero point) per type.
PROBABILITY_OUTPUT = {"int8": (1 / 256, -128), "uint8": (1 / 256, 0), "int16": (1 / 32768, 0)}
PROBABILITY_SCALE_TOLERANCE = 0.001 / 256  # TF_LITE_ENSURE_NEAR's tolerance in activations.cc
# The builtin options table each priced op's parser reads (schema.fbs); a file carrying another table there
# gives the kernel another op's parameters.
OPTIONS_TABLE = {
    "CONV_2D": "Conv2DOptions", "DEPTHWISE_CONV_2D": "DepthwiseConv2DOptions",
    "AVERAGE_POOL_2D": "Pool2DOptions", "MAX_POOL_2D": "Pool2DOptions",
    "FULLY_CONNECTED": "FullyConnectedOptions", "ADD": "AddOptions", "SUB": "SubOptions", "MUL": "MulOptions",
    "DIV": "DivOptions", "CONCATENATION": "ConcatenationOptions", "RESHAPE": "ReshapeOptions",
    "SOFTMAX": "SoftmaxOptions", "MEAN": "ReducerOptions", "SUM": "ReducerOptions",
    "REDUCE_MAX": "ReducerOptions", "REDUCE_MIN": "ReducerOptions", "REDUCE_PROD": "ReducerOptions",
    "TRANSPOSE_CONV": "TransposeConvOptions", "RESIZE_BILINEAR": "ResizeBilinearOptions",
    "RESIZE_NEAREST_NEIGHBOR": "ResizeNearestNeighborOptions", "PAD": "PadOptions", "PADV2": "PadV2Options",
    "SPLIT": "SplitOptions", "SPLIT_V": "SplitVOptions", "STRIDED_SLICE": "StridedSliceOptions",
    "DEPTH_TO_SPACE": "DepthToSpaceOptions", "SPACE_TO_DEPTH": "SpaceToDepthOptions",
}
# Ops whose parameters have no usable default: without their table strides and filters are 0.
OPTIONS_REQUIRED = frozenset({"CONV_2D", "DEPTHWISE_CONV_2D", "AVERAGE_POOL_2D", "MAX_POOL_2D"})
PADDING = {0: "SAME", 1: "VALID"}  # Padding enum of schema.fbs
INT16_MAX = 2**15 - 1
# conv.cc, depthwise_conv.cc: strides and dilations <= INT16_MAX (they are int16 in the kernels' parameters).
# One input, one output of the same shape: the runtime sizes the output from the input, so the file's declared
# output must be that shape for the estimate to price what runs.
SHAPE_PRESERVING = frozenset({
    "RELU", "RELU6", "RELU_N1_TO_1", "LOGISTIC", "TANH", "HARD_SWISH", "ELU", "LEAKY_RELU", "GELU", "ABS", "NEG",
    "EXP", "LOG", "SQRT", "RSQRT", "SQUARE", "SIN", "COS", "CEIL", "FLOOR", "SIGN", "QUANTIZE", "DEQUANTIZE",
    "CAST"})
_UNSIZED = frozenset({"string", "resource", "variant", "int4"})  # a buffer's bytes are not shape × item size
# The one exception to "a constant's buffer holds its shape": weights stripped to one byte, the form in which
# this project ships converted graphs (bench/rebuild_qed.py, bench/data/qed-usc-mobile-cnn/). LiteRT would
# refuse to load them, but no estimate reads a weight's values, and such a file is never deployed.
STRIPPED_BUFFER_BYTES = 1


def check_runtime_accepts(graph: Graph) -> None:
    """Raise `ModelError` if LiteRT would refuse to prepare ``graph``: a constant whose buffer is too small
    for its shape (subgraph.cc: ``required_bytes <= bytes``; a stripped one-byte buffer excepted), or an op of
    the main subgraph its kernel refuses."""
    for sg in graph.subgraphs:
        for t in sg.tensors:
            if t.is_const and t.dtype not in _UNSIZED and t.data_bytes not in (t.nbytes, STRIPPED_BUFFER_BYTES) \
                    and t.data_bytes < t.nbytes:
                raise ModelError(graph.source, f"subgraph {sg.index}: constant tensor {t.index} of shape "
                                               f"{list(t.shape)} ({t.dtype}) needs {t.nbytes:,} bytes, its buffer "
                                               f"holds only {t.data_bytes:,}: LiteRT refuses the model")
        for t in sg.tensors:
            why = _quantization_refused(t)
            if why:
                raise ModelError(graph.source, f"subgraph {sg.index}: tensor {t.index} ({short_repr(t.name, 60)}) "
                                               f"{why}: LiteRT refuses the model")
        for op in sg.ops:  # subgraph.cc AddNodeWithParameters: CheckInputAndOutputForOverlap
            both = sorted(set(op.inputs) & set(op.outputs) - {-1})
            if both:
                raise ModelError(graph.source, f"subgraph {sg.index}: operator {op.index} ({op.opcode}) reads "
                                               f"tensor {both[0]}, its own output: LiteRT refuses the model")
    sg = graph.main
    for op in sg.ops:
        why = refusal(sg, op)
        if why:
            raise ModelError(graph.source, f"operator {op.index} ({op.opcode}): {why}: LiteRT refuses the model")


# The zero points a quantized tensor of each type can hold (an int16 one is symmetric: 0)
_ZERO_POINTS = {"int8": (-128, 127), "uint8": (0, 255), "int16": (0, 0)}


def _quantization_refused(t: Tensor) -> str:
    """Why a quantized activation's parameters cannot be computed with ("" when they can): its scale must
    be a finite positive number and its zero point one its type holds (every quantized kernel divides by
    the scale and offsets by the zero point; LiteRT's delegates and kernels refuse the rest at prepare)."""
    if t.is_const or t.scale_zero is None:
        return ""
    scale, zero = t.scale_zero
    if not (math.isfinite(scale) and scale > 0):
        return f"has the quantization scale {scale:g}, not a finite positive number"
    low, high = _ZERO_POINTS.get(t.dtype, (-(2**31), 2**31 - 1))
    if not low <= zero <= high:
        return f"has the zero point {zero}, outside what a {t.dtype} tensor holds ({low} … {high})"
    return ""


def flex_ops_warning(graph: Graph) -> str:
    """A warning for TensorFlow ops the converter kept (``SELECT_TF_OPS``: custom ops named ``Flex…``), "" if
    none: only the Flex delegate runs them, which the app must link, and no profile measured any."""
    names = Counter(op.opcode.removeprefix("CUSTOM:") for sg in graph.subgraphs for op in sg.ops
                    if op.opcode.startswith("CUSTOM:Flex"))
    if not names:
        return ""
    which = ", ".join(f"{n} ×{c}" if c > 1 else n for n, c in sorted(names.items()))
    return (f"{sum(names.values())} TensorFlow op(s) kept by SELECT_TF_OPS ({which}) run only with the Flex "
            "delegate (the app must link tensorflow-lite-select-tf-ops); no profile measured one: each is priced "
            "from its tensors' sizes only, TensorFlow's own kernel and the delegate's per-op cost not included")


def refusal(sg: Subgraph, op: Op) -> str:
    """Why LiteRT's kernel for ``op`` would refuse it ("" when it accepts it, or when the op has no rule)."""
    if op.opcode.startswith("BUILTIN_"):  # a code beyond the schema (op_resolver: "builtin_code out of range")
        return f"operator code {op.opcode.removeprefix('BUILTIN_')} is no builtin operator LiteRT has a kernel for"
    expected = OPTIONS_TABLE.get(op.opcode)
    if expected and op.options_type not in ("", expected):
        return f"carries {op.options_type}, not {expected}"
    if op.opcode in OPTIONS_REQUIRED and not op.options_type:
        return f"has no {expected} (strides and filter sizes of 0)"
    rule = _RULES.get(op.opcode)
    why = rule(sg, op) if rule else ""
    why = why or _activation_range(sg, op)
    if not why and op.opcode in SHAPE_PRESERVING:
        x, out = _tensor(sg, op, 0), _tensor(sg, op, 0, outputs=True)
        why = _declared(out, tuple(x.shape)) if x is not None and out is not None else "needs an input and an output"
    return why


# kernel_util.cc CalculateActivationRangeQuantized: a fused RELU_N1_TO_1 / RELU6 clamps a quantized output at
# round(limit / scale) steps from its zero point, and the kernel refuses a limit beyond int32
# ("no_integer_overflow_from_quantization"): an output scale below 6 / 2**31 under RELU6.
_CLAMPS = {2: ("RELU_N1_TO_1", 1.0), 3: ("RELU6", 6.0)}  # ActivationFunctionType → (name, limit)


def _activation_range(sg: Subgraph, op: Op) -> str:
    clamp = _CLAMPS.get(op.options.get("FusedActivationFunction", 0))
    out = _tensor(sg, op, 0, outputs=True)
    if clamp is None or out is None or out.scale_zero is None or out.scale_zero[0] <= 0:
        return ""
    name, limit = clamp
    steps = limit / out.scale_zero[0]
    if steps <= 2**31 - 1:
        return ""
    return (f"fused {name} on an output of scale {out.scale_zero[0]:.3g}: its clamp at {limit:g} is "
            f"{steps:.3g} quantization steps, beyond int32 (a calibration that saw no signal there)")


def _tensor(sg: Subgraph, op: Op, position: int, outputs: bool = False) -> Tensor | None:
    indices = op.outputs if outputs else op.inputs
    return sg.tensors[indices[position]] if position < len(indices) and indices[position] >= 0 else None


def _rank(t: Tensor, rank: int, what: str) -> str:
    return "" if len(t.shape) == rank else f"{what} is {len(t.shape)}-D {list(t.shape)}, the kernel needs {rank}-D"


def _window(op: Op, fields: tuple[str, ...]) -> str:
    for name in fields:
        if op.options.get(name, 0) < 1:
            return f"{name} is {op.options.get(name, 0)}, the kernel needs at least 1"
    if op.options.get("Padding", 0) not in PADDING:
        return f"Padding is {op.options.get('Padding')}, neither SAME (0) nor VALID (1)"
    return ""


def _out_size(size: int, window: int, stride: int, dilation: int, padding: int) -> int:
    """kernels/padding.h ComputeOutSize."""
    effective = (window - 1) * dilation + 1
    if PADDING[padding] == "SAME":
        return (size + stride - 1) // stride
    return max((size - effective + stride) // stride, 0)


def _declared(out: Tensor, computed: tuple[int, ...]) -> str:
    if tuple(out.shape) != computed:
        return (f"declares output {list(out.shape)}, the kernel computes {list(computed)} from its inputs "
                "(inconsistent model)")
    return ""


def _types(x: Tensor, out: Tensor | None, allowed: frozenset[str]) -> str:
    if x.dtype not in allowed:
        return f"input type {x.dtype} is not one the kernel runs ({', '.join(sorted(allowed))})"
    if out is not None and out.dtype != x.dtype:
        return f"output type {out.dtype} differs from input type {x.dtype}"
    return ""


def _filter_type(x: Tensor, w: Tensor) -> str:
    if w.dtype != x.dtype and w.dtype not in HYBRID_FILTERS.get(x.dtype, ()):
        return f"a {w.dtype} filter on a {x.dtype} input is not a combination the kernel runs"
    return ""


def _quantization(x: Tensor, w: Tensor, depthwise: bool) -> str:
    """conv.cc, depthwise_conv.cc: an integer kernel needs a quantized filter and input
    (kernel_util.cc PopulateConvolutionQuantizationParams); a hybrid depthwise kernel (float input, integer
    filter) needs a quantized filter too."""
    if x.dtype != "float32":
        if not w.scales:
            return f"its {w.dtype} filter has no quantization parameters, which the {x.dtype} kernel needs"
        if not x.scales:
            return f"its {x.dtype} input has no quantization parameters, which the {x.dtype} kernel needs"
    elif depthwise and w.dtype != x.dtype and not w.scales:
        return f"its {w.dtype} filter on a float32 input has no quantization parameters"
    return ""


def _bias(op: Op, sg: Subgraph, channels: int) -> str:
    b = _tensor(sg, op, 2)
    if b is not None and b.size != channels:
        return f"bias has {b.size} elements, the filter {channels} output channels"
    return ""


def _conv(sg: Subgraph, op: Op) -> str:
    x, w, out = _tensor(sg, op, 0), _tensor(sg, op, 1), _tensor(sg, op, 0, outputs=True)
    if x is None or w is None or out is None or len(op.inputs) > 3:
        return "needs an input, a filter, an optional bias and an output"
    if len(op.inputs) == 3 and op.inputs[2] < 0:  # conv.cc: has_bias = inputs->size == 3, then GetInputSafe
        return "lists a bias input that is no tensor (-1)"
    depthwise = op.opcode == "DEPTHWISE_CONV_2D"
    why = (_rank(x, 4, "input") or _rank(w, 4, "filter") or _rank(out, 4, "output")
           or _types(x, out, CONV_TYPES) or _filter_type(x, w)
           or _window(op, ("StrideW", "StrideH", "DilationWFactor", "DilationHFactor")))
    if why:
        return why
    for name in ("StrideW", "StrideH", "DilationWFactor", "DilationHFactor"):
        if op.options[name] > INT16_MAX:
            return f"{name} is {_written(op, name)}, the kernel takes at most {INT16_MAX}"
    why = _quantization(x, w, depthwise)
    if why:
        return why
    if any(d <= 0 for d in w.shape):  # conv.cc: filter->dims->data[k] > 0
        return f"filter {list(w.shape)} has an empty dimension"
    cin = x.shape[3]
    if depthwise:
        if w.shape[0] != 1:
            return f"depthwise filter {list(w.shape)} must have 1 as its first dimension"
        if cin <= 0 or w.shape[3] % cin:
            return f"filter's {w.shape[3]} output channels are no multiple of the input's {cin} channels"
        multiplier = op.options.get("DepthMultiplier", 0)
        if multiplier > 0 and multiplier * cin != w.shape[3]:
            return f"DepthMultiplier {multiplier} × {cin} input channels is not the filter's {w.shape[3]}"
    elif w.shape[3] <= 0 or cin % w.shape[3]:
        return f"input's {cin} channels are no multiple of the filter's {w.shape[3]} input channels"
    channels = w.shape[3] if depthwise else w.shape[0]
    o = op.options
    computed = (x.shape[0],
                _out_size(x.shape[1], w.shape[1], o["StrideH"], o["DilationHFactor"], o.get("Padding", 0)),
                _out_size(x.shape[2], w.shape[2], o["StrideW"], o["DilationWFactor"], o.get("Padding", 0)),
                channels)
    return _bias(op, sg, channels) or _declared(out, computed)


def _pool(sg: Subgraph, op: Op) -> str:
    x, out = _tensor(sg, op, 0), _tensor(sg, op, 0, outputs=True)
    if x is None or out is None or len(op.inputs) != 1:
        return "needs one input and an output"
    why = (_rank(x, 4, "input") or _rank(out, 4, "output") or _types(x, out, CONV_TYPES)
           or _window(op, ("StrideW", "StrideH", "FilterWidth", "FilterHeight")))
    if why:
        return why
    o = op.options
    computed = (x.shape[0], _out_size(x.shape[1], o["FilterHeight"], o["StrideH"], 1, o.get("Padding", 0)),
                _out_size(x.shape[2], o["FilterWidth"], o["StrideW"], 1, o.get("Padding", 0)), x.shape[3])
    return _declared(out, computed)


def _written(op: Op, name: str) -> int:
    """A window option as the file wrote it (the graph clamps the ones above its bound)."""
    return op.unclamped.get(name, op.options.get(name, 0))


def _fully_connected(sg: Subgraph, op: Op) -> str:
    x, w, out = _tensor(sg, op, 0), _tensor(sg, op, 1), _tensor(sg, op, 0, outputs=True)
    if x is None or w is None or out is None or len(op.inputs) > 3:
        return "needs an input, a weight matrix, an optional bias and an output"
    why = _rank(w, 2, "weights") or _types(x, None, CONV_TYPES) or _filter_type(x, w)
    if why:
        return why
    units, depth = w.shape
    if depth <= 0 or x.size % depth:
        return f"input of {x.size} elements is no whole number of rows of the weights' depth {depth}"
    why = _bias(op, sg, units)
    if why:
        return why
    if op.options.get("KeepNumDims", False):  # fully_connected.cc: the input's last dimension is the depth
        if not x.shape or x.shape[-1] != depth:
            return f"KeepNumDims with an input {list(x.shape)} whose last dimension is not the weights' depth {depth}"
        return _declared(out, (*x.shape[:-1], units))
    return _declared(out, (x.size // depth, units))


def _binary(sg: Subgraph, op: Op) -> str:
    a, b, out = _tensor(sg, op, 0), _tensor(sg, op, 1), _tensor(sg, op, 0, outputs=True)
    if a is None or b is None or out is None or len(op.inputs) != 2:
        return "needs two inputs and an output"
    if a.dtype != b.dtype:
        return f"input types differ ({a.dtype}, {b.dtype})"
    why = _types(a, out, BINARY_TYPES[op.opcode])
    if why:
        return why
    try:
        computed = tuple(np.broadcast_shapes(a.shape, b.shape))
    except ValueError:
        return f"inputs {list(a.shape)} and {list(b.shape)} do not broadcast"
    return _declared(out, computed)


def _concatenation(sg: Subgraph, op: Op) -> str:
    ins = [_tensor(sg, op, i) for i in range(len(op.inputs))]
    out = _tensor(sg, op, 0, outputs=True)
    if not ins or any(t is None for t in ins) or out is None:
        return "needs inputs and an output"
    first = ins[0]
    rank = len(first.shape)
    axis = op.options.get("Axis", 0)
    if not -rank <= axis < rank:
        return f"axis {axis} is outside a {rank}-D input"
    axis %= rank
    for t in ins:
        if t.dtype != out.dtype:
            return f"an input of type {t.dtype} differs from the output's {out.dtype}"
        if len(t.shape) != rank or any(d != e for k, (d, e) in enumerate(zip(t.shape, first.shape, strict=True))
                                       if k != axis):
            return f"inputs {list(first.shape)} and {list(t.shape)} differ outside axis {axis}"
    computed = (*first.shape[:axis], sum(t.shape[axis] for t in ins), *first.shape[axis + 1:])
    return _declared(out, computed)


def _reshape(sg: Subgraph, op: Op) -> str:
    """reshape.cc: the output takes the requested shape (one -1 stretched to fit), which must hold the input's
    elements; requested by a constant int32 vector input, else by the NewShape option."""
    x, out = _tensor(sg, op, 0), _tensor(sg, op, 0, outputs=True)
    if x is None or out is None or len(op.inputs) > 2 or len(op.outputs) != 1:
        return "needs an input, an optional shape and one output"
    if len(op.inputs) == 2 and op.inputs[1] < 0:
        return "lists a shape input that is no tensor (-1)"
    requested = _requested_shape(sg, op)
    if isinstance(requested, str):
        return requested
    if requested is None:  # a shape computed at run time: the runtime sizes the output then
        return "" if x.size == out.size else \
            f"input {list(x.shape)} and output {list(out.shape)} hold different numbers of elements"
    if requested.count(-1) > 1 or any(d < -1 for d in requested):
        return f"requested shape {list(requested)} has more than one -1 or a negative dimension"
    known = math.prod(d for d in requested if d != -1)
    if -1 in requested:
        stretched = 0 if x.size == 0 and known else \
            math.prod(d for d in x.shape if d) // max(math.prod(d for d in requested if d > 0), 1)
        requested = tuple(stretched if d == -1 else d for d in requested)
    if math.prod(requested) != x.size:
        return f"input {list(x.shape)} of {x.size:,} elements cannot take the requested shape {list(requested)}"
    return _declared(out, requested)


MAX_RESHAPE_RANK = 8  # TfLiteReshapeParams.shape holds at most 8 dimensions (builtin_op_data.h)


def _requested_shape(sg: Subgraph, op: Op) -> tuple[int, ...] | str | None:
    """The shape a RESHAPE asks for, read as reshape.cc reads it: a constant int32 vector input, else the
    NewShape option ([0] is the legacy scalar, no option at all a scalar); None when a shape input is computed
    at run time or its values are not in the file; a refusal when the option does not fit the parameters."""
    shape = _tensor(sg, op, 1) if len(op.inputs) == 2 else None
    if shape is not None and not shape.is_const:
        return None
    if shape is not None and len(shape.shape) == 1 and shape.dtype == "int32":
        return shape.values
    option = op.options.get("NewShape", ())
    requested = tuple(option) if isinstance(option, tuple) else ()
    if len(requested) > MAX_RESHAPE_RANK:
        return f"NewShape has {len(requested)} dimensions, the kernel's parameters hold {MAX_RESHAPE_RANK}"
    return () if requested == (0,) else requested


def _softmax(sg: Subgraph, op: Op) -> str:
    x, out = _tensor(sg, op, 0), _tensor(sg, op, 0, outputs=True)
    if x is None or out is None:
        return "needs an input and an output"
    if not x.shape:
        return "input is 0-D, the kernel needs at least 1-D"
    return _types(x, out, SOFTMAX_TYPES) or _probability_output(out) or _declared(out, tuple(x.shape))


def _probability_output(out: Tensor) -> str:
    expected = PROBABILITY_OUTPUT.get(out.dtype)
    if expected is None or out.scale_zero is None:
        return ""
    scale, zero = out.scale_zero
    if zero != expected[1] or abs(scale - expected[0]) > PROBABILITY_SCALE_TOLERANCE:
        return (f"a {out.dtype} output quantized with scale {scale:g} and zero point {zero}, not "
                f"{expected[0]:g} and {expected[1]}")
    return ""


def _logistic(sg: Subgraph, op: Op) -> str:
    out = _tensor(sg, op, 0, outputs=True)
    return _probability_output(out) if out is not None else ""


MAX_PAD_RANK = 5  # pad.cc: reference_ops::PadKernelMaxDimensionCount()
MAX_TRANSPOSE_RANK = 6  # transpose.cc: kTransposeMaxDimensions
MAX_SLICE_RANK = 5  # slice.cc, strided_slice.cc: kMaxDim
INDEX_TYPES = frozenset({"int32", "int64"})


def _parameter(sg: Subgraph, op: Op, position: int, what: str, rank: int, length: int | None = None) -> str:
    """A parameter tensor (paddings, permutation, axes, size ...): present, of an index type, of ``rank``
    dimensions and, where given, ``length`` long in its first."""
    t = _tensor(sg, op, position)
    if t is None:
        return f"has no {what} tensor"
    if t.dtype not in INDEX_TYPES:
        return f"{what} are {t.dtype}, not int32 or int64"
    if len(t.shape) != rank:
        return f"{what} are {len(t.shape)}-D {list(t.shape)}, the kernel needs {rank}-D"
    if length is not None and t.shape[0] != length:
        return f"{what} hold {t.shape[0]} entries for a {length}-D input"
    return ""


def _values(sg: Subgraph, op: Op, position: int) -> tuple[int, ...] | None:
    """A parameter input's values where the file holds them as a constant; None where the runtime computes them
    (the kernel then sizes its output at run time, and the file's declared shape stands)."""
    t = _tensor(sg, op, position)
    return t.values if t is not None and t.is_const else None


def _one_output(sg: Subgraph, op: Op) -> Tensor | None:
    return _tensor(sg, op, 0, outputs=True) if len(op.outputs) == 1 else None


def _pad(sg: Subgraph, op: Op) -> str:
    x, out = _tensor(sg, op, 0), _one_output(sg, op)
    if x is None or out is None or len(op.inputs) not in (2, 3):
        return "needs an input, its paddings, an optional value and one output"
    if len(x.shape) > MAX_PAD_RANK:
        return f"input is {len(x.shape)}-D, the kernel pads at most {MAX_PAD_RANK}-D"
    why = _parameter(sg, op, 1, "paddings", 2, len(x.shape))
    if why:
        return why
    paddings = _tensor(sg, op, 1)
    if paddings is not None and paddings.shape[1] != 2:
        return f"paddings are {list(paddings.shape)}, not [n, 2]"
    values = _values(sg, op, 1)
    if values is None:
        if len(out.shape) != len(x.shape) or any(o < i for o, i in zip(out.shape, x.shape, strict=True)):
            return f"declares output {list(out.shape)}, not the input {list(x.shape)} padded (inconsistent model)"
        return ""
    if any(v < 0 for v in values):  # pad.cc: left_padding >= 0 && right_padding >= 0
        return f"paddings {list(values)} hold a negative padding"
    return _declared(out, tuple(d + values[2 * k] + values[2 * k + 1] for k, d in enumerate(x.shape)))


def _transpose(sg: Subgraph, op: Op) -> str:
    x, out = _tensor(sg, op, 0), _one_output(sg, op)
    if x is None or out is None:
        return "needs an input and one output"
    if len(x.shape) > MAX_TRANSPOSE_RANK:
        return f"input is {len(x.shape)}-D, the kernel transposes at most {MAX_TRANSPOSE_RANK}-D"
    why = _parameter(sg, op, 1, "permutation", 1, len(x.shape))
    perm = _values(sg, op, 1)
    if why or perm is None:
        return why
    if sorted(perm) != list(range(len(x.shape))):  # transpose.cc: each entry in [0, rank), once
        return f"permutation {list(perm)} is no permutation of the input's {len(x.shape)} dimensions"
    return _declared(out, tuple(x.shape[p] for p in perm))


def _axes(sg: Subgraph, op: Op) -> str:
    """reduce.cc: each axis inside the input's rank (negative ones count from the end); the output drops the
    reduced dimensions, or keeps them as 1 with KeepDims."""
    if len(op.outputs) != 1:  # reduce.cc: NumOutputs(node) == 1
        return f"has {len(op.outputs)} outputs, the kernel writes one"
    x, axes, out = _tensor(sg, op, 0), _tensor(sg, op, 1), _one_output(sg, op)
    if x is None or axes is None or out is None:
        return "needs an input and its axes"
    if axes.dtype not in INDEX_TYPES:
        return f"axes are {axes.dtype}, not int32 or int64"
    if len(axes.shape) > 1:
        return f"axes are {len(axes.shape)}-D, the kernel needs 0-D or 1-D"
    values = _values(sg, op, 1)
    if values is None:
        return ""
    rank = len(x.shape)
    bad = [a for a in values if not -rank <= a < rank]
    if bad:
        return f"axis {bad[0]} is outside a {rank}-D input"
    reduced = {a % rank for a in values}
    keep = bool(op.options.get("KeepDims", False))
    computed = tuple(1 if k in reduced else d for k, d in enumerate(x.shape) if keep or k not in reduced)
    return _declared(out, computed)


def _resize(sg: Subgraph, op: Op) -> str:
    x, out = _tensor(sg, op, 0), _one_output(sg, op)
    if x is None or out is None:
        return "needs an input and one output"
    why = _rank(x, 4, "input") or _parameter(sg, op, 1, "size", 1, 2)
    size = _values(sg, op, 1)
    if why or size is None:
        return why
    if min(size) <= 0:  # resize_bilinear.cc, resize_nearest_neighbor.cc: ResizeOutputTensor
        return f"size {list(size)} is not positive"
    return _declared(out, (x.shape[0], size[0], size[1], x.shape[3]))


def _space_depth(sg: Subgraph, op: Op) -> str:
    """depth_to_space.cc, space_to_depth.cc: a 4-D input, a block size of at least 1 that divides the channels
    (by its square) or the height and width."""
    x, out = _tensor(sg, op, 0), _one_output(sg, op)
    if x is None or out is None:
        return "needs an input and one output"
    why = _rank(x, 4, "input")
    if why:
        return why
    block = op.options.get("BlockSize", 0)
    if block < 1:
        return f"BlockSize is {block}, the kernel needs at least 1"
    n, h, w, c = x.shape
    if op.opcode == "DEPTH_TO_SPACE":
        if c % (block * block):
            return f"input's {c} channels are no multiple of BlockSize {block} squared"
        return _declared(out, (n, h * block, w * block, c // (block * block)))
    if h % block or w % block:
        return f"input's {h}×{w} pixels are no multiple of BlockSize {block}"
    return _declared(out, (n, h // block, w // block, c * block * block))


def _slice(sg: Subgraph, op: Op) -> str:
    x, out = _tensor(sg, op, 0), _one_output(sg, op)
    if x is None or out is None:
        return "needs an input and one output"
    if len(x.shape) > MAX_SLICE_RANK:
        return f"input is {len(x.shape)}-D, the kernel slices at most {MAX_SLICE_RANK}-D"
    strided = op.opcode == "STRIDED_SLICE"
    params = ("begin", "end", "strides") if strided else ("begin", "size")
    for k, name in enumerate(params, start=1):
        why = _parameter(sg, op, k, name, 1)
        if why:
            return why
        t = _tensor(sg, op, k)
        if t is not None and not strided and t.shape[0] != len(x.shape):
            return f"{name} holds {t.shape[0]} entries for a {len(x.shape)}-D input"
    values = [_values(sg, op, k) for k in range(1, len(params) + 1)]
    if any(v is None for v in values):
        return ""
    computed = _strided_slice(x.shape, *values, op.options) if strided else _plain_slice(x.shape, *values)
    if computed is None or isinstance(computed, str):
        return computed or ""
    return _declared(out, computed)


def _plain_slice(shape: tuple[int, ...], begin: tuple[int, ...], size: tuple[int, ...]) -> tuple[int, ...] | str:
    """slice.cc CalculateOutputShapeVector: size -1 runs to the end; begin and size stay inside the input."""
    out = []
    for d, b, s in zip(shape, begin, size, strict=True):
        s = d - b if s == -1 else s
        if b < 0 or s < 0 or b + s > d:
            return f"begin {list(begin)} and size {list(size)} reach outside the input {list(shape)}"
        out.append(s)
    return tuple(out)


def _strided_slice(shape: tuple[int, ...], begin: tuple[int, ...], end: tuple[int, ...],
                   strides: tuple[int, ...], options: dict) -> tuple[int, ...] | str | None:
    """strided_slice.cc: each sliced dimension's length from begin, end and stride (masks and negative indices
    as TensorFlow reads them); dimensions past the given entries are kept whole, shrunk ones dropped."""
    if len({len(begin), len(end), len(strides)}) > 1:
        return f"begin, end and strides differ in length ({len(begin)}, {len(end)}, {len(strides)})"
    if options.get("EllipsisMask", 0) or options.get("NewAxisMask", 0) or len(begin) > len(shape):
        return None  # dimensions inserted or skipped: left to the declared output
    out = []
    for k, d in enumerate(shape):
        if k >= len(begin):
            out.append(d)
            continue
        s, bit = strides[k], 1 << k
        if s == 0:
            return f"stride {k} is 0"
        b, e = begin[k], end[k]
        if options.get("Offset", False):
            e += b
        b = _clamp_index(b, d, s, start=True) if not options.get("BeginMask", 0) & bit else (0 if s > 0 else d - 1)
        if options.get("ShrinkAxisMask", 0) & bit:
            if not 0 <= b < d:
                return f"index {begin[k]} of dimension {k} is outside its {d} entries"
            continue
        e = _clamp_index(e, d, s, start=False) if not options.get("EndMask", 0) & bit else (d if s > 0 else -1)
        out.append(max(0, -(-(e - b) // s)))
    return tuple(out)


def _clamp_index(i: int, d: int, stride: int, start: bool) -> int:
    """A begin or end index counted from the end where negative, clamped into the dimension as the kernel does
    ([0, d] going forward, [-1, d - 1] going backward)."""
    i = i + d if i < 0 else i
    return min(max(i, 0), d) if stride > 0 else min(max(i, -1), d - 1)


def _split(sg: Subgraph, op: Op) -> str:
    """split.cc, split_v.cc: NumSplits outputs cut along one axis (SPLIT evenly, SPLIT_V by size_splits, one of
    which may be -1)."""
    splits = op.options.get("NumSplits", 0)
    if splits != len(op.outputs) or splits < 1:  # split.cc, split_v.cc: NumOutputs(node) == num_splits
        return f"NumSplits is {splits}, the op has {len(op.outputs)} outputs"
    split_v = op.opcode == "SPLIT_V"
    x = _tensor(sg, op, 0 if split_v else 1)  # SPLIT reads (axis, input), SPLIT_V (input, size_splits, axis)
    outs = [_tensor(sg, op, k, outputs=True) for k in range(len(op.outputs))]
    if x is None or any(t is None for t in outs) or len(op.inputs) != (3 if split_v else 2):
        return "needs an input, its axis and its outputs"
    axis = _values(sg, op, 2 if split_v else 0)
    sizes = _values(sg, op, 1) if split_v else ()
    if axis is None or sizes is None or len(axis) != 1:
        if sum(t.size for t in outs) != x.size:
            return f"outputs hold {sum(t.size for t in outs)} elements, the input {x.size} (inconsistent model)"
        return ""
    rank = len(x.shape)
    if not -rank <= axis[0] < rank:
        return f"axis {axis[0]} is outside a {rank}-D input"
    a = axis[0] % rank
    pieces = _split_sizes(x.shape[a], splits, sizes if split_v else None)
    if isinstance(pieces, str):
        return pieces
    for t, n in zip(outs, pieces, strict=True):
        why = _declared(t, (*x.shape[:a], n, *x.shape[a + 1:]))
        if why:
            return why
    return ""


def _split_sizes(length: int, splits: int, sizes: tuple[int, ...] | None) -> list[int] | str:
    if sizes is None:
        if length % splits:  # split.cc: "Not an even split"
            return f"the input's {length} entries along the axis do not split evenly into {splits}"
        return [length // splits] * splits
    if len(sizes) != splits or sizes.count(-1) > 1 or any(s < -1 for s in sizes):
        return f"size_splits {list(sizes)} are not {splits} sizes with at most one -1"
    rest = length - sum(s for s in sizes if s != -1)
    if (rest != 0 and -1 not in sizes) or rest < 0:
        return f"size_splits {list(sizes)} do not add up to the input's {length} entries along the axis"
    return [rest if s == -1 else s for s in sizes]


_RULES: dict[str, Rule] = {
    "CONV_2D": _conv, "DEPTHWISE_CONV_2D": _conv, "AVERAGE_POOL_2D": _pool, "MAX_POOL_2D": _pool,
    "FULLY_CONNECTED": _fully_connected, "ADD": _binary, "SUB": _binary, "MUL": _binary, "DIV": _binary,
    "CONCATENATION": _concatenation, "RESHAPE": _reshape, "SOFTMAX": _softmax, "LOGISTIC": _logistic,
    "PAD": _pad, "PADV2": _pad, "MIRROR_PAD": _pad, "TRANSPOSE": _transpose, "MEAN": _axes, "SUM": _axes,
    "REDUCE_MAX": _axes, "REDUCE_MIN": _axes, "REDUCE_PROD": _axes, "RESIZE_BILINEAR": _resize,
    "RESIZE_NEAREST_NEIGHBOR": _resize, "DEPTH_TO_SPACE": _space_depth, "SPACE_TO_DEPTH": _space_depth,
    "SLICE": _slice, "STRIDED_SLICE": _slice, "SPLIT": _split, "SPLIT_V": _split,
}
