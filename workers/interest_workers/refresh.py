"""The platform's main loop: pull the graph, run the model, write versioned results back.

Full refresh: pull → features → train → score → value → segment → write → activate → cleanup.
Incremental refresh: changed users/items since the watermark and their 1-hop neighbourhood,
embedded with the saved model (no retraining), re-scored, re-assigned and written in place.

This module does I/O through :class:`~interest_graph.graph.refresh.RefreshRepository` and keeps
the maths in ``pipelines/``; the Celery tasks only wrap it (lock, progress, retries).
"""

from __future__ import annotations

import json
import logging
import math
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch

from interest_graph.graph.refresh import RefreshRepository
from interest_graph.settings import Settings

from .pipelines import baselines, segmentation, value
from .pipelines.features import (
    MemoryTextCache,
    TextEncoder,
    build_node_features,
    encode_with_cache,
    text_hash,
    user_features,
)
from .pipelines.gcn import (
    TextGCN,
    TrainedModel,
    embed_inductive,
    load_model,
    save_model,
    seed_everything,
    train_gcn,
)
from .pipelines.graph_build import IdMap, Interaction, InteractionGraph, build_graph
from .pipelines.scores import (
    BlendScorer,
    EmbeddingScorer,
    Scorer,
    category_matrix,
    category_scores,
    recommend,
    similar_items,
)

log = logging.getLogger(__name__)

Progress = Callable[[str, float], None]
MODEL_FORMAT = 1
CATEGORIES_PER_USER = 5
SIMILAR_PER_ITEM = 10
VALUE_HORIZON_DAYS = 90.0


def _noop(stage: str, percent: float) -> None:
    return None


# -- the snapshot pulled from the graph ------------------------------------------------------


@dataclass
class Snapshot:
    """What a refresh reads from the graph."""

    pulled_at: float
    user_ids: list[str] = field(default_factory=list)
    user_text: dict[str, str] = field(default_factory=dict)
    user_cached: dict[str, tuple[str, list[float]]] = field(default_factory=dict)
    item_ids: list[str] = field(default_factory=list)
    item_text: dict[str, str] = field(default_factory=dict)
    item_categories: dict[str, list[str]] = field(default_factory=dict)
    item_cached: dict[str, tuple[str, list[float]]] = field(default_factory=dict)
    interactions: list[Interaction] = field(default_factory=list)
    purchases: dict[str, tuple[list[int], float]] = field(default_factory=dict)
    bought: list[tuple[str, str]] = field(default_factory=list)

    def add_user(self, row: dict[str, Any]) -> None:
        uid = row["id"]
        self.user_ids.append(uid)
        if row.get("text"):
            self.user_text[uid] = row["text"]
        if row.get("text_hash") and row.get("text_embedding") is not None:
            self.user_cached[uid] = (row["text_hash"], row["text_embedding"])
        days = row.get("purchase_days") or []
        if days:
            self.purchases[uid] = (list(days), float(row.get("revenue") or 0.0))
        for item_id, weight, last_ts, net_purchases in row.get("edges") or []:
            if item_id is None or weight is None:
                continue
            self.interactions.append(Interaction(uid, item_id, float(weight), float(last_ts or 0)))
            if net_purchases and net_purchases > 0:
                self.bought.append((uid, item_id))

    def add_item(self, row: dict[str, Any]) -> None:
        iid = row["id"]
        self.item_ids.append(iid)
        parts = [row.get("title") or "", row.get("description") or ""]
        cats = [c for c in row.get("categories") or [] if c]
        if cats:
            parts.append("Categories: " + ", ".join(cats))
        self.item_text[iid] = ". ".join(p.strip() for p in parts if p and p.strip())
        self.item_categories[iid] = cats
        if row.get("cached_hash") and row.get("text_embedding") is not None:
            self.item_cached[iid] = (row["cached_hash"], row["text_embedding"])


def pull(repo: RefreshRepository, now: float) -> Snapshot:
    """Read the whole graph in pages."""
    snap = Snapshot(pulled_at=now)
    for row in repo.items():
        snap.add_item(row)
    for row in repo.users():
        snap.add_user(row)
    return snap


# -- features with the graph as the text cache --------------------------------------------------


def encode_features(
    repo: RefreshRepository, snap: Snapshot, graph: InteractionGraph, encoder: TextEncoder
) -> tuple[np.ndarray, np.ndarray, int]:
    """Node features, reusing text embeddings cached in the graph by content hash.

    Returns ``(user_x, item_x, texts_encoded)`` and writes newly encoded vectors back.
    """
    cache = MemoryTextCache()
    cache.put_many({h: np.asarray(v, np.float32) for h, v in snap.item_cached.values()})
    cache.put_many({h: np.asarray(v, np.float32) for h, v in snap.user_cached.values()})
    user_texts = {u: [t] for u, t in snap.user_text.items()}
    features = build_node_features(graph, snap.item_text, encoder, cache, user_texts=user_texts)
    # Write back what the graph does not hold yet, keyed by the hash it was computed from.
    item_rows = []
    for row, iid in enumerate(graph.items.ids):
        text = snap.item_text.get(iid, "")
        if not text:
            continue
        key = text_hash(text, encoder.name)
        if snap.item_cached.get(iid, ("",))[0] != key:
            item_rows.append({"id": iid, "hash": key,
                              "embedding": [float(x) for x in features.item_x[row]]})
    user_rows = []
    for uid, text in snap.user_text.items():
        key = text_hash(text, encoder.name)
        if snap.user_cached.get(uid, ("",))[0] != key:
            vec = cache.get_many([key]).get(key)
            if vec is not None:
                user_rows.append({"id": uid, "hash": key, "embedding": [float(x) for x in vec]})
    if item_rows:
        repo.write_text_embeddings("item", item_rows)
    if user_rows:
        repo.write_text_embeddings("user", user_rows)
    return features.user_x, features.item_x, features.encoded


# -- model ------------------------------------------------------------------------------------


@dataclass
class InterestModel:
    """The production model ("ours" in docs/model.md): the text-fed GCN blended with an EASE
    item-item term; both standardised per user, weights from the evaluation's validation split."""

    trained: TrainedModel
    item_term: baselines.EASE
    gcn_weight: float

    def scorer(self, user_emb: torch.Tensor, item_emb: torch.Tensor,
               graph: InteractionGraph | None = None) -> BlendScorer:
        term = self.item_term
        if graph is not None:  # score a changed graph with the saved item-item weights
            term = baselines.EASE(term.l2, history="weighted")
            term.history = _scaled_rows(graph.to_csr())
            term.b = self.item_term.b
        return BlendScorer([EmbeddingScorer(user_emb, item_emb), term],
                           [self.gcn_weight, 1.0 - self.gcn_weight])


def _scaled_rows(x: sp.csr_matrix) -> sp.csr_matrix:
    # As EASE(history="weighted") does at fit time: rows scaled to a maximum of 1.
    return sp.csr_matrix(sp.diags(1.0 / np.maximum(x.max(1).toarray().ravel(), 1e-12)) @ x)


def fit_model(graph: InteractionGraph, user_x: np.ndarray, item_x: np.ndarray,
              settings: Settings, version: str, encoder_name: str) -> InterestModel:
    """Train the GCN and fit the item-item term on the whole graph (fixed hyperparameters)."""
    seed_everything(settings.seed)
    model = TextGCN(graph.num_users, graph.num_items, text_dim=item_x.shape[1], embedding_dim=64)
    # About 12 steps per epoch whatever the graph size, as in the evaluated recipe.
    batch_size = max(4096, math.ceil(graph.num_edges / 12))
    train_gcn(model, graph, user_x, item_x, epochs=settings.train_epochs, lr=0.01,
              batch_size=batch_size, seed=settings.seed, device=settings.device)
    term = baselines.EASE(settings.ease_l2, history="weighted").fit(graph)
    trained = TrainedModel(model, graph, user_x, item_x, version, encoder_name=encoder_name)
    return InterestModel(trained, term, settings.gcn_weight)


# -- customer value ----------------------------------------------------------------------------


@dataclass
class ValueResult:
    frame: pd.DataFrame  # index customer_id: rfm columns + expected_* + churn_risk
    fit: dict[str, Any] | None


def customer_value(purchases: dict[str, tuple[list[int], float]], observation_end: float,
                   fit_params: dict[str, Any] | None = None, *, fit: bool = True) -> ValueResult:
    """RFM and BG/NBD + Gamma-Gamma value per customer from purchase days and net revenue.

    With ``fit_params`` the saved fit is reused (incremental refresh); otherwise it is fitted
    when ``fit`` is true (the incremental refresh never fits on its few customers).
    """
    if not purchases:
        return ValueResult(pd.DataFrame(), None)
    ids: list[str] = []
    stamps: list[float] = []
    values: list[float] = []
    for uid, (days, revenue) in purchases.items():
        per_day = max(revenue, 0.0) / len(days)
        for day in days:
            ids.append(uid)
            stamps.append(day * 86400.0 + 43200.0)
            values.append(per_day)
    tx = pd.DataFrame({"customer_id": pd.Series(ids, dtype=object),
                       "ts": pd.to_datetime(np.asarray(stamps), unit="s", utc=True),
                       "value": np.asarray(values, dtype=float)})
    # The observation ends at the data's last purchase day, not the wall clock: a replayed or
    # historical dataset would otherwise look like every customer churned long ago.
    last_day = max(max(days) for days, _ in purchases.values())
    end = datetime.fromtimestamp(min(observation_end, (last_day + 1) * 86400.0),
                                 tz=UTC).date()
    summary = value.summarize_customers(tx, end)
    frame = value.rfm_scores(summary)
    fit_dict: dict[str, Any] | None = None
    if fit_params is None and not fit:
        return ValueResult(frame, None)
    try:
        model = (value.ValueModelFit(**fit_params) if fit_params is not None
                 else value.fit_value_model(summary))
        scores = value.score_customers(model, summary, horizon_days=VALUE_HORIZON_DAYS)
        frame = frame.join(scores, how="left")
        fit_dict = model.as_dict()
    except (ValueError, ArithmeticError) as exc:
        log.warning("customer-value model not fitted: %s", exc)
    return ValueResult(frame, fit_dict)


def _value_fields(frame: pd.DataFrame, uid: str) -> dict[str, Any]:
    if frame.empty or uid not in frame.index:
        return {}
    row = frame.loc[uid]

    def num(name: str) -> float | None:
        v = row.get(name)
        return None if v is None or pd.isna(v) else float(v)

    return {
        "recency_days": num("recency_days"), "frequency": num("frequency"),
        "monetary": num("monetary"), "rfm_score": None if pd.isna(row.get("rfm_score"))
        else str(row.get("rfm_score")), "tier": row.get("tier"),
        "expected_purchases": num("expected_purchases"), "expected_value": num("expected_value"),
        "p_alive": num("p_alive"), "churn_risk": num("churn_risk"),
    }


# -- scoring and reasons ----------------------------------------------------------------------


def _reason(graph: InteractionGraph, recs: Any, row: int, slot: int, titles: dict[str, str]) -> str:
    item = int(recs.reason_items[row, slot])
    cat = recs.reason_categories[row][slot]
    if item >= 0:
        iid = graph.items.ids[item]
        text = f"similar to {titles.get(iid) or iid}, which you interacted with"
        if cat:
            text += f" (both {cat})"
        return text
    if cat:
        return f"popular in {cat}, a category you like"
    return "popular with people like you"


def score_users(graph: InteractionGraph, user_emb: torch.Tensor, item_emb: torch.Tensor,
                users: np.ndarray, bought: sp.csr_matrix, snap_titles: dict[str, str],
                item_categories: list[list[str]], k: int, scorer: Scorer | None = None
                ) -> tuple[list[list[dict[str, Any]]], list[list[dict[str, Any]]]]:
    """Per user: top-k item interests with reasons, and top category interests.

    Items the user bought (net of returns) are never recommended; viewed items may be.
    """
    recs = recommend(user_emb, item_emb, bought, k, users=users, item_categories=item_categories,
                     scorer=scorer)
    cat_m, cat_names = category_matrix(item_categories)
    cat_scores = (category_scores(user_emb[users], item_emb, cat_m)
                  if cat_names else np.zeros((len(users), 0), np.float32))
    interests: list[list[dict[str, Any]]] = []
    categories: list[list[dict[str, Any]]] = []
    for row in range(len(users)):
        user_recs = []
        for slot in range(recs.items.shape[1]):
            item = int(recs.items[row, slot])
            if item < 0:
                continue
            user_recs.append({"item": graph.items.ids[item], "score": float(recs.scores[row, slot]),
                              "rank": slot + 1, "reason": _reason(graph, recs, row, slot, snap_titles)})
        interests.append(user_recs)
        top = np.argsort(-cat_scores[row])[:CATEGORIES_PER_USER] if cat_names else []
        categories.append([{"name": cat_names[j], "score": float(cat_scores[row, j])} for j in top])
    return interests, categories


def replace_user_edges(base: InteractionGraph, users: list[str], interactions: list[Interaction],
                       new_users: list[str], new_items: list[str]) -> InteractionGraph:
    """``base`` with the edges of ``users`` replaced by ``interactions`` (vectorised).

    Existing users and items keep their indices; new ones are appended, so the trained id
    embeddings still line up.
    """
    user_map = IdMap([*base.users.ids, *new_users])
    item_map = IdMap([*base.items.ids, *new_items])
    touched = torch.from_numpy(user_map.to_index(users))
    keep = ~torch.isin(base.edge_index[0], touched)
    fresh = [r for r in interactions if r.weight > 0]
    new_index = torch.tensor([[user_map.index(r.user_id) for r in fresh],
                              [item_map.index(r.item_id) for r in fresh]], dtype=torch.long)
    return InteractionGraph(
        user_map, item_map,
        torch.cat([base.edge_index[:, keep], new_index.reshape(2, -1)], dim=1),
        torch.cat([base.edge_weight[keep], torch.tensor([r.weight for r in fresh],
                                                        dtype=base.edge_weight.dtype)]),
        torch.cat([base.edge_ts[keep], torch.tensor([r.last_ts for r in fresh],
                                                    dtype=base.edge_ts.dtype)]),
    )


def _restrict_items(graph: InteractionGraph, num_items: int) -> InteractionGraph:
    """The graph without items at index ``num_items`` and above (items new since training)."""
    keep = graph.edge_index[1] < num_items
    return InteractionGraph(graph.users, IdMap(graph.items.ids[:num_items]),
                            graph.edge_index[:, keep], graph.edge_weight[keep], graph.edge_ts[keep])


def _csr(graph: InteractionGraph, pairs: Iterable[tuple[str, str]]) -> sp.csr_matrix:
    rows, cols = [], []
    for uid, iid in pairs:
        u, i = graph.users.get(uid), graph.items.get(iid)
        if u >= 0 and i >= 0:
            rows.append(u)
            cols.append(i)
    return sp.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)),
                         shape=(graph.num_users, graph.num_items))


# -- full refresh -----------------------------------------------------------------------------


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

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items()}


class _Stages:
    def __init__(self, progress: Progress, plan: list[str]) -> None:
        self.progress = progress
        self.plan = plan
        self.seconds: dict[str, float] = {}

    def run(self, name: str, fn: Callable[[], Any]) -> Any:
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


FULL_STAGES = ["pull", "features", "train", "score", "value", "segment", "write", "activate",
               "cleanup"]


def run_full(repo: RefreshRepository, settings: Settings, encoder: TextEncoder,
             progress: Progress = _noop, clock: Callable[[], float] = time.time) -> RefreshReport:
    """One full refresh. Readers see the previous refresh until ``activate`` commits."""
    now = clock()
    version = new_version(now)
    previous = repo.state().version
    stages = _Stages(progress, FULL_STAGES)
    device = str(settings.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    snap = stages.run("pull", lambda: pull(repo, now))
    if not snap.user_ids or not snap.interactions:
        return RefreshReport(version, "full", "skipped: the graph has no interactions yet", {})
    repo.begin(version, "full", now)
    graph = build_graph(snap.interactions, item_ids=snap.item_ids, user_ids=snap.user_ids)
    user_x, item_x, encoded = stages.run("features", lambda: encode_features(repo, snap, graph, encoder))
    model = stages.run("train", lambda: fit_model(graph, user_x, item_x, settings, version,
                                                  encoder.name))
    trained = model.trained
    titles = {i: snap.item_text.get(i, "").split(". ")[0] for i in graph.items.ids}

    def score() -> tuple[Any, ...]:
        user_emb, item_emb = trained.embeddings(device="cpu")
        cats = [snap.item_categories.get(i, []) for i in graph.items.ids]
        interests, categories = score_users(graph, user_emb, item_emb, np.arange(graph.num_users),
                                            _csr(graph, snap.bought), titles, cats, settings.top_k,
                                            model.scorer(user_emb, item_emb))
        similar = similar_items(item_emb, SIMILAR_PER_ITEM)
        return user_emb, item_emb, interests, categories, similar, cats

    user_emb, item_emb, interests, categories, similar, item_cats = stages.run("score", score)
    val = stages.run("value", lambda: customer_value(snap.purchases, now))
    values = [_value_fields(val.frame, uid) for uid in graph.users.ids]

    def segment() -> tuple[Any, ...]:
        seg = segmentation.segment_users(user_emb.numpy(), seed=settings.seed)
        history = graph.to_csr(binary=True)
        user_cats = [
            [c for i in history.indices[history.indptr[u] : history.indptr[u + 1]]
             for c in item_cats[i]]
            for u in range(graph.num_users)
        ]
        profiles = segmentation.describe_segments(
            seg.labels, user_cats, [v.get("tier") for v in values],
            [v.get("expected_value") for v in values], [v.get("churn_risk") for v in values])
        return seg, profiles

    seg, profiles = stages.run("segment", segment)
    coords = segmentation.project(user_emb.numpy(), seg.projection, seg.mean)
    labels_by_index = {p.index: p.label for p in profiles}

    def seg_id(index: int) -> str:
        return f"{version}:{index}"

    def write() -> str:
        rows = [dict(user=uid, **rec) for uid, recs in zip(graph.users.ids, interests) for rec in recs]
        repo.write_interests(version, version, rows)
        repo.write_category_interests(version, [
            {"user": uid, "category": c["name"], "score": c["score"]}
            for uid, cats in zip(graph.users.ids, categories) for c in cats])
        repo.write_similar_items(version, [
            {"item": graph.items.ids[i], "other": graph.items.ids[int(j)],
             "score": float(similar.scores[i, r]), "rank": r + 1}
            for i in range(graph.num_items) for r, j in enumerate(similar.items[i]) if j >= 0])
        repo.write_segments(version, [
            {"id": seg_id(p.index), "index": p.index, "label": p.label, "size": p.size,
             "top_categories": p.top_categories, "tiers": list(p.tiers),
             "tier_counts": list(p.tiers.values()), "avg_expected_value": p.avg_expected_value,
             "avg_churn_risk": p.avg_churn_risk,
             "centroid": [float(x) for x in seg.centroids[p.index]]} for p in profiles],
            silhouette=seg.silhouette, now=now)
        repo.write_segment_members(version, [
            {"user": uid, "segment": seg_id(int(seg.labels[u])), "distance": float(seg.distances[u])}
            for u, uid in enumerate(graph.users.ids)], now=now)
        path = settings.models_dir / f"{version}.pt"
        save_model(trained, path)
        save_sidecar(path, seg, val.fit, labels_by_index, snap.item_categories, titles, model)
        return str(path)

    model_path = stages.run("write", write)

    def activate() -> None:
        users = []
        for u, uid in enumerate(graph.users.ids):
            users.append({"id": uid, "embedding": [float(x) for x in user_emb[u]],
                          "x": float(coords[u, 0]), "y": float(coords[u, 1]),
                          "segment": seg_id(int(seg.labels[u])),
                          "segment_label": labels_by_index[int(seg.labels[u])],
                          **values[u]})
        items = [{"id": iid, "embedding": [float(x) for x in item_emb[i]]}
                 for i, iid in enumerate(graph.items.ids)]
        repo.activate(version, version, model_path, users, items, clock())

    stages.run("activate", activate)

    def cleanup() -> None:
        repo.cleanup(version)
        keep = [r["version"] for r in repo.history(settings.segment_history)]
        repo.prune_segment_history(keep)
        repo.set_watermark(now)
        # Saved models hold pseudonymised user ids and features: keep only the active one and
        # its predecessor (a worker may still be loading it), so erased users leave them too.
        prune_models(settings.models_dir, {version, previous or version})

    stages.run("cleanup", cleanup)
    repo.finish(version, "active", stages.seconds, clock())
    progress("done", 100.0)
    return RefreshReport(version, "full", "active", stages.seconds, graph.num_users,
                         graph.num_items, encoded, seg.k, seg.silhouette, device)


# -- saved artefacts beside the model -------------------------------------------------------------


def prune_models(models_dir: Path, keep: set[str]) -> list[str]:
    """Delete saved models (and their side files) of versions not in ``keep``."""
    removed = []
    for path in models_dir.glob("*.pt"):
        if path.stem in keep:
            continue
        for side in (path, path.with_suffix(".json"), path.with_suffix(".segments.npz"),
                     path.with_suffix(".item_term.npy")):
            side.unlink(missing_ok=True)
        removed.append(path.stem)
    return removed


def save_sidecar(model_path: Path, seg: segmentation.Segmentation, fit: dict[str, Any] | None,
                 labels: dict[int, str], item_categories: dict[str, list[str]],
                 titles: dict[str, str], model: InterestModel) -> None:
    """Segmentation, item-item term, value fit and catalogue text the incremental refresh needs."""
    np.savez(model_path.with_suffix(".segments.npz"), centroids=seg.centroids,
             projection=seg.projection, mean=seg.mean)
    np.save(model_path.with_suffix(".item_term.npy"), model.item_term.b.astype(np.float32))
    model_path.with_suffix(".json").write_text(json.dumps({
        "format": MODEL_FORMAT, "value_fit": fit, "gcn_weight": model.gcn_weight,
        "ease_l2": model.item_term.l2,
        "segment_labels": {str(k): v for k, v in labels.items()},
        "item_categories": item_categories, "titles": titles,
    }))


@dataclass
class Artefacts:
    model: InterestModel
    centroids: np.ndarray
    projection: np.ndarray
    mean: np.ndarray
    value_fit: dict[str, Any] | None
    labels: dict[int, str]
    item_categories: dict[str, list[str]]
    titles: dict[str, str]


def load_artefacts(model_path: Path) -> Artefacts:
    trained = load_model(model_path, device="cpu")
    seg = np.load(model_path.with_suffix(".segments.npz"))
    meta = json.loads(model_path.with_suffix(".json").read_text())
    if meta.get("format") != MODEL_FORMAT:
        raise ValueError(f"{model_path}: unknown sidecar format {meta.get('format')!r}")
    term = baselines.EASE(meta["ease_l2"], history="weighted")
    term.b = np.load(model_path.with_suffix(".item_term.npy"))
    model = InterestModel(trained, term, meta["gcn_weight"])
    return Artefacts(model, seg["centroids"], seg["projection"], seg["mean"], meta["value_fit"],
                     {int(k): v for k, v in meta["segment_labels"].items()},
                     meta["item_categories"], meta["titles"])


# -- incremental refresh ----------------------------------------------------------------------------


def run_incremental(repo: RefreshRepository, settings: Settings, encoder: TextEncoder,
                    load: Callable[[str], Artefacts], progress: Progress = _noop,
                    clock: Callable[[], float] = time.time) -> dict[str, Any]:
    """Re-score users touched since the watermark (and their neighbourhood) with the saved model."""
    started = time.perf_counter()
    state = repo.state()
    if state.version is None or state.model_path is None:
        return {"status": "skipped", "reason": "no full refresh has completed yet", "users": 0}
    mark = clock()
    changed_users, changed_items = repo.changed_since(state.watermark or 0.0)
    if not changed_users and not changed_items:
        return {"status": "noop", "users": 0, "seconds": round(time.perf_counter() - started, 3)}
    progress("pull", 10.0)
    affected = repo.neighbourhood(changed_users, changed_items)
    art = load(state.model_path)
    trained = art.model.trained
    base = trained.graph
    rows = repo.users_by_id(affected)
    snap = Snapshot(pulled_at=mark)
    for row in rows:
        snap.add_user(row)
    new_items = sorted({i.item_id for i in snap.interactions} - set(base.items.ids))
    new_users = [u for u in snap.user_ids if u not in base.users]
    graph = replace_user_edges(base, snap.user_ids, snap.interactions, new_users, new_items)
    progress("features", 30.0)
    item_x = np.zeros((graph.num_items, trained.item_x.shape[1]), np.float32)
    item_x[: base.num_items] = trained.item_x
    if new_items:
        # Items first seen since the full refresh have no text in the saved model: they are
        # embedded from their id alone until the next full refresh reads their text.
        item_x[base.num_items :] = 0.0
    own = np.zeros((graph.num_users, item_x.shape[1]), np.float32)
    if snap.user_text:
        texts = list(snap.user_text.items())
        rows = graph.users.to_index([uid for uid, _ in texts])
        own[rows] = encode_with_cache([text for _, text in texts], encoder).embeddings
    user_x = user_features(graph, item_x, own)
    progress("embed", 50.0)
    user_emb, item_emb = embed_inductive(trained, graph, user_x, item_x, device="cpu")
    idx = graph.users.to_index(snap.user_ids)
    cats = [art.item_categories.get(i, []) for i in graph.items.ids]
    # The item-item term knows the trained catalogue only: items new since then wait for the
    # next full refresh before they are recommended.
    known = graph if not new_items else _restrict_items(graph, base.num_items)
    scorer = art.model.scorer(user_emb, item_emb[: base.num_items], known)
    interests, categories = score_users(known, user_emb, item_emb[: base.num_items], idx,
                                        _csr(known, snap.bought), art.titles,
                                        cats[: base.num_items], settings.top_k, scorer)
    labels, distances = segmentation.assign_segments(user_emb[idx].numpy(), art.centroids)
    coords = segmentation.project(user_emb[idx].numpy(), art.projection, art.mean)
    val = customer_value(snap.purchases, mark, art.value_fit, fit=False)
    progress("write", 80.0)
    out = []
    for r, uid in enumerate(snap.user_ids):
        if not interests[r]:
            continue
        seg_index = int(labels[r])
        out.append({"id": uid, "embedding": [float(x) for x in user_emb[idx[r]]],
                    "x": float(coords[r, 0]), "y": float(coords[r, 1]),
                    "segment": f"{state.version}:{seg_index}",
                    "segment_label": art.labels.get(seg_index, ""), "distance": float(distances[r]),
                    "recs": interests[r], "categories": categories[r],
                    **_value_fields(val.frame, uid)})
    repo.update_users(state.version, state.model_version or state.version, out, clock())
    repo.set_watermark(mark)
    return {"status": "updated", "users": len(out), "changed_users": len(changed_users),
            "changed_items": len(changed_items), "version": state.version,
            "seconds": round(time.perf_counter() - started, 3)}
