from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from interest_graph.errors import DatasetError
from interest_graph.ingest.datasets import open_dataset, product_type, read_dataset
from interest_graph.ingest.records import Event, ItemRecord, RecordError

BAD_CSV = """event_id,user_id,item_id,type,timestamp,price
e1,alice,sku1,purchase,2024-01-01T00:00:00,2.5
e2,bob,sku2,view,not-a-date,
e3,carol,,cart,2024-01-02T00:00:00,
e4,dave,sku1,teleport,2024-01-03T00:00:00,
e5,erin,sku2,view,1704067200,
"""


def test_generic_csv_reports_each_bad_row_by_line_and_field(tmp_path: Path) -> None:
    (tmp_path / "events.csv").write_text(BAD_CSV)
    (tmp_path / "items.csv").write_text("item_id,title,categories\nsku1,Red lamp,Home|Light\n")
    data = read_dataset(tmp_path)
    assert [e.event_id for e in data.events] == ["e1", "e5"]
    assert [(e.record, e.field) for e in data.errors] == [(3, "timestamp"), (4, "item_id"), (5, "type")]
    assert "teleport" in str(data.errors[2])
    assert data.items["sku1"].categories == ("Home", "Light")


def test_generic_jsonl_with_broken_lines(tmp_path: Path) -> None:
    path = tmp_path / "clicks.jsonl"
    path.write_text(
        '{"event_id": 1, "user_id": "a", "item_id": "x", "type": "click", "timestamp": 1704067200}\n'
        "{not json\n"
        "[1, 2]\n"
        '{"event_id": 2, "user_id": "a", "type": "search", "timestamp": 1704067200, "text": "lamp"}\n'
    )
    records = list(open_dataset(path).records())
    assert [type(r) for r in records] == [Event, RecordError, RecordError, Event]
    assert records[1].record == 2 and records[1].field == "json"


def test_unknown_names_and_file_types_are_clear(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="neither a dataset name"):
        open_dataset("no-such-dataset")
    (tmp_path / "events.parquet").write_text("x")
    with pytest.raises(DatasetError, match="unsupported file type"):
        open_dataset(tmp_path / "events.parquet")


def test_without_the_datasets_folder_the_error_says_what_to_get_and_where(tmp_path: Path) -> None:
    absent = tmp_path / "shared" / "datasets"
    with pytest.raises(DatasetError) as info:
        open_dataset("online-retail", absent)
    message = str(info.value)
    assert f"{absent} does not exist" in message and "INTERESTGRAPH_DATASETS_DIR" in message
    for publisher, source, path in (
            ("UCI Machine Learning Repository", "archive.ics.uci.edu/dataset/352",
             absent / "online-retail" / "online_retail.csv.gz"),
            ("GroupLens Research", "grouplens.org/datasets/movielens/100k",
             absent / "ml-100k" / "u.data.gz"),
            ("Julian McAuley", "nijianmo.github.io/amazon",
             absent / "amazon-magazine-subscriptions" / "Magazine_Subscriptions_5.json.gz")):
        assert publisher in message and source in message and str(path) in message
    assert "interestgraph demo PATH" in message


def test_a_missing_file_names_only_its_dataset(tmp_path: Path) -> None:
    (tmp_path / "ml-100k").mkdir()
    (tmp_path / "ml-100k" / "u.data.gz").write_bytes(b"")
    with pytest.raises(DatasetError) as info:
        open_dataset("ml-100k", tmp_path)
    message = str(info.value)
    assert f"missing {tmp_path / 'ml-100k' / 'u.item.gz'}, {tmp_path / 'ml-100k' / 'u.genre.gz'}" \
        in message
    assert "GroupLens" in message and "UCI" not in message


@pytest.mark.parametrize(
    ("description", "expected"),
    [("WHITE HANGING HEART T-LIGHT HOLDER", "HOLDER"), ("SET 7 BABUSHKA NESTING BOXES", "BOX"),
     ("PACK OF 12 PINK PAISLEY TISSUES ", "TISSUE"), ("GLASS", "GLASS"), ("?", None),
     ("PAPER CHAIN KIT 50'S CHRISTMAS", "KIT"), ("WOODEN CANVAS", "CANVAS"),
     ("JUMBO BAG RED RETROSPOT", "BAG"), ("ALARM CLOCK BAKELIKE PINK", "CLOCK"),
     ("CHARLOTTE BAG DOLLY GIRL DESIGN", "BAG"), ("GLASS CLOCHE SMALL", "CLOCHE"),
     ("FIRE POLISHED GLASS NECKL BRONZE", "NECKLACE"), ("PINK", "PINK"),
     ("HEART T-LIGHT HOLDER ETCHED", "HOLDER"), ("REGENCY CAKESTAND 3 TIER", "CAKESTAND"),
     # Gerunds and present participles say what a product is for or how it looks, not what it is.
     ("JAM MAKING SET PRINTED", "JAM"), ("PINK BAKING SET TIN", "TIN"),
     ("WOODEN SCHOOL COLOURING SET", "SCHOOL"), ("HEN HOUSE WITH CHICK STANDING", "CHICK"),
     ("SEWING KIT SHIMMERING", "KIT"), ("KNITTING NANCY", "NANCY"),
     # ... but -ING nouns stay: one syllable (and compounds), and the listed nouns.
     ("GLITTER HANGING BUTTERFLY STRING", "STRING"), ("DIAMANTE RING", "RING"),
     ("VICTORIAN METAL POSTCARD SPRING", "SPRING"), ("CROCHET DOG KEYRING", "KEYRING"),
     ("PAPER BUNTING RETROSPOT", "BUNTING"), ("VINTAGE CHRISTMAS STOCKING", "STOCKING"),
     ("12 RED ROSE PEG PLACE SETTINGS", "SETTING"), ("GARDEN SHED", "SHED"),
     ("WORLD WAR 2 GLIDERS ASSTD DESIGNS", "GLIDER")],
)
def test_product_type_is_the_head_noun_without_colour_size_or_design(
        description: str, expected: str | None) -> None:
    assert product_type(description) == expected


def test_online_retail_reader_on_the_real_file(shared_datasets: Path) -> None:
    reader = open_dataset("online-retail", shared_datasets)
    records = list(itertools.islice(reader.records(), 3000))
    events = [r for r in records if isinstance(r, Event)]
    items = [r for r in records if isinstance(r, ItemRecord)]
    assert events and items and not [r for r in records if isinstance(r, RecordError)]
    assert {e.type for e in events} <= {"purchase", "return"}
    assert all(e.quantity > 0 and e.user_id.isdigit() for e in events)
    assert events[0].event_id == "or:536365:85123A:1" and items[0].categories == ("HOLDER",)
    assert reader.skipped["no_customer_id"] > 0
    assert len({e.event_id for e in events}) == len(events)


def test_movielens_reader_keeps_ratings_and_genres(shared_datasets: Path) -> None:
    data = read_dataset("ml-100k", shared_datasets)
    assert len(data.events) == 100_000 and len(data.items) == 1682 and not data.errors
    assert data.items["1"].title == "Toy Story (1995)"
    assert data.items["1"].categories == ("Animation", "Children's", "Comedy")
    ratings = [e.rating for e in data.events]
    assert sum(r == 5.0 for r in ratings) == 21_201
