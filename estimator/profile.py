"""Device profiles: the bundled, trained latency model of one device.

A profile is a JSON file: an analytic base cost per kernel (launch overhead + FLOPs + bytes, per
kernel kind where the trainer could fit one) times a learned correction ``exp(g(features))`` where
``g`` is a tree ensemble (XGBoost, random forest or decision tree) stored as plain arrays, then a
whole-model composition (``kernel_scale`` on the learned kernels, ``overhead_ms`` per inference).
The trees are evaluated here with NumPy, reproducing the libraries' own arithmetic, so estimating
never imports xgboost or scikit-learn.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path

import numpy as np

from pytest_tflite_latency.estimator.defaults import DEFAULT_DEVICE, GPU_ALIASES, resolve_device
from pytest_tflite_latency.estimator.errors import ProfileError, UnknownDeviceError
from pytest_tflite_latency.estimator.features import FEATURES
from pytest_tflite_latency.estimator.kernels import KINDS
from pytest_tflite_latency.estimator.validate import validate_profile

MAX_LOG_FACTOR = 1.5  # corrections are clipped to ×/÷ e^1.5 ≈ 4.5
MAX_PROFILE_BYTES = 256 * 2**20  # the bundled profiles take under 1 MB
RANGE_SLACK = 2.0  # a kernel up to 2× the work of the largest trained one still counts as seen
CHUNK_ROWS = 4096  # trees are evaluated this many kernels at a time: memory stays bounded


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

    @classmethod
    def from_dict(cls, d: dict) -> TreeEnsemble:
        dtype = np.float32 if d["compare"] == "lt" else np.float64
        return cls(d["algorithm"], d["compare"], d["combine"], float(d["base_score"]),
                   np.asarray(d["roots"], np.int64), np.asarray(d["feature"], np.int64),
                   np.asarray(d["threshold"], dtype), np.asarray(d["left"], np.int64),
                   np.asarray(d["right"], np.int64), np.asarray(d["value"], dtype), int(d["depth"]))

    def to_dict(self) -> dict:
        return {"algorithm": self.algorithm, "compare": self.compare, "combine": self.combine,
                "base_score": self.base_score, "depth": self.depth,
                **{k: getattr(self, k).tolist() for k in
                   ("roots", "feature", "threshold", "left", "right", "value")}}

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
class DeviceProfile:
    """A device's latency model plus what it was trained on and how well it does."""

    name: str
    title: str
    backend: str  # "gpu" (TFLite GPU delegate) | "cpu"
    runtime: str
    features: tuple[str, ...]
    base: dict
    correction: TreeEnsemble | None
    trained_range: dict  # kind → [max FLOPs, max bytes moved] among its training configurations
    interval: dict
    cpu_fallback: dict
    transfer: dict
    provenance: dict
    max_partitions: int = 1
    context: dict = field(default_factory=dict)  # in-network cost beyond a lone kernel's
    kernel_scale: float = 1.0  # whole model: learned kernels × this ...
    overhead_ms: float = 0.0  # ... + this per inference (what a list of kernels leaves out)
    device: dict = field(default_factory=dict)  # phone, SoC, GPU, API, precision

    @classmethod
    def from_dict(cls, d: dict, source: str = "<profile>") -> DeviceProfile:
        """A profile from its JSON form; `ProfileError` (naming ``source``) if it is not usable."""
        validate_profile(d, source)
        corr = d.get("correction")
        return cls(d["name"], d["title"], d["backend"], d["runtime"], tuple(d["features"]),
                   d["base"], TreeEnsemble.from_dict(corr) if corr else None,
                   d["trained_range"], d["interval"], d["cpu_fallback"], d["transfer"],
                   d["provenance"], int(d.get("max_partitions", 1)), d.get("context", {}),
                   float(d.get("kernel_scale", 1.0)), float(d.get("overhead_ms", 0.0)), d.get("device", {}))

    def to_dict(self) -> dict:
        return {"name": self.name, "title": self.title, "backend": self.backend,
                "runtime": self.runtime, "device": self.device, "max_partitions": self.max_partitions,
                "provenance": self.provenance, "features": list(self.features), "base": self.base,
                "trained_range": self.trained_range, "interval": self.interval,
                "cpu_fallback": self.cpu_fallback, "transfer": self.transfer,
                "context": self.context, "kernel_scale": self.kernel_scale, "overhead_ms": self.overhead_ms,
                "correction": self.correction.to_dict() if self.correction else None}

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_dict(), indent=None, separators=(",", ":")) + "\n")

    def base_ms(self, X: np.ndarray) -> np.ndarray:
        """Analytic cost per kernel: launch + weighted FLOPs + bytes moved."""
        return roofline(X, self.features, self.base)

    def in_range(self, X: np.ndarray, kinds: list[str]) -> np.ndarray:
        """Kernels whose kind was trained on and whose FLOPs and bytes stay within
        ``RANGE_SLACK`` × the largest trained configuration of that kind."""
        flops, moved = work(X, self.features)
        limit = np.array([self.trained_range.get(k, [-1.0, -1.0]) for k in kinds]).reshape(-1, 2)
        return (limit[:, 0] >= 0) & (flops <= RANGE_SLACK * limit[:, 0]) \
            & (moved <= RANGE_SLACK * limit[:, 1])

    def correction_factor(self, X: np.ndarray) -> np.ndarray:
        return correction_factor(self.correction, X)

    def context_ms(self, X: np.ndarray) -> np.ndarray:
        return context_ms(X, self.features, self.context)

    def fitted_kinds(self) -> set[str]:
        """Kernel kinds with a cost of their own: a learned correction or fitted coefficients."""
        return set(self.trained_range) | set(self.base.get("per_kind", {}))


def correction_factor(correction: TreeEnsemble | None, X: np.ndarray) -> np.ndarray:
    """The learned multiplicative correction per row, clipped to ×/÷ e^MAX_LOG_FACTOR."""
    if correction is None:
        return np.ones(X.shape[0])
    return np.exp(np.clip(correction.predict(X), -MAX_LOG_FACTOR, MAX_LOG_FACTOR))


def context_ms(X: np.ndarray, features: tuple[str, ...], context: dict) -> np.ndarray:
    """What each kernel costs inside a network beyond its lone measurement (zero without context)."""
    if not context:
        return np.zeros(X.shape[0])
    return X[:, features.index("bytes_weights")] * context["ms_per_weight_byte"] + context["ms_per_kernel"]


def work(X: np.ndarray, features: tuple[str, ...] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(FLOPs, bytes moved) per row."""
    col = {f: i for i, f in enumerate(features or FEATURES)}
    moved = X[:, col["bytes_in"]] + X[:, col["bytes_out"]] + X[:, col["bytes_weights"]]
    return X[:, col["flops"]], moved


def roofline(X: np.ndarray, features: tuple[str, ...], p: dict) -> np.ndarray:
    """``launch_ms + ms_per_flop·flops·relative_cost[kind] + ms_per_byte·bytes`` per row; kinds
    listed in ``p["per_kind"]`` use their own three coefficients instead."""
    col = {f: i for i, f in enumerate(features)}
    launch = np.full(X.shape[0], p["launch_ms"])
    per_flop = np.zeros(X.shape[0])
    per_byte = np.full(X.shape[0], p["ms_per_byte"])
    for kind in KINDS:
        rows = X[:, col[f"kind_{kind}"]] > 0
        launch[rows], per_flop[rows], per_byte[rows] = (kind_coefficients(p, kind)[k] for k in COEFFICIENTS)
    flops, moved = work(X, features)
    return launch + per_flop * flops + per_byte * moved


COEFFICIENTS = ("launch_ms", "ms_per_flop", "ms_per_byte")


def kind_coefficients(p: dict, kind: str) -> dict[str, float]:
    """One kernel kind's `COEFFICIENTS` in base ``p``: its own where fitted (``p["per_kind"]``), else
    the shared ones with the kind's relative FLOP cost."""
    own = p.get("per_kind", {}).get(kind)
    if own:
        return own
    return {"launch_ms": p["launch_ms"], "ms_per_flop": p["ms_per_flop"] * p["relative_flop_cost"].get(kind, 1.0),
            "ms_per_byte": p["ms_per_byte"]}


def _bundled_dir():
    return resources.files(__package__) / "profiles"


@cache
def device_names() -> tuple[str, ...]:
    """Names of the bundled device profiles, default first."""
    names = sorted(p.name[:-5] for p in _bundled_dir().iterdir() if p.name.endswith(".json"))
    return tuple(sorted(names, key=lambda n: n != DEFAULT_DEVICE))


@cache
def _load_bundled(name: str) -> DeviceProfile:
    return DeviceProfile.from_dict(json.loads((_bundled_dir() / f"{name}.json").read_text()), name)


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
    except (ValueError, RecursionError) as exc:
        raise ProfileError(str(path), f"not valid JSON ({type(exc).__name__}: {str(exc)[:80]})") from None
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
    if name not in device_names():
        team = [p.name[:-5] for folder in search_dirs if Path(folder).is_dir()
                for p in sorted(Path(folder).glob("*.json"))]
        raise UnknownDeviceError(text, [*team, *device_names(), *GPU_ALIASES])
    return _load_bundled(name)
