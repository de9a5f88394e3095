"""The checks FlatBuffers' own verifier makes of a table before LiteRT reads it (flatbuffers/verifier.h,
``VerifyTableStart`` and ``VerifyField``): the table 4-byte aligned inside the file, its vtable 2-byte aligned,
of even size and inside the file, and every field it lists aligned to its own size and inside the file;
vectors and strings inside the file. LiteRT refuses a file that fails them ("The model is not a valid
Flatbuffer buffer"), so the estimator does too, for every table it reads.

Field sizes come from the `tflite` package's generated accessors, read once per table class.
"""

from __future__ import annotations

import inspect
import re
import struct
from functools import cache

_FLAG_BYTES = {"Bool": 1, "Int8": 1, "Uint8": 1, "Int16": 2, "Uint16": 2, "Int32": 4, "Uint32": 4,
               "Float32": 4, "Int64": 8, "Uint64": 8, "Float64": 8}
_OFFSET = re.compile(r"self\._tab\.Offset\((\d+)\)")
_SCALAR = re.compile(r"number_types\.(\w+?)Flags, (a|o) \+")
_TABLE_CLASS = re.compile(r"from (tflite\.\w+) import (\w+)")
# A field's layout: ("scalar", size), ("vector", element size), ("string", 1), ("table", 4), and for tables
# and vectors of tables the generated class of the table ("" for a union: checked when it is read).
Layout = tuple[str, int]
_UNKNOWN: Layout = ("scalar", 1)  # a field this version of the schema does not know: only inside the file


class FlatBufferError(ValueError):
    """A table breaks a rule of FlatBuffers' verifier."""


@cache
def table_classes(cls: type) -> dict[int, type]:
    """vtable slot → generated class of each table or vector-of-tables field (unions left out)."""
    import importlib

    out: dict[int, type] = {}
    for name, fn in vars(cls).items():
        if name.startswith("_") or not callable(fn):
            continue
        try:
            source = inspect.getsource(fn)
        except (OSError, TypeError):
            continue
        slot, sub = _OFFSET.search(source), _TABLE_CLASS.search(source)
        if slot and sub and "Indirect" in source:  # a table or a vector of tables, not an enum or a union
            out[int(slot.group(1))] = getattr(importlib.import_module(sub.group(1)), sub.group(2))
    return out


def verify_tree(buf: bytes, root: int, cls: type, max_tables: int) -> None:
    """Verify every table reachable from the root table (``cls`` at ``root``) as FlatBuffers' verifier does;
    at most ``max_tables`` tables (the verifier's own complexity limit, so a hostile file cannot make this
    walk run long)."""
    stack, seen = [(root, cls)], set()
    while stack:
        pos, kind = stack.pop()
        if (pos, kind) in seen:
            continue
        seen.add((pos, kind))
        if len(seen) > max_tables:
            raise FlatBufferError(f"more than {max_tables:,} tables")
        entries = verify_table(buf, pos, kind)
        for slot, sub in table_classes(kind).items():
            index = (slot - 4) // 2
            offset = entries[index] if index < len(entries) else 0
            if not offset:
                continue
            at = pos + offset
            target = at + struct.unpack_from("<I", buf, at)[0]
            if layouts(kind).get(slot, ("table", 4))[0] == "vector":
                length = struct.unpack_from("<I", buf, target)[0]
                stack += [(e + struct.unpack_from("<I", buf, e)[0], sub)
                          for e in range(target + 4, target + 4 + 4 * length, 4)]
            else:
                stack.append((target, sub))


@cache
def layouts(cls: type) -> dict[int, Layout]:
    """vtable slot → layout of each field of a generated table class."""
    out: dict[int, Layout] = {}
    for name, fn in vars(cls).items():
        if name.startswith("_") or not callable(fn) or name.endswith(("AsNumpy", "Length", "IsNone")):
            continue
        try:
            source = inspect.getsource(fn)
        except (OSError, TypeError):
            continue
        slot = _OFFSET.search(source)
        if slot is None:
            continue
        scalar = _SCALAR.search(source)
        if "self._tab.Vector(o)" in source:
            size = 4 if "Indirect" in source or scalar is None else _FLAG_BYTES.get(scalar.group(1), 1)
            layout: Layout = ("vector", size)
        elif "self._tab.String(" in source:
            layout = ("string", 1)
        elif "Indirect" in source or "Union(" in source:
            layout = ("table", 4)
        elif scalar is not None:
            layout = ("scalar", _FLAG_BYTES.get(scalar.group(1), 1))
        else:
            continue
        out[int(slot.group(1))] = layout
    return out


def verify_table(buf: bytes, pos: int, cls: type) -> tuple[int, ...]:
    """The table's vtable entries (field offsets, slot 4 first); `FlatBufferError` unless the table of class
    ``cls`` at ``pos`` passes the verifier's checks."""
    n = len(buf)
    if pos % 4 or not 0 <= pos <= n - 4:
        raise FlatBufferError(f"a {cls.__name__} table at byte {pos} is misaligned or outside the file")
    vt = pos - struct.unpack_from("<i", buf, pos)[0]
    if vt % 2 or not 0 <= vt <= n - 4:
        raise FlatBufferError(f"the vtable of a {cls.__name__} table is misaligned or outside the file")
    vsize = struct.unpack_from("<H", buf, vt)[0]
    if vsize % 2 or vsize < 4 or vt + vsize > n:
        raise FlatBufferError(f"the vtable of a {cls.__name__} table has an impossible size {vsize}")
    entries = struct.unpack_from(f"<{(vsize - 4) // 2}H", buf, vt + 4)
    fields = layouts(cls)
    for slot, offset in enumerate(entries):
        if offset:
            _verify_field(buf, pos + offset, fields.get(4 + 2 * slot, _UNKNOWN), cls)
    return entries


def _verify_field(buf: bytes, at: int, layout: Layout, cls: type) -> None:
    kind, size = layout
    n = len(buf)
    width = size if kind == "scalar" else 4
    if at % width or at + width > n:
        raise FlatBufferError(f"a field of a {cls.__name__} table is misaligned or outside the file")
    if kind == "scalar" or kind == "table":
        return  # a table is checked when it is read
    target = at + struct.unpack_from("<I", buf, at)[0]
    if target % 4 or target + 4 > n:
        raise FlatBufferError(f"a vector of a {cls.__name__} table is misaligned or outside the file")
    length = struct.unpack_from("<I", buf, target)[0]
    if target + 4 + length * size + (kind == "string") > n:
        raise FlatBufferError(f"a vector of a {cls.__name__} table runs past the end of the file")
    if kind == "string" and buf[target + 4 + length] != 0:
        raise FlatBufferError(f"a string of a {cls.__name__} table is not zero-terminated")
