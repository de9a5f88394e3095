"""The estimator's one entry point: file → graph → kernels → features → prediction → result."""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from .errors import ModelError
from .features import featurize, params
from .graph import Graph, load_graph, open_input_size
from .kernels import group_kernels
from .predict import KernelTimes, learned_side, predict
from .profile import DEFAULT_DEVICE, DeviceProfile, load_profile
from .runtime_rules import check_runtime_accepts, flex_ops_warning
from .wording import counted
from .xnnpack import (
    cpu_fallback_profile,
    mixed_precision_warning,
    model_precision,
    precision_mismatch,
    requantization_refusal,
    untrained_attention_warning,
)

# No model a phone runs in CI takes an hour per inference: a figure beyond it comes from absurd (if legal)
# work or a broken profile, and must not be reported as a latency.
MAX_PLAUSIBLE_MS = 3_600_000.0


@dataclass(frozen=True)
class LayerEstimate:
    """One kernel of the model as the device runs it, with its estimated latency."""

    index: int
    ops: tuple[str, ...]
    kind: str
    runs_on: str
    input_shapes: tuple[tuple[int, ...], ...]
    output_shape: tuple[int, ...] | None
    kernel: tuple[int, int] | None
    stride: int | None
    filters: int | None
    groups: int | None
    ms: float  # all its runs together
    op_indices: tuple[int, ...] = ()
    note: str = ""
    runs: int = 1  # times per inference (a counted WHILE loop's body: once per iteration)


@dataclass(frozen=True)
class Estimate:
    """Estimated latency of a whole model on one device."""

    model: str
    device: str
    device_title: str
    total_ms: float
    interval_ms: tuple[float, float]
    layers: tuple[LayerEstimate, ...]
    warnings: tuple[str, ...] = field(default_factory=tuple)
    gpu_partitions: int = 0
    overhead_ms: float = 0.0  # per-inference cost outside the listed kernels (in total_ms)
    interval_coverage: float | None = None  # share of held-out models the profile's interval held
    backend: str = ""  # what the profile measured: "gpu" (the GPU delegate), "xnnpack" or "cpu"; "" unknown

    def to_dict(self) -> dict:
        d = asdict(self)
        d["interval_ms"] = list(self.interval_ms)
        return d

    def top_layers(self, n: int = 3) -> list[LayerEstimate]:
        return sorted(self.layers, key=lambda layer: layer.ms, reverse=True)[:n]


def estimate(model: str | os.PathLike | bytes, device: str | Path | DeviceProfile = DEFAULT_DEVICE,
             name: str | None = None, precision: str | None = None) -> Estimate:
    """Estimate ``model`` (a `.tflite` path or its bytes) on ``device`` (a bundled profile name,
    a profile JSON path, or a loaded `DeviceProfile`); ``precision`` ("fp16"/"fp32"): what the app's
    GPU delegate computes in, where it differs from what the profile measured (a warning says so)."""
    profile = load_profile(device)
    assumed = profile.precision_warnings(precision)
    graph = load_graph(model, name)
    mismatch = precision_mismatch(graph, profile) or open_input_size(graph)
    if mismatch:  # another precision's or another size's figure would be silently wrong
        raise ModelError(graph.source, mismatch)
    try:
        check_runtime_accepts(graph)
        refused = requantization_refusal(graph, profile)
        if refused:
            raise ModelError(graph.source, refused)
        kg = group_kernels(graph, profile.backend, profile.max_partitions)
        X = featurize(kg.kernels, profile.backend)
    except (IndexError, KeyError, ValueError, ZeroDivisionError, OverflowError) as exc:
        # A file can be well-formed FlatBuffers yet describe an impossible graph.
        raise ModelError(graph.source, f"inconsistent model graph ({type(exc).__name__}: {exc})") from None
    runs_on = np.array([k.runs_on for k in kg.kernels])
    cpu = cpu_fallback_profile(profile, graph, kg.kernels)  # the phone's learned CPU profile times GPU fallback
    times = _checked(graph.source, kg.kernels, predict(X, runs_on, profile, cpu,
                                                        np.array([k.runs for k in kg.kernels])))
    layers = []
    for k, ms in zip(kg.kernels, times.ms, strict=True):
        p = params(k)
        layers.append(LayerEstimate(
            k.index, k.op_names, k.kind, k.runs_on, tuple(t.shape for t in k.inputs),
            k.output.shape if k.output is not None else None, p.kernel, p.stride, p.filters,
            p.groups, float(ms), tuple(o.index for o in k.ops), k.note, k.runs))
    notes = [w for w in (mixed_precision_warning(graph, profile), untrained_attention_warning(graph, profile),
                             flex_ops_warning(graph)) if w]
    on_learned_side = bool((runs_on == learned_side(profile.backend)).any())
    warnings = (*kg.warnings, *times.warnings, *precision_warnings(graph, profile, on_learned_side), *assumed,
                *notes)
    if cpu is not None:
        warnings += (f"kernels on the CPU timed by {cpu[0].name}, the phone's CPU profile",)
    elif profile.backend == "gpu" and "CPU" in runs_on:
        warnings += (f"kernels on the CPU priced by {profile.name}'s untrained CPU prior (a roofline guess): "
                     "no CPU profile of this phone is bundled",)
    return Estimate(graph.source, profile.name, profile.title, times.total_ms, times.interval_ms,
                    tuple(layers), warnings, kg.partitions, times.overhead_ms, profile.interval.coverage,
                    profile.backend)


def _checked(source: str, kernels: list, times: KernelTimes) -> KernelTimes:
    """The last line of defence, as no figure that is not finite and positive may pass a budget: a
    non-finite kernel or total is a `ModelError` with the reason; a kernel below zero (a profile's
    in-network correction can take a tiny kernel there) counts as 0 ms, with a warning."""
    for k, v in zip(kernels, times.ms, strict=True):
        if not math.isfinite(v):
            raise ModelError(source, f"implausible model: kernel #{k.index} ({'+'.join(k.op_names)}) "
                                     f"is estimated at {v} ms, not a finite time")
    negative = times.ms < 0
    if negative.any():
        lift = float(-times.ms[negative].sum())
        times = replace(times, ms=np.where(negative, 0.0, times.ms), total_ms=times.total_ms + lift,
                        interval_ms=(times.interval_ms[0] + lift, times.interval_ms[1] + lift),
                        warnings=(*times.warnings, f"{counted(int(negative.sum()), 'kernel')} estimated below zero "
                                                   f"(in all {-lift:.4f} ms) counted as 0 ms"))
    total, (lo, hi) = times.total_ms, times.interval_ms
    if not all(map(math.isfinite, (total, lo, hi))) or total <= 0 or not 0 <= lo <= total <= hi:
        raise ModelError(source, f"implausible model: estimated total {total} ms (interval {lo}–{hi}) "
                                 "is not a finite positive time")
    if hi > MAX_PLAUSIBLE_MS:
        raise ModelError(source, f"implausible model: estimated at {total:.4g} ms (interval up to {hi:.4g} ms), "
                                 f"beyond the plausible {MAX_PLAUSIBLE_MS / 60_000:g} minutes per inference")
    return times


def precision_warnings(graph: Graph, profile: DeviceProfile, delegated: bool = True) -> list[str]:
    """What the estimate assumes when the model's precision differs from what the profile measured
    (``delegated``: some kernel runs on the GPU delegate, which is what dequantizes a quantized model)."""
    measured = profile.device.model_precision or "float32"  # nn-Meter's profiles say none: float32 models
    precision = model_precision(graph)
    if profile.backend == "cpu" and precision == "int8":  # nn-Meter's CPU: float32 models only
        return [f"int8-quantized model on {profile.name}, which measured float32 models: the estimate prices "
                "its kernels as float32 ones; the -cpu-int8 profiles (pixel4-cpu-int8 …) time int8 graphs"]
    if profile.backend != "gpu" or not delegated:
        return []
    runtime = [t for t in graph.main.tensors if not t.is_const]
    if any(t.quantized for t in runtime):
        return [f"int8-quantized model: the GPU delegate dequantizes it and computes in "
                f"{profile.device.compute_precision or 'float'}; {profile.name} measured {measured} models, "
                "so the estimate is that of the float graph (quantize/dequantize ops removed)"]
    return []
