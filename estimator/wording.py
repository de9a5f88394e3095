"""Small wording helpers for messages, below every step of the pipeline (prediction, reports)."""

from __future__ import annotations


def counted(n: int, noun: str) -> str:
    """``n`` and ``noun``, plural unless ``n`` is 1: "1 kernel", "3 kernels"."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
