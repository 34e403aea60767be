from __future__ import annotations

import math
import random

import pytest

from interest_graph.ingest.ingestor import PreparedEvent, aggregate_batch
from interest_graph.recipe import EdgeRecipe
from interest_graph.settings import DEFAULT_WEIGHTS

DAY = 86400.0


def ev(hid: str, user: str, item: str | None, kind: str, ts: float, *, quantity: float = 1.0,
       price: float | None = None, rating: float | None = None,
       text: str | None = None) -> PreparedEvent:
    return PreparedEvent(hid, user, item, kind, ts, quantity, price, rating, text)


def test_one_pair_counts_revenue_and_decayed_weight() -> None:
    events = [
        ev("1", "u", "i", "view", 0.0),
        ev("2", "u", "i", "purchase", 10 * DAY, quantity=2, price=3.0),
        ev("3", "u", "i", "return", 10 * DAY, quantity=1, price=3.0),
    ]
    users = aggregate_batch(events, EdgeRecipe(DEFAULT_WEIGHTS, 10 * DAY))
    pairs = users[0]["pairs"]
    assert len(users) == 1 and users[0]["events"] == 3
    assert users[0]["days"] == [10] and users[0]["revenue"] == pytest.approx(3.0)
    (pair,) = pairs
    assert pair["counts"] == [1, 0, 0, 0, 0, 1, 1, 0, 0]  # view, …, purchase, return, …
    assert "rating" not in pair and "review" not in pair
    assert pair["quantity"] == 1.0 and pair["revenue"] == pytest.approx(3.0)
    # view (1) decayed by one half-life, plus purchase (5 · log2(1 + 2)), plus return (-5 · log2(2))
    assert pair["weight"] == pytest.approx(0.5 + 5 * math.log2(3) - 5)
    assert (pair["first_ts"], pair["last_ts"]) == (0.0, 10 * DAY)


def test_weight_does_not_depend_on_event_order() -> None:
    rng = random.Random(7)
    events = [ev(str(k), "u", "i", rng.choice(["view", "cart", "purchase"]), rng.uniform(0, 90 * DAY))
              for k in range(50)]
    first = aggregate_batch(events, EdgeRecipe(DEFAULT_WEIGHTS, 30 * DAY))[0]["pairs"][0]["weight"]
    rng.shuffle(events)
    second = aggregate_batch(events, EdgeRecipe(DEFAULT_WEIGHTS, 30 * DAY))[0]["pairs"][0]["weight"]
    last = max(e.ts for e in events)
    expected = sum(DEFAULT_WEIGHTS[e.type] * 2 ** (-(last - e.ts) / (30 * DAY)) for e in events)
    assert math.isclose(first, second, rel_tol=1e-12) and math.isclose(first, expected, rel_tol=1e-12)


def test_ratings_scale_weight_and_latest_rating_wins() -> None:
    events = [ev("1", "u", "m", "rating", 5.0, rating=2.0), ev("2", "u", "m", "rating", 1.0, rating=5.0)]
    (pair,) = aggregate_batch(events, EdgeRecipe(DEFAULT_WEIGHTS, 1e12))[0]["pairs"]
    assert pair["rating"] == 2.0 and pair["rating_ts"] == 5.0
    assert pair["weight"] == pytest.approx(5.0 * 2 / 5 + 5.0 * 5 / 5)


def test_search_text_goes_to_the_user_and_itemless_events_make_no_pair() -> None:
    events = [ev("1", "u", None, "search", 1.0, text="old query"),
              ev("2", "u", None, "search", 2.0, text="new query"),
              ev("3", "v", "i", "review", 3.0, rating=4.0, text="lovely")]
    users = aggregate_batch(events, EdgeRecipe(DEFAULT_WEIGHTS, 1e9))
    by_id = {u["id"]: u for u in users}
    pairs = [p for u in users for p in u["pairs"]]
    assert by_id["u"]["pairs"] == [] and "user" not in pairs[0]
    assert by_id["u"]["text"] == "new query old query"
    assert by_id["v"]["text"] == "lovely"
    assert len(pairs) == 1 and pairs[0]["review"] == "lovely"
