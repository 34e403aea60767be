"""The platform's main loop: pull the graph, fit the served model, write versioned results back.

Full refresh: pull → features → train → score → value → segment → write → activate → cleanup.
Above ``Settings.shard_users`` users, the users' interests and the items' similar items are
scored and written after write, in shards that every worker shares (:mod:`interest_workers.shards`).
The incremental refresh is in :mod:`interest_workers.incremental`.

This module does I/O through :class:`~interest_graph.graph.refresh.RefreshRepository` and keeps
the maths in ``pipelines/``: the recipe's graph, :func:`~.pipelines.interest_model.fit` and
:func:`~.pipelines.interest_model.serve` (the same functions the benchmark measures). The Celery
tasks only wrap it (lock, progress, retries).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import torch

from interest_graph.audiences.service import reevaluate_audiences
from interest_graph.graph.refresh import ItemTable, RefreshRepository, UserEdges
from interest_graph.recipe import EdgeRecipe, graph_clock
from interest_graph.settings import Settings

from .heap import reused_heap
from .pipelines.artefacts import Artefacts, load_segments, prune_models, save_artefacts
from .pipelines.model.features import (
    MemoryTextCache,
    NodeFeatures,
    TextEncoder,
    build_node_features,
    text_hash,
)
from .pipelines.model.graph_build import InteractionGraph, build_graph, consumed_matrix
from .pipelines.model.interest_model import FitConfig, fit
from .pipelines.model.scores import similar_items
from .pipelines.value.churn import refresh_churn_basis
from .pipelines.value.customer_value import customer_value, value_fields
from .segments import SegmentStage, run_segment_stage
from .shards import CATEGORIES_PER_USER as CATEGORIES_PER_USER  # incremental's import
from .shards import (
    ShardInputs,
    ShardPlan,
    ShardRows,
    save_consumed,
    score_users,
    similar_rows,
    write_rows,
)

log = logging.getLogger(__name__)

Progress = Callable[[str, float], None]
#: Scores and writes every shard of a plan (with whatever workers help), returns once all are
#: written. Given by the task, which knows the broker.
ShardRunner = Callable[[ShardPlan, ShardInputs], None]
T = TypeVar("T")
SIMILAR_PER_ITEM = 10


def no_progress(stage: str, percent: float) -> None:
    return None


@dataclass
class RefreshReport:
    version: str
    kind: str
    status: str
    stages: dict[str, float]
    users: int = 0
    items: int = 0
    texts_encoded: int = 0
    segments: int = 0
    silhouette: float | None = None
    device: str = "cpu"
    segmentation: dict[str, Any] | None = None
    shards: int = 1

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class _Stages:
    def __init__(self, progress: Progress, plan: list[str]) -> None:
        self.progress = progress
        self.plan = plan
        self.seconds: dict[str, float] = {}

    def run(self, name: str, fn: Callable[[], T]) -> T:
        index = self.plan.index(name)
        self.progress(name, 100.0 * index / len(self.plan))
        started = time.perf_counter()
        result = fn()
        self.seconds[name] = time.perf_counter() - started
        log.info("refresh stage %s: %.2fs", name, self.seconds[name])
        return result


def new_version(now: float) -> str:
    stamp = datetime.fromtimestamp(now, tz=UTC).strftime("%Y%m%dT%H%M%S")
    return f"{stamp}-{uuid.uuid4().hex[:6]}"


def item_categories(items: ItemTable, graph: InteractionGraph) -> list[tuple[str, ...]]:
    """Categories per item index of ``graph`` (items created after the item pages: none)."""
    known = dict(zip(items.ids, items.categories))
    return [known.get(i, ()) for i in graph.items.ids]


def item_titles(items: ItemTable, graph: InteractionGraph) -> list[str]:
    known = dict(zip(items.ids, items.titles))
    return [known.get(i, "") for i in graph.items.ids]


def encode_features(repo: RefreshRepository, items: ItemTable, users: UserEdges,
                    graph: InteractionGraph, encoder: TextEncoder) -> NodeFeatures:
    """Node features, reusing text embeddings cached in the graph by content hash; newly encoded
    vectors are written back."""
    cache = MemoryTextCache()
    for cached in (*items.cached.values(), *users.users.cached.values()):
        cache.put_many({cached.hash: cached.vector})
    texts = dict(zip(items.ids, items.text))
    features = build_node_features(graph, texts, encoder, cache, user_texts=users.users.text)

    def stale(kind: str, ids: tuple[str, ...], text: dict[str, str], x: np.ndarray,
              cached: dict[str, Any]) -> None:
        rows = []
        for row, node in enumerate(ids):
            if not text.get(node):
                continue
            key = text_hash(text[node], encoder.name)
            if node not in cached or cached[node].hash != key:
                rows.append({"id": node, "hash": key, "embedding": [float(v) for v in x[row]]})
        if rows:
            repo.write_text_embeddings(kind, rows)

    stale("item", graph.items.ids, texts, features.item_x, items.cached)
    stale("user", graph.users.ids, users.users.text, features.user_text_x, users.users.cached)
    return features


FULL_STAGES = ["pull", "features", "train", "score", "value", "segment", "write", "shards",
               "activate", "cleanup"]


def consumed_path(settings: Settings, version: str) -> Path:
    return settings.models_dir / f"{version}.consumed.npz"


def run_full(repo: RefreshRepository, settings: Settings, encoder: TextEncoder,
             progress: Progress = no_progress, clock: Callable[[], float] = time.time,
             shard_runner: ShardRunner | None = None) -> RefreshReport:
    """One full refresh. Readers see the previous refresh until ``activate`` commits.

    With ``shard_runner`` and more than ``settings.shard_users`` users, the users are scored and
    written in shards (the ``shards`` stage) by the runner; otherwise in this process.
    """
    now = clock()
    version = new_version(now)
    state = repo.state()
    previous = state.version
    stages = _Stages(progress, FULL_STAGES)
    device = str(settings.device or ("cuda" if torch.cuda.is_available() else "cpu"))

    def pull() -> tuple[ItemTable, UserEdges]:
        items = repo.items()
        return items, repo.users(items.ids)

    items, users = stages.run("pull", pull)
    recipe = EdgeRecipe.from_settings(settings)
    as_of = graph_clock(users.edges.last_ts, now)
    graph = build_graph(users.users.ids, users.item_ids, users.edges, recipe, as_of)
    if graph.num_edges == 0:
        return RefreshReport(version, "full", "skipped: the graph has no interactions yet", {})
    repo.begin(version, "full", now)
    consumed = consumed_matrix(users.edges, graph.num_users, graph.num_items)
    feats = stages.run("features", lambda: encode_features(repo, items, users, graph, encoder))
    model = stages.run("train", lambda: fit(graph, feats.item_x, feats.user_text_x, consumed,
                                            FitConfig.from_settings(settings), version=version,
                                            encoder_name=encoder.name))
    user_emb, item_emb = model.user_emb, model.item_emb
    cats = item_categories(items, graph)
    titles = item_titles(items, graph)
    inputs = ShardInputs(model.scorer(), user_emb, item_emb, consumed, graph.to_csr(binary=True),
                         graph.users.ids, graph.items.ids, cats, titles)
    sharded = shard_runner is not None and graph.num_users > settings.shard_users

    def score() -> tuple[ShardRows | None, Any]:
        if sharded:  # users and similar items are scored in the shards
            return None, None
        with reused_heap():
            return (score_users(inputs, np.arange(graph.num_users), settings.top_k),
                    similar_items(item_emb, SIMILAR_PER_ITEM))

    user_rows, similar = stages.run("score", score)
    def value() -> tuple[Any, ...]:
        val = customer_value(users.users.purchases, now)
        churn = refresh_churn_basis(val.frame, users.users.purchases, now)
        return val, churn, value_fields(churn.apply(val.frame), graph.users.ids)

    val, churn, values = stages.run("value", value)

    def segment() -> SegmentStage:
        # The previous refresh's segments: k-means starts from them so segments keep their
        # meaning from one night to the next (unless the users drifted away from them).
        before = load_segments(Path(state.model_path)) if state.model_path else None
        return run_segment_stage(users.edges, graph.num_users, cats, values, churn,
                                 seed=settings.seed, previous=before,
                                 fit_sample=settings.segment_fit_users)

    seg = stages.run("segment", segment)

    def write() -> str:
        if user_rows is not None:
            write_rows(repo, version, user_rows)
            repo.write_similar_items(version, similar_rows(
                graph.items.ids, np.arange(graph.num_items), similar))
        segment_rows = seg.segment_rows(version)
        repo.write_segments(version, segment_rows, silhouette=seg.model.segmentation.silhouette,
                            now=now)
        repo.write_segment_briefs(version, segment_rows)
        repo.write_segment_members(version, seg.member_rows(version, graph.users.ids), now=now)
        if previous:
            repo.write_segment_moves(version, previous)
        path = settings.models_dir / f"{version}.pt"
        save_artefacts(path, Artefacts(model, as_of, seg.saved(), seg.labels, val.fit,
                                       churn.as_dict(), cats, titles))
        return str(path)

    model_path = stages.run("write", write)
    plan = ShardPlan(version, model_path, str(consumed_path(settings, version)), graph.num_users,
                     settings.shard_users, settings.top_k, graph.num_items,
                     settings.shard_users if sharded else 0, SIMILAR_PER_ITEM)
    if sharded:
        assert shard_runner is not None

        def shards() -> None:
            save_consumed(Path(plan.consumed_path), consumed)
            shard_runner(plan, inputs)

        stages.run("shards", shards)

    def activate() -> None:
        placed = seg.user_fields(version)
        users_rows = [{"id": uid, "embedding": [float(x) for x in user_emb[u]], **placed[u],
                       "seen": users.seen.get(uid), **values[u]}
                      for u, uid in enumerate(graph.users.ids)]
        item_rows = [{"id": iid, "embedding": [float(x) for x in item_emb[i]]}
                     for i, iid in enumerate(graph.items.ids)]
        repo.activate(version, version, model_path, users_rows, item_rows, clock())

    stages.run("activate", activate)
    # Audiences (issue 12): re-evaluate saved audiences against the refresh just activated.
    reevaluate_audiences(repo.store, settings)

    def cleanup() -> None:
        repo.cleanup(version)
        repo.prune_segment_history(repo.recent_versions(settings.segment_history))
        repo.set_watermark(now)
        # Saved models hold pseudonymised user ids and features: keep only the active one and
        # its predecessor (a worker may still be loading it), so erased users leave them too.
        prune_models(settings.models_dir, {version, previous or version})
        Path(plan.consumed_path).unlink(missing_ok=True)

    stages.run("cleanup", cleanup)
    repo.finish(version, "active", stages.seconds, clock())
    progress("done", 100.0)
    return RefreshReport(version, "full", "active", stages.seconds, graph.num_users,
                         graph.num_items, feats.encoded, seg.model.segmentation.k,
                         seg.model.segmentation.silhouette, device, seg.report(),
                         plan.shards if sharded else 1)
