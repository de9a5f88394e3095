"""Train a device's latency model from measured records.

Two kinds of training data, one predictor (`estimator.predict`):

- Whole networks only (NAS-Bench-201, a phone's `bench run --models`): a three-parameter analytic
  base (launch, time per FLOP, time per byte, NNLS on relative errors); every distinct kernel
  configuration gets a latency so each network's kernels add up to its measurement; a tree regressor
  learns ``log(latency / base)``. Single-kernel records (`bench run`), when present, replace the
  solved latencies and whole networks then fit the in-network context.
- Kernels and whole networks of the same models (`fit_stock`, the shared qed-usc phones): per kind a
  base from the measured kernels, trees on ``log(kernel / base)``, then the whole model from the
  end-to-end column: a scale on the learned kernels, a per-inference overhead and the cost of the
  kernels the kernel list leaves out (stand-alone element-wise and layout kernels).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace

import numpy as np

from pytest_tflite_latency.bench.dataset import Record, runs_on
from pytest_tflite_latency.estimator.features import FEATURES, TREE_FEATURES, kinds_of
from pytest_tflite_latency.estimator.predict import kernel_ms, total_ms
from pytest_tflite_latency.estimator.profile import (
    COEFFICIENTS,
    MAX_LOG_FACTOR,
    DeviceProfile,
    Roofline,
    TreeEnsemble,
    roofline,
    roofline_terms,
    work,
)

ALGORITHMS = ("xgboost", "random_forest", "decision_tree")
# What the correction trees may read: the shape of the work only (estimator.features.TREE_FEATURES),
# or every feature, absolute sizes included. A stock profile cross-validates both.
TREE_FEATURE_SETS = {"shape": TREE_FEATURES, "all": FEATURES}
# FLOPs weight per kind in the shared roofline (a hand-set prior, not fitted: a depthwise FLOP costs more
# time than a dense one on a GPU, data movement dominates it; per-kind bases replace this wherever a kind
# has MIN_KIND_KERNELS measured kernels, which every stock profile has for conv and dwconv).
RELATIVE_FLOP_COST = {"conv": 1.0, "fc": 1.0, "convtrans": 1.5, "dwconv": 4.0, "pool": 1.0,
                      "reduce": 1.0, "elementwise": 1.0, "resize": 1.0, "softmax": 1.0,
                      "other": 1.0, "concat": 0.0, "layout": 0.0, "transfer": 0.0}
# Hand-set when the trainer was written and kept since (the bundled profiles were trained with them;
# `python -m pytest_tflite_latency.bench.profiles --check` holds them to it):
PRIOR_PULL = 0.02  # weight of "stay near the base cost" against one record's relative error
MIN_KIND_KERNELS = 5  # a kind gets base coefficients of its own from this many measured kernels
MIN_LAUNCH_MS = 1e-4  # a fitted launch cost of zero becomes this, so every kernel's base stays positive
MIN_TARGET_MS = 1e-6  # a measurement read as zero is taken as this (relative errors divide by it)
XGB_REG_LAMBDA = 1e-3  # XGBoost's L2 on leaf values: near zero, the relative-error weights regularise
FOREST_TREES = 100  # random forest size (scikit-learn's default)
# Copies between GPU and CPU memory at a partition boundary: a prior, not fitted (no shared
# measurement ran partly on the CPU): 0.1 ms synchronisation + 2 GB/s.
TRANSFER = {"launch_ms": 0.1, "ms_per_flop": 0.0, "ms_per_byte": 5e-7, "relative_flop_cost": {}}


@dataclass
class Fit:
    """What training learned; `profile` turns it into the `DeviceProfile` the estimator serves."""

    base: dict
    correction: TreeEnsemble | None
    trained_range: dict[str, list[float]]  # kind → [max FLOPs, max bytes moved] of its configs
    context: dict = field(default_factory=dict)  # in-network cost a lone kernel does not pay
    kernel_scale: float = 1.0
    overhead_ms: float = 0.0

    def profile(self, backend: str, cpu_fallback: dict | None = None, **meta) -> DeviceProfile:
        """The servable profile; ``meta`` sets name, title, runtime, interval, provenance, device."""
        return DeviceProfile(
            meta.get("name", "trained"), meta.get("title", "trained"), backend, meta.get("runtime", ""),
            FEATURES, self.base, self.correction, self.trained_range,
            meta.get("interval", {"low": 0.0, "high": 0.0, "coverage": 0.0}), cpu_fallback or self.base,
            TRANSFER, meta.get("provenance", {}), context=self.context, kernel_scale=self.kernel_scale,
            overhead_ms=self.overhead_ms, device=meta.get("device", {}))


def predict(records: list[Record], profile: DeviceProfile) -> np.ndarray:
    """Each record's latency as `estimate` predicts it: kernels (single-kernel records) or whole
    models (plus the per-inference overhead)."""
    out = np.zeros(len(records))
    for i, r in enumerate(records):
        out[i] = total_ms(profile, r.X, runs_on(r, profile.backend))
        if r.kind == "kernel":
            out[i] -= profile.overhead_ms
    return out


def _learned(records: list[Record]) -> tuple[np.ndarray, np.ndarray]:
    """All learned kernels stacked, and the record each belongs to."""
    X = np.vstack([r.X[r.learned] for r in records])
    owner = np.concatenate([np.full(int(r.learned.sum()), i) for i, r in enumerate(records)])
    return X, owner


def _targets(records: list[Record]) -> np.ndarray:
    return np.array([max(r.y_ms, MIN_TARGET_MS) for r in records])


def _nnls_relative(A: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Non-negative coefficients minimising the relative errors of ``A @ coef`` against ``y``."""
    from scipy.optimize import nnls

    W = A / y[:, None]
    scale = np.abs(W).max(axis=0) + 1e-30
    coef, _ = nnls(W / scale, np.ones(len(y)))
    return coef / scale


def _roofline_terms(X: np.ndarray, winograd: bool = False) -> np.ndarray:
    return np.column_stack(roofline_terms(X, FEATURES, winograd))


def fit_base(records: list[Record]) -> dict:
    """Launch overhead, ms per FLOP and ms per byte, by NNLS on relative errors."""
    X, owner = _learned(records)
    cols = []
    for key in COEFFICIENTS:
        p = {**dict.fromkeys(COEFFICIENTS, 0.0), key: 1.0, "relative_flop_cost": RELATIVE_FLOP_COST}
        cols.append(np.bincount(owner, roofline(X, FEATURES, p), minlength=len(records)))
    coef = _nnls_relative(np.column_stack(cols), _targets(records))
    base = {**dict(zip(COEFFICIENTS, map(float, coef), strict=True)), "relative_flop_cost": RELATIVE_FLOP_COST}
    base["launch_ms"] = base["launch_ms"] or MIN_LAUNCH_MS
    return base


def kernel_latencies(records: list[Record], base: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct kernel configurations, their solved latency (ms) and how often they occur."""
    from scipy.optimize import lsq_linear
    from scipy.sparse import csr_matrix, diags, vstack

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
    from scipy.optimize import lsq_linear

    rows, residual = [], []
    plain = f.profile("gpu")
    for r in networks:
        X = r.X[r.learned]
        rows.append([X[:, FEATURES.index("bytes_weights")].sum(), len(X)])
        residual.append(r.y_ms - kernel_ms(plain, X, np.full(len(X), "GPU"))[0].sum())
    y = np.array([r.y_ms for r in networks])
    A = np.array(rows) / y[:, None]
    scale = np.abs(A).max(axis=0) + 1e-30
    coef = lsq_linear(A / scale, np.array(residual) / y, bounds=([0, -np.inf], [np.inf, np.inf])).x / scale
    return {"ms_per_weight_byte": float(coef[0]), "ms_per_kernel": float(coef[1])}


def fit_stock(kernels: list[Record], networks: list[Record], algorithm: str = "xgboost", seed: int = 0,
              tree_features: str = "shape", winograd: bool = False) -> Fit:
    """Kernel model from measured kernels (trees on one of `TREE_FEATURE_SETS`), whole-model
    composition from end-to-end measurements; ``winograd``: the device's delegate runs Winograd
    convolutions (`Roofline.winograd`)."""
    f = fit_kernel_model(kernels, algorithm, seed, tree_features, winograd)
    compose(f, networks)
    return f


def fit_kernel_model(kernels: list[Record], algorithm: str = "xgboost", seed: int = 0,
                     tree_features: str = "shape", winograd: bool = False) -> Fit:
    """`fit_stock`'s kernel model alone: per-kind bases and trees, not yet composed into whole models."""
    X = np.vstack([r.X for r in kernels])
    y = np.array([r.y_ms for r in kernels])
    base = fit_kind_base(X, y, winograd)
    correction = fit_trees(X, np.log(y / roofline(X, FEATURES, base)), np.ones(len(y)), algorithm, seed,
                           "measured", TREE_FEATURE_SETS[tree_features])
    return Fit(base, correction, trained_range(X))


def fit_kind_base(X: np.ndarray, y: np.ndarray, winograd: bool = False) -> dict:
    """A roofline for all kernels, and one per kind with at least `MIN_KIND_KERNELS` measured;
    ``winograd``: the device's delegate runs the kernels its Winograd rule selects as Winograd
    convolutions: they get coefficients of their own where measured (`winograd_kernels`), else count
    the work of a Winograd convolution (the prior, for training data without them)."""
    measured = winograd and bool((X[:, FEATURES.index("winograd")] > 0).any())
    terms = _roofline_terms(X, winograd and not measured)  # measured: they get their own coefficients
    coef = _nnls_relative(terms, y)
    base = {**dict(zip(COEFFICIENTS, map(float, coef), strict=True)), "relative_flop_cost": RELATIVE_FLOP_COST}
    base["launch_ms"] = base["launch_ms"] or MIN_LAUNCH_MS
    kinds = np.array(kinds_of(X))
    per_kind = {}
    for kind in sorted(set(kinds)):
        rows = kinds == kind
        if rows.sum() >= MIN_KIND_KERNELS:
            c = _nnls_relative(terms[rows], y[rows])
            per_kind[kind] = {"launch_ms": float(c[0]) or MIN_LAUNCH_MS, "ms_per_flop": float(c[1]),
                              "ms_per_byte": float(c[2])}
    base = {**base, "per_kind": per_kind}
    return {**base, "winograd": True, **winograd_kernels(X, y, base)} if winograd else base


def winograd_kernels(X: np.ndarray, y: np.ndarray, base: dict) -> dict:
    """Coefficients of their own for the kernels the delegate's Winograd rule selects: the conv kind's
    times how much faster or slower than a direct convolution's price they measured (the geometric
    mean over those measured). With none measured, nothing: the base's Winograd flag then prices them
    as Winograd work (`Roofline.winograd`). The rule selects kernels of few families (on the shared CNNs
    114 of 116 are ResNets'), so a family left out of training can leave two of them; on the four
    Winograd phones, ResNets left out, this measured factor beat the Winograd-work prior (leave-family-out
    within ±10%: Galaxy S10 88.4% against 85.5%, the others equal or better)."""
    rows = X[:, FEATURES.index("winograd")] > 0
    if not rows.any():
        return {}
    conv = Roofline.of(base).coefficients("conv").to_dict()
    ratio = y[rows] / roofline(X[rows], FEATURES, base)
    factor = float(np.exp(np.clip(np.mean(np.log(np.maximum(ratio, MIN_TARGET_MS))), -MAX_LOG_FACTOR, MAX_LOG_FACTOR)))
    return {"winograd_kernels": {k: v * factor for k, v in conv.items()}}


def compose(f: Fit, networks: list[Record]) -> None:
    """Fit ``kernel_scale``, ``overhead_ms``, a dispatch cost per delegated kernel and a roofline for
    the kinds no kernel measurement covers, so each network's estimate matches its end-to-end
    measurement (NNLS, relative errors). The new coefficients are set on ``f``.

    The dispatch cost is what a kernel costs a network beyond the GPU time its profiled row reports
    (enqueueing it; served as ``context.ms_per_kernel``). Without it the PowerVR GE8320 (Galaxy A03s)
    charged every model the same per-inference overhead although its measured end-to-end times exceed
    their kernels' sums by 4 ms on a 28-kernel MobileNet V1 and 8 ms on a 77-kernel MobileNet V3: fitted,
    it costs 68 µs a kernel there and leave-family-out within ±10% went from 76.8% to 92.8%
    (`bench.build_profiles`'s figures)."""
    plain = f.profile("gpu")
    trained = list(f.trained_range)
    rows = []
    for r in networks:
        X = r.X[r.learned]
        kinds = np.array(kinds_of(X))
        mine = np.isin(kinds, trained)
        learned = kernel_ms(plain, X[mine], np.full(int(mine.sum()), "GPU"))[0].sum()
        _, moved = work(X[~mine])
        rows.append([learned, 1.0, float((~mine).sum()), float(moved.sum()), float(len(X))])
    coef = _nnls_relative(np.array(rows), _targets(networks))
    f.kernel_scale, f.overhead_ms = float(coef[0]) or 1.0, float(coef[1])
    f.context = {"ms_per_weight_byte": 0.0, "ms_per_kernel": float(coef[4])} if coef[4] > 0 else {}
    left_out = sorted({k for r in networks for k in kinds_of(r.X[r.learned])} - set(trained))
    own = {"launch_ms": float(coef[2]) or MIN_LAUNCH_MS, "ms_per_flop": 0.0, "ms_per_byte": float(coef[3])}
    f.base = {**f.base, "per_kind": {**f.base.get("per_kind", {}), **dict.fromkeys(left_out, own)}}


def trained_range(configs: np.ndarray) -> dict[str, list[float]]:
    """Per kernel kind seen in training, the largest FLOPs and bytes moved of its configurations."""
    flops, moved = work(configs)
    out = {}
    for j, name in enumerate(FEATURES):
        mask = configs[:, j] > 0 if name.startswith("kind_") else None
        if mask is not None and mask.any():
            out[name.removeprefix("kind_")] = [float(flops[mask].max()), float(moved[mask].max())]
    return out


# Tree settings: solved per-configuration latencies are fitted closely; measured kernels are noisy
# and judged on families they never saw, so they get shallower-leaved, subsampled ensembles.
TREE_SETTINGS = {
    "solved": {"xgboost": {"n_estimators": 200, "max_depth": 6, "learning_rate": 0.1, "subsample": 1.0,
                           "colsample_bytree": 1.0, "min_child_weight": 0.0},
               "random_forest": {"min_samples_leaf": 1, "max_features": 0.6}, "decision_tree": {}},
    "measured": {"xgboost": {"n_estimators": 300, "max_depth": 8, "learning_rate": 0.05, "subsample": 0.8,
                             "colsample_bytree": 0.8, "min_child_weight": 2.0},
                 "random_forest": {"min_samples_leaf": 2, "max_features": 0.5},
                 "decision_tree": {"min_samples_leaf": 3}},
}


def fit_trees(X: np.ndarray, y: np.ndarray, w: np.ndarray, algorithm: str, seed: int,
              settings: str = "solved", tree_features: tuple[str, ...] = TREE_FEATURES) -> TreeEnsemble:
    """Fit one of ALGORITHMS on the ``tree_features`` columns of X and export it as a `TreeEnsemble`
    that reads whole feature rows."""
    columns = np.array([FEATURES.index(name) for name in tree_features])
    trees = _fit_trees(X[:, columns], y, w, algorithm, seed, settings)
    return replace(trees, feature=np.where(trees.feature >= 0, columns[np.maximum(trees.feature, 0)], -1))


def _fit_trees(X: np.ndarray, y: np.ndarray, w: np.ndarray, algorithm: str, seed: int,
               settings: str) -> TreeEnsemble:
    if algorithm not in ALGORITHMS:
        raise ValueError(f"unknown algorithm {algorithm!r}; choose from {', '.join(ALGORITHMS)}")
    options = TREE_SETTINGS[settings][algorithm]
    if algorithm == "xgboost":
        import xgboost as xgb

        model = xgb.XGBRegressor(**options, reg_lambda=XGB_REG_LAMBDA, tree_method="exact", random_state=seed, n_jobs=1,
                                 base_score=0.0)
        model.fit(X, y, sample_weight=w)
        return export_xgboost(model.get_booster())
    if algorithm == "random_forest":
        from sklearn.ensemble import RandomForestRegressor

        model = RandomForestRegressor(n_estimators=FOREST_TREES, **options, random_state=seed, n_jobs=1)
    else:
        from sklearn.tree import DecisionTreeRegressor

        model = DecisionTreeRegressor(**options, random_state=seed)
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
