"""The served model ("ours"): a blend of the text-fed GCN and closed-form terms, chosen per graph.

One function fits it (:func:`fit`) and one scores it (:func:`serve`). The full refresh and the
benchmark both call them with the same :class:`FitConfig` (built from the settings) on the same
graph (built with the recipe), so the benchmark measures what the refresh writes as
``INTERESTED_IN``.

The fit makes its own choices on a validation carve of the graph's edges
(:func:`~interest_workers.pipelines.model.splits.carve_validation`): the GCN's epochs (early stopping on
Recall@20), each closed-form term's best variant (:func:`~.blend.variants`) and the blend weights
(:func:`~.blend.choose_weights`). It then refits the GCN and every term of non-zero weight on the
whole graph.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch
from torch_geometric import seed_everything

from interest_graph.settings import Settings

from ...typing import FloatArray, IndexArray
from .baselines import EASE_L2, RP3_ALPHAS, RP3_BETAS, Content
from .blend import (
    TERMS,
    TEXT_TERMS,
    BlendGain,
    BlendScorer,
    ColdItems,
    HistoryTerm,
    ValidationScores,
    Variant,
    choose_weights,
    compare_cold,
    fit_variant,
    prefer_default,
    standardise,
    validation_users,
    variants,
)
from .features import user_features
from .filters import FILTER_BETAS, FILTER_TIMES, GraphFilter
from .gcn import TextGCN, TrainedModel, embed
from .graph_build import InteractionGraph
from .metrics import Targets, embedding_validation, without_targets
from .scores import EmbeddingScorer, Scorer, TopK, top_k_items
from .splits import carve_validation
from .training import train_gcn

logger = logging.getLogger(__name__)

#: Blend when the graph is too small to carve a validation split.
FALLBACK_WEIGHTS = {"gcn": 0.8, "ease": 0.2}
FALLBACK_EASE = Variant("ease", (("l2", 100.0), ("history", "weighted")))
#: The same above the dense item limit (no EASE there).
FALLBACK_SPARSE_WEIGHTS = {"gcn": 0.8, "rp3beta": 0.2}
FALLBACK_RP3 = Variant("rp3beta", (("alpha", 1.0), ("beta", 0.5), ("history", "weighted")))
#: Terms that hold an ``items × items`` dense matrix (EASE inverts the Gram matrix).
DENSE_TERMS = frozenset({"ease"})
#: Users scored at once when serving (part of the served function: row results do not depend
#: on it, but one value everywhere keeps the refresh and the benchmark bit-identical).
SERVE_BATCH = 1024


@dataclass(frozen=True)
class FitConfig:
    """Hyperparameters of the fit and the grids it chooses from.

    Args:
        embedding_dim: GCN embedding width.
        num_layers: LightGCN propagation steps.
        max_epochs: Epoch budget; early stopping on the validation carve picks the count.
        lr: Adam learning rate.
        text_loss_weight: Weight of the text-only ranking term.
        id_dropout: Probability that an item loses its id embedding in a step.
        steps_per_epoch: Batches per epoch (batch size follows the edge count).
        min_batch_size: Smallest batch.
        terms: Candidate terms of the blend (see :data:`~.blend.TERMS`); ``gcn`` is always fitted
            (its embeddings serve segments, similar items and reasons).
        l2_grid: EASE ridge strengths tried.
        rp3_alphas: RP3β powers tried.
        rp3_betas: RP3β popularity penalties tried.
        sequence_decays: Next-item discounts tried.
        filter_betas: The graph filter's ideal low-pass weights tried.
        filter_times: Its sharpening times tried.
        blend_grid: Weights tried per term.
        blend_rounds: Coordinate-ascent sweeps at most.
        blend_resamples: Bootstrap resamples of the validation users the weights are averaged
            over (0: one ascent on all of them).
        cold_neighbours: Text neighbours that score an item nobody has touched.
        max_validation_cells: Bound on validation users × items scored densely (the blend
            search's and the GCN's early stopping: a seeded sample of the carved users above it).
        sampled_edges: Above this many edges the GCN trains on sampled subgraphs (see
            :func:`~.training.train_gcn`'s ``sampled``); ``None`` or 0: always full-batch.
        dense_item_limit: Above this many items the dense item-item terms
            (:data:`DENSE_TERMS`) are left out of the blend, so nothing is ``items × items``
            dense: RP3β, kept sparse (top-k neighbours per item, built in item blocks), is the
            item-item term the validation blend chooses from. ``None``: no limit.
        select_users: Above this many users the choices are made on a seeded sample of this many
            users with all their edges (over the items they touched), so that choosing costs
            the same however large the shop grows; the model is then fitted on every user.
            EASE's ridge strength is scaled by the users' ratio (its Gram matrix grows with
            them). ``None``: every user.
        holdout: Share of each user's edges carved for validation.
        min_items: Users with fewer edges are not carved.
        seed: Seeds initialisation, shuffling, negative sampling and the validation sample.
        device: ``None`` = CUDA when present.
    """

    embedding_dim: int = 64
    num_layers: int = 2
    max_epochs: int = 40
    lr: float = 0.01
    text_loss_weight: float = 0.5
    id_dropout: float = 0.2
    steps_per_epoch: int = 12
    min_batch_size: int = 4096
    terms: tuple[str, ...] = TERMS
    l2_grid: tuple[float, ...] = EASE_L2
    rp3_alphas: tuple[float, ...] = RP3_ALPHAS
    rp3_betas: tuple[float, ...] = RP3_BETAS
    sequence_decays: tuple[float, ...] = (0.5, 0.7, 0.9)
    filter_betas: tuple[float, ...] = FILTER_BETAS
    filter_times: tuple[float, ...] = FILTER_TIMES
    blend_grid: tuple[float, ...] = (0.0, 0.1, 0.25, 0.5, 1.0)
    blend_rounds: int = 3
    blend_resamples: int = 8
    cold_neighbours: int = 20
    max_validation_cells: int = 60_000_000
    dense_item_limit: int | None = 8_000
    select_users: int | None = 20_000
    sampled_edges: int | None = None
    holdout: float = 0.2
    min_items: int = 5
    seed: int = 0
    device: str | None = None

    def __post_init__(self) -> None:
        unknown = set(self.terms) - set(TERMS)
        if unknown or "gcn" not in self.terms:
            raise ValueError(f"terms must include gcn and be among {', '.join(TERMS)}; "
                             f"got {', '.join(self.terms)}")

    @classmethod
    def from_settings(cls, settings: Settings) -> FitConfig:
        """The production config: epoch budget, seed, device and dense item limit from the
        settings."""
        config = cls(max_epochs=settings.train_epochs, seed=settings.seed, device=settings.device,
                     dense_item_limit=settings.dense_item_limit,
                     select_users=settings.select_users,
                     sampled_edges=settings.sampled_edges or None)
        return config.quick() if settings.model_search == "quick" else config

    def quick(self) -> FitConfig:
        """The same fit with each numeric grid cut to its middle value (a term still chooses
        between binary and weighted history) and one ascent of the blend weights without
        resamples: every term is still fitted and weighed on the carve."""

        def middle(grid: tuple[float, ...]) -> tuple[float, ...]:
            return grid[len(grid) // 2:][:1]

        return replace(self, l2_grid=middle(self.l2_grid), rp3_alphas=middle(self.rp3_alphas),
                       rp3_betas=middle(self.rp3_betas),
                       sequence_decays=middle(self.sequence_decays),
                       filter_betas=middle(self.filter_betas),
                       filter_times=middle(self.filter_times), blend_rounds=1,
                       blend_resamples=0)

    def dense_allowed(self, num_items: int) -> bool:
        return self.dense_item_limit is None or num_items <= self.dense_item_limit

    def terms_for(self, num_items: int) -> tuple[str, ...]:
        """The candidate terms for a catalogue of ``num_items`` (see ``dense_item_limit``)."""
        if self.dense_allowed(num_items):
            return self.terms
        return tuple(t for t in self.terms if t not in DENSE_TERMS)

    def selection_users(self, graph: InteractionGraph) -> IndexArray | None:
        """The users the choices are made on (``None``: every user; see ``select_users``)."""
        if self.select_users is None or graph.num_users <= self.select_users:
            return None
        rng = np.random.default_rng(self.seed)
        return np.sort(rng.choice(graph.num_users, self.select_users, replace=False))

    def sampled(self, num_edges: int) -> bool:
        """Whether a graph of ``num_edges`` edges trains on sampled subgraphs."""
        return self.sampled_edges is not None and 0 < self.sampled_edges < num_edges

    def batch_size(self, num_edges: int) -> int:
        return max(self.min_batch_size, math.ceil(num_edges / self.steps_per_epoch))

    def variants(self, term: str) -> list[Variant]:
        return variants(term, l2_grid=self.l2_grid, rp3_alphas=self.rp3_alphas,
                        rp3_betas=self.rp3_betas, sequence_decays=self.sequence_decays,
                        filter_betas=self.filter_betas, filter_times=self.filter_times)


@dataclass(frozen=True)
class Selection:
    """What the validation carve chose.

    Attributes:
        epochs: GCN epochs.
        variants: The chosen variant of each closed-form term of non-zero weight.
        weights: Blend weight by term (terms of weight 0 left out).
        val_score: The blend's Recall@20 + NDCG@20 on the carve (None: no carve).
        val_recall: The GCN's Recall@20 there (None: no carve).
        singles: Each term's own Recall@20 + NDCG@20 there (its best variant).
        blend_gain: The searched blend against the default term there
            (:func:`~.blend.prefer_default`; None: not compared).
        cold_items: Whether items nobody has touched are scored from their text neighbours
            (:class:`~.blend.ColdItems`); else the terms score them as they do any item.
        cold_gain: That choice on the carve (:func:`~.blend.compare_cold`), made when no text
            term is served (None: a text term is served, the carve had no cold items, or no
            carve).
    """

    epochs: int
    variants: dict[str, Variant]
    weights: dict[str, float]
    val_score: float | None
    val_recall: float | None
    singles: dict[str, float] = field(default_factory=dict)
    blend_gain: BlendGain | None = None
    cold_items: bool = True
    cold_gain: BlendGain | None = None
    selected_on: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"epochs": self.epochs, "weights": dict(self.weights),
                "variants": {k: v.as_dict() for k, v in self.variants.items()},
                "val_score": self.val_score, "val_recall@20": self.val_recall,
                "val_singles": dict(self.singles),
                "val_blend_gain": None if self.blend_gain is None else self.blend_gain.as_dict(),
                "cold_items": self.cold_items,
                "val_cold_gain": None if self.cold_gain is None else self.cold_gain.as_dict(),
                "selected_on_users": self.selected_on}


@dataclass
class InterestModel:
    """A fitted model: the GCN (with what re-embedding needs), the blended terms, the choices.

    Attributes:
        trained: The GCN with its training graph and features.
        terms: The closed-form terms of non-zero weight, fitted on the whole graph.
        selection: Epochs, variants and weights.
        user_emb: ``(U, D)`` user embeddings of the training graph.
        item_emb: ``(I, D)`` item embeddings.
        user_text_x: ``(U, D_t)`` users' own text embeddings (the content term's input).
        cold_neighbours: Text neighbours that score an item nobody has touched.
    """

    trained: TrainedModel
    terms: dict[str, HistoryTerm]
    selection: Selection
    user_emb: torch.Tensor
    item_emb: torch.Tensor
    user_text_x: FloatArray
    cold_neighbours: int = 20

    def scorer(self, graph: InteractionGraph | None = None, user_emb: torch.Tensor | None = None,
               item_emb: torch.Tensor | None = None, item_x: FloatArray | None = None,
               user_text_x: FloatArray | None = None) -> BlendScorer:
        """The blended scorer of the training graph; with ``graph`` (a changed graph whose first
        items are the trained ones) and its embeddings and text features, the fitted terms score
        its users' current histories, and items new since the fit are scored from their text."""
        base = self.trained.graph
        if graph is None:
            graph, item_x, user_text_x = base, self.trained.item_x, self.user_text_x
        if item_x is None or user_text_x is None:
            raise ValueError("a changed graph needs its item_x and user_text_x")
        emb = EmbeddingScorer(self.user_emb if user_emb is None else user_emb,
                              self.item_emb if item_emb is None else item_emb)
        terms: dict[str, Scorer] = {"gcn": emb}
        for name, term in self.terms.items():
            if graph is base:
                terms[name] = term
            elif name == "content":
                terms[name] = Content(item_x, user_text_x).fit(graph)
            else:
                terms[name] = term.with_history(graph)
        warm = np.zeros(graph.num_items, bool)
        warm[: base.num_items] = base.item_degree() > 0
        cold = ColdItems(item_x, warm, self.cold_neighbours) if self.selection.cold_items else None
        return BlendScorer(terms, self.selection.weights, cold)


def new_gcn(graph: InteractionGraph, text_dim: int, config: FitConfig) -> TextGCN:
    seed_everything(config.seed)
    return TextGCN(graph.num_users, graph.num_items, text_dim, config.embedding_dim,
                   config.num_layers, id_dropout=config.id_dropout)


def _select(sub: InteractionGraph, targets: Targets, exclude: sp.csr_matrix, item_x: FloatArray,
            user_text_x: FloatArray, config: FitConfig, batch_size: int, catalogue: int
            ) -> Selection:
    """Train on the carved graph with early stopping, pick each term's variant, blend among the
    terms allowed for a catalogue of ``catalogue`` items (the served graph's)."""
    # A user's own text (reviews) may describe the carved items: the carve hides it too.
    user_text_x = np.array(user_text_x, np.float32, copy=True)
    user_text_x[targets.users] = 0.0
    user_x = user_features(sub, item_x, user_text_x)
    gcn = new_gcn(sub, item_x.shape[1], config)
    # One seeded sample of the carved users for early stopping and the blend search alike.
    val = validation_users(targets, sub.num_items, config.max_validation_cells, config.seed)
    res = train_gcn(
        gcn, sub, user_x, item_x, epochs=config.max_epochs, lr=config.lr, batch_size=batch_size,
        text_loss_weight=config.text_loss_weight, validation=embedding_validation(exclude, val),
        seed=config.seed, device=config.device, sampled=config.sampled(sub.num_edges),
    )
    logger.info("validation gcn: %d epochs, best %d (%.1f s)", res.epochs, res.best_epoch,
                res.fit_s)
    ue, ie = embed(gcn, sub, user_x, item_x, device=config.device)
    rows = val.users
    local = Targets(np.arange(len(rows)), val.items, val.sizes, val.cold_items)
    cold = ColdItems(item_x, sub.item_degree() > 0, config.cold_neighbours)
    scores = ValidationScores({}, sp.csr_matrix(exclude[rows]), local, cold=cold.cold)

    def matrix(name: str, s: FloatArray) -> tuple[FloatArray, FloatArray | None]:
        """Standardised scores with the cold columns filled, and the raw scores the fill changed
        (``None``: it changes nothing)."""
        s = np.asarray(s, dtype=np.float32)
        if name in TEXT_TERMS or not len(cold.cold):
            return standardise(s), None
        return standardise(cold.fill(np.array(s, copy=True))), s

    scores.matrices["gcn"] = matrix("gcn", EmbeddingScorer(ue, ie).score(rows))[0]
    singles = {"gcn": scores.evaluate({"gcn": 1.0})}
    chosen: dict[str, Variant] = {}
    unfilled: dict[str, FloatArray] = {}  # the chosen variant's raw scores, per term
    shared: dict[str, Any] = {"rp3beta_betas": config.rp3_betas}
    for term in config.terms_for(catalogue):
        if term == "gcn":
            continue
        for variant, raw_scores, started in _candidates(term, config, sub, rows, item_x,
                                                         user_text_x, shared):
            m, raw = matrix(term, raw_scores)
            value = ValidationScores({term: m}, scores.exclude, local).evaluate({term: 1.0})
            logger.info("validation %s: %.4f (%.1f s)", variant, value,
                        time.perf_counter() - started)
            if term not in singles or value > singles[term]:
                singles[term], chosen[term] = value, variant
                scores.matrices[term] = m
                if raw is not None:
                    unfilled[term] = raw
    weights, best = choose_weights(scores, config.blend_grid, config.blend_rounds,
                                   resamples=config.blend_resamples, seed=config.seed)
    weights, gain = prefer_default(scores, weights)
    if gain is not None and not gain.kept:
        best = scores.evaluate(weights)
    weights = {t: w for t, w in weights.items() if w}
    # Text terms in the served blend earned their place on the carve with cold items scored by
    # them; without one, the only cold scores are imputed from text neighbours, and the carve
    # must show that this text-based guess pays too (blend.compare_cold).
    served_text = any(t in TEXT_TERMS for t in weights)
    cold_gain = None if served_text else compare_cold(
        scores, {t: standardise(unfilled[t]) for t in weights if t in unfilled}, weights)
    cold_items = served_text or (cold_gain is not None and cold_gain.kept)
    kept = {t: v for t, v in chosen.items() if t in weights}
    return Selection(max(res.best_epoch, 1), kept, weights, best, res.best_val, singles, gain,
                     cold_items, cold_gain)


def _candidates(term: str, config: FitConfig, sub: InteractionGraph, rows: IndexArray,
                item_x: FloatArray, user_text_x: FloatArray, shared: dict[str, Any]
                ) -> Iterator[tuple[Variant, FloatArray, float]]:
    """Each variant of ``term`` with its raw scores of ``rows`` (and when its work began): the
    graph filter's whole grid from one set of sharpening powers, the others one by one."""
    if term == "filter":
        started = time.perf_counter()
        base = fit_variant(config.variants("filter")[0], sub, item_x, user_text_x, shared)
        assert isinstance(base, GraphFilter)
        for beta, t, s in base.grid(rows, config.filter_betas, config.filter_times):
            yield Variant("filter", (("beta", beta), ("time", t))), s, started
            started = time.perf_counter()
        return
    for variant in config.variants(term):
        started = time.perf_counter()
        scorer = fit_variant(variant, sub, item_x, user_text_x, shared)
        yield variant, np.asarray(scorer.score(rows), dtype=np.float32), started


def _scaled_to(selection: Selection, ratio: float, users: int) -> Selection:
    """The choices made on a sample of ``users`` users, for ``ratio`` times as many: EASE's ridge
    strength grows with the Gram matrix it regularises; the other choices carry over (the GCN's
    epochs are the same number of steps, each over the same share of the edges)."""
    chosen = dict(selection.variants)
    if "ease" in chosen:
        params = dict(chosen["ease"].params)
        params["l2"] = float(params["l2"]) * ratio
        chosen["ease"] = Variant("ease", tuple(params.items()))
    return replace(selection, variants=chosen, selected_on=users)


def fit(
    graph: InteractionGraph,
    item_x: FloatArray,
    user_text_x: FloatArray,
    exclude: sp.csr_matrix,
    config: FitConfig,
    *,
    version: str = "",
    encoder_name: str = "",
) -> InterestModel:
    """Fit the served model on ``graph``, making every choice on a carve of its own edges.

    Args:
        graph: The training graph (recipe weights, ``edge_first_ts`` for the carve).
        item_x: ``(I, D_t)`` item text features.
        user_text_x: ``(U, D_t)`` users' own text embeddings (zero rows for none).
        exclude: ``(U, I)`` what each user consumed (never recommended, never a target).
        config: Hyperparameters and grids.
        version: Saved with the model.
        encoder_name: The text encoder (features must come from the same one later).

    Returns:
        The model refitted on the whole graph.
    """
    batch_size = config.batch_size(graph.num_edges)
    sample = config.selection_users(graph)
    chosen_on, on_item_x, on_user_text, on_exclude = graph, item_x, user_text_x, exclude
    if sample is not None:
        chosen_on, items = graph.user_subgraph(sample)
        on_item_x, on_user_text = item_x[items], user_text_x[sample]
        on_exclude = sp.csr_matrix(exclude)[sample][:, items]
    sub, targets = carve_validation(chosen_on, holdout=config.holdout, min_items=config.min_items)
    if len(targets.users) and sub.num_edges:
        selection = _select(sub, targets, without_targets(on_exclude, targets), on_item_x,
                            on_user_text, config, config.batch_size(chosen_on.num_edges),
                            graph.num_items)
        if sample is not None:
            selection = _scaled_to(selection, graph.num_users / len(sample), len(sample))
    else:
        dense = config.dense_allowed(graph.num_items)
        selection = Selection(config.max_epochs,
                              {"ease": FALLBACK_EASE} if dense else {"rp3beta": FALLBACK_RP3},
                              dict(FALLBACK_WEIGHTS if dense else FALLBACK_SPARSE_WEIGHTS),
                              None, None)
    logger.info("interest model: %s", selection.as_dict())
    user_x = user_features(graph, item_x, user_text_x)
    gcn = new_gcn(graph, item_x.shape[1], config)
    refit = train_gcn(gcn, graph, user_x, item_x, epochs=selection.epochs, lr=config.lr,
                      batch_size=batch_size, text_loss_weight=config.text_loss_weight,
                      seed=config.seed, device=config.device,
                      sampled=config.sampled(graph.num_edges))
    logger.info("gcn on every user: %d epochs (%.1f s)", refit.epochs, refit.fit_s)
    trained = TrainedModel(gcn, graph, user_x, item_x, version, encoder_name=encoder_name)
    user_emb, item_emb = trained.embeddings(device=config.device)
    terms: dict[str, HistoryTerm] = {
        name: fit_variant(variant, graph, item_x, user_text_x)  # type: ignore[misc]
        for name, variant in selection.variants.items()}
    return InterestModel(trained, terms, selection, user_emb, item_emb,
                         np.asarray(user_text_x, np.float32), config.cold_neighbours)


def serve(scorer: Scorer, exclude: sp.csr_matrix, k: int, users: IndexArray | None = None
          ) -> TopK:
    """The served top-``k`` per user: what the refresh writes and the benchmark measures.

    Args:
        scorer: :meth:`InterestModel.scorer`.
        exclude: ``(U, I)`` what each user consumed.
        k: Items per user.
        users: ``(B,)`` users; default all rows of ``exclude``.

    Returns:
        Ties break towards the lower item index; ``-1`` pads when fewer items are eligible.
    """
    users = np.arange(exclude.shape[0]) if users is None else users
    return top_k_items(scorer, k, users=users, exclude=exclude, batch_size=SERVE_BATCH)
