"""Rebuild the shared qed-usc Vision Transformers: Hugging Face ``transformers`` (TensorFlow classes) →
TensorFlow Lite float32 and full-integer int8 → weights stripped.

The hub is not reachable, so each model is built from a configuration written here from its published
hyper-parameters (`CONFIGS`), as the dataset's README says: TensorFlow with ``tf_keras``, batch 1, the
resolution in the name (224 otherwise), a 1000-class head, ``TFLiteConverter.from_concrete_functions``.
Every float weight is randomised first (the library initialises some biases and layer-norm parameters
at exactly zero, and the converter would drop those additions). The float file is checked against the
measured file's ``size`` (within ±`SIZE_TOLERANCE`): a model that fails is not written. int8 is
TensorFlow's full-integer post-training quantization (``Optimize.DEFAULT``, a representative dataset of
random inputs, int8 builtin ops) as `bench/rebuild_qed_int8.py` does for the CNNs. Both are written with
every constant buffer larger than 64 bytes replaced by one byte and per-channel quantization parameters
cut to their first element: the estimator reads no weight values.

Needs TensorFlow, tf_keras and transformers 4.57 (not project dependencies: run it with a TensorFlow
environment's Python; one model per process, a base model at 384 takes minutes on two cores):

    nice -n 10 /path/to/tf-venv/bin/python bench/rebuild_qed_vit.py [--only NAME ...] [--precision float]
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import time
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"
OUT = {"float": DATA / "qed-usc-vit", "int8": DATA / "qed-usc-vit-int8"}  # float graphs beside models.csv
KEEP_BYTES = 64  # as bench/rebuild_qed.py: constant buffers up to this size (shapes, axes) are kept
SIZE_TOLERANCE = 0.02
SAMPLES = 2  # representative inputs for int8 calibration: latency does not depend on them

_SWIN = {"tiny": (96, [2, 2, 6, 2], [3, 6, 12, 24]), "small": (96, [2, 2, 18, 2], [3, 6, 12, 24]),
         "base": (128, [2, 2, 18, 2], [4, 8, 16, 32])}
_DEIT = {"tiny": (192, 3), "small": (384, 6), "base": (768, 12)}
_MIT_WIDE = [64, 128, 320, 512]
_MIT = {"b0": ([32, 64, 160, 256], [2, 2, 2, 2]), "b1": (_MIT_WIDE, [2, 2, 2, 2]), "b2": (_MIT_WIDE, [3, 4, 6, 3]),
        "b3": (_MIT_WIDE, [3, 4, 18, 3]), "b4": (_MIT_WIDE, [3, 8, 27, 3]), "b5": (_MIT_WIDE, [3, 6, 40, 3])}
_CVT = {"13": [1, 2, 10], "21": [1, 4, 16]}


def config(name: str) -> tuple[str, dict, int]:
    """(model class family, configuration keywords, input resolution) of a model in models.csv, from the
    published hyper-parameters (the papers' tables; `transformers`' conversion scripts list the same)."""
    resolution = 384 if name.endswith("384") else 224
    family, variant = name.split("-")[:2]
    if family == "deit":  # DeiT: ViT with a class and a distillation token, patch 16, MLP ratio 4
        width, heads = _DEIT[variant]
        return "deit", {"hidden_size": width, "num_hidden_layers": 12, "num_attention_heads": heads,
                        "intermediate_size": 4 * width, "patch_size": 16, "image_size": resolution}, resolution
    if family == "swin":  # Swin: patch 4, window 7 (12 at 384), MLP ratio 4
        width, depths, heads = _SWIN[variant]
        return "swin", {"embed_dim": width, "depths": depths, "num_heads": heads, "patch_size": 4,
                        "window_size": 12 if resolution == 384 else 7, "image_size": resolution}, resolution
    if family == "mit":  # SegFormer's Mix Transformer encoders with an ImageNet head
        widths, depths = _MIT[variant]
        return "mit", {"hidden_sizes": widths, "depths": depths, "num_attention_heads": [1, 2, 5, 8],
                       "sr_ratios": [8, 4, 2, 1], "mlp_ratios": [4, 4, 4, 4]}, resolution
    if family == "cvt":  # CvT-13 / CvT-21: three stages of widths 64, 192, 384
        return "cvt", {"embed_dim": [64, 192, 384], "num_heads": [1, 3, 6], "depth": _CVT[variant],
                       "image_size": resolution}, resolution  # image_size: the library's input signature
    raise ValueError(f"{name}: no configuration")


def _build(name: str):
    """The Keras model, its concrete function on a [1, 3, R, R] input and the resolution R."""
    import numpy as np
    import tensorflow as tf
    import transformers as hf

    family, kwargs, resolution = config(name)
    cls, cfg = {"deit": (hf.TFDeiTForImageClassification, hf.DeiTConfig),
                "swin": (hf.TFSwinForImageClassification, hf.SwinConfig),
                "mit": (hf.TFSegformerForImageClassification, hf.SegformerConfig),
                "cvt": (hf.TFCvtForImageClassification, hf.CvtConfig)}[family]
    model = cls(cfg(num_labels=1000, **kwargs))
    spec = tf.TensorSpec([1, 3, resolution, resolution], tf.float32)
    model(tf.zeros(spec.shape), training=False)
    rng = np.random.default_rng(0)
    for w in model.weights:  # zeros would let the converter drop additions the measured files have
        if w.dtype.is_floating:
            w.assign(rng.normal(0.0, 0.02, w.shape).astype(w.dtype.as_numpy_dtype))
    fn = tf.function(lambda x: model(pixel_values=x, training=False).logits).get_concrete_function(spec)
    return model, fn, resolution


def _strip(data: bytes) -> bytes:
    import numpy as np
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.read_model_from_bytearray(bytearray(data))
    for buf in model.buffers:
        if buf.data is not None and len(buf.data) > KEEP_BYTES:
            buf.data = np.zeros(1, np.uint8)
    for sg in model.subgraphs:
        for t in sg.tensors:
            q = t.quantization
            if q is not None and q.scale is not None and len(q.scale) > 1:
                q.scale, q.zeroPoint = q.scale[:1], q.zeroPoint[:1]
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


def _write(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(_strip(data))
    tmp.replace(path)


def worker(name: str, precisions: list[str], measured_size: int) -> int:
    """Build one model, convert and write it in ``precisions``; one line per precision."""
    import numpy as np
    import tensorflow as tf

    model, fn, resolution = _build(name)
    checked = (OUT["float"] / f"{name}.tflite").is_file()  # written only after passing the size check
    if "float" in precisions or not checked:  # the size check decides both precisions
        data = tf.lite.TFLiteConverter.from_concrete_functions([fn], model).convert()
        ratio = len(data) / measured_size
        ok = abs(ratio - 1) <= SIZE_TOLERANCE
        print(f"{name}: float32 {len(data):,} bytes, measured {measured_size:,}, ratio {ratio:.4f} "
              f"{'ok' if ok else 'OUTSIDE ±2%: left out'}", flush=True)
        if not ok:
            return 1
        if "float" in precisions:
            _write(OUT["float"] / f"{name}.tflite", data)
        del data
    if "int8" in precisions:
        converter = tf.lite.TFLiteConverter.from_concrete_functions([fn], model)
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        rng = np.random.default_rng(0)
        converter.representative_dataset = lambda: (
            [rng.uniform(-1, 1, (1, 3, resolution, resolution)).astype(np.float32)] for _ in range(SAMPLES))
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        data = converter.convert()
        _write(OUT["int8"] / f"{name}.tflite", data)
        print(f"{name}: int8 {len(data):,} bytes", flush=True)
    return 0


def model_sizes() -> dict[str, int]:
    with open(OUT["float"] / "models.csv", newline="") as f:
        return {r["model"]: int(r["size"]) for r in csv.DictReader(f)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench/rebuild_qed_vit.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="*", help="model names (default: every model in models.csv)")
    parser.add_argument("--missing", action="store_true", help="skip models already rebuilt in every precision")
    parser.add_argument("--precision", choices=["float", "int8", "both"], default="both")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    precisions = ["float", "int8"] if args.precision == "both" else [args.precision]
    sizes = model_sizes()
    if args.worker:
        return worker(args.worker, precisions, sizes[args.worker])
    for d in OUT.values():
        d.mkdir(parents=True, exist_ok=True)
    failed = 0
    env = {**os.environ, "TF_USE_LEGACY_KERAS": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}
    for name in args.only or list(sizes):
        todo = [p for p in precisions if not (args.missing and (OUT[p] / f"{name}.tflite").is_file())]
        if not todo:
            continue
        start = time.monotonic()
        proc = subprocess.run([sys.executable, __file__, "--worker", name, "--precision",
                               todo[0] if len(todo) == 1 else "both"], env=env, stderr=subprocess.PIPE,
                              text=True, check=False)
        if proc.returncode:
            failed += 1
            print(f"{name}: FAILED ({(proc.stderr.strip().splitlines() or ['?'])[-1][:300]})", flush=True)
        print(f"{name}: {time.monotonic() - start:.0f} s", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    from pytest_tflite_latency.bench.extras import run_script

    sys.exit(run_script(main))
