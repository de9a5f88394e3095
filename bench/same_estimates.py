"""Did a refactoring change any estimate? Snapshot every estimate, then compare against the snapshot.

    python -m pytest_tflite_latency.bench.same_estimates --save before.json     # on the old code
    python -m pytest_tflite_latency.bench.same_estimates --compare before.json  # on the new code

Estimates the zoo (224×224, float32) and every converted graph in ``bench/data/qed-usc-mobile-cnn/`` on
every bundled profile: the total, the interval and each layer's milliseconds. ``--compare`` prints the
largest relative difference of any figure and the models whose estimate changed or now fails, and exits 1
when a figure moved by more than ``--tolerance`` (relative) or an outcome changed.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..estimator.errors import EstimatorError
from ..estimator.pipeline import estimate
from ..estimator.profile import device_names
from . import zoo

QED_MODELS = Path(__file__).parent / "data" / "qed-usc-mobile-cnn"


def models() -> list[tuple[str, bytes]]:
    """(name, bytes) of the zoo and of the shared converted CNNs."""
    out = [(f"zoo/{name}", zoo.build(name, fill="zeros")) for name in zoo.names()]
    return out + [(p.stem, p.read_bytes()) for p in sorted(QED_MODELS.glob("*.tflite"))]


def snapshot() -> dict[str, list[float] | str]:
    """model@device → [total, low, high, layer ms ...], or the error's one line."""
    figures: dict[str, list[float] | str] = {}
    for name, data in models():
        for device in device_names():
            try:
                e = estimate(data, device, name=name)
                figures[f"{name}@{device}"] = [e.total_ms, *e.interval_ms, *(layer.ms for layer in e.layers)]
            except EstimatorError as exc:
                figures[f"{name}@{device}"] = str(exc)
    return figures


def largest_difference(before: dict, after: dict) -> tuple[float, list[str]]:
    """(largest relative difference of any figure, keys whose outcome or layer count changed)."""
    worst, changed = 0.0, []
    for key in sorted(set(before) | set(after)):
        a, b = before.get(key), after.get(key)
        if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
            worst = max(worst, *(abs(x - y) / max(abs(x), abs(y), 1e-12) for x, y in zip(a, b, strict=True)))
        elif a != b:
            changed.append(f"{key}: {str(a)[:80]} → {str(b)[:80]}")
    return worst, changed


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m pytest_tflite_latency.bench.same_estimates", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    group = p.add_mutually_exclusive_group(required=True)
    group.add_argument("--save", type=Path, help="write the snapshot to this JSON file")
    group.add_argument("--compare", type=Path, help="compare with a snapshot written by --save")
    p.add_argument("--tolerance", type=float, default=1e-9, help="relative difference allowed (default 1e-9)")
    args = p.parse_args(argv)
    now = snapshot()
    if args.save:
        args.save.write_text(json.dumps(now))
        print(f"{len(now)} estimates written to {args.save}")
        return 0
    worst, changed = largest_difference(json.loads(args.compare.read_text()), now)
    print(f"{len(now)} estimates compared: largest relative difference {worst:.3g}, "
          f"{len(changed)} changed outcomes")
    for line in changed[:20]:
        print("  " + line)
    return 1 if changed or worst > args.tolerance else 0


if __name__ == "__main__":
    from pytest_tflite_latency.bench.extras import run_script

    sys.exit(run_script(main))
