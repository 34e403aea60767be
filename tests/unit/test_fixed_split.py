"""Datasets given as a fixed train/test split: the LightGCN format and the ``split`` column."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from interest_graph.errors import DatasetError
from interest_graph.ingest.datasets import open_dataset, read_dataset
from interest_graph.ingest.fixed_split import SPLIT_TS, HeldOut
from interest_graph.ingest.records import Event, RecordError
from interest_workers.pipelines.evaluation.evaluation import fixed_split


def _lightgcn_folder(folder: Path) -> Path:
    folder.mkdir()
    (folder / "train.txt").write_text("0 1 2 3\n1 2 4 4\n\n2 x 5\n")
    with gzip.open(folder / "test.txt.gz", "wt") as fh:
        fh.write("0 4 1\n1 3\n")
    return folder


def test_lightgcn_format_reads_pairs_and_names_the_bad_line(tmp_path: Path) -> None:
    ds = read_dataset(_lightgcn_folder(tmp_path / "split"))
    assert ds.name == "split"
    assert [(e.user_id, e.item_id) for e in ds.events] == [
        ("0", "1"), ("0", "2"), ("0", "3"), ("1", "2"), ("1", "4")]  # "4 4": one pair
    assert {e.type for e in ds.events} == {"purchase"} and {e.ts for e in ds.events} == {SPLIT_TS}
    assert ds.test is not None and [(e.user_id, e.item_id) for e in ds.test] == [
        ("0", "4"), ("0", "1"), ("1", "3")]
    assert [(e.record, e.field) for e in ds.errors] == [(4, "item_id")]
    # The test pair (0, 1) is a training pair too: it is not a target.
    assert fixed_split(ds.events, ds.test) == {"0": ["4"], "1": ["3"]}


def test_loading_a_split_takes_its_training_part_only(tmp_path: Path) -> None:
    reader = open_dataset(_lightgcn_folder(tmp_path / "split"))
    records = list(reader.records())
    assert not any(isinstance(r, HeldOut) for r in records)
    assert sum(isinstance(r, Event) for r in records) == 5
    assert reader.skipped["test split"] == 3


def test_the_split_column_of_the_generic_format(tmp_path: Path) -> None:
    (tmp_path / "events.csv").write_text(
        "event_id,user_id,item_id,type,timestamp,split\n"
        "e1,a,i1,view,2024-01-01,train\n"
        "e2,a,i2,purchase,2024-01-02,\n"
        "e3,a,i3,purchase,2024-01-03,TEST\n"
        "e4,a,i4,purchase,2024-01-04,validation\n")
    ds = read_dataset(tmp_path)
    assert [e.event_id for e in ds.events] == ["e1", "e2"]
    assert ds.test is not None and [e.event_id for e in ds.test] == ["e3"]
    assert len(ds.errors) == 1 and isinstance(ds.errors[0], RecordError)
    assert (ds.errors[0].record, ds.errors[0].field) == (5, "split")
    assert "'validation'" in ds.errors[0].reason
    # Without a split column nothing is a fixed split: the evaluation splits by time.
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "events.csv").write_text("event_id,user_id,item_id,type,timestamp\n"
                                      "e1,a,i1,view,2024-01-01\n")
    assert read_dataset(plain).test is None


def test_gowalla_is_a_known_name_read_from_the_shared_folder(shared_datasets: Path,
                                                            tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="gowalla"):
        open_dataset("gowalla", tmp_path)
    reader = open_dataset("gowalla", shared_datasets)
    assert [p.name for p in reader.paths] == ["train.txt.gz", "test.txt.gz"]


def test_evaluate_scores_a_fixed_split_on_its_own_test_pairs(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from interest_workers.commands import evaluate

    folder = tmp_path / "split"
    folder.mkdir()
    # Two tastes: even users take items 0..9, odd users 10..19; the test holds two more each.
    train, test = [], []
    for u in range(30):
        base = 0 if u % 2 == 0 else 10
        items = [base + (u + k) % 10 for k in range(8)]
        train.append(" ".join(map(str, [u, *items])))
        test.append(" ".join(map(str, [u, base + (u + 8) % 10, base + (u + 9) % 10])))
    (folder / "train.txt").write_text("\n".join(train) + "\n")
    (folder / "test.txt").write_text("\n".join(test) + "\n")
    result = CliRunner().invoke(evaluate, [str(folder), "--encoder", "hashing", "--methods",
                                           "popularity,rp3beta", "--json"])
    assert result.exit_code == 0, result.output
    out = __import__("json").loads(result.output.strip().splitlines()[-1])
    assert out["info"]["split"] == "fixed" and out["info"]["test_pairs"] == 60
    # Only the two unseen items of the user's own taste are left to rank: RP3β finds them all.
    assert out["datasets"]["split"]["rp3beta"]["recall@20"] == 1.0
    bad = CliRunner().invoke(evaluate, [str(tmp_path / "missing")])
    assert bad.exit_code != 0 and "neither a dataset name" in bad.output
