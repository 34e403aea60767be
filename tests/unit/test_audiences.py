"""Audiences without a store: rule validation and set algebra, arm assignment, statistics, export."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from typing import Any

import numpy as np
import pytest
from scipy import stats

from interest_graph.audiences.arms import ArmAssigner, parse_arms
from interest_graph.audiences.export import export_lines, shop_id_mapping
from interest_graph.audiences.outcomes import MemberOutcome, proportion_difference, rate, summarise
from interest_graph.audiences.rules import VALUE_TIERS, Leaf, RuleError, evaluate, parse_rule
from interest_graph.audiences.service import parse_definition
from interest_graph.graph.audiences import ExportRow
from interest_graph.privacy import Pseudonymiser
from interest_workers.pipelines.value.value import RFM_TIERS

TIER = {"field": "value_tier", "op": "in", "value": ["champions", "loyal"]}
HOLDER = {"field": "category_interest", "category": "HOLDER", "op": "rank_lte", "value": 3}


def test_value_tiers_match_the_value_stage() -> None:
    assert VALUE_TIERS == RFM_TIERS


def test_a_rule_compiles_to_whitelisted_leaf_queries_with_bound_values() -> None:
    doc = {"all": [TIER, HOLDER, {"not": {"field": "expected_value", "op": "between",
                                          "value": [10, 20.5]}}]}
    rule = parse_rule(doc)
    assert rule.document() == {"all": [TIER, HOLDER, {"not": {
        "field": "expected_value", "op": "between", "value": [10.0, 20.5]}}]}
    tier, holder, value = rule.parts[0], rule.parts[1], rule.parts[2].part  # type: ignore[union-attr]
    assert (tier.query, tier.params) == ("audiences/select_by_text",
                                         {"property": "value_tier", "values": ["champions", "loyal"]})
    assert holder.query == "audiences/select_by_category_interest"
    assert holder.params == {"category": "HOLDER", "min_score": None, "max_rank": 3}
    assert value.params == {"property": "expected_value", "lo": 10.0, "lo_open": False,
                            "hi": 20.5, "hi_open": False}
    assert value.path == "rule.all[2].not"
    via_items = parse_rule({"field": "recommended_category", "category": "HOLDER",
                            "op": "score_gte", "value": 0.2})
    assert isinstance(via_items, Leaf)
    assert via_items.query == "audiences/select_by_recommended_category"
    assert via_items.params == {"category": "HOLDER", "min_score": 0.2, "max_rank": None}
    gt = parse_rule({"field": "churn_risk", "op": "gt", "value": 0.5})
    assert isinstance(gt, Leaf) and gt.params["lo_open"] is True and gt.params["hi"] is None


@pytest.mark.parametrize("doc,field", [
    ({"field": "email", "op": "eq", "value": "x"}, "rule.field"),
    ({"all": [TIER, {"field": "churn_risk", "op": "like", "value": 1}]}, "rule.all[1].op"),
    ({"field": "expected_value", "op": "gte", "value": "0) OR (1=1"}, "rule.value"),
    ({"field": "expected_value", "op": "gte", "value": True}, "rule.value"),
    ({"field": "expected_value", "op": "gte", "value": float("nan")}, "rule.value"),
    ({"field": "value_tier", "op": "eq", "value": "champions' OR u.id <> '"}, "rule.value"),
    ({"field": "value_tier", "op": "in", "value": ["loyal", "MATCH (n) DETACH DELETE n"]},
     "rule.value[1]"),
    ({"field": "value_tier", "op": "in", "value": []}, "rule.value"),
    ({"field": "recency_days", "op": "between", "value": [30, 10]}, "rule.value"),
    ({"field": "recency_days", "op": "between", "value": 10}, "rule.value"),
    ({"field": "category_interest", "category": "HOLDER", "op": "gte", "value": 1}, "rule.op"),
    ({"field": "category_interest", "op": "rank_lte", "value": 1}, "rule.category"),
    ({"field": "item_interest", "item": "x", "op": "rank_lte", "value": 2.5}, "rule.value"),
    ({"field": "churn_risk", "op": "lt", "value": 1, "property": "x"}, "rule.property"),
    ({"field": "segment_label", "op": "eq", "value": "a\nb"}, "rule.value"),
    ({"any": []}, "rule.any"),
    ({"any": [TIER], "all": [TIER]}, "rule"),
    ({"or": [TIER]}, "rule.or"),
    ({"not": [TIER]}, "rule.not"),
    ("champions", "rule"),
    ({"not": {"not": {"not": {"not": {"not": {"not": TIER}}}}}}, "rule.not.not.not.not.not.not"),
    ({"any": [TIER] * 33}, "rule.any[32]"),
])
def test_bad_rules_name_the_place(doc: Any, field: str) -> None:
    with pytest.raises(RuleError) as info:
        parse_rule(doc)
    assert info.value.field == field


def test_set_algebra_with_not_over_everyone() -> None:
    everyone = frozenset("abcdef")
    matches = {"value_tier": frozenset("abc"), "category": frozenset("bcd"),
               "churn_risk": frozenset("ce")}
    calls: list[str] = []

    def match(leaf: Leaf) -> frozenset[str]:
        key = "category" if leaf.subject else leaf.field
        calls.append(key)
        return matches[key]

    rule = parse_rule({"any": [{"all": [TIER, HOLDER]},
                               {"not": {"field": "churn_risk", "op": "lt", "value": 0.5}},
                               TIER]})
    assert evaluate(rule, match, lambda: everyone) == frozenset("abcdf")
    assert sorted(calls) == ["category", "churn_risk", "value_tier"], "one query per distinct leaf"


def test_definition_defaults_and_target_from_the_rule() -> None:
    d = parse_definition({"name": "Holder fans", "rule": {"all": [TIER, HOLDER, {"not": {
        "field": "item_interest", "item": "85123A", "op": "rank_lte", "value": 1}}, {
        "field": "recommended_category", "category": "MUG", "op": "rank_lte", "value": 5}]}})
    assert [a.name for a in d.arms] == ["treatment", "control"] and d.arms[1].weight == 10
    assert d.target.categories == ("HOLDER", "MUG") and d.target.items == (), "negated: excluded"
    with pytest.raises(RuleError) as info:
        parse_definition({"name": "x", "rule": TIER, "arms": [{"name": "a", "weight": 0}]})
    assert info.value.field == "arms[0].weight"
    with pytest.raises(RuleError) as info:
        parse_definition({"name": "x", "rule": TIER, "colour": "red"})
    assert info.value.field == "colour"


def test_arms_are_deterministic_weighted_and_keyed() -> None:
    arms = parse_arms([{"name": "treatment", "weight": 90}, {"name": "control", "weight": 10}])
    users = [f"u{n:05d}" for n in range(20000)]
    first = ArmAssigner("secret").assign("spring", users, arms)
    assert ArmAssigner("secret").assign("spring", users, arms) == first
    assert ArmAssigner("secret").assign("spring", users[::-1], arms) == first[::-1]
    share = Counter(first)["control"] / len(users)
    assert 0.09 < share < 0.11
    other = ArmAssigner("secret").assign("autumn", users, arms)
    moved = sum(a != b for a, b in zip(first, other)) / len(users)
    assert 0.15 < moved < 0.21, "a new key reshuffles independently (2·0.9·0.1 = 18% differ)"
    assert ArmAssigner("other").assign("spring", users, arms) != first
    abn = parse_arms([{"name": "a", "weight": 1}, {"name": "b", "weight": 1},
                      {"name": "c", "weight": 2, "scorer": "popular"}])
    counts = Counter(ArmAssigner("secret").assign("x", users, abn))
    assert abs(counts["c"] / len(users) - 0.5) < 0.02 and abs(counts["a"] - counts["b"]) < 600


def test_rates_and_tests_agree_with_textbook_values() -> None:
    r = rate(30, 400)
    assert r.rate == pytest.approx(0.075)
    assert (r.low, r.high) == pytest.approx((0.0530, 0.1050), abs=1e-4)  # Wilson
    d = proportion_difference(60, 400, 4, 50)
    assert d.diff == pytest.approx(0.07)
    # The pooled two-proportion z-test equals the uncorrected chi-square test on the 2×2 table.
    expected = stats.chi2_contingency([[60, 340], [4, 46]], correction=False).pvalue
    assert d.p_value == pytest.approx(expected)
    assert d.low is not None and d.high is not None and d.low < 0.07 < d.high
    none = proportion_difference(0, 400, 0, 40)
    assert none.diff == 0.0 and none.p_value is None


def test_summarise_per_arm_and_against_control() -> None:
    rng = np.random.default_rng(0)
    members = [MemberOutcome(f"t{n}", "treatment", n % 4 == 0, n % 8 == 0, float(rng.exponential(20)),
                             10, int(n % 5 == 0)) for n in range(400)]
    members += [MemberOutcome(f"c{n}", "control", n % 5 == 0, False, 0.0 if n % 2 else 15.0, 0, 0)
                for n in range(50)]
    arms, comparisons = summarise(["treatment", "control"], members, targeted=True)
    treatment, control = arms
    assert (treatment.members, treatment.conversion.count) == (400, 100)
    assert control.conversion.count == 10 and control.target_conversion is not None
    assert control.target_conversion.count == 0 and control.hit_rate is None
    assert treatment.hit_rate is not None and treatment.hit_rate.count == 80
    assert treatment.hit_rate.n == 4000 and treatment.members_with_hit is not None
    revenue = treatment.revenue_per_member
    assert revenue.low is not None and revenue.high is not None
    assert revenue.low < revenue.mean < revenue.high  # type: ignore[operator]
    (c,) = comparisons
    assert (c.arm, c.reference) == ("treatment", "control")
    assert c.conversion.diff == pytest.approx(0.25 - 0.2)
    treated, held = ([m.revenue for m in members if m.arm == a] for a in ("treatment", "control"))
    welch = stats.ttest_ind(treated, held, equal_var=False).confidence_interval()
    assert (c.revenue_per_member.low, c.revenue_per_member.high) == pytest.approx(
        (welch.low, welch.high))
    # The permutation p-value: exact under the null, reproducible, near the t-test's on such data.
    assert c.revenue_per_member.p_value == summarise(["treatment", "control"], members, True)[1][
        0].revenue_per_member.p_value
    assert c.revenue_per_member.p_value == pytest.approx(
        stats.ttest_ind(treated, held, equal_var=False).pvalue, abs=0.03)
    assert c.hit_rate is None, "control served nothing"


def test_export_formats_and_the_shop_id_mapping() -> None:
    p = Pseudonymiser("s")
    rows = [ExportRow(p.user("17850"), "treatment", (("85123A", 'similar to "LANTERN", x'),
                                                     ("22423", "popular in HOLDER"))),
            ExportRow(p.user("99999"), "control", ())]
    mapping = shop_id_mapping(["17850\n", "\n", "12345"], p)
    assert mapping == {p.user("17850"): "17850", p.user("12345"): "12345"}
    text = "".join(export_lines(rows, "csv", mapping))
    parsed = list(csv.DictReader(io.StringIO(text)))
    assert list(parsed[0]) == ["user", "arm", "shop_id", "items", "reasons"]
    assert parsed[0]["shop_id"] == "17850" and parsed[1]["shop_id"] == ""
    assert parsed[0]["reasons"] == 'similar to "LANTERN", x | popular in HOLDER'
    lines = [json.loads(line) for line in export_lines(rows, "jsonl")]
    assert "shop_id" not in lines[0] and lines[0]["interests"][1] == {
        "item": "22423", "reason": "popular in HOLDER"}
    with pytest.raises(ValueError, match="csv, jsonl"):
        list(export_lines(rows, "xml"))


def test_jsonl_export_keeps_one_member_per_line_whatever_the_ids_hold() -> None:
    """Item ids and reasons may hold Unicode line breaks (U+2028, U+2029, NEL): escaped, so
    readers that split lines on them (Python's ``splitlines``, JavaScript) see one row each."""
    odd = "mug\u2028set\u2029x\x85y"
    rows = [ExportRow("u1", "treatment", ((odd, f"similar to {odd}"),)),
            ExportRow("u2", "control", ())]
    text = "".join(export_lines(rows, "jsonl"))
    lines = text.splitlines()
    assert len(lines) == 2
    assert json.loads(lines[0])["interests"] == [{"item": odd, "reason": f"similar to {odd}"}]
    assert "é" in "".join(export_lines([ExportRow("u3", "a", (("café", "r"),))], "jsonl"))
