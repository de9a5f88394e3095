"""kernels → features: one numeric row per kernel, meaningful across network families.

Work (FLOPs), memory traffic (activation bytes read and written, weight bytes), normalised
shapes (N·H·W·C), window parameters and the kernel kind. On the GPU backend activations and
weights count 2 bytes per element (the delegate computes in fp16 by default); on the CPU, the
tensor's own element size.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .graph import Tensor
from .kernels import KINDS, Kernel

FEATURES = (
    "flops", "bytes_in", "bytes_out", "bytes_weights", "in_h", "in_w", "in_c", "out_h", "out_w", "out_c",
    "in_slices", "out_slices", "work_items", "flops_per_item", "flops_per_byte", "kernel_h", "kernel_w",
    "stride", "dilation", "groups", "n_ops", "n_inputs", "linked_add", "linked_mul", "linked_activation",
    "linked_other", *(f"kind_{k}" for k in KINDS),
)
# What a profile's correction trees see: the shape of the work (slices, work items, FLOPs per item
# and per byte, window, linked ops, kind), none of its absolute size. Size reaches an estimate through
# the roofline base, so the trees cannot learn one family's sizes as its signature: on the shared real
# CNNs, families left out, this took pixel4-gpu from 71% to 77% of models within ±10%
# (python -m pytest_tflite_latency.bench.evaluate).
TREE_FEATURES = (
    "in_slices", "out_slices", "work_items", "flops_per_item", "flops_per_byte", "kernel_h", "kernel_w",
    "stride", "dilation", "groups", "linked_add", "linked_mul", "linked_activation", "linked_other",
    *(f"kind_{k}" for k in KINDS),
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
        w = k.weights[0].shape
        kernel = (w[1], w[2]) if len(w) == 4 else None
    elif "FilterHeight" in o:
        kernel = (o["FilterHeight"], o["FilterWidth"])
    stride = o.get("StrideH")
    filters = bhwc(k.output.shape)[3] if k.output is not None and k.kind in (
        "conv", "dwconv", "convtrans", "fc") else None
    groups = None
    if k.kind == "dwconv" and k.inputs:
        groups = bhwc(k.inputs[0].shape)[3]
    elif k.kind == "conv" and k.inputs and k.weights and len(k.weights[0].shape) == 4:
        groups = max(1, bhwc(k.inputs[0].shape)[3] // max(1, k.weights[0].shape[3]))
    return KernelParams(kernel, stride, filters, groups)


def _nbytes(t: Tensor, backend: str) -> float:
    if backend == "gpu" and t.dtype in _GPU_FP16_DTYPES:
        return GPU_BYTES_PER_ELEMENT * t.size
    return float(t.nbytes)


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
        row[_COL["bytes_weights"]] = sum(_nbytes(t, backend) for t in k.weights)
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
    return X


def kinds_of(X: np.ndarray) -> list[str]:
    """The kernel kind of each feature row (from its one-hot columns)."""
    first = _COL[f"kind_{KINDS[0]}"]
    return [KINDS[i] for i in np.argmax(X[:, first:first + len(KINDS)], axis=1)]
