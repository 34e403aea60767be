"""``benchmarks/backends.py``: the store a benchmark hands its platform processes is the one its
own settings name, and a benchmark's environment never leaks a caller's store into them."""

from __future__ import annotations

from pathlib import Path

import backends
import pytest

from interest_graph.settings import Settings


def test_a_neo4j_store_reaches_the_processes_through_their_environment(tmp_path: Path) -> None:
    settings = Settings.from_env({}, data_dir=tmp_path, graph_uri="bolt://127.0.0.1:7999",
                                 neo4j_user="bench", neo4j_password="p@ss word")
    child = Settings.from_env(backends.store_env(settings), data_dir=tmp_path)
    assert child.target() == settings.target()
    assert child.target().backend == "neo4j"
    assert (child.neo4j_user, child.neo4j_password) == ("bench", "p@ss word")


def test_the_embedded_store_adds_nothing_and_a_callers_store_is_stripped(tmp_path: Path) -> None:
    assert backends.store_env(Settings.from_env({}, data_dir=tmp_path)) == {}
    caller = {"INTERESTGRAPH_GRAPH_URI": "bolt://elsewhere:7687", "INTERESTGRAPH_NEO4J_USER": "x",
              "INTERESTGRAPH_BROKER_URL": "redis://elsewhere/1", "INTERESTGRAPH_TOP_K": "7",
              "PATH": "/bin"}
    assert backends.strip_store_env(caller) == {"INTERESTGRAPH_TOP_K": "7", "PATH": "/bin"}


def test_an_unknown_backend_is_refused() -> None:
    with pytest.raises(ValueError, match="backend must be one of"):
        backends.GraphBackend("mongodb")
    embedded = backends.GraphBackend("embedded").start()
    assert embedded.overrides() == {"graph_uri": None}
    assert embedded.describe() == {"backend": "embedded"}
