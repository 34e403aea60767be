"""Embedding a few changed users with a trained GCN without propagating over the whole graph.

The incremental refresh re-scores a neighbourhood: the users with new events and the users of
changed items, a few hundred among tens of thousands. With LightGCN's ``K ≤ 2`` propagations a
user's embedding depends on its own edges, the degrees of its items and what those items receive
from *all* their users. :class:`BaseMessages` holds what the trained graph contributes (each item's
sum of its users' normalised layer-0 vectors, the degrees), built once per loaded model;
:func:`embed_neighbourhood` corrects it for the changed users' old and new edges and propagates
over the items they touch only. So the cost follows the neighbourhood's edges, not the graph's.

What it gives, against a whole-graph propagation of the changed graph
(:func:`~.gcn.embed_inductive`):

* the changed users' embeddings are the same (up to float rounding);
* items new since the fit get the same embedding (all their edges are the changed users');
* the trained items keep the embeddings of the full refresh. A whole-graph pass would move each
  item touched two hops away by the new edges a little; the next full refresh does.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
import torch

from ...typing import FloatArray, IndexArray
from .gcn import TrainedModel
from .graph_build import InteractionGraph
from .propagation import transformed_weights

Float64Array = npt.NDArray[np.float64]

#: Propagation depths handled here (deeper models need the whole graph).
MAX_LAYERS = 2


def _weighted_degree(index: IndexArray, weight: Float64Array, n: int) -> Float64Array:
    return np.bincount(index, weight, n).astype(np.float64, copy=False)


def _inv_sqrt(x: Float64Array) -> Float64Array:
    """``1 / sqrt(x)``, 0 where ``x`` is 0 (a node without edges)."""
    x = np.asarray(x, np.float64)
    out = np.zeros_like(x)
    np.divide(1.0, np.sqrt(x, where=x > 0, out=np.zeros_like(x)), where=x > 0, out=out)
    return out


@dataclass(frozen=True)
class BaseMessages:
    """What the trained graph contributes to any neighbourhood's propagation (float64).

    Attributes:
        weights: ``(U, I)`` transformed edge weights of the trained graph.
        user_degree: ``(U,)`` weighted degrees.
        item_degree: ``(I,)`` weighted degrees.
        item_edges: ``(I,)`` edge counts (zero: an isolated item keeps its input).
        user_h0: ``(U, D)`` layer-0 user vectors.
        item_h0: ``(I, D)`` layer-0 item vectors.
        item_message: ``(I, D)`` ``Σ_v w_vi / sqrt(deg_v) · h0_v`` over each item's users.
    """

    weights: sp.csr_matrix
    user_degree: Float64Array
    item_degree: Float64Array
    item_edges: IndexArray
    user_h0: Float64Array
    item_h0: Float64Array
    item_message: Float64Array

    @classmethod
    def of(cls, trained: TrainedModel) -> BaseMessages:
        """One pass over the trained graph's edges (linear in them)."""
        g = trained.graph
        u, i = g.edge_index.numpy()
        w = transformed_weights(g.edge_weight, trained.edge_transform).double().numpy()
        weights = sp.csr_matrix((w, (u, i)), shape=(g.num_users, g.num_items))
        user_degree = _weighted_degree(u, w, g.num_users)
        with torch.no_grad():
            h0 = trained.model.eval().node_input(
                torch.from_numpy(np.ascontiguousarray(trained.user_x, np.float32)),
                torch.from_numpy(np.ascontiguousarray(trained.item_x, np.float32))).double()
        user_h0 = h0[: g.num_users].numpy()
        scaled = sp.diags(_inv_sqrt(user_degree)) @ weights
        return cls(weights, user_degree, _weighted_degree(i, w, g.num_items),
                   np.bincount(i, minlength=g.num_items), user_h0, h0[g.num_users:].numpy(),
                   np.asarray(scaled.T @ user_h0))


def embed_neighbourhood(trained: TrainedModel, base: BaseMessages, graph: InteractionGraph,
                        user_id: IndexArray, user_x: FloatArray, item_x: FloatArray
                        ) -> tuple[torch.Tensor, torch.Tensor]:
    """Embeddings of ``graph``'s users, whose edges replace theirs in the trained graph.

    Args:
        trained: The fitted GCN.
        base: :meth:`BaseMessages.of` ``trained``.
        graph: The changed users only (every edge of theirs, as of the trained graph's clock),
            over the whole catalogue: the trained items first, then items new since the fit.
        user_id: ``(C,)`` each user's index in the trained graph, ``-1`` for a new user.
        user_x: ``(C, D_t)`` the users' features (from their new edges).
        item_x: ``(I, D_t)`` features of the catalogue.

    Returns:
        ``(C, D)`` embeddings of the users, and ``(I - I_t, D)`` of the items new since the fit
        (from their text and edges); the ``I_t`` trained items keep the fit's.

    Raises:
        ValueError: the model propagates more than :data:`MAX_LAYERS` times.
    """
    model = trained.model
    if model.num_layers > MAX_LAYERS:
        raise ValueError(f"{model.num_layers} layers: embed the whole graph instead")
    alpha = model.alpha.double().numpy()
    known_items = len(base.item_degree)
    C, I = graph.num_users, graph.num_items
    u, i = graph.edge_index.numpy()
    w = transformed_weights(graph.edge_weight, trained.edge_transform).double().numpy()
    with torch.no_grad():
        h0 = model.eval().node_input(
            torch.from_numpy(np.ascontiguousarray(user_x, np.float32)),
            torch.from_numpy(np.ascontiguousarray(item_x[known_items:], np.float32)),
            user_id=torch.from_numpy(np.asarray(user_id, np.int64)),
            item_id=torch.full((I - known_items,), -1, dtype=torch.int64)).double().numpy()
    user_h0 = h0[:C]
    item_h0 = np.concatenate([base.item_h0, h0[C:]])

    # The changed users' edges in the trained graph leave; their new ones come in.
    known = np.flatnonzero(user_id >= 0)
    old = base.weights[user_id[known]].tocoo()
    old_user = user_id[known][old.row]
    user_degree = _weighted_degree(u, w, C)
    item_degree = np.zeros(I)
    item_degree[:known_items] = base.item_degree
    item_edges = np.zeros(I, np.int64)
    item_edges[:known_items] = base.item_edges
    np.subtract.at(item_degree, old.col, old.data)
    np.subtract.at(item_edges, old.col, 1)
    np.add.at(item_degree, i, w)
    np.add.at(item_edges, i, 1)

    # Layer 1 of the items they touch: the trained message, less the old edges, plus the new.
    touched, pos = np.unique(np.concatenate([i, old.col]), return_inverse=True)
    new_pos, old_pos = pos[: len(i)], pos[len(i):]
    message = np.zeros((len(touched), item_h0.shape[1]))
    trained_rows = touched < known_items
    message[trained_rows] = base.item_message[touched[trained_rows]]
    message -= sp.csr_matrix(
        (old.data * _inv_sqrt(base.user_degree)[old_user], (old_pos, np.arange(len(old_user)))),
        shape=(len(touched), len(old_user))) @ base.user_h0[old_user]
    message += sp.csr_matrix((w * _inv_sqrt(user_degree)[u], (new_pos, u)),
                             shape=(len(touched), C)) @ user_h0
    item_h1 = message * _inv_sqrt(item_degree[touched])[:, None]

    # The users' layers over those items.
    norm = w * _inv_sqrt(user_degree)[u] * _inv_sqrt(item_degree[i])
    spread = sp.csr_matrix((norm, (u, new_pos)), shape=(C, len(touched)))
    isolated_user = np.bincount(u, minlength=C) == 0
    layers = [user_h0, spread @ item_h0[touched]]
    if model.num_layers == 2:
        layers.append(spread @ item_h1)
    user_emb = sum(a * h for a, h in zip(alpha, layers))
    user_emb[isolated_user] = alpha.sum() * user_h0[isolated_user]

    # Items new since the fit: every edge of theirs is a changed user's.
    item_emb = np.zeros((I - known_items, item_h0.shape[1]))
    item_emb[:] = alpha.sum() * h0[C:]
    fresh = np.flatnonzero((touched >= known_items) & (item_edges[touched] > 0))
    if len(fresh):
        user_h1 = np.where(isolated_user[:, None], user_h0, layers[1])
        item_layers = [item_h0[touched[fresh]], item_h1[fresh]]
        if model.num_layers == 2:
            item_layers.append(spread.T.tocsr()[fresh] @ user_h1)
        item_emb[touched[fresh] - known_items] = sum(a * h for a, h in zip(alpha, item_layers))
    return (torch.from_numpy(user_emb.astype(np.float32)),
            torch.from_numpy(item_emb.astype(np.float32)))
