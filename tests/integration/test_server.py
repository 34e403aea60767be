from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import redis

from interest_graph.errors import ServerError
from interest_graph.server import AOF_REWRITE_PERCENTAGE, EmbeddedServer

pytestmark = pytest.mark.integration


def test_start_reuse_persist_and_stop(tmp_path: Path) -> None:
    server = EmbeddedServer(tmp_path / "a")
    first = server.start()
    try:
        again = EmbeddedServer(tmp_path / "a").start()
        assert again == first, "a second start must reuse the running server"
        client = redis.Redis(port=first.port)
        assert client.config_get("appendonly")["appendonly"] == "yes"
        assert client.config_get("appendfsync")["appendfsync"] in ("everysec", "always")
        assert client.config_get("bind")["bind"] == "127.0.0.1"
        rewrite = client.config_get("auto-aof-rewrite-percentage")
        assert rewrite["auto-aof-rewrite-percentage"] == str(AOF_REWRITE_PERCENTAGE)
        client.execute_command("GRAPH.QUERY", "g", "CREATE (:Probe {n: 1})")
        client.close()
    finally:
        assert server.stop()
    assert server.status() is None and not server.stop()
    restarted = server.start()
    try:
        client = redis.Redis(port=restarted.port)
        result = client.execute_command("GRAPH.RO_QUERY", "g", "MATCH (p:Probe) RETURN p.n")
        assert result[1] == [[1]], "data written before a clean stop must survive a restart"
        client.close()
    finally:
        server.stop()


def test_two_data_directories_get_two_servers(tmp_path: Path) -> None:
    a, b = EmbeddedServer(tmp_path / "a"), EmbeddedServer(tmp_path / "b")
    try:
        sa, sb = a.start(), b.start()
        assert sa.port != sb.port and sa.pid != sb.pid
    finally:
        a.stop()
        b.stop()


def test_port_held_by_someone_else_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        with pytest.raises(ServerError, match=f"port {port} is held by another process"):
            EmbeddedServer(tmp_path, port=port).start()


def test_server_commands_manage_the_broker_when_the_store_is_neo4j(tmp_path: Path) -> None:
    """With GRAPH_URI on Neo4j the embedded server is still the Celery broker: manage it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("INTERESTGRAPH_")}
    env.update(INTERESTGRAPH_DATA_DIR=str(tmp_path), INTERESTGRAPH_GRAPH_URI="bolt://127.0.0.1:1")

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "interest_graph.cli", "server", *args],
                              env=env, capture_output=True, text=True, timeout=60)

    try:
        started = cli("start")
        assert started.returncode == 0, started.stderr
        assert EmbeddedServer(tmp_path).status() is not None
        assert cli("status").returncode == 0
        stopped = cli("stop")
        assert stopped.returncode == 0 and "stopped" in stopped.stdout, stopped.stderr
        assert EmbeddedServer(tmp_path).status() is None
        assert cli("status").returncode == 1
    finally:
        EmbeddedServer(tmp_path).stop()
    env["INTERESTGRAPH_BROKER_URL"] = "redis://127.0.0.1:1/1"
    external = cli("status")
    assert external.returncode == 1 and "external" in external.stderr
