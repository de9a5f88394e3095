"""The shared qed-usc measurements: 69 real CNNs on six phones' GPUs, end to end and per kernel.

Each measured model's graph is rebuilt by TensorFlow (`bench/rebuild_qed.py`, weights stripped) and
read through the estimator's own pipeline; its GPU kernels are matched, in order, to the kernel rows the
delegate reported. Training uses exactly what `estimate` computes from a `.tflite` file.

    python -m pytest_tflite_latency.bench.qed [-v]    # kernel-list agreement with the delegate's rows
"""

from __future__ import annotations

import argparse
import ast
import csv
import re
import sys
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy as np

from pytest_tflite_latency.bench.dataset import DATA_DIR, Record
from pytest_tflite_latency.estimator.devices import PHONES as DEVICE_TABLE
from pytest_tflite_latency.estimator.features import featurize
from pytest_tflite_latency.estimator.graph import load_graph
from pytest_tflite_latency.estimator.kernels import Kernel, group_kernels

QED_DIR = DATA_DIR / "qed-usc-mobile-cnn"  # models.csv, gpu_kernels.csv
GRAPHS = Path(__file__).resolve().parent / "data" / "qed-usc-mobile-cnn"  # the rebuilt graphs
PHONES = {p.key: p for p in DEVICE_TABLE}  # dataset key → the phone (estimator/devices.py)
# The kernel the delegate reported (its name's first part) → the estimator's kernel kind.
_REPORTED_KIND = {"convolution_2d": "conv", "convolution_2d_grouped": "conv", "convolution_winograd_4x4_6x6": "conv",
                  "depthwise_convolution": "dwconv", "fully_connected": "fc", "mean": "reduce",
                  "pooling_2d": "pool", "concat": "concat"}
LISTED_KINDS = frozenset(_REPORTED_KIND.values())
# Families left out together in cross-validation: a network never helps predict its own relatives.
FAMILIES = (
    ("mobilenet_v1", r"^(fd)?mobilenetb?_"), ("mobilenet_v2", r"^mobilenetv2"), ("mobilenet_v3", r"^mobilenetv3"),
    ("mobile_nas", r"^(mnasnet|proxylessnas|fbnet)"), ("efficientnet", r"^efficientnet"),
    ("resnet", r"^(se)?(pre)?resnet(bc)?\d"), ("resnext", r"^resnext"), ("regnet", r"^regnet"),
    ("densenet", r"^densenet"), ("squeezenet", r"^squeezenet"), ("bagnet", r"^bagnet"),
)


def family(model: str) -> str:
    """The architecture family a model belongs to (``resnet`` for ``sepreresnet18``)."""
    return next((name for name, pattern in FAMILIES if re.match(pattern, model)), model)


@dataclass(frozen=True)
class KernelRow:
    """One kernel the delegate reported: its kind, its linked ops and its time on each phone (ms)."""

    kind: str
    linked: tuple[str, ...]
    ms: dict[str, float]
    shape: tuple[int | None, int | None, int | None]  # input channels, output height, output channels


@dataclass(frozen=True)
class QedModel:
    """One measured network: its rebuilt graph's kernels and its measurements."""

    name: str
    family: str
    file_size: int  # bytes of the measured .tflite
    e2e_ms: dict[str, float]  # phone key → end-to-end GPU latency
    cpu_ms: dict[str, float]  # phone key → end to end on one big CPU core (float32 model)
    rows: tuple[KernelRow, ...] = field(repr=False)
    kernels: tuple[Kernel, ...] = field(repr=False)  # the estimator's GPU-backend kernels of the rebuilt graph
    X: np.ndarray = field(repr=False)  # their features
    X_cpu: np.ndarray = field(repr=False)  # features of its CPU-backend kernels

    @property
    def gpu_listed(self) -> list[int]:
        """Indices of the estimator's GPU kernels of the kinds the delegate's rows list."""
        return [i for i, k in enumerate(self.kernels) if k.runs_on == "GPU" and k.kind in LISTED_KINDS]

    def pairs(self) -> list[tuple[int, KernelRow]]:
        """(estimator kernel index, row) for every row, matched to the first unclaimed GPU kernel of
        the same kind and shape; rows without one are left out. Kernels may come in another order
        than the rows: the rebuilt file's converter can order independent branches differently."""
        free = list(self.gpu_listed)
        out = []
        for row in self.rows:
            i = next((i for i in free if _same(self.kernels[i], row)), None)
            if i is not None:
                free.remove(i)
                out.append((i, row))
        return out

    def matched(self) -> bool:
        """Does the estimator's kernel list match the delegate's rows exactly (kind and linked ops)?"""
        listed = [self.kernels[i] for i in self.gpu_listed]
        return len(listed) == len(self.rows) and all(
            (k.kind, k.linked) == (r.kind, r.linked) for k, r in zip(listed, self.rows, strict=True))

    def aligned(self) -> bool:
        """The same kernels of the same kinds and shapes, in any order (linked ops may differ)."""
        return len(self.gpu_listed) == len(self.rows) == len(self.pairs())


def _same(k: Kernel, row: KernelRow) -> bool:
    if k.kind != row.kind:
        return False
    in_c = k.inputs[0].shape[-1] if k.inputs else None
    out = k.output.shape if k.output is not None else ()
    mine = (in_c, out[1] if len(out) == 4 else None, out[-1] if out else None)
    return all(a is None or b is None or a == b for a, b in zip(mine, row.shape, strict=True))


def _row_shape(kind: str, feature: dict) -> tuple[int | None, int | None, int | None]:
    def number(key: str) -> int | None:
        value = feature.get(key)
        return int(value) if value not in (None, "-") else None

    if kind in ("conv", "fc"):
        return number("Input_channel"), number("Output_shape"), number("Filter")
    if kind in ("dwconv", "pool"):
        return number("Input_channel"), number("Output_shape"), number("Input_channel")
    if kind == "reduce":
        return number("Input_channel"), None, number("Input_channel")
    return None, number("Output_shape"), number("Filter")  # concat: output channels in Filter


def _reported(name: str) -> tuple[str, tuple[str, ...]]:
    parts = [re.sub(r"_\d+$", "", p) for p in name.split("_linked_:_")]
    return _REPORTED_KIND[parts[0]], tuple(parts[1:])


def _kernel_rows() -> dict[str, list[KernelRow]]:
    rows: dict[str, list[KernelRow]] = {}
    with open(QED_DIR / "gpu_kernels.csv", newline="") as f:
        for r in csv.DictReader(f):
            kind, linked = _reported(r["pixel4|gpu|kernel"])
            ms = {p: float(r[f"{p}|gpu|float"]) / 1000 for p in PHONES}
            shape = _row_shape(kind, ast.literal_eval(r["feature"]))
            rows.setdefault(r["model"], []).append(KernelRow(kind, linked, ms, shape))
    return rows


@cache
def load() -> tuple[QedModel, ...]:
    """Every shared model whose rebuilt graph is in the repository, in the dataset's order."""
    rows = _kernel_rows()
    models = []
    with open(QED_DIR / "models.csv", newline="") as f:
        for r in csv.DictReader(f):
            path = GRAPHS / f"{r['model']}.tflite"
            if not path.is_file():
                continue
            graph = load_graph(path)
            kernels = tuple(group_kernels(graph, "gpu").kernels)
            models.append(QedModel(r["model"], family(r["model"]), int(r["size"]),
                                   {p: float(r[f"{p}|gpu|float|mean"]) / 1000 for p in PHONES},
                                   {p: float(r[f"{p}|1large|float|mean"]) / 1000 for p in PHONES},
                                   tuple(rows.get(r["model"], ())), kernels, featurize(list(kernels), "gpu"),
                                   featurize(group_kernels(graph, "cpu").kernels, "cpu")))
    return tuple(models)


def usable(models: tuple[QedModel, ...] | list[QedModel]) -> list[QedModel]:
    """The models whose rebuilt graph runs the same kernels as the measured file (all 69 since the
    grouped convolutions of RegNetX and ResNeXt are rebuilt as one grouped CONV_2D each,
    `bench/rebuild_qed.py`): only they train and judge."""
    return [m for m in models if m.aligned()]


def kernel_records(models: list[QedModel], phone: str) -> list[Record]:
    """One single-kernel record per delegate row matched to one of the estimator's kernels."""
    out = []
    for m in models:
        for i, row in m.pairs():
            out.append(Record(f"{m.name}#{i}", m.X[i:i + 1], row.ms[phone], np.ones(1, bool), kind="kernel"))
    return out


def model_records(models: list[QedModel], phone: str) -> list[Record]:
    """One whole-model record per model (its end-to-end GPU latency)."""
    return [Record(m.name, m.X, m.e2e_ms[phone], np.array([k.runs_on == "GPU" for k in m.kernels]))
            for m in models]


def cpu_records(models: list[QedModel], phone: str) -> list[Record]:
    """One whole-model record per model: its end-to-end time on one big CPU core."""
    return [Record(m.name, m.X_cpu, m.cpu_ms[phone], np.ones(len(m.X_cpu), bool)) for m in models]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m pytest_tflite_latency.bench.qed", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-v", "--verbose", action="store_true", help="show every model and each disagreement")
    args = p.parse_args(argv)
    models = load()
    if not models:
        print(f"error: no rebuilt graphs in {GRAPHS} (run bench/rebuild_qed.py)", file=sys.stderr)
        return 2
    exact = [m for m in models if m.matched()]
    aligned = [m for m in models if m.aligned()]
    print(f"kernel lists of {len(models)} shared models against the delegate's rows:")
    print(f"  exact (same kernels, kinds and linked ops): {len(exact)}/{len(models)} "
          f"({100 * len(exact) / len(models):.0f}%)")
    print(f"  same kernels and kinds, linked ops may differ: {len(aligned)}/{len(models)} "
          f"({100 * len(aligned) / len(models):.0f}%)")
    for m in models:
        if args.verbose or not m.matched():
            listed = [m.kernels[i] for i in m.gpu_listed]
            diffs = [(i, (k.kind, k.linked), (r.kind, r.linked))
                     for i, (k, r) in enumerate(zip(listed, m.rows, strict=False))
                     if (k.kind, k.linked) != (r.kind, r.linked)]
            print(f"  {m.name}: {len(listed)} kernels, {len(m.rows)} rows"
                  + (f"; first difference at kernel {diffs[0][0]}: estimator {diffs[0][1]}, delegate {diffs[0][2]}"
                     if diffs else ""))
    return 0


if __name__ == "__main__":
    from pytest_tflite_latency.bench.extras import run_script

    sys.exit(run_script(main))
