"""Rebuild the shared qed-usc models as the int8 graphs the CPU runs: imgclsmob (tf2cv) → TensorFlow
Lite full-integer post-training quantization → weights stripped.

The study's ``quant`` columns time 8-bit integer models on the CPU (XNNPACK). Latency depends on the
graph, not on weight values, so each model is built as `bench/rebuild_qed.py` builds the float one, then
quantized by TensorFlow's converter (``Optimize.DEFAULT``, a representative dataset of random inputs,
int8 builtin ops only, float input and output as the converter's default) and written with every
constant buffer larger than 64 bytes replaced by one byte and per-channel quantization parameters cut
to their first element (the estimator reads only whether a tensor is quantized).

Needs TensorFlow, tf_keras and tf2cv 0.0.18 (not project dependencies: run it with a TensorFlow
environment's Python; a conversion takes 20-90 s on a 2-core machine, run it niced in the background):

    TF_USE_LEGACY_KERAS=1 nice -n 15 /path/to/tf-venv/bin/python bench/rebuild_qed_int8.py [--only NAME ...]
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from rebuild_qed import KEEP_BYTES, models_to_rebuild

OUT = Path(__file__).resolve().parent / "data" / "qed-usc-mobile-cnn-int8"
SAMPLES = 2  # representative inputs: enough to calibrate ranges, latency does not depend on them

_CONVERT = """
import os, sys, time
import numpy as np
import tensorflow as tf
from tensorflow.lite.tools import flatbuffer_utils
np.int = int  # tf2cv 0.0.18's regnet uses aliases NumPy 1.24 removed
np.float = float
from tf2cv.model_provider import get_model
out_dir, keep, samples, names = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4:]
for name in names:  # one process for every model: TensorFlow starts once
    start = time.monotonic()
    try:
        net = get_model(name, pretrained=False, data_format="channels_last")
        net(tf.zeros([1, 224, 224, 3]))
        fn = tf.function(lambda x: net(x)).get_concrete_function(tf.TensorSpec([1, 224, 224, 3], tf.float32))
        converter = tf.lite.TFLiteConverter.from_concrete_functions([fn], net)
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        rng = np.random.default_rng(0)
        converter.representative_dataset = lambda: ([rng.uniform(-1, 1, (1, 224, 224, 3)).astype(np.float32)]
                                                    for _ in range(samples))
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        data = converter.convert()
    except Exception as exc:
        print(f"{name}: FAILED ({type(exc).__name__}: {str(exc)[:200]})", flush=True)
        continue
    model = flatbuffer_utils.read_model_from_bytearray(bytearray(data))
    for buf in model.buffers:
        if buf.data is not None and len(buf.data) > keep:
            buf.data = np.zeros(1, np.uint8)
    for sg in model.subgraphs:  # per-channel scales and zero points cut to their first: 10x smaller files
        for t in sg.tensors:
            q = t.quantization
            if q is not None and q.scale is not None and len(q.scale) > 1:
                q.scale, q.zeroPoint = q.scale[:1], q.zeroPoint[:1]
    out = os.path.join(out_dir, name + ".tflite")
    open(out + ".tmp", "wb").write(flatbuffer_utils.convert_object_to_bytearray(model))
    os.replace(out + ".tmp", out)
    print(f"{name}: ok (full model {len(data):,} bytes, stripped {os.path.getsize(out):,}) "
          f"{time.monotonic() - start:.0f} s", flush=True)
    tf.keras.backend.clear_session()
"""


def rebuild(names: list[str]) -> int:
    """Convert ``names`` in one TensorFlow process, printing one line per model; the exit status."""
    env = {**os.environ, "TF_USE_LEGACY_KERAS": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.run([sys.executable, "-c", _CONVERT, str(OUT), str(KEEP_BYTES), str(SAMPLES), *names],
                          stderr=subprocess.DEVNULL, env=env, check=False)
    return proc.returncode


def main(argv: list[str] | None = None) -> int:
    names = models_to_rebuild(argv, "bench/rebuild_qed_int8.py", __doc__, OUT)
    return rebuild(names) if names else 0


if __name__ == "__main__":
    from pytest_tflite_latency.bench.extras import run_script

    sys.exit(run_script(main))
