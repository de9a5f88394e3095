"""What users and files hand the tool, checked once: files opened as regular files of bounded size (no
blocking open, no read that reserves more than the file holds) and numbers checked for being finite,
convertible and in range before anything uses them.

Every module that reads a path or a number from outside (models, profiles, budgets, baselines, ini keys,
command-line options) goes through here, so the rules and their messages are the same everywhere.
"""

from __future__ import annotations

import math
import os
import stat
from pathlib import Path

from .errors import EstimatorError
from .wording import short_repr as _short


class InputError(EstimatorError):
    """A file or a value from the user is unusable; the message is one line naming where it came from."""

    def __init__(self, where: str, problem: str):
        super().__init__(f"{where}: {problem}")
        self.where, self.problem = where, problem


def whole_number(low: int = 1):
    """An argparse ``type`` for a whole number of at least ``low`` (a CLI option's count or seed): anything
    else is argparse's one-line usage error, exit code 2."""
    import argparse

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < low:
            what = "a positive whole number" if low == 1 else f"a whole number of at least {low}"
            raise argparse.ArgumentTypeError(f"expected {what}, got {_short(text)}")
        return value

    return parse


def read_regular_file(path: str | os.PathLike, max_bytes: int, what: str = "file",
                      limit: str | None = None) -> bytes:
    """The bytes of a regular file of at most ``max_bytes``; `InputError` naming ``path`` otherwise
    (``limit`` says why the bound is what it is, in the message for a file beyond it).

    Opened non-blocking (a FIFO must not wait for a writer), checked with fstat before reading (a device
    or a FIFO is refused), and read up to its size only, so a small file never reserves ``max_bytes``.
    """
    where = str(path)
    p = Path(path)
    try:
        if not p.exists():
            raise InputError(where, "no such file")
        if p.is_dir():
            raise InputError(where, f"is a directory, not a {what}")
        fd = os.open(p, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise InputError(where, f"cannot open the {what}: {exc.strerror or exc}") from None
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(f.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise InputError(where, f"not a regular file (a device, FIFO or socket), not a {what}")
        if st.st_size > max_bytes:
            raise InputError(where, f"the {what} is {st.st_size:,} bytes, "
                                    f"{limit or f'more than the {max_bytes:,} allowed'}")
        try:
            # size + 1 catches a file that grew since fstat, without reserving more than it holds
            data = f.read(st.st_size + 1)
        except OSError as exc:
            raise InputError(where, f"cannot read the {what}: {exc.strerror or exc}") from None
    if len(data) > max_bytes:
        raise InputError(where, f"the {what} grew past the {max_bytes:,} bytes allowed while it was read")
    return data


def checked_number(value: object, where: str, *, low: float | None = None, high: float | None = None,
                   low_open: bool = False, integer: bool = False) -> float:
    """``value`` as a finite float within [low, high] (``(low, high]`` with ``low_open``); `InputError`
    naming ``where`` if it is not a number, not finite, not whole where ``integer``, or out of range.

    Accepts ints, floats and numeric strings (ini keys and options arrive as text); booleans are refused.
    """
    if isinstance(value, bool) or value is None:
        raise InputError(where, f"expected a number, got {value!r}")
    try:
        number = float(value) if not isinstance(value, str) else float(value.strip())
    except (TypeError, ValueError):
        raise InputError(where, f"expected a number, got {_short(value)}") from None
    except OverflowError:  # an int beyond float's range
        raise InputError(where, f"{_short(value)} is too large") from None
    if not math.isfinite(number):
        raise InputError(where, f"expected a finite number, got {_short(value)}")
    if integer and number != int(number):
        raise InputError(where, f"expected a whole number, got {_short(value)}")
    if low is not None and (number <= low if low_open else number < low):
        raise InputError(where, f"{_short(value)} is {'at or ' if low_open else ''}below the allowed minimum {low:g}")
    if high is not None and number > high:
        raise InputError(where, f"{_short(value)} is above the allowed maximum {high:g}")
    return number
