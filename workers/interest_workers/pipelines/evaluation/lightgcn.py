"""The LightGCN peer: PyG's :class:`torch_geometric.nn.models.LightGCN` trained as its paper does.

He et al. (SIGIR 2020) and their reference code (gusye1234/LightGCN-PyTorch) train id embeddings
only (no text), initialised from N(0, 0.1²), with BPR: each epoch draws as many samples as there
are training pairs, each a uniformly drawn user, one of their items and one item they never
touched (rejection-sampled), in batches of 2048 with Adam at 1e-3 and L2 1e-4 on the batch's
*initial* (layer-0) embeddings, halved and averaged over the batch; layers are averaged
(α_k = 1/(K+1)). This module does exactly that; :class:`LightGCN`'s defaults are the published
settings for Gowalla (64-d, 3 layers; about 1,000 epochs).

The evaluation's routine budget (:mod:`~interest_workers.pipelines.evaluation.tuning`) is smaller: an epoch
in 12 batches with a larger learning rate and at most 120 epochs, since each step propagates
over the whole graph (the paper's batch of 2048 on Gowalla is 396 propagations an epoch, about
40 s on two CPU cores). ``benchmarks/lightgcn_reproduction.py`` runs the published budget and
records how far the routine one is from it.
"""

from __future__ import annotations

import math
import time
import warnings
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.nn.models import LightGCN as PygLightGCN

from ...typing import FloatArray, IndexArray
from ..model.graph_build import InteractionGraph
from ..model.propagation import bipartite_edges, normalized_adjacency
from ..model.scores import EmbeddingScorer
from ..model.training import TrainResult
from .peers import ScorerValidation


class _SymmetricPropagation(torch.autograd.Function):
    """``A @ x`` for a symmetric sparse CSR ``A``: the gradient is ``A @ grad`` (no transpose)."""

    @staticmethod
    def forward(ctx: Any, adj: Tensor, x: Tensor) -> Tensor:
        ctx.adj = adj
        return adj @ x

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[None, Tensor]:
        return None, ctx.adj @ grad


class PairSampler:
    """The reference code's BPR samples: uniform users, one of their items, one negative.

    Args:
        graph: The training pairs (binary; weights are ignored, as the paper's data has none).
        generator: Seeded source of randomness (its state is the sampler's whole state).
    """

    def __init__(self, graph: InteractionGraph, generator: np.random.Generator) -> None:
        x = graph.to_csr(binary=True)
        x.sum_duplicates()
        x.sort_indices()
        self.indptr, self.indices = x.indptr.astype(np.int64), x.indices.astype(np.int64)
        self.num_items = graph.num_items
        self.users = np.flatnonzero(np.diff(self.indptr) > 0)
        rows = np.repeat(np.arange(x.shape[0], dtype=np.int64), np.diff(self.indptr))
        self._keys = rows * self.num_items + self.indices  # sorted: rows, then sorted columns
        self.rng = generator

    def _is_positive(self, users: IndexArray, items: IndexArray) -> np.ndarray:
        keys = users * self.num_items + items
        at = np.minimum(np.searchsorted(self._keys, keys), len(self._keys) - 1)
        return np.asarray(self._keys[at] == keys)

    def sample(self, n: int) -> tuple[IndexArray, IndexArray, IndexArray]:
        """``n`` (user, positive, negative) triples."""
        users = self.users[self.rng.integers(len(self.users), size=n)]
        start, deg = self.indptr[users], np.diff(self.indptr)[users]
        pos = self.indices[start + (self.rng.random(n) * deg).astype(np.int64)]
        neg = self.rng.integers(self.num_items, size=n)
        bad = self._is_positive(users, neg)
        while bad.any():  # a user touching every item would never leave: none in practice
            neg[bad] = self.rng.integers(self.num_items, size=int(bad.sum()))
            bad[bad] = self._is_positive(users[bad], neg[bad])
        return users, pos, neg


class LightGCN:
    """PyG's LightGCN with the paper's training (see the module docstring).

    Each step propagates over the whole graph, as the paper's and PyG's reference code do, so
    an epoch costs its number of batches.

    Args:
        embedding_dim: Embedding width.
        num_layers: Propagation layers.
        epochs: Epoch budget; with ``validation`` the best checkpoint is kept.
        lr: Adam learning rate.
        batch_size: Samples per step; ``None``: ``ceil(pairs / steps_per_epoch)``, at least
            ``min_batch_size``.
        steps_per_epoch: Batches per epoch when ``batch_size`` is ``None``.
        min_batch_size: Smallest batch then.
        reg: L2 weight on the batch's layer-0 embeddings (the paper's ``decay``).
        init_std: Standard deviation of the initial embeddings.
        eval_every: Epochs between validation checks.
        patience: Checks without improvement before stopping.
        seed: Initialisation and sampling seed.
    """

    def __init__(self, embedding_dim: int = 64, num_layers: int = 3, epochs: int = 1000,
                 lr: float = 1e-3, batch_size: int | None = 2048, steps_per_epoch: int = 12,
                 min_batch_size: int = 2048, reg: float = 1e-4, init_std: float = 0.1,
                 eval_every: int = 5, patience: int = 4, seed: int = 0) -> None:
        self.embedding_dim = embedding_dim
        self.num_layers = num_layers
        self.epochs = epochs
        self.lr = lr
        self.batch_size = batch_size
        self.steps_per_epoch = steps_per_epoch
        self.min_batch_size = min_batch_size
        self.reg = reg
        self.init_std = init_std
        self.eval_every = eval_every
        self.patience = patience
        self.seed = seed

    # -- the training state, step by step (the reproduction benchmark checkpoints it) --------

    def setup(self, graph: InteractionGraph) -> LightGCN:
        """Build the module, its optimiser, the propagation matrix and the sampler."""
        torch.manual_seed(self.seed)
        self.num_users, n = graph.num_users, graph.num_users + graph.num_items
        self.module = PygLightGCN(n, self.embedding_dim, self.num_layers)
        torch.nn.init.normal_(self.module.embedding.weight, std=self.init_std)
        edge_index = bipartite_edges(graph.edge_index, self.num_users)
        # Normalise once; propagate as PyG's get_embedding does (LGConv without normalisation is
        # this product), with one CSR matrix for the forward and the backward pass alike.
        adj = normalized_adjacency(edge_index, torch.ones(edge_index.size(1)), n,
                                   transform="binary")
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
            self._adj = adj.to_sparse_csr()
        self.optimizer = torch.optim.Adam(self.module.parameters(), lr=self.lr)
        self.sampler = PairSampler(graph, np.random.default_rng(self.seed))
        self.samples_per_epoch = int(self.sampler.indptr[-1])
        self.step_size = self.batch_size or max(
            self.min_batch_size, math.ceil(self.samples_per_epoch / self.steps_per_epoch))
        self.epochs_done = 0
        return self

    def propagate(self) -> tuple[Tensor, Tensor]:
        """``(U, D), (I, D)``: the layer average of the propagated embeddings."""
        x = self.module.embedding.weight
        z = x * self.module.alpha[0]
        for layer in range(self.module.num_layers):
            x = _SymmetricPropagation.apply(self._adj, x)  # type: ignore[no-untyped-call]
            z = z + x * self.module.alpha[layer + 1]
        return z[: self.num_users], z[self.num_users :]

    def train_epoch(self) -> float:
        """One epoch of BPR steps; returns the mean loss."""
        self.module.train()
        users, pos, neg = self.sampler.sample(self.samples_per_epoch)
        u_ix, p_ix, n_ix = (torch.from_numpy(a) for a in (users, pos, neg))
        ego = self.module.embedding.weight
        total, steps = 0.0, 0
        for s in range(0, self.samples_per_epoch, self.step_size):
            bu, bp, bn = (t[s : s + self.step_size] for t in (u_ix, p_ix, n_ix))
            zu_all, zi_all = self.propagate()
            zu, zp, zn = zu_all[bu], zi_all[bp], zi_all[bn]
            bpr = F.softplus((zu * zn).sum(-1) - (zu * zp).sum(-1)).mean()
            e_u, e_p, e_n = ego[bu], ego[self.num_users + bp], ego[self.num_users + bn]
            l2 = 0.5 * (e_u.pow(2).sum() + e_p.pow(2).sum() + e_n.pow(2).sum()) / len(bu)
            loss = bpr + self.reg * l2
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()
            total += float(loss.detach())
            steps += 1
        self.epochs_done += 1
        return total / max(steps, 1)

    def snapshot(self) -> LightGCN:
        """Freeze the current embeddings as the scorer's (``user_emb``, ``item_emb``)."""
        self.module.eval()
        with torch.no_grad():
            zu, zi = self.propagate()
        self.user_emb, self.item_emb = zu.numpy().copy(), zi.numpy().copy()
        return self

    def state(self) -> dict[str, Any]:
        """Everything a resumed run needs (module, optimiser, sampler, epoch)."""
        return {"module": self.module.state_dict(), "optimizer": self.optimizer.state_dict(),
                "sampler": self.sampler.rng.bit_generator.state, "epochs_done": self.epochs_done}

    def load_state(self, state: dict[str, Any]) -> LightGCN:
        self.module.load_state_dict(state["module"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.sampler.rng.bit_generator.state = state["sampler"]
        self.epochs_done = int(state["epochs_done"])
        return self

    # -- the peer as the evaluation fits it ------------------------------------------------

    def fit(self, graph: InteractionGraph, validation: ScorerValidation | None = None) -> LightGCN:
        """Train for ``epochs`` (with ``validation``: keep the best checkpoint, stop after
        ``patience`` checks without a gain)."""
        started = time.perf_counter()
        self.setup(graph)
        result = TrainResult(epochs=0, best_epoch=0, best_val=math.nan)
        for epoch in range(1, self.epochs + 1):
            loss = self.train_epoch()
            result.epochs = epoch
            val = math.nan
            if validation is not None and (epoch % self.eval_every == 0 or epoch == self.epochs):
                self.snapshot()
                val = float(validation(EmbeddingScorer(self.user_emb, self.item_emb)))
                result.validated(epoch, val, self.module)
            result.history.append((epoch, loss, val))
            if result.stalled(self.patience):
                break
        self.train_result = result.finish(self.module, started)
        return self.snapshot()

    @property
    def num_items(self) -> int:
        return int(self.item_emb.shape[0])

    def score(self, users: IndexArray) -> FloatArray:
        return np.asarray(self.user_emb[users] @ self.item_emb.T, np.float32)
