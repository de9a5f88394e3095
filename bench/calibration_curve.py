"""How well calibration serves a phone no profile covers: the accuracy curve per phone.

    nice -n 10 python -m pytest_tflite_latency.bench.calibration_curve [--draws 30]

Each of the six shared phones in turn plays the new phone: its own profile is left out, and the other
five are the sources. Each model family in turn is judged: the sources are retrained without it
(`bench.calib_cache`, computed once), and N calibration models are drawn at random, uniformly without
replacement, from the other families' models — never from the judged one. Every draw is repeated
``--draws`` times with its own seed; a cell is the median over draws of the share of the judged models
(all families pooled) within ±10% of what the phone measured.

Columns: `calibrated` (`tflite-latency calibrate --gpu <the phone's GPU>`: one source of the phones
nearest the GPU, chosen and scaled as `bench.calibrate` does), `suggested` (the same, calibrated on
the N models `calibrate --suggest N` picks from the other families' models instead of a random draw:
one pick per family, no draws), `auto` (the same with ``--gpu auto``: of every source), `previous`
(the method before: one source picked by leave-one-out, scales pulled toward the source), `floor`
(latency linear in FLOPs and file size fitted on the same N models), `uncal.` (the best bundled source
profile with no calibration: the bar for N = 1) and `own` (the phone's own profile trained on its
kernels without the judged family: what thousands of kernel measurements give). The interval column
is the share of the phone's judged models inside the calibrated profile's interval
(`calibrate.interval_for`), its standardised quantiles learnt from the other five phones' errors at
the same N.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from pytest_tflite_latency.bench import calib_cache, qed
from pytest_tflite_latency.bench.calibrate import (
    choose_models,
    choose_source,
    error_spread,
    fit_scales,
    group_sums,
    loo_errors,
    standardised_interval,
)
from pytest_tflite_latency.bench.metrics import within_pct
from pytest_tflite_latency.bench.progress import progress
from pytest_tflite_latency.estimator.devices import nearest_phones
from pytest_tflite_latency.estimator.devices import phone as device
from pytest_tflite_latency.estimator.features import kinds_of

SHOTS = (1, 3, 10, 30)
INTERVAL = (0.05, 0.95)


def parts_of(data: calib_cache.CalibrationData, phone: str, family: str | None) -> np.ndarray:
    t = data.times[(phone, family)]
    return np.array([group_sums(ms, kinds_of(X), o)
                     for ms, X, o in zip(t.kernel_ms, data.X, t.overhead_ms, strict=True)])


def sources_for(target: str, vendor_only: bool) -> list[str]:
    """The other phones a calibration of ``target`` starts from: with its GPU named (``vendor_only``), the
    nearest ones as `tflite-latency calibrate --gpu` picks them (`devices.nearest_phones`); else all."""
    others = [device(p) for p in qed.PHONES if p != target]
    chosen = nearest_phones(device(target).family, others) if vendor_only else others
    return [p.key for p in chosen]


def previous_method(A_by_source: dict, y: np.ndarray, judged: dict) -> np.ndarray:
    """The method before this one: 3 group scales + overhead pulled toward the source (0.02), one
    source picked by leave-one-out over the N models (the first source for N < 2)."""
    def fit(A, yy):
        n = A.shape[1]
        if len(yy) < 3:
            return np.full(n, float(np.median(yy / A.sum(axis=1))))
        if len(yy) < 8:
            A = np.column_stack([A[:, :-1].sum(axis=1), A[:, -1]])
        M = np.vstack([A / yy[:, None], 0.02 * np.eye(A.shape[1])])  # lsq_linear's bounds (0, 20) clipped
        c = np.clip(np.linalg.lstsq(M, np.concatenate([np.ones(len(yy)), 0.02 * np.ones(A.shape[1])]),
                                    rcond=None)[0], 0.0, 20.0)
        return c if A.shape[1] == n else np.array([c[0]] * (n - 1) + [c[1]])

    def loo(A):
        if len(y) < 2:
            return 0.0
        return float(np.mean([abs(A[i] @ fit(np.delete(A, i, 0), np.delete(y, i))) / y[i] - 1
                              for i in range(len(y))]))

    best = min(A_by_source, key=lambda s: loo(A_by_source[s])) if len(y) >= 2 else next(iter(A_by_source))
    return judged[best] @ fit(A_by_source[best], y)


def floor_fit(data, calib: np.ndarray, y: np.ndarray, judged: np.ndarray) -> np.ndarray:
    flops = np.array([X[:, 0].sum() for X in data.X])
    A = np.column_stack([np.ones(len(flops)), flops, data.file_size])
    if len(y) < 3:
        return flops[judged] * float(np.median(y / flops[calib]))
    W = A[calib] / y[:, None]
    scale = np.abs(W).max(axis=0)
    coef = np.linalg.lstsq(W / scale, np.ones(len(y)), rcond=None)[0] / scale
    return A[judged] @ coef


def served(As: list[np.ndarray], judged_As: list[np.ndarray], y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """What `tflite-latency calibrate` serves: one source chosen, its scales fitted on the N models; and
    that calibration's leave-one-out errors, which set its interval's width."""
    pick = choose_source(As, y)
    return judged_As[pick] @ fit_scales(As[pick], y), loo_errors(As[pick], y)


def evaluate(data, target: str, draws: int) -> dict[str, dict[int, list[np.ndarray]]]:
    """Per method and N, per draw, the judged models' relative errors (all families pooled)."""
    families = sorted(set(data.families))
    fam = np.array(data.families)
    y_all = data.measured[target]
    methods = ("calibrated", "suggested", "auto", "previous", "floor")
    out = {m: {n: [[] for _ in range(draws)] for n in SHOTS} for m in methods}
    loos = {n: [[] for _ in range(draws)] for n in SHOTS}  # per draw, per family: the served calibration's LOO
    nearest, everyone = sources_for(target, True), sources_for(target, False)
    uncal = {s: [] for s in qed.PHONES if s != target}
    own = []
    for family in families:
        judged = np.flatnonzero(fam == family)
        pool = np.flatnonzero(fam != family)
        A = {s: parts_of(data, s, family) for s in qed.PHONES}
        own.append(A[target][judged].sum(axis=1) / y_all[judged] - 1)
        for s in uncal:
            uncal[s].append(A[s][judged].sum(axis=1) / y_all[judged] - 1)
        for n in SHOTS:  # `calibrate --suggest n`'s pick from the other families' models
            calib = pool[[i for i, _ in choose_models([A[s][pool] for s in nearest], n)]]
            pred, _ = served([A[s][calib] for s in nearest], [A[s][judged] for s in nearest], y_all[calib])
            for r in range(draws):  # deterministic: the same errors in every draw
                out["suggested"][n][r].append(pred / y_all[judged] - 1)
            for r in range(draws):
                rng = np.random.default_rng([r, n, families.index(family), list(qed.PHONES).index(target)])
                calib = rng.choice(pool, size=min(n, len(pool)), replace=False)
                y = y_all[calib]
                for method, src in (("calibrated", nearest), ("auto", everyone)):
                    pred, loo = served([A[s][calib] for s in src], [A[s][judged] for s in src], y)
                    out[method][n][r].append(pred / y_all[judged] - 1)
                    if method == "calibrated":
                        loos[n][r].append((loo, len(judged)))
                prev = previous_method({s: A[s][calib] for s in everyone}, y,
                                       {s: A[s][judged] for s in uncal})
                out["previous"][n][r].append(prev / y_all[judged] - 1)
                out["floor"][n][r].append(floor_fit(data, calib, y, judged) / y_all[judged] - 1)
    result = {m: {n: [np.concatenate(d) for d in out[m][n]] for n in SHOTS} for m in methods}
    result["loo"] = loos
    result["uncal."] = {0: [np.concatenate(uncal[s]) for s in uncal]}
    result["own"] = {0: [np.concatenate(own)]}
    return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m pytest_tflite_latency.bench.calibration_curve", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--draws", type=int, default=30, help="random draws of the N calibration models per cell")
    p.add_argument("--phones", nargs="+", default=list(qed.PHONES), choices=list(qed.PHONES))
    p.add_argument("--priors", action="store_true",
                   help="print bench/calibration_priors.py (population priors, intervals, expected accuracy)")
    args = p.parse_args(argv)
    data = calib_cache.load()
    results = {}
    for t in progress(args.phones, "phones left out"):
        results[t] = evaluate(data, t, args.draws)
    print(f"within ±10% of the measured latency, median over {args.draws} draws; "
          f"{len(data.names)} models in {len(set(data.families))} families, each family judged by sources "
          "retrained without it")
    print(f"{'phone':9s} {'N':>3s} {'calibrated':>10s} {'suggested':>9s} {'auto':>6s} {'previous':>8s} {'floor':>6s} "
          f"{'uncal.':>7s} {'own':>6s} {'interval':>9s}")
    for t, res in results.items():
        best_uncal = max(within_pct(e, 0.10) for e in res["uncal."][0])
        own = within_pct(res["own"][0][0], 0.10)
        for n in SHOTS:
            cells = [float(np.median([within_pct(e, 0.10) for e in res[m][n]]))
                     for m in ("calibrated", "suggested", "auto", "previous", "floor")]
            others = {o: r for o, r in results.items() if o != t}
            cover = float("nan")
            if others:  # the interval learnt from the other phones' errors, judged on this one's
                z_low, z_high, sigma = interval_prior(others, n)
                z = standardised(res, n, sigma)
                cover = float(np.mean((z >= z_low) & (z <= z_high)) * 100)
            widths = (9, 8, 5, 7, 5)  # the header's column widths, less the % sign
            print(f"{t:9s} {n:3d} " + " ".join(f"{c:{w}.1f}%" for c, w in zip(cells, widths, strict=True))
                  + f" {best_uncal:6.1f}% {own:5.1f}% {cover:8.1f}%", flush=True)
    if args.priors:
        print_priors(results)
    return 0


def served_spreads(res: dict, n: int, sigma: float) -> np.ndarray:
    """Per calibrated log error of one phone at N = ``n`` (all draws), the spread its calibration serves
    (`calibrate.error_spread` with population spread ``sigma``)."""
    return np.concatenate([np.full(k, error_spread(loo, sigma)) for per_family in res["loo"][n]
                           for loo, k in per_family])


def log_errors(res: dict, n: int) -> np.ndarray:
    """One phone's calibrated log relative errors at N = ``n``, all draws in turn (as `served_spreads`)."""
    return np.log1p(np.concatenate(res["calibrated"][n]))


def standardised(res: dict, n: int, sigma: float) -> np.ndarray:
    """One phone's calibrated log errors at N = ``n`` (all draws), each divided by the spread its
    calibration serves."""
    return log_errors(res, n) / served_spreads(res, n, sigma)


def interval_prior(results: dict, n: int) -> tuple[float, float, float]:
    """(low, high) quantiles of the standardised log errors pooled over ``results``' phones, and their
    population spread σ: the interval a calibration from ``n`` measurements serves."""
    phones = list(results.values())
    return standardised_interval(np.concatenate([log_errors(r, n) for r in phones]),
                                 lambda sigma: np.concatenate([served_spreads(r, n, sigma) for r in phones]),
                                 INTERVAL)


def print_priors(results) -> None:
    """The module `bench/calibration_priors.py`, from every phone's errors."""
    print('\n"""Calibration\'s population figures, learnt on the six shared phones: printed by')
    print("``python -m pytest_tflite_latency.bench.calibration_curve --priors`` (regenerate after retraining the")
    print('stock profiles)."""\n')
    print("# N measurements → (5th, 95th) percentiles of calibrated profiles' log relative errors on unseen")
    print("# families, in units of each calibration's own spread (`calibrate.error_spread`), and the population's")
    print("# spread (σ of the log error), which stands in below `calibrate.MIN_RECORDS_FOR_SPREAD` measurements")
    print("INTERVALS: dict[int, tuple[float, float, float]] = {")
    for n in SHOTS:
        z_low, z_high, sigma = interval_prior(results, n)
        print(f"    {n}: ({z_low:.4f}, {z_high:.4f}, {sigma:.4f}),")
    print("}")
    print("# N → median over the six phones of the share of unseen models within ±10% (median over draws)")
    print("EXPECTED_WITHIN_10PCT: dict[int, float] = {")
    for n in SHOTS:
        med = np.median([np.median([within_pct(e, 0.10) for e in r["calibrated"][n]]) for r in results.values()])
        print(f"    {n}: {med:.1f},")
    print("}")
    print("# N → each shared phone's share of unseen models within ±10% when it played the new phone, calibrated")
    print("# with its GPU named (the curve's ``calibrated`` column, median over draws): what `calibrate.expected`")
    print("# states for a GPU whose calibration these phones' own stand for (`devices.analogue_phones`)")
    print("WITHIN_10PCT_BY_PHONE: dict[str, dict[int, float]] = {")
    for phone, r in results.items():
        cells = ", ".join(f"{n}: {np.median([within_pct(e, 0.10) for e in r['calibrated'][n]]):.1f}" for n in SHOTS)
        print(f'    "{phone}": {{{cells}}},')
    print("}")


if __name__ == "__main__":
    from pytest_tflite_latency.bench.extras import run_script

    sys.exit(run_script(main))
