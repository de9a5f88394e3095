"""Rebuild the shared qed-usc models' graphs: imgclsmob (tf2cv) → TensorFlow Lite → weights stripped.

Grouped convolutions (RegNetX, ResNeXt) are built as one Keras ``Conv2D(groups=G)``, which converts to
the single grouped CONV_2D the phones ran (tf2cv itself splits them into one convolution per group).

Needs TensorFlow, tf_keras and tf2cv 0.0.18 (not project dependencies: run it with a TensorFlow
environment's Python). Each model is built as the dataset's README says, converted by TensorFlow's own
converter, and written with every constant buffer larger than 64 bytes replaced by one byte: the graph,
shapes and options stay exact, the file shrinks from megabytes to kilobytes, and the estimator reads
it as it reads the full model (it looks at no weight values). Training and evaluation read these files,
so profiles regenerate without TensorFlow.

    TF_USE_LEGACY_KERAS=1 /path/to/tf-venv/bin/python bench/rebuild_qed.py [--only NAME ...]
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import time
from pathlib import Path

OUT = Path(__file__).resolve().parent / "data" / "qed-usc-mobile-cnn"  # beside models.csv
KEEP_BYTES = 64  # constant buffers up to this size (shapes, axes, paddings) are kept as they are

_CONVERT = """
import os, sys
import numpy as np
import tensorflow as tf
from tensorflow.lite.tools import flatbuffer_utils
np.int = int  # tf2cv 0.0.18's regnet uses aliases NumPy 1.24 removed
np.float = float
from tf2cv.model_provider import get_model
from tf2cv.models import common
_split_init = common.Conv2d.__init__


def _grouped_init(self, in_channels, out_channels, kernel_size, strides=1, padding=0, dilation=1, groups=1,
                  use_bias=True, force_same=False, data_format="channels_last", **kwargs):
    # tf2cv splits a grouped convolution into one Conv2D per group (SPLIT, CONV_2D × G, CONCATENATION);
    # the measured files hold one grouped CONV_2D: build that with Keras' own Conv2D(groups=G)
    grouped = groups > 1 and not (groups == in_channels == out_channels)
    _split_init(self, in_channels, out_channels, kernel_size, strides, padding, dilation, 1 if grouped else groups,
                use_bias, force_same, data_format, **kwargs)
    if grouped:
        self.conv = common.nn.Conv2D(filters=out_channels, kernel_size=self.conv.kernel_size,
                                     strides=self.conv.strides, padding=self.conv.padding, data_format=data_format,
                                     dilation_rate=self.conv.dilation_rate, use_bias=use_bias, groups=groups,
                                     name="conv")


common.Conv2d.__init__ = _grouped_init
name, out, keep = sys.argv[1], sys.argv[2], int(sys.argv[3])
net = get_model(name, pretrained=False, data_format="channels_last")
fn = tf.function(lambda x: net(x)).get_concrete_function(tf.TensorSpec([1, 224, 224, 3], tf.float32))
data = tf.lite.TFLiteConverter.from_concrete_functions([fn], net).convert()
model = flatbuffer_utils.read_model_from_bytearray(bytearray(data))
for buf in model.buffers:
    if buf.data is not None and len(buf.data) > keep:
        buf.data = np.zeros(1, np.uint8)
open(out, "wb").write(flatbuffer_utils.convert_object_to_bytearray(model))
print(len(data))
"""


def model_names() -> list[str]:
    with open(OUT / "models.csv", newline="") as f:
        return [row["model"] for row in csv.DictReader(f)]


def rebuild(name: str) -> tuple[bool, str]:
    out = OUT / f"{name}.tflite"
    tmp = out.with_suffix(".tmp")
    env = {**os.environ, "TF_USE_LEGACY_KERAS": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.run([sys.executable, "-c", _CONVERT, name, str(tmp), str(KEEP_BYTES)],
                          capture_output=True, text=True, env=env, timeout=900)
    if proc.returncode != 0:
        return False, (proc.stderr.strip().splitlines() or ["?"])[-1]
    tmp.replace(out)
    return True, f"full model {int(proc.stdout.split()[-1]):,} bytes, stripped {out.stat().st_size:,}"


def models_to_rebuild(argv: list[str] | None, prog: str, doc: str | None, out: Path) -> list[str]:
    """The models a rebuild script is asked for (``--only``, else every model in models.csv), less those
    already in ``out`` with ``--missing``; ``out`` is created."""
    parser = argparse.ArgumentParser(prog=prog, description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="*", help="model names (default: every model in models.csv)")
    parser.add_argument("--missing", action="store_true", help="skip models already rebuilt")
    args = parser.parse_args(argv)
    out.mkdir(parents=True, exist_ok=True)
    return [n for n in args.only or model_names() if not (args.missing and (out / f"{n}.tflite").is_file())]


def main(argv: list[str] | None = None) -> int:
    failed = 0
    for name in models_to_rebuild(argv, "bench/rebuild_qed.py", __doc__, OUT):
        start = time.monotonic()
        ok, what = rebuild(name)
        failed += not ok
        print(f"{name}: {'ok' if ok else 'FAILED'} ({what}) {time.monotonic() - start:.0f} s", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    from pytest_tflite_latency.bench.extras import run_script

    sys.exit(run_script(main))
