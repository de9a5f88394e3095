"""kernels → features: one numeric row per kernel, meaningful across network families.

Work (FLOPs), memory traffic (activation bytes read and written, weight bytes), normalised
shapes (N·H·W·C), window parameters, the kernel kind, and whether the GPU delegate's Winograd rule
selects the kernel. On the GPU backend activations and
weights count 2 bytes per element (the delegate computes in fp16 by default); on the CPU, the
tensor's own element size.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .graph import Tensor
from .kernels import KINDS, Kernel
from .ops import conv_groups

FEATURES = (
    "flops", "bytes_in", "bytes_out", "bytes_weights", "in_h", "in_w", "in_c", "out_h", "out_w", "out_c",
    "in_slices", "out_slices", "work_items", "flops_per_item", "flops_per_byte", "kernel_h", "kernel_w",
    "stride", "dilation", "groups", "n_ops", "n_inputs", "linked_add", "linked_mul", "linked_activation",
    "linked_other", *(f"kind_{k}" for k in KINDS), "winograd",
)
# Columns added since profiles first carried their feature names, each derived from the columns
# before it: a profile trained without them lists a prefix of FEATURES (its trees read only those
# columns), and stored rows of that width are completed by `current_rows`.
ADDED_FEATURES = ("winograd",)
# What a profile's correction trees see: the shape of the work (slices, work items, FLOPs per item
# and per byte, window, linked ops, kind), none of its absolute size. Size reaches an estimate through
# the roofline base, so the trees cannot learn one family's sizes as its signature: on the shared real
# CNNs, families left out, this took pixel4-gpu from 71% to 77% of models within ±10%
# (python -m pytest_tflite_latency.bench.evaluate).
TREE_FEATURES = (
    "in_slices", "out_slices", "work_items", "flops_per_item", "flops_per_byte", "kernel_h", "kernel_w",
    "stride", "dilation", "groups", "linked_add", "linked_mul", "linked_activation", "linked_other",
    *(f"kind_{k}" for k in KINDS), "winograd",
)
SLICE = 4  # GPU tensors are stored in slices of four channels (the delegate's PHWC4 / texture layout)
# FLOPs per element of the larger of input and output, for kinds without a multiply-accumulate window.
# Counting conventions of this estimator (the roofline base the profiles' trees correct, so changing one
# changes every bundled profile's fit): a reduction reads each input element once into one add or compare;
# softmax does max, subtract, exp, sum and divide per element; a bilinear resize weighs four neighbours.
# A multiply-accumulate (convolutions, fully connected) is 2 FLOPs; a pooling window 1 per element.
FLOPS_PER_ELEMENT = {"reduce": 1.0, "softmax": 5.0, "resize": 4.0}
FLOPS_PER_MAC = 2.0
# Element-wise ops whose per-element work is a function evaluation rather than one arithmetic op (every
# other element-wise op counts 1 per output element): GELU's exact form x·(1 + erf(x/√2))/2, with erf
# evaluated as a rational polynomial, is about ten multiply-adds. Only transformers use it, so no profile
# trained before it existed saw a GELU.
FLOPS_PER_ELEMENT_OP = {"GELU": 10.0}
GPU_BYTES_PER_ELEMENT = 2.0  # the delegate stores float and (dequantized) int8 tensors in fp16 by default
_GPU_FP16_DTYPES = frozenset({"float32", "float16", "int8", "uint8"})
_ACTIVATIONS = frozenset({"relu", "sigmoid", "hard_swish", "tanh", "elu", "prelu", "leaky_relu", "gelu"})
_COL = {name: i for i, name in enumerate(FEATURES)}
# The GPU delegate's Winograd F(4×4, 3×3) selection (TFLite's IsSuitableForWinograd4x4To6x6 and
# IsRecommendedForWinograd4x4To6x6): a plain 3×3 CONV_2D, stride and dilation 1, at least 16 slices of
# four channels in and out, and at least 32 output tiles of 4×4. On the shared measurements it names
# every `convolution_winograd_4x4_6x6` kernel of the Mali, PowerVR and Apple phones exactly (3,203 rows,
# no mismatch); the Adreno phones never ran one. Whether a GPU takes the path is the profile's
# (`Roofline.winograd`), not this flag's.
WINOGRAD_MIN_SLICES = 16
WINOGRAD_MIN_TILES = 32
WINOGRAD_TILE = 4  # output tile side; the transformed tile is (4 + 3 − 1)² = 36 values
WINOGRAD_POINTS = 36
# FLOPs per tile and channel of the two transforms (6×6 input tile B^T·d·B, 36 → 4×4 output A^T·m·A,
# dense matrix products) and the kernels the delegate runs for one such convolution (input transform,
# batched 36-point matrix multiply, output transform)
WINOGRAD_INPUT_FLOPS = 2.0 * 2 * 6 * 6 * 6
WINOGRAD_OUTPUT_FLOPS = 2.0 * (4 * 6 * 6 + 4 * 6 * 4)
WINOGRAD_KERNELS = 3
# A CPU base (`estimator.profile.roofline`) whose ``relative_flop_cost`` has this key prices grouped
# convolutions, which TensorFlow Lite's reference kernel runs, at that cost per FLOP-equivalent of
# `reference_conv_work`.
REFERENCE_CONV = "conv_reference"
# The reference convolution's cost of one window tap in FLOPs: 2.2 ns per tap against 0.3 ns per FLOP,
# fitted on 11 grouped convolutions (1 to 32 channels per group) timed alone on this host's builtin
# kernels (``python -m pytest_tflite_latency.bench.op_profile``; within ±20% of each).
REFERENCE_TAP_FLOPS = 7.2


@dataclass(frozen=True)
class KernelParams:
    """Human-facing parameters of a kernel for the layer table."""

    kernel: tuple[int, int] | None
    stride: int | None
    filters: int | None
    groups: int | None


def bhwc(shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """Any shape as (N, H, W, C): 4-D as is, lower ranks padded, higher ranks folded into H."""
    if not shape:
        return (1, 1, 1, 1)
    if len(shape) == 1:
        return (1, 1, 1, shape[0])
    if len(shape) == 2:
        return (shape[0], 1, 1, shape[1])
    if len(shape) == 3:
        return (shape[0], 1, shape[1], shape[2])
    mid = math.prod(shape[1:-2]) if len(shape) > 4 else shape[1]
    return (shape[0], mid, shape[-2], shape[-1])


def params(k: Kernel) -> KernelParams:
    main = k.main_op
    o = main.options if main else {}
    kernel = None
    if main and main.opcode in ("CONV_2D", "DEPTHWISE_CONV_2D", "TRANSPOSE_CONV") and k.weights:
        # the 4-D filter: TRANSPOSE_CONV's first constant is its output shape
        w = next((t.shape for t in k.weights if len(t.shape) == 4), ())
        kernel = (w[1], w[2]) if w else None
    elif "FilterHeight" in o:
        kernel = (o["FilterHeight"], o["FilterWidth"])
    stride = o.get("StrideH")
    filters = bhwc(k.output.shape)[3] if k.output is not None and k.kind in (
        "conv", "dwconv", "convtrans", "fc") else None
    groups = None
    if k.kind == "dwconv" and k.inputs:
        groups = bhwc(k.inputs[0].shape)[3]
    elif k.kind == "conv" and k.inputs and k.weights and len(k.weights[0].shape) == 4:
        groups = conv_groups(bhwc(k.inputs[0].shape)[3], k.weights[0].shape[3])
    return KernelParams(kernel, stride, filters, groups)


def _nbytes(t: Tensor, backend: str) -> float:
    if backend == "gpu" and t.dtype in _GPU_FP16_DTYPES:
        return GPU_BYTES_PER_ELEMENT * t.size
    return float(t.nbytes)


def _weight_bytes(t: Tensor, k: Kernel, backend: str) -> float:
    """A weight's bytes as the kernel reads them. On the CPU, int8 weights of a float32 kernel (dynamic-range
    quantization) count as float32 ones: no profile measured TensorFlow Lite's hybrid kernels, and the
    estimate times each as its float32 kernel, as its warning says."""
    if backend != "gpu" and t.dtype in ("int8", "uint8") and k.inputs and k.inputs[0].dtype == "float32":
        return 4.0 * t.size
    return _nbytes(t, backend)


def _flops(k: Kernel, p: KernelParams) -> float:
    out = float(math.prod(k.output.shape)) if k.output is not None else 0.0
    inp = float(math.prod(k.inputs[0].shape)) if k.inputs else out
    kh, kw = p.kernel or (1, 1)
    if k.kind == "conv":
        cin = bhwc(k.inputs[0].shape)[3] if k.inputs else 1
        base = FLOPS_PER_MAC * out * kh * kw * cin / (p.groups or 1)
    elif k.kind == "dwconv":
        base = FLOPS_PER_MAC * out * kh * kw
    elif k.kind == "convtrans":
        base = FLOPS_PER_MAC * inp * kh * kw * bhwc(k.output.shape)[3]
    elif k.kind == "fc":
        base = FLOPS_PER_MAC * out * _reduced_length(k)
    elif k.kind == "pool":
        base = out * kh * kw
    elif k.kind in FLOPS_PER_ELEMENT:
        base = FLOPS_PER_ELEMENT[k.kind] * max(inp, out)
    elif k.kind in ("concat", "layout", "transfer"):
        base = 0.0
    else:
        base = FLOPS_PER_ELEMENT_OP.get(k.main_op.opcode if k.main_op else "", 1.0) * out
    return base + len(k.linked) * out


def _reduced_length(k: Kernel) -> int:
    """The length of the dot product behind each output element of a fully connected layer or batched
    matrix multiplication: the input's last axis, its second-to-last for BATCH_MATMUL with ``AdjX``."""
    if not k.inputs or not k.inputs[0].shape:
        return 1
    shape = k.inputs[0].shape
    main = k.main_op
    if main is not None and main.opcode == "BATCH_MATMUL" and main.options.get("AdjX") and len(shape) >= 2:
        return shape[-2]
    return shape[-1]


def featurize(kernels: list[Kernel], backend: str) -> np.ndarray:
    """Feature matrix (len(kernels) × len(FEATURES)), float64."""
    X = np.zeros((len(kernels), len(FEATURES)))
    for r, k in enumerate(kernels):
        p = params(k)
        row = X[r]
        row[_COL["flops"]] = _flops(k, p)
        row[_COL["bytes_in"]] = sum(_nbytes(t, backend) for t in k.inputs)
        row[_COL["bytes_out"]] = _nbytes(k.output, backend) if k.output is not None else 0.0
        row[_COL["bytes_weights"]] = sum(_weight_bytes(t, k, backend) for t in k.weights)
        _, row[_COL["in_h"]], row[_COL["in_w"]], row[_COL["in_c"]] = \
            bhwc(k.inputs[0].shape) if k.inputs else (1, 1, 1, 1)
        _, row[_COL["out_h"]], row[_COL["out_w"]], row[_COL["out_c"]] = \
            bhwc(k.output.shape) if k.output is not None else (1, 1, 1, 1)
        row[_COL["kernel_h"]], row[_COL["kernel_w"]] = p.kernel or (0, 0)
        row[_COL["stride"]] = p.stride or 0
        main = k.main_op.options if k.ops else {}
        row[_COL["dilation"]] = main.get("DilationHFactor", 1) or 1
        row[_COL["groups"]] = p.groups or 0
        row[_COL["n_ops"]] = len(k.ops)
        row[_COL["n_inputs"]] = len(k.inputs)
        row[_COL["in_slices"]] = math.ceil(row[_COL["in_c"]] / SLICE)
        row[_COL["out_slices"]] = math.ceil(row[_COL["out_c"]] / SLICE)
        row[_COL["work_items"]] = row[_COL["out_h"]] * row[_COL["out_w"]] * row[_COL["out_slices"]]
        row[_COL["flops_per_item"]] = row[_COL["flops"]] / max(row[_COL["work_items"]], 1.0)
        moved = row[_COL["bytes_in"]] + row[_COL["bytes_out"]] + row[_COL["bytes_weights"]]
        row[_COL["flops_per_byte"]] = row[_COL["flops"]] / max(moved, 1.0)
        for name in k.linked:
            column = f"linked_{name}" if name in ("add", "mul") else (
                "linked_activation" if name in _ACTIVATIONS else "linked_other")
            row[_COL[column]] += 1
        row[_COL[f"kind_{k.kind}"]] = 1.0
    X[:, _COL["winograd"]] = winograd_rule(X)
    return X


def winograd_rule(X: np.ndarray, features: tuple[str, ...] = FEATURES) -> np.ndarray:
    """1.0 where the GPU delegate's Winograd 4×4→6×6 rule holds for the kernel, else 0.0 (from the
    shape columns alone, so rows of any `FEATURES` width that holds them can be judged)."""
    c = {f: X[:, i] for i, f in enumerate(features)}
    tiles = np.ceil(c["out_h"] / WINOGRAD_TILE) * np.ceil(c["out_w"] / WINOGRAD_TILE)
    holds = ((c["kind_conv"] > 0) & (c["kernel_h"] == 3) & (c["kernel_w"] == 3) & (c["stride"] == 1)
             & (c["dilation"] == 1) & (c["groups"] == 1) & (c["in_slices"] >= WINOGRAD_MIN_SLICES)
             & (c["out_slices"] >= WINOGRAD_MIN_SLICES) & (tiles >= WINOGRAD_MIN_TILES))
    return holds.astype(float)


def winograd_work(X: np.ndarray, features: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """(FLOPs, bytes moved) of each row run as the delegate's Winograd convolution: 36 multiply-adds
    per 4×4 output tile and channel pair (144 direct), both transforms, the filters in their 6×6
    form, and the transformed input and output written and read once each (GPU element size)."""
    c = {f: X[:, i] for i, f in enumerate(features)}
    linked = sum(c[f] for f in ("linked_add", "linked_mul", "linked_activation", "linked_other"))
    per_output = FLOPS_PER_MAC * 9 * c["in_c"] + linked
    outputs = c["flops"] / np.maximum(per_output, 1.0)  # N·H·W·C of the output
    tiles = outputs / np.maximum(c["out_h"] * c["out_w"] * c["out_c"], 1.0) \
        * np.ceil(c["out_h"] / WINOGRAD_TILE) * np.ceil(c["out_w"] / WINOGRAD_TILE)
    flops = tiles * (FLOPS_PER_MAC * WINOGRAD_POINTS * c["in_c"] * c["out_c"] + WINOGRAD_INPUT_FLOPS * c["in_c"]
                     + WINOGRAD_OUTPUT_FLOPS * c["out_c"]) + linked * outputs
    transformed = 2 * GPU_BYTES_PER_ELEMENT * WINOGRAD_POINTS * tiles * (c["in_c"] + c["out_c"])
    moved = c["bytes_in"] + c["bytes_out"] + c["bytes_weights"] * WINOGRAD_POINTS / 9 + transformed
    return flops, moved


def reference_conv_work(X: np.ndarray, features: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """(which rows are grouped convolutions, their work in FLOP-equivalents on TensorFlow Lite's reference
    convolution): FLOPs plus `REFERENCE_TAP_FLOPS` per window tap (output element × kernel height × width)."""
    col = {f: i for i, f in enumerate(features)}
    rows = (X[:, col["kind_conv"]] > 0) & (X[:, col["groups"]] > 1)
    taps = X[:, col["out_h"]] * X[:, col["out_w"]] * X[:, col["out_c"]] * X[:, col["kernel_h"]] * X[:, col["kernel_w"]]
    return rows, np.where(rows, X[:, col["flops"]] + REFERENCE_TAP_FLOPS * taps, 0.0)


def current_rows(rows: object) -> np.ndarray:
    """Feature rows of this version's width: rows stored by an older version (a prefix of `FEATURES`,
    before `ADDED_FEATURES`) get the added columns, derived from theirs; ValueError for any other width."""
    X = np.asarray(rows, dtype=float)
    if X.size == 0:
        return X.reshape(0, len(FEATURES))
    if X.ndim == 2 and X.shape[1] == len(FEATURES):
        return X
    old = len(FEATURES) - len(ADDED_FEATURES)
    if X.ndim != 2 or X.shape[1] != old:
        raise ValueError(f"feature rows of shape {X.shape}, not (n, {old}) or (n, {len(FEATURES)})")
    out = np.zeros((X.shape[0], len(FEATURES)))
    out[:, :old] = X
    out[:, _COL["winograd"]] = winograd_rule(X, FEATURES[:old])
    return out


def kinds_of(X: np.ndarray) -> list[str]:
    """The kernel kind of each feature row (from its one-hot columns)."""
    first = _COL[f"kind_{KINDS[0]}"]
    return [KINDS[i] for i in np.argmax(X[:, first:first + len(KINDS)], axis=1)]
