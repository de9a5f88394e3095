"""Kernel-level calibration: a profile for a new phone from a few hundred single-kernel measurements
(`bench run --runner adb --coverage 300`) and a few whole models, instead of the thousands a stock
profile is trained on.

Four kernel routes are trained the stock way (`train.fit_kernel_model`: per-kind bases, XGBoost on the
shape of the work, then composed into whole models on the measured models):

- ``direct``: on the phone's measured kernels alone;
- ``transfer``: on the measured kernels plus every kernel of the shared real CNNs (`bench/data`), each
  labelled with what the bundled phones' profiles predict for it, times a per-group correction
  ``log(measured / source)`` learnt on the measured kernels (ridge on the log of the work's size); the
  sources are weighted by how well their corrected predictions fit the measured kernels;
- ``blend``: the shared kernels labelled halfway (geometric mean) between ``direct`` and ``transfer``;
- ``mean``: the shared kernels labelled with the geometric mean of the ``direct`` and ``blend`` kernel
  models' predictions (the mean of two routes, distilled into one servable profile).

With the whole-model calibration of `bench.calibrate` (``models``) and the pick by leave-one-out error
over the measured whole models (``loo``, among direct, transfer, blend and models), these are the
candidates. Which one `calibrate_kernels` serves is data (`bench/kernel_calibration_priors.py`): the
candidate with the most unseen models within ±10% over the six shared phones, each left out in turn.
The printed figure for a phone is honest: the candidate chosen on the other five phones (the nested
choice), judged on it; the interval is learnt the same way. Figures, and the priors module with
``--priors``: ``nice -n 10 python -m pytest_tflite_latency.bench.kernel_calibration``.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from typing import TYPE_CHECKING

import numpy as np

from pytest_tflite_latency.bench.dataset import Record
from pytest_tflite_latency.estimator.features import FEATURES, kinds_of

if TYPE_CHECKING:  # training needs the bench extra (SciPy, XGBoost): imported where a fit is made
    from pytest_tflite_latency.bench.calibrate import Calibration
    from pytest_tflite_latency.bench.train import Fit
    from pytest_tflite_latency.estimator.profile import DeviceProfile

MIN_KERNELS = 30  # fewer single-kernel measurements: calibrate from the whole models instead
MIN_MODELS = 3  # whole models the composition (scale, overhead) is fitted on
ALGORITHM, TREE_FEATURES = "xgboost", "shape"  # the stock setting most bundled GPU profiles serve
RIDGE = 3.0  # pull of the correction's slopes toward a constant ratio (standardised features)
# The work's size that the correction reads (log1p of each).
CORRECTION_COLUMNS = tuple(FEATURES.index(c) for c in (
    "flops", "bytes_in", "bytes_out", "bytes_weights", "work_items", "flops_per_byte", "kernel_h", "stride",
    "out_c", "in_c"))
GROUPS = {"conv": 0, "fc": 0, "convtrans": 0, "dwconv": 1}  # every other kind: group 2


def coverage(X: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """Indices of ``n`` distinct rows of ``X`` that cover its configurations most evenly (greedy
    k-center on standardised log features, from a seeded random start)."""
    Z = np.log1p(np.abs(X))
    Z = (Z - Z.mean(axis=0)) / (Z.std(axis=0) + 1e-9)
    _, distinct = np.unique(X, axis=0, return_index=True)
    Zd = Z[distinct]
    chosen = [int(np.random.default_rng(seed).integers(len(distinct)))]
    far = np.linalg.norm(Zd - Zd[chosen[0]], axis=1)
    while len(chosen) < min(n, len(distinct)):
        i = int(np.argmax(far))
        chosen.append(i)
        far = np.minimum(far, np.linalg.norm(Zd - Zd[i], axis=1))
    return distinct[chosen]


def _groups(X: np.ndarray) -> np.ndarray:
    return np.array([GROUPS.get(k, 2) for k in kinds_of(X)])


def _ridge(Z: np.ndarray, y: np.ndarray):
    """A ridge fit of ``y`` on standardised ``Z`` (free intercept): the predictor and its leave-one-out
    mean squared error."""
    mean, std = Z.mean(axis=0), Z.std(axis=0) + 1e-9
    A = np.column_stack([np.ones(len(y)), (Z - mean) / std])
    P = RIDGE * np.eye(A.shape[1])
    P[0, 0] = 1e-8
    inv = np.linalg.solve(A.T @ A + P, A.T)
    coef = inv @ y
    loo = (y - A @ coef) / np.maximum(1 - np.einsum("ij,ji->i", A, inv), 1e-3)
    return (lambda Zq: np.column_stack([np.ones(len(Zq)), (Zq - mean) / std]) @ coef), float(np.mean(loo**2))


def transfer_labels(X_user: np.ndarray, y_user: np.ndarray, src_user: np.ndarray, X_pool: np.ndarray,
                    src_pool: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Labels (ms) for the pool's kernels: each source's prediction (rows of ``src_pool``) corrected per
    kernel group by what the measured kernels say of that source (``y_user`` against ``src_user``), the
    sources combined in log space with weights 1 / leave-one-out error. Returns (labels, weights)."""
    Zu, Zp = np.log1p(np.abs(X_user[:, CORRECTION_COLUMNS])), np.log1p(np.abs(X_pool[:, CORRECTION_COLUMNS]))
    gu, gp = _groups(X_user), _groups(X_pool)
    logs, errors = [], []
    for su, sp in zip(src_user, src_pool, strict=True):
        ratio = np.log(np.maximum(y_user, 1e-6) / np.maximum(su, 1e-6))
        corrected = np.log(np.maximum(sp, 1e-6))
        error = 0.0
        for g in range(3):
            mine, theirs = gu == g, gp == g
            if mine.sum() < 5:  # too few of this group measured: the source's overall ratio
                corrected[theirs] += np.median(ratio)
                error += np.var(ratio) * mine.sum()
                continue
            predict, mse = _ridge(Zu[mine], ratio[mine])
            corrected[theirs] += predict(Zp[theirs])
            error += mse * mine.sum()
        logs.append(corrected)
        errors.append(error / len(y_user) + 1e-12)
    weights = 1 / np.array(errors)
    weights /= weights.sum()
    return np.exp(weights @ np.array(logs)), weights


@dataclasses.dataclass
class KernelCalibration:
    """The kernel routes' fits and each one's leave-one-out errors on the measured models."""

    fits: dict[str, Fit]
    loo: dict[str, np.ndarray]
    source_weights: np.ndarray


def composed(model: Fit, networks: list[Record]) -> Fit:
    """A kernel model (`train.fit_kernel_model`) composed into whole models on ``networks``."""
    from pytest_tflite_latency.bench import train

    f = train.Fit(model.base, model.correction, model.trained_range)
    train.compose(f, networks)
    return f


def loo_errors(model: Fit, networks: list[Record]) -> np.ndarray:
    """Relative error of each measured model under the composition fitted on the others."""
    from pytest_tflite_latency.bench import train

    out = np.zeros(len(networks))
    for i, r in enumerate(networks):
        f = composed(model, networks[:i] + networks[i + 1:])
        out[i] = train.predict([r], f.profile("gpu"))[0] / r.y_ms - 1
    return out


def fit_kernels(kernels: list[Record], networks: list[Record], src_user: np.ndarray, X_pool: np.ndarray,
                src_pool: np.ndarray, seed: int = 0, winograd: bool = False) -> KernelCalibration:
    """The kernel routes' profiles (module docstring), composed on ``networks``, each with its
    leave-one-out errors on them. ``src_user`` and ``src_pool``: each source's predicted ms (rows) of
    the measured and the pool's kernels; ``winograd``: the phone's delegate runs Winograd convolutions."""
    from pytest_tflite_latency.bench import train

    X_user = np.vstack([r.X for r in kernels])
    y_user = np.array([r.y_ms for r in kernels])
    labels, weights = transfer_labels(X_user, y_user, src_user, X_pool, src_pool)
    pseudo = [Record(f"shared#{i}", X_pool[i:i + 1], float(v), np.ones(1, bool), kind="kernel")
              for i, v in enumerate(labels)]
    models = {"direct": train.fit_kernel_model(kernels, ALGORITHM, seed, TREE_FEATURES, winograd),
              "transfer": train.fit_kernel_model(kernels + pseudo, ALGORITHM, seed, TREE_FEATURES, winograd)}
    direct_ms = _predicted_ms(models["direct"].profile("gpu"), X_pool)
    blended = [Record(r.name, r.X, float(np.sqrt(r.y_ms * max(d, 1e-6))), r.learned, kind="kernel")
               for r, d in zip(pseudo, direct_ms, strict=True)]
    models["blend"] = train.fit_kernel_model(kernels + blended, ALGORITHM, seed, TREE_FEATURES, winograd)
    blend_ms = _predicted_ms(models["blend"].profile("gpu"), X_pool)
    mean = [Record(r.name, r.X, float(np.sqrt(max(d, 1e-6) * max(b, 1e-6))), r.learned, kind="kernel")
            for r, d, b in zip(pseudo, direct_ms, blend_ms, strict=True)]
    models["mean"] = train.fit_kernel_model(kernels + mean, ALGORITHM, seed, TREE_FEATURES, winograd)
    return KernelCalibration({k: composed(m, networks) for k, m in models.items()},
                             {k: loo_errors(m, networks) for k, m in models.items()}, weights)


ROUTE_TEXT = {"direct": "trees on the measured kernels alone",
              "transfer": "trees on the measured kernels and the shared CNNs' kernels labelled by the bundled "
                          "profiles corrected to this phone",
              "blend": "trees on the measured kernels and the shared CNNs' kernels labelled halfway (geometric "
                       "mean) between the direct trees and the transfer labels",
              "mean": "trees on the measured kernels and the shared CNNs' kernels labelled with the geometric "
                      "mean of the direct and blend trees",
              "models": "a bundled profile scaled per kernel group on the whole models (bench/calibrate.py)"}
LOO_ROUTES = ("direct", "transfer", "blend", "models")  # the routes the ``loo`` candidate picks among
CANDIDATES = ("loo", "direct", "transfer", "blend", "mean", "models")


def route_of(candidate: str, loo: dict[str, np.ndarray]) -> str:
    """The route ``candidate`` serves: itself, or for ``loo`` the one of `LOO_ROUTES` with the least
    leave-one-out error over the measured whole models (``loo``: each route's errors)."""
    return min(LOO_ROUTES, key=lambda k: mape(loo[k])) if candidate == "loo" else candidate


def expected(family=None) -> str:
    """What the evaluation printed for the served candidate, each phone judged by the candidate chosen
    on the other five (`kernel_calibration_priors`): the shared phones nearest ``family`` (the user's
    ``--gpu``, `devices.analogue_phones`) where it names a vendor, beside all six."""
    from pytest_tflite_latency.bench.kernel_calibration_priors import NESTED_WITHIN_10PCT
    from pytest_tflite_latency.estimator.devices import PHONES, analogue_phones

    v = list(NESTED_WITHIN_10PCT.values())
    six = (f"{min(v):.0f}–{max(v):.0f}% within ±10% (median {np.median(v):.0f}%) on models of unseen families, "
           "each shared phone left out, the route chosen on the other five")
    if family is None or family.vendor is None:
        return six
    near = analogue_phones(family, [p for p in PHONES if p.key in NESTED_WITHIN_10PCT])
    return (", ".join(f"{p.phone} {NESTED_WITHIN_10PCT[p.key]:.0f}%" for p in near)
            + f" (the shared {'phone' if len(near) == 1 else 'phones'} standing for yours); all six: {six}")


def _predicted_ms(profile, X: np.ndarray) -> np.ndarray:
    """Each kernel's time alone (its in-network dispatch cost left out: a label for lone kernels)."""
    from pytest_tflite_latency.bench.calibrate import source_split

    return source_split(profile, X, np.full(len(X), "GPU"))[0]


def shared_kernels() -> np.ndarray:
    """Feature rows of every GPU kernel of the shared real CNNs (`bench/data`): the transfer route's pool."""
    from pytest_tflite_latency.bench import qed

    return np.vstack([m.X[[k.runs_on == "GPU" for k in m.kernels]] for m in qed.usable(qed.load())])


def mape(errors: np.ndarray) -> float:
    return float(np.mean(np.abs(errors)))


def candidates(kernels: list[Record], networks: list[Record], sources: list[DeviceProfile], name: str,
               family=None) -> tuple[KernelCalibration, Calibration]:
    """Every route `calibrate_kernels` serves from: the kernel routes (`fit_kernels`) and the whole-model
    calibration (`bench.calibrate.calibrate_from`)."""
    from pytest_tflite_latency.bench.calibrate import calibrate_from
    from pytest_tflite_latency.estimator.devices import uses_winograd

    X_user, X_pool = np.vstack([r.X for r in kernels]), shared_kernels()
    cal = fit_kernels(kernels, networks, np.array([_predicted_ms(p, X_user) for p in sources]), X_pool,
                      np.array([_predicted_ms(p, X_pool) for p in sources]),
                      winograd=uses_winograd(getattr(family, "vendor", None)))
    return cal, calibrate_from(sources, networks, name, family)


def calibrate_kernels(kernels: list[Record], networks: list[Record], sources: list[DeviceProfile],
                      name: str, family=None) -> tuple[DeviceProfile, list[str]]:
    """A profile named ``name`` from a phone's single-kernel and whole-model measurements: the candidate
    `kernel_calibration_priors.SERVED` (chosen on the six shared phones) among the kernel routes
    (`fit_kernels`, the bundled ``sources`` lending the transfer route their kernel models) and the
    whole-model calibration (`bench.calibrate`), with the interval learnt on that candidate's errors
    (`kernel_calibration_priors.INTERVAL`, standardised) scaled by its leave-one-out spread over the
    measured models (`calibrate.scaled_interval`). The kernel routes price Winograd convolutions where
    ``family`` (the user's ``--gpu``) names a vendor whose GPUs run them (`devices.uses_winograd`); with
    ``auto``, not. Returns the profile and the warnings to print."""
    from pytest_tflite_latency.bench.calibrate import calibrated_device, heldout_figures, scaled_interval
    from pytest_tflite_latency.bench.kernel_calibration_priors import COVERAGE, INTERVAL, SERVED

    cal, whole = candidates(kernels, networks, sources, name, family)
    loo = {**cal.loo, "models": whole.loo}
    route = route_of(SERVED, loo)
    lo, hi = scaled_interval(*INTERVAL, loo[route])
    interval = {"low": lo, "high": hi, "coverage": COVERAGE}
    heldout, warnings = heldout_figures(loo[route], (lo, hi), networks)
    calibration = {"route": route, "route_text": ROUTE_TEXT[route], "candidate": SERVED, "kernels": len(kernels),
                   "models": len(networks), "expected": expected(family),
                   "loo_mape_pct": {k: round(mape(v) * 100, 2) for k, v in loo.items()},
                   "source_weights": {p.name: round(float(w), 3) for p, w in
                                      zip(sources, cal.source_weights, strict=True)},
                   "interval": "bench/kernel_calibration_priors.py",
                   "method": "bench/kernel_calibration.py"}
    if route == "models":
        profile = whole.profile
        return dataclasses.replace(profile, interval=interval, provenance={
            **profile.provenance, "heldout": heldout,
            "calibration": {**profile.provenance["calibration"], **calibration}}), warnings
    f = cal.fits[route]
    provenance = {
        "trained_on": f"{len(kernels)} single-kernel and {len(networks)} whole-model measurements of {name}",
        "regressor": ALGORITHM, "tree_features": TREE_FEATURES, "calibration": calibration, "heldout": heldout,
        "regenerate": "tflite-latency calibrate --db ... --device-name ...",
    }
    lead = sources[int(np.argmax(cal.source_weights))]  # lends what the fit does not set (CPU fallback)
    return dataclasses.replace(
        lead, name=name, title=f"trained on {len(kernels)} kernels and {len(networks)} models of this phone",
        features=FEATURES, base=f.base, correction=f.correction, trained_range=f.trained_range, context=f.context,
        kernel_scale=f.kernel_scale, overhead_ms=f.overhead_ms, provenance=provenance, interval=interval,
        device=calibrated_device(lead, name, family)), warnings


# --- the evaluation --------------------------------------------------------------------------------

REFERENCE = "gm(d,b)"  # the geometric mean of the composed direct and blend estimates: not one profile, shown only
INTERVAL_QUANTILES = (0.05, 0.95)
SPREAD = "spread:"  # evaluate()'s key prefix: per candidate, the RMS leave-one-out log error of each judged model's fit



def evaluate(phone: str, kernels_n: int, models_n: int, draws: int) -> dict[str, list[np.ndarray]]:
    """Leave ``phone`` out: for each family, sources retrained without it (`bench.calib_cache`), the
    phone's kernels of the other families' models as the pool its ``kernels_n`` measured kernels are
    chosen from (`coverage`), ``models_n`` of those models drawn at random as its whole-model
    measurements. Per candidate (`CANDIDATES`; `REFERENCE`; ``own``: the phone's stock profile trained
    on all its kernels without the family), per draw, the judged models' relative errors, all families
    pooled."""
    from pytest_tflite_latency.bench import calib_cache, qed, train
    from pytest_tflite_latency.bench.calibrate import choose_source, fit_scales, loo_spread
    from pytest_tflite_latency.bench.calibrate import loo_errors as whole_loo
    from pytest_tflite_latency.bench.calibration_curve import parts_of, sources_for

    data = calib_cache.load()
    models = qed.usable(qed.load())
    families = sorted({m.family for m in models})
    index = {m.name: j for j, m in enumerate(models)}
    sources = [s for s in qed.PHONES if s != phone]
    res: dict[str, list] = {k: [[] for _ in range(draws)] for k in (*CANDIDATES, REFERENCE)}
    res.update({SPREAD + k: [[] for _ in range(draws)] for k in CANDIDATES})
    res["own"] = [[]]
    for fi, fam in enumerate(families):
        rest = [m for m in models if m.family != fam]
        judged_idx = [index[m.name] for m in models if m.family == fam]
        judged = qed.model_records([m for m in models if m.family == fam], phone)
        y = np.array([r.y_ms for r in judged])
        own = data.times[(phone, fam)]
        res["own"][0].append(np.array([own.kernel_ms[j].sum() + own.overhead_ms[j] for j in judged_idx]) / y - 1)
        kernels, networks = qed.kernel_records(rest, phone), qed.model_records(rest, phone)
        measured_at = [(index[m.name], i) for m in rest for i, _ in m.pairs()]  # kernels' (model, kernel)
        pool = [(index[m.name], i) for m in rest for i in np.flatnonzero(data.learned[index[m.name]])]
        X_pool = np.vstack([data.X[j][i] for j, i in pool])
        src_pool = np.array([[data.times[(s, fam)].kernel_ms[j][i] for j, i in pool] for s in sources])
        X_kernels = np.vstack([r.X for r in kernels])
        A = {s: parts_of(data, s, fam) for s in sources_for(phone, vendor_only=True)}
        for r in range(draws):
            rng = np.random.default_rng([r, fi, list(qed.PHONES).index(phone)])
            pick = coverage(X_kernels, kernels_n, seed=int(rng.integers(1 << 30)))
            drawn = rng.choice(len(networks), size=min(models_n, len(networks)), replace=False)
            chosen = [networks[i] for i in drawn]
            src_user = np.array([[data.times[(s, fam)].kernel_ms[measured_at[i][0]][measured_at[i][1]] for i in pick]
                                 for s in sources])
            cal = fit_kernels([kernels[i] for i in pick], chosen, src_user, X_pool, src_pool,
                              winograd=qed.PHONES[phone].winograd)
            calib = np.array([index[networks[i].name] for i in drawn])
            yc = np.array([n.y_ms for n in chosen])
            best = list(A)[choose_source([A[s][calib] for s in A], yc)]
            scales = fit_scales(A[best][calib], yc)
            pred = {k: train.predict(judged, f.profile("gpu")) for k, f in cal.fits.items()}
            pred["models"] = A[best][judged_idx] @ scales
            loo = {**cal.loo, "models": whole_loo(A[best][calib], yc)}
            pred["loo"] = pred[route_of("loo", loo)]
            pred[REFERENCE] = np.sqrt(pred["direct"] * pred["blend"])
            for k in (*CANDIDATES, REFERENCE):
                res[k][r].append(pred[k] / y - 1)
            for k in CANDIDATES:  # the spread the served interval scales with, per judged model
                res[SPREAD + k][r].append(np.full(len(y), loo_spread(loo[route_of(k, loo)])))
    return {k: [np.concatenate(d) for d in v] for k, v in res.items()}


def within(errors: list[np.ndarray]) -> float:
    """The median over draws of the share within ±10%."""
    from pytest_tflite_latency.bench.metrics import within_pct

    return float(np.median([within_pct(e, 0.10) for e in errors]))


def choose(scores: dict[str, dict[str, float]], phones: list[str]) -> str:
    """The candidate with the highest mean share within ±10% over ``phones`` (``scores``: candidate →
    phone → share); ties go to the earlier one of `CANDIDATES`."""
    return max(CANDIDATES, key=lambda c: (float(np.mean([scores[c][p] for p in phones])), -CANDIDATES.index(c)))


def interval_of(errors: list[np.ndarray], spreads: list[np.ndarray]) -> tuple[float, float, float]:
    """(low, high) quantiles (`INTERVAL_QUANTILES`) of the log errors, each in units of its fit's spread
    (`standardised`), and the population's spread σ: what `calibrate.scaled_interval` serves."""
    from pytest_tflite_latency.bench.calibrate import standardised_interval

    return standardised_interval(np.log1p(np.concatenate(errors)), lambda sigma: served_spreads(spreads, sigma),
                                 INTERVAL_QUANTILES)


def served_spreads(spreads: list[np.ndarray], sigma: float) -> np.ndarray:
    """Each fit's leave-one-out spread as the served interval takes it (`calibrate.floored_spread`)."""
    from pytest_tflite_latency.bench.calibrate import floored_spread

    return floored_spread(np.concatenate(spreads), sigma)


def standardised(errors: list[np.ndarray], spreads: list[np.ndarray], sigma: float) -> np.ndarray:
    """Log errors divided by the spread the served interval takes."""
    return np.log1p(np.concatenate(errors)) / served_spreads(spreads, sigma)


def report(results: dict[str, dict[str, list[np.ndarray]]], priors: bool = False) -> None:
    """The table: each candidate per phone, the nested choice (the candidate best on the other phones,
    judged on this one) and the share of this phone's models inside the interval learnt on the other
    phones' errors of that candidate; then the candidate served (best on all) and, with ``priors``,
    the module `bench/kernel_calibration_priors.py`."""
    phones = list(results)
    scores = {c: {t: within(results[t][c]) for t in phones} for c in (*CANDIDATES, REFERENCE, "own")}
    cols = (*CANDIDATES, REFERENCE)
    print(f"{'phone':9s} " + " ".join(f"{k:>8s}" for k in cols) + f" {'nested':>16s} {'own':>7s} {'interval':>8s}")
    nested = {}
    for t in phones:
        others = [p for p in phones if p != t] or [t]
        pick = choose(scores, others)
        nested[t] = scores[pick][t]
        lo, hi, sigma = interval_of([e for p in others for e in results[p][pick]],
                                    [e for p in others for e in results[p][SPREAD + pick]])
        mine = standardised(results[t][pick], results[t][SPREAD + pick], sigma)
        cover = float(np.mean((mine >= lo) & (mine <= hi)) * 100)
        print(f"{t:9s} " + " ".join(f"{scores[c][t]:7.1f}%" for c in cols)
              + f" {nested[t]:6.1f}% ({pick:>8s}) {scores['own'][t]:6.1f}% {cover:7.1f}%", flush=True)
    served = choose(scores, phones)
    interval = interval_of([e for t in phones for e in results[t][served]],
                           [e for t in phones for e in results[t][SPREAD + served]])
    v = list(nested.values())
    print(f"served (best over {len(phones)} phones): {served}, interval [{interval[0]:+.4f}, {interval[1]:+.4f}] "
          f"× its leave-one-out spread (σ {interval[2]:.4f}); nested choice: "
          f"median {np.median(v):.1f}% within ±10% ({min(v):.1f}–{max(v):.1f}%)")
    if priors:
        print_priors(served, interval, nested)


def print_priors(served: str, interval: tuple[float, float, float], nested: dict[str, float]) -> None:
    """The module `bench/kernel_calibration_priors.py`."""
    q = INTERVAL_QUANTILES
    print()
    print('"""The kernel route\'s figures, learnt on the shared phones: printed by')
    print("``python -m pytest_tflite_latency.bench.kernel_calibration --priors`` (300 kernels, 10 models); regenerate")
    print('after changing the routes or retraining the stock profiles."""')
    print()
    print("# the candidate (kernel_calibration.CANDIDATES) with the most unseen models within ±10%, phones averaged")
    print(f'SERVED = "{served}"')
    print(f"# ({q[0]:.0%}, {q[1]:.0%}) percentiles of its log errors on unseen families, all phones pooled, in")
    print("# units of each fit's leave-one-out spread (`calibrate.scaled_interval`); the population's spread σ")
    print(f"INTERVAL = ({interval[0]:.4f}, {interval[1]:.4f}, {interval[2]:.4f})")
    print(f"COVERAGE = {q[1] - q[0]:.2f}")
    print("# phone left out → its share within ±10% under the candidate chosen on the other phones")
    print("NESTED_WITHIN_10PCT: dict[str, float] = {")
    for t, v in nested.items():
        print(f'    "{t}": {v:.1f},')
    print("}")


def main(argv: list[str] | None = None) -> int:
    from pytest_tflite_latency.bench import qed
    from pytest_tflite_latency.bench.progress import progress

    p = argparse.ArgumentParser(prog="python -m pytest_tflite_latency.bench.kernel_calibration",
                                description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--kernels", type=int, default=300, help="single-kernel measurements of the left-out phone")
    p.add_argument("--models", type=int, default=10, help="whole-model measurements of the left-out phone")
    p.add_argument("--draws", type=int, default=2, help="random draws per family (the kernels' start, the models)")
    p.add_argument("--phones", nargs="+", default=list(qed.PHONES), choices=list(qed.PHONES))
    p.add_argument("--priors", action="store_true",
                   help="print bench/kernel_calibration_priors.py (the served candidate, its interval, its figures)")
    args = p.parse_args(argv)
    print(f"within ±10% of the measured latency on models of families left out, median over {args.draws} draws; "
          f"{args.kernels} single-kernel (coverage) and {args.models} whole-model measurements of the left-out phone; "
          f"{REFERENCE}: the geometric mean of the direct and blend estimates (not one profile: not a candidate); "
          "nested: the candidate best on the other phones, judged on this one; interval: the share of this "
          "phone's models inside the interval learnt on the other phones' errors of that candidate")
    results = {t: evaluate(t, args.kernels, args.models, args.draws) for t in progress(args.phones, "phones left out")}
    report(results, args.priors)
    return 0


if __name__ == "__main__":
    from pytest_tflite_latency.bench.extras import run_script

    sys.exit(run_script(main))
