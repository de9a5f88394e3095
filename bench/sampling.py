"""Which kernels to measure: a grid like the original study's, the layers of real networks, and
adaptive picks where the current regressor is least sure. Each becomes a single-kernel model."""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field

import numpy as np

from pytest_tflite_latency.bench import zoo
from pytest_tflite_latency.bench.writer import ModelWriter
from pytest_tflite_latency.estimator.graph import load_graph
from pytest_tflite_latency.estimator.kernels import group_kernels

KERNEL_TYPES = ("conv", "dwconv", "fc", "pool", "elementwise", "concat", "resize", "reduce", "softmax")


@dataclass(frozen=True)
class KernelConfig:
    """One kernel to measure: its type and parameters (input size, channels, kernel, ...)."""

    type: str
    params: dict = field(hash=False)

    @property
    def key(self) -> str:
        return f"{self.type}:{json.dumps(self.params, sort_keys=True)}"

    def build(self) -> bytes:
        """A `.tflite` model holding just this kernel."""
        p, m = self.params, ModelWriter(fill="random", seed=0, description=f"kernel {self.key}")
        if self.type == "fc":
            x = m.input((1, p["cin"]))
            return m.to_bytes([m.fully_connected(x, p["cout"], activation="relu")])
        if self.type == "softmax":
            return m.to_bytes([m.softmax(m.input((1, p["cin"])))])
        x = m.input((1, p["hw"], p["hw"], p["cin"]))
        if self.type == "conv":
            y = m.conv2d(x, p["cout"], p["k"], p["stride"], activation="relu")
        elif self.type == "dwconv":
            y = m.depthwise_conv2d(x, p["k"], p["stride"], activation="relu6")
        elif self.type == "pool":
            pool = m.max_pool if p.get("op") == "max" else m.avg_pool
            y = pool(x, p["k"], p["stride"], "SAME")
        elif self.type == "elementwise":
            y = m.add(x, m.input((1, p["hw"], p["hw"], p["cin"])), activation="relu")
        elif self.type == "concat":
            y = m.concat([x, m.input((1, p["hw"], p["hw"], p["cout"]))])
        elif self.type == "resize":
            y = m.resize(x, 2)
        elif self.type == "reduce":
            y = m.mean(x, (1, 2), keepdims=False)
        else:
            raise ValueError(f"unknown kernel type {self.type!r}; known: {', '.join(KERNEL_TYPES)}")
        return m.to_bytes([y])


def grid(types: tuple[str, ...] = KERNEL_TYPES, size: str = "full") -> list[KernelConfig]:
    """The study's grid: kernel 1/2/3/5, filters 16–256, input 8–64, channels 16–48, stride 1–3
    (``small`` keeps a corner of it for CI)."""
    small = size == "small"
    ks, strides = ((1, 3), (1, 2)) if small else ((1, 2, 3, 5), (1, 2, 3))
    hws, cins = ((8, 32), (16, 48)) if small else ((8, 16, 32, 64), (16, 32, 48))
    couts = (16, 64) if small else (16, 32, 64, 128, 256)
    out: list[KernelConfig] = []
    for t in types:
        if t == "conv":
            out += [KernelConfig(t, dict(hw=h, cin=c, cout=o, k=k, stride=s))
                    for h, c, o, k, s in itertools.product(hws, cins, couts, ks, strides)]
        elif t == "dwconv":
            out += [KernelConfig(t, dict(hw=h, cin=c * 2, k=k, stride=s))
                    for h, c, k, s in itertools.product(hws, cins, (3, 5) if not small else (3,), strides)]
        elif t == "pool":
            out += [KernelConfig(t, dict(hw=h, cin=c, k=k, stride=s, op=op)) for h, c, k, s, op in
                    itertools.product(hws, cins, (2, 3), strides[:2], ("avg", "max"))]
        elif t == "fc":
            out += [KernelConfig(t, dict(cin=c * 8, cout=o * 4)) for c, o in itertools.product(cins, couts)]
        elif t in ("elementwise", "resize", "reduce"):
            out += [KernelConfig(t, dict(hw=h, cin=c)) for h, c in itertools.product(hws, cins)]
        elif t == "concat":
            out += [KernelConfig(t, dict(hw=h, cin=c, cout=c)) for h, c in itertools.product(hws, cins)]
        elif t == "softmax":
            out += [KernelConfig(t, dict(cin=c * 20)) for c in cins]
    return out


def from_models(names: tuple[str, ...] = ("mobilenet_v1", "mobilenet_v2", "resnet18"),
                sizes: tuple[int, ...] = (96, 160, 224)) -> list[KernelConfig]:
    """The distinct conv / depthwise / pooling / FC / element-wise layers of real networks."""
    seen: dict[str, KernelConfig] = {}
    for name, size in itertools.product(names, sizes):
        graph = load_graph(zoo.build(name, size=size, fill="zeros"))
        for k in group_kernels(graph, "cpu").kernels:
            cfg = _config_of(k)
            if cfg is not None:
                seen.setdefault(cfg.key, cfg)
    return list(seen.values())


def _config_of(k) -> KernelConfig | None:
    if not k.inputs or k.output is None or (len(k.inputs[0].shape) != 4 and k.kind != "fc"):
        return None
    op = k.ops[0]
    if k.kind == "fc":
        return KernelConfig("fc", dict(cin=k.inputs[0].shape[-1], cout=k.output.shape[-1]))
    _, h, _, c = k.inputs[0].shape
    s = op.options.get("StrideH", 1)
    if k.kind in ("conv", "dwconv") and k.weights:
        kh = k.weights[0].shape[1]
        if k.kind == "conv":
            return KernelConfig("conv", dict(hw=h, cin=c, cout=k.output.shape[-1], k=kh, stride=s))
        return KernelConfig("dwconv", dict(hw=h, cin=c, k=kh, stride=s))
    if k.kind == "pool":
        kind = "max" if op.opcode == "MAX_POOL_2D" else "avg"
        return KernelConfig("pool", dict(hw=h, cin=c, k=op.options.get("FilterHeight", 2), stride=s, op=kind))
    if k.kind == "elementwise" and op.opcode == "ADD" and len(k.inputs) == 2:
        return KernelConfig("elementwise", dict(hw=h, cin=c))
    return None


def adaptive(candidates: list[KernelConfig], X_known: np.ndarray, y_known: np.ndarray,
             features: dict[str, np.ndarray], n: int, seed: int = 0) -> list[KernelConfig]:
    """The ``n`` candidates a random forest fitted on what is known disagrees on most
    (spread of its trees' log-latency predictions); random ones while too little is known."""
    rng = np.random.default_rng(seed)
    if len(y_known) < 10:
        return [candidates[i] for i in rng.permutation(len(candidates))[:n]]
    from sklearn.ensemble import RandomForestRegressor

    forest = RandomForestRegressor(n_estimators=50, min_samples_leaf=2, random_state=seed, n_jobs=1)
    forest.fit(X_known, np.log(y_known))
    Xc = np.vstack([features[c.key] for c in candidates])
    spread = np.std([t.predict(Xc) for t in forest.estimators_], axis=0)
    return [candidates[i] for i in np.argsort(-spread)[:n]]
