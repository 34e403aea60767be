"""A text-fed LightGCN for implicit-feedback link prediction, its training loops and checkpoints.

Every node's input is a learned id embedding plus a linear projection of its text features, then
``num_layers`` parameter-free LightGCN propagations over the weighted user–item graph, combined
with layer weights ``alpha``. Nodes without edges keep their input through all layers, so a brand
new item (no id embedding, no edges) is embedded from its text alone. Two things teach the text
path to stand on its own: *id dropout* (random items lose their id embedding during a step) and an
auxiliary BPR term that ranks items by their text projection only.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.nn.conv.gcn_conv import gcn_norm
from torch_geometric.utils import degree

from ..typing import EdgeIndex, FloatArray
from .graph_build import IdMap, InteractionGraph

logger = logging.getLogger(__name__)

CHECKPOINT_FORMAT = 1
TRAIN_MODES = ("full", "minibatch")


def resolve_device(device: str | torch.device | None) -> torch.device:
    """``None`` means CUDA when present, else CPU."""
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA)."""
    import random

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


class TextGCN(nn.Module):
    r"""LightGCN whose layer-0 node embeddings are ``id embedding + W · text``.

    .. math::
        h^{(0)}_v = e_v + W_{t(v)} x_v, \quad
        h^{(k+1)} = \tilde A h^{(k)}, \quad
        z_v = \sum_k \alpha_k h^{(k)}_v, \quad
        \mathrm{score}(u, i) = z_u^\top z_i

    Args:
        num_users: ``U``.
        num_items: ``I``.
        text_dim: Width ``D_t`` of the text features.
        embedding_dim: Width ``D`` of the embeddings.
        num_layers: Propagation steps ``K``.
        alpha: Layer weights, scalar or ``(K+1,)``; default ``1 / (K+1)`` each.
        id_dropout: Probability that an item loses its id embedding in a training step.
    """

    def __init__(
        self,
        num_users: int,
        num_items: int,
        text_dim: int,
        embedding_dim: int = 64,
        num_layers: int = 2,
        alpha: float | Tensor | None = None,
        id_dropout: float = 0.2,
    ) -> None:
        super().__init__()
        if not 0.0 <= id_dropout < 1.0:
            raise ValueError(f"id_dropout must be in [0, 1), got {id_dropout}")
        self.num_users = num_users
        self.num_items = num_items
        self.text_dim = text_dim
        self.embedding_dim = embedding_dim
        self.num_layers = num_layers
        self.id_dropout = id_dropout
        if alpha is None:
            alpha = 1.0 / (num_layers + 1)
        if isinstance(alpha, Tensor):
            assert alpha.size(0) == num_layers + 1
        else:
            alpha = torch.full((num_layers + 1,), float(alpha))
        self.register_buffer("alpha", alpha.float())
        self.user_embedding = nn.Embedding(num_users, embedding_dim)
        self.item_embedding = nn.Embedding(num_items, embedding_dim)
        self.user_text = nn.Linear(text_dim, embedding_dim, bias=False)
        self.item_text = nn.Linear(text_dim, embedding_dim, bias=False)
        self.reset_parameters()

    @property
    def hyperparameters(self) -> dict[str, Any]:
        """Constructor arguments (what a checkpoint needs to rebuild the module)."""
        return {
            "num_users": self.num_users,
            "num_items": self.num_items,
            "text_dim": self.text_dim,
            "embedding_dim": self.embedding_dim,
            "num_layers": self.num_layers,
            "alpha": self.alpha.tolist(),
            "id_dropout": self.id_dropout,
        }

    def reset_parameters(self) -> None:
        """Re-initialise all weights (uses the global torch RNG)."""
        nn.init.normal_(self.user_embedding.weight, std=0.1)
        nn.init.normal_(self.item_embedding.weight, std=0.1)
        nn.init.xavier_uniform_(self.user_text.weight)
        nn.init.xavier_uniform_(self.item_text.weight)

    def node_input(
        self,
        user_x: Tensor,
        item_x: Tensor,
        user_id: Tensor | None = None,
        item_id: Tensor | None = None,
        item_id_mask: Tensor | None = None,
    ) -> Tensor:
        """Layer-0 embeddings ``h^(0)``.

        Args:
            user_x: ``(U', D_t)`` user text features.
            item_x: ``(I', D_t)`` item text features.
            user_id: ``(U',)`` index into the id table, ``-1`` for a user the model never saw;
                default ``arange(U')``.
            item_id: ``(I',)`` likewise for items.
            item_id_mask: ``(I',)`` float multiplier on item id embeddings (id dropout).

        Returns:
            ``(U' + I', D)``: users first, then items.
        """
        if user_id is None:
            user_id = torch.arange(user_x.size(0), device=user_x.device)
        if item_id is None:
            item_id = torch.arange(item_x.size(0), device=item_x.device)
        u_known = (user_id >= 0).unsqueeze(-1).float()
        i_known = (item_id >= 0).unsqueeze(-1).float()
        if item_id_mask is not None:
            i_known = i_known * item_id_mask.unsqueeze(-1)
        u = self.user_embedding(user_id.clamp(min=0)) * u_known + self.user_text(user_x)
        i = self.item_embedding(item_id.clamp(min=0)) * i_known + self.item_text(item_x)
        return torch.cat([u, i])

    def propagate_layers(self, h0: Tensor, adj: Tensor) -> Tensor:
        """LightGCN propagation with layer combination.

        Propagation is a sparse matrix product (``LGConv`` without normalisation computes the
        same thing via scatter, ~10x slower on CPU).

        Args:
            h0: ``(N, D)`` layer-0 embeddings.
            adj: ``(N, N)`` sparse COO normalised adjacency (see :func:`normalized_adjacency`).

        Returns:
            ``(N, D)`` final embeddings; isolated nodes keep ``h0`` in every layer.
        """
        isolated = (torch.bincount(adj.indices()[0], minlength=h0.size(0)) == 0).unsqueeze(-1)
        x = h0
        out = h0 * self.alpha[0]
        for k in range(self.num_layers):
            x = torch.where(isolated, x, torch.sparse.mm(adj, x))
            out = out + x * self.alpha[k + 1]
        return out

    def get_embedding(
        self,
        adj: Tensor,
        user_x: Tensor,
        item_x: Tensor,
        user_id: Tensor | None = None,
        item_id: Tensor | None = None,
        item_id_mask: Tensor | None = None,
    ) -> Tensor:
        """Final node embeddings.

        Args:
            adj: ``(U'+I', U'+I')`` sparse normalised adjacency, users ``0..U'-1`` then items.
            user_x: ``(U', D_t)``.
            item_x: ``(I', D_t)``.
            user_id: See :meth:`node_input`.
            item_id: See :meth:`node_input`.
            item_id_mask: See :meth:`node_input`.

        Returns:
            ``(U' + I', D)``.
        """
        h0 = self.node_input(user_x, item_x, user_id, item_id, item_id_mask)
        return self.propagate_layers(h0, adj)

    def forward(
        self,
        adj: Tensor,
        user_x: Tensor,
        item_x: Tensor,
        edge_label_index: Tensor,
    ) -> Tensor:
        """Scores of user–item pairs.

        Args:
            adj: ``(U+I, U+I)`` sparse normalised adjacency.
            user_x: ``(U, D_t)``.
            item_x: ``(I, D_t)``.
            edge_label_index: ``(2, B)`` pairs ``(user index, item index)`` (item index ``0..I-1``).

        Returns:
            ``(B,)`` dot-product scores.
        """
        z = self.get_embedding(adj, user_x, item_x)
        u = z[edge_label_index[0]]
        i = z[edge_label_index[1] + user_x.size(0)]
        return (u * i).sum(-1)

    def item_text_embedding(self, item_x: Tensor) -> Tensor:
        """Text-only item embedding ``W x`` (what an item without id or edges gets), ``(I', D)``."""
        return self.item_text(item_x)

    @staticmethod
    def recommendation_loss(
        pos_score: Tensor,
        neg_score: Tensor,
        sample_weight: Tensor | None = None,
    ) -> Tensor:
        """(Weighted) BPR loss ``-mean(w · log σ(pos - neg))``.

        Args:
            pos_score: ``(B,)``.
            neg_score: ``(B,)``.
            sample_weight: Optional ``(B,)`` per-pair weights (mean ~1).
        """
        loss = -F.logsigmoid(pos_score - neg_score)
        if sample_weight is not None:
            loss = loss * sample_weight
        return loss.mean()

    def __repr__(self) -> str:
        return (
            f"{self.__class__.__name__}(users={self.num_users}, items={self.num_items}, "
            f"text_dim={self.text_dim}, dim={self.embedding_dim}, num_layers={self.num_layers})"
        )


def normalize_edges(
    edge_index: EdgeIndex, edge_weight: Tensor, num_nodes: int, *, transform: str = "log1p"
) -> Tensor:
    """Symmetric GCN normalisation of (transformed) interaction weights.

    Args:
        edge_index: ``(2, E)`` symmetric edges.
        edge_weight: ``(E,)`` raw positive weights.
        num_nodes: ``N``.
        transform: ``"log1p"`` (dampens bulk orders), ``"binary"`` or ``"raw"``.

    Returns:
        ``(E,)`` ``D^-1/2 W D^-1/2`` weights.

    Raises:
        ValueError: unknown transform.
    """
    if transform == "log1p":
        w = torch.log1p(edge_weight)
    elif transform == "binary":
        w = torch.ones_like(edge_weight)
    elif transform == "raw":
        w = edge_weight
    else:
        raise ValueError(f"unknown transform {transform!r}; valid: log1p, binary, raw")
    _, norm = gcn_norm(edge_index, w, num_nodes, add_self_loops=False)
    assert norm is not None
    return norm


def normalized_adjacency(
    edge_index: EdgeIndex, edge_weight: Tensor, num_nodes: int, *, transform: str = "log1p"
) -> Tensor:
    """``(N, N)`` sparse COO ``D^-1/2 W D^-1/2`` (row = target) of a symmetric edge list.

    Args:
        edge_index: ``(2, E)`` symmetric edges.
        edge_weight: ``(E,)`` raw positive weights.
        num_nodes: ``N``.
        transform: See :func:`normalize_edges`.
    """
    norm = normalize_edges(edge_index, edge_weight, num_nodes, transform=transform)
    return torch.sparse_coo_tensor(
        edge_index.flip(0), norm, (num_nodes, num_nodes), check_invariants=False
    ).coalesce()


def bipartite_edges(
    graph_edge_index: Tensor, num_users: int
) -> EdgeIndex:
    """``(2, 2E)`` symmetric homogeneous edges from ``(2, E)`` ``(user, item)`` pairs."""
    u, i = graph_edge_index
    i = i + num_users
    return torch.stack([torch.cat([u, i]), torch.cat([i, u])])


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


ValidationFn = Callable[[Tensor, Tensor], float]
"""``(user embeddings (U, D), item embeddings (I, D)) -> metric`` (higher is better)."""


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
    mode: str = "full",
    fanouts: tuple[int, ...] = (10, 10),
    seed: int = 0,
    device: str | torch.device | None = None,
    deterministic: bool | None = None,
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
        edge_transform: See :func:`normalize_edges`.
        validation: Called every ``eval_every`` epochs for early stopping; best weights are kept.
        eval_every: Validation period in epochs.
        patience: Validation rounds without improvement before stopping.
        mode: ``"full"`` (whole-graph propagation per step) or ``"minibatch"`` (sampled
            ``len(fanouts)``-hop subgraph per step; for graphs that do not fit).
        fanouts: Neighbours sampled per node and hop in ``"minibatch"`` mode.
        seed: Seeds initialisation order, shuffling and negative sampling.
        device: ``None`` = CUDA when present.
        deterministic: Turn on ``torch.use_deterministic_algorithms`` while training; ``None``
            means only on CUDA (the CPU kernels used here are deterministic already, and the
            deterministic fallbacks are ~5x slower).

    Returns:
        :class:`TrainResult`.

    Raises:
        ValueError: unknown ``mode``, or shapes that do not match the graph.
    """
    if mode not in TRAIN_MODES:
        raise ValueError(f"unknown mode {mode!r}; valid: {', '.join(TRAIN_MODES)}")
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
    edge_index = bipartite_edges(graph.edge_index, U)
    adj = normalized_adjacency(
        edge_index, torch.cat([graph.edge_weight] * 2), U + I, transform=edge_transform
    ).to(dev)
    pos = graph.edge_index
    pos_w = _sample_weights(graph.edge_weight) if weighted_loss else torch.ones(graph.num_edges)
    warm_items = torch.from_numpy(np.flatnonzero(graph.item_degree() > 0))
    sampler = _NeighbourSampler(edge_index.cpu(), U + I) if mode == "minibatch" else None
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    result = TrainResult(epochs=0, best_epoch=0, best_val=math.nan)
    best_state: dict[str, Tensor] | None = None
    bad_rounds = 0
    with _deterministic(dev.type == "cuda" if deterministic is None else deterministic):
        for epoch in range(1, epochs + 1):
            model.train()
            perm = torch.randperm(graph.num_edges, generator=gen)
            total, steps = 0.0, 0
            for start_b in range(0, graph.num_edges, batch_size):
                b = perm[start_b : start_b + batch_size]
                users, items = pos[0, b], pos[1, b]
                negs = warm_items[torch.randint(len(warm_items), (len(b),), generator=gen)]
                mask = (torch.rand(I, generator=gen) >= model.id_dropout).float()
                if sampler is None:
                    z = model.get_embedding(adj, ux, ix, item_id_mask=mask.to(dev))
                    zu, zp, zn = z[users.to(dev)], z[(items + U).to(dev)], z[(negs + U).to(dev)]
                    h0 = model.node_input(ux, ix, item_id_mask=mask.to(dev))
                else:
                    zu, zp, zn, h0 = _minibatch_embed(
                        model, sampler, users, items, negs, ux, ix, mask, U, fanouts,
                        edge_transform, graph.edge_weight, gen, dev,
                    )
                loss = model.recommendation_loss(
                    (zu * zp).sum(-1), (zu * zn).sum(-1), pos_w[b].to(dev)
                )
                if text_loss_weight > 0:
                    tp = model.item_text_embedding(ix[items.to(dev)])
                    tn = model.item_text_embedding(ix[negs.to(dev)])
                    loss = loss + text_loss_weight * model.recommendation_loss(
                        (zu * tp).sum(-1), (zu * tn).sum(-1), pos_w[b].to(dev)
                    )
                if sampler is None:
                    reg_nodes = torch.cat([users, items + U, negs + U]).to(dev)
                    reg = h0[reg_nodes].pow(2).sum() / len(b)
                else:
                    reg = h0.pow(2).sum() / len(b)
                loss = loss + weight_decay * reg
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                total += float(loss.detach())
                steps += 1
            val = math.nan
            result.epochs = epoch
            if validation is not None and (epoch % eval_every == 0 or epoch == epochs):
                user_emb, item_emb = embed(model, graph, user_x, item_x,
                                           edge_transform=edge_transform, device=dev)
                val = float(validation(user_emb, item_emb))
                if math.isnan(result.best_val) or val > result.best_val:
                    result.best_val, result.best_epoch = val, epoch
                    best_state = copy.deepcopy(model.state_dict())
                    bad_rounds = 0
                else:
                    bad_rounds += 1
            result.history.append((epoch, total / max(steps, 1), val))
            logger.debug("epoch %d loss %.4f val %.4f", epoch, total / max(steps, 1), val)
            if bad_rounds >= patience:
                break
    if best_state is not None:
        model.load_state_dict(best_state)
    else:
        result.best_epoch = result.epochs
    result.fit_s = time.perf_counter() - start
    return result


class _NeighbourSampler:
    """Uniform neighbour sampling (with replacement) over a CSR copy of the graph.

    PyG's ``LinkNeighborLoader`` needs ``pyg-lib`` or ``torch-sparse``; this keeps mini-batch
    training available with plain torch.
    """

    def __init__(self, edge_index: EdgeIndex, num_nodes: int) -> None:
        order = torch.argsort(edge_index[0] * num_nodes + edge_index[1])
        self.edge_id = order
        self.col = edge_index[1, order]
        self.rowptr = torch.zeros(num_nodes + 1, dtype=torch.long)
        self.rowptr[1:] = torch.cumsum(degree(edge_index[0], num_nodes, dtype=torch.long), 0)
        self.num_nodes = num_nodes

    def sample(
        self, seeds: Tensor, fanouts: tuple[int, ...], gen: torch.Generator
    ) -> tuple[Tensor, Tensor, Tensor]:
        """Sample a subgraph around ``seeds``.

        Returns:
            ``(nodes (N',), local edge_index (2, E'), global edge ids (E',))`` with ``seeds``
            first in ``nodes`` and sampled edges in both directions.
        """
        nodes = torch.unique(seeds)
        seen = torch.zeros(self.num_nodes, dtype=torch.bool)
        seen[nodes] = True
        frontier, rows, cols, eids = nodes, [], [], []
        for k in fanouts:
            deg = self.rowptr[frontier + 1] - self.rowptr[frontier]
            has = deg > 0
            src = frontier[has].repeat_interleave(k)
            offs = (torch.rand(len(src), generator=gen) * deg[has].repeat_interleave(k)).long()
            e = self.rowptr[src] + offs
            pair = torch.unique(torch.stack([src, e]), dim=1)
            src, e = pair
            dst = self.col[e]
            rows.append(src)
            cols.append(dst)
            eids.append(self.edge_id[e])
            new = torch.unique(dst[~seen[dst]])
            seen[new] = True
            nodes = torch.cat([nodes, new])
            frontier = new
        local = torch.full((self.num_nodes,), -1, dtype=torch.long)
        local[nodes] = torch.arange(len(nodes))
        r, c, ids = torch.cat(rows), torch.cat(cols), torch.cat(eids)
        ei = torch.stack([torch.cat([local[r], local[c]]), torch.cat([local[c], local[r]])])
        return nodes, ei, torch.cat([ids, ids])


def _minibatch_embed(
    model: TextGCN,
    sampler: _NeighbourSampler,
    users: Tensor,
    items: Tensor,
    negs: Tensor,
    ux: Tensor,
    ix: Tensor,
    mask: Tensor,
    num_users: int,
    fanouts: tuple[int, ...],
    edge_transform: str,
    raw_weight: Tensor,
    gen: torch.Generator,
    dev: torch.device,
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    seeds = torch.cat([users, items + num_users, negs + num_users])
    nodes, ei, eids = sampler.sample(seeds, fanouts, gen)
    # Global symmetric edge e and its reverse share the same raw weight (index e mod E).
    w = raw_weight[eids % raw_weight.numel()]
    is_user = nodes < num_users
    u_nodes, i_nodes = nodes[is_user], nodes[~is_user] - num_users
    # Reorder so users come first, as the model expects.
    perm = torch.cat([torch.nonzero(is_user).flatten(), torch.nonzero(~is_user).flatten()])
    inv = torch.empty_like(perm)
    inv[perm] = torch.arange(len(perm))
    ei = inv[ei]
    h0 = model.node_input(
        ux[u_nodes.to(dev)], ix[i_nodes.to(dev)], u_nodes.to(dev), i_nodes.to(dev),
        mask[i_nodes].to(dev),
    )
    adj = normalized_adjacency(ei, w, len(nodes), transform=edge_transform)
    z = model.propagate_layers(h0, adj.to(dev))
    local = torch.full((sampler.num_nodes,), -1, dtype=torch.long)
    local[nodes[perm]] = torch.arange(len(nodes))
    zu = z[local[users].to(dev)]
    zp = z[local[items + num_users].to(dev)]
    zn = z[local[negs + num_users].to(dev)]
    return zu, zp, zn, h0


@torch.no_grad()
def embed(
    model: TextGCN,
    graph: InteractionGraph,
    user_x: FloatArray,
    item_x: FloatArray,
    *,
    user_id: Tensor | None = None,
    item_id: Tensor | None = None,
    edge_transform: str = "log1p",
    device: str | torch.device | None = None,
) -> tuple[Tensor, Tensor]:
    """Final user and item embeddings of ``graph`` (no gradients, eval mode, on CPU).

    Args:
        model: Trained model.
        graph: Graph to propagate over (may hold users/items the model never saw).
        user_x: ``(U, D_t)``.
        item_x: ``(I, D_t)``.
        user_id: ``(U,)`` id-table index per user, ``-1`` for new ones; default ``arange(U)``.
        item_id: ``(I,)`` likewise.
        edge_transform: See :func:`normalize_edges` (use the training value).
        device: Where to compute.

    Returns:
        ``(U, D)`` user and ``(I, D)`` item embeddings, float32 on CPU.
    """
    dev = resolve_device(device)
    model.eval().to(dev)
    U, I = graph.num_users, graph.num_items
    edge_index = bipartite_edges(graph.edge_index, U)
    adj = normalized_adjacency(
        edge_index, torch.cat([graph.edge_weight] * 2), U + I, transform=edge_transform
    )
    z = model.get_embedding(
        adj.to(dev),
        torch.from_numpy(np.ascontiguousarray(user_x, dtype=np.float32)).to(dev),
        torch.from_numpy(np.ascontiguousarray(item_x, dtype=np.float32)).to(dev),
        None if user_id is None else user_id.to(dev),
        None if item_id is None else item_id.to(dev),
    ).cpu()
    return z[:U], z[U:]


@dataclass
class TrainedModel:
    """A trained model with everything needed to embed again without retraining.

    Attributes:
        model: The module.
        graph: The training graph (edges and id maps).
        user_x: ``(U, D_t)`` user features used in training.
        item_x: ``(I, D_t)`` item features used in training.
        version: Caller-chosen version string (written onto graph edges by the refresh task).
        edge_transform: Edge weight transform used in training.
        encoder_name: Text encoder name (features must come from the same encoder).
    """

    model: TextGCN
    graph: InteractionGraph
    user_x: FloatArray
    item_x: FloatArray
    version: str
    edge_transform: str = "log1p"
    encoder_name: str = ""

    def embeddings(self, device: str | torch.device | None = None) -> tuple[Tensor, Tensor]:
        """``(U, D)`` user and ``(I, D)`` item embeddings of the training graph."""
        return embed(
            self.model, self.graph, self.user_x, self.item_x,
            edge_transform=self.edge_transform, device=device,
        )


def save_model(trained: TrainedModel, path: Path) -> None:
    """Write a checkpoint: state, hyperparameters, id maps, graph, features and version."""
    g = trained.graph
    payload = {
        "format": CHECKPOINT_FORMAT,
        "version": trained.version,
        "hyperparameters": trained.model.hyperparameters,
        "state_dict": {k: v.cpu() for k, v in trained.model.state_dict().items()},
        "user_ids": list(g.users.ids),
        "item_ids": list(g.items.ids),
        "edge_index": g.edge_index,
        "edge_weight": g.edge_weight,
        "edge_ts": g.edge_ts,
        "user_x": torch.from_numpy(np.ascontiguousarray(trained.user_x)),
        "item_x": torch.from_numpy(np.ascontiguousarray(trained.item_x)),
        "edge_transform": trained.edge_transform,
        "encoder_name": trained.encoder_name,
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(payload, path)


def load_model(path: Path, device: str | torch.device | None = None) -> TrainedModel:
    """Load a checkpoint written by :func:`save_model`.

    Raises:
        ValueError: the file is not a checkpoint of a known format.
    """
    payload = torch.load(Path(path), map_location="cpu", weights_only=True)
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path} is not a TextGCN checkpoint (format {CHECKPOINT_FORMAT})")
    hp = dict(payload["hyperparameters"])
    hp["alpha"] = torch.tensor(hp["alpha"])
    model = TextGCN(**hp)
    model.load_state_dict(payload["state_dict"])
    model.to(resolve_device(device)).eval()
    from .graph_build import InteractionGraph as _Graph

    graph = _Graph(
        IdMap(payload["user_ids"]),
        IdMap(payload["item_ids"]),
        payload["edge_index"],
        payload["edge_weight"],
        payload["edge_ts"],
    )
    return TrainedModel(
        model,
        graph,
        payload["user_x"].numpy(),
        payload["item_x"].numpy(),
        payload["version"],
        payload["edge_transform"],
        payload["encoder_name"],
    )


def embed_inductive(
    trained: TrainedModel,
    graph: InteractionGraph,
    user_x: FloatArray,
    item_x: FloatArray,
    *,
    device: str | torch.device | None = None,
) -> tuple[Tensor, Tensor]:
    """Embed a (changed) graph with a trained model, without retraining.

    Users and items the model knows keep their id embeddings; new ones are embedded from their
    text (and, for users, their interacted items through propagation). Build ``graph`` with
    :func:`~interest_workers.pipelines.graph_build.build_graph` (pass the trained id order as
    ``user_ids`` / ``item_ids`` to keep indices stable) and features with
    :func:`~interest_workers.pipelines.features.build_node_features`.

    Args:
        trained: Loaded model.
        graph: The current graph (old and new nodes, old and new edges).
        user_x: ``(U, D_t)`` features of ``graph``'s users.
        item_x: ``(I, D_t)`` features of ``graph``'s items.
        device: Where to compute.

    Returns:
        ``(U, D)`` user and ``(I, D)`` item embeddings, in ``graph``'s order.

    Raises:
        ValueError: feature width differs from the model's.
    """
    if user_x.shape[1] != trained.model.text_dim or item_x.shape[1] != trained.model.text_dim:
        raise ValueError(
            f"features have width {user_x.shape[1]}/{item_x.shape[1]}, the model expects "
            f"{trained.model.text_dim} (encoder {trained.encoder_name!r})"
        )
    user_id = torch.from_numpy(trained.graph.users.to_index(graph.users.ids, missing=-1))
    item_id = torch.from_numpy(trained.graph.items.to_index(graph.items.ids, missing=-1))
    return embed(
        trained.model, graph, user_x, item_x, user_id=user_id, item_id=item_id,
        edge_transform=trained.edge_transform, device=device,
    )
