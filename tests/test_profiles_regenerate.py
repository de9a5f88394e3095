"""The bundled profiles regenerate from the shared measurements: the same trees and structure, every
number within `profiles.RTOL` (one profile here: the whole set takes minutes,
`python -m pytest_tflite_latency.bench.profiles --check`). Bit for bit holds only on the CPU and BLAS
that built them (`--check --exact`)."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pytest

from pytest_tflite_latency.bench import build_profiles as profiles
from pytest_tflite_latency.bench import qed
from pytest_tflite_latency.bench.dataset import NB201_CSV

CONSTRAINTS = Path(__file__).resolve().parents[1] / "bench" / "constraints.txt"


def _unpinned() -> list[str]:
    """Installed training libraries whose version is not the pinned one (a pin constrains only what is
    installed: xgboost-cpu and xgboost are one library, either may be there)."""
    out = []
    for line in CONSTRAINTS.read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, wanted = line.split("==")
            try:
                have = version(name)
            except PackageNotFoundError:
                continue
            if have != wanted:
                out.append(f"{name} {have} (pinned {wanted})")
    return out


def test_a_bundled_stock_profile_regenerates_within_tolerance(capsys):
    """The served predictor rebuilt from the tables (`--served-only`: the five candidates it beat are not
    cross-validated again; `python -m pytest_tflite_latency.bench.profiles --check` does that)."""
    if not (NB201_CSV.is_file() and (qed.QED_DIR / "models.csv").is_file()):
        pytest.skip(f"the measurement tables are missing from {NB201_CSV.parents[1]}")
    if unpinned := _unpinned():
        pytest.skip(f"training libraries differ from bench/constraints.txt: {', '.join(unpinned)}")
    status = profiles.main(["--check", "--served-only", "--only", "iphone7-gpu"])
    out = capsys.readouterr().out
    print(out)  # the largest difference found, shown with -rA or on failure
    assert status == 0, out


def test_profile_differences_finds_a_float_change_however_small_with_its_size():
    old = {"a": [1.0, 2.0], "b": "x", "n": 3}
    new = {"a": [1.0, 2.0 * (1 + 1e-12)], "b": "x", "n": 3}
    (d,) = profiles.profile_differences(old, new)
    assert d.path == "/a[1]"
    assert d.relative == pytest.approx(1e-12, rel=1e-3)


def test_profile_differences_reports_structure_changes_as_infinite():
    old = {"t": {"left": [1, 2]}, "s": "x"}
    (d,) = profiles.profile_differences(old, {"t": {"left": [1, 3]}, "s": "x"})
    assert (d.path, d.relative) == ("/t/left[1]", float("inf"))
    assert profiles.profile_differences(old, {"t": {"left": [1]}, "s": "x"})[0].relative == float("inf")
    assert "keys" in profiles.profile_differences(old, {"t": {"left": [1, 2]}})[0].what
