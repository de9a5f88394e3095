"""A fixed-seed slice of the structure-aware fuzzer (`python -m pytest_tflite_latency.bench.fuzz` runs
thousands), and the invariant it checks as a property: whatever the input, the tool ends in a finite positive
estimate of a graph LiteRT accepts, or in one clear line."""

from __future__ import annotations

import numpy as np
import pytest

from pytest_tflite_latency.bench.fuzz import (
    SURFACES,
    figure_problem,
    fuzz,
    litert_refusal,
    mutate,
    seed_models,
    signature,
)
from pytest_tflite_latency.estimator.errors import EstimatorError, ModelError
from pytest_tflite_latency.estimator.graph import load_graph
from pytest_tflite_latency.estimator.pipeline import estimate

SLICE = range(120)


@pytest.fixture(scope="module")
def tally():
    return fuzz(SLICE, seed=0, timeout=8.0, memory_mb=1024, litert_every=0)


def test_fuzz_slice_of_models_and_profiles_has_no_crash_memory_blowup_or_untrustworthy_figure(tally):
    estimator = [f for f in tally.failures if " hang: " not in f and not f.split(": ", 1)[1].startswith(
        ("budget file:", "baseline:"))]
    assert estimator == []


def test_fuzz_slice_of_budget_and_baseline_files_has_no_crash(tally):
    assert [f for f in tally.failures if " hang: " not in f] == []


def test_fuzz_slice_never_hangs(tally):
    assert [f for f in tally.failures if " hang: " in f] == []


def test_fuzz_slice_reaches_every_surface_and_both_outcomes(tally):
    surfaces = {s for s, _ in tally.outcomes}
    assert surfaces == set(SURFACES)
    assert tally.count("estimated") > 0 and tally.count("error") > 0


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


def test_property_every_mutant_ends_in_an_estimate_litert_accepts_or_one_clear_line():
    """The invariant itself, on models the estimator accepts judged by the real runtime."""
    pytest.importorskip("ai_edge_litert")
    seeds = [s for s in seed_models() if not s.name.startswith(("densenet", "bagnet"))][:12]
    rng = np.random.default_rng(17)
    judged = 0
    for i in range(60):
        data, how = mutate(seeds[i % len(seeds)], rng)
        try:
            est = estimate(data, name=f"mutant{i}")
        except EstimatorError as exc:
            assert "\n" not in str(exc).strip(), how
            continue
        assert figure_problem(est) == "", how
        assert litert_refusal(data) == "", how
        judged += 1
    assert judged > 0
