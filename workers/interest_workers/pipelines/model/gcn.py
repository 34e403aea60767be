"""A text-fed LightGCN for implicit-feedback link prediction, and embedding with it.

Every node's input is a learned id embedding plus a linear projection of its text features, then
``num_layers`` parameter-free LightGCN propagations over the weighted user–item graph, combined
with layer weights ``alpha``. Nodes without edges keep their input through all layers, so a brand
new item (no id embedding, no edges) is embedded from its text alone. Two things teach the text
path to stand on its own: *id dropout* (random items lose their id embedding during a step) and an
auxiliary BPR term that ranks items by their text projection only (see
:mod:`~interest_workers.pipelines.model.training`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...typing import FloatArray
from .graph_build import InteractionGraph
from .propagation import Propagation, propagation, resolve_device

logger = logging.getLogger(__name__)


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

    alpha: Tensor  # layer weights, a buffer (registered in __init__)

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
        if user_id is None and item_id is None and user_x.size(0) == self.num_users \
                and item_x.size(0) == self.num_items:
            # The training graph itself: every id known, no index gather (same values).
            return self.layer0(self.user_text(user_x), self.item_text(item_x), item_id_mask)
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

    def layer0(self, user_text: Tensor, item_text: Tensor, item_id_mask: Tensor | None = None
               ) -> Tensor:
        """Layer-0 embeddings of the training graph's own nodes from their text projections.

        Args:
            user_text: ``(U, D)`` ``W_u x`` of every user.
            item_text: ``(I, D)`` ``W_i x`` of every item (:meth:`item_text_embedding`).
            item_id_mask: See :meth:`node_input`.

        Returns:
            ``(U + I, D)``, what :meth:`node_input` gives for the same nodes.
        """
        item_ids = self.item_embedding.weight
        if item_id_mask is not None:
            item_ids = item_ids * item_id_mask.unsqueeze(-1)
        return torch.cat([self.user_embedding.weight + user_text, item_ids + item_text])

    def propagate_layers(self, h0: Tensor, adj: Tensor | Propagation) -> Tensor:
        """LightGCN propagation with layer combination.

        Propagation is a sparse matrix product (``LGConv`` without normalisation computes the
        same thing via scatter, ~10x slower on CPU).

        Args:
            h0: ``(N, D)`` layer-0 embeddings.
            adj: A :class:`Propagation` (fast: isolated nodes' self-loops folded in, its own
                transpose as gradient), or an ``(N, N)`` sparse COO normalised adjacency (see
                :func:`~.propagation.normalized_adjacency`).

        Returns:
            ``(N, D)`` final embeddings; isolated nodes keep ``h0`` in every layer.
        """
        x = h0
        out = h0 * self.alpha[0]
        if isinstance(adj, Propagation):
            for k in range(self.num_layers):
                x = adj.apply(x)
                out = out + x * self.alpha[k + 1]
            return out
        isolated = (torch.bincount(adj.indices()[0], minlength=h0.size(0)) == 0).unsqueeze(-1)
        for k in range(self.num_layers):
            x = torch.where(isolated, x, torch.sparse.mm(adj, x))
            out = out + x * self.alpha[k + 1]
        return out

    def get_embedding(
        self,
        adj: Tensor | Propagation,
        user_x: Tensor,
        item_x: Tensor,
        user_id: Tensor | None = None,
        item_id: Tensor | None = None,
        item_id_mask: Tensor | None = None,
    ) -> Tensor:
        """Final node embeddings.

        Args:
            adj: :class:`Propagation` or ``(U'+I', U'+I')`` sparse normalised adjacency, users
                ``0..U'-1`` then items.
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
        out: Tensor = self.item_text(item_x)
        return out

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
        edge_transform: See :func:`~.propagation.normalize_edges` (use the training value).
        device: Where to compute.

    Returns:
        ``(U, D)`` user and ``(I, D)`` item embeddings, float32 on CPU.
    """
    dev = resolve_device(device)
    model.eval().to(dev)
    U, I = graph.num_users, graph.num_items
    adj = propagation(graph.edge_index, graph.edge_weight, U, U + I, transform=edge_transform,
                      device=dev)
    z = model.get_embedding(
        adj,
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
    :func:`~interest_workers.pipelines.model.graph_build.build_graph` (pass the trained id order as
    ``user_ids`` / ``item_ids`` to keep indices stable) and features with
    :func:`~interest_workers.pipelines.model.features.build_node_features`.

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
