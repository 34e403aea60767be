"""Closed-form graph filters on the item-item graph: the ``filter`` term of the blend.

GF-CF (Shen et al., CIKM 2021) and BSPM (Choi et al., SIGIR 2023) show that what LightGCN learns
on these benchmarks is close to a low-pass filter over the normalised item-item graph, which can
be applied in closed form, with no training. With the binary user × item matrix ``R`` and its
degree-normalised form ``R̃ = D_U^{-1/2} R D_I^{-1/2}``, the item-item graph is ``P̃ = R̃ᵀ R̃``
(eigenvalues in ``[0, 1]``). A user's history row ``r`` is scored in two steps:

1. **Blur** (GF-CF's filter): ``y₀ = r P̃ + β · r D_I^{-1/2} V Vᵀ D_I^{1/2}``: the linear filter
   plus an *ideal* low-pass filter on the top ``k`` right singular vectors ``V`` of ``R̃``,
   weighted ``β``.
2. **Sharpen** (BSPM's sharpening process): ``dy/dt = -y P̃`` from ``y₀`` for a time ``T``,
   integrated by one Runge-Kutta-4 step. It damps the directions the blur over-smooths (the
   middle of ``P̃``'s spectrum) and keeps the strongest and the user-specific ones, so a user's
   own taste is not washed out by what everyone likes. ``T = 0`` is GF-CF.

RK4 on this linear equation is ``y₀ (1 - TP̃ + T²P̃²/2 - T³P̃³/6 + T⁴P̃⁴/24)``, so a grid of
``(β, T)`` needs the powers ``y₀ P̃ʲ`` (``j ≤ 4``) once per ``β`` (:meth:`GraphFilter.grid`):
the fit chooses ``β`` and ``T`` on its validation carve like any other term's variant. ``P̃`` is
never formed: each product is ``(y R̃ᵀ) R̃``, two sparse × dense products over the graph's edges.
The number of factors follows the catalogue (:func:`factors_for`), not the data.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator, Sequence
from functools import cached_property
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch

from ...typing import FloatArray, IndexArray
from .graph_build import InteractionGraph

#: Ideal low-pass weights and sharpening times tried by the fit.
FILTER_BETAS = (0.0, 0.2, 0.5)
FILTER_TIMES = (0.0, 1.0, 2.5)
#: Factors of the ideal low-pass filter: a sixteenth of the catalogue's spectrum, 32 to 448.
MAX_FACTORS, MIN_FACTORS, SPECTRUM_SHARE = 448, 32, 16


def factors_for(num_items: int) -> int:
    """The ideal filter's width for a catalogue of ``num_items`` warm items."""
    return int(min(MAX_FACTORS, max(MIN_FACTORS, num_items // SPECTRUM_SHARE),
                   max(num_items - 1, 1)))


def _csr_tensor(m: sp.csr_matrix) -> torch.Tensor:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
        warnings.filterwarnings("ignore", message="Sparse invariant checks")
        return torch.sparse_csr_tensor(torch.from_numpy(m.indptr.astype(np.int64)),
                                       torch.from_numpy(m.indices.astype(np.int64)),
                                       torch.from_numpy(m.data.astype(np.float32)),
                                       size=m.shape)


def top_right_vectors(rn: sp.csr_matrix, k: int, *, iterations: int = 6, oversample: int = 32,
                      seed: int = 0) -> FloatArray:
    """``(I, k)`` the top ``k`` right singular vectors of ``rn``, by block subspace iteration on
    ``rnᵀ rn`` with a Rayleigh-Ritz step (Halko, Martinsson & Tropp 2011): a few sparse products
    with an ``I × (k + oversample)`` block, seconds where ``scipy``'s Lanczos takes minutes."""
    n = rn.shape[1]
    q = min(n, k + oversample)
    rnt = sp.csr_matrix(rn.T)
    x = np.random.default_rng(seed).standard_normal((n, q)).astype(np.float32)
    for _ in range(iterations):
        x, _ = np.linalg.qr(rnt @ (rn @ x))
    gram = x.T @ (rnt @ (rn @ x))
    values, vectors = np.linalg.eigh((gram + gram.T) / 2)
    order = np.argsort(values)[::-1][:k]
    return np.ascontiguousarray((x @ vectors[:, order]).astype(np.float32))


class GraphFilter:
    """The blur-and-sharpen graph filter (see the module docstring).

    Args:
        beta: Weight of the ideal low-pass filter.
        time: Sharpening time ``T`` (0: none).
        factors: Width of the ideal filter; ``None``: :func:`factors_for` the warm items.
    """

    def __init__(self, beta: float = 0.2, time: float = 1.0, factors: int | None = None) -> None:
        self.beta, self.time, self.factors = float(beta), float(time), factors

    def fit(self, graph: InteractionGraph, vectors: FloatArray | None = None) -> GraphFilter:
        """Normalise the binary matrix of ``graph`` and find its top factors (``vectors``: the
        saved ones, from :attr:`v`)."""
        x = graph.to_csr(binary=True)
        x.sum_duplicates()
        x.data[:] = 1.0
        du = np.asarray(x.sum(1)).ravel()
        di = np.asarray(x.sum(0)).ravel()
        with np.errstate(divide="ignore"):
            inv_u = np.where(du > 0, du ** -0.5, 0.0)
            self.d_inv = np.where(di > 0, di ** -0.5, 0.0).astype(np.float32)
            self.d = np.where(di > 0, di ** 0.5, 0.0).astype(np.float32)
        self.rn = sp.csr_matrix(sp.diags(inv_u) @ x @ sp.diags(self.d_inv), dtype=np.float32)
        self.history = sp.csr_matrix(x, dtype=np.float32)
        warm = int((di > 0).sum())
        if vectors is not None:
            self.v = np.ascontiguousarray(vectors, dtype=np.float32)
        elif warm > 1 and self.rn.nnz:
            self.v = top_right_vectors(self.rn, self.factors or factors_for(warm))
        else:
            self.v = np.zeros((graph.num_items, 0), np.float32)
        return self

    def with_params(self, beta: float, time: float) -> GraphFilter:
        """The same fitted filter with another ``β`` and ``T`` (nothing is copied)."""
        out = GraphFilter(beta, time, self.factors)
        out.rn, out.history, out.v, out.d, out.d_inv = (
            self.rn, self.history, self.v, self.d, self.d_inv)
        return out

    def with_history(self, graph: InteractionGraph) -> GraphFilter:
        """The fitted filter scoring the users of a changed graph (same first items): their
        current histories over the fitted items, items new since then scored 0 (the blend
        fills them from text)."""
        out = self.with_params(self.beta, self.time)
        x = graph.to_csr(binary=True)
        x.sum_duplicates()
        x.data[:] = 1.0
        n = self.rn.shape[1]
        out.history = sp.csr_matrix(x[:, :n], dtype=np.float32)
        out._pad = graph.num_items
        return out

    _pad: int | None = None

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_tensors", None)  # torch CSR tensors are rebuilt on first use
        return state

    @cached_property
    def _tensors(self) -> tuple[torch.Tensor, torch.Tensor]:
        return _csr_tensor(self.rn), _csr_tensor(sp.csr_matrix(self.rn.T))

    @property
    def num_items(self) -> int:
        return self._pad if self._pad is not None else int(self.rn.shape[1])

    def propagate(self, y: FloatArray) -> FloatArray:
        """``y P̃`` for a dense ``(B, I)`` block."""
        rn, rnt = self._tensors
        t = torch.from_numpy(np.ascontiguousarray(y.T))
        with torch.no_grad():
            out = rnt @ (rn @ t)
        return np.ascontiguousarray(out.numpy().T)

    def blur_parts(self, users: IndexArray) -> tuple[FloatArray, FloatArray]:
        """``(r P̃, r D^{-1/2} V Vᵀ D^{1/2})`` of ``users``' rows."""
        r = self.history[users]
        linear = np.asarray(((r @ self.rn.T) @ self.rn).toarray(), np.float32)
        ideal = ((r.multiply(self.d_inv[None, :]).tocsr() @ self.v) @ self.v.T) * self.d[None, :]
        return linear, np.asarray(ideal, np.float32)

    def grid(self, users: IndexArray, betas: Sequence[float], times: Sequence[float]
             ) -> Iterator[tuple[float, float, FloatArray]]:
        """``(β, T, scores)`` for every pair of the grid: the sharpening powers computed once
        per ``β`` (four products), the ``T``'s weighted sums of them."""
        linear, ideal = self.blur_parts(users)
        for beta in betas:
            y = linear + np.float32(beta) * ideal if beta else linear.copy()
            sums = {t: y.copy() for t in times}
            power = y
            for j in range(1, 5 if any(times) else 1):
                power = self.propagate(power)
                for t, s in sums.items():
                    if t:
                        s += np.float32((-t) ** j / math.factorial(j)) * power
            for t in times:
                yield float(beta), float(t), self._padded(sums.pop(t))

    def _padded(self, s: FloatArray) -> FloatArray:
        if self._pad is None or self._pad == s.shape[1]:
            return s
        out = np.zeros((s.shape[0], self._pad), np.float32)
        out[:, : s.shape[1]] = s
        return out

    def score(self, users: IndexArray) -> FloatArray:
        linear, ideal = self.blur_parts(users)
        y = linear + np.float32(self.beta) * ideal if self.beta else linear
        if self.time:
            # Horner form of the RK4 step: y (1 - hP(1 - hP/2 (1 - hP/3 (1 - hP/4)))).
            acc = y
            for j in (4, 3, 2, 1):
                acc = y - np.float32(self.time / j) * self.propagate(acc)
            y = acc
        return self._padded(y)

