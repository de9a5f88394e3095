"""Few-shot calibration: adapt the bundled device profiles to a new phone from a handful of whole-model
measurements, instead of thousands of kernel measurements.

Each source profile keeps its kernels' shape-dependent costs; the new phone gets one scale per kernel
group (`GROUPS`: convolutions, depthwise convolutions, memory-bound kernels) and its own per-inference
overhead, ``measured ≈ Σ scale_g · source_g + scale_o · source_overhead``, fitted on relative errors.

The scales are shrunk toward a population prior rather than toward one source: how much each group's
scale departs from the phone's overall speed-up is learnt from the bundled phones themselves (each
source mapped onto every other bundled phone), so a group moves away from the common scale only as far
as the measurements and that spread allow (`PopulationPrior`). Every bundled GPU profile of the user's
GPU vendor (all of them for ``--gpu auto`` or a vendor none is of) is calibrated so, and the served
profile averages them in log space (`combine`): no source is picked from a leave-one-out over three
points, which is noise.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
from pytest_tflite_latency.bench.dataset import Record
from pytest_tflite_latency.bench.train import runs_on
from pytest_tflite_latency.estimator.features import kinds_of
from pytest_tflite_latency.estimator.kernels import KINDS
from pytest_tflite_latency.estimator.predict import kernel_ms
from pytest_tflite_latency.estimator.profile import COEFFICIENTS, DeviceProfile, kind_coefficients
from scipy.optimize import lsq_linear

# Kernel groups that scale together, following the delegate's kernel choices at the granularity a
# profile serves (a kind): convolution-like kernels (ConvGeneric / Winograd / fully connected),
# depthwise (its own kernel), and every other, memory-bound, kind. The last column is the overhead.
GROUPS: tuple[tuple[str, ...], ...] = (("conv", "fc", "convtrans"), ("dwconv",))
GROUP_NAMES = ("conv+fc+convtrans", "dwconv", "other", "overhead")
N_SCALES = len(GROUPS) + 2
# Measurement noise of one whole-model relative error after calibration (σ of a source's kernel model
# on unseen families: the stock profiles' held-out MAPE is 5–10%, estimator/profiles/*.json).
NOISE = 0.08
# A group's log-scale spread is never taken as narrower than this (four or five phones estimate it).
MIN_SPREAD = 0.10
SCALE_BOUNDS = (0.02, 50.0)  # a phone 50× slower or faster than a bundled one is not a calibration
MIN_RECORDS_FOR_FIGURES = 5  # fewer measurements: no leave-one-out figure is stated
INCONSISTENT_SPREAD = 0.30  # leave-one-out errors this large (MAPE) flag inconsistent measurements


def group_of(kind: str) -> int:
    return next((i for i, g in enumerate(GROUPS) if kind in g), len(GROUPS))


def group_sums(kernel_times: np.ndarray, kinds: Sequence[str], overhead_ms: float) -> np.ndarray:
    """One model's source estimate split into (group sums ..., overhead)."""
    row = np.zeros(N_SCALES)
    np.add.at(row, [group_of(k) for k in kinds], kernel_times)
    row[-1] = overhead_ms
    return row


def parts(profile: DeviceProfile, records: list[Record]) -> np.ndarray:
    """Per record, the source's estimate of each kernel group and its overhead (columns)."""
    out = np.zeros((len(records), N_SCALES))
    for i, r in enumerate(records):
        ms = np.maximum(kernel_ms(profile, r.X, runs_on(r, profile.backend))[0], 0.0)
        out[i] = group_sums(ms, kinds_of(r.X), profile.overhead_ms)
    return out


@dataclasses.dataclass(frozen=True)
class PopulationPrior:
    """Per column, the mean and spread of log(scale / overall scale) when this source is mapped onto
    the other bundled phones."""

    mean: np.ndarray
    spread: np.ndarray

    @classmethod
    def flat(cls) -> PopulationPrior:
        return cls(np.zeros(N_SCALES), np.full(N_SCALES, 1.0))

    @classmethod
    def learn(cls, A: np.ndarray, others: list[np.ndarray]) -> PopulationPrior:
        """From a source's parts ``A`` on shared models and other phones' measurements of them."""
        if not others:
            return cls.flat()
        logs = []
        for y in others:
            c = fit_scales(A, y, cls.flat())
            logs.append(np.log(np.maximum(c, 1e-3) / overall_scale(A, y)))
        logs_arr = np.array(logs)
        spread = np.maximum(logs_arr.std(axis=0), MIN_SPREAD) if len(others) > 1 else np.full(N_SCALES, 0.5)
        return cls(logs_arr.mean(axis=0), spread)


def overall_scale(A: np.ndarray, y: np.ndarray) -> float:
    """The phone's speed relative to the source: the median measured / source estimate."""
    return float(np.median(y / np.maximum(A.sum(axis=1), 1e-9)))


def fit_scales(A: np.ndarray, y: np.ndarray, prior: PopulationPrior) -> np.ndarray:
    """Scales (one per column) so that ``A @ scales`` matches ``y`` in relative terms; each scale is
    pulled toward ``overall · exp(prior.mean)`` with the prior's spread (a Gaussian prior, linearised:
    scale ≈ centre · (1 + log-deviation))."""
    s = overall_scale(A, y)
    centre = s * np.exp(prior.mean)
    used = A.sum(axis=0) > 0
    M = np.vstack([A / (y[:, None] * NOISE), np.diag(1.0 / (centre * prior.spread))])
    rhs = np.concatenate([np.full(len(y), 1.0 / NOISE), 1.0 / prior.spread])
    lo, hi = SCALE_BOUNDS
    fit = lsq_linear(M, rhs, bounds=(lo * s * np.ones(N_SCALES), hi * s * np.ones(N_SCALES))).x
    return np.where(used, fit, centre)


def combine(predictions: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Sources' calibrated predictions (sources × models) averaged in log space."""
    w = np.ones(len(predictions)) if weights is None else np.asarray(weights, float)
    return np.exp((w[:, None] * np.log(np.maximum(predictions, 1e-9))).sum(axis=0) / w.sum())


def calibrated_predictions(sources_A: list[np.ndarray], priors: list[PopulationPrior], y: np.ndarray,
                           targets_A: list[np.ndarray]) -> np.ndarray:
    """Each source calibrated on (``sources_A[i]``, ``y``), predicting ``targets_A[i]``, combined."""
    preds = np.array([T @ fit_scales(A, y, p) for A, p, T in zip(sources_A, priors, targets_A, strict=True)])
    return combine(preds)


def choose_source(sources_A: list[np.ndarray], priors: list[PopulationPrior], y: np.ndarray) -> int:
    """The one source to serve: by leave-one-out error once there are `MIN_RECORDS_FOR_FIGURES`
    measurements, else the source whose scales vary least across the bundled phones."""
    if len(sources_A) == 1:
        return 0
    if len(y) >= MIN_RECORDS_FOR_FIGURES:
        pairs = zip(sources_A, priors, strict=True)
        return int(np.argmin([np.mean(np.abs(loo_errors([A], [p], y))) for A, p in pairs]))
    return int(np.argmin([float(p.spread.sum()) for p in priors]))


def loo_errors(sources_A: list[np.ndarray], priors: list[PopulationPrior], y: np.ndarray) -> np.ndarray:
    """Leave-one-out relative error of each measurement under the calibration the others give."""
    if len(y) < 2:
        return np.zeros(0)
    out = np.zeros(len(y))
    for i in range(len(y)):
        keep = np.arange(len(y)) != i
        pred = calibrated_predictions([A[keep] for A in sources_A], priors, y[keep], [A[i:i + 1] for A in sources_A])
        out[i] = pred[0] / y[i] - 1
    return out


# --- the served profile ---------------------------------------------------------------------------

@dataclasses.dataclass
class Calibration:
    """A calibrated profile and what the user should hear about it."""

    profile: DeviceProfile
    loo: np.ndarray  # leave-one-out relative errors over the measurements (empty below 2)
    warnings: list[str]


def stock_sources() -> list[DeviceProfile]:
    """The bundled stock-runtime GPU profiles, in the device table's order."""
    from pytest_tflite_latency.estimator.devices import PHONES
    from pytest_tflite_latency.estimator.profile import load_profile

    return [load_profile(p.profile) for p in PHONES]


def sources_for(family, source: str = "auto") -> list[DeviceProfile]:
    """The profiles a calibration starts from: ``source`` when one is named, else the bundled profiles
    of the GPU family's vendor, else all of them."""
    from pytest_tflite_latency.estimator.devices import PHONES
    from pytest_tflite_latency.estimator.profile import load_profile

    if source != "auto":
        return [load_profile(source)]
    everything = stock_sources()
    vendor = {p.profile: p.vendor for p in PHONES}
    same = [p for p in everything if family.vendor is not None and vendor.get(p.name) == family.vendor]
    return same or everything


def prior_for(profile: DeviceProfile) -> PopulationPrior:
    """The population prior learnt for a bundled profile (`calibration_priors.PRIORS`), flat for others."""
    from pytest_tflite_latency.bench.calibration_priors import PRIORS

    if profile.name not in PRIORS:
        return PopulationPrior(np.zeros(N_SCALES), np.full(N_SCALES, 0.3))
    mean, spread = PRIORS[profile.name]
    return PopulationPrior(np.array(mean), np.array(spread))


def interval_for(n: int) -> tuple[float, float]:
    """The relative-error interval a calibration from ``n`` measurements holds ~90% of unseen models in
    (`calibration_priors.INTERVALS`, learnt on the shared phones)."""
    from pytest_tflite_latency.bench.calibration_priors import INTERVALS

    return INTERVALS[max((k for k in INTERVALS if k <= n), default=min(INTERVALS))]


def expected(n: int) -> dict:
    """What the evaluation measured at the nearest N at or below ``n``: the median share within ±10%."""
    from pytest_tflite_latency.bench.calibration_priors import EXPECTED_WITHIN_10PCT

    k = max((k for k in EXPECTED_WITHIN_10PCT if k <= n), default=min(EXPECTED_WITHIN_10PCT))
    return {"n": k, "within_10pct": EXPECTED_WITHIN_10PCT[k]}


def calibrate(source: DeviceProfile, records: list[Record], name: str) -> DeviceProfile:
    """``source`` rescaled to the device the records were measured on."""
    return calibrate_from([source], records, name).profile


def calibrate_from(sources: list[DeviceProfile], records: list[Record], name: str, family=None,
                   phone: str = "") -> Calibration:
    """A profile for the phone the records were measured on, from one of ``sources`` rescaled."""
    y = np.array([r.y_ms for r in records])
    A = [parts(p, records) for p in sources]
    priors = [prior_for(p) for p in sources]
    pick = choose_source(A, priors, y)
    source = sources[pick]
    c = fit_scales(A[pick], y, priors[pick])
    loo = loo_errors([A[pick]], [priors[pick]], y)
    lo, hi = interval_for(len(y))
    heldout, warnings = _heldout(loo, (lo, hi), records)
    provenance = {
        "trained_on": f"{len(records)} whole-model measurements of {phone or name}, calibrating {source.name}",
        "calibrated_from": source.name,
        "calibration": {"phone": phone or name, "models": len(records), "source": source.name,
                        "sources_considered": [p.name for p in sources], "gpu": getattr(family, "text", "auto"),
                        "scales": {g: round(float(s), 4) for g, s in zip(GROUP_NAMES, c, strict=True)},
                        "overhead_ms": round(float(c[-1] * source.overhead_ms), 4), "expected": expected(len(records)),
                        "method": "per-group scales shrunk to a population prior (bench/calibrate.py)"},
        "heldout": heldout, "source_provenance": {k: source.provenance.get(k) for k in ("trained_on", "regressor")},
        "regenerate": "tflite-latency calibrate",
    }
    profile = dataclasses.replace(
        source, name=name, title=f"{name} (calibrated from {source.name} on {len(records)} models)",
        base=_scaled_base(source, c[:-1]), overhead_ms=float(c[-1] * source.overhead_ms), provenance=provenance,
        interval={"low": float(lo), "high": float(hi), "coverage": 0.9})
    return Calibration(profile, loo, warnings)


def _heldout(loo: np.ndarray, interval: tuple[float, float], records: list[Record]) -> tuple[dict, list[str]]:
    """provenance["heldout"] from the leave-one-out errors, and the warnings to print."""
    method = f"leave-one-out over the {len(records)} calibration measurements"
    if len(records) < MIN_RECORDS_FOR_FIGURES:
        note = (f"{len(records)} measurement(s): too few to state an error (measure at least "
                f"{MIN_RECORDS_FOR_FIGURES} models; `calibrate --suggest` says which)")
        return ({"method": method, "models": len(records), "mape_pct": None, "within_10pct": None,
                 "within_25pct": None, "interval_coverage_pct": None, "note": note}, [note])
    a = np.abs(loo)
    heldout = {"method": method, "models": len(records), "mape_pct": round(float(a.mean() * 100), 2),
               "within_10pct": round(float(np.mean(a <= 0.10) * 100), 1),
               "within_25pct": round(float(np.mean(a <= 0.25) * 100), 1),
               "interval_coverage_pct": round(float(np.mean((loo >= interval[0]) & (loo <= interval[1])) * 100), 1)}
    warnings = []
    if a.mean() > INCONSISTENT_SPREAD:
        heldout["note"] = "inconsistent measurements: the models disagree about the phone's speed"
        warnings.append(f"{heldout['note']} (leave-one-out MAPE {a.mean():.0%}); check they were measured "
                        "on one phone with one runtime and delegate")
    outliers = [r.name for r, e in zip(records, loo, strict=True) if abs(e) > 2 * INCONSISTENT_SPREAD]
    if outliers:
        warnings.append(f"these measurements disagree with the others by more than "
                        f"{2 * INCONSISTENT_SPREAD:.0%}: {', '.join(outliers[:5])}")
    return heldout, warnings


def suggest(sources: list[DeviceProfile], records: list[Record], n: int) -> list[tuple[int, str]]:
    """The ``n`` models that inform a calibration most: greedily, the model whose kernel-group mix is
    least explained by those already chosen (largest leverage in the scaled-group design), with why."""
    A = np.mean([parts(p, records) / np.maximum(parts(p, records).sum(axis=1, keepdims=True), 1e-12)
                 for p in sources], axis=0)
    chosen: list[int] = []
    out = []
    for _ in range(min(n, len(records))):
        rest = [i for i in range(len(records)) if i not in chosen]
        if not chosen:
            i = int(rest[np.argmax([np.linalg.norm(A[j] - A.mean(axis=0)) for j in rest])])
        else:
            M = A[chosen]
            G = np.linalg.pinv(M.T @ M + 1e-3 * np.eye(N_SCALES))
            i = int(rest[np.argmax([A[j] @ G @ A[j] for j in rest])])
        chosen.append(i)
        share = dict(zip(GROUP_NAMES, A[i], strict=True))
        top = max(share, key=share.get)
        out.append((i, f"{share[top]:.0%} of its time in {top}"))
    return out


def _scaled_base(profile: DeviceProfile, scales: np.ndarray) -> dict:
    """The base with every kind's own coefficients scaled by its group's factor."""
    per_kind = {kind: {k: kind_coefficients(profile.base, kind)[k] * float(scales[group_of(kind)])
                       for k in COEFFICIENTS} for kind in KINDS}
    return {**profile.base, "per_kind": per_kind}
