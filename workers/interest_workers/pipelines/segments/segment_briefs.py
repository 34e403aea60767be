"""What a segment is, in words a marketer can act on: label, value profile, behaviour, brief.

Pure: arrays in, small dataclasses out.

* **Label**: the segment's most distinctive categories (:func:`distinctive_categories`), in
  plain words: ``"Holders & Lanterns"``. Product types written in capitals (Online Retail's head nouns)
  are shown as plurals; other category names are shown as given (``"Film-Noir & Mystery"``).
* **Value profile**: the members' value-tier mix, mean expected 90-day value and churn risk, each
  against the whole base, with the churn model's basis (BG/NBD, or recency where BG/NBD does not
  separate customers).
* **Behaviour**: median days since the last purchase, purchase occasions, spend per occasion and
  items per occasion, against the whole base.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import scipy.sparse as sp

from interest_graph.ingest.product_types import join_names, plain_name

from ...typing import DoubleArray, IndexArray

#: Distinctive categories kept per segment, and how many name it.
TOP_CATEGORIES = 5
LABEL_CATEGORIES = 2
#: Categories the brief says a segment buys more often than everyone (ranked by lift), and that
#: ``benchmarks/segments.py`` checks against the next purchases (predictive lift).
OVER_INDEXED = 3
#: A category must be shared by at least this share of members to describe the segment.
MIN_MEMBER_SHARE = 0.1


@dataclass(frozen=True)
class Distinctive:
    """One category a segment over-indexes on: ``share`` of members with it, ``lift`` over the
    share of all users with it."""

    name: str
    share: float
    lift: float


def segment_onehot(labels: IndexArray, k: int) -> sp.csr_matrix:
    """``(k, U)`` membership matrix."""
    n = len(labels)
    return sp.csr_matrix((np.ones(n), (np.asarray(labels), np.arange(n))), shape=(k, n))


def distinctive_categories(
    labels: IndexArray,
    presence: sp.csr_matrix,
    names: Sequence[str],
    *,
    top: int = TOP_CATEGORIES,
    min_share: float = MIN_MEMBER_SHARE,
    by: str = "score",
) -> list[list[Distinctive]]:
    """Per segment ``0..k-1``, the ``top`` categories it over-indexes on most.

    By default a category's score is ``share · ln(lift)``: how many members have it, times how
    much more often than everyone (its term of the members' relative entropy). That names a
    segment by what characterises most of it; ranking by lift alone (``by="lift"``, what the
    predictive-lift benchmark checks) favours narrower categories a tenth of members share.

    Args:
        labels: ``[U]`` segment of each user.
        presence: ``(U, C)`` non-zero where the user has interacted with the category.
        names: ``C`` category names.
        top: categories kept per segment.
        min_share: a category must be shared by this share of members (and over-represented) to
            count; a segment where none is falls back to its most shared categories.
        by: ``"score"`` or ``"lift"``.

    Raises:
        ValueError: an unknown ``by``.
    """
    if by not in ("score", "lift"):
        raise ValueError(f"by must be 'score' or 'lift', got {by!r}")
    labels = np.asarray(labels)
    k = int(labels.max()) + 1 if len(labels) else 0
    has = sp.csr_matrix(presence, dtype=np.float64)
    has.data = (has.data != 0).astype(np.float64)
    counts = np.asarray((segment_onehot(labels, k) @ has).toarray())  # (k, C)
    sizes = np.bincount(labels, minlength=k).astype(np.float64)
    base = np.asarray(has.sum(0)).ravel() / max(len(labels), 1)
    out: list[list[Distinctive]] = []
    for s in range(k):
        share = counts[s] / max(sizes[s], 1.0)
        lift = np.divide(share, base, out=np.zeros_like(share), where=base > 0)
        over = (share >= min_share) & (lift > 1.0 + 1e-9)
        score = lift if by == "lift" else np.where(
            over, share * np.log(np.where(over, lift, 1.0)), 0.0)
        eligible = np.flatnonzero(over)
        if not len(eligible):
            eligible, score = np.flatnonzero(share > 0), share
        order = sorted(eligible.tolist(), key=lambda j: (-score[j], -share[j], names[j]))
        out.append([Distinctive(names[j], float(share[j]), float(lift[j])) for j in order[:top]])
    return out


def over_indexed_categories(labels: IndexArray, presence: sp.csr_matrix,
                            names: Sequence[str]) -> list[list[Distinctive]]:
    """Per segment, the :data:`OVER_INDEXED` categories it buys most often relative to everyone
    (by lift, among those a tenth of members have): what its brief says its members buy, and
    what the predictive lift checks, so that the figure measures the sentence a marketer reads."""
    return distinctive_categories(labels, presence, names, top=OVER_INDEXED, by="lift")


def segment_labels(distinctive: Sequence[Sequence[Distinctive]]) -> list[str]:
    """Unique labels from each segment's distinctive categories; a label shared with an earlier
    segment takes one more category until it is unique (``"Mixed interests"`` with none)."""
    labels: list[str] = []
    for cats in distinctive:
        words = [plain_name(c.name) for c in cats]
        n = min(LABEL_CATEGORIES, len(words))
        label = join_names(words[:n]) or "Mixed interests"
        while label in labels and n < len(words):
            n += 1
            label = join_names(words[:n])
        labels.append(label)
    return labels


# -- value and behaviour ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Members:
    """Per-user facts the brief summarises (``NaN``/``None`` where unknown), all ``[U]``.

    Attributes:
        tiers: value tier (RFM) of each user.
        expected_value: expected value over the value horizon (90 days).
        churn_risk: churn risk from the model named by ``churn_basis``.
        recency_days: days since the last purchase occasion.
        frequency: purchase occasions.
        monetary: net spend.
        items: distinct items bought.
        churn_basis: how churn risk was computed, in words.
    """

    tiers: Sequence[str | None]
    expected_value: DoubleArray
    churn_risk: DoubleArray
    recency_days: DoubleArray
    frequency: DoubleArray
    monetary: DoubleArray
    items: DoubleArray
    churn_basis: str = ""


def _floats(values: Sequence[float | None] | DoubleArray) -> DoubleArray:
    return np.array([np.nan if v is None else float(v) for v in values], dtype=np.float64)


def members_from(values: Sequence[dict[str, object]], items: Sequence[float],
                 churn_basis: str) -> Members:
    """:class:`Members` from per-user value fields (``tier``, ``expected_value``, ``churn_risk``,
    ``recency_days``, ``frequency``, ``monetary``; missing keys are unknown)."""

    def col(name: str) -> DoubleArray:
        return _floats([v.get(name) for v in values])  # type: ignore[misc]

    return Members([v.get("tier") for v in values],  # type: ignore[misc]
                   col("expected_value"), col("churn_risk"), col("recency_days"),
                   col("frequency"), col("monetary"), _floats(list(items)), churn_basis)


def _mean(x: DoubleArray) -> float | None:
    x = x[np.isfinite(x)]
    return float(x.mean()) if len(x) else None


def _median(x: DoubleArray) -> float | None:
    x = x[np.isfinite(x)]
    return float(np.median(x)) if len(x) else None


def _per_order(numerator: DoubleArray, frequency: DoubleArray) -> DoubleArray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(frequency > 0, numerator / frequency, np.nan)


@dataclass(frozen=True)
class Behaviour:
    """Medians of a group: days since last purchase, purchase occasions, spend and items per
    occasion (``None`` where the data has no purchases)."""

    recency_days: float | None
    frequency: float | None
    order_value: float | None
    items_per_order: float | None

    @classmethod
    def of(cls, m: Members, rows: IndexArray | slice) -> Behaviour:
        f = m.frequency[rows]
        return cls(_median(m.recency_days[rows]), _median(f),
                   _median(_per_order(m.monetary[rows], f)),
                   _median(_per_order(m.items[rows], f)))


@dataclass(frozen=True)
class SegmentBrief:
    """A segment's profile and its one-paragraph brief: ``categories`` name it (by share · ln
    lift), ``over_indexed`` are those its members buy most often relative to everyone (by lift)."""

    index: int
    label: str
    size: int
    share: float
    categories: list[Distinctive]
    over_indexed: list[Distinctive]
    tiers: dict[str, int]
    expected_value: float | None
    base_expected_value: float | None
    churn_risk: float | None
    base_churn_risk: float | None
    churn_basis: str
    behaviour: Behaviour
    base_behaviour: Behaviour
    text: str = ""

    @property
    def top_categories(self) -> list[str]:
        return [c.name for c in self.categories]


def _num(x: float | None, digits: int = 0) -> str:
    return "n/a" if x is None else f"{x:,.{digits}f}"


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.0f}%"


def brief_text(b: SegmentBrief) -> str:
    """The brief in words (what the dashboard and ``/v1/segments/<id>`` show)."""
    parts = [f"{b.label}: {b.size:,} customers ({_pct(b.share)} of the base)."]
    over = [c for c in b.over_indexed if c.lift > 1.0]
    if over:
        said = ", ".join(f"{plain_name(c.name).lower()} {c.lift:.1f}× ({_pct(c.share)} of them)"
                         for c in over)
        parts.append(f"They buy {said} as often as the average customer.")
    elif b.categories:
        # Nothing over-represented (the label then names what most members have).
        common = ", ".join(f"{plain_name(c.name).lower()} ({_pct(c.share)})"
                           for c in b.categories[:OVER_INDEXED])
        parts.append(f"No category stands out: they buy what everyone buys, most often "
                     f"{common}.")
    total = sum(b.tiers.values())
    if total:
        ranked = sorted(b.tiers.items(), key=lambda t: (-t[1], t[0]))
        mix = ", ".join(f"{t} {_pct(n / total)}" for t, n in ranked[:3])
        parts.append(f"Value tiers: {mix}.")
    if b.expected_value is not None:
        parts.append(f"Expected 90-day value {_num(b.expected_value, 2)} per customer "
                     f"(base {_num(b.base_expected_value, 2)}).")
    if b.churn_risk is not None:
        parts.append(f"Churn risk {_pct(b.churn_risk)} (base {_pct(b.base_churn_risk)}; "
                     f"{b.churn_basis}).")
    h, base = b.behaviour, b.base_behaviour
    if h.frequency is not None:
        parts.append(
            f"Last purchase {_num(h.recency_days)} days ago (base {_num(base.recency_days)}), "
            f"{_num(h.frequency)} purchase days (base {_num(base.frequency)}), "
            f"{_num(h.order_value, 2)} per purchase day (base {_num(base.order_value, 2)}), "
            f"{_num(h.items_per_order, 1)} items per purchase day "
            f"(base {_num(base.items_per_order, 1)}).")
    return " ".join(parts)


def describe_segments(
    labels: IndexArray,
    presence: sp.csr_matrix,
    names: Sequence[str],
    members: Members,
) -> list[SegmentBrief]:
    """One :class:`SegmentBrief` per segment index ``0..k-1`` (empty segments included)."""
    labels = np.asarray(labels)
    n = len(labels)
    distinctive = distinctive_categories(labels, presence, names)
    over_indexed = over_indexed_categories(labels, presence, names)
    words = segment_labels(distinctive)
    everyone = np.arange(n)
    base_value = _mean(members.expected_value)
    base_risk = _mean(members.churn_risk)
    base_behaviour = Behaviour.of(members, everyone)
    briefs = []
    for s, cats in enumerate(distinctive):
        rows = np.flatnonzero(labels == s)
        tiers = Counter(t for t in (members.tiers[int(i)] for i in rows) if t)
        brief = SegmentBrief(
            index=s, label=words[s], size=len(rows), share=len(rows) / max(n, 1),
            categories=cats, over_indexed=over_indexed[s], tiers=dict(tiers.most_common()),
            expected_value=_mean(members.expected_value[rows]), base_expected_value=base_value,
            churn_risk=_mean(members.churn_risk[rows]), base_churn_risk=base_risk,
            churn_basis=members.churn_basis, behaviour=Behaviour.of(members, rows),
            base_behaviour=base_behaviour,
        )
        briefs.append(replace(brief, text=brief_text(brief)))
    return briefs
