"""One check's outcome as data: `CheckRecord`, the same type for a check that passed, failed or could not be
made. Its verdict (ok, OVER, REGRESSED, ERROR) is defined here once; the failure text, the terminal table,
the JSON report, JUnit properties and the HTML page all read it from the record. A record carries what the
reporters need (the estimate's kernels and warnings, the phone's measurement), so no reporter re-estimates.

Imports nothing heavy: records travel from xdist workers to the controller as `to_dict()`.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from typing import Literal

from pytest_tflite_latency.estimator.inputs import InputError, checked_number
from pytest_tflite_latency.estimator.table import interval_label

MAX_BUDGET_MS = 3600e3  # an hour per inference: a larger budget is a typo, not a budget
POLICIES = ("estimate", "upper")  # hold the estimate, or the interval's upper bound, to the budget
Policy = Literal["estimate", "upper"]
Verdict = Literal["ok", "OVER", "REGRESSED", "ERROR"]


def checked_budget(max_ms: object, where: str = "max_ms") -> float:
    """A budget in ms: finite, positive, at most an hour; `InputError` naming ``where`` otherwise."""
    return checked_number(max_ms, where, low=0, low_open=True, high=MAX_BUDGET_MS)


def checked_margin(margin_pct: object, where: str = "margin_pct") -> float:
    """A headroom in percent of the budget, from 0 up to (not including) 100."""
    margin = checked_number(margin_pct, where, low=0, high=100)
    if margin >= 100:
        raise InputError(where, f"{margin:g} leaves no budget; expected 0 up to (not including) 100")
    return margin


def checked_policy(policy: object, where: str = "policy") -> str:
    if policy not in POLICIES:
        raise InputError(where, f"expected one of {', '.join(POLICIES)}, got {str(policy)[:40]!r}")
    return str(policy)


@dataclass
class PhoneMeasurement:
    """A phone's figures for one check (``--on-device``), in the measurement file's format (COMMON)."""

    phone: str
    serial: str
    gpu: str | None
    runtime: str
    delegate: str
    delegate_options: dict
    mean_ms: float
    std_ms: float | None
    count: int
    model_sha256: str

    @classmethod
    def from_dict(cls, d: dict) -> PhoneMeasurement:
        return cls(**{f.name: d.get(f.name) for f in fields(cls)})


@dataclass
class CheckRecord:
    """The outcome of one model × device budget check; ``error`` set when it could not be made."""

    model: str
    device: str
    max_ms: float | None
    policy: Policy = "estimate"
    margin_pct: float = 0.0
    estimate_ms: float | None = None
    interval_ms: tuple[float, float] | None = None
    coverage: float | None = None  # the interval's coverage, from the profile (0.9 …)
    measured_ms: float | None = None
    baseline_ms: float | None = None
    regression_limit_pct: float | None = None
    top_layers: list[str] = field(default_factory=list)
    layers: list[dict] = field(default_factory=list)  # Estimate.to_dict()["layers"]: a later run diffs them
    warnings: list[str] = field(default_factory=list)
    measurement: PhoneMeasurement | None = None
    test: str = ""  # the node id of the test that made the check
    budget_file: str = ""  # ``path:line`` of the budget entry, for a check from a budget file
    path: str = ""  # the model file, resolved
    model_key: str = ""  # the model file from pytest's rootdir: with `profile`, what a baseline is matched on
    profile: str = ""  # the profile the estimate used (a GPU's name resolved: adreno640 → pixel4-gpu)
    profile_sha: str = ""  # its `DeviceProfile.fingerprint`: a baseline made with another version is not compared
    baseline_profile_changed: bool = False  # the baseline's entry was made with another version of the profile
    page: str = ""  # the model's --latency-html page, relative to the session page
    error: str = ""

    # -- the verdict, defined once ------------------------------------------------------------------
    @property
    def compared_ms(self) -> float | None:
        """What the budget is held against: the phone's measurement, else the estimate or upper bound."""
        if self.measured_ms is not None:
            return self.measured_ms
        if self.estimate_ms is None or self.interval_ms is None:
            return None
        return self.interval_ms[1] if self.policy == "upper" else self.estimate_ms

    @property
    def limit_ms(self) -> float | None:
        return None if self.max_ms is None else self.max_ms * (1 - self.margin_pct / 100)

    @property
    def implausible(self) -> bool:
        """The figure held to the budget is not a finite positive time: it can never pass."""
        c = self.compared_ms
        return c is None or not (math.isfinite(c) and c > 0)

    @property
    def over_budget(self) -> bool:
        return bool(self.error) or self.implausible or self.compared_ms > self.limit_ms

    @property
    def headroom_pct(self) -> float | None:
        """How far under (+) or over (-) the limit the held figure is, in percent of the limit."""
        if self.error or self.implausible:
            return None
        return 100 * (self.limit_ms - self.compared_ms) / self.limit_ms

    @property
    def regression_pct(self) -> float | None:
        if self.baseline_ms is None or self.baseline_ms <= 0 or self.estimate_ms is None:
            return None
        return 100 * (self.estimate_ms / self.baseline_ms - 1)

    @property
    def regressed(self) -> bool:
        r = self.regression_pct
        return r is not None and self.regression_limit_pct is not None and r > self.regression_limit_pct

    @property
    def passed(self) -> bool:
        return not self.over_budget and not self.regressed

    @property
    def verdict(self) -> Verdict:
        if self.error:
            return "ERROR"
        if self.over_budget:
            return "OVER"
        return "REGRESSED" if self.regressed else "ok"

    @property
    def outside_interval(self) -> bool | None:
        """Did the phone measure outside the estimate's interval? None without a measurement."""
        if self.measured_ms is None or self.interval_ms is None:
            return None
        return not self.interval_ms[0] <= self.measured_ms <= self.interval_ms[1]

    # -- text ---------------------------------------------------------------------------------------
    @property
    def coverage_label(self) -> str:
        return interval_label(self.coverage or None)

    def what(self) -> str:
        lo, hi = self.interval_ms
        if self.measured_ms is not None:
            return f"measured {self.measured_ms:.2f} ms on the phone (estimated {self.estimate_ms:.2f} ms)"
        if self.policy == "upper":
            return (f"upper bound {hi:.2f} ms (estimate {self.estimate_ms:.2f} ms, "
                    f"{self.coverage_label} {lo:.2f}–{hi:.2f})")
        return f"estimated {self.estimate_ms:.2f} ms ({self.coverage_label} {lo:.2f}–{hi:.2f})"

    def headline(self) -> str:
        """The verdict in one line, for pytest's short test summary: ``m on d: 20.5 ms > 5 ms budget (+310%)``."""
        head = f"{self.model} on {self.device}: "
        if self.error:
            return self.error.splitlines()[0]
        if self.implausible:
            return f"{head}{self.what()} is not a finite positive time"
        if self.over_budget:
            over = 100 * (self.compared_ms - self.limit_ms) / self.limit_ms
            return f"{head}{self.compared_ms:.3g} ms > {self.limit_ms:g} ms budget (+{over:.0f}%)"
        if self.regressed:
            return (f"{head}{self.estimate_ms:.3g} ms regressed {self.regression_pct:+.1f}% from "
                    f"{self.baseline_ms:.3g} ms (threshold {self.regression_limit_pct:g}%)")
        return f"{head}{self.compared_ms:.3g} ms within the {self.limit_ms:g} ms budget"

    def message(self) -> str:
        """The failure text: what was held to which budget, the costliest kernels, the estimator's warnings."""
        if self.error:
            return self.error
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
                         f"from the baseline {self.baseline_ms:.2f} ms (threshold {self.regression_limit_pct:g}%)")
        if not lines:
            lines.append(f"{head}{self.what()} within the {self.limit_ms:.2f} ms budget")
        if self.top_layers and not self.passed:
            lines += ["costliest kernels:", *(f"  {t}" for t in self.top_layers)]
        if self.warnings:
            lines += ["estimator warnings:", *(f"  {w}" for w in self.warnings)]
        return "\n".join(lines)

    # -- transport ----------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        """JSON-ready (every figure finite: values are checked before a record is made), with the verdict."""
        d = asdict(self)
        d.update(interval_ms=list(self.interval_ms) if self.interval_ms else None, compared_ms=self.compared_ms,
                 passed=self.passed, verdict=self.verdict, regression_pct=self.regression_pct)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> CheckRecord:
        known = {f.name for f in fields(cls)}
        kwargs = {k: v for k, v in d.items() if k in known}
        if kwargs.get("interval_ms") is not None:
            kwargs["interval_ms"] = tuple(kwargs["interval_ms"])
        if kwargs.get("measurement") is not None:
            kwargs["measurement"] = PhoneMeasurement.from_dict(kwargs["measurement"])
        return cls(**kwargs)
