"""The incremental refresh: re-score what changed since the watermark with the saved model.

Changed users and items since the watermark, and their 1-hop neighbourhood, are embedded with the
saved model (inductive, no retraining), re-scored with the saved blend, re-assigned to the nearest
saved segment centroid and re-valued with the saved value fit, in place under the active version.
Items first seen since the full refresh are embedded from their text by the saved model and are
recommendable at once.

Only the re-scored users' rows are built (their edges, features, histories, reasons), and their
GCN embeddings come from :mod:`.pipelines.neighbourhood`, which takes the rest of the graph's
propagation from the saved model: the cost follows the neighbourhood, not the graph.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import asdict, replace
from typing import Any

import numpy as np
import torch

from interest_graph.graph.refresh import ItemTable, RefreshRepository, UserEdges
from interest_graph.graph.segments import SegmentRepository
from interest_graph.recipe import EdgeRecipe
from interest_graph.settings import Settings

from .pipelines.artefacts import ArtefactFormatError, Artefacts
from .pipelines.model.features import (
    MemoryTextCache,
    TextEncoder,
    encode_with_cache,
    text_hash,
    user_features,
)
from .pipelines.model.gcn import TrainedModel
from .pipelines.model.graph_build import IdMap, InteractionGraph, consumed_matrix
from .pipelines.model.interest_model import serve
from .pipelines.model.neighbourhood import BaseMessages, embed_neighbourhood
from .pipelines.model.scores import explain, interest_rows, top_categories
from .pipelines.segments import segmentation
from .pipelines.value.churn import ChurnBasis
from .pipelines.value.customer_value import customer_value, value_fields
from .refresh import CATEGORIES_PER_USER, Progress, no_progress
from .typing import FloatArray

log = logging.getLogger(__name__)

#: How long before its commit a write may have stamped ``updated_at`` (a consumer's queued batch,
#: a concurrent API request): each run reads changes back to ``watermark - COMMIT_LAG_S``, and
#: users already scored through their latest change are skipped, so nobody is re-scored twice.
#: It also absorbs that much clock skew between the writers' hosts and the worker's.
COMMIT_LAG_S = 60.0


def neighbourhood_graph(changed: UserEdges, base_items: IdMap, recipe: EdgeRecipe,
                        as_of: float) -> InteractionGraph:
    """The graph of ``changed.users`` alone, over the whole catalogue.

    ``changed.item_ids`` must start with ``base_items`` (pass them as the catalogue when
    reading), so trained items keep their indices and new ones follow. Weights are decayed to
    ``as_of``, the time the trained graph was decayed to.
    """
    items = IdMap(changed.item_ids)
    if items.ids[: len(base_items)] != base_items.ids:
        raise ValueError("changed.item_ids must start with the base graph's items")
    weight = recipe.decay(changed.edges.weight, changed.edges.last_ts, as_of)
    fresh = weight > 0
    return InteractionGraph(
        IdMap(changed.users.ids), items,
        torch.from_numpy(np.stack([changed.edges.user[fresh],
                                   changed.edges.item[fresh]]).astype(np.int64).reshape(2, -1)),
        torch.from_numpy(weight[fresh].astype(np.float32)),
        torch.from_numpy(changed.edges.first_ts[fresh].astype(np.float64)))


#: The last model's :class:`BaseMessages` (a worker serves one active model at a time).
_last: tuple[TrainedModel, BaseMessages] | None = None


def base_messages(trained: TrainedModel) -> BaseMessages:
    """:meth:`BaseMessages.of` ``trained``, kept for the next incremental refresh."""
    global _last
    if _last is None or _last[0] is not trained:
        _last = (trained, BaseMessages.of(trained))
    return _last[1]


def _new_item_rows(repo: RefreshRepository, graph: InteractionGraph, known: int,
                   encoder: TextEncoder, dim: int) -> tuple[FloatArray, ItemTable | None]:
    """Text features of the items at index ``known`` and above (new since the full refresh),
    encoded with the saved model's encoder and cached on the graph like a full refresh does."""
    if graph.num_items == known:
        return np.zeros((0, dim), np.float32), None
    items = repo.items()
    text = dict(zip(items.ids, items.text))
    new_ids = graph.items.ids[known:]
    cache = MemoryTextCache()
    cache.put_many({c.hash: c.vector for c in items.cached.values()})
    x = encode_with_cache([text.get(i, "") for i in new_ids], encoder, cache).embeddings
    rows = [{"id": i, "hash": text_hash(text[i], encoder.name), "embedding": [float(v) for v in x[r]]}
            for r, i in enumerate(new_ids) if text.get(i)]
    if rows:
        repo.write_text_embeddings("item", rows)
    return x, items


def run_incremental(repo: RefreshRepository, settings: Settings, encoder: TextEncoder,
                    load: Callable[[str], Artefacts], progress: Progress = no_progress,
                    clock: Callable[[], float] = time.time) -> dict[str, Any]:
    """Re-score users touched since the watermark (and their neighbourhood) with the saved model."""
    started = time.perf_counter()
    state = repo.state()
    if state.version is None or state.model_path is None:
        return {"status": "skipped", "reason": "no full refresh has completed yet", "users": 0}
    mark = clock()
    # Writers stamp a batch before they commit it: look back over that lag, or a batch committed
    # just after the previous run's read would wait for its users' next event.
    since = max(0.0, state.watermark - COMMIT_LAG_S) if state.watermark else 0.0
    seen, changed_items = repo.changed_since(since, items_since=state.watermark or 0.0)
    changed_users = list(seen)
    if not changed_users and not changed_items:
        return {"status": "noop", "users": 0, "seconds": round(time.perf_counter() - started, 3)}
    progress("pull", 10.0)
    try:
        art = load(state.model_path)
    except ArtefactFormatError as exc:
        log.warning("incremental refresh skipped: %s", exc)
        return {"status": "skipped", "users": 0,
                "reason": "the saved model is of an older format: run a full refresh"}
    trained = art.model.trained
    base = trained.graph
    # Items first seen since the full refresh join the catalogue after the trained ones.
    catalogue = base.items.extend(sorted(i for i in changed_items if i not in base.items))
    changed = repo.users_by_id(repo.neighbourhood(changed_users, changed_items), catalogue.ids)
    # Only the re-scored users' rows are built: every term scores a user from its own edges,
    # and the GCN's propagation takes the rest of the graph from the saved model.
    graph = neighbourhood_graph(changed, base.items, EdgeRecipe.from_settings(settings),
                                art.as_of)
    progress("features", 30.0)
    # New items are embedded from their text by the saved model (no id embedding, no
    # item-item weights yet: the blend scores them from the items their text is closest to).
    n = base.num_items
    dim = trained.item_x.shape[1]
    new_x, items = _new_item_rows(repo, graph, n, encoder, dim)
    item_x = np.concatenate([trained.item_x, new_x]).astype(np.float32)
    user_id = base.users.to_index(changed.users.ids, missing=-1)  # -1: new since the fit
    own = np.zeros((graph.num_users, dim), np.float32)
    own[user_id >= 0] = art.model.user_text_x[user_id[user_id >= 0]]
    if changed.users.text:
        texts = list(changed.users.text.items())
        own[graph.users.to_index([uid for uid, _ in texts])] = encode_with_cache(
            [text for _, text in texts], encoder).embeddings
    user_x = user_features(graph, item_x, own)
    progress("embed", 50.0)
    user_emb, new_item_emb = embed_neighbourhood(trained, base_messages(trained), graph, user_id,
                                                 user_x, item_x)
    item_emb = torch.cat([art.model.item_emb, new_item_emb])
    idx = np.arange(graph.num_users)
    consumed = consumed_matrix(changed.edges, graph.num_users, graph.num_items)
    scorer = art.model.scorer(graph, user_emb, item_emb, item_x, own)
    top = serve(scorer, consumed, settings.top_k, idx)
    cats, titles = list(art.item_categories), list(art.titles)
    if items is not None:
        known = {i: (c, t) for i, c, t in zip(items.ids, items.categories, items.titles)}
        for iid in graph.items.ids[n:]:
            c, t = known.get(iid, ((), ""))
            cats.append(c)
            titles.append(t)
    reasons = explain(top.items, idx, item_emb, graph.to_csr(binary=True), cats)
    interests = interest_rows(graph.items.ids, top, reasons, titles)
    categories = top_categories(user_emb, item_emb, cats, CATEGORIES_PER_USER)
    # Segments: the changed users' category shares in the saved interest space, nearest saved
    # centroid; no re-clustering (the drift check says when a full re-segmentation is due).
    shares, _ = segmentation.interest_shares(changed.edges, len(changed.users.ids), cats,
                                             categories=art.segments.space.categories)
    points = art.segments.place(shares)
    labels, distances = segmentation.assign_segments(points, art.segments.centroids)
    coords = segmentation.map_coordinates(points)
    val = customer_value(changed.users.purchases, mark, art.value_fit, fit=False)
    if art.churn is not None:
        val = replace(val, frame=ChurnBasis.from_dict(art.churn).apply(val.frame))
    values = value_fields(val.frame, changed.users.ids)
    progress("write", 80.0)
    out = []
    for r, uid in enumerate(changed.users.ids):
        if not interests[r]:
            continue
        seg_index = int(labels[r])
        out.append({"id": uid, "embedding": [float(x) for x in user_emb[r]],
                    "x": float(coords[r, 0]), "y": float(coords[r, 1]),
                    "segment": f"{state.version}:{seg_index}",
                    "segment_label": art.segment_labels.get(seg_index, ""),
                    "distance": float(distances[r]), "recs": interests[r],
                    "categories": categories[r], "seen": seen.get(uid), **values[r]})
    repo.update_users(state.version, state.model_version or state.version, out, clock())
    repo.set_watermark(mark)
    return {"status": "updated", "users": len(out), "changed_users": len(changed_users),
            "changed_items": len(changed_items), "version": state.version,
            "segment_drift": asdict(SegmentRepository(repo.store).drift()),
            "seconds": round(time.perf_counter() - started, 3)}
