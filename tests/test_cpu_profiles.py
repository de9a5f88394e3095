"""The CPU profiles' training side: device names, core sets, and the int8 twin of a float graph."""

from __future__ import annotations

import pytest

from pytest_tflite_latency.bench import cpu_profiles


@pytest.mark.parametrize(("phone", "precision", "cores", "name"), [
    ("pixel4", "float", "1large", "pixel4-cpu"), ("pixel4", "quant", "1large", "pixel4-cpu-int8"),
    ("s10", "float", "2med", "galaxys10-cpu-2med"), ("a03s", "quant", "4small", "galaxya03s-cpu-int8-4small")])
def test_profile_names_read_phone_precision_and_core_set(phone, precision, cores, name):
    assert cpu_profiles.profile_name(phone, precision, cores) == name


def test_core_sets_are_described_in_words():
    assert cpu_profiles.describe_cores("1large") == "one big core"
    assert cpu_profiles.describe_cores("1large2med") == "one big core + two mid cores"


@pytest.mark.skipif(not (cpu_profiles.qed.QED_DIR / "models.csv").is_file(), reason="shared data not present")
def test_core_sets_of_a_phone_start_with_the_default():
    sets = cpu_profiles.core_sets("pixel4")
    assert sets[0] == cpu_profiles.DEFAULT_CORES and "2med" in sets and "gpu" not in sets


def test_int8_twin_has_the_kernel_features_of_every_tensorflow_converted_int8_graph():
    agreement = cpu_profiles.int8_agreement()
    assert len(agreement) >= 2
    assert all(difference <= 1e-9 for _, difference in agreement), agreement


@pytest.mark.skipif(not (cpu_profiles.qed.QED_DIR / "models.csv").is_file(), reason="shared data not present")
def test_default_build_is_one_big_core_and_all_cores_adds_every_measured_core_set():
    default = cpu_profiles.wanted(None, all_cores=False)
    assert {cores for _, _, cores in default} == {"1large"} and len(default) == 12
    every = cpu_profiles.wanted(None, all_cores=True)
    assert ("pixel4", "quant", "2med") in every and ("iphone7", "float", "2large") in every
    assert cpu_profiles.wanted(["pixel4-cpu-2med"], all_cores=False) == [("pixel4", "float", "2med")]
