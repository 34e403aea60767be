"""The Neo4j Browser query pack (``cypher/browser/``) against the embedded store after two full
refreshes by a real worker: every query runs with the parameters its header names and returns
rows that agree with the API's own reads."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from interest_graph.api import create_app
from interest_graph.graph.cypher import CypherCatalog
from interest_graph.settings import REPO_ROOT, Settings

from .test_api import (
    API_KEYS,
    WRITE,
    RefreshedGraph,
    graph_id,
    prepare_graph,
    stop_worker,
    wait_task,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

BROWSER = ("browser/user_interests", "browser/segment_composition", "browser/similar_users",
           "browser/why_recommended", "browser/segment_changes", "browser/similar_items")


@pytest.fixture(scope="module")
def twice(embedded_settings: Settings, cli_env: dict[str, str],
          tmp_path_factory: pytest.TempPathFactory, shared_datasets: Path
          ) -> Iterator[RefreshedGraph]:
    """The slice refreshed twice, so that segment history exists."""
    log = tmp_path_factory.mktemp("browser-worker") / "worker.log"
    refreshed = prepare_graph(embedded_settings, cli_env, log, keep_worker=True)
    try:
        client = create_app(embedded_settings.with_overrides(api_keys=API_KEYS)).test_client()
        response = client.post("/v1/refresh", json={"kind": "full"}, headers=WRITE)
        assert response.json is not None
        refreshed.version = wait_task(client, response.json["task_id"])["result"]["version"]
    finally:
        stop_worker(refreshed.worker, embedded_settings)
    yield refreshed
    refreshed.store.close()


@pytest.mark.parametrize("backend", ["falkordb", "neo4j"])
def test_every_browser_query_documents_its_parameters(backend: str) -> None:
    catalog = CypherCatalog.load(REPO_ROOT / "cypher", backend)
    for name in BROWSER:
        query = catalog[name]
        params = set(re.findall(r"\$([A-Za-z_]+)", query.text.split("\n", 1)[1]))
        for param in params:
            assert f":param {param} =>" in query.doc, f"{name} does not explain ${param}"


def user_with_recs(graph: RefreshedGraph) -> str:
    for raw in graph.raw_users:
        if graph.store.read("api/get_recommendations", user=graph_id(raw), k=1):
            return graph_id(raw)
    raise AssertionError("no user has recommendations")


def test_user_interests_and_why(twice: RefreshedGraph) -> None:
    store = twice.store
    user = user_with_recs(twice)
    rows = store.read("browser/user_interests", user=user, k=5)
    api = store.read("api/get_recommendations", user=user, k=5)
    assert [r["item"] for r in rows] == [r["item"] for r in api]
    assert all(r["reason"] and r["model_version"] for r in rows)
    why = store.read("browser/why_recommended", user=user, item=rows[0]["item"])
    assert why and {w["reason"] for w in why} == {rows[0]["reason"]}
    assert all(w["rank"] == rows[0]["rank"] for w in why)
    supported = [w for w in why if w["support"] is not None]
    assert all(w["similarity"] is not None and w["interaction_weight"] is not None
               for w in supported)
    assert not store.read("browser/why_recommended", user=user, item="no-such-item")


def test_segment_composition_adds_up(twice: RefreshedGraph) -> None:
    rows = twice.store.read("browser/segment_composition")
    sizes: dict[str, int] = {}
    members: dict[str, int] = {}
    for row in rows:
        sizes[row["segment"]] = row["size"]
        members[row["segment"]] = members.get(row["segment"], 0) + row["members"]
        assert row["segment"].startswith(twice.version + ":")
    assert len(sizes) >= 2 and members == sizes


def test_similar_users_and_items_by_vector_index(twice: RefreshedGraph) -> None:
    store = twice.store
    user = user_with_recs(twice)
    users = store.read("browser/similar_users", user=user, k=5)
    assert len(users) == 5 and user not in {u["user"] for u in users}
    sims = [u["similarity"] for u in users]
    assert sims == sorted(sims, reverse=True) and all(-1.0 <= s <= 1.0 + 1e-6 for s in sims)
    assert all(u["segment"] for u in users)
    item = store.read("api/get_recommendations", user=user, k=1)[0]["item"]
    items = store.read("browser/similar_items", item=item, k=5)
    assert len(items) == 5 and item not in {i["item"] for i in items}
    graph_similar = {r["item"] for r in store.read("api/get_similar_items", item=item, k=20)}
    assert {i["item"] for i in items if i["similar_rank"] is not None} <= graph_similar


def test_segment_changes_since_the_previous_refresh(twice: RefreshedGraph) -> None:
    rows = twice.store.read("browser/segment_changes")
    summary = twice.store.read("stats/refresh_summary")[0]
    assert rows, "two refreshes: every user appears in a (previous, current) pair"
    assert sum(r["users"] for r in rows) == summary["segmented_users"]
    assert all(r["changed"] == (r["from_segment"] != r["to_segment"]) for r in rows)
