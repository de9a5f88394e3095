"""LiteRT on this host: an interpreter ready to invoke, written once for the local runner, the emulated
phone and the tests."""

from __future__ import annotations

import math
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


_ITEM_BYTES = {0: 4, 1: 2, 2: 4, 3: 1, 4: 8, 6: 1, 7: 2, 9: 1, 10: 8, 11: 16, 12: 8, 15: 4, 16: 2}  # TensorType


def restore_stripped(data: bytes) -> bytes:
    """``data`` with weights stripped to one byte (bench/rebuild_qed.py) restored to zeros of their full size,
    so that LiteRT judges the graph rather than the stripping; other files unchanged."""
    import flatbuffers
    import numpy as np
    from ai_edge_litert import schema_py_generated as schema

    try:
        model = schema.ModelT.InitFromPackedBuf(data, 0)
    except Exception:  # a file the object API cannot unpack is left for LiteRT to judge
        return data
    need: dict[int, int] = {}
    for sg in model.subgraphs or []:
        for t in sg.tensors or []:
            b = model.buffers[t.buffer] if 0 < t.buffer < len(model.buffers or []) else None
            if b is not None and b.data is not None and len(b.data) == 1:
                size = math.prod(int(d) for d in (t.shape if t.shape is not None else [])) * _ITEM_BYTES.get(t.type, 4)
                need[t.buffer] = max(need.get(t.buffer, 1), size)
    if not need:
        return data
    for index, size in need.items():
        model.buffers[index].data = np.zeros(size, np.uint8)
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())
