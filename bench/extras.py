"""The bench extra (training, evaluating and measuring on this host): which modules it brings, and the one
line a step that lacks it prints instead of a traceback."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

BENCH_MODULES = ("xgboost", "sklearn", "scipy", "ai_edge_litert")
INSTALL = ("pip install 'pytest-tflite-latency[bench]' (from a checkout: pip install -e '.[bench]' "
           "-c bench/constraints.txt)")


def missing_extra(exc: ModuleNotFoundError, step: str) -> str | None:
    """What ``step`` says when ``exc`` is a module of the bench extra missing; None for any other module."""
    module = (exc.name or "").split(".")[0]
    return f"{step} needs {module}, from the bench extra: {INSTALL}" if module in BENCH_MODULES else None


def require(*modules: str) -> None:
    """Import ``modules`` now (a ModuleNotFoundError for the first missing), so a script that needs them
    fails before it prints anything."""
    import importlib

    for module in modules:
        importlib.import_module(module)


def run_script(main: Callable[[], int]) -> int:
    """Run a ``python -m pytest_tflite_latency.bench.…`` script's ``main``: without the bench extra, one line
    naming it on stderr and exit code 2."""
    try:
        return main()
    except ModuleNotFoundError as exc:
        spec = getattr(sys.modules.get("__main__"), "__spec__", None)
        message = missing_extra(exc, f"python -m {spec.name}" if spec else Path(sys.argv[0]).name)
        if message is None:
            raise
        print(f"error: {message}", file=sys.stderr)
        return 2
