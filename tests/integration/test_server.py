from __future__ import annotations

import socket
from pathlib import Path

import pytest
import redis

from interest_graph.errors import ServerError
from interest_graph.server import EmbeddedServer

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
