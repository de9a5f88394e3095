"""Train a device's latency model from measured records.

1. Base: a three-parameter analytic cost per kernel (launch overhead, time per FLOP, time per
   byte), fitted by non-negative least squares on the records' relative errors.
2. Kernel latencies: every distinct kernel configuration gets a latency such that each record's
   kernels add up to its measurement (bounded least squares over relative errors, lightly pulled
   toward the base cost so configurations the records cannot tell apart stay sensible).
3. Correction: a tree regressor learns ``log(latency / base)`` from the kernel features, weighted by
   how often each configuration occurs, so unseen configurations get a learned, smooth factor.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np
from pytest_tflite_latency.bench.dataset import Record
from pytest_tflite_latency.estimator.features import FEATURES
from pytest_tflite_latency.estimator.profile import (
    MAX_LOG_FACTOR,
    TreeEnsemble,
    context_ms,
    correction_factor,
    roofline,
    work,
)
from scipy.optimize import lsq_linear, nnls
from scipy.sparse import csr_matrix, diags, vstack

ALGORITHMS = ("xgboost", "random_forest", "decision_tree")
RELATIVE_FLOP_COST = {"conv": 1.0, "fc": 1.0, "convtrans": 1.5, "dwconv": 4.0, "pool": 1.0,
                      "reduce": 1.0, "elementwise": 1.0, "resize": 1.0, "softmax": 1.0,
                      "other": 1.0, "concat": 0.0, "layout": 0.0, "transfer": 0.0}
PRIOR_PULL = 0.02  # weight of "stay near the base cost" against one record's relative error


@dataclass
class Fit:
    base: dict
    correction: TreeEnsemble
    trained_range: dict[str, list[float]]  # kind → [max FLOPs, max bytes moved] of its configs
    context: dict = field(default_factory=dict)  # in-network cost a lone kernel does not pay


def _learned(records: list[Record]) -> tuple[np.ndarray, np.ndarray]:
    """All learned kernels stacked, and the record each belongs to."""
    X = np.vstack([r.X[r.learned] for r in records])
    owner = np.concatenate([np.full(int(r.learned.sum()), i) for i, r in enumerate(records)])
    return X, owner


def _targets(records: list[Record]) -> np.ndarray:
    return np.array([max(r.y_ms - r.fixed_ms, 1e-6) for r in records])


def fit_base(records: list[Record]) -> dict:
    """Launch overhead, ms per FLOP and ms per byte, by NNLS on relative errors."""
    X, owner = _learned(records)
    unit = {"launch_ms": 1.0, "ms_per_flop": 0.0, "ms_per_byte": 0.0,
            "relative_flop_cost": RELATIVE_FLOP_COST}
    cols = []
    for key in ("launch_ms", "ms_per_flop", "ms_per_byte"):
        p = {**{k: 0.0 for k in ("launch_ms", "ms_per_flop", "ms_per_byte")}, key: 1.0,
             "relative_flop_cost": RELATIVE_FLOP_COST}
        cols.append(np.bincount(owner, roofline(X, FEATURES, p), minlength=len(records)))
    y = _targets(records)
    A = np.column_stack(cols) / y[:, None]
    scale = A.max(axis=0) + 1e-30
    coef, _ = nnls(A / scale, np.ones(len(y)))
    coef = coef / scale
    unit.update(launch_ms=float(coef[0]), ms_per_flop=float(coef[1]), ms_per_byte=float(coef[2]))
    if unit["launch_ms"] == 0.0:  # keep every kernel's base strictly positive
        unit["launch_ms"] = 1e-4
    return unit


def kernel_latencies(records: list[Record], base: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct kernel configurations, their solved latency (ms) and how often they occur."""
    X, owner = _learned(records)
    configs, inverse, counts = np.unique(X, axis=0, return_inverse=True, return_counts=True)
    inverse = inverse.ravel()
    y = _targets(records)
    A = csr_matrix((np.ones(len(owner)) / y[owner], (owner, inverse)),
                   shape=(len(records), len(configs)))
    b0 = roofline(configs, FEATURES, base)
    pull = PRIOR_PULL * np.sqrt(counts / counts.max())
    M = vstack([A, diags(pull / b0)]).tocsr()
    rhs = np.concatenate([np.ones(len(records)), pull])
    sol = lsq_linear(M, rhs, bounds=(b0 * np.exp(-MAX_LOG_FACTOR), b0 * np.exp(MAX_LOG_FACTOR)),
                     lsmr_tol="auto", tol=1e-10, max_iter=5000)
    return configs, sol.x, counts


def fit(records: list[Record], algorithm: str = "xgboost", seed: int = 0) -> Fit:
    """Base cost plus tree correction from single-kernel records (or, with none, from whole
    networks); with both, whole networks fit the in-network context on top."""
    kernels = [r for r in records if r.kind == "kernel"]
    networks = [r for r in records if r.kind != "kernel"]
    learn_from = kernels or networks
    base = fit_base(learn_from)
    configs, latency, counts = kernel_latencies(learn_from, base)
    target = np.log(latency / roofline(configs, FEATURES, base))
    correction = fit_trees(configs, target, counts.astype(float), algorithm, seed)
    f = Fit(base, correction, trained_range(configs))
    if kernels and networks:
        f.context = fit_context(networks, f)
    return f


def fit_context(networks: list[Record], f: Fit) -> dict:
    """What a kernel costs inside a network beyond its lone measurement: ``ms_per_weight_byte``
    (weights no longer cache-hot, ≥ 0) and ``ms_per_kernel`` (either sign: a lone kernel may pay
    fixed costs a network shares), by least squares on relative residuals."""
    rows, residual = [], []
    for r in networks:
        X = r.X[r.learned]
        rows.append([X[:, FEATURES.index("bytes_weights")].sum(), len(X)])
        residual.append(r.y_ms - r.fixed_ms - _kernel_ms(X, f).sum())
    y = np.array([r.y_ms for r in networks])
    A = np.array(rows) / y[:, None]
    scale = np.abs(A).max(axis=0) + 1e-30
    coef = lsq_linear(A / scale, np.array(residual) / y, bounds=([0, -np.inf], [np.inf, np.inf])).x / scale
    return {"ms_per_weight_byte": float(coef[0]), "ms_per_kernel": float(coef[1])}


def _kernel_ms(X: np.ndarray, f: Fit) -> np.ndarray:
    return roofline(X, FEATURES, f.base) * correction_factor(f.correction, X)


def trained_range(configs: np.ndarray) -> dict[str, list[float]]:
    """Per kernel kind seen in training, the largest FLOPs and bytes moved of its configurations."""
    flops, moved = work(configs)
    out = {}
    for j, name in enumerate(FEATURES):
        mask = configs[:, j] > 0 if name.startswith("kind_") else None
        if mask is not None and mask.any():
            out[name.removeprefix("kind_")] = [float(flops[mask].max()), float(moved[mask].max())]
    return out


def predict(records: list[Record], f: Fit) -> np.ndarray:
    """Predicted latency of each record (learned kernels plus the record's fixed part)."""
    X, owner = _learned(records)
    ms = _kernel_ms(X, f)
    networks = np.array([records[i].kind != "kernel" for i in owner], bool)
    ms[networks] += context_ms(X[networks], FEATURES, f.context)
    return np.bincount(owner, ms, minlength=len(records)) + np.array([r.fixed_ms for r in records])


def fit_trees(X: np.ndarray, y: np.ndarray, w: np.ndarray, algorithm: str, seed: int) -> TreeEnsemble:
    """Fit one of ALGORITHMS and export it as a `TreeEnsemble`."""
    if algorithm == "xgboost":
        import xgboost as xgb

        model = xgb.XGBRegressor(n_estimators=200, max_depth=6, learning_rate=0.1, subsample=1.0,
                                 min_child_weight=0.0, reg_lambda=1e-3, tree_method="exact",
                                 random_state=seed, n_jobs=1, base_score=0.0)
        model.fit(X, y, sample_weight=w)
        return export_xgboost(model.get_booster())
    if algorithm == "random_forest":
        from sklearn.ensemble import RandomForestRegressor

        model = RandomForestRegressor(n_estimators=100, min_samples_leaf=1, max_features=0.6,
                                      random_state=seed, n_jobs=1)
    elif algorithm == "decision_tree":
        from sklearn.tree import DecisionTreeRegressor

        model = DecisionTreeRegressor(random_state=seed)
    else:
        raise ValueError(f"unknown algorithm {algorithm!r}; choose from {', '.join(ALGORITHMS)}")
    model.fit(X, y, sample_weight=w)
    trees = getattr(model, "estimators_", [model])
    return export_sklearn([t.tree_ for t in trees], algorithm)


def export_xgboost(booster) -> TreeEnsemble:
    """Flatten an XGBoost booster from its JSON model (exact float32 split values)."""
    model = json.loads(booster.save_raw("json"))["learner"]
    base = model["learner_model_param"]["base_score"].strip("[]")
    trees = model["gradient_booster"]["model"]["trees"]
    parts = []
    for t in trees:
        left, right = np.array(t["left_children"]), np.array(t["right_children"])
        leaf = left < 0
        parts.append((np.where(leaf, -1, t["split_indices"]), np.array(t["split_conditions"]),
                      left, right, np.array(t["split_conditions"])))
    return _flatten(parts, "xgboost", "lt", "sum", float(np.float32(base)), np.float32)


def export_sklearn(trees, algorithm: str) -> TreeEnsemble:
    parts = []
    for t in trees:
        leaf = t.children_left < 0
        parts.append((np.where(leaf, -1, t.feature), t.threshold, t.children_left,
                      t.children_right, t.value[:, 0, 0]))
    return _flatten(parts, algorithm, "le", "mean", 0.0, np.float64)


def _flatten(parts, algorithm, compare, combine, base_score, dtype) -> TreeEnsemble:
    roots, feats, thr, lefts, rights, vals, depth = [], [], [], [], [], [], 0
    offset = 0
    for feature, threshold, left, right, value in parts:
        n = len(feature)
        leaf = feature < 0
        idx = np.arange(n)
        roots.append(offset)
        feats.append(feature)
        thr.append(np.where(leaf, 0, threshold))
        lefts.append(np.where(leaf, idx, left) + offset)
        rights.append(np.where(leaf, idx, right) + offset)
        vals.append(np.where(leaf, value, 0))
        depth = max(depth, _depth(left, right))
        offset += n
    cat = np.concatenate
    return TreeEnsemble(algorithm, compare, combine, base_score, np.array(roots), cat(feats),
                        cat(thr).astype(dtype), cat(lefts), cat(rights), cat(vals).astype(dtype),
                        depth)


def _depth(left, right) -> int:
    depth, frontier = 0, [0]
    while frontier:
        frontier = [c for n in frontier for c in (left[n], right[n]) if c >= 0]
        depth += 1 if frontier else 0
    return depth
