"""The scale data generator on a slice of Online Retail: shape, determinism, one connected graph."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from interest_graph.ingest.datasets import read_dataset
from interest_graph.ingest.product_types import head_counts, product_type
from interest_graph.ingest.synth import (
    EVENTS_FILE,
    ITEMS_FILE,
    RetailBase,
    compare_shapes,
    read_online_retail,
    shape_stats,
    structure_stats,
    synthesize,
)

SLICE = 15000
FACTOR = 3


@pytest.fixture(scope="module")
def base(shared_datasets: Path) -> RetailBase:
    return read_online_retail(shared_datasets, SLICE)


@pytest.fixture(scope="module")
def grown(base: RetailBase, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("synth")
    synthesize(base, out, FACTOR, seed=7)
    return out


def _codes(values: list[str]) -> np.ndarray:
    index: dict[str, int] = {}
    return np.asarray([index.setdefault(v, len(index)) for v in values], np.int64)


def test_written_files_have_online_retails_shape(base: RetailBase, grown: Path) -> None:
    # Read back with the platform's own generic reader, independent of the generator's arrays.
    data = read_dataset(grown)
    assert not data.errors
    events = data.events
    synthetic = shape_stats(_codes([e.user_id for e in events]),
                            _codes([e.item_id or "" for e in events]),
                            np.asarray([e.ts for e in events]),
                            np.asarray([e.type == "return" for e in events]))
    real = shape_stats(base.user, base.item, base.ts, base.is_return)
    compared = compare_shapes(real, synthetic, FACTOR)
    assert synthetic["events"] == FACTOR * base.num_events
    assert {k: v for k, v in compared.items() if not v["ok"]} == {}
    assert 0 < real["returns_share"] < 0.1 and real["basket_size_mean"] > 5  # a real slice


def test_item_copies_keep_the_product_type_with_new_real_words(base: RetailBase, grown: Path) -> None:
    items = read_dataset(grown).items
    assert len(items) == FACTOR * sum(r is not None for r in base.items)
    real_titles = {r.title.upper() for r in base.items if r is not None}
    variants = [r.title.upper() for i, r in items.items() if "-" in i]
    assert len(set(variants)) == len(variants) and not real_titles & set(variants)
    vocabulary = {w for r in base.items if r is not None for w in r.title.upper().split()}
    heads = head_counts(r.title.upper() for r in base.items if r is not None)
    for record in base.items:
        if record is None:
            continue
        for copy in range(1, FACTOR):
            variant = items[f"{record.item_id}-{copy}"]
            assert variant.categories == record.categories
            assert product_type(variant.title, heads) == product_type(record.title, heads)
            words = variant.title.upper().split()
            assert set(words) - vocabulary <= {w for w in words if not w.isalpha()}


def test_same_seed_same_bytes_other_seed_other_data(base: RetailBase, grown: Path,
                                                    tmp_path: Path) -> None:
    def digest(folder: Path) -> list[str]:
        return [hashlib.sha256((folder / f).read_bytes()).hexdigest() for f in (EVENTS_FILE, ITEMS_FILE)]

    synthesize(base, tmp_path / "again", FACTOR, seed=7)
    synthesize(base, tmp_path / "other", FACTOR, seed=8)
    assert digest(tmp_path / "again") == digest(grown)
    assert all(a != b for a, b in zip(digest(tmp_path / "other"), digest(grown)))


def test_copies_form_one_graph_not_islands(base: RetailBase, tmp_path: Path) -> None:
    mixed = synthesize(base, tmp_path / "mixed", 4, seed=1, mix=0.25).structure
    islands = synthesize(base, tmp_path / "islands", 4, seed=1, mix=0.0).structure
    real = mixed["real"]
    assert islands["synthetic"]["components"] == 4 * real["components"]
    assert islands["synthetic"]["largest_component_share"] == pytest.approx(
        real["largest_component_share"] / 4, rel=0.01)
    assert islands["synthetic"]["cross_copy_2hop_share"] == 0.0
    assert islands["synthetic"]["copy_2hop_jaccard"] == 0.0
    syn = mixed["synthetic"]
    assert syn["largest_component_share"] >= real["largest_component_share"] - 0.01
    assert syn["cross_copy_2hop_share"] > 0.3
    # Two copies of one user share more of their neighbourhood than two unrelated users do.
    assert syn["copy_2hop_jaccard"] > syn["random_2hop_jaccard"] > 0


def test_structure_of_a_hand_made_graph() -> None:
    # User codes are real * 2 + copy: 0 and 2 are copy 0 of real users 0 and 1, 1 and 3 copy 1.
    # Copy 0 shares item 0, copy 1 item 1: two islands, until user 0 also takes item 1.
    user = np.array([0, 2, 1, 3])
    item = np.array([0, 0, 1, 1])
    islands = structure_stats(user, item, 2)
    assert (islands["components"], islands["largest_component_share"]) == (2, 0.5)
    joined = structure_stats(np.array([0, 2, 1, 3, 0]), np.array([0, 0, 1, 1, 1]), 2)
    assert (joined["components"], joined["largest_component_share"]) == (1, 1.0)


def test_bad_parameters_are_refused(base: RetailBase, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="factor"):
        synthesize(base, tmp_path, 0)
    with pytest.raises(ValueError, match="mix"):
        synthesize(base, tmp_path, 2, mix=1.5)
