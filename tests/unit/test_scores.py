from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from interest_workers.pipelines.model.scores import (
    BlendScorer,
    EmbeddingScorer,
    _top_k_exact,
    _top_k_rows,
    category_matrix,
    category_scores,
    explain,
    interest_rows,
    reason_text,
    similar_items,
    top_categories,
    top_k_items,
)

# 2 users, 4 items in 2-d: items 0,1 point "east", items 2,3 "north".
ITEMS = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]], np.float32)
USERS = np.array([[1.0, 0.2], [0.0, 1.0]], np.float32)
HISTORY = sp.csr_matrix(np.array([[1, 0, 0, 0], [0, 0, 0, 1]], np.float32))


def test_top_k_excludes_history_by_default_and_is_configurable() -> None:
    scorer = EmbeddingScorer(USERS, ITEMS)
    top = top_k_items(scorer, 2, exclude=HISTORY)
    assert top.items.tolist() == [[1, 3], [2, 1]]
    assert np.allclose(top.scores[0], [0.92, 0.28])
    kept = top_k_items(scorer, 2, users=np.array([0, 1]))
    assert kept.items.tolist() == [[0, 1], [2, 3]]
    # More slots than eligible items: padded with -1.
    padded = top_k_items(scorer, 4, exclude=sp.csr_matrix(np.ones((2, 4)) - np.eye(2, 4)))
    assert padded.items[0].tolist() == [0, -1, -1, -1]
    with pytest.raises(ValueError, match="k must be"):
        top_k_items(scorer, 0, exclude=HISTORY)


def test_ties_at_the_cut_go_to_the_lower_item_index_whatever_k() -> None:
    # Sparse scorers (an item-item walk) give most items the same score: the top k must be the
    # first k of the full ranking, not any k of the items tied at the cut.
    rng = np.random.default_rng(0)
    scores = rng.integers(0, 3, size=(6, 300)).astype(np.float32)
    scores[::2] = rng.random((3, 300))  # rows without ties in the same batches
    scorer = EmbeddingScorer(scores, np.eye(300, dtype=np.float32))
    exclude = sp.csr_matrix((rng.random((6, 300)) < 0.3).astype(np.float32))
    full = top_k_items(scorer, 300, exclude=exclude).items
    for k in (1, 5, 20, 100, 250):
        assert np.array_equal(top_k_items(scorer, k, exclude=exclude).items, full[:, :k]), k


def test_the_topk_candidates_rank_as_the_exact_partition_does() -> None:
    # _top_k_rows takes torch.topk's k + 1 best and sorts them; rows tied at the cut and rows
    # padded with -inf must fall back to the exact ranking (lower index first among equals).
    rng = np.random.default_rng(1)
    for trial in range(200):
        b, n, k = int(rng.integers(0, 30)), int(rng.integers(1, 200)), int(rng.integers(1, 30))
        if trial % 2:
            s = rng.integers(0, int(rng.integers(1, 20)), (b, n)).astype(np.float32)
        else:
            s = rng.standard_normal((b, n)).astype(np.float32)
        s[rng.random((b, n)) < rng.random() * 0.5] = -np.inf
        fast, exact = _top_k_rows(s, k), _top_k_exact(s, k)
        assert np.array_equal(fast[0], exact[0]) and np.array_equal(fast[1], exact[1]), trial


def test_top_k_masks_a_copy_of_scores_a_scorer_keeps() -> None:
    class Cached:
        """Hands out the same array on every call, as a precomputed scorer may."""

        num_items = 4
        scores = np.array([[4.0, 3.0, 2.0, 1.0]], np.float32)

        def score(self, users: np.ndarray) -> np.ndarray:
            return self.scores

    scorer = Cached()
    top = top_k_items(scorer, 2, users=np.array([0]), exclude=sp.csr_matrix([[1.0, 0, 0, 0]]))
    assert top.items.tolist() == [[1, 2]]
    assert scorer.scores.tolist() == [[4.0, 3.0, 2.0, 1.0]]


def test_reasons_cite_the_most_similar_own_item_and_a_shared_category() -> None:
    cats = [("East",), ("East", "Warm"), ("North",), ("North",)]
    top = top_k_items(EmbeddingScorer(USERS, ITEMS), 2, exclude=HISTORY)
    users = np.array([0, 1])
    why = explain(top.items, users, ITEMS, HISTORY, cats)
    # User 0 interacted only with item 0, so every reason is item 0.
    assert why.items[0].tolist() == [0, 0]
    assert why.similarity[0, 0] > 0.99
    assert why.categories[0] == ["East", None]
    assert why.categories[1] == ["North", None]
    # The history (any behaviour) may differ from what is excluded: user 1 also viewed item 0.
    viewed = sp.csr_matrix(np.array([[1, 0, 0, 0], [1, 0, 0, 1]], np.float32))
    assert explain(top.items, users, ITEMS, viewed, cats).items[1].tolist() == [3, 0]
    # No history at all: no reason item, no category.
    none = explain(top.items, users, ITEMS, sp.csr_matrix((2, 4), dtype=np.float32), cats)
    assert (none.items == -1).all() and none.categories == [[None, None], [None, None]]


def test_interest_rows_name_the_cited_item_by_title() -> None:
    top = top_k_items(EmbeddingScorer(USERS, ITEMS), 2, exclude=HISTORY)
    cats = [("East",), ("East", "Warm"), ("North",), ("North",)]
    why = explain(top.items, np.array([0, 1]), ITEMS, HISTORY, cats)
    rows = interest_rows(["a", "b", "c", "d"], top, why, ["Lamp", "", "Cup", "Mug"])
    assert [r["item"] for r in rows[0]] == ["b", "d"] and [r["rank"] for r in rows[0]] == [1, 2]
    assert rows[0][0]["reason"] == "similar to Lamp, which you interacted with (both East)"
    assert rows[0][0]["score"] == pytest.approx(0.92)
    assert rows[1][0]["reason"] == "similar to Mug, which you interacted with (both North)"
    assert reason_text(None, "Tea") == "popular in Tea, a category you like"
    assert reason_text(None, None) == "popular with people like you"


def test_category_scores_and_similar_items() -> None:
    m, names = category_matrix([("East",), ("East",), ("North",), ("North",)])
    assert names == ["East", "North"] and m.shape == (4, 2)
    cs = category_scores(USERS, ITEMS, m)
    assert cs.shape == (2, 2)
    assert cs[0, 0] > cs[0, 1] and cs[1, 1] > cs[1, 0]
    assert ((cs >= 0) & (cs <= 1)).all()
    tops = top_categories(USERS, ITEMS, [("East",), ("East",), ("North",), ("North",)], 1)
    assert [t[0]["name"] for t in tops] == ["East", "North"]
    assert tops[0][0]["score"] == pytest.approx(cs[0, 0])
    assert top_categories(USERS, ITEMS, [(), (), (), ()], 5) == [[], []]
    sim = similar_items(ITEMS, k=1)
    assert sim.items[:, 0].tolist() == [1, 0, 3, 2]


def test_blend_scorer_standardises_components() -> None:
    a = EmbeddingScorer(USERS, ITEMS)
    b = EmbeddingScorer(USERS * 1000.0, ITEMS[::-1].copy())
    only_a = BlendScorer([a, b], [1.0, 0.0]).score(np.array([0]))
    s = a.score(np.array([0]))
    assert np.allclose(only_a, (s - s.mean()) / s.std(), atol=1e-5)
    both = BlendScorer([a, b], [0.5, 0.5]).score(np.array([0, 1]))
    assert both.shape == (2, 4)
    with pytest.raises(ValueError):
        BlendScorer([a], [0.5, 0.5])
