"""Fuzz the `.tflite` parser with mutated real models: none may crash or hang.

    python -m pytest_tflite_latency.bench.fuzz [--cases 5000] [--seed 0]

Each case flips bytes, truncates, splices or zero-fills a real model written by the project's
writer, then runs the whole estimator on it. Allowed outcomes: an estimate, or `EstimatorError`.
Anything else (an exception escaping, or one case taking over `--max-seconds`) is a failure.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
from pytest_tflite_latency.bench import zoo
from pytest_tflite_latency.bench.progress import progress
from pytest_tflite_latency.estimator.errors import EstimatorError
from pytest_tflite_latency.estimator.pipeline import estimate


def mutate(data: bytes, rng: np.random.Generator) -> bytes:
    buf = bytearray(data)
    kind = rng.integers(0, 5)
    if kind == 0:  # flip a few bytes
        for pos in rng.integers(0, len(buf), rng.integers(1, 16)):
            buf[pos] = rng.integers(0, 256)
    elif kind == 1:  # truncate
        buf = buf[: rng.integers(0, len(buf))]
    elif kind == 2:  # overwrite a 4-byte field with an extreme value
        pos = int(rng.integers(0, len(buf) - 4))
        buf[pos:pos + 4] = int(rng.choice([0, 0x7FFFFFFF, 0xFFFFFFFF, 0x80000000])).to_bytes(4, "little")
    elif kind == 3:  # zero a block
        pos, n = int(rng.integers(0, len(buf))), int(rng.integers(1, 256))
        buf[pos:pos + n] = bytes(len(buf[pos:pos + n]))
    else:  # splice a block from elsewhere
        a, b = sorted(rng.integers(0, len(buf), 2))
        n = int(rng.integers(1, 64))
        buf[a:a + n] = buf[b:b + n]
    return bytes(buf)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m pytest_tflite_latency.bench.fuzz", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cases", type=int, default=5000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-seconds", type=float, default=2.0, help="slowest a case may take")
    args = p.parse_args(argv)
    seeds = [zoo.build("mobilenet_v1", size=32, fill="zeros", dtype="float16"),
             zoo.build("mobilenet_v2", size=32, fill="zeros"),
             zoo.build("resnet18", size=32, fill="zeros", dtype="int8")]
    rng = np.random.default_rng(args.seed)
    outcomes = {"estimated": 0, "rejected": 0}
    crashes, slowest = [], 0.0
    for i in progress(range(args.cases), "fuzzing"):
        data = mutate(seeds[i % len(seeds)], rng)
        start = time.perf_counter()
        try:
            estimate(data, name=f"case{i}")
            outcomes["estimated"] += 1
        except EstimatorError:
            outcomes["rejected"] += 1
        except Exception as exc:
            crashes.append(f"case {i}: {type(exc).__name__}: {exc}")
        slowest = max(slowest, time.perf_counter() - start)
    print(f"{args.cases} mutated models: {outcomes['estimated']} estimated, {outcomes['rejected']} "
          f"rejected with a clear error, {len(crashes)} crashed; slowest case {slowest * 1000:.0f} ms")
    for line in crashes[:20]:
        print("  " + line)
    return 1 if crashes or slowest > args.max_seconds else 0


if __name__ == "__main__":
    sys.exit(main())
