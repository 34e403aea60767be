"""Trained peer baselines from well-kept libraries: implicit's ALS and BPR, cornac's Mult-VAE and
PyG's LightGCN.

Each is a :class:`~interest_workers.pipelines.scores.Scorer` fitted on the binary user×item matrix
of an :class:`InteractionGraph`, as the libraries' own examples run them. ``validation`` (a
:data:`ScorerValidation`, higher is better) lets a model keep the best checkpoint of a run
(early stopping). implicit and cornac are imported when fitted (the ``bench`` extra): the served
model does not need them.
"""

from __future__ import annotations

import copy
import logging
import math
import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.nn.models import LightGCN as PygLightGCN

from ..typing import FloatArray, IndexArray
from .graph_build import InteractionGraph
from .propagation import bipartite_edges, normalized_adjacency, resolve_device
from .scores import EmbeddingScorer, Scorer
from .training import TrainResult

logger = logging.getLogger(__name__)

ScorerValidation = Callable[[Scorer], float]
"""``scorer -> metric`` on a validation split (higher is better)."""


class _Factors:
    """Dot-product scores of user and item factors (what ALS, BPR and LightGCN produce)."""

    user_emb: FloatArray
    item_emb: FloatArray

    @property
    def num_items(self) -> int:
        return int(self.item_emb.shape[0])

    def score(self, users: IndexArray) -> FloatArray:
        return self.user_emb[users] @ self.item_emb.T


def _implicit_factors(model: Any) -> tuple[FloatArray, FloatArray]:
    return (np.array(model.user_factors, np.float32, copy=True),
            np.array(model.item_factors, np.float32, copy=True))


class ImplicitALS(_Factors):
    """implicit's ``AlternatingLeastSquares`` (Hu, Koren & Volinsky 2008) on CPU.

    Args:
        factors: Latent factors.
        regularization: L2 strength.
        alpha: Confidence scale: an observed pair has confidence ``1 + alpha``.
        iterations: ALS sweeps.
        seed: ``random_state``.
    """

    def __init__(self, factors: int = 64, regularization: float = 0.01, alpha: float = 1.0,
                 iterations: int = 15, seed: int = 0) -> None:
        self.factors = factors
        self.regularization = regularization
        self.alpha = alpha
        self.iterations = iterations
        self.seed = seed

    def fit(self, graph: InteractionGraph) -> ImplicitALS:
        from implicit.cpu.als import AlternatingLeastSquares
        from threadpoolctl import threadpool_limits

        # implicit parallelises over users itself; a threaded BLAS underneath only contends (and
        # implicit warns about it).
        with threadpool_limits(1, "blas"):
            model = AlternatingLeastSquares(
                factors=self.factors, regularization=self.regularization, alpha=self.alpha,
                iterations=self.iterations, random_state=self.seed)
            model.fit(graph.to_csr(binary=True), show_progress=False)
        self.user_emb, self.item_emb = _implicit_factors(model)
        return self


class ImplicitBPR(_Factors):
    """implicit's ``BayesianPersonalizedRanking`` (Rendle et al. 2009) on CPU, one thread (its
    multi-threaded SGD is lock-free, hence not reproducible).

    Args:
        factors: Latent factors.
        learning_rate: SGD step.
        regularization: L2 strength.
        iterations: Epoch budget; with ``validation`` the best checkpoint is kept.
        eval_every: Epochs between validation checks.
        seed: ``random_state``.
    """

    def __init__(self, factors: int = 64, learning_rate: float = 0.01,
                 regularization: float = 0.01, iterations: int = 200, eval_every: int = 10,
                 seed: int = 0) -> None:
        self.factors = factors
        self.learning_rate = learning_rate
        self.regularization = regularization
        self.iterations = iterations
        self.eval_every = eval_every
        self.seed = seed
        self.best_iteration = iterations

    def fit(self, graph: InteractionGraph, validation: ScorerValidation | None = None) -> ImplicitBPR:
        from implicit.cpu.bpr import BayesianPersonalizedRanking

        model = BayesianPersonalizedRanking(
            factors=self.factors, learning_rate=self.learning_rate,
            regularization=self.regularization, iterations=self.iterations, num_threads=1,
            random_state=self.seed)
        best = -math.inf

        def checkpoint(iteration: int, *_: Any) -> None:
            nonlocal best
            done = iteration + 1
            if validation is None or (done % self.eval_every and done != self.iterations):
                return
            self.user_emb, self.item_emb = _implicit_factors(model)
            val = validation(self)
            if val > best:
                best, self.best_iteration = val, done
                self._best = (self.user_emb, self.item_emb)

        model.fit(graph.to_csr(binary=True), show_progress=False, callback=checkpoint)
        if validation is None:
            self.user_emb, self.item_emb = _implicit_factors(model)
        else:
            self.user_emb, self.item_emb = self._best
        return self


class MultVAE:
    """cornac's ``VAECF`` with the multinomial likelihood: Mult-VAE (Liang et al. 2018).

    The paper's architecture (``[I → 600 → 200 → 600 → I]``, tanh, Adam 1e-3, batch 500) and
    its β = 0.2 (the paper anneals β up to about 0.2). cornac's version has no input dropout and
    no annealing; early stopping on the validation split stands in for both.

    Args:
        hidden: Encoder/decoder hidden width.
        latent: Latent width.
        beta: Weight of the KL term.
        lr: Adam learning rate.
        batch_size: Users per step.
        epochs: Epoch budget; with ``validation`` the best checkpoint is kept.
        eval_every: Epochs between validation checks.
        patience: Checks without improvement before stopping.
        seed: Initialisation seed.
        device: ``None`` = CUDA when present.
    """

    def __init__(self, hidden: int = 600, latent: int = 200, beta: float = 0.2, lr: float = 1e-3,
                 batch_size: int = 500, epochs: int = 200, eval_every: int = 10, patience: int = 3,
                 seed: int = 0, device: str | None = None) -> None:
        self.hidden = hidden
        self.latent = latent
        self.beta = beta
        self.lr = lr
        self.batch_size = batch_size
        self.epochs = epochs
        self.eval_every = eval_every
        self.patience = patience
        self.seed = seed
        self.device = device
        self.best_epoch = epochs

    def fit(self, graph: InteractionGraph, validation: ScorerValidation | None = None) -> MultVAE:
        from cornac.data import Dataset
        from cornac.models import VAECF

        x = graph.to_csr(binary=True).tocoo()
        data = Dataset(graph.num_users, graph.num_items, {u: u for u in range(graph.num_users)},
                       {i: i for i in range(graph.num_items)},
                       (x.row.astype(np.int64), x.col.astype(np.int64), x.data.astype(np.float64)))
        self.history = graph.to_csr(binary=True)
        step = self.eval_every if validation is not None else self.epochs
        self.model = VAECF(k=self.latent, autoencoder_structure=[self.hidden], act_fn="tanh",
                           likelihood="mult", n_epochs=step, batch_size=self.batch_size,
                           learning_rate=self.lr, beta=self.beta, seed=self.seed,
                           use_gpu=resolve_device(self.device).type == "cuda")
        best, best_state, bad, done = -math.inf, None, 0, 0
        while done < self.epochs:
            self.model.n_epochs = min(step, self.epochs - done)
            with warnings.catch_warnings():
                # cornac warns that a second fit "overwrites" the model; VAECF in fact keeps
                # training the same network, which is what resuming after a check needs.
                warnings.filterwarnings("ignore", "Model is already fitted", UserWarning)
                self.model.fit(data)
            done += self.model.n_epochs
            if validation is None:
                continue
            val = validation(self)
            if val > best:
                best, self.best_epoch, bad = val, done, 0
                best_state = copy.deepcopy(self.model.vae.state_dict())
            else:
                bad += 1
                if bad >= self.patience:
                    break
        if best_state is not None:
            self.model.vae.load_state_dict(best_state)
        return self

    @property
    def num_items(self) -> int:
        return int(self.history.shape[1])

    @torch.no_grad()
    def score(self, users: IndexArray) -> FloatArray:
        vae = self.model.vae
        rows = torch.from_numpy(self.history[users].toarray()).to(self.model.device)
        mu, _ = vae.encode(rows)
        # Logits rank as the softmax does.
        return np.asarray(vae.decoder(mu).cpu().numpy(), dtype=np.float32)


def _train_bpr(
    module: nn.Module,
    embed_fn: Callable[[], tuple[Tensor, Tensor]],
    graph: InteractionGraph,
    *,
    epochs: int,
    lr: float,
    batch_size: int,
    reg: float,
    validation: ScorerValidation | None,
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
            val = float(validation(EmbeddingScorer(zu_all, zi_all)))
            result.validated(epoch, val, module)
        result.history.append((epoch, total, val))
        if result.stalled(patience):
            break
    return result.finish(module, start)


class _SymmetricPropagation(torch.autograd.Function):
    """``A @ x`` for a symmetric sparse CSR ``A``: the gradient is ``A @ grad`` (no transpose)."""

    @staticmethod
    def forward(ctx: Any, adj: Tensor, x: Tensor) -> Tensor:
        ctx.adj = adj
        return adj @ x

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[None, Tensor]:
        return None, ctx.adj @ grad


class LightGCN(_Factors):
    """PyG's :class:`torch_geometric.nn.models.LightGCN` (id embeddings only, no text), trained
    with BPR (He et al. 2020: L2 1e-4, one uniform negative per positive).

    Each step propagates over the whole graph, as the paper's and PyG's reference code do, so the
    cost of an epoch is its number of steps: an epoch takes ``steps_per_epoch`` batches, as the
    served GCN's training does (the paper's batch of 2048 on Online Retail is 100 full
    propagations an epoch, hours on two CPU cores), with a learning rate for that batch size.

    Args:
        embedding_dim: Embedding width.
        num_layers: Propagation layers.
        epochs: Epoch budget; with ``validation`` the best checkpoint is kept.
        lr: Adam learning rate.
        steps_per_epoch: Batches per epoch (the batch size follows the edge count).
        min_batch_size: Smallest batch.
        reg: L2 on the batch embeddings.
        eval_every: Epochs between validation checks.
        patience: Checks without improvement before stopping.
        seed: Initialisation and sampling seed.
    """

    def __init__(self, embedding_dim: int = 64, num_layers: int = 3, epochs: int = 200,
                 lr: float = 0.02, steps_per_epoch: int = 12, min_batch_size: int = 2048,
                 reg: float = 1e-4, eval_every: int = 5, patience: int = 4, seed: int = 0) -> None:
        self.embedding_dim = embedding_dim
        self.num_layers = num_layers
        self.epochs = epochs
        self.lr = lr
        self.steps_per_epoch = steps_per_epoch
        self.min_batch_size = min_batch_size
        self.reg = reg
        self.eval_every = eval_every
        self.patience = patience
        self.seed = seed

    def fit(self, graph: InteractionGraph, validation: ScorerValidation | None = None) -> LightGCN:
        torch.manual_seed(self.seed)
        U, n = graph.num_users, graph.num_users + graph.num_items
        module = PygLightGCN(n, self.embedding_dim, self.num_layers)
        self.module = module
        edge_index = bipartite_edges(graph.edge_index, U)
        # Normalise once; propagate as PyG's get_embedding does (LGConv without normalisation is
        # this product), with one CSR matrix for the forward and the backward pass alike.
        adj = normalized_adjacency(edge_index, torch.ones(edge_index.size(1)), n,
                                   transform="binary")
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
            adj = adj.to_sparse_csr()

        def embed_fn() -> tuple[Tensor, Tensor]:
            x = module.embedding.weight
            z = x * module.alpha[0]
            for layer in range(module.num_layers):
                x = _SymmetricPropagation.apply(adj, x)  # type: ignore[no-untyped-call]
                z = z + x * module.alpha[layer + 1]
            return z[:U], z[U:]

        batch_size = max(self.min_batch_size, math.ceil(graph.num_edges / self.steps_per_epoch))
        self.train_result = _train_bpr(
            module, embed_fn, graph, epochs=self.epochs, lr=self.lr,
            batch_size=batch_size, reg=self.reg, validation=validation,
            eval_every=self.eval_every, patience=self.patience, seed=self.seed,
        )
        self.module.eval()
        with torch.no_grad():
            zu, zi = embed_fn()
        self.user_emb, self.item_emb = zu.numpy().copy(), zi.numpy().copy()
        return self
