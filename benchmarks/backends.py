"""The graph store a benchmark runs on: the embedded server (the default) or Neo4j.

``--backend neo4j`` uses the Neo4j named by ``NEO4J_URI``, ``NEO4J_USER`` and ``NEO4J_PASSWORD``
(its graph is cleared first: point it at a database you can lose), or, when ``NEO4J_URI`` is
unset, starts a throw-away Neo4j 5.26 Community with ``tools/neo4j-test-server`` in a folder of
its own, with ``NEO4J_HEAP`` and ``NEO4J_PAGECACHE`` (defaults 1g and 512m), and stops it at the
end. Either way the embedded server stays the Celery broker, as it does for a platform whose
``INTERESTGRAPH_GRAPH_URI`` names a Neo4j and no broker.

Each benchmark's JSON names the backend (``"backend"``) and, for Neo4j, ``"neo4j"``: the server's
heap and page cache when the benchmark started it, and its store's size on disk when known.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from interest_graph.settings import REPO_ROOT, Settings

LAUNCHER = REPO_ROOT / "tools" / "neo4j-test-server" / "neo4j-server"
CHOICES = ("embedded", "neo4j")


def add_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--backend", choices=CHOICES, default="embedded",
                        help="graph store: the embedded server (default) or Neo4j (NEO4J_URI, "
                             "else a throw-away server started with tools/neo4j-test-server)")


class GraphBackend:
    """One benchmark's graph store; a context manager that stops what it started."""

    def __init__(self, name: str, work_dir: Path | None = None) -> None:
        if name not in CHOICES:
            raise ValueError(f"backend must be one of {CHOICES}, not {name!r}")
        self.name = name
        self.work_dir = work_dir
        self.state: Path | None = None  # the started Neo4j's folder
        self.uri: str | None = None
        self.user, self.password = "neo4j", ""

    # -- lifecycle ----------------------------------------------------------------------------

    def __enter__(self) -> GraphBackend:
        return self.start()

    def start(self) -> GraphBackend:
        """Find or start the Neo4j (nothing for the embedded server, which the platform starts)."""
        if self.name == "neo4j":
            if os.environ.get("NEO4J_URI"):
                self.uri = os.environ["NEO4J_URI"]
                self.user = os.environ.get("NEO4J_USER", "neo4j")
                self.password = os.environ.get("NEO4J_PASSWORD", "")
            else:
                self._start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _start(self) -> None:
        self.state = Path(tempfile.mkdtemp(prefix="ig-bench-neo4j-", dir=self.work_dir))
        done = subprocess.run([str(LAUNCHER), "start", "--state", str(self.state),
                               "--watch-pid", str(os.getpid())],
                              capture_output=True, text=True, timeout=600)
        if done.returncode != 0:
            raise RuntimeError(f"starting Neo4j failed:\n{done.stderr.strip()}")
        lines = dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line)
        self.uri, self.user, self.password = (lines["NEO4J_URI"], lines["NEO4J_USER"],
                                              lines["NEO4J_PASSWORD"])

    def stop(self) -> None:
        """Stop and remove the Neo4j this benchmark started (nothing for the others)."""
        if self.state is not None:
            subprocess.run([str(LAUNCHER), "stop", "--state", str(self.state)],
                           capture_output=True, text=True, timeout=120)
            shutil.rmtree(self.state, ignore_errors=True)
            self.state = None

    # -- what the platform needs ------------------------------------------------------------

    def overrides(self) -> dict[str, Any]:
        """``Settings`` fields: the graph store (``graph_uri=None`` is the embedded server)."""
        if self.name == "embedded":
            return {"graph_uri": None}
        return {"graph_uri": self.uri, "neo4j_user": self.user, "neo4j_password": self.password}

    def clear(self, settings: Settings) -> None:
        """Empty a Neo4j the benchmark did not start (one it started begins empty)."""
        if self.name == "neo4j" and self.state is None:
            from interest_graph.graph import open_store

            store = open_store(settings)
            try:
                store.clear()
            finally:
                store.close()

    def describe(self) -> dict[str, Any]:
        """For the benchmark's JSON: ``backend`` and, on Neo4j, its settings and store size."""
        if self.name == "embedded":
            return {"backend": "embedded"}
        info: dict[str, Any] = {"started_by_benchmark": self.state is not None}
        if self.state is not None:
            info.update(heap=os.environ.get("NEO4J_HEAP", "1g"),
                        pagecache=os.environ.get("NEO4J_PAGECACHE", "512m"),
                        store_mb=self.store_mb(), jvm_peak_rss_mb=self.jvm_peak_rss_mb())
        return {"backend": "neo4j", "neo4j": info}

    def store_mb(self) -> float | None:
        """Size on disk of the started server's data folder (store files and transaction logs)."""
        if self.state is None:
            return None
        data = self.state / "home" / "data"
        total = sum(p.stat().st_size for p in data.rglob("*") if p.is_file()) if data.exists() else 0
        return round(total / 2**20, 1)

    def jvm_peak_rss_mb(self) -> float | None:
        """The started server's resident-memory high-water mark (heap, page cache and the rest)."""
        pid_file = self.state / "pid" if self.state is not None else None
        if pid_file is None or not pid_file.exists():
            return None
        return _peak_rss_mb(int(pid_file.read_text().strip()))


def _peak_rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024.0)
    except OSError:
        pass
    return None


def store_env(settings: Settings) -> dict[str, str]:
    """The environment that gives a platform process ``settings``' graph store."""
    if settings.graph_uri is None:
        return {}
    return {"INTERESTGRAPH_GRAPH_URI": settings.graph_uri,
            "INTERESTGRAPH_NEO4J_USER": settings.neo4j_user,
            "INTERESTGRAPH_NEO4J_PASSWORD": settings.neo4j_password,
            "INTERESTGRAPH_NEO4J_DATABASE": settings.neo4j_database}


def process_env(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment of a platform process a benchmark starts: this one's, without a caller's
    store settings, with ``settings``' store and ``extra``."""
    return {**strip_store_env(dict(os.environ)), **store_env(settings), **extra}


def strip_store_env(env: dict[str, str]) -> dict[str, str]:
    """``env`` without the store, broker and Neo4j settings a benchmark sets itself."""
    return {k: v for k, v in env.items()
            if k not in ("INTERESTGRAPH_GRAPH_URI", "INTERESTGRAPH_BROKER_URL",
                         "INTERESTGRAPH_RESULT_BACKEND", "INTERESTGRAPH_NEO4J_USER",
                         "INTERESTGRAPH_NEO4J_PASSWORD", "INTERESTGRAPH_NEO4J_DATABASE")}
