"""Trained peer baselines from well-kept libraries: implicit's ALS and BPR, cornac's Mult-VAE
(PyG's LightGCN, trained as its paper does, is :mod:`~interest_workers.pipelines.evaluation.lightgcn`).

Each is a :class:`~interest_workers.pipelines.model.scores.Scorer` fitted on the binary user×item matrix
of an :class:`InteractionGraph`, as the libraries' own examples run them. ``validation`` (a
:data:`ScorerValidation`, higher is better) lets a model keep the best checkpoint of a run
(early stopping). implicit and cornac are imported when fitted (the ``bench`` extra): the served
model does not need them.
"""

from __future__ import annotations

import copy
import logging
import math
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from ...typing import FloatArray, IndexArray
from ..model.graph_build import InteractionGraph
from ..model.propagation import resolve_device
from ..model.scores import Scorer

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
