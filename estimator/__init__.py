"""Estimate a TensorFlow Lite model's latency on a mobile device, layer by layer."""

from estimator.errors import EstimatorError, ModelError, UnknownDeviceError
from estimator.estimate import Estimate, LayerEstimate, estimate
from estimator.profile import DEFAULT_DEVICE, DeviceProfile, device_names, load_profile

__all__ = ["DEFAULT_DEVICE", "DeviceProfile", "Estimate", "EstimatorError", "LayerEstimate", "ModelError",
           "UnknownDeviceError", "device_names", "estimate", "load_profile"]
