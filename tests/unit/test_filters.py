"""The graph filter term: its grid is its scores, its factors are the top singular vectors."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from interest_workers.pipelines.model.filters import GraphFilter, factors_for, top_right_vectors

from .conftest import ITEM_TEXTS, PAIRS, make_graph


def test_subspace_iteration_finds_the_top_singular_vectors() -> None:
    rng = np.random.default_rng(0)
    m = sp.csr_matrix((rng.random((60, 40)) < 0.2).astype(np.float32))
    v = top_right_vectors(m, 5)
    _, _, vt = np.linalg.svd(m.toarray())
    # The same subspace: projecting the true vectors onto it keeps their length.
    kept = np.linalg.norm(v.T @ vt[:5].T, axis=0)
    assert np.allclose(kept, 1.0, atol=1e-3)


def test_grid_scores_are_the_filters_own_scores(tiny_graph) -> None:
    base = GraphFilter(factors=2).fit(tiny_graph)
    users = np.arange(tiny_graph.num_users)
    for beta, t, s in base.grid(users, (0.0, 0.5), (0.0, 1.0, 2.5)):
        direct = base.with_params(beta, t).score(users)
        assert np.allclose(s, direct, atol=1e-5), (beta, t)
    # T = 0, β = 0 is the linear filter r P̃, computed densely here.
    r = tiny_graph.to_csr(binary=True).toarray()
    du, di = r.sum(1), r.sum(0)
    rn = r / np.sqrt(np.maximum(du, 1))[:, None] / np.sqrt(np.maximum(di, 1))[None, :]
    assert np.allclose(base.with_params(0.0, 0.0).score(users), r @ rn.T @ rn, atol=1e-5)


def test_a_changed_graph_is_scored_with_new_items_at_zero() -> None:
    g = make_graph(PAIRS, list(ITEM_TEXTS))
    fitted = GraphFilter(0.2, 1.0, factors=2).fit(g)
    grown = make_graph([*PAIRS, ("u1", "brand-new")], [*ITEM_TEXTS, "brand-new"])
    s = fitted.with_history(grown).score(np.array([0]))
    assert s.shape == (1, grown.num_items) and s[0, -1] == 0.0
    assert factors_for(1682) == 105 and factors_for(40_981) == 448 and factors_for(100) == 32
