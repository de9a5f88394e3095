"""How far whole-model calibration can go: the ceiling of scaling another phone's kernels.

    python -m pytest_tflite_latency.bench.calibration_ceiling

`bench.calibrate` serves a new phone a bundled profile whose kernel groups (convolutions, depthwise,
the rest, and a constant) are rescaled to fit a few whole-model measurements. This script asks what
that form could reach with everything in its favour: each source phone's *measured* per-kernel times
(the shared per-kernel rows, so no prediction error at all) summed per group, and the four scales fitted
by least squares on *all* the target phone's models (in-sample, so no sampling or family shift). The
share of the target's models within ±10% under that oracle fit bounds what any number of whole-model
measurements can give through this form: a row whose best off-diagonal cell is below 85% cannot reach
the issue's target with any source.

The second table fits the target from all five other phones' group sums at once (16 scales): in
sample it explains nearly everything, but fitted with whole families left out (about 63 models) it
falls apart — a richer mapping needs far more than ten measurements.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from pytest_tflite_latency.bench import qed
from pytest_tflite_latency.bench.calibrate import CPU_COLUMN, group_sums
from pytest_tflite_latency.bench.metrics import within_pct


def measured_parts(model: qed.QedModel, phone: str) -> np.ndarray:
    """The phone's measured kernel times of ``model`` summed per calibration group, and a constant."""
    return group_sums(np.array([k.ms[phone] for k in model.rows]), [k.kind for k in model.rows], 1.0)


def relative_fit(A: np.ndarray, y: np.ndarray, fit_on: np.ndarray | None = None) -> np.ndarray:
    """Relative errors of ``A @ c`` against ``y``, ``c`` least squares in relative error on the rows
    ``fit_on`` (all by default)."""
    W = A / y[:, None]
    rows = np.ones(len(y), bool) if fit_on is None else fit_on
    c = np.linalg.lstsq(W[rows], np.ones(int(rows.sum())), rcond=None)[0]
    return A @ c / y - 1


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m pytest_tflite_latency.bench.calibration_ceiling",
                                description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.parse_args(argv)
    models = qed.usable(qed.load())
    phones = list(qed.PHONES)
    family = np.array([m.family for m in models])
    measured = {t: np.array([m.e2e_ms[t] for m in models]) for t in phones}
    parts = {s: np.array([measured_parts(m, s) for m in models]) for s in phones}
    print(f"{len(models)} models, {len(set(family))} families. Oracle: the target's end-to-end times from a source's "
          "measured kernel times per group, scales fitted in sample; share within ±10%")
    print("target \\ source " + " ".join(f"{s:>9s}" for s in phones) + "  best other")
    for t in phones:
        cells = {s: within_pct(relative_fit(parts[s], measured[t]), 0.10) for s in phones}
        best = max(v for s, v in cells.items() if s != t)
        print(f"{t:16s} " + " ".join(f"{cells[s]:8.1f}%" for s in phones) + f"  {best:8.1f}%")
    print("\nall five other phones' group sums at once (16 scales): in sample, and with each family left out")
    for t in phones:
        A = np.column_stack([parts[s][:, :CPU_COLUMN] for s in phones if s != t] + [np.ones(len(models))])
        inside = within_pct(relative_fit(A, measured[t]), 0.10)
        outside = np.zeros(len(models))
        for f in sorted(set(family)):
            held = family == f
            outside[held] = relative_fit(A, measured[t], ~held)[held]
        print(f"{t:16s} in sample {inside:5.1f}%   families left out {within_pct(outside, 0.10):5.1f}%")
    return 0


if __name__ == "__main__":
    from pytest_tflite_latency.bench.extras import run_script

    sys.exit(run_script(main))
