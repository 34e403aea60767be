"""A full refresh's activation at a size where one query would hold too much, on each backend.

The activation wrote every user's and item's node-level results and switched the version in one
query. On Neo4j that transaction's memory grows with the graph: at 16x Online Retail (69,808
users, 58,816 items) it went past Neo4j's transaction memory limit on a 2 GB heap and the full
refresh failed. The session's Neo4j bounds each transaction at ``TX_MEMORY`` (96 MB), which the
one-query activation of the users and items here exceeds; written in batches it fits, and
readers then see every user's results under the new version.
"""

from __future__ import annotations

import neo4j
import numpy as np
import pytest

from interest_graph.graph import GraphStore
from interest_graph.graph.refresh import RefreshRepository

from ..neo4j_server import TX_MEMORY
from .test_vector_index import seed

pytestmark = pytest.mark.integration

#: Users and items each: on Neo4j ~120 MB of transaction state in one query; FalkorDB has no
#: such bound, so it is checked at a size that still spans several activation batches.
SIZE = {"neo4j": 12_000, "falkordb": 5_000}
DIM = 64
BATCH = 1_000


def user_row(n: int, vector: list[float], version: str) -> dict[str, object]:
    return {"id": f"u{n}", "embedding": vector, "x": float(n), "y": 0.0,
            "segment": f"{version}-0", "segment_label": "S", "recency_days": 1.0,
            "frequency": 1, "monetary": 1.0, "rfm_score": 1, "tier": f"tier-{version}",
            "expected_purchases": 0.1, "expected_value": 1.0, "p_alive": 0.5,
            "churn_risk": 0.5, "seen": None}


def test_a_large_activation_fits_a_bounded_transaction(store: GraphStore, backend: str,
                                                       request: pytest.FixtureRequest) -> None:
    if backend == "neo4j":  # the bound this test relies on is in force
        conn = request.getfixturevalue("neo4j_connection")
        with neo4j.GraphDatabase.driver(conn.uri, auth=(conn.user, conn.password)) as driver:
            records, _, _ = driver.execute_query(
                "SHOW SETTINGS YIELD name, value WHERE name = 'db.memory.transaction.max' "
                "RETURN value")
        assert records[0]["value"] not in ("0B", "0"), \
            f"the session's Neo4j should bound each transaction at {TX_MEMORY}"
    size = SIZE[backend]
    seed(store, size, BATCH)
    repo = RefreshRepository(store)
    vectors = np.random.default_rng(7).standard_normal((2 * size, DIM)).astype(np.float32)
    version = "v1"
    repo.begin(version, "full", now=2.0)
    repo.write_segments(version, [{"id": f"{version}-0", "index": 0, "label": "S", "size": size,
                                   "top_categories": ["C"], "tiers": ["low"],
                                   "tier_counts": [size], "avg_expected_value": 1.0,
                                   "avg_churn_risk": 0.5, "centroid": [0.0, 0.0]}],
                        silhouette=0.5, now=2.0)
    repo.write_segment_members(version, [{"user": f"u{n}", "segment": f"{version}-0",
                                          "distance": 0.1} for n in range(size)], now=2.0)
    repo.activate(version, version, "model.pt",
                  [user_row(n, vectors[n].tolist(), version) for n in range(size)],
                  [{"id": f"i{n}", "embedding": vectors[size + n].tolist()} for n in range(size)],
                  now=3.0)
    assert repo.state().version == version
    counts = store.read("stats/refresh_summary")[0]
    assert counts["version"] == version
    tiers = [r["tier"] for r in store.read("api/list_segment_members", segment=f"{version}-0",
                                           after="", limit=size + 1)]
    assert len(tiers) == size and set(tiers) == {f"tier-{version}"}
    user = store.read("api/get_user", user=f"u{size - 1}")[0]
    assert (user["segment"], user["segment_label"], user["tier"]) == (f"{version}-0", "S",
                                                                      f"tier-{version}")
