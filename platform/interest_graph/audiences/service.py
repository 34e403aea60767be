"""Audiences: validate a definition, materialise its members with their arms, re-evaluate them after
each refresh, export them and measure the experiment.

An audience is an ``(:Audience)`` node with its definition as JSON text and, per evaluation, a
*membership version* of ``(:User)-[:IN_AUDIENCE {version, arm}]->(:Audience)`` edges. New edges are
written first and ``a.version`` switches to them in one write, so readers see one whole
membership; the last ``history`` versions are kept (like segment history), plus the starting
version, which is the experiment's cohort: it carries each member's baselines at the start
(purchase events, net revenue, targeted purchases) and the recommendations served to them, and
the report compares those with the graph now — the outcome of events ingested since the start.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ..errors import InterestGraphError, NotFound
from ..graph.audiences import Activity, AudienceRecord, AudienceRepository, CohortRow, ExportRow
from ..graph.driver import GraphStore
from ..graph.refresh import RefreshRepository
from ..settings import Settings
from .arms import DEFAULT_ARMS, Arm, ArmAssigner, parse_arms
from .outcomes import ArmOutcome, Comparison, MemberOutcome, summarise
from .rules import (
    INTEREST_FIELDS,
    Leaf,
    Not,
    Rule,
    RuleError,
    evaluate,
    leaves,
    parse_rule,
    references,
)

log = logging.getLogger(__name__)

MAX_NAME = 200
MAX_KEY = 128
MAX_TARGETS = 200
DEFAULT_SERVED = 10
MAX_SERVED = 50
ACTIVITY_PAGE = 1000
POPULAR_CANDIDATES = 200
DEFINITION_KEYS = ("name", "rule", "arms", "experiment_key", "target", "recommendations")


@dataclass(frozen=True)
class Target:
    """What counts as a targeted purchase: items, and every item of the categories."""

    categories: tuple[str, ...]
    items: tuple[str, ...]

    def document(self) -> dict[str, list[str]]:
        return {"categories": list(self.categories), "items": list(self.items)}


@dataclass(frozen=True)
class Definition:
    """A validated audience definition."""

    name: str
    rule: Rule
    arms: tuple[Arm, ...]
    experiment_key: str | None
    target: Target
    recommendations: int  # served per member in arms with a scorer


@dataclass(frozen=True)
class HistoryEntry:
    version: str
    size: int
    evaluated_at: float


@dataclass(frozen=True)
class Audience:
    """An audience as the API and the CLI show it."""

    id: str
    name: str
    rule: dict[str, Any]
    arms: tuple[Arm, ...]
    arm_sizes: dict[str, int]
    target: Target
    experiment_key: str
    recommendations: int
    status: str
    size: int
    created_at: float
    started_at: float | None
    evaluated_at: float | None
    version: str | None
    refresh_version: str | None
    history: tuple[HistoryEntry, ...]


@dataclass(frozen=True)
class Report:
    """An experiment's outcome per arm since it started, and each arm against the reference."""

    audience: str
    name: str
    experiment_key: str
    started_at: float | None
    measured_at: float
    cohort: int
    reference: str | None
    arms: tuple[ArmOutcome, ...]
    comparisons: tuple[Comparison, ...]


def _text(value: Any, where: str, limit: int) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise RuleError(where, f"must be a non-empty string of at most {limit} characters")
    if any(ord(c) < 32 for c in value):
        raise RuleError(where, "must not contain control characters")
    return value


def _names(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or len(value) > MAX_TARGETS:
        raise RuleError(where, f"must be a list of at most {MAX_TARGETS} names")
    return tuple(dict.fromkeys(_text(v, f"{where}[{n}]", 256) for n, v in enumerate(value)))


def parse_definition(doc: Any) -> Definition:
    """Validate an audience document ``{name, rule, arms?, experiment_key?, target?,
    recommendations?}`` without touching the graph.

    Raises:
        RuleError: naming the offending place (``rule.all[0].op``, ``arms[1].weight``, ...).
    """
    if not isinstance(doc, dict):
        raise RuleError("body", "must be an object {name, rule, arms?, experiment_key?, target?}")
    for key in doc:
        if key not in DEFINITION_KEYS:
            raise RuleError(str(key), f"unknown key; valid: {', '.join(DEFINITION_KEYS)}")
    for key in ("name", "rule"):
        if key not in doc:
            raise RuleError(key, "is required")
    name = _text(doc["name"], "name", MAX_NAME)
    rule = parse_rule(doc["rule"])
    arms = parse_arms(doc.get("arms", list(DEFAULT_ARMS)))
    key = doc.get("experiment_key")
    if key is not None:
        key = _text(key, "experiment_key", MAX_KEY)
    raw_target = doc.get("target")
    if raw_target is None:
        # By default an experiment targets what its rule is about (interest leaves not negated).
        subjects = [leaf for leaf in _positive_leaves(rule) if leaf.subject is not None]
        target = Target(*(tuple(dict.fromkeys(str(x.subject) for x in subjects
                                              if INTEREST_FIELDS[x.field] == kind))
                          for kind in ("category", "item")))
    else:
        if not isinstance(raw_target, dict) or set(raw_target) - {"categories", "items"}:
            raise RuleError("target", "must be an object {categories?: [...], items?: [...]}")
        target = Target(_names(raw_target.get("categories", []), "target.categories"),
                        _names(raw_target.get("items", []), "target.items"))
    served = doc.get("recommendations", DEFAULT_SERVED)
    if isinstance(served, bool) or not isinstance(served, int) or not 1 <= served <= MAX_SERVED:
        raise RuleError("recommendations", f"must be an integer from 1 to {MAX_SERVED}")
    return Definition(name, rule, arms, key, target, served)


def _positive_leaves(rule: Rule) -> Iterator[Leaf]:
    if isinstance(rule, Leaf):
        yield rule
    elif not isinstance(rule, Not):
        for part in rule.parts:
            yield from _positive_leaves(part)


def new_version(now: float) -> str:
    stamp = datetime.fromtimestamp(now, tz=UTC).strftime("%Y%m%dT%H%M%S")
    return f"{stamp}-{secrets.token_hex(3)}"


def _definition_of(record: AudienceRecord) -> Definition:
    """A stored audience's definition (it was validated when saved)."""
    arms = json.loads(record.arms)
    target = json.loads(record.target)
    return Definition(record.name, parse_rule(json.loads(record.rule)),
                      parse_arms(arms["arms"]), record.experiment_key,
                      Target(tuple(target["categories"]), tuple(target["items"])),
                      int(arms["recommendations"]))


class AudienceService:
    """Audiences over one store."""

    def __init__(self, repo: AudienceRepository, assigner: ArmAssigner, *, history: int = 30,
                 clock: Callable[[], float] = time.time) -> None:
        self.repo = repo
        self.assigner = assigner
        self.history = max(1, history)
        self.clock = clock
        self._refresh = RefreshRepository(repo.store)

    @classmethod
    def open(cls, store: GraphStore, settings: Settings) -> AudienceService:
        return cls(AudienceRepository(store, settings.read_page_size),
                   ArmAssigner(settings.resolved_secret()), history=settings.segment_history)

    # -- validation --------------------------------------------------------------------

    def check_names(self, rule: Rule, target: Target = Target((), ())) -> None:
        """Every category, item and segment the rule or the target names must exist.

        Raises:
            RuleError: naming the leaf (``rule.all[1].category``) or target entry.
        """
        refs = references(rule)
        cats = refs.categories | set(target.categories)
        items = refs.items | set(target.items)
        if not (cats or items or refs.segments or refs.segment_labels):
            return
        known = self.repo.known_names(sorted(cats), sorted(items), sorted(refs.segments),
                                      sorted(refs.segment_labels))
        for leaf in leaves(rule):
            kind = INTEREST_FIELDS.get(leaf.field)
            if kind == "category" and leaf.subject not in known.categories:
                raise RuleError(f"{leaf.path}.category", f"unknown category {leaf.subject!r}")
            if kind == "item" and leaf.subject not in known.items:
                raise RuleError(f"{leaf.path}.item", f"unknown item {leaf.subject!r}")
            if leaf.field in ("segment", "segment_label"):
                pool = known.segments if leaf.field == "segment" else known.labels
                for value in leaf.params["values"]:
                    if value not in pool:
                        raise RuleError(f"{leaf.path}.value",
                                        f"no segment of the active refresh has {leaf.field} "
                                        f"{value!r}")
        for kind, noun, names, pool in (
                ("categories", "category", target.categories, known.categories),
                ("items", "item", target.items, known.items)):
            for n, name in enumerate(names):
                if name not in pool:
                    raise RuleError(f"target.{kind}[{n}]", f"unknown {noun} {name!r}")

    def validate(self, doc: Any) -> Definition:
        """The definition, checked against the graph (nothing is written)."""
        definition = parse_definition(doc)
        self.check_names(definition.rule, definition.target)
        return definition

    # -- evaluation --------------------------------------------------------------------

    def select(self, rule: Rule) -> frozenset[str]:
        return evaluate(rule, lambda leaf: self.repo.select(leaf.query, leaf.params),
                        self.repo.everyone)

    def count(self, rule_doc: Any) -> int:
        """How many users a rule selects now (validated first; nothing is written)."""
        rule = parse_rule(rule_doc)
        self.check_names(rule)
        return len(self.select(rule))

    def create(self, doc: Any) -> Audience:
        """Validate, save and evaluate an audience; its first evaluation starts the experiment.

        Raises:
            RuleError: the definition is invalid (nothing is written).
        """
        definition = self.validate(doc)
        audience_id = "a" + secrets.token_hex(6)
        stored_arms = {"arms": [a.document() for a in definition.arms],
                       "recommendations": definition.recommendations}
        self.repo.create(audience_id, definition.name, json.dumps(definition.rule.document()),
                         json.dumps(stored_arms), json.dumps(definition.target.document()),
                         definition.experiment_key or audience_id, self.clock())
        record = self.repo.get(audience_id)
        assert record is not None
        self._evaluate(record, definition)
        return self.get(audience_id)

    def _evaluate(self, record: AudienceRecord, definition: Definition) -> int:
        start = record.start_version is None
        now = self.clock()
        version = new_version(now)
        members = sorted(self.select(definition.rule))
        arms = self.assigner.assign(record.experiment_key, members, definition.arms)
        rows: list[dict[str, Any]] = [{"user": u, "arm": a} for u, a in zip(members, arms)]
        if start:
            self._baselines(rows, definition)
        self.repo.write_members(record.id, version, rows, now)
        history = [*record.history, (version, len(members), now)][-self.history:]
        sizes = [sum(1 for a in arms if a == arm.name) for arm in definition.arms]
        self.repo.activate(record.id, version, self._refresh.state().version, len(members), sizes,
                           history, now)
        self.repo.prune(record.id, [h[0] for h in history] + [record.start_version or version])
        return len(members)

    def _baselines(self, rows: list[dict[str, Any]], definition: Definition) -> None:
        """Add each starting member's baselines and, in arms with a scorer, the served items."""
        targets = self._target_items(definition.target)
        scorer = {a.name: a.scorer for a in definition.arms}
        k = definition.recommendations
        popular = (self.repo.popular_items(POPULAR_CANDIDATES)
                   if "popular" in scorer.values() else [])
        for start in range(0, len(rows), ACTIVITY_PAGE):
            page = rows[start : start + ACTIVITY_PAGE]
            model_users = [r["user"] for r in page if scorer[r["arm"]] == "model"]
            model = self.repo.model_recommendations(model_users, k) if model_users else {}
            wanted = sorted({i for items in model.values() for i in items} | set(popular))
            activity = self.repo.activity([r["user"] for r in page], targets, wanted)
            for row in page:
                now = activity.get(row["user"]) or Activity(row["user"], 0, 0.0, 0, {})
                row.update(base_purchases=now.purchases, base_revenue=now.revenue,
                           base_target=now.target_purchases)
                kind = scorer[row["arm"]]
                if kind is None:
                    continue
                if kind == "model":
                    served = model.get(row["user"], [])
                else:  # popular items the member has not bought
                    served = [i for i in popular if now.items.get(i, 0) <= 0][:k]
                row.update(served=served, served_base=[now.items.get(i, 0) for i in served])

    def _target_items(self, target: Target) -> list[str]:
        return sorted(set(target.items) | set(self.repo.category_items(list(target.categories))))

    def reevaluate_all(self) -> dict[str, int]:
        """Re-evaluate every saved audience (after a refresh); sizes by audience id. An audience
        that fails keeps its previous membership and the others go on."""
        sizes: dict[str, int] = {}
        for record in self.repo.all():
            try:
                sizes[record.id] = self._evaluate(record, _definition_of(record))
            except (InterestGraphError, ValueError, KeyError) as exc:
                log.warning("audience %s not re-evaluated: %s", record.id, type(exc).__name__)
        return sizes

    # -- reads ---------------------------------------------------------------------------

    def _audience(self, record: AudienceRecord) -> Audience:
        definition = _definition_of(record)
        return Audience(
            id=record.id, name=record.name, rule=definition.rule.document(), arms=definition.arms,
            arm_sizes=dict(zip((a.name for a in definition.arms), record.arm_sizes)),
            target=definition.target, experiment_key=record.experiment_key,
            recommendations=definition.recommendations, status=record.status, size=record.size,
            created_at=record.created_at, started_at=record.started_at,
            evaluated_at=record.evaluated_at, version=record.version,
            refresh_version=record.refresh_version,
            history=tuple(HistoryEntry(v, n, t) for v, n, t in record.history))

    def saved(self) -> list[Audience]:
        return [self._audience(r) for r in self.repo.all()]

    def get(self, audience: str) -> Audience:
        record = self.repo.get(audience)
        if record is None:
            raise NotFound("unknown audience")
        return self._audience(record)

    def delete(self, audience: str) -> int:
        removed = self.repo.delete(audience)
        if removed is None:
            raise NotFound("unknown audience")
        return removed

    def export(self, audience: str, top: int = 3, page_size: int = 1000) -> Iterator[ExportRow]:
        """The current members, in id order, read a page at a time as the caller consumes them.

        Raises:
            NotFound: at once (before the first row) for an unknown audience.
        """
        self.get(audience)

        def rows() -> Iterator[ExportRow]:
            for page in self.repo.members(audience, page_size, top):
                yield from page

        return rows()

    def member_outcomes(self, audience: str) -> list[MemberOutcome]:
        """What each cohort member did since the experiment started (the report's input)."""
        record = self.repo.get(audience)
        if record is None:
            raise NotFound("unknown audience")
        targets = self._target_items(_definition_of(record).target)
        outcomes: list[MemberOutcome] = []
        for page in self.repo.cohort(audience):
            served = sorted({i for row in page for i in row.served})
            now = self.repo.activity([r.user for r in page], targets, served)
            outcomes.extend(_outcome(row, now.get(row.user)) for row in page)
        return outcomes

    def report(self, audience: str) -> Report:
        """Per-arm outcomes of the cohort since the experiment started."""
        found = self.get(audience)
        outcomes = self.member_outcomes(audience)
        arms, comparisons = summarise([a.name for a in found.arms], outcomes,
                                      bool(found.target.categories or found.target.items))
        return Report(found.id, found.name, found.experiment_key, found.started_at, self.clock(),
                      len(outcomes), comparisons[0].reference if comparisons else None,
                      tuple(arms), tuple(comparisons))


def _outcome(row: CohortRow, now: Activity | None) -> MemberOutcome:
    """A cohort member's outcome: the graph now minus the baselines taken at the start. A member
    erased since is absent from the cohort; one with no activity row counts as no change."""
    if now is None:
        now = Activity(row.user, row.base_purchases, row.base_revenue, row.base_target, {})
    hits = sum(1 for item, base in zip(row.served, row.served_base)
               if now.items.get(item, 0) > base)
    return MemberOutcome(row.user, row.arm, now.purchases > row.base_purchases,
                         now.target_purchases > row.base_target, now.revenue - row.base_revenue,
                         len(row.served), hits)


def reevaluate_audiences(store: GraphStore, settings: Settings) -> dict[str, int]:
    """The refresh hook: re-evaluate every saved audience against the refresh just activated.
    Never raises for a store error: the refresh is already in service, audiences catch up next
    time."""
    try:
        return AudienceService.open(store, settings).reevaluate_all()
    except InterestGraphError as exc:
        log.warning("audiences not re-evaluated: %s", exc)
        return {}
