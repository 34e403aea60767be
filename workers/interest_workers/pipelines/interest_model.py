"""The served model ("ours"): the text-fed GCN blended with an EASE item-item term.

One function fits it (:func:`fit`) and one scores it (:func:`serve`). The full refresh and the
benchmark both call them with the same :class:`FitConfig` (built from the settings) on the same
graph (built with the recipe), so the benchmark measures what the refresh writes as
``INTERESTED_IN``.

The fit makes its own choices on a validation carve of the graph's edges
(:func:`~interest_workers.pipelines.splits.carve_validation`): the GCN's epochs (early stopping on
Recall@20), EASE's λ and the blend weight. It then refits on the whole graph with them.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch
from torch_geometric import seed_everything

from interest_graph.settings import Settings

from ..typing import FloatArray, IndexArray
from . import baselines
from .features import user_features
from .gcn import TextGCN, TrainedModel, embed
from .graph_build import InteractionGraph
from .metrics import Targets, embedding_validation, evaluate_scorer, without_targets
from .scores import BlendScorer, EmbeddingScorer, Scorer, TopK, top_k_items
from .splits import carve_validation
from .training import train_gcn

logger = logging.getLogger(__name__)

#: Blend weight of the GCN when the graph is too small to carve a validation split.
FALLBACK_GCN_WEIGHT = 0.8
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
        l2_grid: EASE ridge strengths tried.
        gcn_weights: Blend weights of the GCN tried (the rest goes to EASE).
        holdout: Share of each user's edges carved for validation.
        min_items: Users with fewer edges are not carved.
        seed: Seeds initialisation, shuffling and negative sampling.
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
    l2_grid: tuple[float, ...] = (100.0, 300.0, 1000.0)
    gcn_weights: tuple[float, ...] = (0.0, 0.2, 0.35, 0.5, 0.65, 0.8, 1.0)
    holdout: float = 0.2
    min_items: int = 5
    seed: int = 0
    device: str | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> FitConfig:
        """The production config: epoch budget, seed and device from the settings."""
        return cls(max_epochs=settings.train_epochs, seed=settings.seed, device=settings.device)

    def batch_size(self, num_edges: int) -> int:
        return max(self.min_batch_size, math.ceil(num_edges / self.steps_per_epoch))


@dataclass(frozen=True)
class Selection:
    """What the validation carve chose (``val_recall`` is None when there was no carve)."""

    epochs: int
    l2: float
    gcn_weight: float
    val_recall: float | None

    def as_dict(self) -> dict[str, Any]:
        return {"epochs": self.epochs, "item_l2": self.l2, "gcn_weight": self.gcn_weight,
                "val_recall@20": self.val_recall}


@dataclass
class InterestModel:
    """A fitted model: the GCN (with what re-embedding needs), the item-item term, the choices.

    Attributes:
        trained: The GCN with its training graph and features.
        item_term: EASE fitted on the row-scaled weighted matrix.
        selection: Epochs, λ and blend weight.
        user_emb: ``(U, D)`` user embeddings of the training graph.
        item_emb: ``(I, D)`` item embeddings.
    """

    trained: TrainedModel
    item_term: baselines.EASE
    selection: Selection
    user_emb: torch.Tensor
    item_emb: torch.Tensor

    def scorer(self, graph: InteractionGraph | None = None, user_emb: torch.Tensor | None = None,
               item_emb: torch.Tensor | None = None) -> BlendScorer:
        """The blended scorer; with ``graph`` (and its embeddings), a changed graph is scored
        with the fitted item-item weights and the users' current histories."""
        term = self.item_term
        if graph is not None:
            term = self.item_term.with_history(graph)
        return BlendScorer(
            [EmbeddingScorer(self.user_emb if user_emb is None else user_emb,
                             self.item_emb if item_emb is None else item_emb), term],
            [self.selection.gcn_weight, 1.0 - self.selection.gcn_weight],
        )


def _new_gcn(graph: InteractionGraph, text_dim: int, config: FitConfig) -> TextGCN:
    seed_everything(config.seed)
    return TextGCN(graph.num_users, graph.num_items, text_dim, config.embedding_dim,
                   config.num_layers, id_dropout=config.id_dropout)


def _score_key(m: dict[str, float | None]) -> float:
    return float(m["recall@20"] or 0.0) + float(m["ndcg@20"] or 0.0)


def _select(sub: InteractionGraph, targets: Targets, exclude: sp.csr_matrix, item_x: FloatArray,
            user_text_x: FloatArray, config: FitConfig, batch_size: int) -> Selection:
    """Train on the carved graph with early stopping, then grid λ × blend weight."""
    user_x = user_features(sub, item_x, user_text_x)
    gcn = _new_gcn(sub, item_x.shape[1], config)
    res = train_gcn(
        gcn, sub, user_x, item_x, epochs=config.max_epochs, lr=config.lr, batch_size=batch_size,
        text_loss_weight=config.text_loss_weight,
        validation=embedding_validation(exclude, targets), seed=config.seed, device=config.device,
    )
    ue, ie = embed(gcn, sub, user_x, item_x, device=config.device)
    best: tuple[float, float, float] | None = None
    for l2 in config.l2_grid:
        term = baselines.EASE(l2, history="weighted").fit(sub)
        for w in config.gcn_weights:
            scorer = BlendScorer([EmbeddingScorer(ue, ie), term], [w, 1.0 - w])
            key = _score_key(evaluate_scorer(scorer, exclude, targets))
            if best is None or key > best[0]:
                best = (key, l2, w)
    assert best is not None
    return Selection(max(res.best_epoch, 1), best[1], best[2], res.best_val)


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
    """Fit the served model on ``graph``, choosing epochs, λ and blend weight on its own edges.

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
    sub, targets = carve_validation(graph, holdout=config.holdout, min_items=config.min_items)
    if len(targets.users) and sub.num_edges:
        selection = _select(sub, targets, without_targets(exclude, targets), item_x, user_text_x, config,
                            batch_size)
    else:
        selection = Selection(config.max_epochs, config.l2_grid[0], FALLBACK_GCN_WEIGHT, None)
    logger.info("interest model: %s", selection)
    user_x = user_features(graph, item_x, user_text_x)
    gcn = _new_gcn(graph, item_x.shape[1], config)
    train_gcn(gcn, graph, user_x, item_x, epochs=selection.epochs, lr=config.lr,
              batch_size=batch_size, text_loss_weight=config.text_loss_weight, seed=config.seed,
              device=config.device)
    trained = TrainedModel(gcn, graph, user_x, item_x, version, encoder_name=encoder_name)
    user_emb, item_emb = trained.embeddings(device=config.device)
    term = baselines.EASE(selection.l2, history="weighted").fit(graph)
    return InterestModel(trained, term, selection, user_emb, item_emb)


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
