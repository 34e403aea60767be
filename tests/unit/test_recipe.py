"""The recipe: one definition of edge weights for ingestion, the refresh and the evaluation."""

from __future__ import annotations

import math
import random
import re

import numpy as np
import pytest

from interest_graph.ingest.ingestor import PreparedEvent, aggregate_batch
from interest_graph.recipe import CONSUMED_TYPES, EdgeRecipe, graph_clock, user_text
from interest_graph.settings import REPO_ROOT

from .conftest import DAY, Ev


def test_event_weight_quantity_rating_and_unknown_type() -> None:
    recipe = EdgeRecipe()
    assert recipe.event_weight("view") == 1.0
    assert recipe.event_weight("purchase", quantity=3) == pytest.approx(5.0 * 2.0)
    assert recipe.event_weight("return", quantity=3) == -recipe.event_weight("purchase", quantity=3)
    assert recipe.event_weight("rating", rating=2.5) == pytest.approx(2.5)
    assert recipe.event_weight("review", rating=4.0) == pytest.approx(4.0 * 4 / 5)
    with pytest.raises(ValueError, match="purchase"):
        recipe.event_weight("teleport")
    with pytest.raises(ValueError, match="half_life"):
        EdgeRecipe(half_life_s=0.0)


def test_aggregate_folds_decays_and_flags_consumption() -> None:
    recipe = EdgeRecipe(half_life_s=30 * DAY)
    now = 100 * DAY
    events = [
        Ev("u1", "a", "purchase", now, quantity=3),
        Ev("u1", "a", "return", now, quantity=3),  # fully returned: no edge, still consumed
        Ev("u1", "b", "view", now - 30 * DAY),  # one half-life old
        Ev("u1", "b", "cart", now),
        Ev("u2", "b", "rating", now - 60 * DAY, rating=4.0),
        Ev("u2", None, "search", now, text="green tea"),
        Ev("u3", None, "search", now, text="old"),
        Ev("u3", None, "search", now + 1, text="new"),
    ]
    data = recipe.aggregate(events, item_ids=["c"])
    assert data.user_ids == ("u1", "u2", "u3") and data.item_ids == ("a", "b", "c")
    e = data.edges
    assert list(zip(e.user.tolist(), e.item.tolist())) == [(0, 0), (0, 1), (1, 1)]
    assert e.weight.tolist() == pytest.approx([0.0, 0.5 + 3.0, 4.0])
    assert e.consumed.tolist() == [True, False, True]
    assert e.first_ts.tolist() == [now, now - 30 * DAY, now - 60 * DAY]
    assert e.last_ts.tolist() == [now, now, now - 60 * DAY]
    assert data.user_text == {"u2": "green tea", "u3": "new old"}
    # Decayed to the graph's clock (its latest event): the rating is two half-lives old.
    as_of = graph_clock(e.last_ts)
    assert as_of == now and graph_clock(e.last_ts, now=now - DAY) == now - DAY
    assert recipe.decay(e.weight, e.last_ts, as_of).tolist() == pytest.approx([0.0, 3.5, 1.0])


def test_offline_aggregate_is_ingestions_fold_to_the_bit() -> None:
    recipe = EdgeRecipe(half_life_s=7 * DAY)
    rng = random.Random(3)
    kinds = ["view", "cart", "purchase", "return", "wishlist", "rating"]
    events = [Ev(f"u{rng.randrange(5)}", f"i{rng.randrange(8)}", k, rng.uniform(0, 90 * DAY),
                 quantity=float(rng.randint(1, 12)), rating=float(rng.randint(1, 5)))
              for k in (rng.choice(kinds) for _ in range(400))]
    data = recipe.aggregate(events)
    prepared = [PreparedEvent(str(n), e.user_id, e.item_id, e.type, e.ts, e.quantity, None,
                              e.rating, None) for n, e in enumerate(events)]
    stored = {(u["id"], p["item"]): p for u in aggregate_batch(prepared, recipe) for p in u["pairs"]}
    assert len(stored) == len(data.edges)
    for k in range(len(data.edges)):
        pair = stored[(data.user_ids[data.edges.user[k]], data.item_ids[data.edges.item[k]])]
        assert pair["weight"] == data.edges.weight[k]  # same floats, not just close
        assert (pair["first_ts"], pair["last_ts"]) == (data.edges.first_ts[k], data.edges.last_ts[k])
        purchases_returns_reviews_ratings = sum(pair["counts"][5:9])
        assert data.edges.consumed[k] == (purchases_returns_reviews_ratings > 0)


def test_weight_does_not_depend_on_event_order() -> None:
    recipe = EdgeRecipe(half_life_s=30 * DAY)
    rng = random.Random(7)
    events = [Ev("u", "i", rng.choice(["view", "cart", "purchase"]), rng.uniform(0, 90 * DAY))
              for _ in range(50)]
    first = recipe.aggregate(events).edges.weight[0]
    rng.shuffle(events)
    second = recipe.aggregate(events).edges.weight[0]
    last = max(e.ts for e in events)
    expected = sum(recipe.weights[e.type] * 2 ** (-(last - e.ts) / (30 * DAY)) for e in events)
    assert math.isclose(first, second, rel_tol=1e-12) and math.isclose(first, expected, rel_tol=1e-12)


def test_decay_never_boosts_pairs_newer_than_the_clock() -> None:
    recipe = EdgeRecipe(half_life_s=10.0)
    out = recipe.decay(np.array([4.0, 4.0]), np.array([0.0, 50.0]), 10.0)
    assert out.tolist() == [2.0, 4.0]
    assert graph_clock(np.zeros(0)) == 0.0


def test_user_text_is_newest_first_and_bounded() -> None:
    assert user_text([(1.0, "a"), (3.0, "c"), (2.0, "b")]) == "c b a"
    assert len(user_text([(float(k), "x" * 100) for k in range(50)])) == 1000


def test_the_queries_flag_exactly_the_consumed_behaviours() -> None:
    # The store computes "consumed" in Cypher; it must name the recipe's behaviours, no others.
    cypher = REPO_ROOT / "cypher"
    for path, pattern in (("refresh/read_user_page", r"collect\(([^)]*)\) AS consumed"),
                          ("refresh/read_users", r"collect\(([^)]*)\) AS consumed"),
                          ("stats/consumed_recommended", r"AND (x\.n_[^>]*) > 0")):
        (expr,) = re.findall(pattern, (cypher / f"{path}.cypher").read_text())
        assert set(re.findall(r"\b[rx]\.n_(\w+)", expr)) == CONSUMED_TYPES, path
