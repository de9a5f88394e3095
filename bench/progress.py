"""A dependency-free progress bar with an ETA, drawn on stderr for work longer than a few seconds."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")


def progress(items: Iterable[T], label: str = "", total: int | None = None, stream=None) -> Iterator[T]:
    """Yield ``items`` while drawing ``label [####....] n/N ETA``; redraws at most 10× a second."""
    stream = stream or sys.stderr
    items = list(items) if total is None and not hasattr(items, "__len__") else items
    total = total if total is not None else len(items)  # type: ignore[arg-type]
    start = last = time.monotonic()
    interactive = stream.isatty()
    for i, item in enumerate(items, 1):
        yield item
        now = time.monotonic()
        if now - last >= (0.1 if interactive else 10.0) or i == total:
            last = now
            eta = (now - start) / i * (total - i)
            filled = int(30 * i / max(total, 1))
            line = f"{label} [{'#' * filled}{'.' * (30 - filled)}] {i}/{total} ETA {eta:4.0f}s"
            stream.write(("\r" if interactive else "") + line + ("" if interactive else "\n"))
            stream.flush()
    if interactive and total:
        stream.write("\n")
