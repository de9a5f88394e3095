"""The measurement database: schema, transactions, resuming after kill -9."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time

import numpy as np
import pytest

from pytest_tflite_latency.bench.db import APPLICATION_ID, SCHEMA_VERSION, Database, DatabaseError
from pytest_tflite_latency.bench.sampling import grid
from pytest_tflite_latency.estimator.features import FEATURES
from pytest_tflite_latency.measurement import Measurement


def feats(n: int = 1):
    X = np.arange(n * len(FEATURES), dtype=float).reshape(n, -1)
    return {"gpu": (X, np.ones(n, bool)), "cpu": (X + 1, np.ones(n, bool))}


def test_schema_is_versioned_and_records_round_trip(tmp_path):
    with Database(tmp_path / "m.sqlite") as db:
        dev = db.device("phone", "adb", "gpu", "benchmark_model", "abc")
        model = db.model("sha", "kernel", "conv", {"k": 3}, "conv:k3", feats(2))
        db.record(dev, model, Measurement(2.0, 0.1, 3, (1.0, 2.0, 3.0)))
        (rec,) = db.records("phone")
        assert rec.kind == "kernel" and rec.mean_ms == 2.0  # the median of the repeats
        assert rec.X.shape == (2, len(FEATURES)) and rec.learned.all()
        assert db.done(dev, model)
    conn = sqlite3.connect(tmp_path / "m.sqlite")
    assert conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone() == (str(SCHEMA_VERSION),)
    row = conn.execute("SELECT mean_ms, std_ms, median_ms, min_ms, runs, repeats_ms FROM measurements").fetchone()
    assert row == (2.0, 0.1, 2.0, 1.0, 3, "[1.0, 2.0, 3.0]")


def test_errors_are_recorded_and_retried(tmp_path):
    with Database(tmp_path / "m.sqlite") as db:
        dev = db.device("phone", "adb", "gpu", "x", "y")
        model = db.model("sha", "kernel", "conv", {}, "conv", feats())
        db.record(dev, model, error="benchmark_model exited with 139")
        assert not db.done(dev, model) and db.records("phone") == []
        assert db.errors("phone") == [("conv", "benchmark_model exited with 139")]


def test_a_failed_transaction_leaves_nothing(tmp_path):
    with Database(tmp_path / "m.sqlite") as db:
        with pytest.raises(RuntimeError), db.transaction() as conn:
            conn.execute("INSERT INTO devices (name, runner, backend, runtime, runtime_version, created_at)"
                         " VALUES ('x', 'local', 'cpu', 'r', 'v', 0)")
            raise RuntimeError("boom")
        assert db.device_info("x") is None


def _execute(path, script: str) -> None:
    """Run SQL on a database file behind the tool's back (sqlite3 itself, committed and closed)."""
    conn = sqlite3.connect(path)
    conn.executescript(script)
    conn.commit()
    conn.close()


def test_newer_schema_and_foreign_files_are_refused(tmp_path):
    path = tmp_path / "m.sqlite"
    Database(path).close()
    _execute(path, "UPDATE meta SET value='99' WHERE key='schema_version'")
    with pytest.raises(DatabaseError, match="schema version 99 is newer"):
        Database(path)
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(DatabaseError, match="not a measurement database"):
        Database(junk)


@pytest.mark.parametrize("setup", [
    "CREATE VIEW v AS SELECT 1",
    "PRAGMA application_id = 1234",
    "PRAGMA user_version = 7",
    "CREATE TABLE other (x)",
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL); INSERT INTO meta VALUES ('schema_version', '1')",
])
def test_foreign_sqlite_file_is_refused_and_left_byte_for_byte_unchanged(tmp_path, setup):
    path = tmp_path / "foreign.sqlite"
    _execute(path, setup)
    before = path.read_bytes()
    with pytest.raises(DatabaseError, match="not a measurement database"):
        Database(path)
    assert path.read_bytes() == before
    assert not (tmp_path / "foreign.sqlite-wal").exists() or (tmp_path / "foreign.sqlite-wal").stat().st_size == 0


def test_copy_of_this_tools_schema_without_its_application_id_is_refused(tmp_path):
    path = tmp_path / "m.sqlite"
    Database(path).close()
    _execute(path, "PRAGMA application_id = 0")
    with pytest.raises(DatabaseError, match="application id 0x0, not this tool's"):
        Database(path)


def test_a_database_this_tool_wrote_reopens(tmp_path):
    path = tmp_path / "m.sqlite"
    with Database(path) as db:
        db.device("phone", "adb", "gpu", "benchmark_model", "2.16")
    with Database(path) as db:
        assert db.device_info("phone") is not None


def test_kill_9_mid_run_loses_at_most_one_and_the_rerun_resumes(tmp_path):
    pytest.importorskip("ai_edge_litert")
    db = tmp_path / "m.sqlite"
    cmd = [sys.executable, "-m", "pytest_tflite_latency.cli", "bench", "run", "--runner", "local",
           "--device-name", "host", "--db", str(db), "--grid", "small", "--kernels", "conv", "--repeats", "30"]
    total = len(grid(("conv",), "small"))
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline:  # wait until some measurements are committed
        time.sleep(0.5)
        try:
            with Database(db) as d:
                if len(d.records("host")) >= 5:
                    break
        except (DatabaseError, sqlite3.OperationalError):
            continue
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    with Database(db) as d:
        before = len(d.records("host"))
        assert 5 <= before < total
        assert d.conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert f"{total - before} measured, {before} already in" in out.stdout
    with Database(db) as d:
        assert len(d.records("host")) == total


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pytest_tflite_latency.cli", "bench", *args],
                          capture_output=True, text=True, timeout=300)


_OURS = f"PRAGMA application_id = {APPLICATION_ID}; "


@pytest.mark.parametrize("setup,message", [
    ("CREATE TABLE songs (title TEXT)", "application id 0x0, not this tool's 0x54464c74); left unchanged"),
    (_OURS + "CREATE TABLE songs (title TEXT)", "without this tool's meta table); left unchanged"),
    (_OURS + "CREATE TABLE meta (key TEXT, value TEXT); INSERT INTO meta VALUES ('schema_version', 'one')",
     "schema version 'one'); left unchanged"),
    (_OURS + "CREATE TABLE meta (key TEXT, value TEXT); INSERT INTO meta VALUES ('schema_version', '1')",
     "damaged measurement database: no table devices, measurements, models"),
])
@pytest.mark.parametrize("command", [["status"], ["train", "--device-name", "host"],
                                     ["export", "--device-name", "host"]])
def test_foreign_sqlite_file_is_refused_in_one_line_and_left_unchanged(tmp_path, setup, message, command):
    path = tmp_path / "other.sqlite"
    _execute(path, setup)
    before = path.read_bytes()
    r = _cli(*command, "--db", str(path))
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and message in r.stderr, r.stderr
    assert path.read_bytes() == before and not (tmp_path / "other.sqlite-wal").exists()


def test_corrupt_pages_give_one_line(tmp_path):
    path = tmp_path / "m.sqlite"
    with Database(path) as db:
        dev = db.device("phone", "adb", "gpu", "x", "y")
        for i in range(200):
            db.record(dev, db.model(f"sha{i}", "kernel", "conv", {}, "conv", feats(20)), error="e")
        db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = bytearray(path.read_bytes())
    data[4096:] = b"\xff" * (len(data) - 4096)  # every page but the first (the schema)
    path.write_bytes(bytes(data))
    r = _cli("status", "--db", str(path))
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "database" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr


def test_a_device_name_keeps_its_runner_and_backend(tmp_path):
    with Database(tmp_path / "m.sqlite") as db:
        db.device("host", "local", "cpu", "LiteRT", "1.2")
        with pytest.raises(DatabaseError, match="device 'host' holds measurements from local on cpu"):
            db.device("host", "adb", "gpu", "benchmark_model", "2.16")


def test_two_runs_on_one_database_both_finish(tmp_path):
    pytest.importorskip("ai_edge_litert")
    cmd = ["run", "--runner", "local", "--device-name", "host", "--db", str(tmp_path / "m.sqlite"),
           "--grid", "small", "--kernels", "fc", "--repeats", "2"]  # kernels well above an empty invoke
    procs = [subprocess.Popen([sys.executable, "-m", "pytest_tflite_latency.cli", "bench", *cmd],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err for _, err in outs]
    with Database(tmp_path / "m.sqlite") as db:
        assert len(db.records("host")) == len(grid(("fc",), "small"))


@pytest.mark.parametrize("command", ["status", "train", "export"])
def test_a_step_that_reads_the_database_leaves_an_empty_file_empty(tmp_path, command):
    db = tmp_path / "empty.sqlite"
    db.write_bytes(b"")
    out = _cli(command, "--db", str(db), *(() if command == "status" else ("--device-name", "host")))
    assert out.returncode == 2 and "an empty file, no measurement database" in out.stderr
    assert db.stat().st_size == 0


def test_export_to_a_folder_is_refused_before_any_work(tmp_path):
    (tmp_path / "odir").mkdir()
    db = tmp_path / "m.sqlite"
    with Database(db):  # a database, made as bench run makes one
        pass
    out = _cli("export", "--db", str(db), "--device-name", "host", "--out", str(tmp_path / "odir"))
    assert out.returncode == 2 and "--out: " in out.stderr and "a folder; name the profile's .json file" in out.stderr
