"""Which single-kernel models a `bench run` measures: the grid, zoo networks' layers, a seeded subset or
the kernels a forest trained on the database disagrees most about."""

from __future__ import annotations

import random

import numpy as np

from pytest_tflite_latency.bench import sampling
from pytest_tflite_latency.bench.measure import features_both
from pytest_tflite_latency.bench.progress import progress
from pytest_tflite_latency.estimator.errors import EstimatorError

DEFAULT_ZOO = ("mobilenet_v1", "mobilenet_v2", "resnet18")  # --from-models with no names


def kernel_types(text: str) -> tuple[str, ...]:
    """``--kernels conv,dwconv`` as kernel types; an unknown one is an `EstimatorError`."""
    types = tuple(t.strip() for t in text.split(",") if t.strip())
    unknown = set(types) - set(sampling.KERNEL_TYPES)
    if unknown:
        raise EstimatorError(f"--kernels: unknown kernel type(s) {', '.join(sorted(unknown))}; "
                             f"known: {', '.join(sampling.KERNEL_TYPES)}")
    return types


def plan_kernels(types: tuple[str, ...], grid: str, from_models: list[str] | None, *, limit: int | None = None,
                 adaptive: int | None = None, coverage: int | None = None, seed: int = 0, database=None,
                 device: str = "") -> list:
    """The kernel configurations to measure (`sampling.KernelConfig`)."""
    configs = sampling.grid(types, grid) if grid != "none" else []
    if from_models is not None:
        configs += [c for c in sampling.from_models(tuple(from_models) or DEFAULT_ZOO) if c.type in types]
    if adaptive:
        backend = database.device_info(device)["backend"]
        feats = {c.key: features_both(c.build())[backend][0][0]
                 for c in progress(configs, f"choosing {adaptive} of {len(configs)} kernels")}
        known = database.records(device, kind="kernel")
        X = np.vstack([r.X[0] for r in known]) if known else np.zeros((0, len(next(iter(feats.values())))))
        y = np.array([r.mean_ms for r in known])
        return sampling.adaptive(configs, X, y, feats, adaptive, seed)
    if coverage:  # the kernel-level calibration's set: spread evenly over the configurations' features
        from pytest_tflite_latency.bench.kernel_calibration import coverage as spread

        X = np.vstack([features_both(c.build())["gpu"][0][0]
                       for c in progress(configs, f"choosing {coverage} of {len(configs)} kernels")])
        return [configs[i] for i in sorted(spread(X, coverage, seed))]
    if limit is not None and len(configs) > limit:
        return random.Random(seed).sample(configs, limit)
    return configs
