"""Vision Transformers on phone CPUs (XNNPACK): leave-whole-ViT-family-out accuracy of the CPU predictor.

    python -m pytest_tflite_latency.bench.vit_eval                  # float32, one big core, five phones
    python -m pytest_tflite_latency.bench.vit_eval --phones pixel4 --vit-only-folds

Trains exactly the predictor the bundled CPU profiles serve (`cpu_profiles.fit`) on the shared CNNs and
the rebuilt ViTs (`bench/rebuild_qed_vit.py`, graphs in ``bench/data/qed-usc-vit``), leaving out one
ViT family (cvt, deit, mit, swin) at a time and predicting it. Beside each: the floor (latency linear in
FLOPs and file size, fitted on the same training folds) and interval coverage (the share of a family's
models inside the interval calibrated on every other family's held-out errors, CNN families included,
at the level `build_profiles.interval_level` picks, as the profiles do). Unless ``--vit-only-folds``,
every CNN family is left out too, so the CNN figures with the ViTs in training print beside the ViT ones.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from pytest_tflite_latency.bench import cpu_profiles
from pytest_tflite_latency.bench.build_profiles import held_inside, interval_level
from pytest_tflite_latency.bench.cpu_profiles import CpuModel
from pytest_tflite_latency.bench.metrics import mape_pct, within_pct

PHONES = ("pixel4", "s10", "a03s", "iphonexs", "iphone7", "onefusion")
# The phones with CPU profiles: those whose CNNs were measured too (the study timed no CNN on onefusion,
# so there its folds train on three ViT families alone; it prints only when asked for).
SERVED_PHONES = tuple(p for p in PHONES if p in cpu_profiles.qed.PHONES)
WITHIN = cpu_profiles.VIT_WITHIN
VIT_DIR, GRAPHS, load_vits, vit_family = (cpu_profiles.VIT_DIR, cpu_profiles.VIT_GRAPHS, cpu_profiles.load_vits,
                                          cpu_profiles.vit_family)


def evaluate_phone(cnns: list[CpuModel], vits: list[CpuModel], phone: str, cores: str, precision: str,
                   vit_only_folds: bool) -> dict:
    """One phone's leave-family-out errors on the ViTs (and, with CNN folds, on the CNNs)."""
    column = f"{phone}|{cores}"
    cnns = [m for m in cnns if column in m.ms]
    vits = [m for m in vits if column in m.ms]
    models = cnns + vits
    vit_families = sorted({m.family for m in vits})
    families = vit_families + ([] if vit_only_folds else sorted({m.family for m in cnns}))
    errors = cpu_profiles.leave_family_out(models, column, f"{phone}: leave-one-family-out",
                                           cpu_profiles.SETTINGS[precision], families)
    floor = cpu_profiles.floor_errors(models, column, families)
    held = [i for i, m in enumerate(models) if m.family in families]
    calibration_errors, calibration_groups = errors[held], [models[i].family for i in held]
    transformer = np.array([models[i].transformer for i in held], bool)
    level = interval_level(calibration_errors, calibration_groups, (~transformer, transformer))[0]
    inside = held_inside(calibration_errors, calibration_groups, level)
    rows = []
    for fam in vit_families:
        idx = [i for i, m in enumerate(models) if m.family == fam]
        mine = np.array([g == fam for g in calibration_groups])
        rows.append({"family": fam, "errors": errors[idx], "floor": floor[idx],
                     "coverage": 100.0 * float(np.mean(inside[mine])), "models": [models[i].name for i in idx]})
    cnn_idx = [i for i, m in enumerate(models[:len(cnns)]) if m.family in families]
    return {"phone": phone, "families": rows, "cnn_errors": errors[cnn_idx], "cnn_floor": floor[cnn_idx],
            "cnns": len(cnns), "level": level}


def bundled_errors(vits: list[CpuModel], phone: str, precision: str) -> tuple[np.ndarray, dict]:
    """The bundled CPU profile's relative error on every ViT, and what its provenance states about ViTs
    left out by family ({} where it did not train on them)."""
    from pytest_tflite_latency.estimator.profile import load_profile

    column = f"{phone}|{cpu_profiles.DEFAULT_CORES}"
    profile = load_profile(cpu_profiles.profile_name(phone, precision))
    errors = cpu_profiles.predict(vits, profile) / np.array([m.ms[column] for m in vits]) - 1
    return errors, profile.provenance["heldout"].get("vit", {})


def _line(label: str, errors: np.ndarray, floor: np.ndarray, coverage: float | None) -> str:
    cov = f"{coverage:8.1f}%" if coverage is not None else f"{'-':>9s}"
    return (f"{label:22s} {len(errors):6d} {within_pct(errors, WITHIN):7.1f}% {mape_pct(errors):7.2f}% "
            f"{within_pct(floor, WITHIN):8.1f}% {mape_pct(floor):7.2f}% {cov}")


HEADER = (f"{'phone / ViT family':22s} {'models':>6s} {'±15%':>8s} {'MAPE':>8s} {'floor±15%':>9s} "
          f"{'fl.MAPE':>8s} {'coverage':>9s}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pytest_tflite_latency.bench.vit_eval", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--phones", nargs="+", choices=PHONES, default=list(SERVED_PHONES),
                        help=f"default: {' '.join(SERVED_PHONES)} (the phones with CPU profiles)")
    parser.add_argument("--cores", default=cpu_profiles.DEFAULT_CORES)
    parser.add_argument("--precision", choices=["float", "quant"], default="float")
    parser.add_argument("--bundled", action="store_true",
                        help="the bundled CPU profiles' error on the ViTs instead (no training; in-sample where a "
                             "profile trained on them: its unseen-family figure, from its provenance, beside it)")
    parser.add_argument("--vit-only-folds", action="store_true",
                        help="leave out only ViT families (faster; coverage then calibrated on ViT folds only)")
    args = parser.parse_args(argv)
    if not (VIT_DIR / "models.csv").is_file():
        print(f"error: shared ViT measurements not found under {VIT_DIR}", file=sys.stderr)
        return 2
    vits = load_vits(args.precision)
    if not vits:
        print(f"error: no rebuilt ViT graphs in {GRAPHS[args.precision]} (run bench/rebuild_qed_vit.py)",
              file=sys.stderr)
        return 2
    if args.bundled:
        print(f"bundled CPU profiles ({args.precision}, one big core) on {len(vits)} ViTs; within ±{WITHIN:.0%}")
        every, stated = [], []
        for phone in args.phones:
            errors, heldout = bundled_errors(vits, phone, args.precision)
            every.append(errors)
            families = sorted({m.family for m in vits})
            seen = (f"  (trained on them: in-sample; ViT families left out: {heldout['within_15pct']:.1f}%, "
                    f"interval holds {heldout['interval_coverage_pct']:.1f}%)") if heldout else ""
            if heldout:
                stated.append((heldout["models"], heldout["within_15pct"]))
            print(f"{phone:10s} {within_pct(errors, WITHIN):5.1f}% MAPE {mape_pct(errors):5.1f}%  " + "  ".join(
                f"{f} {np.median([e for e, m in zip(errors, vits, strict=True) if m.family == f]):+.0%}"
                for f in families) + seen)
        print(f"{'all':10s} {within_pct(np.concatenate(every), WITHIN):5.1f}%" + (
            f"  (ViT families left out, as the profiles state: "
            f"{sum(n * w for n, w in stated) / sum(n for n, _ in stated):.1f}%)" if stated else ""))
        return 0
    cnns = cpu_profiles.load(args.precision)
    print(f"{len(vits)} ViTs ({', '.join(sorted({m.family for m in vits}))}), {len(cnns)} CNNs; "
          f"{args.precision}, {args.cores}; within ±{WITHIN:.0%}")
    print(HEADER)
    everything = {"errors": [], "floor": [], "inside": []}
    by_family: dict[str, list[np.ndarray]] = {}
    for phone in args.phones:
        result = evaluate_phone(cnns, vits, phone, args.cores, args.precision, args.vit_only_folds)
        for row in result["families"]:
            print(_line(f"{phone} {row['family']}", row["errors"], row["floor"], row["coverage"]), flush=True)
            everything["errors"].append(row["errors"])
            everything["floor"].append(row["floor"])
            everything["inside"].append(np.full(len(row["errors"]), row["coverage"]))
            by_family.setdefault(row["family"], []).append(row["errors"])
        if len(result["cnn_errors"]):
            print(_line(f"{phone} CNNs (±10%: {within_pct(result['cnn_errors'], 0.10):.1f}%)",
                        result["cnn_errors"], result["cnn_floor"], None), flush=True)
    errors, floor = np.concatenate(everything["errors"]), np.concatenate(everything["floor"])
    coverage = float(np.mean(np.concatenate(everything["inside"])))
    print(_line("all phones, all ViTs", errors, floor, coverage))
    for fam, errs in sorted(by_family.items()):
        e = np.concatenate(errs)
        print(f"  {fam:8s} {len(e):4d} ViT-phone pairs within ±15%: {within_pct(e, WITHIN):5.1f}%  "
              f"median error {100 * np.median(e):+6.1f}%")
    return 0


if __name__ == "__main__":
    from pytest_tflite_latency.bench.extras import run_script

    sys.exit(run_script(main))
