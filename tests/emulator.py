"""An emulated Android phone: the device side of the adb protocol over TCP, on loopback.

The real adb server connects to it (``adb connect 127.0.0.1:PORT``) exactly as to a phone in
TCP/IP mode. It answers ``shell:`` (mkdir, rm, chmod, ls, echo, getprop, cat and
``benchmark_model``) and ``sync:`` (STAT, SEND, RECV, QUIT) inside a private sandbox directory.
Its ``benchmark_model`` runs the pushed model with LiteRT on this host and prints what TFLite's
real tool prints. Faults can be injected to test the callers: ``crash`` (the binary segfaults),
``nonsense`` (it prints garbage), ``disconnect`` (the phone vanishes during a benchmark).

    python tests/emulator.py [--port 5560]   # then: adb connect 127.0.0.1:5560
"""

from __future__ import annotations

import argparse
import contextlib
import queue
import shlex
import shutil
import socket
import statistics
import struct
import sys
import tempfile
import threading
import time
from pathlib import Path

A_CNXN, A_OPEN, A_OKAY, A_CLSE, A_WRTE = (struct.unpack("<I", c)[0] for c in
                                          (b"CNXN", b"OPEN", b"OKAY", b"CLSE", b"WRTE"))
A_VERSION = 0x01000001  # checksums are skipped from this version on
MAX_PAYLOAD = 256 * 1024
BANNER = b"device::ro.product.name=tflite_emu;ro.product.model=EmulatedPhone;ro.product.device=emu;" \
         b"features=cmd\0"


class _Stream:
    def __init__(self, local: int, remote: int):
        self.local, self.remote = local, remote
        self.inbox: queue.Queue[bytes | None] = queue.Queue()
        self.acked = threading.Event()
        self.buffer = b""

    def read(self, n: int) -> bytes:
        while len(self.buffer) < n:
            chunk = self.inbox.get()
            if chunk is None:
                raise EOFError
            self.buffer += chunk
        out, self.buffer = self.buffer[:n], self.buffer[n:]
        return out


class EmulatedPhone:
    """A phone that listens on ``127.0.0.1:port``; ``fault`` injects a failure mode."""

    def __init__(self, port: int = 0, fault: str | None = None, root: Path | None = None):
        self.root = Path(root or tempfile.mkdtemp(prefix="tflite-emu-")).resolve()
        self.fault = fault
        self.server = socket.create_server(("127.0.0.1", port))
        self.port = self.server.getsockname()[1]
        self.benchmarks = 0
        self.benchmark_options: list[dict[str, str]] = []  # each benchmark_model run's --options
        self._ids = iter(range(1, 1 << 30))
        self._stop = threading.Event()
        self._conns: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def serial(self) -> str:
        return f"127.0.0.1:{self.port}"

    def path(self, device_path: str) -> Path:
        """Where a device path lives in the sandbox; `PermissionError` for a path (``..``, a link)
        that leads outside it."""
        p = (self.root / device_path.lstrip("/")).resolve()
        if not p.is_relative_to(self.root):
            raise PermissionError(f"{device_path}: Permission denied")
        return p

    def close(self) -> None:
        self._stop.set()
        self.server.close()
        for c in self._conns:
            _close(c)
        shutil.rmtree(self.root, ignore_errors=True)

    def disconnect(self) -> None:
        """Pull the cable: drop every connection to the adb server."""
        for c in self._conns:
            _close(c)

    # -- transport ---------------------------------------------------------------------------
    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            self._conns.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        lock, streams = threading.Lock(), {}
        try:
            while True:
                cmd, arg0, arg1, data = _recv_packet(conn)
                if cmd == A_CNXN:
                    _send_packet(conn, lock, A_CNXN, A_VERSION, MAX_PAYLOAD, BANNER)
                elif cmd == A_OPEN:
                    s = _Stream(next(self._ids), arg0)
                    streams[s.local] = s
                    _send_packet(conn, lock, A_OKAY, s.local, s.remote)
                    service = data.rstrip(b"\0").decode()
                    threading.Thread(target=self._service, args=(conn, lock, s, service), daemon=True).start()
                elif cmd == A_WRTE and arg1 in streams:
                    streams[arg1].inbox.put(data)
                    _send_packet(conn, lock, A_OKAY, arg1, arg0)
                elif cmd == A_OKAY and arg1 in streams:
                    streams[arg1].acked.set()
                elif cmd == A_CLSE and arg1 in streams:
                    streams.pop(arg1).inbox.put(None)
        except (OSError, EOFError, struct.error):
            for s in streams.values():
                s.inbox.put(None)
                s.acked.set()
            _close(conn)

    def _write(self, conn, lock, s: _Stream, data: bytes) -> None:
        for i in range(0, len(data), MAX_PAYLOAD // 4):
            s.acked.clear()
            _send_packet(conn, lock, A_WRTE, s.local, s.remote, data[i:i + MAX_PAYLOAD // 4])
            if not s.acked.wait(30):
                raise OSError("adb server stopped acknowledging")

    def _service(self, conn, lock, s: _Stream, service: str) -> None:
        try:
            if service.startswith("shell:"):
                self._write(conn, lock, s, self._shell(service[6:], conn).encode())
            elif service == "sync:":
                self._sync(conn, lock, s)
            else:
                self._write(conn, lock, s, f"FAIL unknown service {service}".encode())
            _send_packet(conn, lock, A_CLSE, s.local, s.remote)
        except (OSError, EOFError):
            pass

    # -- shell -------------------------------------------------------------------------------
    def _shell(self, line: str, conn) -> str:
        out, status = [], 0
        for part in line.split(";"):
            words = shlex.split(part.replace("$?", str(status)))
            if words:
                text, status = self._command(words, conn)
                out.append(text)
        return "".join(out)

    def _command(self, words: list[str], conn) -> tuple[str, int]:
        try:
            return self._run(words[0], words[1:], conn)
        except PermissionError as exc:
            return f"{words[0]}: {exc}\n", 1

    def _run(self, name: str, args: list[str], conn) -> tuple[str, int]:
        if name == "echo":
            return " ".join(args) + "\n", 0
        if name == "getprop":
            props = {"ro.product.model": "EmulatedPhone", "ro.build.version.sdk": "33",
                     "ro.product.cpu.abi": "arm64-v8a"}
            return (props.get(args[0], "") if args else "") + "\n", 0
        if name == "mkdir":
            for a in (a for a in args if not a.startswith("-")):
                self.path(a).mkdir(parents=True, exist_ok=True)
            return "", 0
        if name == "rm":
            for a in (a for a in args if not a.startswith("-")):
                p = self.path(a)
                shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)
            return "", 0
        if name == "rmdir":
            for a in (a for a in args if not a.startswith("-")):
                try:
                    self.path(a).rmdir()
                except OSError:
                    return f"rmdir '{a}': Directory not empty\n", 1
            return "", 0
        if name == "chmod":
            return "", 0
        if name in ("ls", "cat"):
            paths = [self.path(a) for a in args if not a.startswith("-")]
            missing = [a for a, p in zip(args, paths, strict=False) if not p.exists()]
            if missing:
                return f"{name}: {missing[0]}: No such file or directory\n", 1
            if name == "cat":
                return "".join(p.read_text(errors="replace") for p in paths), 0
            names = [a for a in args if not a.startswith("-")]  # a folder lists its entries, as toybox does
            return "".join("".join(f"{e.name}\n" for e in sorted(p.iterdir())) if p.is_dir() else f"{a}\n"
                           for a, p in zip(names, paths, strict=True)), 0
        if Path(name).name == "benchmark_model":
            if not self.path(name).is_file():
                return f"/system/bin/sh: {name}: not found\n", 127
            return self._benchmark(args, conn)
        return f"/system/bin/sh: {name}: not found\n", 127

    def _benchmark(self, args: list[str], conn) -> tuple[str, int]:
        opts = dict(a[2:].split("=", 1) for a in args if a.startswith("--") and "=" in a)
        self.benchmarks += 1
        self.benchmark_options.append(opts)
        if self.fault == "disconnect":
            self.disconnect()
            return "", 0
        if self.fault == "crash":
            return "STARTING!\nSegmentation fault\n", 139
        if self.fault == "nonsense":
            return "STARTING!\n\x00\x7f garbage timing: NaN us\n", 0
        return run_benchmark(self.path(opts.get("graph", "")), opts)

    # -- sync --------------------------------------------------------------------------------
    def _sync(self, conn, lock, s: _Stream) -> None:
        while True:
            ident, length = struct.unpack("<4sI", s.read(8))
            if ident == b"QUIT":
                return
            if ident == b"STAT":
                p = self._inside(s.read(length).decode())
                st = p.stat() if p is not None and p.exists() else None
                mode = (0o40755 if p.is_dir() else 0o100644) if st else 0
                reply = struct.pack("<4sIII", b"STAT", mode, st.st_size if st else 0,
                                    int(st.st_mtime) if st else 0)
                self._write(conn, lock, s, reply)
            elif ident == b"SEND":
                self._receive_file(conn, lock, s, s.read(length).decode().rsplit(",", 1)[0])
            elif ident == b"RECV":
                self._send_file(conn, lock, s, s.read(length).decode())
            else:
                self._write(conn, lock, s, _fail(f"unknown sync request {ident!r}"))
                return

    def _inside(self, device_path: str) -> Path | None:
        """The sandbox path, or None for one outside the sandbox."""
        try:
            return self.path(device_path)
        except PermissionError:
            return None

    def _receive_file(self, conn, lock, s: _Stream, device_path: str) -> None:
        chunks = []
        while True:
            ident, length = struct.unpack("<4sI", s.read(8))
            if ident == b"DONE":
                break
            chunks.append(s.read(length))
        target = self._inside(device_path)
        if target is None:
            self._write(conn, lock, s, _fail(f"{device_path}: Permission denied"))
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(b"".join(chunks))
        self._write(conn, lock, s, b"OKAY\0\0\0\0")

    def _send_file(self, conn, lock, s: _Stream, device_path: str) -> None:
        p = self._inside(device_path)
        if p is None or not p.is_file():
            self._write(conn, lock, s, _fail("No such file or directory"))
            return
        data = p.read_bytes()
        for i in range(0, len(data), 64 * 1024):
            chunk = data[i:i + 64 * 1024]
            self._write(conn, lock, s, struct.pack("<4sI", b"DATA", len(chunk)) + chunk)
        self._write(conn, lock, s, b"DONE\0\0\0\0")


def run_benchmark(graph: Path, opts: dict[str, str]) -> tuple[str, int]:
    """Run ``graph`` with LiteRT and print it the way TFLite's ``benchmark_model`` does."""
    runs, warmup = int(opts.get("num_runs", 50)), int(opts.get("warmup_runs", 1))
    gpu = opts.get("use_gpu", "false") in ("true", "1")
    head = ["STARTING!", "Log parameter values verbosely: [0]", f"Min num runs: [{runs}]",
            f"Graph: [{opts.get('graph', '')}]", f"Use gpu: [{int(gpu)}]"]
    if not graph.is_file():
        return "\n".join([*head, f"ERROR: File {graph.name} does not exist", ""]), 1
    try:
        from pytest_tflite_latency.bench.litert import ready_interpreter

        t0 = time.perf_counter()
        it = ready_interpreter(graph, int(opts.get("num_threads", 1)))
        init_us = (time.perf_counter() - t0) * 1e6
    except (ValueError, RuntimeError) as exc:
        return "\n".join([*head, f"ERROR: {str(exc).splitlines()[0]}", "Failed to construct interpreter",
                          "Benchmarking failed.", ""]), 1
    warm = _time_invocations(it, warmup)
    timed = _time_invocations(it, runs)
    lines = [*head, f"Loaded model {graph.name}", "INFO: Initialized TensorFlow Lite runtime."]
    if gpu:
        lines += ["INFO: Created TensorFlow Lite delegate for GPU.", "GPU delegate created."]
    lines += [f"The input model file size (MB): {graph.stat().st_size / 1e6:g}",
              f"Initialized session in {init_us / 1000:.3f}ms.",
              _count_line(warm, "Running benchmark for at least 1 iterations and at least 0.5 seconds"),
              _count_line(timed, f"Running benchmark for at least {runs} iterations and at least 1 seconds"),
              f"Inference timings in us: Init: {init_us:.0f}, First inference: {warm[0]:.0f}, "
              f"Warmup (avg): {statistics.mean(warm):g}, Inference (avg): {statistics.mean(timed):g}",
              "Memory footprint delta from the start of the tool (MB): init=1.5 overall=2.25", ""]
    return "\n".join(lines), 0


def _time_invocations(it, n: int) -> list[float]:
    out = []
    for _ in range(max(n, 1)):
        t = time.perf_counter()
        it.invoke()
        out.append((time.perf_counter() - t) * 1e6)
    return out


def _count_line(us: list[float], intro: str) -> str:
    std = statistics.pstdev(us)
    return (f"{intro} but terminate if exceeding 150 seconds.\ncount={len(us)} first={us[0]:.0f} "
            f"curr={us[-1]:.0f} min={min(us):.0f} max={max(us):.0f} avg={statistics.mean(us):g} "
            f"std={std:.0f}\n")


def _fail(message: str) -> bytes:
    return struct.pack("<4sI", b"FAIL", len(message)) + message.encode()


def _recv_exact(conn: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            raise EOFError
        data += chunk
    return data


def _recv_packet(conn: socket.socket) -> tuple[int, int, int, bytes]:
    cmd, arg0, arg1, length, _crc, _magic = struct.unpack("<6I", _recv_exact(conn, 24))
    return cmd, arg0, arg1, _recv_exact(conn, length) if length else b""


def _send_packet(conn, lock, cmd: int, arg0: int, arg1: int, data: bytes = b"") -> None:
    header = struct.pack("<6I", cmd, arg0, arg1, len(data), sum(data) & 0xFFFFFFFF, cmd ^ 0xFFFFFFFF)
    with lock:
        conn.sendall(header + data)


def _close(conn: socket.socket) -> None:
    with contextlib.suppress(OSError):
        conn.shutdown(socket.SHUT_RDWR)
    conn.close()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python tests/emulator.py", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--port", type=int, default=5560)
    p.add_argument("--fault", choices=("crash", "nonsense", "disconnect"))
    args = p.parse_args(argv)
    phone = EmulatedPhone(args.port, args.fault)
    print(f"emulated phone listening on {phone.serial}; run: adb connect {phone.serial}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        phone.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

