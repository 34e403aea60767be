"""What a full refresh saves for the incremental refreshes after it: one file per version.

``<models_dir>/<version>.pt`` holds the fitted model (GCN weights and hyperparameters, its training
graph and features, embeddings, the EASE item-item weights and the choices made), the segments
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
import torch

from . import baselines
from .gcn import TextGCN, TrainedModel, resolve_device
from .graph_build import IdMap, InteractionGraph
from .interest_model import InterestModel, Selection
from .segment_space import InterestSpace
from .segmentation import SavedSegments

ARTEFACT_FORMAT = 3


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


def save_artefacts(path: Path, art: Artefacts) -> None:
    """Write ``art`` to ``path`` (parents created)."""
    model, trained = art.model, art.model.trained
    g = trained.graph
    meta = {
        "version": trained.version, "encoder_name": trained.encoder_name,
        "edge_transform": trained.edge_transform, "hyperparameters": trained.model.hyperparameters,
        "user_ids": list(g.users.ids), "item_ids": list(g.items.ids),
        "item_l2": model.item_term.l2, "item_history": model.item_term.history_kind,
        "selection": model.selection.as_dict(), "as_of": art.as_of,
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
        "item_term": _tensor(model.item_term.b),
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
    term = baselines.EASE(meta["item_l2"], history=meta["item_history"])
    term.b = payload["item_term"].numpy()
    term = term.with_history(graph)
    sel = meta["selection"]
    selection = Selection(sel["epochs"], sel["item_l2"], sel["gcn_weight"], sel["val_recall@20"])
    model = InterestModel(trained, term, selection, payload["user_emb"], payload["item_emb"])
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
