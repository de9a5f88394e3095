"""Expected faults: each becomes one line on stderr and exit code 2, never a traceback."""

from __future__ import annotations


class EstimatorError(Exception):
    """Base class of every fault the user can cause (bad file, unknown device ...)."""

    exit_code = 2


class ModelError(EstimatorError):
    """The input is not a readable TFLite model."""

    def __init__(self, source: str, problem: str):
        super().__init__(f"{source}: {problem}")
        self.source, self.problem = source, problem


class UnknownDeviceError(EstimatorError):
    """No device profile has that name."""

    def __init__(self, name: str, known: list[str], hint: str = "", suggestion: str = ""):
        """``suggestion`` (what the name was probably meant to be) comes first, before the long list."""
        lead = f"; {suggestion}" if suggestion else ""
        super().__init__(f"unknown device {name!r}{lead}; known devices: {', '.join(known)}{hint}")
        self.name, self.known, self.suggestion = name, known, suggestion


class ProfileError(EstimatorError):
    """A device profile (a JSON file or a dict) is not one this estimator can use."""

    def __init__(self, source: str, problem: str):
        super().__init__(f"{source}: not a usable device profile: {problem}")
        self.source, self.problem = source, problem
