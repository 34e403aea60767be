"""The test session's Neo4j: the one at ``NEO4J_URI``, or a throw-away server the session starts.

Without ``NEO4J_URI`` the session starts a real Neo4j 5.26 Community with the project's launcher
(``tools/neo4j-test-server/neo4j-server``, the same one ``make neo4j`` runs) in a temporary state
folder, as soon as collection shows that a Neo4j test will run, so that it boots while other tests
run. The launcher watches this process, so a killed test run leaves no server behind.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from interest_graph.settings import REPO_ROOT

from .launched import started_lines

LAUNCHER = REPO_ROOT / "tools" / "neo4j-test-server" / "neo4j-server"
# Each transaction's memory on the session's server (db.memory.transaction.max): a query whose
# memory grows with the graph fails here with a few thousand nodes, not at a shop with millions.
TX_MEMORY = "96m"


@dataclass(frozen=True)
class Neo4jConnection:
    """Where a Neo4j listens and how to log in."""

    uri: str
    user: str
    password: str
    http: str | None = None  # Neo4j Browser at {http}/browser/, when known


class Neo4jProblem(RuntimeError):
    """The session's Neo4j could not be had (the message says why and what to do)."""


def from_environment() -> Neo4jConnection | None:
    """The Neo4j named by ``NEO4J_URI``, ``NEO4J_USER`` and ``NEO4J_PASSWORD`` (and its Browser's
    ``NEO4J_HTTP`` address, optional), if any."""
    uri = os.environ.get("NEO4J_URI")
    if not uri:
        return None
    user, password = os.environ.get("NEO4J_USER"), os.environ.get("NEO4J_PASSWORD")
    if user is None or password is None:
        raise Neo4jProblem("NEO4J_URI is set but NEO4J_USER or NEO4J_PASSWORD is missing")
    return Neo4jConnection(uri, user, password, os.environ.get("NEO4J_HTTP") or None)


class SessionNeo4j:
    """A Neo4j server started for one test session, stopped at its end."""

    def __init__(self) -> None:
        self.state = Path(tempfile.mkdtemp(prefix="interestgraph-neo4j-"))
        self._starter: subprocess.Popen[str] | None = None
        self._connection: Neo4jConnection | None = None

    def start(self) -> None:
        """Begin starting the server (returns at once; :meth:`connection` waits)."""
        if self._starter is None:
            self._starter = subprocess.Popen(
                [str(LAUNCHER), "start", "--state", str(self.state), "--watch-pid", str(os.getpid())],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                env={**os.environ, "NEO4J_TX_MEMORY": os.environ.get("NEO4J_TX_MEMORY", TX_MEMORY)},
            )

    def connection(self) -> Neo4jConnection:
        """Wait until the server answers; its URI and credentials."""
        if self._connection is not None:
            return self._connection
        self.start()
        assert self._starter is not None
        lines = started_lines(self._starter, "Neo4j", LAUNCHER, self.state,
                              "It needs Java 17 and Maven (Maven Central); or point NEO4J_URI, "
                              "NEO4J_USER and NEO4J_PASSWORD at a Neo4j 5.26, or run one backend "
                              "with --backend falkordb", Neo4jProblem)
        env = (self.state / "env").read_text(encoding="utf-8").splitlines()
        http = next((line.split("=", 1)[1] for line in env if line.startswith("NEO4J_HTTP=")), None)
        self._connection = Neo4jConnection(lines["NEO4J_URI"], lines["NEO4J_USER"],
                                           lines["NEO4J_PASSWORD"], http)
        return self._connection

    def stop(self) -> None:
        if self._starter is None:
            return
        if self._starter.poll() is None:
            self._starter.kill()
            self._starter.wait()
        subprocess.run([str(LAUNCHER), "stop", "--state", str(self.state)],
                       capture_output=True, timeout=120, check=False)
        shutil.rmtree(self.state, ignore_errors=True)
