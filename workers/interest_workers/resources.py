"""Per-process resources of a worker: settings, the graph store, the text encoder, loaded models.

Opened lazily on first use (Celery's ``worker_process_init`` handlers must return within seconds,
and the text model takes longer to load) and kept for the life of the process: drivers cannot be
shared across processes, so each worker process opens its own.
"""

from __future__ import annotations

import ctypes
import gc
import threading
from pathlib import Path
from typing import Any

from interest_graph.graph import GraphStore, open_store
from interest_graph.graph.refresh import RefreshRepository
from interest_graph.settings import Settings

from .pipelines.model.features import HashingEncoder, SentenceTransformerEncoder, TextEncoder

_lock = threading.Lock()
_state: dict[str, Any] = {}


def settings() -> Settings:
    from .celery_app import settings_of

    return settings_of()


def store() -> GraphStore:
    with _lock:
        if "store" not in _state:
            _state["store"] = open_store(settings())
            _state["store"].init_schema()
        return _state["store"]  # type: ignore[no-any-return]


def refresh_repository() -> RefreshRepository:
    return RefreshRepository(store(), page_size=settings().read_page_size)


def encoder() -> TextEncoder:
    with _lock:
        if "encoder" not in _state:
            _state["encoder"] = make_encoder(settings())
        return _state["encoder"]  # type: ignore[no-any-return]


def make_encoder(config: Settings) -> TextEncoder:
    if config.encoder == "hashing":
        return HashingEncoder(dim=384)
    return SentenceTransformerEncoder(device=config.device)


def cached_model(path: str, loader: Any) -> Any:
    """The artefacts at ``path``, loaded once per process (a new version gets a new path)."""
    with _lock:
        models: dict[str, Any] = _state.setdefault("models", {})
        if path not in models:
            models.clear()  # keep only the active version in memory
            models[path] = loader(Path(path))
        return models[path]


def release_memory() -> None:
    """Give memory freed by a refresh back to the system (glibc keeps freed heap otherwise), so a
    long-lived worker's resident size returns to its baseline between refreshes."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass


def reset() -> None:
    """Close everything (worker shutdown, tests)."""
    with _lock:
        store_ = _state.pop("store", None)
        if store_ is not None:
            store_.close()
        _state.clear()
