"""Rebuild the bundled device profiles from the shared measurements (profile building; the metrics
are in `bench.metrics`, the cross-validation splitters in `bench.crossval`, the devices in
`estimator/devices.py`).

    python -m pytest_tflite_latency.bench.profiles                    # writes estimator/profiles/*.json
    python -m pytest_tflite_latency.bench.profiles --check            # same trees, numbers within 1e-9
    python -m pytest_tflite_latency.bench.profiles --check --exact    # bit for bit (same CPU and BLAS)
    python -m pytest_tflite_latency.bench.profiles --only pixel4-gpu  # one profile

Another CPU or BLAS kernel changes least-squares results in their last digits, so ``--check`` compares
structure exactly (keys, strings, integers, tree shapes) and every float within a relative tolerance,
and prints the largest difference it found.

Stock-runtime GPU profiles (`pixel4-gpu` …) learn from the qed-usc kernels and end-to-end times of
real CNNs; each states its error on families it never saw (leave-one-family-out cross-validation of
exactly the predictor `estimate` serves). The `nnmeter-*` profiles learn from nn-Meter's NAS-Bench-201
measurements (TFLite 2.1) and state their error on the real networks beside their in-family error.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pytest_tflite_latency.bench import qed, train
from pytest_tflite_latency.bench.crossval import FOLDS, SEED, LeaveOneGroupOut, cross_validate, heldout_errors
from pytest_tflite_latency.bench.dataset import NB201_CSV, Record, file_sha256, nb201_records
from pytest_tflite_latency.bench.metrics import relative_errors, summarize
from pytest_tflite_latency.bench.progress import progress
from pytest_tflite_latency.estimator.devices import PUBLISHED, PublishedDevice
from pytest_tflite_latency.estimator.profile import DeviceProfile

PROFILE_DIR = Path(__file__).resolve().parents[1] / "estimator" / "profiles"
INTERVAL = (0.05, 0.95)  # a 90% prediction interval from held-out relative errors
REGENERATE = "python -m pytest_tflite_latency.bench.profiles"
NNMETER: dict[str, PublishedDevice] = {d.profile: d for d in PUBLISHED}  # profile name → published device


# Quantile pairs tried for a stock profile's 90% interval, narrowest first; the one whose interval,
# calibrated on the other families, holds closest to 90% of each left-out family is kept (a family's
# errors cluster, so the plain 5th–95th percentiles can hold fewer).
INTERVAL_LEVELS = ((0.05, 0.95), (0.04, 0.96), (0.03, 0.97), (0.02, 0.98), (0.01, 0.99), (0.0, 1.0))


def held_inside(errors: np.ndarray, groups: list[str], quantiles: tuple[float, float]) -> np.ndarray:
    """Per model: whether its error lies inside the interval calibrated on every other group's errors."""
    groups_a = np.array(groups)
    inside = np.zeros(len(errors), bool)
    for g in set(groups):
        mine = groups_a == g
        lo, hi = np.quantile(errors[~mine], quantiles)
        inside[mine] = (errors[mine] >= lo) & (errors[mine] <= hi)
    return inside


def coverage(errors: np.ndarray, groups: list[str], quantiles: tuple[float, float] = INTERVAL) -> float:
    """Share of models inside an interval calibrated on the other groups' held-out errors."""
    return round(100.0 * int(held_inside(errors, groups, quantiles).sum()) / len(errors), 1)


def interval_level(errors: np.ndarray, groups: list[str],
                   parts: tuple[np.ndarray, ...] = ()) -> tuple[tuple[float, float], float]:
    """The quantile pair whose left-out-family coverage is closest to 90%, and that coverage (all models).
    ``parts`` (masks of the models, e.g. the CNNs and the ViTs): closest for each part alike, the larger
    of the parts' misses minimised). Misses equal to 1e-6 points are a tie: the narrower pair wins."""
    def miss(level: tuple[float, float]) -> float:
        inside = held_inside(errors, groups, level)
        return round(max(abs(100.0 * inside[part].mean() - 90.0) for part in parts or (np.ones(len(errors), bool),)
                         if part.any()), 6)
    level = min(INTERVAL_LEVELS, key=miss)
    return level, coverage(errors, groups, level)


# --- stock-runtime GPU profiles (qed-usc) ---------------------------------------------------------

# A stock profile's candidate predictors: each regressor with its trees on each feature set.
CANDIDATES = tuple((a, s) for s in train.TREE_FEATURE_SETS for a in train.ALGORITHMS)


def describe(candidate: tuple[str, str]) -> str:
    return f"{candidate[0]}, {candidate[1]} features"


def fit_phone(models: list[qed.QedModel], phone: str, candidate: tuple[str, str]) -> train.Fit:
    algorithm, tree_features = candidate
    return train.fit_stock(qed.kernel_records(models, phone), qed.model_records(models, phone), algorithm, SEED,
                           tree_features, qed.PHONES[phone].winograd)


def leave_family_out(models: list[qed.QedModel], phone: str, candidate: tuple[str, str],
                     label: str = "") -> np.ndarray:
    """Each model's relative error when its whole family was left out of training."""
    folds = list(LeaveOneGroupOut().split(models, [m.family for m in models]))

    def fit_predict(train_idx: np.ndarray, test_idx: np.ndarray) -> np.ndarray:
        profile = fit_phone([models[i] for i in train_idx], phone, candidate).profile("gpu")
        test = qed.model_records([models[i] for i in test_idx], phone)
        return relative_errors(train.predict(test, profile), np.array([r.y_ms for r in test]))

    return heldout_errors(progress(folds, label) if label else folds, len(models), fit_predict)


def floor_errors(models: list[qed.QedModel], phone: str) -> np.ndarray:
    """The floor any estimator must beat: latency linear in FLOPs and file size, left out by family."""
    A = np.array([[1.0, m.X[:, 0].sum(), m.file_size] for m in models])
    y = np.array([m.e2e_ms[phone] for m in models])
    folds = LeaveOneGroupOut().split(models, [m.family for m in models])
    return heldout_errors(folds, len(models), lambda tr, te: floor_fit(A[tr], y[tr])(A[te]) / y[te] - 1)


def floor_fit(A: np.ndarray, y: np.ndarray):
    """Latency linear in (1, FLOPs, file size), fitted on relative errors: a predictor of rows of A."""
    W = A / y[:, None]
    scale = np.abs(W).max(axis=0)
    coef = np.linalg.lstsq(W / scale, np.ones(len(y)), rcond=None)[0] / scale
    return lambda rows: rows @ coef


def build_stock(phone: str, cpu_base: dict, served: tuple[str, str] | None = None) -> DeviceProfile:
    """A phone's stock-runtime GPU profile: of the `CANDIDATES`, the one with the least leave-family-out
    MAPE, its error in its provenance (``served``: cross-validate only that candidate, the one a bundled
    profile serves; its ``compared`` then holds that candidate alone)."""
    spec = qed.PHONES[phone]
    name, phone_name, soc, gpu, api = spec.profile, spec.phone, spec.soc, spec.gpu, spec.api
    models = qed.usable(qed.load())
    groups = [m.family for m in models]
    candidates = (served,) if served else CANDIDATES
    errors = {c: leave_family_out(models, phone, c, f"{name}: {describe(c)}") for c in candidates}
    compared = {describe(c): summarize(e) for c, e in errors.items()}
    best = min(candidates, key=lambda c: (compared[describe(c)]["mape_pct"], CANDIDATES.index(c)))
    f = fit_phone(models, phone, best)
    level, covered = interval_level(errors[best], groups)
    lo, hi = np.quantile(errors[best], level)
    kernels = qed.kernel_records(models, phone)
    heldout = {"method": f"leave-one-family-out cross-validation over {len(set(groups))} families "
                         f"({', '.join(sorted(set(groups)))}), whole-model estimates against measured "
                         "end-to-end times",
               **compared[describe(best)], "interval_coverage_pct": covered,
               "interval_quantiles": list(level),
               "floor": {"method": "latency linear in FLOPs and file size, same folds",
                         **summarize(floor_errors(models, phone))}}
    provenance = {
        "trained_on": f"{len(models)} real CNNs (qed-usc mobile-ml-benchmark, shared/data/qed-usc-mobile-cnn) "
                      "measured with stock TensorFlow Lite 2.10 on the phone's GPU",
        "measurements": {"kernels": len(kernels), "whole_models": len(models)},
        "dataset_sha256": {n: file_sha256(qed.QED_DIR / n) for n in ("models.csv", "gpu_kernels.csv")},
        "regressor": best[0], "tree_features": best[1], "heldout": heldout,
        "selection": f"the least MAPE of {len(CANDIDATES)} candidates (each regressor, its trees on the shape "
                     "or on all features) on these same folds: the figures of the one chosen are a little "
                     "optimistic",
        "compared": compared,
        "cpu_fallback": "a prior: nn-Meter's Cortex-A76 base cost scaled by this phone's measured one-big-core "
                        "CPU time relative to the Pixel 4's (no measured model ran partly on the CPU)",
        "regenerate": REGENERATE,
    }
    device = {"phone": phone_name, "soc": soc, "gpu": gpu, "api": api, "model_precision": "float32",
              "compute_precision": "fp16"}
    title = f"{gpu} GPU ({phone_name}), stock TensorFlow Lite 2.10"
    interval = {"low": round(float(lo), 6), "high": round(float(hi), 6), "coverage": 0.9}
    return f.profile("gpu", _scaled_cpu(cpu_base, cpu_slowdown(models, phone)), name=name, title=title,
                     runtime=f"TensorFlow Lite 2.10 GPU delegate ({api}), fp16", interval=interval,
                     provenance=provenance, device=device)


def cpu_slowdown(models: list[qed.QedModel], phone: str) -> float:
    """How much slower this phone's big CPU core runs the shared models than the Pixel 4's."""
    return float(np.median([m.cpu_ms[phone] / m.cpu_ms["pixel4"] for m in models]))


def _scaled_cpu(base: dict, factor: float) -> dict:
    return {**base, **{k: base[k] * factor for k in ("launch_ms", "ms_per_flop", "ms_per_byte")}}


MIN_LOW = -0.99  # profiles need -1 < interval low (estimator/validate.py)


# --- nn-Meter's NAS-Bench-201 profiles -------------------------------------------------------------

def profile_from_records(name: str, records: list[Record], title: str, backend: str, runtime: str,
                         trained_on: str, algorithms: list[str] | None = None, cpu_base: dict | None = None,
                         extra: dict | None = None, label: str | None = None) -> DeviceProfile:
    """Cross-validate each regressor over whole records, keep the best, fit it on everything."""
    algorithms = algorithms or list(train.ALGORITHMS)
    compared, errors = {}, {}
    for algorithm in progress(algorithms, label or f"{name}: cross-validating"):
        errors[algorithm] = cross_validate(records, algorithm, backend)
        compared[algorithm] = summarize(errors[algorithm])
    best = min(algorithms, key=lambda a: (compared[a]["mape_pct"], algorithms.index(a)))
    f = train.fit(records, best, SEED)
    lo, hi = np.quantile(errors[best], INTERVAL)
    lo = max(float(lo), MIN_LOW)  # a held-out prediction of 0 ms is an error of -100%: no usable lower bound
    provenance = {"trained_on": trained_on, "measurements": len(records), **(extra or {}),
                  "regressor": best, "tree_features": "shape",
                  "heldout": {"method": f"{FOLDS}-fold cross-validation over {_measured(records)}", **compared[best]},
                  "compared": compared}
    interval = {"low": round(float(lo), 6), "high": round(float(hi), 6), "coverage": 0.9}
    return f.profile(backend, cpu_base, name=name, title=title, runtime=runtime, interval=interval,
                     provenance=provenance)


def _measured(records: list[Record]) -> str:
    """"300 single-kernel and 8 whole-model measurements": what a cross-validated figure is over."""
    kernels = sum(r.kind == "kernel" for r in records)
    parts = [f"{n} {what}" for n, what in ((kernels, "single-kernel"), (len(records) - kernels, "whole-model")) if n]
    return " and ".join(parts) + " measurements"


def real_network_errors(profile: DeviceProfile, phone: str) -> np.ndarray:
    """An nn-Meter profile's error on the shared real CNNs measured with stock TensorFlow Lite."""
    models = qed.usable(qed.load())
    records = qed.model_records(models, phone) if profile.backend == "gpu" else qed.cpu_records(models, phone)
    return train.predict(records, profile) / np.array([r.y_ms for r in records]) - 1


def build_nnmeter(name: str, records: list[Record], cpu_base: dict | None) -> DeviceProfile:
    spec = NNMETER[name]
    title, backend, runtime, cpu_slow, phone = spec.title, spec.backend, spec.runtime, spec.cpu_slowdown, spec.judged_on
    cpu = _scaled_cpu(cpu_base, cpu_slow) if cpu_base else None
    extra = {"dataset_sha256": file_sha256(NB201_CSV), "measurement_kind": "whole-model latency",
             "cpu_fallback": "Cortex-A76 base cost" + (f" × {cpu_slow}" if cpu_slow != 1 else "")
                             + " (a prior: no measured model ran partly on the CPU)",
             "regenerate": REGENERATE}
    profile = profile_from_records(
        name, records, title, backend, runtime,
        "NAS-Bench-201 networks measured by nn-Meter with its TensorFlow Lite 2.1 build "
        "(shared/data/nnmeter-nasbench201), built with the project's model writer", cpu_base=cpu, extra=extra)
    real = summarize(real_network_errors(profile, phone))
    what = "stock TFLite 2.10 on the Pixel 4's " + ("Adreno 640" if backend == "gpu" else "big Cortex-A76 core")
    profile.provenance["real_networks"] = {"method": f"the {real['models']} shared real CNNs measured with {what}",
                                           **real}
    return profile


def build_all(only: list[str] | None = None,
              served: dict[str, tuple[str, str]] | None = None) -> dict[str, DeviceProfile]:
    """Every bundled profile (or those named in ``only``); ``served``: profile name → the one candidate
    to cross-validate for it (see `build_stock`)."""
    wanted = only or [*(p.profile for p in qed.PHONES.values()), *NNMETER]
    # the Cortex-A76 records give every profile its CPU-fallback base; the others only their own profile
    columns = ["cortexa76", *(d.column for n, d in NNMETER.items() if n in wanted and d.column != "cortexa76")]
    nb201 = nb201_records(columns, progress=lambda rows: progress(rows, "building NAS-Bench-201 networks"))
    cpu_fit = train.fit_base(nb201["cortexa76"])
    out = {}
    for phone, spec in qed.PHONES.items():
        if spec.profile in wanted:
            out[spec.profile] = build_stock(phone, cpu_fit, (served or {}).get(spec.profile))
    for name, published in NNMETER.items():
        if name in wanted:
            out[name] = build_nnmeter(name, nb201[published.column], cpu_fit if published.backend == "gpu" else None)
    return out


RTOL = 1e-9  # relative tolerance of --check: far above rounding noise, far below any real change


@dataclass(frozen=True)
class Difference:
    """One place where two profiles' JSON forms differ: its path, what differs, and the relative
    difference (``inf`` for a difference of structure, text or integers)."""

    path: str
    what: str
    relative: float

    def __str__(self) -> str:
        return f"{self.path}: {self.what}"


def profile_differences(old: object, new: object, where: str = "") -> list[Difference]:
    """Every place two profiles' JSON forms differ, floats included however little."""
    if isinstance(old, dict) and isinstance(new, dict):
        if old.keys() != new.keys():
            return [Difference(where or "/", f"keys {sorted(old.keys() ^ new.keys())} differ", math.inf)]
        return [d for k in old for d in profile_differences(old[k], new[k], f"{where}/{k}")]
    if isinstance(old, list) and isinstance(new, list):
        if len(old) != len(new):
            return [Difference(where, f"{len(old)} vs {len(new)} items", math.inf)]
        return [d for i, (a, b) in enumerate(zip(old, new, strict=True))
                for d in profile_differences(a, b, f"{where}[{i}]")]
    if isinstance(old, float) and isinstance(new, float):
        if old == new:
            return []
        rel = abs(old - new) / max(abs(old), abs(new))
        return [Difference(where, f"{old!r} vs {new!r} (relative {rel:.1e})", rel)]
    if type(old) is type(new) and old == new:
        return []
    return [Difference(where, f"{old!r} vs {new!r}", math.inf)]


def check_profile(path: Path, built: DeviceProfile, exact: bool) -> list[str]:
    """What differs between the bundled file and the profile just built beyond `RTOL`; prints the
    verdict and the largest relative difference.

    Two kinds of difference are reported but tolerated, since float noise alone causes them on another
    CPU: the figures of candidates that were compared but not served, and tree splits that chose another
    feature or threshold where both give the served predictor the same predictions (within `RTOL`) on
    every kernel and model of the phone's training data.
    """
    name = built.name
    if not path.is_file():
        print(f"{name}: MISSING ({path})")
        return [f"{path}: missing"]
    if exact:
        tmp = path.with_suffix(".json.tmp")
        built.save(tmp)
        same = path.read_bytes() == tmp.read_bytes()
        tmp.unlink()
        print(f"{name}: {'identical' if same else 'DIFFERS'} (bit for bit)")
        return [] if same else [f"{name}: bytes differ"]
    bundled = json.loads(path.read_text())
    diffs = profile_differences(bundled, json.loads(json.dumps(built.to_dict())))
    candidate = (built.provenance.get("regressor"), built.provenance.get("tree_features"))
    served = f"/provenance/compared/{describe(candidate)}/"
    unserved = [d for d in diffs if d.path.startswith("/provenance/compared/") and not d.path.startswith(served)]
    trees = [d for d in diffs if d.path.startswith("/correction/")]
    checked = [d for d in diffs if d not in unserved and d not in trees]
    notes = [f"not served, tolerated: {d}" for d in unserved]
    if trees:
        gap = prediction_gap(DeviceProfile.from_dict(bundled, str(path)), built)
        if gap is not None and gap <= RTOL:
            notes.insert(0, f"{len(trees)} tree values differ (a tie between splits), tolerated: the same "
                            f"predictions on every training kernel and model, largest relative difference {gap:.1e}")
            checked.append(Difference("/correction", "predictions on the training data", gap))
        else:
            checked += trees
    failures = [d for d in checked if d.relative > RTOL]
    largest = max((d.relative for d in checked), default=0.0)
    verdict = "same" if not failures else f"DIFFERS in {len(failures)} places"
    print(f"{name}: {verdict} (largest relative difference {largest:.1e}, tolerance {RTOL:.0e})")
    for line in [*map(str, failures), *notes][:12]:
        print(f"  {line}")
    return [str(d) for d in failures]


def prediction_gap(a: DeviceProfile, b: DeviceProfile) -> float | None:
    """The largest relative difference between two profiles' predictions on every kernel and model of
    the phone's training data; None where the profile is not a stock phone's."""
    phone = next((p for p, spec in qed.PHONES.items() if spec.profile == a.name), None)
    if phone is None:
        return None
    models = qed.usable(qed.load())
    records = qed.kernel_records(models, phone) + qed.model_records(models, phone)
    pa, pb = train.predict(records, a), train.predict(records, b)
    return float(np.max(np.abs(pa - pb) / np.maximum(np.abs(pa), 1e-12)))


def _served(folder: Path) -> dict[str, tuple[str, str]]:
    """Each bundled stock profile's served candidate, as its provenance names it."""
    out = {}
    for spec in qed.PHONES.values():
        path = folder / f"{spec.profile}.json"
        if path.is_file():
            prov = json.loads(path.read_text())["provenance"]
            out[spec.profile] = (prov["regressor"], prov["tree_features"])
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pytest_tflite_latency.bench.profiles", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=PROFILE_DIR, help="where to write the profiles")
    parser.add_argument("--check", action="store_true",
                        help=f"compare with the files in --out: the same structure, floats within {RTOL:.0e}")
    parser.add_argument("--exact", action="store_true", help="with --check: bit for bit")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="build only these profiles")
    parser.add_argument("--served-only", action="store_true",
                        help="with --check: cross-validate only the candidate each bundled stock profile serves "
                             "(about 6× faster; the other candidates' figures are taken from the bundled file)")
    args = parser.parse_args(argv)
    if not NB201_CSV.is_file() or not (qed.QED_DIR / "models.csv").is_file():
        print(f"error: shared measurements not found under {NB201_CSV.parents[1]}", file=sys.stderr)
        return 2
    differ = []
    args.out.mkdir(parents=True, exist_ok=True)
    served = _served(args.out) if args.check and args.served_only else None
    for name, profile in build_all(args.only, served).items():
        path = args.out / f"{name}.json"
        if served and name in served:  # candidates not rebuilt: the bundled figures stand for them
            bundled = json.loads(path.read_text())["provenance"]["compared"]
            profile.provenance["compared"] = {**bundled, **profile.provenance["compared"]}
        if args.check:
            differ += check_profile(path, profile, args.exact)
        else:
            tmp = path.with_suffix(".json.tmp")
            profile.save(tmp)
            tmp.replace(path)
            h = profile.provenance["heldout"]
            print(f"{name}: {profile.provenance['regressor']}, held-out MAPE {h['mape_pct']}%, "
                  f"{h['within_10pct']}% within ±10% → {path}")
    return 1 if differ else 0


if __name__ == "__main__":
    from pytest_tflite_latency.bench.extras import run_script

    sys.exit(run_script(main))
