"""The TFLite GPU delegate's support rules: which ops, types, ranks and options it accepts
(`tools/versioning/gpu_compatibility.cc`). What it refuses stays on the CPU."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .graph import Op, Subgraph
from .ops import ELEMENTWISE

GPU_OPS = frozenset(ELEMENTWISE | {
    "ADD_N", "AVERAGE_POOL_2D", "BATCH_MATMUL", "CONCATENATION", "CONV_2D", "CUMSUM", "DENSIFY",
    "DEPTHWISE_CONV_2D", "DEPTH_TO_SPACE", "DYNAMIC_UPDATE_SLICE", "EMBEDDING_LOOKUP",
    "FULLY_CONNECTED", "GATHER", "LSTM", "MAX_POOL_2D", "MEAN", "MIRROR_PAD", "ONE_HOT", "PACK", "PAD",
    "PADV2", "REDUCE_MAX", "REDUCE_MIN", "REDUCE_PROD", "RESHAPE", "RESIZE_BILINEAR",
    "RESIZE_NEAREST_NEIGHBOR", "SLICE", "SOFTMAX", "SPACE_TO_DEPTH", "SPLIT", "SPLIT_V",
    "STRIDED_SLICE", "SUM", "TILE", "TRANSPOSE", "TRANSPOSE_CONV",
    "CUSTOM:Convolution2DTransposeBias", "CUSTOM:MaxPoolingWithArgmax2D", "CUSTOM:MaxUnpooling2D",
    "CUSTOM:Resampler",
})
GPU_DTYPES = frozenset({"float32", "float16", "int8", "uint8", "bool"})
ANY_DTYPE_OPS = frozenset({"CAST", "GATHER", "EMBEDDING_LOOKUP"})  # their runtime tensors may be of any type
MAX_GPU_RANK = 4  # the delegate's tensors are BHWC; only RESHAPE may read or write more dimensions
SIGN_BIT = 5  # ActivationFunctionType.SIGN_BIT: the only fused activation the delegate refuses


def gpu_support(sg: Subgraph, op: Op) -> str:
    """Why the GPU delegate refuses ``op`` ("" when it accepts it)."""
    if op.opcode not in GPU_OPS:
        return f"{op.opcode} is not supported by the GPU delegate"
    runtime = [sg.tensors[i] for i in (*op.inputs, *op.outputs) if i >= 0 and not sg.tensors[i].is_const]
    for t in runtime:
        if t.dtype not in GPU_DTYPES and op.opcode not in ANY_DTYPE_OPS:
            return f"{op.opcode} on a {t.dtype} tensor stays on the CPU"
        if len(t.shape) > MAX_GPU_RANK and op.opcode != "RESHAPE":
            return f"{op.opcode} on a {len(t.shape)}-D tensor stays on the CPU"
    check = _CHECKS.get(op.opcode)
    return check(sg, op) if check else ""


def _check_binary(sg: Subgraph, op: Op) -> str:
    ins = [i for i in op.inputs if i >= 0]
    if len(ins) != 2:
        return f"{op.opcode} needs two inputs"
    a, b = (sg.tensors[i].shape for i in ins)
    try:
        np.broadcast_shapes(a, b)
    except ValueError:
        return f"{op.opcode} cannot broadcast {list(a)} with {list(b)}"
    if op.opcode == "MUL" and len(a) == len(b) and any(x < y for x, y in zip(a, b, strict=True)) \
            and any(y < x for x, y in zip(a, b, strict=True)):
        return "MUL where neither input covers the other is not supported by the GPU delegate"
    return _check_activation(sg, op)


def _check_activation(sg: Subgraph, op: Op) -> str:
    if op.options.get("FusedActivationFunction") == SIGN_BIT:
        return f"{op.opcode} with a SIGN_BIT activation is not supported by the GPU delegate"
    return ""


def _check_fc(sg: Subgraph, op: Op) -> str:
    if op.options.get("WeightsFormat", 0) != 0:
        return "FULLY_CONNECTED with shuffled weights is not supported by the GPU delegate"
    if not op.inputs or op.inputs[0] < 0 or sg.tensors[op.inputs[0]].is_const:
        return "FULLY_CONNECTED needs a runtime input on the GPU"
    return _check_activation(sg, op)


def _check_axes_const(sg: Subgraph, op: Op) -> str:
    if len(op.inputs) < 2 or op.inputs[1] < 0 or not sg.tensors[op.inputs[1]].is_const:
        return f"{op.opcode} with runtime axes is not supported by the GPU delegate"
    return ""


def _check_softmax(sg: Subgraph, op: Op) -> str:
    return "" if op.options.get("Beta", 1.0) == 1.0 else "SOFTMAX with beta != 1 stays on the CPU"


def _check_slice(sg: Subgraph, op: Op) -> str:
    if op.opcode == "STRIDED_SLICE" and any(op.options.get(m, 0) for m in
                                            ("EllipsisMask", "NewAxisMask", "ShrinkAxisMask")):
        return "STRIDED_SLICE with ellipsis/new-axis/shrink masks stays on the CPU"
    if not op.inputs or op.inputs[0] < 0 or len(sg.tensors[op.inputs[0]].shape) not in (3, 4):
        return f"{op.opcode} supports only 3-D or 4-D tensors on the GPU"
    return ""


_CHECKS: dict[str, Callable[[Subgraph, Op], str]] = {
    "ADD": _check_binary, "MUL": _check_binary, "SUB": _check_activation, "DIV": _check_activation,
    "CONV_2D": _check_activation, "DEPTHWISE_CONV_2D": _check_activation,
    "FULLY_CONNECTED": _check_fc, "MEAN": _check_axes_const, "SUM": _check_axes_const,
    "REDUCE_MAX": _check_axes_const, "REDUCE_MIN": _check_axes_const,
    "REDUCE_PROD": _check_axes_const, "SOFTMAX": _check_softmax, "SLICE": _check_slice,
    "STRIDED_SLICE": _check_slice,
}
