"""A latency budget check: estimate (and optionally measure) a model, compare with its budget."""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path

from pytest_tflite_latency.budgets import POLICIES, finite_number
from pytest_tflite_latency.estimator.defaults import DEFAULT_DEVICE
from pytest_tflite_latency.estimator.pipeline import Estimate, estimate
from pytest_tflite_latency.estimator.table import interval_label


class LatencyBudgetExceeded(AssertionError):
    """A model is slower than its budget (or regressed beyond the baseline threshold)."""

    def __init__(self, result: BudgetResult):
        super().__init__(result.message())
        self.result = result


@dataclass
class BudgetResult:
    """The outcome of one model × device budget."""

    model: str
    device: str
    max_ms: float
    estimate_ms: float
    interval_ms: tuple[float, float]
    policy: str = "estimate"
    margin_pct: float = 0.0
    measured_ms: float | None = None
    baseline_ms: float | None = None
    regression_limit_pct: float | None = None
    top_layers: list[str] = field(default_factory=list)
    test: str = ""
    path: str = ""  # the model file, resolved: the HTML report re-reads it
    interval_coverage: float | None = None  # share of held-out models the profile's interval held

    @property
    def compared_ms(self) -> float:
        """What the budget is held against: the phone's measurement, else the estimate or upper bound."""
        if self.measured_ms is not None:
            return self.measured_ms
        return self.interval_ms[1] if self.policy == "upper" else self.estimate_ms

    @property
    def limit_ms(self) -> float:
        return self.max_ms * (1 - self.margin_pct / 100)

    @property
    def implausible(self) -> bool:
        """The figure held to the budget is not a finite positive time: it can never pass."""
        return not (math.isfinite(self.compared_ms) and self.compared_ms > 0)

    @property
    def over_budget(self) -> bool:
        return self.implausible or self.compared_ms > self.limit_ms

    @property
    def regression_pct(self) -> float | None:
        if self.baseline_ms is None or self.baseline_ms <= 0:
            return None
        return 100 * (self.estimate_ms / self.baseline_ms - 1)

    @property
    def regressed(self) -> bool:
        r = self.regression_pct
        return r is not None and self.regression_limit_pct is not None and r > self.regression_limit_pct

    @property
    def passed(self) -> bool:
        return not self.over_budget and not self.regressed

    def what(self) -> str:
        if self.measured_ms is not None:
            return f"measured {self.measured_ms:.2f} ms on the phone (estimated {self.estimate_ms:.2f} ms)"
        lo, hi = self.interval_ms
        if self.policy == "upper":
            return (f"upper bound {hi:.2f} ms (estimate {self.estimate_ms:.2f} ms, "
                    f"{interval_label(self.interval_coverage)} {lo:.2f}–{hi:.2f})")
        return f"estimated {self.estimate_ms:.2f} ms ({interval_label(self.interval_coverage)} {lo:.2f}–{hi:.2f})"

    def message(self) -> str:
        head = f"{self.model} on {self.device}: "
        lines = []
        if self.implausible:
            lines.append(f"{head}{self.what()} is not a finite positive time: it cannot be held to the "
                         f"{self.limit_ms:.2f} ms budget")
        elif self.over_budget:
            over = self.compared_ms - self.limit_ms
            margin = f" ({self.max_ms:g} ms less {self.margin_pct:g}% margin)" if self.margin_pct else ""
            lines.append(f"{head}{self.what()} exceeds the {self.limit_ms:.2f} ms budget{margin} "
                         f"by {over:.2f} ms (+{100 * over / self.limit_ms:.1f}%)")
        if self.regressed:
            lines.append(f"{head}estimate {self.estimate_ms:.2f} ms regressed {self.regression_pct:+.1f}% "
                         f"from the baseline {self.baseline_ms:.2f} ms (threshold "
                         f"{self.regression_limit_pct:g}%)")
        if not lines:
            lines.append(f"{head}{self.what()} within the {self.limit_ms:.2f} ms budget")
        if self.top_layers and not self.passed:
            lines.append("costliest kernels:")
            lines += [f"  {t}" for t in self.top_layers]
        return "\n".join(lines)

    def to_dict(self) -> dict:
        d = asdict(self)
        d.update(interval_ms=list(self.interval_ms), compared_ms=self.compared_ms,
                 passed=self.passed, regression_pct=self.regression_pct)
        return d


@lru_cache(maxsize=256)
def _cached_estimate(path: str, mtime_ns: int, size: int, device: str, precision: str | None) -> Estimate:
    return estimate(path, device, precision=precision)


def estimate_file(model: str | os.PathLike, device: str = DEFAULT_DEVICE, precision: str | None = None) -> Estimate:
    """Estimate a model file, cached while the file is unchanged; ``precision``: the app's GPU
    delegate's ("fp16"/"fp32"; None: the profile's)."""
    path = Path(model)
    try:
        st = path.stat()
    except OSError:
        st = None
    if st is None:  # let the estimator report the missing file in its own words, one line
        return estimate(path, device, precision=precision)
    return _cached_estimate(str(path.resolve()), st.st_mtime_ns, st.st_size, device, precision)


def describe_layers(est: Estimate, n: int = 3) -> list[str]:
    out = []
    for layer in est.top_layers(n):
        shape = "x".join(map(str, layer.output_shape)) if layer.output_shape else ""
        share = 100 * layer.ms / max(est.total_ms, 1e-12)
        out.append(f"#{layer.index} {'+'.join(layer.ops)} → {shape} on {layer.runs_on}: "
                   f"{layer.ms:.2f} ms ({share:.0f}%)")
    if est.overhead_ms > 0:
        out.append(f"and a per-inference overhead no kernel change removes: {est.overhead_ms:.2f} ms "
                   f"({100 * est.overhead_ms / max(est.total_ms, 1e-12):.0f}%)")
    return out


def check_budget(model: str | os.PathLike, max_ms: float, device: str = DEFAULT_DEVICE,
                 policy: str = "estimate", margin_pct: float = 0.0, label: str | None = None,
                 precision: str | None = None) -> BudgetResult:
    """Estimate ``model`` on ``device`` (its GPU delegate computing in ``precision``, None: as the
    profile measured) and compare it with ``max_ms``; never raises on a miss."""
    if policy not in POLICIES:
        raise ValueError(f"policy must be one of {', '.join(POLICIES)}, not {policy!r}")
    if (finite_number(max_ms) or 0) <= 0:
        raise ValueError(f"max_ms must be a finite positive number of milliseconds, not {max_ms!r}")
    margin = finite_number(margin_pct)
    if margin is None or not 0 <= margin < 100:
        raise ValueError(f"margin_pct must be a number from 0 to 100, not {margin_pct!r}")
    est = estimate_file(model, device, precision)
    return BudgetResult(label or str(model), device, float(max_ms), est.total_ms, est.interval_ms,
                        policy, float(margin_pct), top_layers=describe_layers(est), path=str(Path(model).resolve()),
                        interval_coverage=est.interval_coverage)


def estimate_of(result: dict) -> Estimate | None:
    """The estimate behind a recorded result (a `BudgetResult.to_dict()`), None if the model is gone."""
    from pytest_tflite_latency.estimator.errors import EstimatorError

    if not result.get("path"):
        return None
    try:
        return estimate_file(result["path"], result["device"])
    except EstimatorError:
        return None
