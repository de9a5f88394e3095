"""Per-kernel predictions of every source profile on every shared model, computed once for the
calibration evaluation (`bench.calibration_curve`).

For each phone S and each model family F, S's stock predictor (the bundled profile's regressor and
feature set) is trained on S's kernels and models of every family but F; its per-kernel times on the
models of F are what a user's unseen network gets. ``F = None`` is the bundled profile itself.
"""

from __future__ import annotations

import pickle
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pytest_tflite_latency.bench import qed, train
from pytest_tflite_latency.bench.calibrate import source_split
from pytest_tflite_latency.bench.dataset import file_sha256, runs_on
from pytest_tflite_latency.bench.progress import progress
from pytest_tflite_latency.estimator.profile import DeviceProfile, load_profile
from pytest_tflite_latency.estimator.registry import bundled_dir

PROFILE_DIR = bundled_dir()

CACHE = Path(tempfile.gettempdir()) / "tflite-latency-calibration-cache.pkl"


@dataclass
class SourceTimes:
    """One source profile's per-kernel times (ms, ≥ 0) on each model, and per model its overhead (ms):
    the per-inference overhead and the kernels' dispatch cost (`calibrate.source_split`)."""

    kernel_ms: list[np.ndarray]
    overhead_ms: np.ndarray


@dataclass
class CalibrationData:
    names: list[str]
    families: list[str]
    X: list[np.ndarray]  # per model, its GPU kernels' features
    learned: list[np.ndarray]  # per model, the kernels the GPU runs
    file_size: np.ndarray
    measured: dict[str, np.ndarray]  # phone → end-to-end ms per model
    times: dict[tuple[str, str | None], SourceTimes]  # (phone, family left out or None) → times

    def held_out(self, phone: str, family: str) -> SourceTimes:
        return self.times[(phone, family)]


def source_times(profile: DeviceProfile, models: list[qed.QedModel]) -> SourceTimes:
    out, overhead = [], []
    for r in qed.model_records(models, "pixel4"):
        ms, dispatch = source_split(profile, r.X, runs_on(r, profile.backend))
        out.append(ms)
        overhead.append(profile.overhead_ms + dispatch)
    return SourceTimes(out, np.array(overhead))


def build(label: bool = True) -> CalibrationData:
    models = qed.usable(qed.load())
    families = sorted({m.family for m in models})
    times: dict[tuple[str, str | None], SourceTimes] = {}
    jobs = [(p, f) for p in qed.PHONES for f in [None, *families]]
    for phone, fam in progress(jobs, "source profiles per left-out family") if label else jobs:
        bundled = load_profile(qed.PHONES[phone].profile)
        if fam is None:
            times[(phone, None)] = source_times(bundled, models)
            continue
        candidate = (bundled.provenance["regressor"], bundled.provenance["tree_features"])
        rest = [m for m in models if m.family != fam]
        f = train.fit_stock(qed.kernel_records(rest, phone), qed.model_records(rest, phone), *candidate[:1],
                            seed=0, tree_features=candidate[1], winograd=qed.PHONES[phone].winograd)
        times[(phone, fam)] = source_times(f.profile("gpu"), models)
    return CalibrationData([m.name for m in models], [m.family for m in models], [m.X for m in models],
                           [np.array([k.runs_on == "GPU" for k in m.kernels]) for m in models],
                           np.array([m.file_size for m in models], float),
                           {p: np.array([m.e2e_ms[p] for m in models]) for p in qed.PHONES}, times)


def load(path: Path = CACHE) -> CalibrationData:
    """The cached data, rebuilt when missing or made from other measurements."""
    key = file_sha256(qed.QED_DIR / "gpu_kernels.csv") + file_sha256(qed.QED_DIR / "models.csv") + ",".join(
        f"{p.name}:{p.stat().st_size}" for p in sorted(qed.GRAPHS.glob("*.tflite"))) + ",".join(
        file_sha256(PROFILE_DIR / f"{p.profile}.json") for p in qed.PHONES.values())  # retrained: rebuilt
    if path.is_file():
        with open(path, "rb") as f:
            stored_key, data = pickle.load(f)
        if stored_key == key:
            return data
    data = build()
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as f:
        pickle.dump((key, data), f)
    tmp.replace(path)
    return data


if __name__ == "__main__":
    from pytest_tflite_latency.bench.calib_cache import load as load_cache  # pickled under its module's name

    d = load_cache()
    print(f"{len(d.names)} models, {len(d.times)} source predictors cached in {CACHE}")
