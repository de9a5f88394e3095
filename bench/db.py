"""The measurement database: SQLite (standard library), versioned schema, transactional writes.

Every measurement is committed in its own transaction the moment it finishes, so stopping a run
(Ctrl-C, kill -9, a phone unplugged) loses at most the measurement in flight, and a re-run skips
what is already stored. A model is stored once (by content hash) with its kernel features for
each backend, so training never needs the model files again.
"""

from __future__ import annotations

import json
import sqlite3
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..estimator.errors import EstimatorError
from ..estimator.features import current_rows
from ..measurement import Measurement

SCHEMA_VERSION = 1
# SQLite's header field for the application that owns the file (PRAGMA application_id): "TFLt". With the
# schema version in the meta table and the four tables, it is how a file this tool wrote is recognised.
APPLICATION_ID = int.from_bytes(b"TFLt", "big")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS devices (
    id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL, runner TEXT NOT NULL, backend TEXT NOT NULL,
    runtime TEXT NOT NULL, runtime_version TEXT NOT NULL, detail TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS models (
    id INTEGER PRIMARY KEY, sha256 TEXT UNIQUE NOT NULL, kind TEXT NOT NULL CHECK (kind IN ('kernel', 'model')),
    kernel_type TEXT NOT NULL, config TEXT NOT NULL, source TEXT NOT NULL,
    features_gpu TEXT NOT NULL, learned_gpu TEXT NOT NULL, features_cpu TEXT NOT NULL,
    learned_cpu TEXT NOT NULL, created_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS measurements (
    id INTEGER PRIMARY KEY, device_id INTEGER NOT NULL REFERENCES devices(id),
    model_id INTEGER NOT NULL REFERENCES models(id), status TEXT NOT NULL CHECK (status IN ('ok', 'error')),
    error TEXT NOT NULL DEFAULT '', mean_ms REAL, std_ms REAL, median_ms REAL, min_ms REAL,
    runs INTEGER NOT NULL DEFAULT 0, repeats_ms TEXT NOT NULL DEFAULT '[]', created_at REAL NOT NULL,
    UNIQUE (device_id, model_id));
"""


_TABLES = ("meta", "devices", "models", "measurements")


class DatabaseError(Exception):
    """The database file is unusable (not SQLite, or a newer schema)."""


def check_readable(path: str | Path) -> None:
    """Refuse, in one line, a path a command that only reads measurements cannot read: no file, or an empty
    one (opening it would write a schema into it: it is left as it is)."""
    if not Path(path).is_file():
        raise EstimatorError(f"{path}: no such measurement database (bench run or import-nb201 creates one)")
    if Path(path).stat().st_size == 0:
        raise EstimatorError(f"{path}: an empty file, no measurement database (bench run or import-nb201 makes one)")


@dataclass(frozen=True)
class StoredRecord:
    name: str
    kind: str
    kernel_type: str
    mean_ms: float
    X: np.ndarray
    learned: np.ndarray


LOCK_TIMEOUT_S = 30  # how long to wait for another process that holds the database


class Database:
    """``Database(path)`` opens or creates the file; use as a context manager to close it."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        try:
            self.conn = sqlite3.connect(self.path, timeout=LOCK_TIMEOUT_S, isolation_level=None)
            self._open_waiting()
        except sqlite3.DatabaseError as exc:
            raise DatabaseError(f"{self.path}: not a measurement database ({exc})") from None

    def _open_waiting(self) -> None:
        """`_open`, retried while another process creates the schema: switching the journal to WAL does
        not wait on SQLite's busy timeout (two runs on a busy host failed with "database is locked")."""
        deadline = time.monotonic() + LOCK_TIMEOUT_S
        while True:
            try:
                return self._open()
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def _open(self) -> None:
        """Create the schema in an empty file; refuse, without writing to it, any other file."""
        tables = {r[0] for r in self.conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if self._is_blank():
            self.conn.execute("PRAGMA journal_mode=WAL")
            with self.transaction():
                if self._is_blank():  # another process may have created it meanwhile
                    for statement in filter(str.strip, _SCHEMA.split(";")):
                        self.conn.execute(statement)
                    self.conn.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)",
                                      (str(SCHEMA_VERSION),))
                    self.conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            tables = set()
        version = self._version(tables)
        if version > SCHEMA_VERSION:
            raise DatabaseError(f"{self.path}: schema version {version} is newer than this tool's "
                                f"{SCHEMA_VERSION}; upgrade pytest-tflite-latency")
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA foreign_keys=ON")

    def _is_blank(self) -> bool:
        """A new or empty file: no table, view, index or trigger, and no application id or user version."""
        objects = self.conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        return objects == 0 and self._pragma("application_id") == 0 and self._pragma("user_version") == 0

    def _pragma(self, name: str) -> int:
        return int(self.conn.execute(f"PRAGMA {name}").fetchone()[0])

    def _version(self, tables: set[str]) -> int:
        """The schema version of a file this tool wrote; `DatabaseError` for any other file."""
        tables = tables or {r[0] for r in self.conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        application = self._pragma("application_id")
        if application != APPLICATION_ID:
            raise DatabaseError(f"{self.path}: not a measurement database (SQLite application id "
                                f"{application:#x}, not this tool's {APPLICATION_ID:#x}); left unchanged")
        missing = sorted(set(_TABLES) - tables)
        if "meta" in missing:
            raise DatabaseError(f"{self.path}: not a measurement database (an SQLite file without this tool's "
                                "meta table); left unchanged")
        row = self.conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        if row is None or not str(row[0]).isdigit():
            raise DatabaseError(f"{self.path}: not a measurement database (schema version "
                                f"{row[0] if row else 'missing'!r}); left unchanged")
        if missing and int(row[0]) <= SCHEMA_VERSION:
            raise DatabaseError(f"{self.path}: damaged measurement database: no table {', '.join(missing)}")
        return int(row[0])

    def transaction(self):
        return _Transaction(self.conn)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- writes --------------------------------------------------------------------------------
    def device(self, name: str, runner: str, backend: str, runtime: str, runtime_version: str,
               detail: str = "") -> int:
        """The device's id, registering it on first use; `DatabaseError` when ``name`` is already a
        device measured another way (another runner, backend or runtime)."""
        with self.transaction():  # insert-if-absent and read back in one write transaction: no race
            self.conn.execute(
                "INSERT OR IGNORE INTO devices (name, runner, backend, runtime, runtime_version, detail, created_at)"
                " VALUES (?,?,?,?,?,?,?)", (name, runner, backend, runtime, runtime_version, detail, time.time()))
            row = self.conn.execute("SELECT id, runner, backend, runtime FROM devices WHERE name=?", (name,)).fetchone()
        if tuple(row[1:]) != (runner, backend, runtime):
            raise DatabaseError(f"{self.path}: device {name!r} holds measurements from {row[1]} on {row[2]} "
                                f"({row[3]}), not {runner} on {backend} ({runtime}); choose another --device-name")
        return row[0]

    def model(self, sha256: str, kind: str, kernel_type: str, config: dict, source: str,
              features: dict[str, tuple[np.ndarray, np.ndarray]]) -> int:
        """The model's id, storing it (with its features per backend) on first use."""
        row = self.conn.execute("SELECT id FROM models WHERE sha256=?", (sha256,)).fetchone()
        if row:
            return row[0]
        (xg, lg), (xc, lc) = features["gpu"], features["cpu"]
        with self.transaction():  # another process may have stored it meanwhile: insert if absent
            self.conn.execute(
                "INSERT OR IGNORE INTO models (sha256, kind, kernel_type, config, source, features_gpu, learned_gpu,"
                " features_cpu, learned_cpu, created_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (sha256, kind, kernel_type, json.dumps(config, sort_keys=True), source,
                 json.dumps(xg.tolist()), json.dumps(lg.tolist()), json.dumps(xc.tolist()),
                 json.dumps(lc.tolist()), time.time()))
            return self.conn.execute("SELECT id FROM models WHERE sha256=?", (sha256,)).fetchone()[0]

    def done(self, device_id: int, model_id: int) -> bool:
        """Measured successfully already (errors, and rows an older version stored without a time, are retried
        by the next run)."""
        return self.conn.execute("SELECT 1 FROM measurements WHERE device_id=? AND model_id=? AND status='ok'"
                                 " AND median_ms > 0", (device_id, model_id)).fetchone() is not None

    def record(self, device_id: int, model_id: int, m: Measurement | None = None, error: str = "") -> None:
        """Store one measurement (every repeat and its summary) or its error, in one transaction."""
        reps = [float(r) for r in m.repeats_ms] if m else []
        mean, std = (m.mean_ms, m.std_ms) if m else (None, None)
        median = statistics.median(reps) if reps else mean
        with self.transaction():
            self.conn.execute(
                "INSERT OR REPLACE INTO measurements (device_id, model_id, status, error, mean_ms, std_ms,"
                " median_ms, min_ms, runs, repeats_ms, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (device_id, model_id, "error" if error else "ok", error, mean, std, median,
                 min(reps) if reps else mean, m.runs if m else 0, json.dumps(reps), time.time()))

    # -- reads ---------------------------------------------------------------------------------
    def device_info(self, name: str) -> dict | None:
        row = self.conn.execute("SELECT id, name, runner, backend, runtime, runtime_version, detail "
                                "FROM devices WHERE name=?", (name,)).fetchone()
        keys = ("id", "name", "runner", "backend", "runtime", "runtime_version", "detail")
        return dict(zip(keys, row, strict=True)) if row else None

    def records(self, device: str, kind: str | None = None) -> list[StoredRecord]:
        """Successful measurements of ``device`` with the features of its backend."""
        info = self.device_info(device)
        if info is None:
            return []
        backend = info["backend"]
        # the median of the repeats: robust to a busy host; published records carry only a mean
        query = (f"SELECT m.source, m.kind, m.kernel_type, x.median_ms, m.features_{backend}, m.learned_{backend}"
                 " FROM measurements x JOIN models m ON m.id = x.model_id"
                 " WHERE x.device_id=? AND x.status='ok' AND x.median_ms > 0"  # a run of 0 repeats stored none
                 + (" AND m.kind=?" if kind else "") + " ORDER BY x.id")
        rows = self.conn.execute(query, (info["id"], kind) if kind else (info["id"],)).fetchall()
        return [StoredRecord(src, k, kt, ms, current_rows(json.loads(f)),
                             np.array(json.loads(lr), dtype=bool)) for src, k, kt, ms, f, lr in rows]

    def status(self) -> list[dict]:
        rows = self.conn.execute(
            "SELECT d.name, d.runner, d.runtime, d.runtime_version, m.kind, x.status, COUNT(*),"
            " MAX(x.created_at) FROM measurements x JOIN devices d ON d.id=x.device_id"
            " JOIN models m ON m.id=x.model_id GROUP BY d.name, m.kind, x.status ORDER BY d.name").fetchall()
        keys = ("device", "runner", "runtime", "runtime_version", "kind", "status", "count", "last")
        return [dict(zip(keys, r, strict=True)) for r in rows]

    def errors(self, device: str, limit: int = 5) -> list[tuple[str, str]]:
        return self.conn.execute(
            "SELECT m.source, x.error FROM measurements x JOIN models m ON m.id=x.model_id JOIN devices d"
            " ON d.id=x.device_id WHERE d.name=? AND x.status='error' ORDER BY x.id DESC LIMIT ?",
            (device, limit)).fetchall()


class _Transaction:
    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def __enter__(self):
        self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, exc_type, *rest) -> None:
        self.conn.execute("ROLLBACK" if exc_type else "COMMIT")
