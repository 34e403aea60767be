"""The interest space segments are clustered in: each user's mix of categories, made comparable.

Pure and deterministic: the same interactions give the same space whatever the training seed, so
segments do not reshuffle when the GCN is retrained (clustering the GCN embedding did: two
refreshes of the same data agreed with an adjusted Rand index of 0.23).

A user's *category shares* are their interaction weight per category, normalised to sum to 1.
The space weights the square root of the shares (the Hellinger embedding, which keeps a user with
one big order from dominating) by each category's inverse user frequency, squared (so that bags,
which nearly everyone buys, separate nobody, and a category a few percent of users share weighs
what it says about them), normalises each user to unit length and keeps the first
``dims`` principal axes. Every step is linear in the number of users: the axes come from the
``C × C`` category covariance.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ...typing import DoubleArray

#: Principal axes kept. Chosen with ``benchmarks/segments.py`` on Online Retail (8, 10, 12, 16, 20
#: tried): 16 gave the best predictive lift with same-data stability ≥ 0.95; at 20 too few k were
#: stable and k fell to 4-6.
DEFAULT_DIMS = 16
#: A category's weight is its smoothed inverse user frequency ``ln((1 + n)/(1 + users)) + 1``
#: raised to this power. With 1, a category everybody buys still weighs a sixth of a rare one,
#: and the mix of what everybody buys (more bags or more boxes) shaped the segments, which then
#: over-indexed on little. Chosen with ``benchmarks/segments.py`` on Online Retail (powers 1, 2, 3
#: and the logarithm without its ``+ 1`` tried, 16 axes): predictive lift 1.81-1.93 at k = 10-12
#: with 1, 1.93-2.10 without the ``+ 1`` (k = 12 unstable), 2.03-2.17 with 2 at stability ≥ 0.95;
#: with 3 the smallest segments fell to 1% of users.
IDF_POWER = 2.0


def category_shares(
    weights: sp.csr_matrix,
    item_categories: Sequence[Sequence[str]],
    categories: Sequence[str] | None = None,
) -> tuple[sp.csr_matrix, tuple[str, ...]]:
    """Each user's share of interaction weight per category.

    Args:
        weights: ``(U, I)`` non-negative user×item weights.
        item_categories: Per item (column of ``weights``), its categories; an item's weight is
            split evenly over them (the part of a category outside ``categories`` is dropped).
        categories: Fix the columns (e.g. a saved space's); categories outside it are dropped.
            ``None``: every category seen, sorted.

    Returns:
        ``(shares (U, C) CSR with rows summing to 1 or 0, category names)``.
    """
    names = tuple(categories) if categories is not None else tuple(
        sorted({c for cats in item_categories for c in cats}))
    col = {c: j for j, c in enumerate(names)}
    rows, cols, vals = [], [], []
    for i, cats in enumerate(item_categories):
        distinct = list(dict.fromkeys(cats))
        for c in distinct:
            if c in col:  # a category outside fixed columns keeps its part out of the shares
                rows.append(i)
                cols.append(col[c])
                vals.append(1.0 / len(distinct))
    item_cat = sp.csr_matrix((vals, (rows, cols)), shape=(len(item_categories), len(names)))
    x = sp.csr_matrix(sp.csr_matrix(weights, dtype=np.float64) @ item_cat)
    x.data = np.maximum(x.data, 0.0)
    return _row_normalise(x, order=1), names


def _row_normalise(x: sp.csr_matrix, *, order: int) -> sp.csr_matrix:
    norms = np.asarray(abs(x).sum(1)).ravel() if order == 1 else np.sqrt(
        np.asarray(x.multiply(x).sum(1)).ravel())
    scale = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
    return sp.csr_matrix(sp.diags(scale) @ x)


@dataclass(frozen=True)
class InterestSpace:
    """A fitted interest space; saved beside the model so new users can be placed in it.

    Attributes:
        categories: ``C`` category names, the columns of the shares it reads.
        idf: ``(C,)`` weight of each category: its inverse user frequency, raised to
            :data:`IDF_POWER` when fitted.
        mean: ``(C,)`` mean weighted profile (the centre of the principal axes).
        basis: ``(C, d)`` principal axes, strongest first.
    """

    categories: tuple[str, ...]
    idf: DoubleArray
    mean: DoubleArray
    basis: DoubleArray

    @property
    def dims(self) -> int:
        return int(self.basis.shape[1])

    def profile(self, shares: sp.csr_matrix) -> sp.csr_matrix:
        """``(U, C)`` unit-length weighted profiles (zero rows for users without categories)."""
        z = sp.csr_matrix(sp.csr_matrix(shares, dtype=np.float64).sqrt() @ sp.diags(self.idf))
        return _row_normalise(z, order=2)

    def transform(self, shares: sp.csr_matrix) -> DoubleArray:
        """``(U, d)`` coordinates of users whose shares have this space's columns."""
        z = self.profile(shares)
        out: DoubleArray = np.asarray(z @ self.basis, dtype=np.float64) - self.mean @ self.basis
        return out


def fit_space(
    shares: sp.csr_matrix, categories: Sequence[str], *, dims: int = DEFAULT_DIMS
) -> InterestSpace:
    """Fit the weighting and the principal axes on ``(U, C)`` shares.

    Deterministic (an eigendecomposition of the ``C × C`` covariance, signs fixed so that each
    axis's largest loading is positive). ``dims`` is capped at ``C``.

    Raises:
        ValueError: no users or no categories.
    """
    n, c = shares.shape
    if n == 0 or c == 0:
        raise ValueError(f"need users and categories to fit an interest space, got {n}×{c}")
    users_per_cat = np.asarray((shares > 0).sum(0)).ravel()
    idf = (np.log((1.0 + n) / (1.0 + users_per_cat)) + 1.0) ** IDF_POWER
    base = InterestSpace(tuple(categories), idf, np.zeros(c), np.zeros((c, 0)))
    z = base.profile(shares)
    mean = np.asarray(z.mean(0)).ravel()
    cov = np.asarray((z.T @ z).toarray()) / n - np.outer(mean, mean)
    values, vectors = np.linalg.eigh(cov)
    basis = vectors[:, ::-1][:, : min(dims, c)]
    signs = np.sign(basis[np.abs(basis).argmax(axis=0), np.arange(basis.shape[1])])
    basis = basis * np.where(signs == 0, 1.0, signs)
    return InterestSpace(tuple(categories), idf, mean, basis)
