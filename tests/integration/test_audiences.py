"""Audiences end to end on each backend's refreshed graph (the session's ``refreshed_graph``):
rules compiled to the catalog's leaf queries against a brute-force evaluation of the same rule,
validation that writes nothing, streamed exports, experiment reports from events ingested after
the start, the API and the CLI. Every audience a test creates is deleted again. Arms across a
refresh: ``test_cohort_arms.py``.
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from interest_graph.audiences.arms import ArmAssigner, parse_arms
from interest_graph.audiences.service import AudienceService
from interest_graph.privacy import Pseudonymiser

from . import test_api
from .refreshed import CLI, READ, WRITE, RefreshedGraph
from .test_api import error_of

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# test_api's module fixtures, instantiated for this module: the session's refreshed graph of
# 12,000 Online Retail records on the backend under test, the app and a client.
graph, app, client = test_api.graph, test_api.app, test_api.client

NUMBER_KEYS = {"expected_value": "expected_value", "churn_risk": "churn_risk",
               "recency_days": "recency_days", "frequency": "frequency", "events": "events",
               "expected_purchases": "expected_purchases", "monetary": "monetary",
               "p_alive": "p_alive"}
TEXT_KEYS = {"value_tier": "tier", "segment": "segment", "segment_label": "segment_label"}


@pytest.fixture(scope="module")
def service(graph: RefreshedGraph) -> AudienceService:
    return AudienceService.open(graph.store, graph.settings)


# -- the brute-force oracle: the same rule over profiles read with the API's own queries ------------


@pytest.fixture(scope="module")
def profiles(graph: RefreshedGraph) -> dict[str, dict[str, Any]]:
    store = graph.store
    out = {}
    for row in store.read("stats/user_ids"):
        user = row["id"]
        profile = store.read("api/get_user", user=user)[0]
        cats = store.read("api/get_user_interests", user=user, k=1000)
        recs = store.read("api/get_recommendations", user=user, k=1000)
        out[user] = {**profile,
                     "categories": {c["category"]: c["score"] for c in cats if c["category"]},
                     "items": {r["item"]: (r["score"], r["rank"]) for r in recs}}
    items = sorted({i for p in out.values() for i in p["items"]})
    item_categories: dict[str, set[str]] = {}
    for r in store.read("api/get_item_categories", items=items, limit=10**7):
        item_categories.setdefault(r["item"], set()).add(r["category"])
    for p in out.values():
        p["item_categories"] = {i: item_categories.get(i, set()) for i in p["items"]}
    return out


def matches(rule: dict[str, Any], p: dict[str, Any]) -> bool:
    if "all" in rule:
        return all(matches(r, p) for r in rule["all"])
    if "any" in rule:
        return any(matches(r, p) for r in rule["any"])
    if "not" in rule:
        return not matches(rule["not"], p)
    field, op, value = rule["field"], rule["op"], rule["value"]
    if field == "recommended_category":
        return any(rule["category"] in p["item_categories"][item]
                   and (score >= value if op == "score_gte" else rank <= value)
                   for item, (score, rank) in p["items"].items())
    if field in ("category_interest", "item_interest"):
        pool = p["categories"] if field == "category_interest" else p["items"]
        found = pool.get(rule["category"] if field == "category_interest" else rule["item"])
        if found is None:
            return False
        if field == "category_interest":
            score, rank = found, 1 + sum(s > found for s in pool.values())
        else:
            score, rank = found
        return score >= value if op == "score_gte" else rank <= value
    if field in TEXT_KEYS:
        have = p[TEXT_KEYS[field]]
        return have in (value if op == "in" else [value])
    have = p[NUMBER_KEYS[field]]
    if have is None:
        return False
    if op == "between":
        return value[0] <= have <= value[1]
    return {"eq": have == value, "gt": have > value, "gte": have >= value, "lt": have < value,
            "lte": have <= value}[op]


def brute(rule: dict[str, Any], profiles: dict[str, dict[str, Any]]) -> set[str]:
    return {u for u, p in profiles.items() if matches(rule, p)}


def commonest_category(profiles: dict[str, dict[str, Any]]) -> str:
    """The category most users have as their strongest interest."""
    top = Counter(max(p["categories"], key=p["categories"].get)
                  for p in profiles.values() if p["categories"])
    return str(top.most_common(1)[0][0])


def cut(values: list[float], share: float = 0.5) -> float:
    """A threshold near the ``share`` quantile, halfway between two neighbouring distinct values.

    Never a value itself: FalkorDB returns floats rounded (nine in ten random doubles read back
    equal no stored value), so a threshold taken from a score read back may fall on either side
    of that score in the store.
    """
    distinct = sorted(set(values))
    i = min(max(1, round(share * len(distinct))), len(distinct) - 1)
    return (distinct[i - 1] + distinct[i]) / 2


def rules_for(profiles: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Rules over what this refresh produced (its commonest category, item and segment label)."""
    category = commonest_category(profiles)
    item = Counter(i for p in profiles.values() for i, (_, r) in p["items"].items()
                   if r <= 3).most_common(1)[0][0]
    label = Counter(p["segment_label"] for p in profiles.values()).most_common(1)[0][0]
    values = [p["expected_value"] for p in profiles.values() if p["expected_value"] is not None]
    spend = [p["monetary"] for p in profiles.values() if p["monetary"] is not None]
    scores = [p["categories"][category] for p in profiles.values() if category in p["categories"]]
    return {
        "tiers and category rank": {"all": [
            {"field": "value_tier", "op": "in", "value": ["champions", "loyal", "potential loyalists"]},
            {"field": "category_interest", "category": category, "op": "rank_lte", "value": 3}]},
        "value or not low spend": {"any": [
            {"field": "expected_value", "op": "gte", "value": cut(values, 0.75)},
            {"not": {"field": "monetary", "op": "lt", "value": cut(spend)}}]},
        "item interest outside a segment": {"all": [
            {"field": "item_interest", "item": item, "op": "rank_lte", "value": 10},
            {"not": {"field": "segment_label", "op": "eq", "value": label}}]},
        "category score, recency and events": {"all": [
            {"field": "category_interest", "category": category, "op": "score_gte",
             "value": cut(scores)},
            {"field": "recency_days", "op": "between", "value": [0, 20]},
            {"field": "events", "op": "gt", "value": 3}]},
        "recommended from the category, or a loyal tier": {"any": [
            {"field": "recommended_category", "category": category, "op": "rank_lte", "value": 2},
            {"all": [{"field": "value_tier", "op": "eq", "value": "loyal"},
                     {"field": "recommended_category", "category": category, "op": "score_gte",
                      "value": cut([s for p in profiles.values()
                                           for s, _ in p["items"].values()])}]}]},
        "neither hibernating nor one-off": {"not": {"any": [
            {"field": "value_tier", "op": "eq", "value": "hibernating"},
            {"field": "frequency", "op": "lte", "value": 1}]}},
    }


def test_compiled_rules_select_what_brute_force_selects(
        service: AudienceService, profiles: dict[str, dict[str, Any]]) -> None:
    for name, rule in rules_for(profiles).items():
        expected = brute(rule, profiles)
        assert 0 < len(expected) < len(profiles), f"{name}: pick a rule that selects some users"
        assert service.count(rule) == len(expected), name
        assert service.select(service.validate({"name": name, "rule": rule}).rule) == expected, name


# -- validation ---------------------------------------------------------------------------------


@pytest.mark.parametrize("body,field", [
    ({"name": "x", "rule": {"field": "email", "op": "eq", "value": "a"}}, "rule.field"),
    ({"name": "x", "rule": {"all": [{"field": "churn_risk", "op": "~", "value": 1}]}},
     "rule.all[0].op"),
    ({"name": "x", "rule": {"field": "value_tier", "op": "eq",
                            "value": "champions'}) MATCH (n) DETACH DELETE n //"}}, "rule.value"),
    ({"name": "x", "rule": {"field": "category_interest", "op": "rank_lte", "value": 3,
                            "category": "HOLDER\"}) DETACH DELETE c //"}}, "rule.category"),
    ({"name": "x", "rule": {"field": "expected_value", "op": "gte", "value": "1 OR 1=1"}},
     "rule.value"),
    ({"name": "x", "rule": {"field": "events", "op": "gte", "value": 1},
      "arms": [{"name": "Treatment!", "weight": 1}]}, "arms[0].name"),
    ({"name": "x", "rule": {"field": "events", "op": "gte", "value": 1},
      "target": {"items": ["no-such-item"]}}, "target.items[0]"),
    ({"rule": {"field": "events", "op": "gte", "value": 1}}, "name"),
])
def test_invalid_audiences_are_422_and_write_nothing(client: FlaskClient, graph: RefreshedGraph,
                                                     body: dict[str, Any], field: str) -> None:
    before = graph.store.read("stats/count_graph")[0]
    listed = client.get("/v1/audiences", headers=READ).json
    response = client.post("/v1/audiences", json=body, headers=WRITE)
    assert response.status_code == 422, response.json
    assert error_of(response)["field"] == field
    assert client.get("/v1/audiences", headers=READ).json == listed
    assert graph.store.read("stats/count_graph")[0] == before
    if "rule" in body and field.startswith("rule"):
        counted = client.get("/v1/audiences/count", headers=READ,
                             query_string={"rule": json.dumps(body["rule"])})
        assert counted.status_code == 400 and error_of(counted)["field"] == field
    bad_json = client.get("/v1/audiences/count?rule={", headers=READ)
    assert bad_json.status_code == 400 and error_of(bad_json)["field"] == "rule"


# -- the API: create, export, report, delete ------------------------------------------------------


def export_rows(client: FlaskClient, audience: str, fmt: str = "jsonl") -> list[dict[str, Any]]:
    response = client.get(f"/v1/audiences/{audience}/export?format={fmt}", headers=READ)
    assert response.status_code == 200 and response.is_streamed
    text = response.get_data(as_text=True)
    if fmt == "csv":
        return list(csv.DictReader(io.StringIO(text)))
    return [json.loads(line) for line in text.splitlines()]


def purchase(client: FlaskClient, tag: str, pairs: list[tuple[str, str]], price: float = 5.0) -> None:
    response = client.post("/v1/events", headers=WRITE, json={"events": [
        {"event_id": f"{tag}-{n}", "user_id": raw, "item_id": item, "type": "purchase",
         "timestamp": 1325000000 + n, "quantity": 2, "price": price}
        for n, (raw, item) in enumerate(pairs)]})
    assert response.status_code == 202 and response.json is not None
    assert response.json["accepted"] == len(pairs)


def test_create_export_report_and_delete(client: FlaskClient, graph: RefreshedGraph,
                                         profiles: dict[str, dict[str, Any]]) -> None:
    category = commonest_category(profiles)
    rule = rules_for(profiles)["value or not low spend"]
    rule = {"all": [rule, {"field": "category_interest", "category": category, "op": "rank_lte",
                           "value": 5}]}
    expected = brute(rule, profiles)
    assert len(expected) >= 10
    counted = client.get("/v1/audiences/count", headers=READ,
                         query_string={"rule": json.dumps(rule, indent=2)}).json
    assert counted == {"size": len(expected)}
    assert client.post("/v1/audiences", json={"name": "n", "rule": rule}, headers=READ
                       ).status_code == 403
    created = client.post("/v1/audiences", headers=WRITE, json={
        "name": "Valuable HOLDER fans", "rule": rule, "experiment_key": "holder-test",
        "arms": [{"name": "treatment", "weight": 70}, {"name": "control", "weight": 30}]})
    assert created.status_code == 201, created.json
    audience = created.json
    assert audience is not None and audience["size"] == len(expected)
    assert audience["target"] == {"categories": [category], "items": []}
    assert sum(a["members"] for a in audience["arms"]) == len(expected)
    assert client.get(f"/v1/audiences/{audience['id']}", headers=READ).json == audience
    assert audience["id"] in {a["id"] for a in client.get("/v1/audiences", headers=READ).json[
        "audiences"]}

    # Export: every member once, with the arm the keyed hash gives and the member's reasons.
    rows = export_rows(client, audience["id"])
    assert [r["user"] for r in rows] == sorted(expected)
    arms = parse_arms([{"name": "treatment", "weight": 70}, {"name": "control", "weight": 30}])
    recomputed = ArmAssigner("test-secret").assign("holder-test", [r["user"] for r in rows], arms)
    assert [r["arm"] for r in rows] == recomputed
    assert {a["name"]: a["members"] for a in audience["arms"]} == Counter(recomputed)
    assert all(len(r["interests"]) == min(3, len(profiles[r["user"]]["items"])) for r in rows)
    assert all(i["reason"] for r in rows for i in r["interests"])
    table = export_rows(client, audience["id"], "csv")
    assert [(r["user"], r["arm"]) for r in table] == [(r["user"], r["arm"]) for r in rows]
    assert table[0]["reasons"].split(" | ")[0] == rows[0]["interests"][0]["reason"]

    # Nothing happened yet: no conversions, no test possible.
    report = client.get(f"/v1/audiences/{audience['id']}/report", headers=READ).json
    assert report is not None and report["cohort"] == len(expected)
    assert [a["conversion"]["count"] for a in report["arms"]] == [0, 0]
    assert report["comparisons"][0]["conversion"]["p_value"] is None

    # Events ingested after the start: two treatment members buy (one in the targeted category),
    # one control member buys; a non-member's purchase changes nothing.
    p = Pseudonymiser("test-secret")
    raw_of = {p.user(raw): raw for raw in graph.raw_users}
    treated = [r["user"] for r in rows if r["arm"] == "treatment"][:2]
    control = [r["user"] for r in rows if r["arm"] == "control"][:1]
    outsider = next(u for u in raw_of if u not in expected)
    holder = graph.store.read("audiences/read_category_items", categories=[category])[0]["item"]
    other = next(i["item"] for i in graph.store.read("api/popular_items", user="", k=50)
                 if i["item"] != holder)
    purchase(client, "aud-report", [(raw_of[treated[0]], holder), (raw_of[treated[1]], other),
                                     (raw_of[control[0]], other), (raw_of[outsider], holder)])
    report = client.get(f"/v1/audiences/{audience['id']}/report", headers=READ).json
    assert report is not None
    by_arm = {a["arm"]: a for a in report["arms"]}
    assert by_arm["treatment"]["conversion"]["count"] == 2
    assert by_arm["control"]["conversion"]["count"] == 1
    assert by_arm["treatment"]["target_conversion"]["count"] == 1
    assert by_arm["control"]["target_conversion"]["count"] == 0
    n_t, n_c = by_arm["treatment"]["members"], by_arm["control"]["members"]
    assert by_arm["treatment"]["revenue_per_member"]["mean"] == pytest.approx(20.0 / n_t)
    assert by_arm["control"]["revenue_per_member"]["mean"] == pytest.approx(10.0 / n_c)
    comparison = report["comparisons"][0]
    assert (comparison["arm"], comparison["reference"]) == ("treatment", "control")
    assert comparison["conversion"]["diff"] == pytest.approx(2 / n_t - 1 / n_c)
    assert 0.0 < comparison["conversion"]["p_value"] <= 1.0

    assert client.delete(f"/v1/audiences/{audience['id']}", headers=READ).status_code == 403
    deleted = client.delete(f"/v1/audiences/{audience['id']}", headers=WRITE).json
    assert deleted == {"id": audience["id"], "deleted": True, "memberships": len(expected)}
    for path in ("", "/export", "/report"):
        assert client.get(f"/v1/audiences/{audience['id']}{path}", headers=READ).status_code == 404
    assert client.delete(f"/v1/audiences/{audience['id']}", headers=WRITE).status_code == 404


def test_recommendation_experiment_records_served_items_and_hits(
        client: FlaskClient, graph: RefreshedGraph) -> None:
    created = client.post("/v1/audiences", headers=WRITE, json={
        "name": "Model vs popular", "rule": {"field": "events", "op": "gte", "value": 2},
        "recommendations": 5, "arms": [{"name": "model", "weight": 1, "scorer": "model"},
                                       {"name": "popular", "weight": 1, "scorer": "popular"}]})
    assert created.status_code == 201, created.json
    audience = created.json
    assert audience is not None
    cohort = [r for page in AudienceService.open(graph.store, graph.settings).repo.cohort(
        audience["id"]) for r in page]
    assert len(cohort) == audience["size"] > 20
    p = Pseudonymiser("test-secret")
    raw_of = {p.user(raw): raw for raw in graph.raw_users}
    for row in cohort:
        # Baselines per served item: a model item may have been bought and returned before.
        assert 0 < len(row.served) <= 5 and len(row.served_base) == len(row.served)
        if row.arm == "popular":
            assert row.served_base == (0,) * len(row.served), "popular: items not bought yet"
        if row.arm == "model":
            recs = graph.store.read("api/get_recommendations", user=row.user, k=5)
            assert list(row.served) == [r["item"] for r in recs]
    popular = [r for r in cohort if r.arm == "popular"]
    model = [r for r in cohort if r.arm == "model"]
    assert popular and model
    ranking = graph.store.read("audiences/read_popular_items", limit=200)
    position = {r["item"]: n for n, r in enumerate(ranking)}
    for row in popular:  # the most bought items, in order, minus those the member bought
        places = [position[i] for i in row.served]
        assert places == sorted(places)
    # Three model members buy their first served item; one popular member buys two of theirs.
    purchase(client, "aud-hits", [(raw_of[r.user], r.served[0]) for r in model[:3]]
             + [(raw_of[popular[0].user], i) for i in popular[0].served[:2]])
    report = client.get(f"/v1/audiences/{audience['id']}/report", headers=READ).json
    assert report is not None
    by_arm = {a["arm"]: a for a in report["arms"]}
    assert by_arm["model"]["hit_rate"]["count"] == 3
    assert by_arm["model"]["hit_rate"]["n"] == sum(len(r.served) for r in model)
    assert by_arm["popular"]["hit_rate"]["count"] == 2
    assert by_arm["popular"]["members_with_hit"]["count"] == 1
    assert report["comparisons"][0]["hit_rate"] is not None
    assert client.delete(f"/v1/audiences/{audience['id']}", headers=WRITE).status_code == 200


def test_export_streams_in_pages(client: FlaskClient, service: AudienceService) -> None:
    audience = service.create({"name": "Everyone active", "rule": {
        "field": "events", "op": "gte", "value": 1}, "arms": [{"name": "all", "weight": 1}]})
    paged = list(service.export(audience.id, page_size=7))
    whole = list(service.export(audience.id, page_size=100000))
    assert len(paged) == audience.size > 7 and paged == whole
    assert [r.user for r in paged] == sorted(r.user for r in paged)
    response = client.get(f"/v1/audiences/{audience.id}/export", headers=READ)
    assert response.is_streamed and response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == f'attachment; filename="{audience.id}.csv"'
    chunks = list(response.response)  # the WSGI body: a generator of encoded chunks
    assert len(chunks) >= 2, "written in several chunks, not built whole"
    assert len(b"".join(chunks).decode().splitlines()) == audience.size + 1
    service.delete(audience.id)


# -- the CLI ------------------------------------------------------------------------------------


def run_cli(env: dict[str, str], *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([*CLI, "audience", *args], env=env, capture_output=True, text=True,
                          timeout=120)
    assert (done.returncode == 0) == ok, done.stderr
    return done


def test_cli_create_list_show_export_report_delete(graph: RefreshedGraph, tmp_path: Path) -> None:
    cli_env = graph.env  # the real command on the backend under test
    rule = json.dumps({"field": "events", "op": "gte", "value": 3})
    bad = run_cli(cli_env, "create", "Broken", "--rule", '{"field": "events", "op": "like", '
                  '"value": 3}', ok=False)
    assert "rule.op" in bad.stderr and "Traceback" not in bad.stderr
    created = json.loads(run_cli(cli_env, "create", "Busy shoppers", "--rule", rule, "--arms",
                                 "treatment=80,control=20", "--json").stdout)
    assert created["size"] == int(run_cli(cli_env, "count", "--rule", rule).stdout.replace(",", ""))
    listed = run_cli(cli_env, "list").stdout
    assert created["id"] in listed and "Busy shoppers" in listed and "Broken" not in listed
    assert "treatment" in run_cli(cli_env, "show", created["id"]).stdout

    ids = tmp_path / "ids.txt"
    ids.write_text("\n".join(graph.raw_users[:30]) + "\n")
    out = tmp_path / "busy.csv"
    run_cli(cli_env, "export", created["id"], "--ids", str(ids), "--output", str(out))
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert len(rows) == created["size"] and list(rows[0]) == ["user", "arm", "shop_id", "items",
                                                             "reasons"]
    p = Pseudonymiser("test-secret")
    mapped = [r for r in rows if r["shop_id"]]
    assert mapped and all(p.user(r["shop_id"]) == r["user"] for r in mapped)
    jsonl = run_cli(cli_env, "export", created["id"], "--format", "jsonl").stdout.splitlines()
    assert len(jsonl) == created["size"] and "shop_id" not in json.loads(jsonl[0])

    report = run_cli(cli_env, "report", created["id"]).stdout
    assert "conversion" in report and "treatment − control" in report
    assert "deleted" in run_cli(cli_env, "delete", created["id"], "--yes").stdout
    assert "unknown audience" in run_cli(cli_env, "show", created["id"], ok=False).stderr
