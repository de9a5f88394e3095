"""The kernels a runtime launches, as the partitioner and the fusion builder hand them on to features."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from .graph import Op, Tensor
from .ops import KernelKind

RunsOn = Literal["GPU", "CPU", "copy"]  # a delegate kernel, a CPU (fallback) kernel, a GPU↔CPU copy
# what a profile measured: the GPU delegate, the CPU kernels alone (nn-Meter's TFLite 2.1), or the CPU with
# TFLite's default XNNPACK delegate (estimator/xnnpack.py)
Backend = Literal["gpu", "cpu", "xnnpack"]


@dataclass
class Kernel:
    """One launched kernel: a main op plus the ops linked into it, and where it runs."""

    index: int
    kind: KernelKind
    ops: list[Op]
    runs_on: RunsOn
    inputs: list[Tensor]  # runtime tensors it reads
    weights: list[Tensor]  # constant tensors it reads
    output: Tensor | None
    note: str = ""
    linked: tuple[str, ...] = ()  # the delegate's names of the ops linked in (fused activations too)
    runs_as: str = ""  # the op the delegate runs when it rewrote the main op (``FULLY_CONNECTED``)
    runs: int = 1  # times per inference: a counted WHILE loop's body runs once per iteration

    @property
    def op_names(self) -> tuple[str, ...]:
        return tuple(o.opcode for o in self.ops) or ("TRANSFER",)

    @property
    def main_op(self) -> Op | None:
        """The op the kernel is built around (after a merged PAD, before linked ops)."""
        return next((o for o in self.ops if not o.opcode.startswith("PAD")), self.ops[0] if self.ops else None)


@dataclass
class KernelGraph:
    """A model's kernels in launch order, the warnings met while grouping, the delegate partitions kept."""

    kernels: list[Kernel]
    warnings: list[str] = field(default_factory=list)
    partitions: int = 0
