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
from collections.abc import Callable

import numpy as np

from .errors import ModelError
from .graph import Graph, Op, Subgraph, Tensor

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
}
# Ops whose parameters have no usable default: without their table strides and filters are 0.
OPTIONS_REQUIRED = frozenset({"CONV_2D", "DEPTHWISE_CONV_2D", "AVERAGE_POOL_2D", "MAX_POOL_2D"})
PADDING = {0: "SAME", 1: "VALID"}  # Padding enum of schema.fbs
MAX_CONV_STRIDE = 2**15 - 1  # conv.cc: params->stride_width <= INT16_MAX (strides are int16 in its im2col)
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


def refusal(sg: Subgraph, op: Op) -> str:
    """Why LiteRT's kernel for ``op`` would refuse it ("" when it accepts it, or when the op has no rule)."""
    expected = OPTIONS_TABLE.get(op.opcode)
    if expected and op.options_type not in ("", expected):
        return f"carries {op.options_type}, not {expected}"
    if op.opcode in OPTIONS_REQUIRED and not op.options_type:
        return f"has no {expected} (strides and filter sizes of 0)"
    rule = _RULES.get(op.opcode)
    why = rule(sg, op) if rule else ""
    if not why and op.opcode in SHAPE_PRESERVING:
        x, out = _tensor(sg, op, 0), _tensor(sg, op, 0, outputs=True)
        why = _declared(out, tuple(x.shape)) if x is not None and out is not None else "needs an input and an output"
    return why


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
    for name in ("StrideW", "StrideH"):
        if op.options[name] > MAX_CONV_STRIDE:
            return f"{name} is {op.options[name]}, the kernel takes at most {MAX_CONV_STRIDE}"
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
    rows = x.size // depth
    keep = op.options.get("KeepNumDims", False)
    computed = (*x.shape[:-1], units) if keep else (rows, units)
    return "" if out.size == rows * units else _declared(out, computed)


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
    x, out = _tensor(sg, op, 0), _tensor(sg, op, 0, outputs=True)
    if x is None or out is None:
        return "needs an input and an output"
    if math.prod(x.shape) != math.prod(out.shape):
        return f"input {list(x.shape)} and output {list(out.shape)} hold different numbers of elements"
    return ""


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


def _pad(sg: Subgraph, op: Op) -> str:
    x = _tensor(sg, op, 0)
    if x is None:
        return "needs an input"
    if len(x.shape) > MAX_PAD_RANK:
        return f"input is {len(x.shape)}-D, the kernel pads at most {MAX_PAD_RANK}-D"
    why = _parameter(sg, op, 1, "paddings", 2, len(x.shape))
    if why:
        return why
    paddings, out = _tensor(sg, op, 1), _tensor(sg, op, 0, outputs=True)
    if paddings is not None and paddings.shape[1] != 2:
        return f"paddings are {list(paddings.shape)}, not [n, 2]"
    if out is None or len(out.shape) != len(x.shape) or any(o < i for o, i in zip(out.shape, x.shape, strict=True)):
        return f"declares output {list(out.shape) if out else None}, not the input {list(x.shape)} padded " \
               "(inconsistent model)"
    return ""


def _transpose(sg: Subgraph, op: Op) -> str:
    x = _tensor(sg, op, 0)
    if x is None:
        return "needs an input"
    if len(x.shape) > MAX_TRANSPOSE_RANK:
        return f"input is {len(x.shape)}-D, the kernel transposes at most {MAX_TRANSPOSE_RANK}-D"
    return _parameter(sg, op, 1, "permutation", 1, len(x.shape))


def _axes(sg: Subgraph, op: Op) -> str:
    if len(op.outputs) != 1:  # reduce.cc: NumOutputs(node) == 1
        return f"has {len(op.outputs)} outputs, the kernel writes one"
    axes = _tensor(sg, op, 1)
    if _tensor(sg, op, 0) is None or axes is None:
        return "needs an input and its axes"
    if axes.dtype not in INDEX_TYPES:
        return f"axes are {axes.dtype}, not int32 or int64"
    return "" if len(axes.shape) <= 1 else f"axes are {len(axes.shape)}-D, the kernel needs 0-D or 1-D"


def _resize(sg: Subgraph, op: Op) -> str:
    x = _tensor(sg, op, 0)
    if x is None:
        return "needs an input"
    return _rank(x, 4, "input") or _parameter(sg, op, 1, "size", 1, 2)


def _space_depth(sg: Subgraph, op: Op) -> str:
    x = _tensor(sg, op, 0)
    return _rank(x, 4, "input") if x is not None else "needs an input"


def _slice(sg: Subgraph, op: Op) -> str:
    x = _tensor(sg, op, 0)
    if x is None:
        return "needs an input"
    params = ("begin", "end", "strides") if op.opcode == "STRIDED_SLICE" else ("begin", "size")
    for k, name in enumerate(params, start=1):
        why = _parameter(sg, op, k, name, 1)
        if why:
            return why
        t = _tensor(sg, op, k)
        if t is not None and op.opcode == "SLICE" and t.shape[0] != len(x.shape):
            return f"{name} holds {t.shape[0]} entries for a {len(x.shape)}-D input"
    return ""


def _split(sg: Subgraph, op: Op) -> str:
    splits = op.options.get("NumSplits", 0)
    if splits != len(op.outputs):  # split.cc, split_v.cc: NumOutputs(node) == num_splits
        return f"NumSplits is {splits}, the op has {len(op.outputs)} outputs"
    x = _tensor(sg, op, 1 if op.opcode == "SPLIT" else 0)  # SPLIT reads (axis, input), SPLIT_V (input, ...)
    outs = [_tensor(sg, op, k, outputs=True) for k in range(len(op.outputs))]
    if x is None or any(t is None for t in outs):
        return "needs an input and its outputs"
    if sum(t.size for t in outs) != x.size:  # the pieces are the input, cut along one axis
        return f"outputs hold {sum(t.size for t in outs)} elements, the input {x.size} (inconsistent model)"
    if op.opcode == "SPLIT" and len({t.shape for t in outs}) > 1:  # split.cc: "Not an even split"
        return "outputs of different shapes: SPLIT cuts its input evenly"
    return ""


_RULES: dict[str, Rule] = {
    "CONV_2D": _conv, "DEPTHWISE_CONV_2D": _conv, "AVERAGE_POOL_2D": _pool, "MAX_POOL_2D": _pool,
    "FULLY_CONNECTED": _fully_connected, "ADD": _binary, "SUB": _binary, "MUL": _binary, "DIV": _binary,
    "CONCATENATION": _concatenation, "RESHAPE": _reshape, "SOFTMAX": _softmax, "LOGISTIC": _logistic,
    "PAD": _pad, "PADV2": _pad, "MIRROR_PAD": _pad, "TRANSPOSE": _transpose, "MEAN": _axes, "SUM": _axes,
    "REDUCE_MAX": _axes, "REDUCE_MIN": _axes, "REDUCE_PROD": _axes, "RESIZE_BILINEAR": _resize,
    "RESIZE_NEAREST_NEIGHBOR": _resize, "DEPTH_TO_SPACE": _space_depth, "SPACE_TO_DEPTH": _space_depth,
    "SLICE": _slice, "STRIDED_SLICE": _slice, "SPLIT": _split, "SPLIT_V": _split,
}
