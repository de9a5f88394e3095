"""Names the rest of the tool may need without loading NumPy or the parser."""

from .devices import gpu_aliases

DEFAULT_DEVICE = "pixel4-gpu"
# A GPU's name selects the stock-runtime profile of the phone measured with that GPU (estimator/devices.py).
GPU_ALIASES = gpu_aliases()


def resolve_device(name: str) -> str:
    """A bundled profile's name for ``name``, which may be a GPU's name (``adreno640``)."""
    return GPU_ALIASES.get(name.lower(), name)

# What a GPU delegate computes in: fp16 where the app allows precision loss (benchmark_model's
# default, what the stock profiles measured), fp32 otherwise (GpuDelegate's default).
PRECISIONS = ("fp16", "fp32")
