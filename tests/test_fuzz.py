"""A fixed-seed slice of the structure-aware fuzzer: `python -m pytest_tflite_latency.bench.fuzz` runs thousands."""

from __future__ import annotations

import numpy as np
import pytest

from pytest_tflite_latency.bench.fuzz import fuzz, mutate, seed_models, signature
from pytest_tflite_latency.estimator.errors import ModelError
from pytest_tflite_latency.estimator.graph import load_graph


@pytest.fixture(scope="module")
def tally():
    return fuzz(range(80), seed=0, timeout=8.0, memory_mb=1024)


def test_fuzz_slice_has_no_crash_and_no_untrustworthy_figure(tally):
    assert [f for f in tally.failures if " hang: " not in f] == []
    assert tally.outcomes["estimated"] > 0 and tally.outcomes["error"] > 0


def test_fuzz_slice_never_hangs(tally):
    assert [f for f in tally.failures if " hang: " in f] == []


def test_mutations_change_the_graph_the_estimator_sees():
    seeds = seed_models()
    rng = np.random.default_rng(0)
    changed = 0
    for i in range(100):
        seed = seeds[i % len(seeds)]
        data, _ = mutate(seed, rng)
        try:
            changed += signature(load_graph(data)) != seed.signature
        except ModelError:
            changed += 1
    assert changed >= 80
