"""Run by TensorFlow's own Python (see .ci/run): convert Keras models to .tflite files.

    python convert.py OUT_DIR
Writes mobilenet_v2.tflite (float32), mobilenet_v2_fp16.tflite, mobilenet_v2_int8.tflite,
mobilenet_v2_dynamic_range.tflite (int8 weights, float32 activations), small_cnn_dynamic.tflite
(a dynamic batch dimension), two_signatures.tflite (signatures 'scale' and 'project') and
counted_loop.tflite (a tf.while_loop of 12 matrix products).
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
    _two_signatures(out / "two_signatures.tflite")
    _counted_loop(out / "counted_loop.tflite")


def _two_signatures(path: Path) -> None:
    class Two(tf.Module):
        def __init__(self):
            super().__init__()
            self.w = tf.Variable(tf.random.normal([64, 64]))

        @tf.function(input_signature=[tf.TensorSpec([1, 64], tf.float32)])
        def scale(self, x):
            return {"y": x * 2.0}

        @tf.function(input_signature=[tf.TensorSpec([1, 64], tf.float32)])
        def project(self, x):
            return {"y": tf.matmul(x, self.w)}

    module = Two()
    conv = tf.lite.TFLiteConverter.from_concrete_functions(
        [module.scale.get_concrete_function(), module.project.get_concrete_function()], module)
    path.write_bytes(conv.convert())


def _counted_loop(path: Path) -> None:
    w = tf.constant(np.random.rand(256, 256).astype(np.float32) / 256)

    @tf.function(input_signature=[tf.TensorSpec([1, 256], tf.float32)])
    def loop(x):
        _, y = tf.while_loop(lambda i, y: i < 12, lambda i, y: (i + 1, tf.tanh(tf.matmul(y, w))), (0, x))
        return y

    path.write_bytes(tf.lite.TFLiteConverter.from_concrete_functions([loop.get_concrete_function()]).convert())


if __name__ == "__main__":
    main(Path(sys.argv[1]))
