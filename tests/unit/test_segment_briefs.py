"""Segment briefs (labels, value and behaviour profiles) and the quality measures."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from interest_graph.ingest.product_types import join_names, plain_name, product_type
from interest_workers.pipelines.segments.segment_briefs import (
    Distinctive,
    Members,
    describe_segments,
    distinctive_categories,
    members_from,
    segment_labels,
)
from interest_workers.pipelines.segments.segment_quality import ari_on_common, predictive_lift

NAMES = ("BAG", "CANDLE", "HOLDER", "SIGN")
#: Six users: 0-2 candle and holder people who also buy bags, 3-5 bag and sign people; user 2
#: alone buys a sign.
PRESENCE = sp.csr_matrix(np.array([
    [1, 1, 1, 0], [1, 1, 1, 0], [1, 1, 0, 1],
    [1, 0, 0, 1], [1, 0, 0, 1], [1, 0, 0, 0],
], dtype=float))
LABELS = np.array([0, 0, 0, 1, 1, 1])


def test_distinctive_categories_rank_by_share_times_log_lift() -> None:
    found = distinctive_categories(LABELS, PRESENCE, NAMES)
    assert [c.name for c in found[0]] == ["CANDLE", "HOLDER"]  # BAG: everybody (lift 1)
    assert found[0][0].share == 1.0 and found[0][0].lift == pytest.approx(2.0)
    assert [c.name for c in found[1]] == ["SIGN"]
    by_lift = distinctive_categories(LABELS, PRESENCE, NAMES, by="lift", min_share=0.5)
    assert [c.name for c in by_lift[0]] == ["CANDLE", "HOLDER"]
    with pytest.raises(ValueError, match="by must be"):
        distinctive_categories(LABELS, PRESENCE, NAMES, by="size")


def test_a_segment_with_nothing_distinctive_falls_back_to_what_it_shares() -> None:
    found = distinctive_categories(np.zeros(6, np.int64), PRESENCE, NAMES)
    assert found[0][0].name == "BAG"
    assert segment_labels([[]]) == ["Mixed interests"]


def test_labels_are_plain_plural_words_and_unique() -> None:
    found = distinctive_categories(LABELS, PRESENCE, NAMES)
    assert segment_labels(found) == ["Candles & Holders", "Signs"]
    three = [Distinctive("CANDLE", 1.0, 2.0), Distinctive("HOLDER", 0.6, 2.0),
             Distinctive("LANTERN", 0.4, 3.0)]
    # A label another segment already has takes one more category.
    assert segment_labels([three, three]) == ["Candles & Holders", "Candles, Holders & Lanterns"]


@pytest.mark.parametrize(("category", "label"), [
    ("HOLDER", "Holders"), ("BOX", "Boxes"), ("DOILY", "Doilies"), ("T-LIGHT", "T-lights"),
    ("CUTLERY", "Cutlery"), ("GLASS", "Glasses"), ("Comedy", "Comedy"), ("Sci-Fi", "Sci-Fi"),
])
def test_plain_names_fold_back_onto_their_product_type(category: str, label: str) -> None:
    assert plain_name(category) == label
    if category.isupper():
        assert product_type(label.upper()) == category
    assert join_names(["A", "B", "C"]) == "A, B & C" and join_names(["A"]) == "A"


def members(**over: object) -> Members:
    base = dict(
        tiers=["loyal", "loyal", "at risk", "champions", None, "hibernating"],
        expected_value=np.array([10.0, 20.0, 30.0, 40.0, np.nan, 0.0]),
        churn_risk=np.array([0.2, 0.2, 0.5, 0.1, np.nan, 0.7]),
        recency_days=np.array([10.0, 20.0, 30.0, 5.0, np.nan, 300.0]),
        frequency=np.array([4.0, 2.0, 1.0, 10.0, np.nan, 1.0]),
        monetary=np.array([400.0, 100.0, 50.0, 2000.0, np.nan, 10.0]),
        items=np.array([8.0, 4.0, 1.0, 30.0, 3.0, 1.0]),
        churn_basis="recency-based: test basis",
    )
    base.update(over)
    return Members(**base)  # type: ignore[arg-type]


def test_briefs_compare_value_and_behaviour_with_the_base() -> None:
    briefs = describe_segments(LABELS, PRESENCE, NAMES, members())
    first = briefs[0]
    assert first.label == "Candles & Holders" and first.size == 3 and first.share == 0.5
    assert first.tiers == {"loyal": 2, "at risk": 1}
    assert first.expected_value == pytest.approx(20.0)
    assert first.base_expected_value == pytest.approx(20.0)
    assert first.churn_risk == pytest.approx(0.3) and first.base_churn_risk == pytest.approx(0.34)
    assert first.behaviour.recency_days == 20.0 and first.behaviour.frequency == 2.0
    assert first.behaviour.order_value == 50.0 and first.behaviour.items_per_order == 2.0
    assert first.base_behaviour.recency_days == 20.0
    text = first.text
    assert "3 customers (50% of the base)" in text and "candles 2.0×" in text
    assert "loyal 67%" in text and "Churn risk 30% (base 34%; recency-based: test basis)" in text
    assert "Last purchase 20 days ago (base 20)" in text


def test_the_brief_says_members_buy_more_often_what_the_predictive_lift_checks() -> None:
    """Segment 0 (users 0-4): all five buy bags, which two of the other five buy too; user 0
    alone buys stamps, which nobody else does. The label leads with bags (what the segment
    shares); the sentence "they buy ... more often" leads with stamps (twice as often), and those
    are the categories the predictive lift checks."""
    presence = sp.csr_matrix(np.array(
        [[1, 1, 0], [1, 0, 0], [1, 0, 0], [1, 0, 0], [1, 0, 0],
         [1, 0, 1], [1, 0, 1], [0, 0, 1], [0, 0, 1], [0, 0, 1]], dtype=float))
    labels = np.array([0] * 5 + [1] * 5)
    names = ("BAG", "STAMP", "CARD")
    nan = np.full(10, np.nan)
    briefs = describe_segments(labels, presence, names, members(
        tiers=[None] * 10, expected_value=nan, churn_risk=nan, recency_days=nan, frequency=nan,
        monetary=nan, items=nan))
    assert briefs[0].label == "Bags & Stamps"
    assert [c.name for c in briefs[0].over_indexed] == ["STAMP", "BAG"]
    assert "They buy stamps 2.0× (20% of them), bags 1.4× (100% of them) as often" \
        in briefs[0].text
    lift = predictive_lift(labels, presence, names, {0: {"STAMP"}, 5: {"CARD"}})
    assert lift.categories == [[c.name for c in b.over_indexed] for b in briefs]
    # Everybody in one segment: nothing stands out, and the brief says so.
    flat = describe_segments(np.zeros(10, np.int64), presence, names, members(
        tiers=[None] * 10, expected_value=nan, churn_risk=nan, recency_days=nan, frequency=nan,
        monetary=nan, items=nan))[0]
    assert "as often" not in flat.text
    assert "No category stands out: they buy what everyone buys, most often bags (70%), " \
        "cards (50%), stamps (10%)." in flat.text


def test_briefs_without_purchases_say_nothing_about_value() -> None:
    nan = np.full(6, np.nan)
    empty = members(tiers=[None] * 6, expected_value=nan, churn_risk=nan, recency_days=nan,
                    frequency=nan, monetary=nan)
    brief = describe_segments(LABELS, PRESENCE, NAMES, empty)[1]
    assert brief.expected_value is None and brief.behaviour.frequency is None
    assert "Churn" not in brief.text and "Last purchase" not in brief.text
    built = members_from([{"tier": "new", "expected_value": 3.0}, {}], [1.0, 0.0], "b")
    assert built.tiers == ["new", None] and np.isnan(built.expected_value[1])


# -- quality measures -------------------------------------------------------------------------------

def test_ari_on_common_users_ignores_the_others() -> None:
    assert ari_on_common(["a", "b", "c", "d"], np.array([0, 0, 1, 1]),
                         ["d", "c", "b", "a", "new"], np.array([5, 5, 7, 7, 9])) == 1.0
    assert np.isnan(ari_on_common(["a"], np.array([0]), ["b"], np.array([0])))


def test_predictive_lift_is_the_members_buying_rate_over_everyones() -> None:
    # Test buyers: 0 and 1 buy candles, 3 buys a sign, 5 buys a bag.
    test = {0: {"CANDLE"}, 1: {"CANDLE"}, 3: {"SIGN"}, 5: {"BAG"}}
    lift = predictive_lift(LABELS, PRESENCE, NAMES, test)
    assert lift.categories[0] == ["CANDLE", "HOLDER"] and lift.categories[1][0] == "SIGN"
    # Segment 0: both its buyers bought candles (rate 1) vs 2 of 4 buyers overall: lift 2.
    # Segment 1: 1 of its 2 buyers bought a sign vs 1 of 4 overall: lift 2.
    assert lift.per_segment == [pytest.approx(2.0), pytest.approx(2.0)]
    assert lift.mean == pytest.approx(2.0)
    flat = predictive_lift(np.zeros(6, np.int64), PRESENCE, NAMES, test)
    assert flat.mean == pytest.approx(1.0)
