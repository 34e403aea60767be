"""Loading a dataset end to end: open store, init schema, ingest, count."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..graph import open_store
from ..graph.ingest import GraphCounts, IngestRepository
from ..privacy import Pseudonymiser
from ..recipe import EdgeRecipe
from ..settings import Settings
from .datasets import open_dataset
from .ingestor import Ingestor, IngestSummary


@dataclass
class LoadResult:
    dataset: str
    summary: IngestSummary
    counts: GraphCounts
    #: Seconds per step, for loads that have steps (``load --bulk``: files, import, finish).
    stages: dict[str, float] = field(default_factory=dict)

    @property
    def events_per_s(self) -> float:
        return self.summary.events_read / self.summary.elapsed_s if self.summary.elapsed_s else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "users": self.counts.users,
            "items": self.counts.items,
            "categories": self.counts.categories,
            "edges": self.counts.edges,
            "events_in_graph": self.counts.events,
            "events_applied": self.summary.events_applied,
            "duplicates": self.summary.duplicates,
            "rejected": self.summary.rejected,
            "skipped": dict(self.summary.skipped),
            "elapsed_s": round(self.summary.elapsed_s, 3),
            "events_per_s": round(self.events_per_s, 1),
            **({"stages": {k: round(v, 2) for k, v in self.stages.items()}}
               if self.stages else {}),
        }


def make_ingestor(settings: Settings, repo: IngestRepository) -> Ingestor:
    return Ingestor(
        repo,
        Pseudonymiser(settings.resolved_secret(), enabled=settings.pseudonymise),
        batch_size=settings.batch_size,
        recipe=EdgeRecipe.from_settings(settings),
    )


def load_source(settings: Settings, source: str, *, show_progress: bool = True) -> LoadResult:
    """Load a dataset name or path into the configured store and count the result."""
    reader = open_dataset(source, settings.datasets_dir)
    store = open_store(settings)
    try:
        store.init_schema()
        repo = IngestRepository(store)
        ingestor = make_ingestor(settings, repo)
        if show_progress:
            from tqdm import tqdm

            with tqdm(desc=f"loading {reader.name}", unit=" events", unit_scale=True,
                      file=__import__("sys").stderr, disable=None) as bar:
                summary = ingestor.run(reader.records(), progress=bar.update)
        else:
            summary = ingestor.run(reader.records())
        summary.skipped.update(reader.skipped)
        counts = repo.counts()
    finally:
        store.close()
    return LoadResult(reader.name, summary, counts)
