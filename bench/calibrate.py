"""Few-shot calibration: adapt a bundled device profile to a new phone from a handful of whole-model
measurements, instead of thousands of kernel measurements.

The source profile keeps its kernels' shape-dependent costs; the new phone gets one scale per kernel
group (`GROUPS`: convolutions, depthwise convolutions, memory-bound kernels) and one for the source's
per-inference overhead, ``measured ≈ Σ scale_g · source_g + scale_o · source_overhead``, fitted on
relative errors, each scale shrunk toward the phone's overall speed relative to the source (a Gaussian
prior of relative spread `SPREAD`).

The source is one of the bundled profiles of the phones nearest the user's GPU (`devices.nearest_phones`:
the same architecture, else the same vendor; all of them for ``--gpu auto`` or a vendor none is of):
with `MIN_RECORDS_FOR_FIGURES` measurements or more, the one with the least leave-one-out error; with
fewer, the one whose ratio measured / estimated varies least across them.
Figures: ``python -m pytest_tflite_latency.bench.calibration_curve``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

import numpy as np

from pytest_tflite_latency.bench.dataset import Record, runs_on
from pytest_tflite_latency.estimator.features import FEATURES, kinds_of
from pytest_tflite_latency.estimator.kernels import KINDS
from pytest_tflite_latency.estimator.predict import kernel_ms, learned_side
from pytest_tflite_latency.estimator.profile import (
    COEFFICIENTS,
    DeviceInfo,
    DeviceProfile,
    NetworkContext,
    Roofline,
    kind_coefficients,
)
from pytest_tflite_latency.estimator.wording import counted

# Kernel groups that scale together, following the delegate's kernel choices at the granularity a
# profile serves (a kind): convolution-like kernels (ConvGeneric / Winograd / fully connected),
# depthwise (its own kernel), and every other, memory-bound, kind. The last column is the overhead.
# A group of its own for the convolutions the delegate runs as Winograd kernels (feature ``winograd``)
# was tried and left out (`bench.calibration_curve --draws 20`, with the profiles' first Winograd pricing,
# Winograd work on the conv coefficients): at N = 10 it moved the six phones by −5 … +7 points (median
# 63.4% against 62.0% within ±10%), at N = 30 it lost on five phones of six (median 67.8% against 73.9%).
GROUPS: tuple[tuple[str, ...], ...] = (("conv", "fc", "convtrans"), ("dwconv",))
# Then a column for the kernels the GPU delegate leaves on the CPU, priced as the calibrated profile
# serves them (its ``cpu_fallback`` roofline, scaled by this column's factor): a new phone has no CPU
# profile of its own, so what the calibration fits is what `estimate` then computes.
GROUP_NAMES = ("conv+fc+convtrans", "dwconv", "other", "cpu fallback", "overhead")
N_SCALES = len(GROUPS) + 3
CPU_COLUMN = N_SCALES - 2
# Measurement noise of one whole-model relative error after calibration (σ of a source's kernel model
# on unseen families: the stock profiles' held-out MAPE is 5–10%, estimator/profiles/*.json).
NOISE = 0.08
# How far (relative σ) a group's scale may stray from the overall scale before the data must pay for it:
# chosen of 0.05, 0.2, 1.0 at N = 10 on the six phones' calibration curves (medians within a point of
# each other; 0.2 has the best worst phone) — a choice made on the evaluation itself, so its figures
# are a little optimistic.
SPREAD = 0.2
SCALE_BOUNDS = (0.02, 50.0)  # relative to the overall scale: a group 50× off the rest is not a calibration
SIZE_WEIGHT = 0.3  # how far apart two models of equal kernel mix are per σ of log estimated time (`suggest`)
MIN_RECORDS_FOR_FIGURES = 5  # fewer measurements: no leave-one-out figure is stated
MIN_RECORDS_FOR_SPREAD = 3  # fewer: the interval takes the population's spread, not the calibration's own
# A calibration whose few leave-one-out errors happen to agree is not that sure on unseen models: its
# spread is kept at least this share of the population's (0.5 against none moved coverage < 1 point).
SPREAD_FLOOR = 0.5
INCONSISTENT_SPREAD = 0.30  # leave-one-out errors this large (MAPE) flag inconsistent measurements


def group_of(kind: str) -> int:
    return next((i for i, g in enumerate(GROUPS) if kind in g), len(GROUPS))


def group_sums(kernel_times: np.ndarray, kinds: Sequence[str], overhead_ms: float,
               on_cpu: np.ndarray | None = None) -> np.ndarray:
    """One model's source estimate split into (group sums ..., CPU fallback, overhead); ``on_cpu``: the
    kernels the delegate leaves on the CPU (none where not given)."""
    row = np.zeros(N_SCALES)
    column = [group_of(k) for k in kinds]
    if on_cpu is not None:
        column = np.where(on_cpu, CPU_COLUMN, column)
    np.add.at(row, column, kernel_times)
    row[-1] = overhead_ms
    return row


def source_split(profile: DeviceProfile, X: np.ndarray, where: np.ndarray) -> tuple[np.ndarray, float]:
    """A source's per-kernel ms (≥ 0) without its per-kernel dispatch cost (``context``), and that cost's
    total on the model: calibration scales it with the per-inference overhead, both costs the kernels'
    GPU time leaves out (and `calibrate_from` serves it so)."""
    ms = np.maximum(kernel_ms(profile, X, where)[0], 0.0)
    context = np.where(where == learned_side(profile.backend), profile.context_ms(X), 0.0)
    return ms - context, float(context.sum())


def parts(profile: DeviceProfile, records: list[Record]) -> np.ndarray:
    """Per record, the source's estimate of each kernel group and its overhead (columns)."""
    out = np.zeros((len(records), N_SCALES))
    for i, r in enumerate(records):
        where = runs_on(r, profile.backend)
        ms, context = source_split(profile, r.X, where)
        out[i] = group_sums(ms, kinds_of(r.X), profile.overhead_ms + context, where == "CPU")
    return out


def overall_scale(A: np.ndarray, y: np.ndarray) -> float:
    """The phone's speed relative to the source: the median measured / source estimate."""
    return float(np.median(y / np.maximum(A.sum(axis=1), 1e-9)))


def fit_scales(A: np.ndarray, y: np.ndarray, spread: float = SPREAD) -> np.ndarray:
    """Scales (one per column) so that ``A @ scales`` matches ``y`` in relative terms, each pulled toward
    the overall scale with relative spread ``spread``. Solved in closed form (ridge), then kept within
    `SCALE_BOUNDS` of the overall scale."""
    s = overall_scale(A, y)
    W = A / (y[:, None] * NOISE)  # data rows: (A·c / y − 1) / NOISE
    prior = 1.0 / (s * spread)  # prior rows: (c − s) / (s · spread)
    fit = np.linalg.solve(W.T @ W + prior**2 * np.eye(A.shape[1]), W.T @ np.full(len(y), 1.0 / NOISE) + prior**2 * s)
    return np.clip(fit, SCALE_BOUNDS[0] * s, SCALE_BOUNDS[1] * s)


def choose_source(sources_A: list[np.ndarray], y: np.ndarray) -> int:
    """The source to serve: with `MIN_RECORDS_FOR_FIGURES` measurements or more, the one with the least
    leave-one-out error; with fewer, the one whose measured / estimated ratio varies least."""
    if len(sources_A) == 1 or len(y) == 1:
        return 0
    if len(y) >= MIN_RECORDS_FOR_FIGURES:
        return int(np.argmin([np.mean(np.abs(loo_errors(A, y))) for A in sources_A]))
    return int(np.argmin([np.std(np.log(y / np.maximum(A.sum(axis=1), 1e-9))) for A in sources_A]))


def loo_errors(A: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Leave-one-out relative error of each measurement under the calibration the others give."""
    if len(y) < 2:
        return np.zeros(0)
    out = np.zeros(len(y))
    for i in range(len(y)):
        keep = np.arange(len(y)) != i
        out[i] = A[i] @ fit_scales(A[keep], y[keep]) / y[i] - 1
    return out


# --- the served profile ---------------------------------------------------------------------------

@dataclasses.dataclass
class Calibration:
    """A calibrated profile and what the user should hear about it."""

    profile: DeviceProfile
    loo: np.ndarray  # leave-one-out relative errors over the measurements (empty below 2)
    warnings: list[str]


def sources_for(family, source: str = "auto") -> list[DeviceProfile]:
    """The profiles a calibration starts from: ``source`` when one is named, else the bundled profiles
    of the phones nearest the GPU family (`devices.nearest_phones`: same architecture, else vendor, else
    all)."""
    from pytest_tflite_latency.estimator.devices import PHONES, nearest_phones
    from pytest_tflite_latency.estimator.profile import load_profile

    if source != "auto":
        return [load_profile(source)]
    return [load_profile(p.profile) for p in nearest_phones(family, PHONES)]


def interval_for(n: int, loo: np.ndarray | None = None) -> tuple[float, float]:
    """The relative-error interval a calibration from ``n`` measurements holds ~90% of unseen models in:
    the population's standardised log-error quantiles (`calibration_priors.INTERVALS`, learnt on the
    shared phones) times the spread this calibration shows, the RMS of its own leave-one-out log errors
    (``loo``, from `MIN_RECORDS_FOR_SPREAD` on; never below `SPREAD_FLOOR` of the population's), or the
    population's spread with fewer. Against the population's interval alone this holds 84.9–94.3% of each
    shared phone's unseen models at N = 10 instead of 81–97% (`bench.calibration_curve`)."""
    from pytest_tflite_latency.bench.calibration_priors import INTERVALS

    return scaled_interval(*INTERVALS[max((k for k in INTERVALS if k <= n), default=min(INTERVALS))], loo)


def scaled_interval(z_low: float, z_high: float, sigma: float, loo: np.ndarray | None) -> tuple[float, float]:
    """The relative-error interval from standardised log-error quantiles and the spread of a calibration
    with leave-one-out errors ``loo`` (`error_spread`, population spread ``sigma``)."""
    s = error_spread(loo, sigma)
    return float(np.expm1(z_low * s)), float(np.expm1(z_high * s))


def error_spread(loo: np.ndarray | None, population: float) -> float:
    """The σ of log relative error a calibration expects on unseen models (`interval_for`)."""
    if loo is None or len(loo) < MIN_RECORDS_FOR_SPREAD:
        return population
    return float(floored_spread(loo_spread(loo), population))


def floored_spread(spread: float | np.ndarray, population: float) -> float | np.ndarray:
    """A calibration's own spread (one, or one per calibration), never below `SPREAD_FLOOR` of the
    population's: few leave-one-out errors that happen to agree do not make it that sure."""
    return np.maximum(SPREAD_FLOOR * population, spread)


def standardised_interval(log_errors: np.ndarray, spreads: Callable[[float], np.ndarray],
                          quantiles: tuple[float, float]) -> tuple[float, float, float]:
    """What an evaluation learns for `scaled_interval` to serve: the ``quantiles`` of calibrated profiles'
    log errors on unseen models, each in units of the spread its calibration serves (``spreads(σ)``, one
    per error, given the population's spread σ), and σ itself (the RMS of the log errors)."""
    sigma = float(np.sqrt(np.mean(log_errors**2)))
    low, high = np.quantile(log_errors / spreads(sigma), quantiles)
    return float(low), float(high), sigma


def loo_spread(loo: np.ndarray) -> float:
    """The RMS of leave-one-out relative errors, in log terms (`error_spread` before its floor)."""
    return float(np.sqrt(np.mean(np.log1p(np.maximum(loo, -0.99)) ** 2)))


def expected(n: int, family=None) -> dict:
    """What the evaluation measured at the nearest N at or below ``n`` (`bench.calibration_curve`): the
    median over the six shared phones of the share of unseen models within ±10%, and, where ``family``
    (the user's ``--gpu``) names a vendor, each figure of the shared phones whose calibration stands for
    one to it (`devices.analogue_phones`): an Adreno phone is told what the Adreno phones reached, each
    calibrated from the other, not the median."""
    from pytest_tflite_latency.bench.calibration_priors import EXPECTED_WITHIN_10PCT, WITHIN_10PCT_BY_PHONE
    from pytest_tflite_latency.estimator.devices import PHONES, analogue_phones

    k = max((k for k in EXPECTED_WITHIN_10PCT if k <= n), default=min(EXPECTED_WITHIN_10PCT))
    out = {"n": k, "within_10pct": EXPECTED_WITHIN_10PCT[k]}
    if family is not None and family.vendor is not None:
        shared = [p for p in PHONES if p.key in WITHIN_10PCT_BY_PHONE]
        out["analogue_phones"] = {p.phone: WITHIN_10PCT_BY_PHONE[p.key][k] for p in analogue_phones(family, shared)}
    return out


def calibrated_device(source: DeviceProfile, name: str, family=None, phone: str = "") -> DeviceInfo:
    """The calibrated phone's device record: the phone (else the profile's name) and the GPU the user
    named, never the source's phone; the precisions are the source's, whose runtime setting it inherits."""
    gpu = family.text if family is not None and family.vendor is not None else None
    return DeviceInfo(phone=phone or name, gpu=gpu, model_precision=source.device.model_precision,
                      compute_precision=source.device.compute_precision)


def calibrate(source: DeviceProfile, records: list[Record], name: str) -> DeviceProfile:
    """``source`` rescaled to the device the records were measured on."""
    return calibrate_from([source], records, name).profile


def calibrate_from(sources: list[DeviceProfile], records: list[Record], name: str, family=None,
                   phone: str = "") -> Calibration:
    """A profile for the phone the records were measured on, from one of ``sources`` rescaled."""
    y = np.array([r.y_ms for r in records])
    A = [parts(p, records) for p in sources]
    pick = choose_source(A, y)
    source = sources[pick]
    c = fit_scales(A[pick], y)
    loo = loo_errors(A[pick], y)
    lo, hi = interval_for(len(y), loo)
    heldout, warnings = heldout_figures(loo, (lo, hi), records)
    provenance = {
        "trained_on": f"{len(records)} whole-model measurements of {phone or name}, calibrating {source.name}",
        "calibrated_from": source.name,
        "calibration": {"phone": phone or name, "models": len(records), "source": source.name,
                        "sources_considered": [p.name for p in sources], "gpu": getattr(family, "text", "auto"),
                        "scales": {g: round(float(s), 4) for g, s in zip(GROUP_NAMES, c, strict=True)},
                        "overhead_ms": round(float(c[-1] * source.overhead_ms), 4),
                        "expected": expected(len(records), family),
                        "method": f"per-group scales shrunk toward the overall scale (spread {SPREAD}), "
                                  "bench/calibrate.py"},
        "heldout": heldout, "source_provenance": {k: source.provenance.get(k) for k in ("trained_on", "regressor")},
        "regenerate": "tflite-latency calibrate",
    }
    profile = dataclasses.replace(
        source, name=name, title=f"calibrated from {source.name} on {counted(len(records), 'model')}",
        features=FEATURES,  # a source from before a feature was added lists a prefix: its trees read the same
        base=_scaled_base(source, c[:CPU_COLUMN]), overhead_ms=float(c[-1] * source.overhead_ms),
        cpu_fallback=_scaled_roofline(source.cpu_fallback, float(c[CPU_COLUMN])),
        transfer=_scaled_roofline(source.transfer, float(c[group_of("transfer")])),  # copies: kind transfer
        context=_scaled_context(source, float(c[-1])), provenance=provenance,
        interval={"low": float(lo), "high": float(hi), "coverage": 0.9},
        device=calibrated_device(source, name, family, phone))
    return Calibration(profile, loo, warnings)


def heldout_figures(loo: np.ndarray, interval: tuple[float, float], records: list[Record]) -> tuple[dict, list[str]]:
    """provenance["heldout"] from the leave-one-out errors, and the warnings to print."""
    method = f"leave-one-out over the {len(records)} calibration measurements"
    if len(records) < MIN_RECORDS_FOR_FIGURES:
        note = (f"{counted(len(records), 'measurement')}: too few to state an error (measure at least "
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
    """The ``n`` models that stand for the others best, with why: greedily, the model that brings every
    model closest to a chosen one (facility location on the kernel-group mix and the log of the
    estimated time). Against the same number of models drawn at random, it holds more of the shared
    phones' unseen models within ±10% at N = 3 on five phones of six and at N = 10 on three
    (`bench.calibration_curve`'s `suggested` column; it also beat picking the most unusual models
    first). A model the estimator sees as a chosen one's twin is never suggested: fewer than ``n``
    come back when the rest are twins."""
    return choose_models([parts(p, records) for p in sources], n)


def choose_models(per_source: list[np.ndarray], n: int) -> list[tuple[int, str]]:
    """`suggest` on each source's estimate of every candidate's kernel groups (`parts`)."""
    count = len(per_source[0])
    mix = np.mean([a / np.maximum(a.sum(axis=1, keepdims=True), 1e-12) for a in per_source], axis=0)
    size = np.mean([np.log(np.maximum(a.sum(axis=1), 1e-12)) for a in per_source], axis=0)
    Z = np.column_stack([mix, SIZE_WEIGHT * (size - size.mean()) / (size.std() + 1e-9)])
    distance = np.linalg.norm(Z[:, None] - Z[None], axis=2)
    nearest = np.full(count, np.inf)
    out: list[int] = []
    repeats = np.zeros(count, dtype=bool)  # the same kernels as a chosen model (a float16 twin): no news
    for _ in range(min(n, count)):
        cost = np.array([np.minimum(nearest, distance[j]).sum() for j in range(count)])
        cost[repeats] = np.inf
        if np.isinf(cost).all():
            break
        i = int(np.argmin(cost))
        repeats |= distance[i] < 1e-9
        nearest = np.minimum(nearest, distance[i])
        out.append(i)
    stands_for = np.bincount(np.argmin(distance[out], axis=0), minlength=len(out))  # each model's nearest pick
    return [(i, _why(mix[i], int(k), count)) for i, k in zip(out, stands_for, strict=True)]


def _why(mix: np.ndarray, stands_for: int, count: int) -> str:
    """Why `choose_models` lists a model: how many of the given models are nearest it (itself included)
    and what its time is spent on."""
    share = dict(zip(GROUP_NAMES, mix, strict=True))
    top = max(share, key=share.get)
    return (f"stands for {stands_for} of the {count} models, by kernel mix and size; "
            f"{share[top]:.0%} of its time in {top}")


def _scaled_context(profile: DeviceProfile, scale: float) -> NetworkContext | None:
    """The source's per-kernel dispatch cost scaled with its overhead (`source_split`)."""
    c = profile.context
    return None if c is None else NetworkContext(c.ms_per_weight_byte * scale, c.ms_per_kernel * scale)


def _scaled_roofline(roofline: Roofline, scale: float) -> Roofline:
    """A roofline whose every cost is ``scale`` times the given one's (so is its estimate of any kernel)."""
    def scaled(c):
        return dataclasses.replace(c, **{k: getattr(c, k) * scale for k in COEFFICIENTS})

    return dataclasses.replace(
        scaled(roofline),
        per_kind=None if roofline.per_kind is None else {k: scaled(c) for k, c in roofline.per_kind.items()},
        winograd_kernels=None if roofline.winograd_kernels is None else scaled(roofline.winograd_kernels))


def _scaled_base(profile: DeviceProfile, scales: np.ndarray) -> dict:
    """The base with every kind's own coefficients scaled by its group's factor (the Winograd kernels'
    own, where the source has them, by the conv group's: they are conv kernels)."""
    per_kind = {kind: {k: kind_coefficients(profile.base, kind)[k] * float(scales[group_of(kind)])
                       for k in COEFFICIENTS} for kind in KINDS}
    base = {**profile.base.to_dict(), "per_kind": per_kind}
    if profile.base.winograd_kernels is not None:
        conv = float(scales[group_of("conv")])
        base["winograd_kernels"] = {k: v * conv for k, v in profile.base.winograd_kernels.to_dict().items()}
    return base
