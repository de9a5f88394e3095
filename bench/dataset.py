"""Training records: a model's kernels (features) with its measured latency.

A record is either a whole model (its latency is the sum of its kernels) or a single kernel
(`bench run` measurements). The shared NAS-Bench-201 set gives whole-model records: each network
is written with the project's own model writer and read back through the estimator's pipeline,
exactly as a user's model would be.
"""

from __future__ import annotations

import csv
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pytest_tflite_latency.bench import nasbench201
from pytest_tflite_latency.estimator.devices import PUBLISHED
from pytest_tflite_latency.estimator.features import FEATURES, featurize
from pytest_tflite_latency.estimator.graph import Graph, load_graph
from pytest_tflite_latency.estimator.kernels import group_kernels
from pytest_tflite_latency.estimator.predict import learned_side

# The measurement tables the profiles learn from, committed with their provenance and licences in
# bench/data/; TFLITE_LATENCY_SHARED names another folder whose data/ holds the same layout.
SHARED = Path(os.environ.get("TFLITE_LATENCY_SHARED") or Path(__file__).resolve().parent)
DATA_DIR = SHARED / "data"
NB201_CSV = DATA_DIR / "nnmeter-nasbench201" / "measurements.csv"
# published device column → (measurements.csv column, backend), from estimator/devices.py
NB201_DEVICES = {d.column: (f"{d.column}_ms", d.backend) for d in PUBLISHED}


@dataclass
class Record:
    """Kernels of one measured model (or one kernel) and its latency in ms."""

    name: str
    X: np.ndarray  # kernels × features
    y_ms: float
    learned: np.ndarray  # bool per kernel: predicted by the learned part (not CPU fallback/copy)
    kind: str = "model"  # "kernel": a single-kernel model; "model": a whole network


def runs_on(record: Record, backend: str) -> np.ndarray:
    """Where each kernel of a record runs: learned kernels on the profile's side, the rest on the
    CPU, copies as copies."""
    side = learned_side(backend)
    copies = record.X[:, FEATURES.index("kind_transfer")] > 0
    return np.where(record.learned, side, np.where(copies, "copy", "CPU"))


def model_features(data: bytes | str | Path | Graph, backend: str) -> tuple[np.ndarray, np.ndarray]:
    """(features, learned-mask) of a model (its file, bytes or parsed graph), through the estimator's own
    graph → kernels → features."""
    kg = group_kernels(data if isinstance(data, Graph) else load_graph(data), backend)
    X = featurize(kg.kernels, backend)
    learned = np.array([k.runs_on == ("GPU" if backend == "gpu" else "CPU") for k in kg.kernels])
    return X, learned


def nb201_rows(path: Path = NB201_CSV) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def nb201_records(devices: list[str], path: Path = NB201_CSV, progress=None) -> dict[str, list[Record]]:
    """Whole-model records of every NAS-Bench-201 network, per device."""
    rows = nb201_rows(path)
    out: dict[str, list[Record]] = {d: [] for d in devices}
    backends = {NB201_DEVICES[d][1] for d in devices}
    for row in progress(rows) if progress else rows:
        graph_bytes = nasbench201.build(row["arch_str"], fill="zeros")
        feats = {b: model_features(graph_bytes, b) for b in backends}
        for d in devices:
            column, backend = NB201_DEVICES[d]
            X, learned = feats[backend]
            out[d].append(Record(f"nb201-{row['nb201_id']}", X, float(row[column]), learned))
    return out
