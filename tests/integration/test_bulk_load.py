"""``interestgraph load --bulk``: neo4j-admin's importer builds the graph an ordinary load builds.

On a Neo4j of its own (the import replaces the database and restarts the server), through the
real CLI and the real ``neo4j-admin database import full``: an ordinary load of the retail slice
is recorded; ``--bulk`` is refused on that non-empty database, naming it; after a reset the bulk
import of the same records gives the same counts, weights, revenue, users and items (what the
model reads), and a replay of the slice through an ordinary load then applies 0 events.
"""

from __future__ import annotations

import json
import math
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from interest_graph.graph import open_store
from interest_graph.graph.ingest import IngestRepository
from interest_graph.settings import Settings

from ..neo4j_server import LAUNCHER, SessionNeo4j
from .conftest import CLI, RetailSlice

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# Only on Neo4j: the parameter puts it in the Neo4j half and out of `--backend falkordb`.
ON_NEO4J = pytest.mark.parametrize("backend", [pytest.param("neo4j", marks=pytest.mark.neo4j)])


@pytest.fixture
def own_neo4j() -> Iterator[SessionNeo4j]:
    server = SessionNeo4j()
    try:
        server.connection()
        yield server
    finally:
        server.stop()


def run_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], env=env, capture_output=True, text=True, timeout=600)


def snapshot(settings: Settings) -> dict[str, Any]:
    """What a load leaves: the counts and every user and item page the model reads."""
    store = open_store(settings)
    try:
        counts = IngestRepository(store).counts()
        users = store.read("refresh/read_user_page", after="", limit=100_000)
        items = store.read("refresh/read_item_page", after="", limit=100_000)
    finally:
        store.close()
    per_user = {}
    for u in users:
        edges = sorted(zip(u["items"], u["weights"], u["first_ts"], u["last_ts"], u["consumed"],
                           strict=True))
        per_user[u["id"]] = {"text": u["text"], "days": u["purchase_days"],
                             "revenue": round(u["revenue"], 6),
                             "edges": [(i, round(w, 9), f, t, c) for i, w, f, t, c in edges]}
    per_item = {i["id"]: (i["title"], i["description"], i["text_hash"], sorted(i["categories"]))
                for i in items}
    return {"counts": counts, "users": per_user, "items": per_item}


@ON_NEO4J
def test_bulk_import_equals_an_ordinary_load_refuses_data_and_replays_count_once(
        backend: str, own_neo4j: SessionNeo4j, cli_env: dict[str, str],
        retail_slice: RetailSlice, tmp_path: Path) -> None:
    conn = own_neo4j.connection()
    env = {**cli_env, "INTERESTGRAPH_GRAPH_URI": conn.uri, "INTERESTGRAPH_NEO4J_USER": conn.user,
           "INTERESTGRAPH_NEO4J_PASSWORD": conn.password,
           "INTERESTGRAPH_DATA_DIR": str(tmp_path / "data")}
    settings = Settings.from_env(env)
    importer = f"{LAUNCHER} import --state {own_neo4j.state}"

    ordinary = run_cli(env, "load", str(retail_slice.folder), "--json")
    assert ordinary.returncode == 0, ordinary.stderr[-3000:]
    expected = snapshot(settings)
    assert expected["counts"].events == len({e["event_id"] for e in retail_slice.events})

    refused = run_cli(env, "load", "--bulk", str(retail_slice.folder), "--import-command",
                      importer)
    assert refused.returncode != 0
    assert "database 'neo4j'" in refused.stderr and "is not empty" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert snapshot(settings)["counts"] == expected["counts"]  # nothing was imported

    assert run_cli(env, "reset", "--yes").returncode == 0
    bulk = run_cli(env, "load", "--bulk", str(retail_slice.folder), "--import-command", importer,
                   "--json")
    assert bulk.returncode == 0, bulk.stderr[-3000:]
    summary = json.loads(bulk.stdout.strip().splitlines()[-1])
    assert summary["events_applied"] == expected["counts"].events
    got = snapshot(settings)
    exact = ("users", "items", "categories", "edges", "edge_events", "events")
    assert [getattr(got["counts"], k) for k in exact] == \
        [getattr(expected["counts"], k) for k in exact]
    assert math.isclose(got["counts"].weight, expected["counts"].weight, rel_tol=1e-9)
    assert math.isclose(got["counts"].revenue, expected["counts"].revenue, rel_tol=1e-9)
    assert got["items"] == expected["items"]
    assert got["users"].keys() == expected["users"].keys()
    assert got["users"] == expected["users"]

    replay = run_cli(env, "load", str(retail_slice.folder), "--json")
    assert replay.returncode == 0, replay.stderr[-3000:]
    again = json.loads(replay.stdout.strip().splitlines()[-1])
    assert again["events_applied"] == 0 and again["duplicates"] == expected["counts"].events
    assert snapshot(settings)["counts"] == got["counts"]


@ON_NEO4J
def test_bulk_needs_neo4j_and_an_import_command(backend: str, cli_env: dict[str, str],
                                                retail_slice: RetailSlice) -> None:
    embedded = run_cli(cli_env, "load", "--bulk", str(retail_slice.folder))
    assert embedded.returncode != 0 and "--bulk imports into Neo4j" in embedded.stderr
    assert "Traceback" not in embedded.stderr
    neo4j = {**cli_env, "INTERESTGRAPH_GRAPH_URI": "bolt://127.0.0.1:1"}
    missing = run_cli(neo4j, "load", "--bulk", str(retail_slice.folder))
    assert missing.returncode != 0 and "INTERESTGRAPH_NEO4J_IMPORT_COMMAND" in missing.stderr
