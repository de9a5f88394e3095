"""Small wording helpers for messages, below every step of the pipeline (prediction, reports)."""

from __future__ import annotations


def counted(n: int, noun: str) -> str:
    """``n`` and ``noun``, plural unless ``n`` is 1: "1 kernel", "3 kernels"."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def first_few(items: list[str], n: int = 3, sep: str = ", ") -> str:
    """The first ``n`` of ``items`` joined by ``sep``, and an ellipsis where there are more: "a, b, c, …"."""
    return sep.join(items[:n]) + (f"{sep}…" if len(items) > n else "")


def short_repr(value: object, width: int = 40, unit: str = "characters") -> str:
    """``repr(value)``, or its first ``width // 2`` characters and its length where it is longer than
    ``width`` (a 400-digit number in a message: "100000000000…(401 digits)")."""
    text = repr(value)
    return text if len(text) <= width else f"{text[:width // 2]}…({len(text)} {unit})"
