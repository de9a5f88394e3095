"""How fast the estimator is: warm per-model time and the cold `tflite-latency estimate` process.

    python -m pytest_tflite_latency.bench.speed [--repeats 50]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pytest_tflite_latency.bench import zoo
from pytest_tflite_latency.estimator.graph import load_graph
from pytest_tflite_latency.estimator.pipeline import estimate

CPU_DEVICE = "pixel4-cpu"  # a bundled XNNPACK profile: estimating on the CPU is timed beside the default GPU


def warm_ms(data: bytes, repeats: int, device: str | None = None) -> float:
    """Median ms of one in-process estimate of ``data`` (the default device, or ``device``), profile loaded."""
    run = (lambda: estimate(data)) if device is None else (lambda: estimate(data, device))
    run()  # load the profile once
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        run()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


# A user's installed package runs from cached bytecode: timing runs may not be denied it.
USER_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def cold_s(path: Path, repeats: int) -> float:
    script = Path(sys.executable).with_name("tflite-latency")  # the installed console script, venv or not
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        subprocess.run([str(script) if script.exists() else "tflite-latency", "estimate", str(path)], check=True,
                       capture_output=True, env=USER_ENV)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def import_numpy_s(repeats: int) -> float:
    """Median wall time of ``python -c 'import numpy'``: the floor a cold estimate is judged against."""
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import numpy"], check=True, capture_output=True, env=USER_ENV)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def plugin_overhead_s(tmp: Path, repeats: int = 7) -> tuple[float, float]:
    """Median wall time of `pytest --collect-only` on a project with one budget, plugin on vs off."""
    (tmp / "net.tflite").write_bytes(zoo.build("nasbench201", fill="zeros"))
    (tmp / "latency-budgets.yaml").write_text("budgets:\n  - model: net.tflite\n    max_ms: 15\n")
    (tmp / "test_one.py").write_text("def test_one():\n    pass\n")

    def run(*extra: str) -> float:
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
                            *extra], cwd=tmp, check=False, capture_output=True)
            times.append(time.perf_counter() - t)
        return statistics.median(times)

    return run(), run("-p", "no:tflite_latency")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m pytest_tflite_latency.bench.speed", description=__doc__)
    p.add_argument("--repeats", type=int, default=50)
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("nasbench201", "mobilenet_v2", "resnet18"):
            data = zoo.build(name, fill="zeros")
            path = Path(tmp) / f"{name}.tflite"
            path.write_bytes(data)
            ops = len(load_graph(data).main.ops)
            cold, numpy_s = cold_s(path, 5), import_numpy_s(5)
            gpu, cpu = warm_ms(data, args.repeats), warm_ms(data, args.repeats, CPU_DEVICE)
            print(f"{name:12s} {ops:4d} ops  warm estimate: median {gpu:6.2f} ms ({CPU_DEVICE}: {cpu:.2f} ms, "
                  f"{cpu / gpu:.2f}×)   cold `tflite-latency estimate`: median {cold:.2f} s = {cold / numpy_s:.1f}× "
                  f"`python -c 'import numpy'` ({numpy_s:.2f} s)")
        on, off = plugin_overhead_s(Path(tmp))
        print(f"pytest --collect-only with one budget: {on:.2f} s with the plugin, {off:.2f} s without "
              f"(+{on - off:.2f} s)")
    return 0


if __name__ == "__main__":
    from pytest_tflite_latency.bench.extras import run_script

    sys.exit(run_script(main))
