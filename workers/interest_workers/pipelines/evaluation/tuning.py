"""The baselines of the evaluation, each tuned on the validation carve with a comparable budget.

Every method is fitted on the carved graph for each point of a small grid (a dozen fits at most;
trained models keep their best epoch by early stopping on the same carve), the best point by
Recall@20 + NDCG@20 on the carved items is refitted on the whole training graph, and that is what
the test split scores. The grids follow each method's paper or library defaults:

==============  =============================================================================
popularity      none
content         none (text only: :class:`~.baselines.Content`)
itemknn         k ∈ {50, 200}
ease            λ ∈ {30, 100, 300, 1000}
rp3beta         α ∈ {0.5, 0.75, 1}, β ∈ {0, 0.3, 0.6}, 200 neighbours
implicit_als    factors ∈ {64, 128}, regularisation ∈ {0.01, 0.1}, α ∈ {1, 10, 40}, 15 sweeps
implicit_bpr    factors ∈ {64, 128}, learning rate ∈ {0.01, 0.05}, ≤ 200 epochs (early stop)
multvae         β ∈ {0.2, 1}, ≤ 200 epochs (early stop); the paper's 600-200 architecture
lightgcn        learning rate ∈ {0.02, 0.05}, 3 layers, 12 batches an epoch, ≤ 120 epochs (early stop)
==============  =============================================================================

The LightGCN peer is trained as its paper trains it (:mod:`~.lightgcn`) but on a routine budget
(:data:`ROUTINE_LIGHTGCN`), not the published one (batches of 2048 at 1e-3 for about 1,000
epochs: hours to days on two CPU cores at Gowalla's size); ``benchmarks/lightgcn_reproduction.py``
measures the published budget and the gap between the two.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import scipy.sparse as sp

from ...typing import FloatArray
from ..model import baselines
from ..model.graph_build import InteractionGraph
from ..model.metrics import Targets, evaluate_scorer
from ..model.scores import Scorer
from . import lightgcn, peers

logger = logging.getLogger(__name__)

#: The LightGCN peer's budget in the routine benchmark (its learning rate is tuned).
ROUTINE_LIGHTGCN: dict[str, Any] = {"epochs": 120, "batch_size": None, "steps_per_epoch": 12}

BASELINES = ("popularity", "content", "itemknn", "ease", "rp3beta", "implicit_als", "implicit_bpr",
             "multvae", "lightgcn")


def score_key(m: Mapping[str, float | None]) -> float:
    """What validation maximises: Recall@20 + NDCG@20."""
    return float(m["recall@20"] or 0.0) + float(m["ndcg@20"] or 0.0)


@dataclass(frozen=True)
class Validation:
    """The carved graph, what it excludes and its held-out items."""

    graph: InteractionGraph
    exclude: sp.csr_matrix
    targets: Targets

    def score(self, scorer: Scorer) -> float:
        return score_key(evaluate_scorer(scorer, self.exclude, self.targets))

    def recall(self, scorer: Scorer) -> float:
        return float(evaluate_scorer(scorer, self.exclude, self.targets)["recall@20"] or 0.0)


def _grid(**axes: Sequence[Any]) -> list[dict[str, Any]]:
    keys = list(axes)
    return [dict(zip(keys, values)) for values in itertools.product(*(axes[k] for k in keys))]


@dataclass(frozen=True)
class Tuned:
    """A baseline refitted on the whole graph with the chosen parameters."""

    scorer: Scorer
    params: dict[str, Any]


def fit_baseline(name: str, graph: InteractionGraph, val: Validation, *, item_x: FloatArray,
                 user_text_x: FloatArray, seed: int = 0, device: str | None = None) -> Tuned:
    """Tune ``name`` on ``val`` and refit it on ``graph``.

    Raises:
        ValueError: unknown method.
    """
    make: Any
    trained = False
    if name == "popularity":
        return Tuned(baselines.Popularity().fit(graph), {})
    if name == "content":
        return Tuned(baselines.Content(item_x, user_text_x).fit(graph), {})
    if name == "itemknn":
        grid, make = _grid(k=(50, 200)), baselines.ItemKNN
    elif name == "ease":
        grid, make = _grid(l2=baselines.EASE_L2), baselines.EASE
    elif name == "rp3beta":
        grid, make = _grid(alpha=baselines.RP3_ALPHAS, beta=baselines.RP3_BETAS), baselines.RP3Beta
    elif name == "implicit_als":
        grid = _grid(factors=(64, 128), regularization=(0.01, 0.1), alpha=(1.0, 10.0, 40.0))
        make = lambda **p: peers.ImplicitALS(seed=seed, **p)  # noqa: E731
    elif name == "implicit_bpr":
        grid, trained = _grid(factors=(64, 128), learning_rate=(0.01, 0.05)), True
        make = lambda **p: peers.ImplicitBPR(seed=seed, **p)  # noqa: E731
    elif name == "multvae":
        grid, trained = _grid(beta=(0.2, 1.0)), True
        make = lambda **p: peers.MultVAE(seed=seed, device=device, **p)  # noqa: E731
    elif name == "lightgcn":
        grid, trained = _grid(lr=(0.02, 0.05)), True
        make = lambda **p: lightgcn.LightGCN(seed=seed, **{**ROUTINE_LIGHTGCN, **p})  # noqa: E731
    else:
        raise ValueError(f"unknown baseline {name!r}; valid: {', '.join(BASELINES)}")
    best: tuple[float, dict[str, Any]] | None = None
    for params in grid:
        model = make(**params)
        if trained:
            model.fit(val.graph, validation=val.recall)
            params = {**params, **_stopped_at(model)}
        else:
            model.fit(val.graph)
        key = val.score(model)
        logger.info("%s %s: validation %.4f", name, params, key)
        if best is None or key > best[0]:
            best = (key, params)
    assert best is not None
    return Tuned(make(**best[1]).fit(graph), best[1])


def _stopped_at(model: Any) -> dict[str, int]:
    """The epoch budget for the refit: where early stopping kept the best checkpoint."""
    if isinstance(model, peers.ImplicitBPR):
        return {"iterations": model.best_iteration}
    if isinstance(model, peers.MultVAE):
        return {"epochs": model.best_epoch}
    if isinstance(model, lightgcn.LightGCN):
        return {"epochs": max(model.train_result.best_epoch, 1)}
    raise TypeError(type(model).__name__)
