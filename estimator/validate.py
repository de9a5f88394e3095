"""Checks of what the estimator is given: a device profile before it is used.

A profile drives every figure the estimator prints, so a file that is not a profile (an estimate
report, a list, wrong types) or one with a negative or non-finite coefficient is refused on load
with one line that names the problem, instead of producing a traceback or a negative estimate.
"""

from __future__ import annotations

import math
from typing import get_args

import numpy as np

from .errors import ProfileError
from .features import ADDED_FEATURES, FEATURES
from .kernel_types import Backend
from .wording import short_repr

_REQUIRED = {"name": str, "title": str, "backend": str, "runtime": str, "features": list, "base": dict,
             "trained_range": dict, "interval": dict, "cpu_fallback": dict, "transfer": dict,
             "provenance": dict}
_OPTIONAL = {"max_partitions": int, "context": dict, "correction": (dict, type(None)), "device": dict,
             "kernel_scale": (int, float), "overhead_ms": (int, float)}
_COSTS = ("base", "cpu_fallback", "transfer", "trained_range")  # every number ≥ 0 (context is a signed correction)
_ROOFLINE = ("launch_ms", "ms_per_flop", "ms_per_byte", "relative_flop_cost")
_TREE_ARRAYS = ("roots", "feature", "threshold", "left", "right", "value")
# Plausibility bounds of what a profile may hold. The bundled profiles' largest number is a trained range
# of 3.6e9 FLOPs (one kernel); 1e15 leaves room for any phone's kernels, and keeps every figure far from
# float overflow however the roofline multiplies it.
MAX_PROFILE_NUMBER = 1e15
# Per-inference overhead outside the kernels: the bundled profiles hold 0 … 4.7 ms; a second per inference
# is no runtime's overhead.
OVERHEAD_MS_RANGE = (0.0, 1000.0)
# A device-wide factor on learned kernels: the bundled profiles hold 0.98 … 1.28; beyond ×/÷ 100 it is no
# calibration of a measured device but another device.
KERNEL_SCALE_RANGE = (0.01, 100.0)
MAX_TREE_DEPTH = 64  # the bundled profiles' trees are 6 … 27 deep; 64 bounds what one evaluation walks
MAX_PARTITIONS = 1024  # the delegate's max_delegated_partitions: bundled 1; more than any model has ops to split


def validate_profile(d: object, source: str = "<profile>") -> None:
    """Raise `ProfileError` unless ``d`` is a device profile the estimator can use: required keys
    with the right types, every number finite, costs ≥ 0, a positive kernel scale, trees whose
    indices stay in range."""
    if not isinstance(d, dict):
        raise ProfileError(source, f"expected a JSON object, got {type(d).__name__}")
    for key, kind in {**_REQUIRED, **_OPTIONAL}.items():
        if key in _REQUIRED and key not in d:
            raise ProfileError(source, f"missing key {key!r}")
        if key in d and (not isinstance(d[key], kind) or isinstance(d[key], bool)):
            raise ProfileError(source, f"{key!r} has the wrong type ({type(d[key]).__name__})")
    _check_numbers({k: v for k, v in d.items() if k != "correction"}, source, "", nonnegative=False)
    for key in _COSTS:
        _check_numbers(d.get(key, {}), source, key, nonnegative=True)
    for key in ("base", "cpu_fallback", "transfer"):
        _check_winograd(d[key], source, key)
    for key in (*_COSTS, "context", "interval"):
        _check_only_numbers({k: v for k, v in d.get(key, {}).items() if k != "winograd"}, source, key)
    _check_trained_range(d["trained_range"], source)
    _check_features(d["features"], source)
    for key in ("base", "cpu_fallback", "transfer"):
        _check_roofline(d[key], source, key)
    _check_whole_model(d, source)
    _check_interval(d["interval"], source)
    _check_stated_error(d["provenance"], source)
    if d.get("backend") not in get_args(Backend):
        raise ProfileError(source, f"backend must be one of {', '.join(map(repr, get_args(Backend)))}, "
                                   f"got {d.get('backend')!r}")
    _check_device(d.get("device") or {}, source)
    if not 1 <= d.get("max_partitions", 1) <= MAX_PARTITIONS:
        raise ProfileError(source, f"max_partitions must be from 1 to {MAX_PARTITIONS}, got {d['max_partitions']}")
    if d.get("correction"):
        _check_trees(d["correction"], source, len(d["features"]))


# What a profile's device may state it measured: the models' precision (a CPU profile times one and
# refuses the other), and what the runtime computed in.
MODEL_PRECISIONS = ("float32", "int8")
COMPUTE_PRECISIONS = ("fp16", "fp32", "float32", "int8")


def _check_device(device: dict, source: str) -> None:
    for key, allowed in (("model_precision", MODEL_PRECISIONS), ("compute_precision", COMPUTE_PRECISIONS)):
        value = device.get(key)
        if value is not None and value not in allowed:
            raise ProfileError(source, f"device.{key} must be one of {', '.join(map(repr, allowed))}, "
                                       f"got {short_repr(value)}")


def _check_numbers(value: object, source: str, where: str, nonnegative: bool) -> None:
    """Every number inside ``value`` is finite (and ≥ 0 where it is a cost)."""
    stack = [(where, value)]
    while stack:
        path, v = stack.pop()
        if isinstance(v, dict):
            stack += [(f"{path}.{k}" if path else str(k), x) for k, x in v.items()]
        elif isinstance(v, list):
            stack += [(f"{path}[{i}]", x) for i, x in enumerate(v)]
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            if isinstance(v, float) and not math.isfinite(v):
                raise ProfileError(source, f"{path} is {v}, not a finite number")
            if abs(v) > MAX_PROFILE_NUMBER:  # ints compared exactly: a 400-digit one never meets float()
                raise ProfileError(source, f"{path} is {_short(v)}, beyond the plausible ±{MAX_PROFILE_NUMBER:g}")
            if nonnegative and v < 0:
                raise ProfileError(source, f"{path} is {v}; a cost cannot be negative")


def _check_only_numbers(value: object, source: str, where: str) -> None:
    """Every leaf of the cost tables is a number: a string such as "1e3" would reach NumPy as text."""
    stack = [(where, value)]
    while stack:
        path, v = stack.pop()
        if isinstance(v, dict):
            stack += [(f"{path}.{k}", x) for k, x in v.items()]
        elif isinstance(v, list):
            stack += [(f"{path}[{i}]", x) for i, x in enumerate(v)]
        elif not _is_number(v):
            raise ProfileError(source, f"{path} is {_short(v)}, not a number")


def _check_trained_range(limits: dict, source: str) -> None:
    """Each kernel kind's range is a pair of numbers (largest FLOPs, largest bytes moved)."""
    for kind, pair in limits.items():
        if not (isinstance(pair, list) and len(pair) == 2 and all(map(_is_number, pair))):
            raise ProfileError(source, f"trained_range.{kind} is {_short(pair)}, not a pair of numbers")


def _check_features(features: list, source: str) -> None:
    """This version's features, or those of a version before `ADDED_FEATURES` (a prefix: its trees
    read the same columns)."""
    older = FEATURES[:len(FEATURES) - len(ADDED_FEATURES)]
    if tuple(features) not in (FEATURES, older):
        raise ProfileError(source, f"its {len(features)} features are not the {len(FEATURES)} this "
                                   "estimator computes; export it again with this version")


def _check_winograd(p: object, source: str, where: str) -> None:
    if isinstance(p, dict) and "winograd" in p and not isinstance(p["winograd"], bool):
        raise ProfileError(source, f"{where}.winograd must be true or false, got {_short(p['winograd'])}")
    own = p.get("winograd_kernels") if isinstance(p, dict) else None
    if own is not None and (not isinstance(own, dict) or not all(_is_number(own.get(k)) for k in _ROOFLINE[:3])):
        raise ProfileError(source, f"{where}.winograd_kernels needs numbers {', '.join(_ROOFLINE[:3])}")


def _check_roofline(p: dict, source: str, where: str) -> None:
    for key in _ROOFLINE:
        if key not in p:
            raise ProfileError(source, f"{where} has no {key!r}")
    for key in _ROOFLINE[:3]:
        if not _is_number(p[key]):
            raise ProfileError(source, f"{where}.{key} must be a number")
    if not isinstance(p["relative_flop_cost"], dict) or not all(map(_is_number, p["relative_flop_cost"].values())):
        raise ProfileError(source, f"{where}.relative_flop_cost must map kernel kinds to numbers")


def _check_whole_model(d: dict, source: str) -> None:
    low, high = KERNEL_SCALE_RANGE
    if not low <= d.get("kernel_scale", 1.0) <= high:
        raise ProfileError(source, f"kernel_scale is {_short(d['kernel_scale'])}, outside the plausible factor "
                                   f"range {low:g} … {high:g}")
    if d.get("overhead_ms", 0.0) < 0:
        raise ProfileError(source, f"overhead_ms is {d['overhead_ms']!r}; a cost cannot be negative")
    if d.get("overhead_ms", 0.0) > OVERHEAD_MS_RANGE[1]:
        raise ProfileError(source, f"overhead_ms is {_short(d['overhead_ms'])}, more than the plausible "
                                   f"{OVERHEAD_MS_RANGE[1]:g} ms per inference")
    for kind, p in d["base"].get("per_kind", {}).items():
        if not isinstance(p, dict) or not all(_is_number(p.get(k)) for k in _ROOFLINE[:3]):
            raise ProfileError(source, f"base.per_kind.{kind} needs numbers {', '.join(_ROOFLINE[:3])}")


def _check_interval(interval: dict, source: str) -> None:
    low, high = interval.get("low"), interval.get("high")
    if not (_is_number(low) and _is_number(high) and -1 < low <= high):
        raise ProfileError(source, f"interval needs numbers -1 < low ≤ high, got low={low!r}, high={high!r}")
    coverage = interval.get("coverage")
    if coverage is not None and not (_is_number(coverage) and 0 <= coverage <= 1):
        raise ProfileError(source, f"interval.coverage is {_short(coverage)}, not a share from 0 to 1")


def _check_stated_error(provenance: dict, source: str) -> None:
    """The error a profile states of itself (``provenance.heldout``), which `devices` prints as fact: shares
    of models from 0 to 100%, a mean error not below 0."""
    heldout = provenance.get("heldout")
    for key, value in (heldout.items() if isinstance(heldout, dict) else ()):
        shares = key.startswith(("within_", "interval_coverage")) and key.endswith("pct")
        if not (shares or key == "mape_pct") or value is None:
            continue
        top = 100.0 if shares else MAX_PROFILE_NUMBER
        if not (_is_number(value) and 0 <= value <= top):
            raise ProfileError(source, f"provenance.heldout.{key} is {_short(value)}, not a percentage "
                                       f"from 0 to {top:g}")


def _check_trees(t: dict, source: str, n_features: int) -> None:
    """The tree arrays: equal lengths, child, root and feature indices in range."""
    for key in ("algorithm", "compare", "combine", "base_score", "depth", *_TREE_ARRAYS):
        if key not in t:
            raise ProfileError(source, f"correction has no {key!r}")
    if t["compare"] not in ("lt", "le") or t["combine"] not in ("sum", "mean"):
        raise ProfileError(source, "correction.compare must be lt|le and correction.combine sum|mean")
    if not isinstance(t["depth"], int) or not 0 <= t["depth"] <= MAX_TREE_DEPTH or not _is_number(t["base_score"]):
        raise ProfileError(source, f"correction.depth must be an integer from 0 to {MAX_TREE_DEPTH}, "
                                   "base_score a number")
    _check_numbers(t["base_score"], source, "correction.base_score", nonnegative=False)
    arrays = {k: _numbers(t[k], f"correction.{k}", source) for k in _TREE_ARRAYS}
    nodes = len(arrays["feature"])
    if any(len(arrays[k]) != nodes for k in _TREE_ARRAYS[1:]) or not len(arrays["roots"]):
        raise ProfileError(source, "correction arrays differ in length or hold no tree")
    _check_indices(arrays, ("roots",), 0, nodes, source)
    _check_indices(arrays, ("left", "right"), -1, nodes, source)
    _check_indices(arrays, ("feature",), -1, n_features, source)


def _numbers(values: object, where: str, source: str) -> np.ndarray:
    """A JSON list of finite numbers (or a stored array, already decoded) as an array (vectorised:
    trees hold hundreds of thousands)."""
    if isinstance(values, np.ndarray):  # a stored array, decoded by the profile loader
        array = values.astype(float)
    elif not isinstance(values, list):
        raise ProfileError(source, f"{where} must be a list of numbers")
    else:
        try:
            array = np.array(values, dtype=float)
        except (TypeError, ValueError, OverflowError):
            raise ProfileError(source, f"{where} must be a list of finite numbers") from None
        if array.ndim != 1 or not all(type(v) in (int, float) for v in values):  # "1e3" would pass float()
            raise ProfileError(source, f"{where} must be a list of numbers")
    if not np.isfinite(array).all():
        raise ProfileError(source, f"{where} holds {array[~np.isfinite(array)][0]}, not a finite number")
    if len(array) and np.abs(array).max() > MAX_PROFILE_NUMBER:
        raise ProfileError(source, f"{where} holds {np.abs(array).max():g}, "
                                   f"beyond the plausible ±{MAX_PROFILE_NUMBER:g}")
    return array


def _check_indices(arrays: dict, keys: tuple[str, ...], low: int, high: int, source: str) -> None:
    for key in keys:
        a = arrays[key]
        bad = a[(a != np.floor(a)) | (a < low) | (a >= high)]
        if len(bad):
            raise ProfileError(source, f"correction.{key} holds {bad[0]!r}, outside {low}…{high - 1}")


def _short(v: object) -> str:
    return short_repr(v, 24, "digits")


def _is_number(v: object) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)
