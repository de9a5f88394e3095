"""The session's latency results: terminal table, GitHub job summary, JSON report."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from pytest_tflite_latency.estimator.table import markdown_table, text_table

HEADS = ("model", "device", "policy", "estimate", "90% interval", "budget", "margin", "measured", "result")


def row(r: dict) -> list[str]:
    """One check's cells under `HEADS` (the verdict last), from a `BudgetResult.to_dict()` (or an errored
    check's entry)."""
    if r.get("error"):  # the check could not be made: no figures
        budget = f"{r['max_ms']:g} ms" if r.get("max_ms") is not None else "-"
        return [r["model"], r["device"], r.get("policy") or "-", "-", "-", budget, "-", "-", "ERROR"]
    lo, hi = r["interval_ms"]
    limit = r["max_ms"] * (1 - r["margin_pct"] / 100)
    headroom = limit - r["compared_ms"]
    measured = f"{r['measured_ms']:.2f} ms" if r.get("measured_ms") is not None else "-"
    verdict = "ok" if r["passed"] else ("REGRESSED" if headroom >= 0 else "OVER")
    return [r["model"], r["device"], r["policy"], f"{r['estimate_ms']:.2f} ms", f"{lo:.2f}–{hi:.2f} ms",
            f"{r['max_ms']:g} ms", f"{headroom:+.2f} ms ({100 * headroom / limit:+.0f}%)", measured, verdict]


def terminal_table(results: list[dict]) -> list[str]:
    """One row per check: what was held to which budget, the verdict, and the test it comes from."""
    return text_table((*HEADS, "test"), [[*row(r), r.get("test") or "-"] for r in results])


def markdown_summary(results: list[dict]) -> str:
    """The same rows for a GitHub job summary."""
    rows = [[*row(r), r.get("test") or "-"] for r in results]
    return "\n".join(["### TFLite latency budgets", "", *markdown_table((*HEADS, "test"), rows)]) + "\n\n"


def markdown_html_link(path: Path) -> str:
    """A job-summary line pointing at the ``--latency-html`` page (and the run's artifacts on GitHub)."""
    server, repo, run = (os.environ.get(k) for k in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID"))
    where = f" (in [this run's artifacts]({server}/{repo}/actions/runs/{run}#artifacts) when the job uploads it)" \
        if server and repo and run else ""
    return f"HTML latency report: `{path}`{where}\n\n"


def with_layers(result: dict) -> dict:
    """The result with its model's kernel figures, so that a later run can diff against it."""
    from pytest_tflite_latency.check import estimate_of

    est = estimate_of(result)
    return {**result, "layers": est.to_dict()["layers"]} if est is not None else result


def write_report(path: Path, results: list[dict]) -> None:
    """Write the JSON report atomically (a reader never sees half a file), with each model's kernels."""
    path.parent.mkdir(parents=True, exist_ok=True)
    results = [with_layers(r) for r in results]
    data = {"tool": "pytest-tflite-latency", "results": results,
            "passed": sum(r["passed"] for r in results), "failed": sum(not r["passed"] for r in results),
            "errors": sum(bool(r.get("error")) for r in results)}
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        json.dump(data, f, indent=2, allow_nan=False)
    os.replace(tmp, path)
