"""Names the rest of the tool may need without loading NumPy or the parser."""

DEFAULT_DEVICE = "adreno640"
