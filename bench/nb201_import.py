"""Import nn-Meter's published NAS-Bench-201 measurements into a measurement database."""

from __future__ import annotations

import hashlib
from pathlib import Path

from pytest_tflite_latency.bench.dataset import NB201_DEVICES, nb201_rows
from pytest_tflite_latency.bench.measure import features_both
from pytest_tflite_latency.bench.nasbench201 import build
from pytest_tflite_latency.bench.progress import progress
from pytest_tflite_latency.estimator.devices import PUBLISHED
from pytest_tflite_latency.estimator.errors import EstimatorError
from pytest_tflite_latency.measurement import Measurement

PUBLISHED_RUNTIME_VERSION = "2.1"  # nn-Meter measured with its own TensorFlow Lite 2.1 build


def import_nb201(database, path: Path) -> tuple[int, int]:
    """Store every network of ``path`` (measurements.csv) on each published device: (networks, devices)."""
    if not path.is_file():
        raise EstimatorError(f"{path}: no such file")
    spec = {d.column: d for d in PUBLISHED}
    ids = {c: database.device(c, "published", spec[c].backend, spec[c].runtime, PUBLISHED_RUNTIME_VERSION,
                              spec[c].title) for c in NB201_DEVICES}
    rows = nb201_rows(path)
    for row in progress(rows, "importing NAS-Bench-201"):
        data = build(row["arch_str"], fill="zeros")
        model_id = database.model(hashlib.sha256(data).hexdigest(), "model", "nasbench201",
                                  {"arch": row["arch_str"]}, f"nb201-{row['nb201_id']}", features_both(data))
        for column, (ms_column, _) in NB201_DEVICES.items():
            m = Measurement(float(row[ms_column]), float(row[ms_column.replace("_ms", "_std_ms")]), 0)
            database.record(ids[column], model_id, m)
    return len(rows), len(ids)
