"""Op tables: which kernel kind each TFLite builtin op is priced as, and the names the GPU delegate gives
the ops it links into a kernel.

Kinds are a closed set (`KernelKind`); `KINDS` fixes their order, which is the order of the one-hot
``kind_*`` feature columns every profile was trained on, so it never changes.
"""

from __future__ import annotations

from typing import Literal, get_args

KernelKind = Literal["conv", "dwconv", "convtrans", "fc", "pool", "reduce", "elementwise", "concat", "layout",
                     "resize", "softmax", "other", "transfer"]
KINDS: tuple[KernelKind, ...] = get_args(KernelKind)

ELEMENTWISE = frozenset({
    "ABS", "ADD", "ATAN2", "CAST", "CEIL", "COS", "DEQUANTIZE", "DIV", "ELU", "EQUAL", "EXP",
    "FLOOR", "FLOOR_DIV", "FLOOR_MOD", "GELU", "GREATER", "GREATER_EQUAL", "HARD_SWISH",
    "LEAKY_RELU", "LESS", "LESS_EQUAL", "LOG", "LOGICAL_AND", "LOGISTIC", "MAXIMUM", "MINIMUM", "MUL",
    "NEG", "NOT_EQUAL", "POW", "PRELU", "QUANTIZE", "RELU", "RELU6", "RELU_N1_TO_1", "RSQRT",
    "SELECT", "SELECT_V2", "SIGN", "SIN", "SQRT", "SQUARE", "SQUARED_DIFFERENCE", "SUB", "TANH",
    "STABLEHLO_CLAMP",
})
LAYOUT = frozenset({"RESHAPE", "TRANSPOSE", "SPLIT", "SPLIT_V", "SLICE", "STRIDED_SLICE", "PAD", "PADV2",
                    "MIRROR_PAD", "TILE", "DEPTH_TO_SPACE", "SPACE_TO_DEPTH", "GATHER", "SQUEEZE", "EXPAND_DIMS"})
_KIND: dict[str, KernelKind] = {
    "CONV_2D": "conv", "DEPTHWISE_CONV_2D": "dwconv", "TRANSPOSE_CONV": "convtrans",
    "FULLY_CONNECTED": "fc", "BATCH_MATMUL": "fc", "AVERAGE_POOL_2D": "pool", "MAX_POOL_2D": "pool",
    "MEAN": "reduce", "SUM": "reduce", "REDUCE_MAX": "reduce", "REDUCE_MIN": "reduce",
    "REDUCE_PROD": "reduce", "CONCATENATION": "concat", "PACK": "concat", "ADD_N": "elementwise",
    "RESIZE_BILINEAR": "resize", "RESIZE_NEAREST_NEIGHBOR": "resize", "SOFTMAX": "softmax",
    **dict.fromkeys(LAYOUT, "layout"),
    **dict.fromkeys(ELEMENTWISE, "elementwise"),
}
WINDOW_OPS = frozenset({"CONV_2D", "DEPTHWISE_CONV_2D", "AVERAGE_POOL_2D", "MAX_POOL_2D"})  # a PAD merges into these
NOOP_RESHAPES = frozenset({"RESHAPE", "SQUEEZE", "EXPAND_DIMS"})  # removed when only 1-sized dims move
RUNTIME_QUANTIZATION = frozenset({"QUANTIZE", "DEQUANTIZE"})  # removed: the delegate computes in float
# Ops that run other subgraphs, with the option fields that name them.
CONTROL_FLOW = {"WHILE": ("CondSubgraphIndex", "BodySubgraphIndex"),
                "IF": ("ThenSubgraphIndex", "ElseSubgraphIndex"),
                "CALL_ONCE": ("InitSubgraphIndex",), "CALL": ("Subgraph",)}
# ActivationFunctionType (schema.fbs) → the delegate's node name for a fused activation.
FUSED_ACTIVATION_NAMES = {1: "relu", 2: "relu", 3: "relu", 4: "tanh"}  # RELU, RELU_N1_TO_1, RELU6, TANH
_LINKED_NAMES = {"RELU": "relu", "RELU6": "relu", "RELU_N1_TO_1": "relu", "LOGISTIC": "sigmoid",
                 "HARD_SWISH": "hard_swish", "SQUARED_DIFFERENCE": "squared_diff"}


def kind_of(opcode: str) -> KernelKind:
    """The kernel kind ``opcode`` is priced as ("other" for ops outside the tables)."""
    return _KIND.get(opcode, "other")


def linked_name(opcode: str) -> str:
    """The delegate's name of an element-wise op linked into a kernel (``add``, ``relu`` ...)."""
    return _LINKED_NAMES.get(opcode, opcode.lower())


def fused_activation(options: dict) -> tuple[str, ...]:
    """A fused activation is a node of its own in the delegate's graph, always linked."""
    name = FUSED_ACTIVATION_NAMES.get(options.get("FusedActivationFunction", 0))
    return (name,) if name else ()


def conv_groups(in_channels: int, filter_depth: int) -> int:
    """How many groups a CONV_2D convolves in: its input channels over its filter's depth (1 where the
    filter is as deep as the input, or the shapes say nothing)."""
    return in_channels // filter_depth if 0 < filter_depth < in_channels else 1
