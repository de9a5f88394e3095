"""The bundled profiles regenerate bit for bit from the shared measurements (one profile here: the
whole set takes minutes, `python -m pytest_tflite_latency.bench.profiles --check`)."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pytest
from pytest_tflite_latency.bench import profiles, qed
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


def test_a_bundled_stock_profile_regenerates_bit_for_bit(capsys):
    if not (NB201_CSV.is_file() and (qed.QED_DIR / "models.csv").is_file()):
        pytest.skip("the shared measurements are not beside the checkout")
    if unpinned := _unpinned():
        pytest.skip(f"training libraries differ from bench/constraints.txt: {', '.join(unpinned)}")
    assert profiles.main(["--check", "--only", "iphone7-gpu"]) == 0, capsys.readouterr().out
