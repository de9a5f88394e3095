"""Estimate a TensorFlow Lite model's latency on a mobile device, layer by layer.

``estimator.estimate("model.tflite", device="adreno640")``. Exports load on first use, so
importing the package (as the pytest plugin does at collection) costs nothing.
"""

from estimator.defaults import DEFAULT_DEVICE

_EXPORTS = {
    "EstimatorError": "estimator.errors", "ModelError": "estimator.errors",
    "UnknownDeviceError": "estimator.errors", "Estimate": "estimator.pipeline",
    "LayerEstimate": "estimator.pipeline", "estimate": "estimator.pipeline",
    "DeviceProfile": "estimator.profile", "device_names": "estimator.profile",
    "load_profile": "estimator.profile",
}


def __getattr__(name: str):
    if name in _EXPORTS:
        import importlib

        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'estimator' has no attribute {name!r}")


__all__ = ["DEFAULT_DEVICE", *_EXPORTS]
