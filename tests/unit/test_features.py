from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from interest_workers.pipelines.model.features import (
    HashingEncoder,
    MemoryTextCache,
    SqliteTextCache,
    TextEncoder,
    build_node_features,
    encode_with_cache,
    user_features,
)

from .conftest import ITEM_TEXTS


def test_hashing_encoder_is_deterministic_normalised_and_similarity_aware() -> None:
    enc = HashingEncoder(64)
    assert isinstance(enc, TextEncoder)
    a = enc.encode(["green tea cup", "green tea cup", "garden hose", ""])
    assert a.shape == (4, 64) and a.dtype == np.float32
    assert np.allclose(a[0], a[1])
    assert np.allclose(np.linalg.norm(a[:3], axis=1), 1.0)
    assert np.allclose(a[3], 0.0)
    b = enc.encode(["tea cup"])[0]
    assert float(b @ a[0]) > float(b @ a[2])


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_cache_means_unchanged_text_is_not_encoded_twice(kind: str, tmp_path: Path) -> None:
    cache = MemoryTextCache() if kind == "memory" else SqliteTextCache(tmp_path / "c.sqlite")
    enc = HashingEncoder(16)
    first = encode_with_cache(["a b", "c", "a b", ""], enc, cache)
    assert (first.encoded, first.cached) == (2, 0)
    second = encode_with_cache(["c", "a b", "new text"], enc, cache)
    assert (second.encoded, second.cached) == (1, 2)
    assert np.allclose(second.embeddings[1], first.embeddings[0])
    assert np.allclose(second.embeddings, enc.encode(["c", "a b", "new text"]))
    if kind == "sqlite":
        reopened = SqliteTextCache(tmp_path / "c.sqlite")
        assert len(reopened) == 3


def test_node_features_use_items_and_own_text(tiny_graph, encoder) -> None:
    feats = build_node_features(
        tiny_graph, ITEM_TEXTS, encoder, MemoryTextCache(), user_texts={"u4": "tea lover"}
    )
    assert feats.item_x.shape == (7, 32) and feats.user_text_x.shape == (6, 32)
    assert feats.encoded == 8
    u1, u4, u5 = (tiny_graph.users.index(u) for u in ("u1", "u4", "u5"))
    assert np.allclose(feats.user_text_x[u4], encoder.encode(["tea lover"])[0])
    assert np.allclose(np.delete(feats.user_text_x, u4, axis=0), 0.0)
    user_x = user_features(tiny_graph, feats.item_x, feats.user_text_x)
    tea1 = tiny_graph.items.index("tea1")
    # A tea drinker's feature is closer to a tea item than a gardener's.
    assert user_x[u1] @ feats.item_x[tea1] > user_x[u5] @ feats.item_x[tea1]
    plain = user_features(tiny_graph, feats.item_x)
    assert not np.allclose(plain[u4], user_x[u4])
    assert np.allclose(plain[u1], user_x[u1])


@pytest.mark.slow
def test_minilm_encoder_offline(minilm) -> None:
    x = minilm.encode(["a cup of green tea", "green tea in a mug", "a garden hose"])
    assert x.shape == (3, 384)
    assert np.allclose(np.linalg.norm(x, axis=1), 1.0, atol=1e-5)
    assert float(x[0] @ x[1]) > float(x[0] @ x[2]) + 0.2
    res = encode_with_cache(["a cup of green tea"], minilm, MemoryTextCache())
    assert np.allclose(res.embeddings[0], x[0], atol=1e-5)
