"""Training the text-fed GCN: weighted BPR, a text-only ranking term and early stopping.

A plain function, as PyG's ``examples/lightgcn.py`` trains LightGCN: each step propagates over
the whole graph (full-batch), or, on large graphs, over the subgraph of a random share of the
users with all their edges (``sampled``, a GraphSAINT-style node sampler), so that an epoch costs
about one whole-graph propagation instead of one per step.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ...typing import FloatArray
from .gcn import TextGCN, embed
from .graph_build import InteractionGraph
from .propagation import (
    Propagation,
    bipartite_edges,
    normalize_edges,
    operator_matrix,
    propagation,
    resolve_device,
)

logger = logging.getLogger(__name__)


@dataclass
class TrainResult:
    """What a training run did.

    Attributes:
        epochs: Epochs run.
        best_epoch: Epoch whose weights were kept (``epochs`` without validation).
        best_val: Validation metric at ``best_epoch`` (``nan`` without validation).
        history: ``(epoch, mean loss, val metric or nan)`` rows.
        fit_s: Wall-clock seconds.
    """

    epochs: int
    best_epoch: int
    best_val: float
    history: list[tuple[int, float, float]] = field(default_factory=list)
    fit_s: float = 0.0
    _best_state: dict[str, Tensor] | None = field(default=None, repr=False)
    _bad_rounds: int = field(default=0, repr=False)

    def validated(self, epoch: int, val: float, module: torch.nn.Module) -> None:
        """Early stopping's bookkeeping: keep ``module``'s weights when ``val`` is the best so
        far, else count one more validation round without a gain."""
        if math.isnan(self.best_val) or val > self.best_val:
            self.best_val, self.best_epoch = val, epoch
            self._best_state = copy.deepcopy(module.state_dict())
            self._bad_rounds = 0
        else:
            self._bad_rounds += 1

    def stalled(self, patience: int) -> bool:
        """Whether ``patience`` validation rounds in a row brought no gain."""
        return self._bad_rounds >= patience

    def finish(self, module: torch.nn.Module, started: float) -> TrainResult:
        """Load the best weights into ``module`` (without validation: the last epoch's count)
        and record the wall-clock seconds since ``started``."""
        if self._best_state is not None:
            module.load_state_dict(self._best_state)
            self._best_state = None
        else:
            self.best_epoch = self.epochs
        self.fit_s = time.perf_counter() - started
        return self


@contextlib.contextmanager
def _deterministic(enabled: bool) -> Iterator[None]:
    previous = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(enabled or previous)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(previous)


def _sample_weights(raw: Tensor) -> Tensor:
    w = torch.log1p(raw)
    return w / w.mean().clamp(min=1e-12)


class _Product(torch.autograd.Function):
    """``A @ x`` with ``Aᵀ`` kept for the gradient (a sampled subgraph's operator is not
    symmetric: its item rows are rescaled)."""

    @staticmethod
    def forward(ctx: Any, matrix: Tensor, transpose: Tensor, x: Tensor) -> Tensor:
        ctx.transpose = transpose
        out: Tensor = torch.sparse.mm(matrix, x)
        return out

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[None, None, Tensor]:
        out: Tensor = torch.sparse.mm(ctx.transpose, grad)
        return None, None, out


@dataclass(frozen=True)
class _SampledPropagation(Propagation):
    transpose: Tensor | None = None

    def apply(self, x: Tensor) -> Tensor:
        out: Tensor = _Product.apply(self.matrix, self.transpose, x)  # type: ignore[no-untyped-call]
        return out


class _UserSampler:
    """Steps over random shares of the users, each with all their edges.

    A step's subgraph holds its users ``S``, the items they touched and the step's negatives.
    Propagation there uses the whole graph's normalised weights: a user's row is exact (all its
    edges are in), an item's row sums over the users of ``S`` only and is scaled by ``U / |S|``,
    an unbiased estimate of its whole-graph row (GraphSAINT's node sampler, Zeng et al. 2020).
    """

    def __init__(self, graph: InteractionGraph, transform: str) -> None:
        self.U, self.I = graph.num_users, graph.num_items
        self.users, self.items = graph.edge_index[0], graph.edge_index[1]
        both = bipartite_edges(graph.edge_index, self.U)
        norm = normalize_edges(both, torch.cat([graph.edge_weight] * 2), self.U + self.I,
                               transform=transform)
        self.norm = norm[: graph.num_edges].float()  # symmetric: the same value both ways
        degree = torch.bincount(self.users, minlength=self.U)
        self.isolated_user = degree == 0

    def step(self, chosen: Tensor, warm_items: Tensor, gen: torch.Generator, dev: torch.device
             ) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor, _SampledPropagation]:
        """One step's subgraph: ``(edge ids, one negative item per edge, local index of every
        user, local index of every item, the local items, operator)``. Users and items outside
        the subgraph map to ``-1``; local nodes are the users of ``chosen``, then the items."""
        in_step = torch.zeros(self.U, dtype=torch.bool)
        in_step[chosen] = True
        edges = torch.nonzero(in_step[self.users]).flatten()
        eu, ei = self.users[edges], self.items[edges]
        negs = warm_items[torch.randint(len(warm_items), (len(edges),), generator=gen)]
        local_user = torch.full((self.U,), -1, dtype=torch.long)
        local_user[chosen] = torch.arange(len(chosen))
        items = torch.unique(torch.cat([ei, negs]))
        local_item = torch.full((self.I,), -1, dtype=torch.long)
        local_item[items] = torch.arange(len(items)) + len(chosen)
        n = len(chosen) + len(items)
        lu, li = local_user[eu], local_item[ei]
        w = self.norm[edges]
        scale = self.U / max(len(chosen), 1)
        loops = local_user[chosen[self.isolated_user[chosen]]]
        rows = torch.cat([lu, li, loops])
        cols = torch.cat([li, lu, loops])
        values = torch.cat([w, w * scale, torch.ones(len(loops))])
        op = _SampledPropagation(operator_matrix(torch.stack([rows, cols]), values, n, dev),
                                 operator_matrix(torch.stack([cols, rows]), values, n, dev))
        return edges, negs, local_user, local_item, items, op


ValidationFn = Callable[[Tensor, Tensor], float]
"""``(user embeddings (U, D), item embeddings (I, D)) -> metric`` (higher is better)."""


def _sampled_epoch(model: TextGCN, sampler: _UserSampler, ux: Tensor, ix: Tensor, pos_w: Tensor,
                   warm_items: Tensor, optimizer: torch.optim.Optimizer, gen: torch.Generator,
                   dev: torch.device, *, batch_size: int, text_loss_weight: float,
                   weight_decay: float) -> tuple[float, int]:
    """One epoch over sampled subgraphs (see :class:`_UserSampler`): ``(loss sum, steps)``."""
    steps = max(1, math.ceil(len(pos_w) / batch_size))
    total = 0.0
    for chosen in torch.randperm(sampler.U, generator=gen).chunk(steps):
        chosen = torch.sort(chosen).values
        edges, negs, local_user, local_item, items, op = sampler.step(chosen, warm_items, gen,
                                                                      dev)
        mask = (torch.rand(sampler.I, generator=gen) >= model.id_dropout).float()
        if not len(edges):
            continue
        users_d, items_d = chosen.to(dev), items.to(dev)
        item_text = model.item_text_embedding(ix.index_select(0, items_d))
        h0 = torch.cat([model.user_embedding.weight.index_select(0, users_d)
                        + model.user_text(ux.index_select(0, users_d)),
                        model.item_embedding.weight.index_select(0, items_d)
                        * mask[items].to(dev).unsqueeze(-1) + item_text])
        z = model.propagate_layers(h0, op)
        lu = local_user[sampler.users[edges]].to(dev)
        lp = local_item[sampler.items[edges]].to(dev)
        ln = local_item[negs].to(dev)
        zu, zp, zn = z.index_select(0, lu), z.index_select(0, lp), z.index_select(0, ln)
        w_b = pos_w[edges].to(dev)
        loss = model.recommendation_loss((zu * zp).sum(-1), (zu * zn).sum(-1), w_b)
        if text_loss_weight > 0:
            n_users = len(chosen)
            tp, tn = item_text.index_select(0, lp - n_users), item_text.index_select(0, ln - n_users)
            loss = loss + text_loss_weight * model.recommendation_loss(
                (zu * tp).sum(-1), (zu * tn).sum(-1), w_b)
        occurs = torch.bincount(torch.cat([lu, lp, ln]), minlength=h0.size(0)).to(h0.dtype)
        loss = loss + weight_decay * (occurs * h0.pow(2).sum(-1)).sum() / len(edges)
        optimizer.zero_grad()
        loss.backward()  # type: ignore[no-untyped-call]
        optimizer.step()
        total += float(loss.detach())
    return total, steps


def train_gcn(
    model: TextGCN,
    graph: InteractionGraph,
    user_x: FloatArray,
    item_x: FloatArray,
    *,
    epochs: int = 50,
    lr: float = 0.005,
    batch_size: int = 4096,
    weight_decay: float = 1e-4,
    text_loss_weight: float = 0.5,
    weighted_loss: bool = True,
    edge_transform: str = "log1p",
    validation: ValidationFn | None = None,
    eval_every: int = 2,
    patience: int = 4,
    seed: int = 0,
    device: str | torch.device | None = None,
    deterministic: bool | None = None,
    sampled: bool = False,
) -> TrainResult:
    """Train ``model`` with (weighted) BPR on the graph's edges, one uniform negative per edge.

    The loss per batch is ``BPR(z_u·z_i+, z_u·z_i-) + text_loss_weight · BPR(z_u·Wx_i+, z_u·Wx_i-)
    + weight_decay · ||h0_batch||² / B``. Negatives are drawn from items with at least one edge.

    Args:
        model: A fresh or pre-trained :class:`TextGCN` (trained in place).
        graph: Training graph.
        user_x: ``(U, D_t)`` user features.
        item_x: ``(I, D_t)`` item features.
        epochs: Maximum epochs.
        lr: Adam learning rate.
        batch_size: Positive edges per step.
        weight_decay: L2 on the batch's layer-0 embeddings (LightGCN style).
        text_loss_weight: Weight of the auxiliary text-only ranking term.
        weighted_loss: Weight each positive by ``log1p(edge weight)``.
        edge_transform: See :func:`~interest_workers.pipelines.model.propagation.normalize_edges`.
        validation: Called every ``eval_every`` epochs for early stopping; best weights are kept.
        eval_every: Validation period in epochs.
        patience: Validation rounds without improvement before stopping.
        seed: Seeds initialisation order, shuffling and negative sampling.
        device: ``None`` = CUDA when present.
        deterministic: Turn on ``torch.use_deterministic_algorithms`` while training; ``None``
            means only on CUDA (the CPU kernels used here are deterministic already, and the
            deterministic fallbacks are ~5x slower).
        sampled: Each step trains on the subgraph of a random share of the users with all their
            edges (``E / batch_size`` shares per epoch, as many steps as full-batch takes), its
            items' propagation rescaled to estimate the whole graph's (:class:`_UserSampler`);
            validation and the final embeddings propagate over the whole graph.

    Returns:
        :class:`TrainResult`.

    Raises:
        ValueError: shapes that do not match the graph, or a graph without edges.
    """
    if user_x.shape[0] != graph.num_users or item_x.shape[0] != graph.num_items:
        raise ValueError(
            f"features {user_x.shape}/{item_x.shape} do not match graph "
            f"({graph.num_users} users, {graph.num_items} items)"
        )
    if graph.num_edges == 0:
        raise ValueError("the graph has no edges to train on")
    start = time.perf_counter()
    dev = resolve_device(device)
    model.to(dev)
    gen = torch.Generator().manual_seed(seed)
    U, I = graph.num_users, graph.num_items
    ux = torch.from_numpy(np.ascontiguousarray(user_x, dtype=np.float32)).to(dev)
    ix = torch.from_numpy(np.ascontiguousarray(item_x, dtype=np.float32)).to(dev)
    sampler = _UserSampler(graph, edge_transform) if sampled else None
    adj = None if sampled else propagation(graph.edge_index, graph.edge_weight, U, U + I,
                                           transform=edge_transform, device=dev)
    pos = graph.edge_index
    pos_w = _sample_weights(graph.edge_weight) if weighted_loss else torch.ones(graph.num_edges)
    warm_items = torch.from_numpy(np.flatnonzero(graph.item_degree() > 0))
    optimizer = torch.optim.Adam(model.parameters(), lr=lr, fused=True)
    result = TrainResult(epochs=0, best_epoch=0, best_val=math.nan)
    with _deterministic(dev.type == "cuda" if deterministic is None else deterministic):
        for epoch in range(1, epochs + 1):
            model.train()
            if sampler is not None:
                total, steps = _sampled_epoch(model, sampler, ux, ix, pos_w, warm_items,
                                              optimizer, gen, dev, batch_size=batch_size,
                                              text_loss_weight=text_loss_weight,
                                              weight_decay=weight_decay)
            else:
                perm = torch.randperm(graph.num_edges, generator=gen)
                total, steps = 0.0, 0
                for start_b in range(0, graph.num_edges, batch_size):
                    b = perm[start_b : start_b + batch_size]
                    users, items = pos[0, b], pos[1, b]
                    negs = warm_items[torch.randint(len(warm_items), (len(b),), generator=gen)]
                    mask = (torch.rand(I, generator=gen) >= model.id_dropout).float()
                    # Text projections once per step: the text-only term reuses the items' rows.
                    item_text = model.item_text_embedding(ix)
                    h0 = model.layer0(model.user_text(ux), item_text, item_id_mask=mask.to(dev))
                    assert adj is not None
                    z = model.propagate_layers(h0, adj)
                    users_d, items_d, negs_d = users.to(dev), items.to(dev), negs.to(dev)
                    # index_select, not z[...]: its gradient is an index_add, several times faster
                    # on CPU than the accumulating index_put that advanced indexing's gradient is.
                    zu, zp, zn = (z.index_select(0, users_d), z.index_select(0, items_d + U),
                                  z.index_select(0, negs_d + U))
                    w_b = pos_w[b].to(dev)
                    loss = model.recommendation_loss((zu * zp).sum(-1), (zu * zn).sum(-1), w_b)
                    if text_loss_weight > 0:
                        tp, tn = item_text.index_select(0, items_d), item_text.index_select(0, negs_d)
                        loss = loss + text_loss_weight * model.recommendation_loss(
                            (zu * tp).sum(-1), (zu * tn).sum(-1), w_b
                        )
                    # ||h0||² of the batch's nodes, each counted as often as it occurs in the batch.
                    occurs = torch.bincount(torch.cat([users_d, items_d + U, negs_d + U]),
                                            minlength=h0.size(0)).to(h0.dtype)
                    reg = (occurs * h0.pow(2).sum(-1)).sum() / len(b)
                    loss = loss + weight_decay * reg
                    optimizer.zero_grad()
                    loss.backward()  # type: ignore[no-untyped-call]
                    optimizer.step()
                    total += float(loss.detach())
                    steps += 1
            val = math.nan
            result.epochs = epoch
            if validation is not None and (epoch % eval_every == 0 or epoch == epochs):
                user_emb, item_emb = embed(model, graph, user_x, item_x,
                                           edge_transform=edge_transform, device=dev)
                val = float(validation(user_emb, item_emb))
                result.validated(epoch, val, model)
            result.history.append((epoch, total / max(steps, 1), val))
            logger.debug("epoch %d loss %.4f val %.4f", epoch, total / max(steps, 1), val)
            if result.stalled(patience):
                break
    return result.finish(model, start)
