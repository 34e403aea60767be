"""The store contract: the same tests run on FalkorDB and (with NEO4J_URI) on Neo4j."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

from interest_graph.errors import GraphUnavailable, QueryError
from interest_graph.graph import GraphStore
from interest_graph.graph.driver import FalkorStore
from interest_graph.graph.ingest import IngestRepository
from interest_graph.graph.streams import PartitionProgress, StreamRepository
from interest_graph.ingest.ingestor import Ingestor
from interest_graph.ingest.records import Event, ItemRecord
from interest_graph.privacy import Pseudonymiser
from interest_graph.recipe import EdgeRecipe
from interest_graph.settings import DEFAULT_WEIGHTS

pytestmark = pytest.mark.integration
DAY = 86400.0


def ingestor(store: GraphStore, batch_size: int = 3) -> Ingestor:
    return Ingestor(IngestRepository(store), Pseudonymiser("contract"), batch_size=batch_size,
                    recipe=EdgeRecipe(DEFAULT_WEIGHTS, 30 * DAY), clock=lambda: 1e9)


def events() -> list[Event | ItemRecord]:
    return [
        ItemRecord("lamp", "Red lamp", "A lamp", 10.0, ("Home", "Light")),
        Event("1", "alice", "lamp", "view", 1e9),
        Event("2", "alice", "lamp", "purchase", 1e9 + 30 * DAY, 2.0, 10.0),
        Event("3", "bob", "lamp", "cart", 1e9),
        Event("4", "bob", "mug", "purchase", 1e9, 1.0, 4.0),
        Event("5", "alice", None, "search", 1e9, text="blue lamp"),
        Event("6", "bob", "mug", "return", 1e9 + DAY, 1.0, 4.0),
        Event("7", "bob", "mug", "review", 1e9 + 2 * DAY, rating=4.0, text="Nice mug"),
    ]


def test_every_catalog_query_is_valid(store: GraphStore) -> None:
    for name in store.catalog:
        if name.startswith("schema/") or name.startswith("admin/"):
            continue
        store.explain(name)


def test_ingest_builds_the_graph_model(store: GraphStore) -> None:
    summary = ingestor(store).run(events())
    assert (summary.events_applied, summary.duplicates, summary.rejected) == (7, 0, 0)
    counts = IngestRepository(store).counts()
    assert (counts.users, counts.items, counts.categories, counts.edges) == (2, 2, 2, 3)
    assert counts.events == 7 and counts.edge_events == 6
    assert counts.revenue == pytest.approx(20.0)


def test_replay_counts_once(store: GraphStore) -> None:
    ingestor(store).run(events())
    before = IngestRepository(store).counts()
    replay = ingestor(store, batch_size=2).run(events())
    assert replay.events_applied == 0 and replay.duplicates == 7
    assert IngestRepository(store).counts() == before


def test_batch_guard_refuses_already_applied_ids(store: GraphStore) -> None:
    repo = IngestRepository(store)
    pair = {"item": "i1", "first_ts": 1.0, "last_ts": 1.0, "weight": 1.0,
            "counts": [1, 0, 0, 0, 0, 0, 0, 0, 0], "quantity": 0.0, "revenue": 0.0}
    user = {"id": "u1", "first_ts": 1.0, "last_ts": 1.0, "events": 1, "days": [],
            "revenue": 0.0, "pairs": [pair]}
    assert repo.apply_events(["a"], [user], now=1.0, half_life=DAY)
    assert not repo.apply_events(["b", "a"], [user], now=1.0, half_life=DAY)
    counts = repo.counts()
    assert counts.events == 1 and counts.edge_events == 1, "a refused batch must change nothing"
    assert repo.known_events(["a", "b"]) == {"a"}


def test_items_upsert_replaces_categories(store: GraphStore) -> None:
    repo = IngestRepository(store)
    row = {"id": "x", "title": "T", "description": "", "price": None, "text_hash": "h1",
           "categories": ["A", "B"]}
    repo.upsert_items([row], now=1.0)
    repo.upsert_items([{**row, "categories": ["B", "C"], "text_hash": "h2"}], now=2.0)
    assert repo.counts().categories == 3
    rows = store.read("stats/item_categories", item=row["id"])
    assert sorted(r["name"] for r in rows) == ["B", "C"]


def test_errors_are_translated(store: GraphStore) -> None:
    with pytest.raises(QueryError):
        store.write("ingest/apply_events", ids=["x"])  # missing parameters
    if isinstance(store, FalkorStore):
        with pytest.raises(GraphUnavailable):
            FalkorStore("127.0.0.1", 1, "g", store.catalog).ping()


def at_once_on_a_fresh_graph(store: GraphStore, target: Callable[[threading.Barrier, Any], None],
                             args: list[Any]) -> None:
    """Clear the graph, then run ``target(barrier, arg)`` for each arg on its own thread, the
    threads meeting at the barrier before each write."""
    store.clear()
    store.init_schema()
    ready = threading.Barrier(len(args))
    threads = [threading.Thread(target=target, args=(ready, arg)) for arg in args]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def test_two_consumers_first_batches_at_once_make_one_progress_record(store: GraphStore) -> None:
    """FalkorDB's MERGE races into duplicates while its label does not exist yet (a fresh
    graph): the schema must index every label a write MERGEs (CI: two consumers of one group
    each created the group's record, and stats listed every partition twice)."""
    def record(ready: threading.Barrier, partitions: tuple[int, ...]) -> None:
        ready.wait()
        StreamRepository(store).record("g", "t", "generic", applied=5, duplicates=0, rejected=0,
                                       ignored=0, partitions=[PartitionProgress(p, 1, 1, 0)
                                                              for p in partitions])

    for _ in range(12):
        at_once_on_a_fresh_graph(store, record, [(0, 2), (1, 3)])
        (progress,) = StreamRepository(store).read()
        assert progress.applied == 10
        assert [p.partition for p in progress.partitions] == [0, 1, 2, 3]


def _pairs_batch(n_users: int = 10, n_items: int = 5) -> list[dict[str, Any]]:
    pair = {"first_ts": 1.0, "last_ts": 1.0, "weight": 1.0, "quantity": 1.0, "revenue": 1.0,
            "counts": [1, 0, 0, 0, 0, 0, 0, 0, 0]}
    return [{"id": f"u{j}", "first_ts": 1.0, "last_ts": 1.0, "events": n_items, "days": [],
             "revenue": 0.0, "pairs": [{**pair, "item": f"i{m}"} for m in range(n_items)]}
            for j in range(n_users)]


def test_two_writers_first_batches_at_once_make_one_edge_per_pair(store: GraphStore) -> None:
    """Likewise for relationship types: while INTERACTED is not in the graph, two writers' first
    batches on the same pairs each created every edge (100 edges for 50 pairs on the first fresh
    graph; CI: two Kafka consumers of one group, 1,380 edges for 1,379 pairs); the schema makes
    every type a write MERGEs known first (schema/falkordb/002_relationship_types)."""
    def write(ready: threading.Barrier, k: int) -> None:
        repo = IngestRepository(store)
        ready.wait()
        repo.upsert_items([{"id": "i0", "title": "t", "description": "", "price": 1.0,
                            "text_hash": "h", "categories": ["c0", "c1"]}], now=1.0)
        ready.wait()
        assert repo.apply_events([f"e{k}-{j}" for j in range(50)], _pairs_batch(), now=1.0,
                                 half_life=1e9)

    for _ in range(6):
        at_once_on_a_fresh_graph(store, write, [0, 1])
        counts = IngestRepository(store).counts()
        assert (counts.users, counts.items, counts.edges, counts.edge_events) == (10, 5, 50, 100)
        assert [r["name"] for r in store.read("stats/item_categories", item="i0")] == ["c0", "c1"]


@pytest.mark.parametrize(
    "title",
    ['He said "title": no', "back\\slash\\", "tab\tnew\nline", "£ é 漢 😀", "ctrl\x01char",
     "cr\rlf", "{\"a\":1}", "'single' `tick`"],
)
def test_text_round_trips_exactly(store: GraphStore, title: str) -> None:
    repo = IngestRepository(store)
    repo.upsert_items([{"id": "t", "title": title, "description": title, "price": 1.5,
                        "text_hash": "h", "categories": [title]}], now=1.0)
    (row,) = store.read("stats/item_text", item="t")
    assert (row["title"], row["description"], row["categories"]) == (title, title, [title])
