"""Baseline recommenders for the side-by-side evaluation.

Each one is fitted on an :class:`InteractionGraph` (binary implicit feedback, as these baselines are
usually run) and is a :class:`~interest_workers.pipelines.scores.Scorer`.
"""

from __future__ import annotations

import copy
import logging
import math
import time
from collections.abc import Callable

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.nn.models import LightGCN

from ..typing import FloatArray, IndexArray
from .gcn import bipartite_edges, normalized_adjacency
from .graph_build import InteractionGraph
from .training import TrainResult, ValidationFn

logger = logging.getLogger(__name__)


class Popularity:
    """Items ranked by number of distinct users."""

    def fit(self, graph: InteractionGraph) -> Popularity:
        self.counts = graph.item_degree().astype(np.float32)
        return self

    @property
    def num_items(self) -> int:
        return len(self.counts)

    def score(self, users: IndexArray) -> FloatArray:
        return np.broadcast_to(self.counts, (len(users), len(self.counts))).copy()


class ItemKNN:
    """Item-based k-nearest neighbours with cosine similarity on the binary user×item matrix.

    Args:
        k: Neighbours kept per item.
        shrink: Added to the cosine denominator (damps similarities from few co-occurrences).
    """

    def __init__(self, k: int = 100, shrink: float = 10.0) -> None:
        self.k = k
        self.shrink = shrink

    def fit(self, graph: InteractionGraph) -> ItemKNN:
        x = graph.to_csr(binary=True)
        self.history = x
        norms = np.sqrt(np.asarray(x.sum(0)).ravel())
        co = (x.T @ x).toarray()
        np.fill_diagonal(co, 0.0)
        sim = co / (np.outer(norms, norms) + self.shrink + 1e-12)
        if self.k < sim.shape[0]:
            cut = np.argpartition(-sim, self.k, axis=0)[self.k :]
            np.put_along_axis(sim, cut, 0.0, axis=0)
        self.sim = sim.astype(np.float32)
        return self

    @property
    def num_items(self) -> int:
        return int(self.sim.shape[0])

    def score(self, users: IndexArray) -> FloatArray:
        return np.asarray(self.history[users] @ self.sim, dtype=np.float32)


def ease_weights(x: sp.csr_matrix, l2: float) -> FloatArray:
    """EASE item-item weights ``B`` (Steck 2019): ``P = (XᵀX + λI)⁻¹, B = -P / diag(P)``, diag 0.

    Args:
        x: ``(U, I)`` user×item matrix.
        l2: Ridge strength ``λ``.

    Returns:
        ``(I, I)`` float32.
    """
    g = (x.T @ x).toarray().astype(np.float64)
    g[np.diag_indices_from(g)] += l2
    p = np.linalg.inv(g)
    b = p / (-np.diag(p))
    np.fill_diagonal(b, 0.0)
    return np.asarray(b, dtype=np.float32)


class EASE:
    """Embarrassingly Shallow Autoencoder on the binary matrix (or a weighted one).

    Args:
        l2: Ridge strength.
        history: ``"binary"`` or ``"weighted"`` user rows at scoring time and fit time.
    """

    def __init__(self, l2: float = 500.0, history: str = "binary") -> None:
        if history not in ("binary", "weighted"):
            raise ValueError(f"unknown history {history!r}; valid: binary, weighted")
        self.l2 = l2
        self.history_kind = history

    def _rows(self, graph: InteractionGraph) -> sp.csr_matrix:
        x = graph.to_csr(binary=self.history_kind == "binary")
        if self.history_kind == "weighted":
            # Rows scaled to max 1 keep λ on the same scale as the binary fit.
            x = sp.csr_matrix(sp.diags(1.0 / np.maximum(x.max(1).toarray().ravel(), 1e-12)) @ x)
        return x

    def fit(self, graph: InteractionGraph) -> EASE:
        self.history = self._rows(graph)
        self.b = ease_weights(self.history, self.l2)
        return self

    def with_history(self, graph: InteractionGraph) -> EASE:
        """The fitted item-item weights scoring the users of ``graph`` (same items)."""
        if graph.num_items != self.b.shape[0]:
            raise ValueError(f"graph has {graph.num_items} items, the weights {self.b.shape[0]}")
        out = EASE(self.l2, history=self.history_kind)
        out.history = out._rows(graph)
        out.b = self.b
        return out

    @property
    def num_items(self) -> int:
        return int(self.b.shape[0])

    def score(self, users: IndexArray) -> FloatArray:
        return np.asarray(self.history[users] @ self.b, dtype=np.float32)


class _MF(nn.Module):
    def __init__(self, num_users: int, num_items: int, dim: int) -> None:
        super().__init__()
        self.user = nn.Embedding(num_users, dim)
        self.item = nn.Embedding(num_items, dim)
        nn.init.normal_(self.user.weight, std=0.1)
        nn.init.normal_(self.item.weight, std=0.1)


def _train_bpr(
    module: nn.Module,
    embed_fn: Callable[[], tuple[Tensor, Tensor]],
    graph: InteractionGraph,
    *,
    epochs: int,
    lr: float,
    batch_size: int,
    reg: float,
    validation: ValidationFn | None,
    eval_every: int,
    patience: int,
    seed: int,
) -> TrainResult:
    """BPR with one uniform negative per positive; ``embed_fn`` gives all ``(U, D), (I, D)``."""
    start = time.perf_counter()
    gen = torch.Generator().manual_seed(seed)
    pos = graph.edge_index
    warm = torch.from_numpy(np.flatnonzero(graph.item_degree() > 0))
    opt = torch.optim.Adam(module.parameters(), lr=lr)
    result = TrainResult(epochs=0, best_epoch=0, best_val=math.nan)
    best_state = None
    bad = 0
    for epoch in range(1, epochs + 1):
        module.train()
        perm = torch.randperm(graph.num_edges, generator=gen)
        total = 0.0
        for s in range(0, graph.num_edges, batch_size):
            b = perm[s : s + batch_size]
            neg = warm[torch.randint(len(warm), (len(b),), generator=gen)]
            zu_all, zi_all = embed_fn()
            zu, zp, zn = zu_all[pos[0, b]], zi_all[pos[1, b]], zi_all[neg]
            loss = -F.logsigmoid((zu * zp).sum(-1) - (zu * zn).sum(-1)).mean()
            loss = loss + reg * (zu.pow(2).sum() + zp.pow(2).sum() + zn.pow(2).sum()) / len(b)
            opt.zero_grad()
            loss.backward()  # type: ignore[no-untyped-call]
            opt.step()
            total += float(loss.detach())
        result.epochs = epoch
        val = math.nan
        if validation is not None and (epoch % eval_every == 0 or epoch == epochs):
            module.eval()
            with torch.no_grad():
                zu_all, zi_all = embed_fn()
            val = float(validation(zu_all, zi_all))
            if math.isnan(result.best_val) or val > result.best_val:
                result.best_val, result.best_epoch = val, epoch
                best_state = copy.deepcopy(module.state_dict())
                bad = 0
            else:
                bad += 1
        result.history.append((epoch, total, val))
        if bad >= patience:
            break
    if best_state is not None:
        module.load_state_dict(best_state)
    else:
        result.best_epoch = result.epochs
    result.fit_s = time.perf_counter() - start
    return result


class BPRMF:
    """Matrix factorisation trained with BPR.

    Args:
        embedding_dim: Factors.
        epochs: Maximum epochs.
        lr: Adam learning rate.
        batch_size: Positives per step.
        reg: L2 on the batch embeddings.
        seed: Initialisation and sampling seed.
    """

    def __init__(
        self,
        embedding_dim: int = 64,
        epochs: int = 60,
        lr: float = 0.005,
        batch_size: int = 2048,
        reg: float = 1e-4,
        seed: int = 0,
    ) -> None:
        self.embedding_dim = embedding_dim
        self.epochs = epochs
        self.lr = lr
        self.batch_size = batch_size
        self.reg = reg
        self.seed = seed

    def fit(
        self, graph: InteractionGraph, validation: ValidationFn | None = None, patience: int = 3
    ) -> BPRMF:
        torch.manual_seed(self.seed)
        self.module = _MF(graph.num_users, graph.num_items, self.embedding_dim)
        self.train_result = _train_bpr(
            self.module, lambda: (self.module.user.weight, self.module.item.weight), graph,
            epochs=self.epochs, lr=self.lr, batch_size=self.batch_size, reg=self.reg,
            validation=validation, eval_every=2, patience=patience, seed=self.seed,
        )
        self.user_emb = self.module.user.weight.detach().numpy().copy()
        self.item_emb = self.module.item.weight.detach().numpy().copy()
        return self

    @property
    def num_items(self) -> int:
        return int(self.item_emb.shape[0])

    def score(self, users: IndexArray) -> FloatArray:
        return np.asarray(self.user_emb[users] @ self.item_emb.T, dtype=np.float32)


class LightGCNBaseline:
    """PyG's :class:`torch_geometric.nn.models.LightGCN` (id embeddings only, no text).

    Args:
        embedding_dim: Embedding width.
        num_layers: Propagation layers.
        epochs: Maximum epochs.
        lr: Adam learning rate.
        batch_size: Positives per step.
        reg: L2 on the batch embeddings.
        seed: Initialisation and sampling seed.
    """

    def __init__(
        self,
        embedding_dim: int = 64,
        num_layers: int = 2,
        epochs: int = 60,
        lr: float = 0.01,
        batch_size: int = 4096,
        reg: float = 1e-4,
        seed: int = 0,
    ) -> None:
        self.embedding_dim = embedding_dim
        self.num_layers = num_layers
        self.epochs = epochs
        self.lr = lr
        self.batch_size = batch_size
        self.reg = reg
        self.seed = seed

    def fit(
        self, graph: InteractionGraph, validation: ValidationFn | None = None, patience: int = 3
    ) -> LightGCNBaseline:
        torch.manual_seed(self.seed)
        U, n = graph.num_users, graph.num_users + graph.num_items
        self.module = LightGCN(n, self.embedding_dim, self.num_layers)
        edge_index = bipartite_edges(graph.edge_index, U)
        # Normalise once and hand LGConv the sparse adjacency: same maths, far faster on CPU.
        adj = normalized_adjacency(
            edge_index, torch.ones(edge_index.size(1)), n, transform="binary"
        )
        for conv in self.module.convs:
            conv.normalize = False

        def embed_fn() -> tuple[Tensor, Tensor]:
            z = self.module.get_embedding(adj)
            return z[:U], z[U:]

        self.train_result = _train_bpr(
            self.module, embed_fn, graph, epochs=self.epochs, lr=self.lr,
            batch_size=self.batch_size, reg=self.reg, validation=validation, eval_every=2,
            patience=patience, seed=self.seed,
        )
        self.module.eval()
        with torch.no_grad():
            zu, zi = embed_fn()
        self.user_emb, self.item_emb = zu.numpy().copy(), zi.numpy().copy()
        return self

    @property
    def num_items(self) -> int:
        return int(self.item_emb.shape[0])

    def score(self, users: IndexArray) -> FloatArray:
        return np.asarray(self.user_emb[users] @ self.item_emb.T, dtype=np.float32)
