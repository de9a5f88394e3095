"""The session's results as text: the terminal table (fitted to the terminal's width), the estimate vs
measured lines of ``--on-device`` with the recalibration flag, warnings' count, and the GitHub job summary.
Every verdict is the record's own (`CheckRecord.verdict`)."""

from __future__ import annotations

import math
import os
import textwrap
from pathlib import Path

from pytest_tflite_latency.estimator.table import counted, markdown_table, text_table
from pytest_tflite_latency.records import CheckRecord

TERMINAL_HEADS = ("model", "device", "latency", "budget", "headroom", "result")
MARKDOWN_HEADS = ("model", "device", "policy", "estimate", "interval", "budget", "headroom", "measured", "result",
                  "test")
DRIFT_P = 0.05  # flag a phone when this few measurements outside the interval would be this unlikely
DEFAULT_COVERAGE = 0.9  # for a profile that states none


def _ms(value: float) -> str:
    return f"{value:.2f} ms"


def _budget(r: CheckRecord) -> str:
    return f"{r.max_ms:g} ms" if r.max_ms is not None else "-"


def _headroom(r: CheckRecord) -> str:
    pct = r.headroom_pct
    return "-" if pct is None else f"{pct:+.0f}%"


def _held(r: CheckRecord) -> str:
    """The figure held to the budget, and which one it is when it is not the estimate."""
    if r.compared_ms is None:
        return "-"
    if r.measured_ms is not None:
        return f"{_ms(r.compared_ms)} phone"
    return f"{_ms(r.compared_ms)} upper" if r.policy == "upper" else _ms(r.compared_ms)


def terminal_row(r: CheckRecord) -> list[str]:
    return [r.model, r.device, _held(r), _budget(r), _headroom(r), r.verdict]


def _group(r: CheckRecord) -> str:
    """Rows are listed under the test (or budget file) they come from."""
    return r.test.split("::")[0] if r.budget_file else (r.test or "-")


def terminal_lines(records: list[CheckRecord], width: int = 80, verbose: bool = False,
                   report: Path | None = None) -> list[str]:
    """The table, one row per check under its test, every line at most ``width`` characters; then the
    phone's figures against the estimates and the warnings' count."""
    groups: dict[str, list[CheckRecord]] = {}
    for r in records:
        groups.setdefault(_group(r), []).append(r)
    rows = [terminal_row(r) for members in groups.values() for r in members]  # in the groups' order
    table = text_table(TERMINAL_HEADS, rows, right=frozenset({2, 3, 4}), width=width - 2, shrink=0)
    lines, at = ["  " + line for line in table[:2]], 2
    for name, members in groups.items():
        lines.append(_cut(name, width))
        for _ in members:
            lines.append("  " + table[at])
            at += 1
    return [*lines, *on_device_lines(records, width), *warning_lines(records, verbose, report, width)]


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else "…" + text[-(width - 1):]


def _cut_end(text: str, width: int) -> str:
    return text if len(text) <= width else text[:width - 1] + "…"


def on_device_lines(records: list[CheckRecord], width: int = 80) -> list[str]:
    """Estimate vs measured for each measured check, and per phone and profile a recalibration flag when
    more measurements fall outside the profile's interval than its coverage makes plausible."""
    measured = [r for r in records if r.measurement is not None and r.interval_ms is not None]
    if not measured:
        return []
    lines = ["on the phone, estimate vs measured:"]
    for r in measured:
        lo, hi = r.interval_ms
        std = f" ± {r.measurement.std_ms:.2f}" if r.measurement.std_ms else ""
        where = "outside" if r.outside_interval else "inside"
        lines += [_cut(f"  {r.model} on {r.device}:", width),
                  _cut_end(f"    measured {r.measured_ms:.2f}{std}, estimated {r.estimate_ms:.2f} ms, "
                           f"{r.coverage_label} {lo:.2f}–{hi:.2f}: {where}", width)]
    lines += drift_lines(measured)
    return lines


def phone_drift(records: list[CheckRecord]) -> list[dict]:
    """Per phone and profile: how many measurements fell outside the estimate's interval, whether that many
    is implausible for the interval's coverage (binomial tail under `DRIFT_P`: ``drifted``), and whether
    `calibrate` mends it (``recalibrate``: a GPU profile's; the phone's CPU measured, it cannot)."""
    by_phone: dict[tuple[str, str, str], list[CheckRecord]] = {}
    for r in records:
        if r.measurement is not None and r.interval_ms is not None:
            by_phone.setdefault((r.measurement.phone, r.measurement.serial, r.device), []).append(r)
    out = []
    for (phone, serial, device), rs in by_phone.items():
        outside = sum(bool(r.outside_interval) for r in rs)
        coverage = rs[0].coverage or DEFAULT_COVERAGE
        drifted = bool(outside) and _tail(len(rs), outside, 1 - coverage) < DRIFT_P
        on_cpu = any(r.measurement.delegate == "cpu" for r in rs)
        out.append({"phone": phone, "serial": serial, "device": device, "measured": len(rs), "outside": outside,
                    "coverage": coverage, "drifted": drifted, "recalibrate": drifted and not on_cpu})
    return out


def drift_lines(records: list[CheckRecord]) -> list[str]:
    """A line per phone and profile whose measurements miss the interval too often: `calibrate` mends a GPU
    profile; a CPU one (measured on the phone's CPU) it cannot, so that line says what the misses mean."""
    lines = []
    for d in phone_drift(records):
        if not d["drifted"]:
            continue
        misses = (f"{d['outside']} of {d['measured']} measured outside the interval (a {100 * d['coverage']:g}% "
                  f"interval leaves out about {100 * (1 - d['coverage']):g}%)")
        if d["recalibrate"]:
            lines.append(f"{d['phone']} ({d['serial']}) against {d['device']}: recalibrate: {misses}")
        else:
            lines.append(f"{d['phone']} ({d['serial']}) against {d['device']}: {misses}; this CPU profile's "
                         "figures are less sure on this phone than it states (calibrate makes GPU profiles only)")
    return lines


def _tail(n: int, k: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p): how unlikely this many misses are for a well-calibrated profile."""
    return sum(math.comb(n, i) * p ** i * (1 - p) ** (n - i) for i in range(k, n + 1))


def warning_lines(records: list[CheckRecord], verbose: bool, report: Path | None, width: int = 80) -> list[str]:
    warned = [r for r in records if r.warnings]
    if not warned:
        return []
    total = sum(len(r.warnings) for r in warned)
    where = f"each entry of {report} has its own" if report else "--latency-report keeps them per check"
    lines = [f"estimator warnings: {counted(total, 'warning')} on {counted(len(warned), 'check')}",
             _cut_end(f"  (failures show theirs; {'listed below' if verbose else '-v lists them'}; {where})", width)]
    if verbose:
        for r in warned:
            lines.append(_cut(f"  {r.model} on {r.device}:", width))
            lines += [line for w in r.warnings for line in textwrap.wrap(w, width, initial_indent="    - ",
                                                                          subsequent_indent="      ")]
    return lines


def markdown_row(r: CheckRecord) -> list[str]:
    interval = f"{r.interval_ms[0]:.2f}–{r.interval_ms[1]:.2f} ms" if r.interval_ms else "-"
    return [r.model, r.device, r.policy, _ms(r.estimate_ms) if r.estimate_ms is not None else "-", interval,
            _budget(r), _headroom(r), _ms(r.measured_ms) if r.measured_ms is not None else "-", r.verdict,
            r.test or "-"]


def markdown_summary(records: list[CheckRecord]) -> str:
    """The checks for a GitHub job summary (no width limit there: every column)."""
    lines = ["### TFLite latency budgets", "", *markdown_table(MARKDOWN_HEADS, [markdown_row(r) for r in records])]
    measured = [r for r in records if r.measurement is not None and r.interval_ms is not None]
    extra = [f"{r.model} on {r.device}: measured {r.measured_ms:.2f} ms, estimated {r.estimate_ms:.2f} ms"
             for r in measured] + drift_lines(measured) + warning_lines(records, False, None, 10**6)
    return "\n".join([*lines, "", *(f"- {x.strip()}" for x in extra)]).rstrip() + "\n\n"


def markdown_html_link(path: Path) -> str:
    """A job-summary line pointing at the ``--latency-html`` page (and the run's artifacts on GitHub)."""
    server, repo, run = (os.environ.get(k) for k in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID"))
    where = f" (in [this run's artifacts]({server}/{repo}/actions/runs/{run}#artifacts) when the job uploads it)" \
        if server and repo and run else ""
    return f"HTML latency report: `{path}`{where}\n\n"
