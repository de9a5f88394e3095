"""Shared fixtures: real .tflite files written by the project's model writer."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import zoo


@pytest.fixture(scope="session")
def nb201_bytes() -> bytes:
    return zoo.build("nasbench201", fill="zeros")


@pytest.fixture(scope="session")
def mobilenet_path(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("models") / "mobilenet_v2.tflite"
    path.write_bytes(zoo.build("mobilenet_v2", fill="zeros"))
    return path


@pytest.fixture(scope="session")
def nb201_path(tmp_path_factory, nb201_bytes) -> Path:
    path = tmp_path_factory.mktemp("models") / "nb201.tflite"
    path.write_bytes(nb201_bytes)
    return path
