"""Audience rules: a small JSON document, validated against a whitelist and compiled to leaf queries.

A rule is a tree::

    rule := {"all": [rule, ...]}          AND
          | {"any": [rule, ...]}          OR
          | {"not": rule}                 NOT (everyone in the graph but the matches)
          | {"field": F, "op": OP, "value": V}                          a user field
          | {"field": "category_interest", "category": C, "op": OP, "value": N}
          | {"field": "recommended_category", "category": C, "op": OP, "value": N}
          | {"field": "item_interest", "item": I, "op": OP, "value": N}

Every leaf becomes one fixed catalog query (``cypher/audiences/select_*.cypher``) returning user ids,
with the leaf's values as bound parameters; the tree is combined in Python with set algebra
(:func:`evaluate`). Nothing from the document ever becomes query text: a field name selects a
query and a property from :data:`NUMBER_FIELDS` / :data:`TEXT_FIELDS`, and a value is a parameter.

Validation is strict: an unknown key, field or operator, a value of the wrong type, a string that is
not one of the known tiers — each is a :class:`RuleError` naming its place in the document
(``rule.all[1].op``). Names of categories, items and segments are checked against the graph by the
service (:meth:`Rule.references`) before anything is written.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any

#: The RFM tiers the value stage writes (``interest_workers.pipelines.value.value.RFM_TIERS``; a unit test
#: keeps the two equal, since the platform must not import the workers).
VALUE_TIERS: tuple[str, ...] = (
    "champions", "loyal", "potential loyalists", "new", "promising", "need attention",
    "about to sleep", "can't lose", "at risk", "hibernating",
)

#: Numeric user fields (what the value stage and ingestion write on ``User``) → node property.
NUMBER_FIELDS: Mapping[str, str] = {
    "expected_value": "expected_value",
    "expected_purchases": "expected_purchases",
    "churn_risk": "churn_risk",
    "p_alive": "p_alive",
    "recency_days": "recency_days",
    "frequency": "frequency",
    "monetary": "monetary",
    "events": "events",
}
#: Text user fields → node property. Values must name something that exists (see ``references``).
TEXT_FIELDS: Mapping[str, str] = {
    "value_tier": "value_tier",
    "segment": "segment",
    "segment_label": "segment_label",
}
#: Interest fields → what they name: the category interest itself (INTERESTED_IN_CATEGORY), a
#: recommended item of the category (INTERESTED_IN), or one item (INTERESTED_IN).
INTEREST_FIELDS: Mapping[str, str] = {"category_interest": "category",
                                      "recommended_category": "category", "item_interest": "item"}
NUMBER_OPS = ("eq", "gt", "gte", "lt", "lte", "between")
TEXT_OPS = ("eq", "in")
INTEREST_OPS = ("score_gte", "rank_lte")
FIELDS = (*NUMBER_FIELDS, *TEXT_FIELDS, *INTEREST_FIELDS)

MAX_DEPTH = 6
MAX_LEAVES = 32
MAX_LIST = 200
MAX_TEXT = 256


class RuleError(ValueError):
    """A rule document that cannot be used; ``field`` is the offending place (``rule.all[0].op``)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


# -- the parsed tree -------------------------------------------------------------------------


@dataclass(frozen=True)
class Leaf:
    """One condition. ``query`` and ``params`` are what the store runs for it."""

    field: str
    op: str
    value: Any
    subject: str | None  # the category or item of an interest leaf
    query: str
    params: Mapping[str, Any]
    path: str = dataclasses.field(default="rule", compare=False)  # its place in the document, for errors

    def document(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"field": self.field}
        if self.subject is not None:
            doc[INTEREST_FIELDS[self.field]] = self.subject
        doc.update(op=self.op, value=self.value)
        return doc


@dataclass(frozen=True)
class All:
    parts: tuple[Rule, ...]

    def document(self) -> dict[str, Any]:
        return {"all": [p.document() for p in self.parts]}


@dataclass(frozen=True)
class AnyOf:
    parts: tuple[Rule, ...]

    def document(self) -> dict[str, Any]:
        return {"any": [p.document() for p in self.parts]}


@dataclass(frozen=True)
class Not:
    part: Rule

    def document(self) -> dict[str, Any]:
        return {"not": self.part.document()}


Rule = Leaf | All | AnyOf | Not


def leaves(rule: Rule) -> Iterator[Leaf]:
    """Every leaf of the tree, depth first."""
    if isinstance(rule, Leaf):
        yield rule
    elif isinstance(rule, Not):
        yield from leaves(rule.part)
    else:
        for part in rule.parts:
            yield from leaves(part)


@dataclass(frozen=True)
class References:
    """Names a rule uses that must exist in the graph."""

    categories: frozenset[str]
    items: frozenset[str]
    segments: frozenset[str]
    segment_labels: frozenset[str]


def references(rule: Rule) -> References:
    cats: set[str] = set()
    items: set[str] = set()
    segs: set[str] = set()
    labels: set[str] = set()
    for leaf in leaves(rule):
        if leaf.field in INTEREST_FIELDS:
            (cats if INTEREST_FIELDS[leaf.field] == "category" else items).add(str(leaf.subject))
        elif leaf.field in ("segment", "segment_label"):
            (segs if leaf.field == "segment" else labels).update(leaf.params["values"])
    return References(frozenset(cats), frozenset(items), frozenset(segs), frozenset(labels))


# -- parsing ---------------------------------------------------------------------------------


def _number(value: Any, where: str) -> float:
    # bool is an int in Python; JSON true is not a number.
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise RuleError(where, "must be a finite number")
    return float(value)


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value or len(value) > MAX_TEXT:
        raise RuleError(where, f"must be a non-empty string of at most {MAX_TEXT} characters")
    if any(ord(c) < 32 for c in value):
        raise RuleError(where, "must not contain control characters")
    return value


def _keys(doc: Mapping[str, Any], allowed: tuple[str, ...], where: str) -> None:
    for key in doc:
        if key not in allowed:
            raise RuleError(f"{where}.{key}", f"unknown key; valid here: {', '.join(allowed)}")
    for key in allowed:
        if key not in doc:
            raise RuleError(f"{where}.{key}", "is required")


def _number_leaf(field: str, op: str, value: Any, where: str) -> Leaf:
    if op == "between":
        if not isinstance(value, list) or len(value) != 2:
            raise RuleError(f"{where}.value", "'between' takes a list of two numbers [low, high]")
        low, high = _number(value[0], f"{where}.value[0]"), _number(value[1], f"{where}.value[1]")
        if low > high:
            raise RuleError(f"{where}.value", "'between' needs low <= high")
        bounds: tuple[float | None, bool, float | None, bool] = (low, False, high, False)
        value = [low, high]
    else:
        x = _number(value, f"{where}.value")
        bounds = {"eq": (x, False, x, False), "gt": (x, True, None, False),
                  "gte": (x, False, None, False), "lt": (None, False, x, True),
                  "lte": (None, False, x, False)}[op]
        value = x
    lo, lo_open, hi, hi_open = bounds
    return Leaf(field, op, value, None, "audiences/select_by_number",
                {"property": NUMBER_FIELDS[field], "lo": lo, "lo_open": lo_open, "hi": hi,
                 "hi_open": hi_open})


def _text_leaf(field: str, op: str, value: Any, where: str) -> Leaf:
    if op == "eq":
        values = [_text(value, f"{where}.value")]
    else:
        if not isinstance(value, list) or not 1 <= len(value) <= MAX_LIST:
            raise RuleError(f"{where}.value", f"'in' takes a list of 1 to {MAX_LIST} strings")
        values = [_text(v, f"{where}.value[{n}]") for n, v in enumerate(value)]
    if field == "value_tier":
        for n, v in enumerate(values):
            if v not in VALUE_TIERS:
                place = f"{where}.value" if op == "eq" else f"{where}.value[{n}]"
                raise RuleError(place, f"unknown value tier {v!r}; valid: {', '.join(VALUE_TIERS)}")
    return Leaf(field, op, value if op == "in" else values[0], None, "audiences/select_by_text",
                {"property": TEXT_FIELDS[field], "values": sorted(set(values))})


def _interest_leaf(field: str, doc: Mapping[str, Any], where: str) -> Leaf:
    key = INTEREST_FIELDS[field]
    _keys(doc, ("field", key, "op", "value"), where)
    subject = _text(doc[key], f"{where}.{key}")
    op = doc["op"]
    if op not in INTEREST_OPS:
        raise RuleError(f"{where}.op", f"unknown operator {op!r} for {field}; valid: "
                                       f"{', '.join(INTEREST_OPS)}")
    if op == "score_gte":
        value: float | int = _number(doc["value"], f"{where}.value")
        params = {key: subject, "min_score": value, "max_rank": None}
    else:
        raw = doc["value"]
        if isinstance(raw, bool) or not isinstance(raw, int) or not 1 <= raw <= 1000:
            raise RuleError(f"{where}.value", "'rank_lte' takes an integer from 1 to 1000")
        value = raw
        params = {key: subject, "min_score": None, "max_rank": value}
    return Leaf(field, op, value, subject, f"audiences/select_by_{field}", params)


def _leaf(doc: Mapping[str, Any], where: str) -> Leaf:
    field = doc.get("field")
    if not isinstance(field, str) or field not in FIELDS:
        raise RuleError(f"{where}.field", f"unknown field {field!r}; valid: {', '.join(FIELDS)}")
    if field in INTEREST_FIELDS:
        return _interest_leaf(field, doc, where)
    _keys(doc, ("field", "op", "value"), where)
    op = doc["op"]
    ops = NUMBER_OPS if field in NUMBER_FIELDS else TEXT_OPS
    if op not in ops:
        raise RuleError(f"{where}.op", f"unknown operator {op!r} for {field}; valid: {', '.join(ops)}")
    if field in NUMBER_FIELDS:
        return _number_leaf(field, op, doc["value"], where)
    return _text_leaf(field, op, doc["value"], where)


def parse_rule(doc: Any, where: str = "rule") -> Rule:
    """Validate a rule document and build its tree.

    Raises:
        RuleError: the first problem found, naming its place in the document.
    """
    count = [0]

    def walk(node: Any, at: str, depth: int) -> Rule:
        if depth > MAX_DEPTH:
            raise RuleError(at, f"rules may nest at most {MAX_DEPTH} levels")
        if not isinstance(node, dict):
            raise RuleError(at, "must be an object: {all: [...]}, {any: [...]}, {not: {...}} "
                                "or a condition {field, op, value}")
        if "field" in node:
            count[0] += 1
            if count[0] > MAX_LEAVES:
                raise RuleError(at, f"a rule may have at most {MAX_LEAVES} conditions")
            return replace(_leaf(node, at), path=at)
        if len(node) != 1:
            names = ", ".join(sorted(map(str, node))) or "nothing"
            raise RuleError(at, f"needs exactly one of all, any, not or a condition with 'field' "
                                f"(got {names})")
        (key, value), = node.items()
        if key == "not":
            return Not(walk(value, f"{at}.not", depth + 1))
        if key in ("all", "any"):
            if not isinstance(value, list) or not value:
                raise RuleError(f"{at}.{key}", "must be a non-empty list of rules")
            parts = tuple(walk(v, f"{at}.{key}[{n}]", depth + 1) for n, v in enumerate(value))
            return All(parts) if key == "all" else AnyOf(parts)
        raise RuleError(f"{at}.{key}", "unknown key; valid: all, any, not, field")

    return walk(doc, where, 1)


# -- evaluation ------------------------------------------------------------------------------


def evaluate(rule: Rule, match: Callable[[Leaf], frozenset[str]],
             universe: Callable[[], frozenset[str]]) -> frozenset[str]:
    """The user ids a rule selects, from each leaf's matches (one store query per distinct leaf).

    ``NOT`` is everyone (``universe``) minus the matches, so it includes users without the field.
    """
    cache: dict[tuple[str, tuple[tuple[str, Any], ...]], frozenset[str]] = {}
    everyone: list[frozenset[str]] = []

    def leaf_set(leaf: Leaf) -> frozenset[str]:
        key = (leaf.query, tuple(sorted((k, repr(v)) for k, v in leaf.params.items())))
        if key not in cache:
            cache[key] = match(leaf)
        return cache[key]

    def walk(node: Rule) -> frozenset[str]:
        if isinstance(node, Leaf):
            return leaf_set(node)
        if isinstance(node, Not):
            if not everyone:
                everyone.append(universe())
            return everyone[0] - walk(node.part)
        sets = [walk(p) for p in node.parts]
        if isinstance(node, All):
            return frozenset.intersection(*sets)
        return frozenset.union(*sets)

    return walk(rule)
