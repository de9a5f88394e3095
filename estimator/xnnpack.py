"""graph → kernels on a phone's CPU: TensorFlow Lite 2.10 with its default XNNPACK delegate.

What `tensorflow/lite/delegates/xnnpack/xnnpack_delegate.cc` (2.10) and XNNPACK's subgraph
optimiser do with a model, as far as latency is concerned:
- the delegate takes the ops it has a node for (`XNNPACK_OPS`: convolutions, fully connected, pooling,
  element-wise arithmetic and activations, concatenation, pad, reshape, resize, softmax, transpose ...;
  int8 graphs' quantized ops as QS8 nodes); everything else — and an op on a tensor type it does not
  take (int32, int64, bool) — runs on TensorFlow Lite's builtin kernels between the delegated
  partitions, with no copy (one memory space);
- a fused activation (``FusedActivationFunction``) is part of its op; a stand-alone RELU / RELU6 /
  RELU_N1_TO_1 whose input only it reads is fused into the node producing it (XNNPACK's clamp fusion);
- a constant, spatial-only PAD whose output only a convolution reads is fused into that convolution;
- constant sub-graphs (weights → DEQUANTIZE) are folded at load time;
- a grouped CONV_2D (its filter's depth a fraction of the input's channels, as Keras writes
  ``Conv2D(groups=...)``: SegFormer's Mix-FFN, RegNet, ResNeXt) is left to TensorFlow Lite, whose builtin
  CONV_2D runs any ``groups != 1`` with its reference kernel: plain loops, no SIMD. Timed alone on this
  host (`bench.op_profile`), that kernel takes 2.2 ns per window tap plus 0.6 ns per multiply-accumulate,
  30-50× what the delegate takes for the same convolution; the phones' whole-model times agree (RegNet-X
  runs at a third of ResNet's FLOPs per second, SegFormer's MiT at 2.8× the time per FLOP of other ViTs).

Each remaining op is one kernel: its FLOPs, bytes read and written, weight bytes and kind are the
features the CPU profiles learn from (`estimator.features` with the tensors' own element sizes).
"""

from __future__ import annotations

import math
from collections import Counter
from typing import TYPE_CHECKING

from .folding import fold_constants
from .fusion import read_counts
from .graph import Graph, Op, Subgraph, Tensor
from .kernel_types import Kernel, KernelGraph
from .kernels import CONTROL_FLOW, control_flow_bodies
from .ops import conv_groups, kind_of

if TYPE_CHECKING:
    import numpy as np

    from pytest_tflite_latency.estimator.profile import DeviceProfile

BACKEND = "xnnpack"
XNNPACK_OPS = frozenset({
    "ABS", "ADD", "AVERAGE_POOL_2D", "CEIL", "CONCATENATION", "CONV_2D", "DEPTH_TO_SPACE",
    "DEPTHWISE_CONV_2D", "DEQUANTIZE", "DIV", "ELU", "FLOOR", "FULLY_CONNECTED", "HARD_SWISH",
    "LEAKY_RELU", "LOGISTIC", "MAX_POOL_2D", "MAXIMUM", "MEAN", "MINIMUM", "MUL", "NEG", "PAD",
    "PRELU", "QUANTIZE", "RELU", "RELU6", "RELU_N1_TO_1", "RESHAPE", "RESIZE_BILINEAR", "ROUND",
    "SOFTMAX", "SPLIT", "SQRT", "SQUARE", "SQUARED_DIFFERENCE", "SUB", "TRANSPOSE", "TRANSPOSE_CONV",
    "CUSTOM:Convolution2DTransposeBias", "CUSTOM:MaxPoolingWithArgmax2D", "CUSTOM:MaxUnpooling2D",
})
_XNNPACK_DTYPES = frozenset({"float32", "float16", "int8", "uint8"})
_CLAMPS = frozenset({"RELU", "RELU6", "RELU_N1_TO_1"})
# nodes XNNPACK fuses a following clamp into (those with output_min / output_max)
_CLAMP_TARGETS = frozenset({"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "TRANSPOSE_CONV", "ADD",
                            "SUB", "MUL", "DIV", "AVERAGE_POOL_2D", "MAX_POOL_2D",
                            "CUSTOM:Convolution2DTransposeBias"})
_PAD_TARGETS = frozenset({"CONV_2D", "DEPTHWISE_CONV_2D"})
_HYBRID_OPS = frozenset({"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "TRANSPOSE_CONV"})


def xnnpack_support(sg: Subgraph, op: Op) -> str:
    """Why the XNNPACK delegate leaves ``op`` to TensorFlow Lite's builtin kernels ("" when it takes it)."""
    if op.opcode not in XNNPACK_OPS:
        return f"{op.opcode} has no XNNPACK node: TensorFlow Lite's builtin kernel runs it"
    for i in (*op.inputs, *op.outputs):
        if i >= 0 and not sg.tensors[i].is_const and sg.tensors[i].dtype not in _XNNPACK_DTYPES:
            return f"{op.opcode} on a {sg.tensors[i].dtype} tensor: TensorFlow Lite's builtin kernel runs it"
    if is_hybrid(sg, op):
        return (f"{op.opcode} with {sg.tensors[op.inputs[1]].dtype} weights on float32 inputs (dynamic-range "
                "quantization): TensorFlow Lite's builtin hybrid kernel runs it")
    if op.opcode == "MEAN" and not _spatial_mean(sg, op):
        return "MEAN over other than the two spatial axes: TensorFlow Lite's builtin kernel runs it"
    groups = op_groups(sg, op)
    if groups > 1:
        return f"CONV_2D in {groups} groups: TensorFlow Lite's reference convolution runs it"
    return ""


def is_hybrid(sg: Subgraph, op: Op) -> bool:
    """A dynamic-range quantized op: integer weights on float32 activations (TensorFlow's
    ``Optimize.DEFAULT`` without a representative dataset). XNNPACK 2.10 refuses such mixed types; TensorFlow
    Lite's builtin hybrid kernel quantizes the activations at run time instead."""
    if op.opcode not in _HYBRID_OPS or len(op.inputs) < 2 or min(op.inputs[:2]) < 0:
        return False
    x, w = sg.tensors[op.inputs[0]], sg.tensors[op.inputs[1]]
    return not x.is_const and x.dtype == "float32" and w.is_const and w.dtype in ("int8", "uint8")


def op_groups(sg: Subgraph, op: Op) -> int:
    """How many groups a CONV_2D convolves in (input channels over the filter's depth); 1 for other ops."""
    if op.opcode != "CONV_2D" or len(op.inputs) < 2 or min(op.inputs[:2]) < 0:
        return 1
    x, w = sg.tensors[op.inputs[0]].shape, sg.tensors[op.inputs[1]].shape
    return conv_groups(x[3], w[3]) if len(x) == 4 and len(w) == 4 else 1


def _spatial_mean(sg: Subgraph, op: Op) -> bool:
    src = sg.tensors[op.inputs[0]] if op.inputs and op.inputs[0] >= 0 else None
    axes = sg.tensors[op.inputs[1]] if len(op.inputs) > 1 and op.inputs[1] >= 0 else None
    return src is not None and len(src.shape) == 4 and axes is not None and axes.is_const and axes.size == 2


def group_xnnpack(graph: Graph) -> KernelGraph:
    """The kernels TensorFlow Lite 2.10 runs for the main subgraph on the CPU with XNNPACK."""
    sg, folded = fold_constants(graph.main)
    live = [op for op in sg.ops if op.index not in folded]
    result = KernelGraph([], list(graph.warnings))
    reads = read_counts(sg, live)
    producer: dict[int, Kernel] = {}
    pending_pad: dict[int, Op] = {}
    fallback: dict[str, int] = {}
    for op in live:
        why = xnnpack_support(sg, op)
        if why:
            fallback[op.opcode] = fallback.get(op.opcode, 0) + 1
        if not why and op.opcode in ("PAD", "PADV2") and _fusable_pad(sg, op, live, reads):
            pending_pad[op.outputs[0]] = op
            continue
        if not why and op.opcode in _CLAMPS and _fuse_clamp(sg, op, producer, reads):
            continue
        kernel = _kernel(sg, op, pending_pad, why)
        result.kernels.append(kernel)
        for o in op.outputs:
            producer[o] = kernel
    control_flow_bodies(graph, live, result)  # WHILE / IF / CALL_ONCE bodies, counted once as on the GPU
    if fallback:  # which ops, as the table's "on" column says CPU for them all
        which = ", ".join(f"{name} ×{n}" if n > 1 else name
                          for name, n in sorted(fallback.items(), key=lambda item: (-item[1], item[0])))
        result.warnings.append(f"{sum(fallback.values())} op(s) outside XNNPACK run on TensorFlow Lite's builtin "
                               f"CPU kernels ({which}; each one's reason: its layer's note in --format json or html)")
    hybrid = sum(is_hybrid(sg, op) for op in live) + sum(is_hybrid(body, op) for body in run_subgraphs(graph)[1:]
                                                         for op in body.ops)
    if hybrid:
        result.warnings.append(
            f"{hybrid} op(s) with int8 weights on float32 inputs (dynamic-range quantization) run TensorFlow "
            "Lite's builtin hybrid kernels, which no CPU profile measured: each is timed as its float32 "
            "XNNPACK kernel; a full-integer int8 model is what the -cpu-int8 profiles time")
    for i, k in enumerate(result.kernels):
        k.index = i
    return result


def _kernel(sg: Subgraph, op: Op, pending_pad: dict[int, Op], why: str) -> Kernel:
    ins = [i for i in op.inputs if i >= 0]
    pads = [pending_pad.pop(i) for i in ins if i in pending_pad]
    runtime = [sg.tensors[i] for i in ins if not sg.tensors[i].is_const and i not in {p.outputs[0] for p in pads}]
    runtime += [sg.tensors[p.inputs[0]] for p in pads]
    weights = [sg.tensors[i] for i in ins if sg.tensors[i].is_const]
    output = sg.tensors[op.outputs[0]] if op.outputs else None
    activation = op.options.get("FusedActivationFunction", 0)
    return Kernel(0, kind_of(op.opcode), [*pads, op], "CPU", runtime, weights, output, why,
                  linked=("relu",) if activation in (1, 2, 3) else ())


def _fusable_pad(sg: Subgraph, pad: Op, live: list[Op], reads: dict[int, int]) -> bool:
    """A constant zero PAD of height and width only, read by one convolution: XNNPACK fuses it."""
    if len(pad.inputs) < 2 or pad.inputs[1] < 0 or not pad.outputs or reads.get(pad.outputs[0], 0) != 1:
        return False
    paddings = sg.tensors[pad.inputs[1]]
    if not paddings.is_const or paddings.shape != (4, 2):
        return False
    reader = next((op for op in live if pad.outputs[0] in op.inputs), None)
    return reader is not None and reader.opcode in _PAD_TARGETS and reader.inputs[:1] == (pad.outputs[0],)


def _fuse_clamp(sg: Subgraph, op: Op, producer: dict[int, Kernel], reads: dict[int, int]) -> bool:
    """Fuse a stand-alone clamp into the kernel writing its input when only the clamp reads it."""
    src = op.inputs[0] if op.inputs else -1
    target = producer.get(src)
    main = target.main_op if target is not None else None
    if target is None or main is None or target.note or main.opcode not in _CLAMP_TARGETS \
            or reads.get(src, 0) != 1 or target.output is None or target.output.index != src \
            or target.linked or not op.outputs:
        return False
    target.ops.append(op)
    target.output = sg.tensors[op.outputs[0]]
    target.linked = ("relu",)
    producer[op.outputs[0]] = target
    return True


def run_subgraphs(graph: Graph) -> list[Subgraph]:
    """The main subgraph and those its control flow runs (WHILE / IF / CALL_ONCE bodies, nested), in the
    order reached: what an inference executes, not another signature's subgraphs."""
    order, seen = [graph.main], {0}
    for sg in order:  # grows while it is walked
        for op in sg.ops:
            for key in CONTROL_FLOW.get(op.opcode, ()):
                s = op.options.get(key)
                if isinstance(s, int) and 0 <= s < len(graph.subgraphs) and s not in seen:
                    seen.add(s)
                    order.append(graph.subgraphs[s])
    return order


def _heavy_inputs(graph: Graph) -> list[Tensor]:
    """The input tensor of each convolution and fully-connected layer an inference runs (loop bodies
    included): what its precision is read from."""
    return [sg.tensors[op.inputs[0]] for sg in run_subgraphs(graph) for op in sg.ops
            if op.opcode in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED") and op.inputs and op.inputs[0] >= 0]


def model_precision(graph: Graph) -> str:
    """``int8`` when the model's convolutions and fully-connected layers compute on quantized
    tensors (full-integer quantization), or, in a model without any, most of its activations are
    quantized; ``int16`` when those are int16 ones (16x8 quantization); else ``float32``."""
    sg = graph.main
    inputs = _heavy_inputs(graph)
    if not inputs:  # no convolution or fully-connected layer: what most of its activations are
        inputs = [t for t in sg.tensors if not t.is_const and t.dtype in ("float32", "int8", "uint8", "int16")]
    if not inputs or sum(t.quantized for t in inputs) * 2 <= len(inputs):
        return "float32"
    return "int16" if sum(t.dtype == "int16" for t in inputs) * 2 > len(inputs) else "int8"


def precision_mismatch(graph: Graph, profile: DeviceProfile) -> str:
    """Why an XNNPACK profile cannot time this graph ("" when it can): it measured models of one
    precision, and XNNPACK runs float32 and int8 graphs with different kernels."""
    measured = profile.device.model_precision
    if profile.backend != BACKEND:
        if model_precision(graph) == "int16":
            runs = ("the GPU delegate takes no int16 op, so TensorFlow Lite's builtin int16 kernels run all of it "
                    "on the CPU" if profile.backend == "gpu" else "TensorFlow Lite's builtin int16 kernels run it")
            return (f"16x8-quantized model (int16 activations, int8 weights) on {profile.name}: {runs}, and no "
                    "profile measured them; convert it full-integer int8 (TFLITE_BUILTINS_INT8) or float to "
                    "estimate it")
        return ""
    if not measured:
        return ""
    mine = model_precision(graph)
    if mine == measured:
        return ""
    profile_name = profile.name
    other = profile_name.replace("-cpu-int8", "-cpu") if measured == "int8" else \
        profile_name.replace("-cpu", "-cpu-int8", 1)
    if mine == "int16":
        return (f"16x8-quantized model (int16 activations, int8 weights) on {profile_name}: XNNPACK 2.10 has no "
                "int16 kernel, TensorFlow Lite's builtin ones run it, and no CPU profile measured them; the "
                "-cpu-int8 profiles time full-integer int8 models (TFLITE_BUILTINS_INT8)")
    if measured == "int8" and any(is_hybrid(sg, op) for sg in run_subgraphs(graph) for op in sg.ops):
        return (f"dynamic-range quantized model (int8 weights, float32 activations) on {profile_name}, which "
                "times full-integer int8 models: its layers compute in float32; estimate it on "
                f"{other}, or convert it with a representative dataset (full-integer int8) for {profile_name}")
    what = f"{mine} model"
    if mine == "float32" and any(t.is_const and t.dtype == "float16" for t in graph.main.tensors):
        what = "float16-quantized model (its float16 weights computed in float32)"
    return (f"{what} on {profile_name}, which times {measured} models: XNNPACK runs {mine} graphs "
            f"with other kernels; estimate it on {other}")


MAX_REQUANTIZATION_SCALE = 256.0  # XNNPACK's limit on input scale × filter scale / output scale (checked on LiteRT)
_REQUANTIZED = frozenset({"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "TRANSPOSE_CONV"})


def requantization_refusal(graph: Graph, profile: DeviceProfile) -> str:
    """Why XNNPACK cannot create an int8 model's runtime for an XNNPACK profile ("" when it can): a
    convolution or fully connected layer whose requantization scale (input scale × its coarsest filter
    scale / output scale) is 256 or more, which XNNPACK refuses, and LiteRT with it, at prepare. Called
    after `runtime_rules.check_runtime_accepts`, which refuses a scale that is not finite and positive."""
    if profile.backend != BACKEND or model_precision(graph) != "int8":
        return ""
    for sg in run_subgraphs(graph):
        for op in sg.ops:
            if op.opcode not in _REQUANTIZED or len(op.inputs) < 2 or not op.outputs or min(op.inputs[:2]) < 0:
                continue
            x, w = (sg.tensors[i] for i in op.inputs[:2]) if op.opcode != "TRANSPOSE_CONV" else \
                (sg.tensors[op.inputs[2]], sg.tensors[op.inputs[1]])
            y = sg.tensors[op.outputs[0]]
            if x.scale_zero is None or y.scale_zero is None or not w.scale_max:
                continue  # not requantized
            scale = x.scale_zero[0] * w.scale_max / y.scale_zero[0]
            if scale >= MAX_REQUANTIZATION_SCALE:
                return (f"operator {op.index} ({op.opcode}) requantizes by {scale:.3g} (input scale "
                        f"{x.scale_zero[0]:.3g} × filter scale {w.scale_max:.3g} / output scale "
                        f"{y.scale_zero[0]:.3g}), at least XNNPACK's {MAX_REQUANTIZATION_SCALE:g}: it cannot "
                        "create the model's runtime, and LiteRT refuses the model")
    return ""


def mixed_precision_warning(graph: Graph, profile: DeviceProfile) -> str:
    """Where an XNNPACK profile times a model most of whose ops are of its precision but some are not
    (a partly quantized model: float fallback ops in an int8 model, or the reverse): how many, and which."""
    measured = profile.device.model_precision
    if profile.backend != BACKEND or not measured:
        return ""
    other = Counter(op.opcode for sg in run_subgraphs(graph) for op in sg.ops
                    if op.opcode not in ("QUANTIZE", "DEQUANTIZE") and op.outputs and op.outputs[0] >= 0
                    and _of_other_precision(sg.tensors[op.outputs[0]], measured))
    if not other:
        return ""
    theirs = "float32" if measured == "int8" else "int8"
    which = ", ".join(f"{name} ×{n}" if n > 1 else name for name, n in other.most_common())
    return (f"{sum(other.values())} op(s) compute in {theirs} ({which}; a partly quantized model): {profile.name} "
            f"times {measured} ops, so theirs are priced from another precision's kernels")


def _of_other_precision(t: Tensor, measured: str) -> bool:
    if measured == "int8":
        return t.dtype == "float32"
    return t.quantized and t.dtype in ("int8", "uint8")


def untrained_attention_warning(graph: Graph, profile: DeviceProfile) -> str:
    """Where an XNNPACK profile trained on CNNs only (every int8 profile, and the float32 ones of phones
    that timed no ViT) times a model with attention (BATCH_MATMUL) or a fully connected layer of several
    rows (a transformer's, a sequence model's): its error there is unmeasured."""
    if profile.backend != BACKEND or "vit" in (profile.provenance or {}).get("heldout", {}):
        return ""
    matmuls = sum(op.opcode == "BATCH_MATMUL" for op in graph.main.ops)
    rows = sum(op.opcode == "FULLY_CONNECTED" and _rows(graph.main, op) > 1 for op in graph.main.ops)
    if not matmuls and not rows:
        return ""
    what = ", ".join(part for part in (f"{matmuls} BATCH_MATMUL (attention)" if matmuls else "",
                                        f"{rows} FULLY_CONNECTED on more than one row" if rows else "") if part)
    return (f"{what}: {profile.name} trained on CNNs only, whose fully connected layers are one-row "
            "classifiers, so its error on this model is unmeasured (the float32 profiles of phones that timed "
            "Vision Transformers trained on them; `tflite-latency devices -v` says which)")


def _rows(sg: Subgraph, op: Op) -> int:
    """How many rows a fully connected layer multiplies by its weights (its output's size over its width)."""
    if not op.outputs or op.outputs[0] < 0:
        return 1
    shape = sg.tensors[op.outputs[0]].shape
    return math.prod(shape[:-1]) if shape else 1


def cpu_fallback_profile(profile: DeviceProfile, graph: Graph,
                         kernels: list[Kernel]) -> tuple[DeviceProfile, np.ndarray] | None:
    """For a GPU profile whose model leaves kernels on the CPU: the same phone's bundled CPU profile of the
    model's precision (``pixel4-gpu`` → ``pixel4-cpu``, or ``pixel4-cpu-int8`` for a full-integer model,
    whose CPU kernels compute in int8) and every kernel's features as it sees them; else None."""
    from pytest_tflite_latency.estimator.features import featurize
    from pytest_tflite_latency.estimator.profile import device_names, load_profile

    if profile.backend != "gpu" or not profile.name.endswith("-gpu") or not any(k.runs_on == "CPU" for k in kernels):
        return None
    name = profile.name.removesuffix("-gpu") + "-cpu" + ("-int8" if model_precision(graph) == "int8" else "")
    if name not in device_names():
        return None
    return load_profile(name), featurize(kernels, BACKEND)
