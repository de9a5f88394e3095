"""The session's latency results: terminal table, GitHub job summary, JSON report."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

HEADS = ("model", "device", "estimate", "90% interval", "budget", "margin", "measured", "result")


def _row(r: dict) -> tuple[str, ...]:
    lo, hi = r["interval_ms"]
    limit = r["max_ms"] * (1 - r["margin_pct"] / 100)
    headroom = limit - r["compared_ms"]
    measured = f"{r['measured_ms']:.2f} ms" if r.get("measured_ms") is not None else "-"
    verdict = "ok" if r["passed"] else ("REGRESSED" if headroom >= 0 else "OVER")
    return (r["model"], r["device"], f"{r['estimate_ms']:.2f} ms", f"{lo:.2f}–{hi:.2f} ms",
            f"{r['max_ms']:g} ms", f"{headroom:+.2f} ms ({100 * headroom / limit:+.0f}%)", measured, verdict)


def terminal_table(results: list[dict]) -> list[str]:
    rows = [HEADS, *(_row(r) for r in results)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADS))]
    return ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows]


def markdown_table(results: list[dict]) -> str:
    lines = ["### TFLite latency budgets", "", "| " + " | ".join(HEADS) + " |",
             "|" + "---|" * len(HEADS)]
    lines += ["| " + " | ".join(_row(r)) + " |" for r in results]
    return "\n".join(lines) + "\n\n"


def write_report(path: Path, results: list[dict]) -> None:
    """Write the JSON report atomically (a reader never sees half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"tool": "pytest-tflite-latency", "results": results,
            "passed": sum(r["passed"] for r in results), "failed": sum(not r["passed"] for r in results)}
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        json.dump(data, f, indent=2)
    os.replace(tmp, path)
