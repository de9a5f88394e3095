"""LiteRT on this host: an interpreter ready to invoke, written once for the local runner, the emulated
phone and the tests."""

from __future__ import annotations

import os


def ready_interpreter(model: bytes | str | os.PathLike, threads: int = 1, fill: float = 0.0):
    """A LiteRT interpreter for ``model`` (its bytes or a path): tensors allocated, every input set to
    ``fill``."""
    import numpy as np
    from ai_edge_litert.interpreter import Interpreter

    if isinstance(model, bytes):
        it = Interpreter(model_content=model, num_threads=threads)
    else:
        it = Interpreter(model_path=os.fspath(model), num_threads=threads)
    it.allocate_tensors()
    for d in it.get_input_details():
        it.set_tensor(d["index"], np.full(d["shape"], fill, d["dtype"]))
    return it
