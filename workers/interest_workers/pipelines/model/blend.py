"""The served model's candidate terms and how their blend is chosen on validation.

Candidate terms (:data:`TERMS`), each a :class:`~interest_workers.pipelines.model.scores.Scorer`:

* ``gcn``: the text-fed GCN's dot products (:mod:`~interest_workers.pipelines.model.gcn`);
* ``ease``: EASE item-item regression, on binary or recipe-weighted histories;
* ``rp3beta``: the RP3β random walk, likewise;
* ``filter``: the blur-and-sharpen graph filter of GF-CF and BSPM
  (:mod:`~interest_workers.pipelines.model.filters`);
* ``sequence``: items people touched right after the user's latest ones
  (:mod:`~interest_workers.pipelines.model.sequence`);
* ``content``: text similarity to the user's history;
* ``popularity``: distinct users per item.

:func:`choose_weights` blends them (each standardised per user, as :class:`BlendScorer` does) by
coordinate ascent on a small weight grid, maximising Recall@20 + NDCG@20 on the validation carve,
starting from the best single term. A term that does not help on a dataset keeps weight 0, so a
tiny catalogue or a popularity-dominated log falls back to what works there. The blend is served
only if it beats the default term (:data:`DEFAULT_TERM`) by more than one paired standard error
on the carve (:func:`prefer_default`); a carve too small to tell them apart serves the default.

Items nobody has interacted with (new in the catalogue) carry no evidence in the collaborative
terms: the blend scores them with the terms that see their text alone (``gcn`` from its text
features, ``content``), those terms' weights rescaled to the blend's total
(:func:`cold_blend`), so a new item competes on the same scale as the items the user's history
favours. :class:`ColdItems` fills the collaborative terms' cold columns with the
similarity-weighted mean score of their nearest items by text (what those terms' standardisation
sees, and the blend's cold scores when no text term has weight).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Protocol

import numpy as np
import scipy.sparse as sp

from ...typing import FloatArray, IndexArray
from . import baselines
from .filters import GraphFilter
from .graph_build import InteractionGraph
from .metrics import Targets
from .scores import Scorer, _top_k_rows
from .sequence import SequentialItemItem

logger = logging.getLogger(__name__)

TERMS = ("gcn", "ease", "rp3beta", "filter", "sequence", "content", "popularity")
#: The scorer served unless the validation carve shows the blend better (:func:`prefer_default`).
DEFAULT_TERM = "rp3beta"
#: Terms that score items nobody has touched from text themselves.
TEXT_TERMS = frozenset({"gcn", "content"})
K = 20


class HistoryTerm(Scorer, Protocol):
    """A fitted term that can score the users of a changed graph (same first items)."""

    def with_history(self, graph: InteractionGraph) -> HistoryTerm: ...


@dataclass(frozen=True)
class Variant:
    """One candidate: a term and its parameters."""

    term: str
    params: tuple[tuple[str, Any], ...] = ()

    def __str__(self) -> str:
        inner = ", ".join(f"{k}={v}" for k, v in self.params)
        return f"{self.term}({inner})"

    def as_dict(self) -> dict[str, Any]:
        return dict(self.params)


def variants(term: str, *, l2_grid: Sequence[float], rp3_alphas: Sequence[float],
             rp3_betas: Sequence[float], sequence_decays: Sequence[float],
             filter_betas: Sequence[float] = (), filter_times: Sequence[float] = ()
             ) -> list[Variant]:
    """The candidates of one closed-form term (``gcn`` is trained, not enumerated)."""
    if term == "ease":
        return [Variant("ease", (("l2", l2), ("history", h)))
                for h in ("binary", "weighted") for l2 in l2_grid]
    if term == "rp3beta":
        # The history innermost: consecutive variants share the walk (see fit_variant).
        return [Variant("rp3beta", (("alpha", a), ("beta", b), ("history", h)))
                for a in rp3_alphas for b in rp3_betas for h in ("binary", "weighted")]
    if term == "filter":
        # β outermost: the variants of one β share the sharpening powers (GraphFilter.grid).
        return [Variant("filter", (("beta", b), ("time", t)))
                for b in filter_betas for t in filter_times]
    if term == "sequence":
        return [Variant("sequence", (("decay", d),)) for d in sequence_decays]
    if term in ("content", "popularity"):
        return [Variant(term)]
    raise ValueError(f"unknown term {term!r}; valid: {', '.join(TERMS)}")


def fit_variant(variant: Variant, graph: InteractionGraph, item_x: FloatArray,
                user_text_x: FloatArray, shared: dict[str, Any] | None = None) -> Scorer:
    """Fit one closed-form candidate on ``graph``.

    Args:
        shared: Keeps the last RP3β walk between calls on the same graph: RP3β's item-item
            weights come from the binary matrix whatever history the variant scores with, and
            its popularity penalty only rescales the walk's columns, so one product per ``α``
            serves every ``β`` listed in ``shared["rp3beta_betas"]`` and both histories
            (consecutive in :func:`variants`). Likewise the graph filter's factors, which every
            ``(β, T)`` shares.
    """
    p = variant.as_dict()
    if variant.term == "ease":
        return baselines.EASE(p["l2"], history=p["history"]).fit(graph)
    if variant.term == "rp3beta":
        term = baselines.RP3Beta(p["alpha"], p["beta"], history=p["history"])
        if shared is None:
            return term.fit(graph)
        key = (id(graph), p["alpha"], term.k)
        if shared.get("rp3beta_key") != key or float(p["beta"]) not in shared.get("rp3beta_w", {}):
            betas = sorted({float(p["beta"]), *shared.get("rp3beta_betas", ())})
            walks = baselines.rp3beta_weights(graph.to_csr(binary=True), p["alpha"], betas,
                                              term.k)
            shared["rp3beta_key"], shared["rp3beta_w"] = key, dict(zip(betas, walks))
        return term.fit(graph, weights=shared["rp3beta_w"][float(p["beta"])])
    if variant.term == "filter":
        if shared is None:
            return GraphFilter(p["beta"], p["time"]).fit(graph)
        if shared.get("filter_key") != id(graph):
            shared["filter_key"], shared["filter"] = id(graph), GraphFilter().fit(graph)
        return shared["filter"].with_params(p["beta"], p["time"])  # type: ignore[no-any-return]
    if variant.term == "sequence":
        return SequentialItemItem(p["decay"]).fit(graph)
    if variant.term == "content":
        return baselines.Content(item_x, user_text_x).fit(graph)
    if variant.term == "popularity":
        return baselines.Popularity().fit(graph)
    raise ValueError(f"unknown term {variant.term!r}; valid: {', '.join(TERMS)}")


class ColdItems:
    """Scores for items nobody has touched, from the items most like them by text.

    Args:
        item_x: ``(I, D)`` normalised item text embeddings.
        warm: ``(I,)`` bool, items with interactions.
        k: Text neighbours per cold item.
    """

    def __init__(self, item_x: FloatArray, warm: np.ndarray, k: int = 20) -> None:
        self.cold = np.flatnonzero(~warm)
        warm_idx = np.flatnonzero(warm)
        n = len(item_x)
        if len(self.cold) == 0 or len(warm_idx) == 0:
            self.mix = sp.csr_matrix((n, 0), dtype=np.float32)
            return
        k = min(k, len(warm_idx))
        sim = item_x[self.cold] @ item_x[warm_idx].T  # (C, W)
        top = np.argpartition(-sim, k - 1, axis=1)[:, :k]
        w = np.maximum(np.take_along_axis(sim, top, 1), 0.0)
        w = w / np.maximum(w.sum(1, keepdims=True), 1e-12)
        rows = warm_idx[top].ravel()
        cols = np.repeat(np.arange(len(self.cold)), k)
        self.mix = sp.csr_matrix((w.ravel().astype(np.float32), (rows, cols)),
                                 shape=(n, len(self.cold)))

    @cached_property
    def _sources(self) -> tuple[IndexArray, sp.csr_matrix]:
        """The warm items some cold item draws on, and ``(C, S)`` their weights per cold item."""
        sources = np.flatnonzero(self.mix.getnnz(axis=1))
        return sources, sp.csr_matrix(self.mix[sources].T)

    def fill(self, scores: FloatArray) -> FloatArray:
        """``scores`` ``(B, I)`` with the cold columns replaced by their neighbours' mean.

        Reads only the neighbours' columns (a ``B × S`` gather, not the whole matrix).
        """
        if len(self.cold):
            sources, weights = self._sources
            scores[:, self.cold] = (weights @ np.ascontiguousarray(scores[:, sources].T)).T
        return scores


def text_scale(weights: Mapping[str, float]) -> np.float32 | None:
    """What a cold item's text-term sum is multiplied by: the blend's total weight over the text
    terms' (``None`` when no text term has weight: cold items then keep the blend's score)."""
    text_w = sum(w for t, w in weights.items() if t in TEXT_TERMS)
    return np.float32(sum(weights.values()) / text_w) if text_w > 0 else None


def cold_blend(blend: FloatArray, text: FloatArray, weights: Mapping[str, float],
               cold: np.ndarray) -> FloatArray:
    """``blend`` with the ``cold`` entries scored by the text terms alone.

    Args:
        blend: ``(B, I)`` the weighted sum of every term's standardised scores (modified).
        text: ``(B, I)`` the same sum over :data:`TEXT_TERMS` only.
        weights: Weight by term.
        cold: ``(B, I)`` bool or ``(I,)`` item indices nobody has touched.

    A cold item gets ``text · total weight / text weight``; nothing changes when no text term has
    weight.
    """
    scale = text_scale(weights)
    if scale is None or not np.size(cold):
        return blend
    scaled = text * scale
    if cold.dtype == bool:
        blend[cold] = scaled[cold]
    else:
        blend[:, cold] = scaled[:, cold]
    return blend


def standardise(s: FloatArray, out: FloatArray | None = None) -> FloatArray:
    """Per-row zero mean, unit standard deviation, as float32.

    Args:
        s: ``(B, I)`` scores.
        out: Where to write the result (``s`` itself, or a buffer of its shape and float32);
            default a new array. Three passes over the matrix and no temporary of its size, which
            matters when a batch is users × a whole catalogue.
    """
    s = np.asarray(s, dtype=np.float32)
    if s.ndim != 2 or s.shape[1] == 0:
        return np.array(s, dtype=np.float32, copy=True) if out is None else _copied(out, s)
    z: FloatArray = np.subtract(s, s.mean(1, keepdims=True), out=out)
    # Each row's sum of squares by BLAS's dot: as fast as einsum and ten times more accurate
    # (einsum's float32 sum drifts by ~2e-5 over a 60k-item row; numpy's std by ~1e-7).
    squares = np.fromiter((np.dot(row, row) for row in z), np.float64, count=len(z))
    std = np.sqrt(squares / s.shape[1]).astype(np.float32)
    np.divide(z, (std + np.float32(1e-8))[:, None], out=z)
    return z


class BlendScorer:
    """The served score: a weighted sum of standardised terms, cold items filled from text.

    Args:
        terms: Scorer by term name, over the same items.
        weights: Weight by term name (terms of weight 0 are skipped).
        cold: Fills cold items of the terms that cannot score them (``None``: none).
    """

    def __init__(self, terms: Mapping[str, Scorer], weights: Mapping[str, float],
                 cold: ColdItems | None = None) -> None:
        if not any(weights.get(t, 0.0) for t in terms):
            raise ValueError("need at least one term of non-zero weight")
        self.terms = dict(terms)
        self.weights = {t: float(weights.get(t, 0.0)) for t in terms}
        self.cold = cold

    @property
    def num_items(self) -> int:
        return next(iter(self.terms.values())).num_items

    def term_scores(self, name: str, users: IndexArray, out: FloatArray | None = None
                    ) -> FloatArray:
        """Term ``name``'s standardised scores of ``users``, cold columns filled.

        Args:
            out: A ``(B, I)`` float32 buffer to write them into (a term with ``score_into``
                scores straight into it); default a new array. A term's own arrays are never
                written.
        """
        term = self.terms[name]
        fill = self.cold is not None and len(self.cold.cold) and name not in TEXT_TERMS
        into = getattr(term, "score_into", None)
        if out is not None and into is not None:
            s = into(users, out)
        else:
            s = np.asarray(term.score(users), dtype=np.float32)
            if fill:
                s = np.array(s, copy=True) if out is None else _copied(out, s)
        if fill:
            assert self.cold is not None
            s = self.cold.fill(s)
        return standardise(s, out=out)

    def score(self, users: IndexArray) -> FloatArray:
        """``(B, I)`` blended scores: a new array the caller owns (see ``fresh_scores``).

        Each term is scored and standardised in one reused buffer, weighted and added up; the
        cold items, where a text term has weight, then take the text terms' sum rescaled to the
        blend's total weight (:func:`cold_blend`, on the cold columns only).
        """
        shape = (len(users), self.num_items)
        out: FloatArray | None = None
        z = np.empty(shape, dtype=np.float32)  # every term's standardised scores in turn
        cold = self.cold.cold if self.cold is not None else np.zeros(0, np.int64)
        scale = text_scale(self.weights)
        text = (np.zeros((len(users), len(cold)), np.float32)
                if len(cold) and scale is not None else None)
        for name, weight in self.weights.items():
            if not weight:
                continue
            z = self.term_scores(name, users, out=z)
            z *= np.float32(weight)
            if text is not None and name in TEXT_TERMS:
                text += z[:, cold]
            if out is None:  # the first term's buffer becomes the sum
                out, z = z, np.empty(shape, dtype=np.float32)
            else:
                out += z
        assert out is not None  # __init__: a term of non-zero weight
        if text is not None and scale is not None:
            out[:, cold] = text * scale
        return out

    #: :meth:`score` returns a new array: :func:`~.scores.top_k_items` masks it without a copy.
    fresh_scores = True


def _copied(out: FloatArray, s: FloatArray) -> FloatArray:
    np.copyto(out, s)
    return out


def _mask(s: FloatArray, exclude: sp.csr_matrix) -> None:
    rows = np.repeat(np.arange(s.shape[0]), np.diff(exclude.indptr))
    s[rows, exclude.indices] = -np.inf


@dataclass
class ValidationScores:
    """Standardised term scores of the validation users, and how a blend of them ranks.

    Attributes:
        matrices: ``(B, I)`` per term.
        exclude: ``(B, I)`` what those users consumed (never ranked).
        targets: Their held-out items (rows ``0..B-1``).
        cold: Items nobody has touched (scored as :func:`cold_blend` does); ``None``: none.
    """

    matrices: dict[str, FloatArray]
    exclude: sp.csr_matrix
    targets: Targets
    cold: IndexArray | None = None

    def __post_init__(self) -> None:
        b = len(self.targets.items)
        rows = np.repeat(np.arange(b), [len(t) for t in self.targets.items])
        cols = np.concatenate(self.targets.items) if b else np.zeros(0, np.int64)
        self._held = sp.csr_matrix((np.ones(len(rows), bool), (rows, cols)),
                                   shape=(b, self.exclude.shape[1]))
        self._cache: dict[tuple[tuple[str, float], ...], np.ndarray] = {}
        self._pool: IndexArray | None = None
        self._pooled: dict[str, FloatArray] = {}

    def restrict(self, per_term: int) -> None:
        """Rank only each user's pool: the union of every term's top ``per_term`` items.

        A blend's top 20 lies, in practice, among the items some term ranks high; ranking ``T ·
        per_term`` candidates instead of the catalogue makes each blend tried in the search
        cheap on large catalogues (the choice is then made on this shortlist, deterministically).
        """
        names = sorted(self.matrices)
        if not names or per_term * len(names) >= self.exclude.shape[1]:
            return
        tops = []
        for name in names:
            s = np.array(self.matrices[name], copy=True)
            _mask(s, self.exclude)
            tops.append(_top_k_rows(s, per_term)[0])
        pool = np.sort(np.concatenate(tops, axis=1), axis=1)
        repeated = np.zeros(pool.shape, bool)
        repeated[:, 1:] = pool[:, 1:] == pool[:, :-1]
        pool[repeated] = -1
        self._pool = pool
        safe = np.maximum(pool, 0)
        self._pooled = {n: np.where(pool >= 0, np.take_along_axis(self.matrices[n], safe, 1),
                                    -np.inf).astype(np.float32) for n in names}
        self._cache.clear()

    def per_user(self, weights: Mapping[str, float]) -> np.ndarray:
        """``(B,)`` Recall@20 + NDCG@20 of each validation user under the blend ``weights``."""
        key = tuple(sorted((t, float(w)) for t, w in weights.items() if w))
        if key in self._cache:
            return self._cache[key]
        source = self._pooled if self._pool is not None else self.matrices
        s: FloatArray | None = None
        text: FloatArray | None = None
        for name, w in key:
            s = w * source[name] if s is None else s + w * source[name]
            if name in TEXT_TERMS:
                text = w * source[name] if text is None else text + w * source[name]
        assert s is not None, "a blend needs a term of non-zero weight"
        if text is not None and self.cold is not None and len(self.cold):
            cold = self.cold if self._pool is None else np.isin(self._pool, self.cold)
            s = cold_blend(s, text, dict(key), cold)
        if self._pool is None:
            _mask(s, self.exclude)
            top, _ = _top_k_rows(s, K)
        else:
            s[self._pool < 0] = -np.inf
            order, _ = _top_k_rows(s, K)
            top = np.where(order >= 0, np.take_along_axis(self._pool, np.maximum(order, 0), 1), -1)
        hits = np.asarray(self._held[np.arange(len(top))[:, None], np.maximum(top, 0)].todense())
        hits &= top >= 0
        sizes = self.targets.sizes.astype(np.float64)
        disc = 1.0 / np.log2(np.arange(2, top.shape[1] + 2))
        idcg = np.cumsum(1.0 / np.log2(np.arange(2, K + 2)))[np.minimum(sizes, K).astype(int) - 1]
        value = np.asarray(hits.sum(1) / sizes + (hits * disc).sum(1) / idcg, np.float64)
        self._cache[key] = value
        return value

    def evaluate(self, weights: Mapping[str, float]) -> float:
        """Mean Recall@20 + NDCG@20 of the blend."""
        return float(self.per_user(weights).mean())


def validation_users(targets: Targets, num_items: int, max_cells: int, seed: int) -> Targets:
    """At most ``max_cells / num_items`` validation users (a seeded sample), so that the dense
    ``(B, I)`` matrices of the search stay bounded on large catalogues."""
    cap = max(1, max_cells // max(num_items, 1))
    if len(targets.users) <= cap:
        return targets
    rows = np.sort(np.random.default_rng(seed).choice(len(targets.users), cap, replace=False))
    return Targets(targets.users[rows], [targets.items[r] for r in rows], targets.sizes[rows],
                   targets.cold_items)


def _ascend(scores: ValidationScores, names: Sequence[str], grid: Sequence[float], rounds: int,
            user_weight: np.ndarray) -> dict[str, float]:
    """Coordinate ascent from the best single term; a change must strictly improve."""

    def value(weights: Mapping[str, float]) -> float:
        return float(scores.per_user(weights) @ user_weight)

    weights = {t: 0.0 for t in names}
    best_term = max(names, key=lambda t: value({t: 1.0}))
    weights[best_term] = 1.0
    best = value(weights)
    for _ in range(rounds):
        improved = False
        for name in names:
            for w in grid:
                trial = {**weights, name: w}
                if w == weights[name] or not any(trial.values()):
                    continue
                v = value(trial)
                if v > best + 1e-12:
                    best, weights, improved = v, trial, True
        if not improved:
            break
    total = sum(weights.values())
    return {t: w / total for t, w in weights.items()}


def choose_weights(scores: ValidationScores, grid: Sequence[float], rounds: int, *,
                   resamples: int = 8, seed: int = 0, shortlist: int | None = 100
                   ) -> tuple[dict[str, float], float]:
    """Blend weights by bagged coordinate ascent (Caruana et al.'s ensemble selection).

    Coordinate ascent over ``grid`` per term, from the best single term, is run on ``resamples``
    bootstrap resamples of the validation users, and the normalised weights are averaged. On a
    large carve the resamples agree and this is plain coordinate ascent; on a small, noisy one
    near-tied terms share the weight instead of one of them winning by chance.

    Deterministic for a seed: terms are visited in :data:`TERMS` order. With ``shortlist``, blends
    rank each user's union of the terms' top ``shortlist`` items (:meth:`ValidationScores.restrict`).

    Returns:
        ``(weight by term, validation Recall@20 + NDCG@20 of the averaged blend)``.
    """
    names = [t for t in TERMS if t in scores.matrices]
    n = len(scores.targets.items)
    if shortlist is not None:
        scores.restrict(shortlist)
    logger.info("blend: single terms %s",
                {t: round(scores.evaluate({t: 1.0}), 4) for t in names})
    rng = np.random.default_rng(seed)
    total = {t: 0.0 for t in names}
    for _ in range(max(resamples, 1)):
        counts = rng.multinomial(n, np.full(n, 1.0 / n)) if resamples else np.ones(n)
        for t, w in _ascend(scores, names, grid, rounds, counts / n).items():
            total[t] += w
    weights = {t: round(w / max(resamples, 1), 4) for t, w in total.items()}
    return weights, scores.evaluate(weights)


@dataclass(frozen=True)
class BlendGain:
    """A candidate against a simpler alternative, on the validation users: the chosen blend
    against the default term alone (:func:`prefer_default`), or scoring cold items against
    leaving them to the terms (:func:`compare_cold`).

    Attributes:
        gain: Mean per-user difference in Recall@20 + NDCG@20 (candidate minus alternative).
        se: Its standard error.
        kept: Whether the candidate is served.
    """

    gain: float
    se: float
    kept: bool

    def as_dict(self) -> dict[str, Any]:
        return {"gain": self.gain, "se": self.se, "kept": self.kept}


def paired_gain(candidate: np.ndarray, alternative: np.ndarray) -> BlendGain:
    """The one-standard-error rule on per-user scores: the candidate is kept only if its mean
    paired gain over the alternative exceeds the gain's standard error."""
    diff = candidate - alternative
    n = len(diff)
    se = float(diff.std(ddof=1) / np.sqrt(n)) if n > 1 else float("inf")
    return BlendGain(float(diff.mean()), se, bool(diff.mean() > se))


def prefer_default(scores: ValidationScores, weights: Mapping[str, float],
                   default: str = DEFAULT_TERM) -> tuple[dict[str, float], BlendGain | None]:
    """The blend ``weights`` if they beat ``default`` alone by more than one standard error of
    the paired per-user difference on the validation users, else ``default`` alone.

    The one-standard-error rule (Breiman et al. 1984; Hastie et al., *Elements of Statistical
    Learning*, 7.10): on a carve too small to tell the blend from a single strong term, the
    search's choice is mostly noise (with a few hundred validation users, Recall@20 + NDCG@20
    moves by a few hundredths from one resample to the next, more than the gaps between the
    item-item terms), so the simpler scorer is served. RP3β is the default: a sparse item-item
    walk (it scales to any catalogue) that is among the strongest of the simple baselines
    (Dacrema et al. 2019). On a large carve the standard error is small and a better blend is
    kept.

    Returns:
        ``(weights served, the comparison)``; the comparison is ``None`` (and ``weights``
        unchanged) when ``default`` is not a candidate or already the whole blend.
    """
    weights = dict(weights)
    if default not in scores.matrices or not any(w for t, w in weights.items() if t != default):
        return weights, None
    gain = paired_gain(scores.per_user(weights), scores.per_user({default: 1.0}))
    logger.info("blend against %s alone: %+.4f ± %.4f (%s)", default, gain.gain, gain.se,
                "blend served" if gain.kept else f"{default} served")
    if gain.kept:
        return weights, gain
    return {t: float(t == default) for t in weights}, gain


def compare_cold(scores: ValidationScores, plain: Mapping[str, FloatArray],
                 weights: Mapping[str, float]) -> BlendGain | None:
    """Scoring cold items (:class:`ColdItems`, :func:`cold_blend`) against leaving them to the
    terms' own scores, for the blend ``weights``, on the validation users.

    Filling a new item's scores from its text neighbours is what makes it recommendable before
    anyone touches it; where new items are rarely taken up soon, or text says little about what
    is taken, the filled items only push items the user would take out of the list. The carve
    holds items first touched in its held-out part, so it measures which of the two a shop is:
    the fit asks it when the served blend has no text term (the one-SE rule rejected them, and
    the cold scores would be a text-based guess alone), and holds the fill to the blend's
    standard (:func:`prefer_default`): it is served only if it beats no fill by more than one
    standard error of the paired per-user difference.

    Args:
        scores: Validation scores with the cold columns filled (``scores.cold`` set).
        plain: The same standardised matrices without the fill, for the terms the fill changes
            (the others are taken from ``scores``).
        weights: The served blend.

    Returns:
        The comparison, or ``None`` when the carve has no cold items (nothing to compare).
    """
    if scores.cold is None or not len(scores.cold):
        return None
    names = [t for t, w in weights.items() if w]
    w = {t: weights[t] for t in names}
    filled = ValidationScores({t: scores.matrices[t] for t in names}, scores.exclude,
                              scores.targets, cold=scores.cold)
    bare = ValidationScores({t: plain.get(t, scores.matrices[t]) for t in names}, scores.exclude,
                            scores.targets)
    gain = paired_gain(filled.per_user(w), bare.per_user(w))
    logger.info("cold items scored against not: %+.4f ± %.4f (%s)", gain.gain, gain.se,
                "scored" if gain.kept else "left to the terms")
    return gain
