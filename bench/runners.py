"""Where measurements come from: this host's LiteRT runtime, or a phone over adb."""

from __future__ import annotations

import hashlib
import platform
import tempfile
import time
from importlib import metadata
from pathlib import Path

from pytest_tflite_latency.bench.litert import ready_interpreter, restore_stripped
from pytest_tflite_latency.measurement import Measurement


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


RESOLUTION_MS = 1e-5  # 10 ns: a lone repeat below it (the median above zero) is the timer's noise


class LocalRunner:
    """LiteRT on this host's CPU, one thread: a real device whose profile the loop can build.

    Kernels are timed warm, as ``benchmark_model`` does; alone, a kernel finds its weights in cache,
    which inside a network it does not (kernel sums underestimated MobileNet V2 by up to a third on
    this host): whole-model records let the trainer fit that context (`bench.train.fit_context`).
    ``cold_cache`` evicts the caches before each invoke instead (2–4× too slow for small kernels).
    """

    name, backend = "local", "cpu"
    FLUSH_BYTES = 48 * 1024 * 1024

    def __init__(self, repeats: int = 15, threads: int = 1, cold_cache: bool = False, min_batch_ms: float = 5.0):
        import numpy as np

        self.repeats, self.threads, self.min_batch_ms = repeats, threads, min_batch_ms
        self._flush = np.zeros(self.FLUSH_BYTES // 8) if cold_cache else None
        self.runtime = f"LiteRT CPU ({threads} thread{'s' if threads > 1 else ''}, " \
                       f"{'cold' if cold_cache else 'warm'} cache)"
        self.runtime_version = metadata.version("ai-edge-litert")
        self.detail = f"{_cpu_name()}, {platform.system()} {platform.machine()}"
        self._empty = ready_interpreter(self._trivial_model(), threads)

    @staticmethod
    def _trivial_model() -> bytes:
        """A model of no op (its output is its input): the cost of invoking at all, and nothing else."""
        from pytest_tflite_latency.bench.writer import ModelWriter

        m = ModelWriter()
        return m.to_bytes([m.input((1, 1))])

    def _per_invoke(self, data: bytes) -> tuple[list[float], list[float]]:
        """Per repeat, the ms of one invoke of ``data`` and of an empty invoke timed right before it, each a
        batch's mean: the empty invokes see the load the model's do."""
        it = ready_interpreter(data, self.threads)
        start = time.perf_counter()
        it.invoke()
        batch = 1 if self._flush is not None else \
            max(1, int(self.min_batch_ms / 1000 / max(time.perf_counter() - start, 1e-6)))
        model, empty = [], []
        for _ in range(self.repeats):
            empty.append(_batch_ms(self._empty, batch))
            if self._flush is not None:
                self._flush += 1.0  # streams 48 MB through the caches
            model.append(_batch_ms(it, batch))
        return model, empty

    def measure(self, data: bytes, name: str) -> Measurement:
        """Per-invoke latency over ``repeats`` batches, each less the cost of invoking at all (the least of a
        model of no op's, timed beside them: the host's load only ever adds time): a model's kernels share
        one invoke, so each lone kernel must not count it.
        Weights a file was stripped of run as zeros. A model LiteRT refuses, or one that takes no longer
        than an empty invoke (its time lost in the timer's noise), is a fault (`DeviceError`), recorded as
        such, never a measurement."""
        import numpy as np

        from pytest_tflite_latency.adb import DeviceError

        try:
            model, empty = self._per_invoke(restore_stripped(data))
        except (ValueError, RuntimeError) as exc:  # LiteRT's refusal to prepare or run it
            raise DeviceError(f"LiteRT refused the model: {(str(exc).strip().splitlines() or ['?'])[-1]}") from None
        repeats = [m - min(empty) for m in model]
        if float(np.median(repeats)) <= 0:
            raise DeviceError(f"not resolved: {1000 * float(np.median(model)):.2f} µs an invoke, no more than "
                              f"an empty invoke ({1000 * min(empty):.2f} µs) on this host")
        repeats = [max(r, RESOLUTION_MS) for r in repeats]  # a repeat under it is the timer's noise
        return Measurement(float(np.mean(repeats)), float(np.std(repeats)), len(repeats), tuple(repeats))

    def close(self) -> None:
        pass


def _batch_ms(interpreter, batch: int) -> float:
    """The mean ms of ``batch`` invokes in a row."""
    t = time.perf_counter()
    for _ in range(batch):
        interpreter.invoke()
    return (time.perf_counter() - t) * 1000 / batch


class AdbRunner:
    """TFLite's benchmark_model on a phone over adb (GPU delegate unless ``use_gpu`` is off)."""

    name = "adb"

    def __init__(self, serial: str | None, benchmark_binary: str | None, use_gpu: bool = True,
                 runs: int = 50, warmup_runs: int = 5):
        self.backend = "gpu" if use_gpu else "cpu"
        self.use_gpu = use_gpu
        from pytest_tflite_latency.adb import AdbBenchmark  # the plugin's runner: only this class needs adb

        self._bench = AdbBenchmark(serial, benchmark_binary, runs, warmup_runs).__enter__()
        self.runtime = f"TFLite benchmark_model ({'GPU delegate' if use_gpu else 'CPU'})"
        self.runtime_version = hashlib.sha256(Path(benchmark_binary).read_bytes()).hexdigest()[:12] \
            if benchmark_binary else "preinstalled"
        self.detail = f"adb serial {self._bench.serial}"
        self._tmp = tempfile.TemporaryDirectory(prefix="tflite-bench-")

    def measure(self, data: bytes, name: str) -> Measurement:
        path = Path(self._tmp.name) / f"{name}.tflite"
        path.write_bytes(data)
        try:
            return self._bench.measure(path, self.use_gpu)
        finally:
            path.unlink(missing_ok=True)

    def close(self) -> None:
        self._bench.__exit__(None, None, None)
        self._tmp.cleanup()
