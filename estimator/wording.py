"""Small wording helpers for messages, below every step of the pipeline (prediction, reports)."""

from __future__ import annotations

CURVE = "bench.calibration_curve"  # the script whose figures a calibrated profile's expectation quotes


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


def expected_accuracy(e: dict, measured: int | None = None) -> str:
    """A calibrated profile's expected share of unseen models within ±10% (``provenance.calibration.expected``:
    what `bench.calibration_curve` measured at the nearest N at or below the ``measured`` models), in words:
    the shared phones whose calibration stands for the user's (``analogue_phones``) where the GPU names a
    vendor, beside the median of all six."""
    n = e["n"]
    at = f"calibrated on {counted(n, 'model')}"
    at += "" if measured is None or n == measured else f", the nearest N at or below your {measured}"
    near = e.get("analogue_phones")
    if not near:
        return f"about {e['within_10pct']:.0f}% within ±10% (median of the six shared phones {at}; {CURVE})"
    lo, hi = min(near.values()), max(near.values())
    share = f"{lo:.0f}%" if round(lo) == round(hi) else f"{lo:.0f}–{hi:.0f}%"
    whose = "its" if len(near) == 1 else "each one's"
    return (f"about {share} within ±10% (what {', '.join(near)} reached, {at} from the bundled phone nearest "
            f"{whose} GPU, as yours is; the six phones' median {e['within_10pct']:.0f}%; {CURVE})")
