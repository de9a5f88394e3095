"""The measurement loop: measure each job not yet stored, storing each result or error as it comes."""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from pytest_tflite_latency.bench.dataset import model_features
from pytest_tflite_latency.bench.progress import progress

MAX_CONSECUTIVE_FAILURES = 5  # a phone that fails this often in a row has gone away: stop, resume later


@dataclass(frozen=True)
class Job:
    """One model to measure: a single kernel (``kind="kernel"``) or a whole network."""

    kind: Literal["kernel", "model"]
    kernel_type: str  # the sampler's kernel type, or "model"/"nasbench201" for networks
    params: dict
    name: str
    build: Callable[[], bytes] = field(repr=False)


@dataclass
class Counts:
    measured: int = 0
    skipped: int = 0  # already in the database
    failed: int = 0
    stopped: bool = False  # after MAX_CONSECUTIVE_FAILURES failures in a row


def features_both(data: bytes) -> dict:
    """The model's (features, learned mask) for each backend, as the database stores them."""
    return {b: model_features(data, b) for b in ("gpu", "cpu")}


def measure_jobs(database, runner, device_id: int, jobs: list[Job], label: str) -> Counts:
    """Measure each job not yet stored, storing each result or error as it comes; stops after
    `MAX_CONSECUTIVE_FAILURES` failures in a row."""
    from pytest_tflite_latency.adb import DeviceError  # the runners' one error type

    counts = Counts()
    failures_in_a_row = 0
    for job in progress(jobs, label):
        data = job.build()
        sha = hashlib.sha256(data).hexdigest()
        model_id = database.model(sha, job.kind, job.kernel_type, job.params, job.name, features_both(data))
        if database.done(device_id, model_id):
            counts.skipped += 1
            continue
        try:
            database.record(device_id, model_id, runner.measure(data, sha[:16]))
            counts.measured += 1
            failures_in_a_row = 0
        except DeviceError as exc:
            database.record(device_id, model_id, error=str(exc))
            counts.failed += 1
            failures_in_a_row += 1
            print(f"\n{job.name}: {exc}", file=sys.stderr)
            if failures_in_a_row >= MAX_CONSECUTIVE_FAILURES:
                counts.stopped = True
                break
    return counts
