"""Estimate a TensorFlow Lite model's latency on a mobile device, layer by layer.

``from pytest_tflite_latency import estimator; estimator.estimate("model.tflite")``. Exports load on first use, so
importing the package (as the pytest plugin does at collection) costs nothing.
"""

from pytest_tflite_latency.estimator.defaults import DEFAULT_DEVICE

_EXPORTS = {
    "EstimatorError": "errors", "ModelError": "errors", "UnknownDeviceError": "errors",
    "Estimate": "pipeline", "LayerEstimate": "pipeline", "estimate": "pipeline",
    "DeviceProfile": "profile", "device_names": "profile", "load_profile": "profile",
}


def __getattr__(name: str):
    if name in _EXPORTS:
        import importlib

        value = getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'pytest_tflite_latency.estimator' has no attribute {name!r}")


__all__ = ["DEFAULT_DEVICE", *_EXPORTS]
