"""Eight loaders at once on overlapping event files end exactly where one clean load ends."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from interest_graph.graph import GraphStore
from interest_graph.graph.ingest import GraphCounts, IngestRepository

from .conftest import CLI, RetailSlice

pytestmark = [pytest.mark.integration]

WRITERS = 8


def exact(counts: GraphCounts) -> tuple[int, ...]:
    return (counts.users, counts.items, counts.categories, counts.edges, counts.edge_events,
            counts.events)


def overlapping_files(slice_: RetailSlice, folder: Path) -> list[Path]:
    """``WRITERS`` folders; each event is in two of them, every other folder in reverse order."""
    events, n = slice_.events, len(slice_.events)
    items = (slice_.folder / "items.jsonl").read_text()
    paths = []
    for k in range(WRITERS):
        start = k * n // WRITERS
        chunk = (events + events)[start : start + 2 * n // WRITERS]
        if k % 2:
            chunk = chunk[::-1]
        path = folder / f"writer-{k}"
        path.mkdir()
        (path / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in chunk))
        (path / "items.jsonl").write_text(items)
        paths.append(path)
    return paths


def test_eight_concurrent_loaders_equal_one_clean_load(
        store: GraphStore, backend_env: dict[str, str], retail_slice: RetailSlice,
        tmp_path: Path) -> None:
    env = backend_env
    repo = IngestRepository(store)
    subprocess.run([*CLI, "load", str(retail_slice.folder)], env=env, check=True,
                   capture_output=True, timeout=300)
    clean = repo.counts()
    assert clean.events == len({e["event_id"] for e in retail_slice.events})
    store.clear()
    store.init_schema()

    # Small batches, so that the writers' batches interleave and clash often.
    paths = overlapping_files(retail_slice, tmp_path)
    loaders = [subprocess.Popen([*CLI, "load", str(path), "--batch-size", "100", "--json"],
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
               for path in paths]
    summaries = []
    for proc in loaders:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err.decode()[-2000:]
        summaries.append(json.loads(out.decode().strip().splitlines()[-1]))

    after = repo.counts()
    assert exact(after) == exact(clean)
    assert after.weight == pytest.approx(clean.weight, rel=1e-9)
    assert after.revenue == pytest.approx(clean.revenue, rel=1e-9)
    # Every event was applied by exactly one writer; the others counted it as a duplicate.
    assert sum(s["events_applied"] for s in summaries) == clean.events
    written = sum(len((path / "events.jsonl").read_text().splitlines()) for path in paths)
    assert sum(s["events_applied"] + s["duplicates"] for s in summaries) == written
