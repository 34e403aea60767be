"""What a full refresh saves for the incremental refreshes after it: one file per version.

``<models_dir>/<version>.pt`` holds the fitted model (GCN weights and hyperparameters, its training
graph and features, embeddings, the fitted blend terms and the choices made), the segments
(interest space, centroids, drift limits and labels), the customer-value fit and churn basis and
the catalogue text the reasons cite, under one format number. A file of another format is
refused with :class:`ArtefactFormatError` (the next full refresh writes a current one).
"""

from __future__ import annotations

import json
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch

from ..typing import FloatArray
from .model import baselines
from .model.blend import BlendGain, HistoryTerm, Variant
from .model.filters import GraphFilter
from .model.gcn import TextGCN, TrainedModel
from .model.graph_build import IdMap, InteractionGraph
from .model.interest_model import InterestModel, Selection
from .model.propagation import resolve_device
from .model.sequence import SequentialItemItem
from .segments.segment_space import InterestSpace
from .segments.segmentation import SavedSegments

ARTEFACT_FORMAT = 4


class ArtefactFormatError(ValueError):
    """The file is not a saved model of the current format."""


@dataclass
class Artefacts:
    """A full refresh's saved state.

    Attributes:
        model: The fitted model.
        as_of: The time its edge weights were decayed to (the incremental refresh decays changed
            edges to the same time, so they stay on the trained scale).
        segments: The interest space, centroids and drift limits.
        segment_labels: Segment label by segment index.
        value_fit: The customer-value fit (``None`` when it could not be fitted).
        churn: :meth:`~.churn.ChurnBasis.as_dict` of the refresh's churn basis.
        item_categories: Categories per item index of the model's graph.
        titles: Title per item index (what reasons cite).
    """

    model: InterestModel
    as_of: float
    segments: SavedSegments
    segment_labels: dict[int, str]
    value_fit: dict[str, Any] | None
    churn: dict[str, Any] | None
    item_categories: list[tuple[str, ...]]
    titles: list[str]


def _tensor(x: np.ndarray | torch.Tensor) -> torch.Tensor:
    return x.detach().cpu() if isinstance(x, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(x))


def _sparse(prefix: str, m: sp.csr_matrix) -> dict[str, torch.Tensor]:
    m = sp.csr_matrix(m)
    return {f"{prefix}.data": torch.from_numpy(m.data.astype(np.float32)),
            f"{prefix}.indices": torch.from_numpy(m.indices.astype(np.int64)),
            f"{prefix}.indptr": torch.from_numpy(m.indptr.astype(np.int64))}


def _unsparse(prefix: str, tensors: dict[str, torch.Tensor], n: int) -> sp.csr_matrix:
    return sp.csr_matrix((tensors[f"{prefix}.data"].numpy(), tensors[f"{prefix}.indices"].numpy(),
                          tensors[f"{prefix}.indptr"].numpy()), shape=(n, n))


def _term_tensors(name: str, term: HistoryTerm) -> dict[str, torch.Tensor]:
    """What a fitted term needs besides its variant's parameters (the content term: nothing)."""
    if isinstance(term, baselines.EASE):
        return {f"{name}.b": _tensor(term.b)}
    if isinstance(term, baselines.RP3Beta | SequentialItemItem):
        return _sparse(f"{name}.w", term.w)
    if isinstance(term, baselines.Popularity):
        return {f"{name}.counts": _tensor(term.counts)}
    if isinstance(term, GraphFilter):
        return {f"{name}.v": _tensor(term.v)}
    return {}


def _term(variant: Variant, tensors: dict[str, torch.Tensor], graph: InteractionGraph,
          item_x: FloatArray, user_text_x: FloatArray) -> HistoryTerm:
    name, p, n = variant.term, variant.as_dict(), graph.num_items
    term: Any
    if name == "ease":
        term = baselines.EASE(p["l2"], history=p["history"])
        term.b = tensors["ease.b"].numpy()
    elif name == "rp3beta":
        term = baselines.RP3Beta(p["alpha"], p["beta"], history=p["history"])
        term.w = _unsparse("rp3beta.w", tensors, n)
    elif name == "sequence":
        term = SequentialItemItem(p["decay"])
        term.w = _unsparse("sequence.w", tensors, n)
    elif name == "filter":
        term = GraphFilter(p["beta"], p["time"]).fit(graph, vectors=tensors["filter.v"].numpy())
    elif name == "popularity":
        term = baselines.Popularity()
        term.counts = tensors["popularity.counts"].numpy()
    elif name == "content":
        return baselines.Content(item_x, user_text_x).fit(graph)  # type: ignore[return-value]
    else:
        raise ArtefactFormatError(f"unknown blend term {name!r}")
    return term.with_history(graph)  # type: ignore[no-any-return]


def save_artefacts(path: Path, art: Artefacts) -> None:
    """Write ``art`` to ``path`` (parents created)."""
    model, trained = art.model, art.model.trained
    g = trained.graph
    meta = {
        "version": trained.version, "encoder_name": trained.encoder_name,
        "edge_transform": trained.edge_transform, "hyperparameters": trained.model.hyperparameters,
        "user_ids": list(g.users.ids), "item_ids": list(g.items.ids),
        "selection": model.selection.as_dict(), "cold_neighbours": model.cold_neighbours,
        "as_of": art.as_of,
        "segment_labels": {str(k): v for k, v in art.segment_labels.items()},
        "segment_categories": list(art.segments.space.categories),
        "value_fit": art.value_fit, "churn": art.churn,
        "item_categories": [list(c) for c in art.item_categories],
        "titles": art.titles,
    }
    payload = {
        "format": ARTEFACT_FORMAT,
        # JSON keeps the loader on torch's weights-only path (no pickled Python objects).
        "meta": json.dumps(meta, default=lambda o: o.item()),
        "state_dict": {k: v.cpu() for k, v in trained.model.state_dict().items()},
        "edge_index": g.edge_index, "edge_weight": g.edge_weight, "edge_first_ts": g.edge_first_ts,
        "user_x": _tensor(trained.user_x), "item_x": _tensor(trained.item_x),
        "user_emb": _tensor(model.user_emb), "item_emb": _tensor(model.item_emb),
        "user_text_x": _tensor(model.user_text_x),
        "terms": {k: v for name, term in model.terms.items()
                  for k, v in _term_tensors(name, term).items()},
        **{f"segment_{k}": _tensor(np.asarray(v, np.float64))
           for k, v in art.segments.to_arrays().items() if k != "categories"},
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(payload, path)


def load_artefacts(path: Path, device: str | torch.device | None = "cpu") -> Artefacts:
    """Read what :func:`save_artefacts` wrote.

    Raises:
        ArtefactFormatError: not a saved model of format :data:`ARTEFACT_FORMAT`.
    """
    try:
        payload = torch.load(Path(path), map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError) as exc:
        raise ArtefactFormatError(f"{path}: not a saved model ({exc})") from None
    if not isinstance(payload, dict) or payload.get("format") != ARTEFACT_FORMAT:
        raise ArtefactFormatError(f"{path}: not a saved model of format {ARTEFACT_FORMAT}")
    meta = json.loads(payload["meta"])
    hp = dict(meta["hyperparameters"])
    hp["alpha"] = torch.tensor(hp["alpha"])
    gcn = TextGCN(**hp)
    gcn.load_state_dict(payload["state_dict"])
    gcn.to(resolve_device(device)).eval()
    graph = InteractionGraph(IdMap(meta["user_ids"]), IdMap(meta["item_ids"]),
                             payload["edge_index"], payload["edge_weight"], payload["edge_first_ts"])
    trained = TrainedModel(gcn, graph, payload["user_x"].numpy(), payload["item_x"].numpy(),
                           meta["version"], meta["edge_transform"], meta["encoder_name"])
    sel = meta["selection"]
    chosen = {t: Variant(t, tuple(p.items())) for t, p in sel["variants"].items()}
    gain = sel.get("val_blend_gain")
    cold_gain = sel.get("val_cold_gain")
    selection = Selection(sel["epochs"], chosen, sel["weights"], sel["val_score"],
                          sel["val_recall@20"], sel["val_singles"],
                          None if gain is None else BlendGain(**gain),
                          bool(sel.get("cold_items", True)),
                          None if cold_gain is None else BlendGain(**cold_gain),
                          sel.get("selected_on_users"))
    user_text_x = payload["user_text_x"].numpy()
    terms = {t: _term(v, payload["terms"], graph, trained.item_x, user_text_x)
             for t, v in chosen.items()}
    model = InterestModel(trained, terms, selection, payload["user_emb"], payload["item_emb"],
                          user_text_x, int(meta["cold_neighbours"]))
    return Artefacts(model, float(meta["as_of"]), _segments(payload, meta),
                     {int(k): v for k, v in meta["segment_labels"].items()}, meta["value_fit"],
                     meta["churn"], [tuple(c) for c in meta["item_categories"]],
                     list(meta["titles"]))


def _segments(payload: dict[str, Any], meta: dict[str, Any]) -> SavedSegments:
    space = InterestSpace(tuple(meta["segment_categories"]), payload["segment_idf"].numpy(),
                          payload["segment_mean"].numpy(), payload["segment_basis"].numpy())
    return SavedSegments(space, payload["segment_centroids"].numpy(),
                         payload["segment_limits"].numpy())


def load_segments(path: Path) -> SavedSegments | None:
    """Only the saved segments of a model file (the next full refresh starts from them);
    ``None`` when the file is missing or of another format."""
    try:
        payload = torch.load(Path(path), map_location="cpu", weights_only=True)
    except (OSError, pickle.UnpicklingError, RuntimeError, EOFError):
        return None
    if not isinstance(payload, dict) or payload.get("format") != ARTEFACT_FORMAT:
        return None
    return _segments(payload, json.loads(payload["meta"]))


def prune_models(models_dir: Path, keep: set[str]) -> list[str]:
    """Delete saved models of versions not in ``keep``; returns the versions deleted."""
    removed = []
    for path in sorted(Path(models_dir).glob("*.pt")):
        if path.stem not in keep:
            path.unlink(missing_ok=True)
            removed.append(path.stem)
    return removed
