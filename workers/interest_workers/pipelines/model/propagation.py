"""The LightGCN propagation operator of a user–item graph, and the graph's symmetric edges.

``Ã = D^-1/2 W D^-1/2`` over the bipartite graph's (transformed) interaction weights, with a
self-loop on each isolated node, built once per graph and applied as one sparse product per
layer (:class:`Propagation`); :mod:`~interest_workers.pipelines.model.gcn`'s model propagates with it,
:mod:`~interest_workers.pipelines.model.training` builds it for each (sub)graph it trains on.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor
from torch_geometric.nn.conv.gcn_conv import gcn_norm

from ...typing import EdgeIndex


def resolve_device(device: str | torch.device | None) -> torch.device:
    """``None`` means CUDA when present, else CPU."""
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def transformed_weights(edge_weight: Tensor, transform: str = "log1p") -> Tensor:
    """Interaction weights as propagation uses them: ``"log1p"`` (dampens bulk orders),
    ``"binary"`` or ``"raw"``.

    Raises:
        ValueError: unknown transform.
    """
    if transform == "log1p":
        return torch.log1p(edge_weight)
    if transform == "binary":
        return torch.ones_like(edge_weight)
    if transform == "raw":
        return edge_weight
    raise ValueError(f"unknown transform {transform!r}; valid: log1p, binary, raw")


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
    w = transformed_weights(edge_weight, transform)
    _, norm = gcn_norm(edge_index, w, num_nodes, add_self_loops=False)
    assert norm is not None
    weights: Tensor = norm
    return weights


def normalized_adjacency(
    edge_index: EdgeIndex, edge_weight: Tensor, num_nodes: int, *, transform: str = "log1p"
) -> Tensor:
    """``(N, N)`` sparse COO ``D^-1/2 W D^-1/2`` (row = target) of a symmetric edge list; the
    arguments are :func:`normalize_edges`'s."""
    norm = normalize_edges(edge_index, edge_weight, num_nodes, transform=transform)
    return torch.sparse_coo_tensor(
        edge_index.flip(0), norm, (num_nodes, num_nodes), check_invariants=False
    ).coalesce()


class _SymmetricProduct(torch.autograd.Function):
    """``A @ x`` for a symmetric sparse ``A``: the gradient ``Aᵀ g`` is ``A g``, one more product
    of the same kind (torch's generic sparse backward transposes and re-sorts ``A`` each call)."""

    @staticmethod
    def forward(ctx: Any, matrix: Tensor, x: Tensor) -> Tensor:
        ctx.matrix = matrix
        out: Tensor = torch.sparse.mm(matrix, x)
        return out

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[None, Tensor]:
        out: Tensor = torch.sparse.mm(ctx.matrix, grad)
        return None, out


@dataclass(frozen=True)
class Propagation:
    """The LightGCN propagation operator ``Ã`` of one graph, built once and reused every step.

    ``Ã = D^-1/2 W D^-1/2`` plus a self-loop of weight 1 on each isolated node, so that one
    sparse product gives ``Ã x`` where nodes with edges are averaged and isolated ones keep ``x``
    (what :meth:`TextGCN.propagate_layers` does with a mask on the plain adjacency). ``Ã`` is
    symmetric, so its product is its own gradient. Stored as CSR on CPU (about 4x faster than COO
    there) and as COO on CUDA (the kernel the deterministic mode has always used).

    Attributes:
        matrix: ``(N, N)`` sparse ``Ã``.
    """

    matrix: Tensor

    @property
    def num_nodes(self) -> int:
        return int(self.matrix.size(0))

    def apply(self, x: Tensor) -> Tensor:
        """``Ã @ x`` (differentiable in ``x``)."""
        out: Tensor = _SymmetricProduct.apply(self.matrix, x)  # type: ignore[no-untyped-call]
        return out


def propagation(
    graph_edge_index: Tensor,
    edge_weight: Tensor,
    num_users: int,
    num_nodes: int,
    *,
    transform: str = "log1p",
    device: str | torch.device | None = "cpu",
) -> Propagation:
    """The :class:`Propagation` of a bipartite graph's ``(user, item)`` pairs.

    Args:
        graph_edge_index: ``(2, E)`` ``(user index, item index)`` pairs.
        edge_weight: ``(E,)`` raw positive weights.
        num_users: ``U`` (items are nodes ``U..N-1``).
        num_nodes: ``N = U + I``.
        transform: See :func:`normalize_edges`.
        device: Where the operator lives.
    """
    dev = resolve_device(device)
    edge_index = bipartite_edges(graph_edge_index, num_users)
    norm = normalize_edges(edge_index, torch.cat([edge_weight] * 2), num_nodes, transform=transform)
    isolated = torch.ones(num_nodes, dtype=torch.bool)
    isolated[edge_index[0]] = False
    loops = torch.nonzero(isolated).flatten()
    index = torch.cat([edge_index.flip(0), loops.repeat(2, 1)], dim=1)
    values = torch.cat([norm.float(), torch.ones(len(loops))])
    return Propagation(operator_matrix(index, values, num_nodes, dev))


def operator_matrix(index: Tensor, values: Tensor, num_nodes: int, device: torch.device
                    ) -> Tensor:
    """The ``(N, N)`` sparse matrix of ``(row, col)`` pairs ``index`` and their ``values``, in
    the layout propagation is fastest in on ``device``: CSR on CPU (about 4x faster than COO
    there), COO on CUDA (the kernel the deterministic mode has always used)."""
    matrix = torch.sparse_coo_tensor(index, values, (num_nodes, num_nodes),
                                     check_invariants=False).coalesce()
    if device.type == "cpu":
        with warnings.catch_warnings():  # "sparse CSR support is in beta": used within its scope
            warnings.simplefilter("ignore", UserWarning)
            matrix = matrix.to_sparse_csr()
    return matrix.to(device)


def bipartite_edges(
    graph_edge_index: Tensor, num_users: int
) -> EdgeIndex:
    """``(2, 2E)`` symmetric homogeneous edges from ``(2, E)`` ``(user, item)`` pairs."""
    u, i = graph_edge_index
    i = i + num_users
    return torch.stack([torch.cat([u, i]), torch.cat([i, u])])
