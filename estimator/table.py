"""Plain-text and Markdown tables and their labels, written once for the estimate report and the plugin's
summary."""

from __future__ import annotations

from collections.abc import Sequence

from .wording import counted

__all__ = ["counted", "markdown_table", "text_table"]


def text_table(heads: Sequence[str], rows: Sequence[Sequence[str]], right: frozenset[int] = frozenset(),
               width: int | None = None, shrink: int | None = None) -> list[str]:
    """Aligned lines: a head, a rule, the rows; columns in ``right`` align right. With ``width``,
    the ``shrink`` column is cut (with "…") so that each line fits."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(heads)]
    if width is not None and shrink is not None:
        over = sum(widths) + 2 * (len(widths) - 1) - width
        widths[shrink] = max(len(heads[shrink]), widths[shrink] - max(over, 0))

    def cell(i: int, text: str) -> str:
        text = text if len(text) <= widths[i] else text[:widths[i] - 1] + "…"
        return text.rjust(widths[i]) if i in right else text.ljust(widths[i])

    lines = [heads, ["-" * w for w in widths], *rows]
    return ["  ".join(cell(i, c) for i, c in enumerate(line)).rstrip() for line in lines]


def markdown_table(heads: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """The same table in GitHub Markdown."""
    return ["| " + " | ".join(heads) + " |", "|" + "---|" * len(heads),
            *("| " + " | ".join(r) + " |" for r in rows)]


def interval_label(coverage: float | None) -> str:
    """How to name an interval that held ``coverage`` (a fraction, the profile's
    ``interval.coverage``) of held-out models: "90% interval"; "interval" where it is not known."""
    return "interval" if coverage is None else f"{100 * coverage:.4g}% interval"
