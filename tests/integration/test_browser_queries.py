"""The Neo4j Browser query pack (``cypher/browser/``) on each backend, after two full refreshes by
a real worker (the session's ``refreshed_graph``, which test_api has written to since): every
query runs with the parameters its header names and returns rows that agree with the API's own
reads."""

from __future__ import annotations

import re

import pytest

from interest_graph.api import create_app
from interest_graph.graph.cypher import CypherCatalog
from interest_graph.settings import REPO_ROOT

from .refreshed import API_KEYS, READ, RefreshedGraph, graph_id

pytestmark = [pytest.mark.integration, pytest.mark.slow]

BROWSER = ("browser/user_interests", "browser/segment_composition", "browser/similar_users",
           "browser/why_recommended", "browser/segment_changes", "browser/similar_items",
           "browser/segment_brief", "browser/segment_transitions", "browser/user_segment_why")


@pytest.fixture(scope="module")
def twice(refreshed_graph: RefreshedGraph) -> RefreshedGraph:
    """The slice refreshed twice, so that segment history exists."""
    return refreshed_graph


@pytest.mark.parametrize("flavour", ["falkordb", "neo4j"])
def test_every_browser_query_documents_its_parameters(flavour: str) -> None:
    catalog = CypherCatalog.load(REPO_ROOT / "cypher", flavour)
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


def test_why_recommended_names_each_supporting_item_once(twice: RefreshedGraph) -> None:
    store = twice.store
    supported = 0
    for raw in twice.raw_users[:30]:
        user = graph_id(raw)
        for rec in store.read("api/get_recommendations", user=user, k=10):
            why = store.read("browser/why_recommended", user=user, item=rec["item"])
            supports = [w["support"] for w in why if w["support"] is not None]
            supported += len(supports)
            assert len(supports) == len(set(supports)), (rec["item"], supports)
            for w in why:
                categories = w["shared_categories"]
                assert len(categories) == len(set(categories)), (rec["item"], w)
    assert supported > 0, "no recommendation had a supporting item"


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
    graph_similar = {r["item"]: r["score"] for r in store.read("api/get_similar_items", item=item,
                                                              k=20)}
    ranked = [i for i in items if i["similar_rank"] is not None]
    assert ranked and {i["item"] for i in ranked} <= set(graph_similar)
    # The same cosine as SIMILAR_TO's score, on every backend.
    assert all(abs(i["similarity"] - graph_similar[i["item"]]) < 1e-3 for i in ranked), ranked


def test_segment_changes_since_the_previous_refresh(twice: RefreshedGraph) -> None:
    rows = twice.store.read("browser/segment_changes")
    summary = twice.store.read("stats/refresh_summary")[0]
    assert rows, "two refreshes: every user appears in a (previous, current) pair"
    assert sum(r["users"] for r in rows) == summary["segmented_users"]
    assert all(r["changed"] == (r["from_segment"] != r["to_segment"]) for r in rows)


def test_segment_briefs_transitions_and_why(twice: RefreshedGraph) -> None:
    store = twice.store
    briefs = store.read("browser/segment_brief")
    summary = store.read("stats/refresh_summary")[0]
    assert len(briefs) >= 2 and sum(b["size"] for b in briefs) == summary["segmented_users"]
    assert all(b["brief"].startswith(b["label"]) and len(b["lifts"]) == len(b["categories"])
               for b in briefs)
    # Written at refresh time; the same table the API serves.
    moves = store.read("browser/segment_transitions")
    client = create_app(twice.settings.with_overrides(api_keys=API_KEYS)).test_client()
    api = client.get("/v1/segments/transitions", headers=READ).json
    assert api is not None and api["version"] == twice.version and api["previous"]
    assert sum(m["users"] for m in moves) == api["total"] > 0
    assert api["moved"] == sum(m["users"] for m in moves if not m["stayed"])
    user = user_with_recs(twice)
    why = store.read("browser/user_segment_why", user=user)
    assert len(why) == 1 and why[0]["user_categories"]
    assert set(why[0]["shared"]) <= set(why[0]["segment_categories"])
    assert why[0]["distance"] is not None and why[0]["distance_limit"] > 0

