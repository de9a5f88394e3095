"""Device profiles: the bundled, trained latency model of one device.

A profile is a JSON file: an analytic base cost per kernel (launch overhead + FLOPs + bytes, per
kernel kind where the trainer could fit one) times a learned correction ``exp(g(features))`` where
``g`` is a tree ensemble (XGBoost, random forest or decision tree) stored as arrays, then a
whole-model composition (``kernel_scale`` on the learned kernels, ``overhead_ms`` per inference).
The trees are evaluated here with NumPy, reproducing the libraries' own arithmetic, so estimating
never imports xgboost or scikit-learn.

Storage: `save` writes each tree array as ``{"dtype": "<f8", "base64": ...}``, its little-endian
bytes, so a profile loads in milliseconds (`np.frombuffer`, no parsing of a million numbers);
`DeviceProfile.from_dict` also reads the older form, a JSON list of numbers, so older and
hand-written profiles keep loading. The numbers are the same in both forms, bit for bit.
"""

from __future__ import annotations

import binascii
import difflib
import hashlib
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields
from functools import cache, cached_property
from pathlib import Path

import numpy as np

from pytest_tflite_latency.estimator.defaults import DEFAULT_DEVICE, GPU_ALIASES, PRECISIONS, resolve_device
from pytest_tflite_latency.estimator.errors import ProfileError, UnknownDeviceError
from pytest_tflite_latency.estimator.features import (
    FEATURES,
    FLOPS_PER_MAC,
    REFERENCE_CONV,
    WINOGRAD_KERNELS,
    reference_conv_work,
    winograd_work,
)
from pytest_tflite_latency.estimator.inputs import InputError
from pytest_tflite_latency.estimator.kernels import KINDS
from pytest_tflite_latency.estimator.registry import bundled_dir, device_names
from pytest_tflite_latency.estimator.table import interval_label
from pytest_tflite_latency.estimator.validate import validate_profile

MAX_LOG_FACTOR = 1.5  # corrections are clipped to ×/÷ e^1.5 ≈ 4.5
MAX_PROFILE_BYTES = 256 * 2**20  # the bundled profiles take under 5 MB
RANGE_SLACK = 2.0  # a kernel up to 2× the work of the largest trained one still counts as seen
CHUNK_ROWS = 4096  # trees are evaluated this many kernels at a time: memory stays bounded
TREE_ARRAYS = ("roots", "feature", "threshold", "left", "right", "value")
_INDEX_ARRAYS = frozenset({"roots", "feature", "left", "right"})
PACKED_DTYPES = frozenset({"<i4", "<i8", "<f4", "<f8"})  # what a stored array may hold


def pack_array(a: np.ndarray, dtype: str) -> dict:
    """An array as its stored JSON form: little-endian bytes of ``dtype`` in base64."""
    data = binascii.b2a_base64(np.ascontiguousarray(a, dtype).tobytes(), newline=False).decode("ascii")
    return {"dtype": dtype, "base64": data}


def unpack_array(value: object, where: str, source: str) -> object:
    """A stored array (`pack_array`'s form) as a NumPy array; any other value unchanged (a JSON list
    is the older form, checked by the validator)."""
    if not isinstance(value, dict):
        return value
    dtype, text = value.get("dtype"), value.get("base64")
    if not isinstance(dtype, str) or dtype not in PACKED_DTYPES or not isinstance(text, str) \
            or set(value) != {"dtype", "base64"}:
        raise ProfileError(source, f"{where} must be a list of numbers or {{\"dtype\": one of "
                                   f"{', '.join(sorted(PACKED_DTYPES))}, \"base64\": text}}")
    try:
        raw = binascii.a2b_base64(text)  # skips stray characters: the length check below catches them
    except (binascii.Error, ValueError):
        raw = None
    if raw is None or len(text) % 4 or len(raw) != len(text) // 4 * 3 - text[-2:].count("="):
        raise ProfileError(source, f"{where}.base64 is not valid base64")
    if len(raw) % np.dtype(dtype).itemsize:
        raise ProfileError(source, f"{where} holds {len(raw)} bytes, not a whole number of {dtype} values")
    return np.frombuffer(raw, dtype)


@dataclass(frozen=True)
class TreeEnsemble:
    """Regression trees as flat arrays; ``compare`` is ``lt`` (XGBoost) or ``le`` (scikit-learn)."""

    algorithm: str
    compare: str
    combine: str  # "sum" (boosting, float32 accumulation) or "mean" (forest, float64)
    base_score: float
    roots: np.ndarray
    feature: np.ndarray
    threshold: np.ndarray
    left: np.ndarray
    right: np.ndarray
    value: np.ndarray
    depth: int

    @property
    def value_dtype(self) -> str:
        """How thresholds and leaves are stored: float32 for XGBoost, float64 for scikit-learn."""
        return "<f4" if self.compare == "lt" else "<f8"

    @classmethod
    def from_dict(cls, d: dict) -> TreeEnsemble:
        """Trees from their JSON form (arrays as lists or `pack_array` dicts, or already NumPy)."""
        dtype = np.float32 if d["compare"] == "lt" else np.float64
        a = {k: unpack_array(d[k], f"correction.{k}", "<profile>") for k in TREE_ARRAYS}
        return cls(d["algorithm"], d["compare"], d["combine"], float(d["base_score"]),
                   np.asarray(a["roots"], np.int64), np.asarray(a["feature"], np.int64),
                   np.asarray(a["threshold"], dtype), np.asarray(a["left"], np.int64),
                   np.asarray(a["right"], np.int64), np.asarray(a["value"], dtype), int(d["depth"]))

    def to_dict(self) -> dict:
        return {"algorithm": self.algorithm, "compare": self.compare, "combine": self.combine,
                "base_score": self.base_score, "depth": self.depth,
                **{k: pack_array(getattr(self, k), self._stored_dtype(k)) for k in TREE_ARRAYS}}

    def _stored_dtype(self, key: str) -> str:
        if key not in _INDEX_ARRAYS:
            return self.value_dtype
        a = getattr(self, key)
        return "<i4" if not len(a) or np.abs(a).max() < 2**31 else "<i8"

    def predict(self, X: np.ndarray) -> np.ndarray:
        """One value per row of X, as the training library would predict it."""
        if X.shape[0] <= CHUNK_ROWS:
            return self._predict(X)
        return np.concatenate([self._predict(X[i:i + CHUNK_ROWS]) for i in range(0, X.shape[0], CHUNK_ROWS)])

    def _predict(self, X: np.ndarray) -> np.ndarray:
        n = X.shape[0]
        if n == 0:
            return np.zeros(0)
        Xc = X.astype(np.float32)
        if self.compare == "le":
            Xc = Xc.astype(np.float64)
        rows = np.arange(n)[None, :]
        node = np.repeat(self.roots[:, None], n, axis=1)
        for _ in range(self.depth):
            f = self.feature[node]
            leaf = f < 0
            if leaf.all():  # every row has reached its leaf: further steps would change nothing
                break
            x = Xc[rows, np.where(leaf, 0, f)]
            t = self.threshold[node]
            go_left = x < t if self.compare == "lt" else x <= t
            node = np.where(leaf, node, np.where(go_left, self.left[node], self.right[node]))
        leaves = self.value[node]
        # cumsum adds row by row in order: the libraries' own accumulation, bit for bit
        if self.combine == "sum":  # XGBoost: float32, trees one by one onto base_score
            start = np.full((1, n), self.base_score, np.float32)
            return np.cumsum(np.vstack([start, leaves]), axis=0, dtype=np.float32)[-1].astype(np.float64)
        return np.cumsum(leaves, axis=0)[-1] / len(leaves)  # forest: float64 mean



@dataclass(frozen=True)
class Coefficients:
    """One roofline: ``launch_ms + ms_per_flop·FLOPs + ms_per_byte·bytes moved``."""

    launch_ms: float
    ms_per_flop: float
    ms_per_byte: float

    @classmethod
    def from_dict(cls, d: Mapping) -> Coefficients:
        return cls(d["launch_ms"], d["ms_per_flop"], d["ms_per_byte"])

    def to_dict(self) -> dict[str, float]:
        return {"launch_ms": self.launch_ms, "ms_per_flop": self.ms_per_flop, "ms_per_byte": self.ms_per_byte}


@dataclass(frozen=True)
class Roofline:
    """An analytic cost per kernel: shared coefficients with a relative FLOP cost per kernel kind,
    and kinds with coefficients of their own (``per_kind``, fitted where the trainer had enough
    kernels; None where the profile has none, as in the JSON form). ``winograd``: the device's GPU
    delegate runs the kernels its Winograd rule selects (feature ``winograd``) as Winograd
    convolutions. ``winograd_kernels``: coefficients of their own for those kernels, on the direct
    convolution's FLOPs and bytes like every kind's (fitted where the trainer measured such kernels);
    without them a Winograd device prices those kernels as Winograd work (`features.winograd_work`,
    three launches) on the conv kind's coefficients — the prior. Absent in the JSON form: no, none."""

    launch_ms: float
    ms_per_flop: float
    ms_per_byte: float
    relative_flop_cost: dict[str, float]
    per_kind: dict[str, Coefficients] | None = None
    winograd: bool = False
    winograd_kernels: Coefficients | None = None

    @classmethod
    def of(cls, p: Roofline | Mapping) -> Roofline:
        """``p`` itself, or the roofline of its JSON form."""
        return p if isinstance(p, Roofline) else cls.from_dict(p)

    @classmethod
    def from_dict(cls, d: Mapping) -> Roofline:
        per_kind = d.get("per_kind")
        return cls(d["launch_ms"], d["ms_per_flop"], d["ms_per_byte"], dict(d["relative_flop_cost"]),
                   None if per_kind is None else {k: Coefficients.from_dict(v) for k, v in per_kind.items()},
                   d.get("winograd") is True,
                   Coefficients.from_dict(d["winograd_kernels"]) if d.get("winograd_kernels") else None)

    def to_dict(self) -> dict:
        d = {"launch_ms": self.launch_ms, "ms_per_flop": self.ms_per_flop, "ms_per_byte": self.ms_per_byte,
             "relative_flop_cost": dict(self.relative_flop_cost)}
        if self.per_kind is not None:
            d["per_kind"] = {k: c.to_dict() for k, c in self.per_kind.items()}
        if self.winograd:
            d["winograd"] = True
        if self.winograd_kernels is not None:
            d["winograd_kernels"] = self.winograd_kernels.to_dict()
        return d

    def coefficients(self, kind: str) -> Coefficients:
        """``kind``'s own coefficients where fitted, else the shared ones with its relative FLOP cost."""
        own = (self.per_kind or {}).get(kind)
        if own:
            return own
        return Coefficients(self.launch_ms, self.ms_per_flop * self.relative_flop_cost.get(kind, 1.0),
                            self.ms_per_byte)


@dataclass(frozen=True)
class PredictionInterval:
    """The whole-model interval as relative errors (``low`` < 0 < ``high`` for a stock profile) and
    the share of held-out models it held (``coverage``; None where a profile does not say)."""

    low: float
    high: float
    coverage: float | None = None

    @classmethod
    def of(cls, d: PredictionInterval | Mapping) -> PredictionInterval:
        if isinstance(d, PredictionInterval):
            return d
        return cls(d["low"], d["high"], d.get("coverage"))

    def to_dict(self) -> dict:
        d = {"low": self.low, "high": self.high}
        return d if self.coverage is None else {**d, "coverage": self.coverage}

    @property
    def label(self) -> str:
        """"90% interval" for a coverage of 0.9; "interval" where the coverage is not known."""
        return interval_label(self.coverage)


@dataclass(frozen=True)
class TrainedRange(Mapping[str, tuple[float, float]]):
    """Kernel kind → (largest FLOPs, largest bytes moved) among the configurations it trained on."""

    limits: dict[str, tuple[float, float]]

    @classmethod
    def of(cls, d: TrainedRange | Mapping) -> TrainedRange:
        return d if isinstance(d, TrainedRange) else cls({k: (v[0], v[1]) for k, v in d.items()})

    def __getitem__(self, kind: str) -> tuple[float, float]:
        return self.limits[kind]

    def __iter__(self) -> Iterator[str]:
        return iter(self.limits)

    def __len__(self) -> int:
        return len(self.limits)

    def to_dict(self) -> dict[str, list[float]]:
        return {k: list(v) for k, v in self.limits.items()}


@dataclass(frozen=True)
class NetworkContext:
    """What a kernel costs inside a network beyond its lone measurement."""

    ms_per_weight_byte: float
    ms_per_kernel: float

    @classmethod
    def of(cls, d: NetworkContext | Mapping | None) -> NetworkContext | None:
        if d is None or isinstance(d, NetworkContext):
            return d
        return cls(d["ms_per_weight_byte"], d["ms_per_kernel"]) if d else None

    def to_dict(self) -> dict[str, float]:
        return {"ms_per_weight_byte": self.ms_per_weight_byte, "ms_per_kernel": self.ms_per_kernel}


@dataclass(frozen=True)
class DeviceInfo:
    """The measured device: phone, SoC, GPU, GPU API and the precisions it measured (model
    weights, and what the delegate computed in: "fp16" where precision loss was allowed)."""

    phone: str | None = None
    soc: str | None = None
    gpu: str | None = None
    api: str | None = None
    model_precision: str | None = None
    compute_precision: str | None = None

    @classmethod
    def of(cls, d: DeviceInfo | Mapping | None) -> DeviceInfo:
        if isinstance(d, DeviceInfo):
            return d
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in (d or {}).items() if k in names})

    def to_dict(self) -> dict[str, str]:
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}


@dataclass(frozen=True)
class DeviceProfile:
    """A device's latency model plus what it was trained on and how well it does. The parts may be
    given in their JSON form (dicts); they are kept as their types."""

    name: str
    title: str
    backend: str  # "gpu" (TFLite GPU delegate) | "cpu"
    runtime: str
    features: tuple[str, ...]
    base: Roofline
    correction: TreeEnsemble | None
    trained_range: TrainedRange
    interval: PredictionInterval
    cpu_fallback: Roofline
    transfer: Roofline
    provenance: dict  # free-form: what it learned from; "heldout" holds its error on unseen families
    max_partitions: int = 1
    context: NetworkContext | None = None  # in-network cost beyond a lone kernel's
    kernel_scale: float = 1.0  # whole model: learned kernels × this ...
    overhead_ms: float = 0.0  # ... + this per inference (what a list of kernels leaves out)
    device: DeviceInfo = field(default_factory=DeviceInfo)

    def __post_init__(self) -> None:
        for name, kind in (("base", Roofline), ("cpu_fallback", Roofline), ("transfer", Roofline),
                           ("trained_range", TrainedRange), ("interval", PredictionInterval),
                           ("context", NetworkContext), ("device", DeviceInfo)):
            object.__setattr__(self, name, kind.of(getattr(self, name)))

    @classmethod
    def from_dict(cls, d: dict, source: str = "<profile>") -> DeviceProfile:
        """A profile from its JSON form (tree arrays stored or as lists); `ProfileError` (naming
        ``source``) if it is not usable."""
        corr = d.get("correction") if isinstance(d, dict) else None
        if isinstance(corr, dict):
            d = {**d, "correction": {k: unpack_array(v, f"correction.{k}", source) if k in TREE_ARRAYS else v
                                     for k, v in corr.items()}}
        validate_profile(d, source)
        corr = d.get("correction")
        return cls(d["name"], d["title"], d["backend"], d["runtime"], tuple(d["features"]),
                   d["base"], TreeEnsemble.from_dict(corr) if corr else None,
                   d["trained_range"], d["interval"], d["cpu_fallback"], d["transfer"],
                   d["provenance"], int(d.get("max_partitions", 1)), d.get("context") or None,
                   float(d.get("kernel_scale", 1.0)), float(d.get("overhead_ms", 0.0)), d.get("device", {}))

    def to_dict(self) -> dict:
        """The JSON form `save` writes (tree arrays stored as `pack_array` dicts)."""
        return {"name": self.name, "title": self.title, "backend": self.backend,
                "runtime": self.runtime, "device": self.device.to_dict(), "max_partitions": self.max_partitions,
                "provenance": self.provenance, "features": list(self.features), "base": self.base.to_dict(),
                "trained_range": self.trained_range.to_dict(), "interval": self.interval.to_dict(),
                "cpu_fallback": self.cpu_fallback.to_dict(), "transfer": self.transfer.to_dict(),
                "context": self.context.to_dict() if self.context else {}, "kernel_scale": self.kernel_scale,
                "overhead_ms": self.overhead_ms,
                "correction": self.correction.to_dict() if self.correction else None}

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_dict(), indent=None, separators=(",", ":")) + "\n")

    @cached_property
    def fingerprint(self) -> str:
        """A short hash of the profile's JSON form: a profile recalibrated or retrained under the same name
        has another (a baseline made with the old one is not this profile's)."""
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()[:16]

    def base_ms(self, X: np.ndarray) -> np.ndarray:
        """Analytic cost per kernel: launch + weighted FLOPs + bytes moved (on XNNPACK, a fully connected
        layer's rows after the first at the convolutions' cost per FLOP: `gemm_rows`)."""
        ms = roofline(X, self.features, self.base)
        return gemm_rows(ms, X, self.features, self.base) if self.backend == "xnnpack" else ms

    def in_range(self, X: np.ndarray, kinds: list[str]) -> np.ndarray:
        """Kernels whose kind was trained on and whose FLOPs and bytes stay within
        ``RANGE_SLACK`` × the largest trained configuration of that kind."""
        flops, moved = work(X, self.features)
        limit = np.array([self.trained_range.get(k, (-1.0, -1.0)) for k in kinds]).reshape(-1, 2)
        return (limit[:, 0] >= 0) & (flops <= RANGE_SLACK * limit[:, 0]) \
            & (moved <= RANGE_SLACK * limit[:, 1])

    def correction_factor(self, X: np.ndarray) -> np.ndarray:
        return correction_factor(self.correction, X)

    def context_ms(self, X: np.ndarray) -> np.ndarray:
        return context_ms(X, self.features, self.context)

    def precision_warnings(self, precision: str | None) -> list[str]:
        """What an estimate assumes when the app's GPU delegate computes in ``precision`` ("fp16" or
        "fp32"; None: as the profile measured) and the profile measured another; `InputError` for
        any other value."""
        if precision is None:
            return []
        if precision not in PRECISIONS:
            raise InputError("precision", f"expected one of {', '.join(PRECISIONS)}, got {precision!r}")
        measured = self.device.compute_precision
        if self.backend != "gpu":
            return [f"precision {precision}: {self.name} is a CPU profile; the GPU delegate's precision "
                    "does not apply, the estimate is that of its CPU runtime"]
        if measured is None:
            return [f"precision {precision}: {self.name} does not say in which precision its GPU computed; "
                    f"the estimate is that of what it measured"]
        if measured == precision:
            return []
        return [f"precision {precision}: {self.name} measured its GPU delegate computing in {measured}, so "
                f"this estimate assumes {measured} speed; an app's GpuDelegate computes in fp32 unless it "
                "allows precision loss, which on mobile GPUs is often slower than the estimate"
                if precision == "fp32" else
                f"precision {precision}: {self.name} measured its GPU delegate computing in {measured}; "
                f"this estimate assumes {measured} speed, often slower than {precision}"]

    def fitted_kinds(self) -> set[str]:
        """Kernel kinds with a cost of their own: a learned correction or fitted coefficients."""
        return set(self.trained_range) | set(self.base.per_kind or {})


def correction_factor(correction: TreeEnsemble | None, X: np.ndarray) -> np.ndarray:
    """The learned multiplicative correction per row, clipped to ×/÷ e^MAX_LOG_FACTOR."""
    if correction is None:
        return np.ones(X.shape[0])
    return np.exp(np.clip(correction.predict(X), -MAX_LOG_FACTOR, MAX_LOG_FACTOR))


def context_ms(X: np.ndarray, features: tuple[str, ...], context: NetworkContext | Mapping | None) -> np.ndarray:
    """What each kernel costs inside a network beyond its lone measurement (zero without context)."""
    context = NetworkContext.of(context)
    if context is None:
        return np.zeros(X.shape[0])
    return X[:, features.index("bytes_weights")] * context.ms_per_weight_byte + context.ms_per_kernel


def work(X: np.ndarray, features: tuple[str, ...] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(FLOPs, bytes moved) per row."""
    col = {f: i for i, f in enumerate(features or FEATURES)}
    moved = X[:, col["bytes_in"]] + X[:, col["bytes_out"]] + X[:, col["bytes_weights"]]
    return X[:, col["flops"]], moved


def roofline(X: np.ndarray, features: tuple[str, ...], p: Roofline | Mapping) -> np.ndarray:
    """``launch_ms + ms_per_flop·flops·relative_cost[kind] + ms_per_byte·bytes`` per row; kinds
    with coefficients of their own (``per_kind``) use those instead; where ``relative_cost`` prices
    TensorFlow Lite's reference convolution (a CPU base: `features.REFERENCE_CONV`), grouped
    convolutions' FLOPs are its work (`features.reference_conv_work`) at that cost. ``p``: a `Roofline`
    or its JSON form."""
    p = Roofline.of(p)
    col = {f: i for i, f in enumerate(features)}
    launch = np.full(X.shape[0], p.launch_ms)
    per_flop = np.zeros(X.shape[0])
    per_byte = np.full(X.shape[0], p.ms_per_byte)
    for kind in KINDS:
        rows = X[:, col[f"kind_{kind}"]] > 0
        c = p.coefficients(kind)
        launch[rows], per_flop[rows], per_byte[rows] = c.launch_ms, c.ms_per_flop, c.ms_per_byte
    if p.winograd_kernels is not None and "winograd" in features:
        rows = X[:, features.index("winograd")] > 0
        c = p.winograd_kernels
        launch[rows], per_flop[rows], per_byte[rows] = c.launch_ms, c.ms_per_flop, c.ms_per_byte
    reference = p.relative_flop_cost.get(REFERENCE_CONV)
    launches, flops, moved = roofline_terms(X, features, p.winograd and p.winograd_kernels is None,
                                            reference=reference is not None)
    if reference is not None:
        per_flop = np.where(reference_conv_work(X, features)[0], p.ms_per_flop * reference, per_flop)
    return launch * launches + per_flop * flops + per_byte * moved


def gemm_rows(ms: np.ndarray, X: np.ndarray, features: tuple[str, ...], p: Roofline | Mapping) -> np.ndarray:
    """``ms`` with each fully connected kernel of several rows (a Dense layer on a sequence, a batched
    matrix product) priced as XNNPACK runs it, one GEMM: its first row at the fc kind's cost per FLOP,
    which the CPU profiles fit on one-row classifiers and so carries the cost of streaming the weights
    once, the other rows at the convolutions' (the same GEMM microkernels). For one-row layers, and where
    fc and conv cost the same per FLOP (the float32 profiles), ``ms`` is unchanged."""
    p = Roofline.of(p)
    col = {f: i for i, f in enumerate(features)}
    flops = work(X, features)[0]
    # rows: FLOPs over one row's (2 × dot-product length × outputs), whatever axes hold them (a batch of 64,
    # or 64 tokens); a fused activation's FLOP per output never adds a row
    one_row = FLOPS_PER_MAC * np.maximum(X[:, col["in_c"]], 1) * np.maximum(X[:, col["out_c"]], 1)
    rows = np.floor(flops / one_row)
    gemm = (X[:, col["kind_fc"]] > 0) & (rows > 1)
    extra = p.coefficients("fc").ms_per_flop - p.coefficients("conv").ms_per_flop
    if not gemm.any() or extra == 0:
        return ms
    out = np.array(ms, float)
    out[gemm] -= extra * flops[gemm] * (1 - 1 / rows[gemm])
    return out


def roofline_terms(X: np.ndarray, features: tuple[str, ...], winograd: bool,
                   reference: bool = False) -> tuple[np.ndarray, ...]:
    """(launches, FLOPs, bytes moved) per row; with ``winograd``, the rows the delegate's Winograd rule
    selects count a Winograd convolution's (features from before the column select none); with
    ``reference`` (a CPU base), grouped convolutions, which TensorFlow Lite's reference convolution runs,
    count its work (`features.reference_conv_work`) as their FLOPs."""
    flops, moved = work(X, features)
    if reference:
        rows, reference_work = reference_conv_work(X, features)
        flops = np.where(rows, reference_work, flops)
    launches = np.ones(X.shape[0])
    if winograd and "winograd" in features:
        rows = X[:, features.index("winograd")] > 0
        if rows.any():
            flops, moved = flops.copy(), moved.copy()
            flops[rows], moved[rows] = winograd_work(X[rows], features)
            launches[rows] = WINOGRAD_KERNELS
    return launches, flops, moved


COEFFICIENTS = ("launch_ms", "ms_per_flop", "ms_per_byte")


def kind_coefficients(p: Roofline | Mapping, kind: str) -> dict[str, float]:
    """One kernel kind's `COEFFICIENTS` in base ``p`` (`Roofline.coefficients` as a dict)."""
    return Roofline.of(p).coefficients(kind).to_dict()


@cache
def _load_bundled(name: str) -> DeviceProfile:
    return DeviceProfile.from_dict(json.loads((bundled_dir() / f"{name}.json").read_bytes()), name)


def _load_file(path: Path) -> DeviceProfile:
    """A profile JSON file, refused with one line if it is not a regular, readable, valid profile."""
    if not path.exists():
        raise ProfileError(str(path), "no such file")
    if not path.is_file():
        raise ProfileError(str(path), "not a regular file")
    if path.stat().st_size > MAX_PROFILE_BYTES:
        raise ProfileError(str(path), f"file is {path.stat().st_size} bytes, more than {MAX_PROFILE_BYTES}")
    try:
        d = json.loads(path.read_bytes())
    except OSError as exc:
        raise ProfileError(str(path), f"cannot read: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise ProfileError(str(path), f"not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
    except UnicodeDecodeError:
        raise ProfileError(str(path), "not valid JSON: not UTF-8 text") from None
    except (ValueError, RecursionError):
        raise ProfileError(str(path), "not valid JSON: nested too deeply or malformed") from None
    return DeviceProfile.from_dict(d, str(path))


def load_profile(device: str | Path | DeviceProfile = DEFAULT_DEVICE,
                 search_dirs: tuple[str | Path, ...] = ()) -> DeviceProfile:
    """A bundled profile by name (or by its GPU's name), or a profile JSON file by path. A name is
    first looked up as ``NAME.json`` in ``search_dirs`` (a team's own, calibrated profiles), in order."""
    if isinstance(device, DeviceProfile):
        return device
    text = str(device)
    if text.endswith(".json"):
        return _load_file(Path(text))
    for folder in search_dirs:
        candidate = Path(folder) / f"{text}.json"
        try:
            found = "/" not in text and candidate.is_file()
        except (OSError, ValueError):  # a name too long for the file system, a NUL byte: not there
            found = False
        if found:
            return _load_file(candidate)
    name = resolve_device(text)
    if name not in device_names() and name.lower() in device_names():  # as a GPU's name, in any case
        name = name.lower()
    if name not in device_names():
        team = [p.name[:-5] for folder in search_dirs if Path(folder).is_dir()
                for p in sorted(Path(folder).glob("*.json"))]
        hint = "" if search_dirs else ("; a team's own profile: its .json path, or its name with the folder of "
                                       "profiles given (estimate: --profiles; pytest: --latency-profiles or "
                                       "latency_profiles)")
        known = [*team, *device_names(), *GPU_ALIASES]
        raise UnknownDeviceError(text, known, hint, unknown_device_suggestion(text, known))
    return _load_bundled(name)


# A CPU profile of another core set than the bundled one big core: pixel4-cpu-2med, pixel4-cpu-int8-4small
# (or the issue's pixel4-cpu:2med); the builder names them `bench.cpu_profiles.profile_name`.
_CORE_SET_NAME = re.compile(r"(?P<base>[a-z0-9]+-cpu(?:-int8)?)[-:](?P<cores>(?:\d+(?:large|med|small))+)")
BUILD_CPU_PROFILES = "python -m pytest_tflite_latency.bench.cpu_profiles"


def unknown_device_suggestion(text: str, known: list[str]) -> str:
    """What an unknown device name was probably meant to be: a core set the bundled CPU profiles do not
    time (and how to build it), or the known name closest to it ("" when none is close)."""
    core_set = _CORE_SET_NAME.fullmatch(text.strip().lower())
    if core_set and core_set["base"] in known:
        base, cores = core_set["base"], core_set["cores"]
        if cores == "1large":
            return f"did you mean {base!r}?"  # one big core (1large) is the bundled core set
        wanted = f"{base}-{cores}"
        return (f"core set {cores!r} is not bundled: {base} times one big core (TensorFlow Lite's default "
                f"of one thread); where the study measured that core set, build {wanted} with "
                f"`{BUILD_CPU_PROFILES} --only {wanted} --out DIR` (it names the core sets measured on this "
                "phone otherwise) and give DIR as --profiles (pytest: --latency-profiles)")
    lowered = {k.lower(): k for k in known}
    wanted = text.strip().lower()
    close = [k for k in difflib.get_close_matches(wanted, list(lowered), n=3, cutoff=0.75)
             if _model_number(k) == _model_number(wanted)]  # pixel8-gpu is another phone, not a typo
    return f"did you mean {lowered[close[0]]!r}?" if close else ""


def _model_number(name: str) -> str:
    """The first run of digits in a device name: the phone's model number (``pixel4`` → ``4``)."""
    found = re.search(r"\d+", name)
    return found[0] if found else ""
