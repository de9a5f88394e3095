"""Run by TensorFlow's own Python (see .ci/run): convert Keras models to .tflite files.

    python convert.py OUT_DIR
Writes mobilenet_v2.tflite (float32), mobilenet_v2_fp16.tflite, mobilenet_v2_int8.tflite,
mobilenet_v2_dynamic_range.tflite (int8 weights, float32 activations) and small_cnn_dynamic.tflite
(a dynamic batch dimension).
"""

import sys
from pathlib import Path

import numpy as np
import tensorflow as tf


def convert(model, path: Path, mode: str = "float32") -> None:
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    if mode == "float16":
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.target_spec.supported_types = [tf.float16]
    elif mode == "dynamic_range":  # Optimize.DEFAULT without a representative dataset
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
    elif mode == "int8":
        shape = [1, *model.input_shape[1:]]
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.representative_dataset = lambda: ([np.random.rand(*shape).astype(np.float32)] for _ in range(4))
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        conv.inference_input_type = tf.int8
        conv.inference_output_type = tf.int8
    path.write_bytes(conv.convert())


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    mnv2 = tf.keras.applications.MobileNetV2(input_shape=(160, 160, 3), weights=None, classes=100)
    for mode in ("float32", "float16", "int8", "dynamic_range"):
        suffix = "" if mode == "float32" else f"_{mode.replace('float16', 'fp16')}"
        convert(mnv2, out / f"mobilenet_v2{suffix}.tflite", mode)
    inputs = tf.keras.Input((64, 64, 3))  # batch left dynamic
    x = tf.keras.layers.Conv2D(16, 3, activation="relu")(inputs)
    x = tf.keras.layers.MaxPooling2D()(x)
    x = tf.keras.layers.Conv2D(32, 3, padding="same")(x)
    x = tf.keras.layers.Activation("sigmoid")(x)
    x = tf.keras.layers.GlobalAveragePooling2D()(x)
    outputs = tf.keras.layers.Dense(10, activation="softmax")(x)
    convert(tf.keras.Model(inputs, outputs), out / "small_cnn_dynamic.tflite")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
