"""Readers for the real datasets in ``../shared/datasets`` and for the generic event format.

A reader yields one stream, in file order, of :class:`ItemRecord` (an item's text, yielded before the
first event that names it), :class:`Event` and :class:`RecordError`. Rows that are valid but not
behaviour (guest checkouts, postage lines) are counted in :attr:`DatasetReader.skipped`.

Generic format (``interestgraph load PATH``): ``PATH`` is an events file (``.csv``, ``.jsonl``, either
optionally ``.gz``) or a folder holding ``events.*`` and optionally ``items.*``. Event fields:
``event_id, user_id, item_id, type, timestamp`` and optional ``quantity, price, rating, text``; item
fields: ``item_id, title, description, price, categories`` (a list, or ``|``-separated in CSV).
An optional ``split`` column (``train``/``test``), or a folder in the LightGCN format, makes the
dataset a fixed split (:mod:`~interest_graph.ingest.fixed_split`).
"""

from __future__ import annotations

import csv
import gzip
import html
import io
import json
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from ..errors import DatasetError
from .fixed_split import (
    HeldOut,
    find_split_file,
    is_split_folder,
    pair_lines,
    split_of,
)
from .product_types import head_counts, product_type
from .records import Event, ItemRecord, RecordError, parse_event, parse_item
from .sources import PUBLIC_DATASETS, how_to_get

Record = Event | ItemRecord | RecordError | HeldOut
DATASET_NAMES = tuple(PUBLIC_DATASETS)
DEFAULT_DATASETS_DIR = Path("../shared/datasets")
_PRODUCT_CODE = re.compile(r"^\d{5}")


@dataclass
class DatasetReader:
    """A readable dataset: iterate :meth:`records`; ``skipped`` fills in as it goes.

    ``with_test``: a fixed split's test events are yielded as :class:`HeldOut` (else they are
    skipped, so that loading a split into the store loads its training part).
    """

    name: str
    paths: tuple[Path, ...]
    skipped: Counter[str] = field(default_factory=Counter)
    with_test: bool = False

    def _held_out(self, event: Event) -> Iterator[HeldOut]:
        if self.with_test:
            yield HeldOut(event)
        else:
            self.skipped["test split"] += 1

    def records(self) -> Iterator[Record]:  # pragma: no cover - overridden
        raise NotImplementedError


def _open_text(path: Path, encoding: str = "utf-8") -> IO[str]:
    # Undecodable bytes become lone surrogates, which validation rejects record by record, so
    # one bad byte costs one record, not the file.
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding=encoding, newline="",
                                errors="surrogateescape")
    return open(path, encoding=encoding, newline="", errors="surrogateescape")


def _find(folder: Path, stem: str) -> Path | None:
    for suffix in (".csv", ".jsonl", ".ndjson", ".json", ".csv.gz", ".jsonl.gz", ".ndjson.gz"):
        candidate = folder / f"{stem}{suffix}"
        if candidate.exists():
            return candidate
    return None


def _is_json_lines(path: Path) -> bool:
    name = path.name.removesuffix(".gz")
    return name.endswith((".jsonl", ".ndjson", ".json"))


def _generic_rows(path: Path) -> Iterator[tuple[int, dict[str, Any] | RecordError]]:
    """(line number, raw mapping) for each record of a CSV or JSON-lines file.

    Raises:
        DatasetError: the file cannot be read on (not gzip, truncated, broken CSV quoting); the
            records before the fault have been yielded.
    """
    lineno = 0
    try:
        for lineno, row in _generic_rows_unchecked(path):
            yield lineno, row
    except (OSError, EOFError, csv.Error) as exc:
        raise DatasetError(
            f"{path}: cannot read past line {lineno + 1}: {exc}. Records before it were loaded;"
            " fix the file and load it again (applied events are skipped)"
        ) from None


def _generic_rows_unchecked(path: Path) -> Iterator[tuple[int, dict[str, Any] | RecordError]]:
    with _open_text(path) as fh:
        if _is_json_lines(path):
            for lineno, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as exc:
                    yield lineno, RecordError(lineno, "json", f"not valid JSON ({exc.msg})")
                    continue
                if not isinstance(obj, dict):
                    yield lineno, RecordError(lineno, "json", "each line must be a JSON object")
                    continue
                yield lineno, obj
        else:
            reader = csv.DictReader(fh)
            for row in reader:
                # DictReader's line_num is the physical line where the row ended.
                yield reader.line_num, {k: v for k, v in row.items() if k is not None}


class GenericReader(DatasetReader):
    """Events (and optional items) in the generic CSV/JSON-lines format."""

    def __init__(self, events: Path, items: Path | None = None) -> None:
        paths = (events,) if items is None else (events, items)
        super().__init__(name=events.stem.removesuffix(".csv").removesuffix(".jsonl"), paths=paths)
        self.events_path = events
        self.items_path = items

    def records(self) -> Iterator[Record]:
        if self.items_path is not None:
            for lineno, raw in _generic_rows(self.items_path):
                if isinstance(raw, RecordError):
                    yield raw
                    continue
                try:
                    yield parse_item(raw)
                except ValueError as exc:
                    yield RecordError(lineno, exc.args[0], f"items file: {exc.args[1]}")
        for lineno, raw in _generic_rows(self.events_path):
            if isinstance(raw, RecordError):
                yield raw
                continue
            split = split_of(raw, lineno)
            if isinstance(split, RecordError):
                yield split
                continue
            try:
                event = parse_event(raw)
            except ValueError as exc:
                yield RecordError(lineno, exc.args[0], exc.args[1])
                continue
            if split == "test":
                yield from self._held_out(event)
            else:
                yield event


class SplitReader(DatasetReader):
    """A LightGCN-format split: ``paths`` are its train and test files."""

    def records(self) -> Iterator[Record]:
        train, test = self.paths
        for path, split in ((train, "train"), (test, "test")):
            if split == "test" and not self.with_test:
                self.skipped["test split"] += sum(1 for _ in _split_events(path, split))
                continue
            for record in _split_events(path, split):
                if split == "test" and isinstance(record, Event):
                    yield from self._held_out(record)
                else:
                    yield record


def _split_events(path: Path, split: str) -> Iterator[Event | RecordError]:
    try:
        with _open_text(path) as fh:
            yield from pair_lines(fh, split)
    except (OSError, EOFError) as exc:
        raise DatasetError(f"{path}: cannot be read: {exc}") from None


class OnlineRetailReader(DatasetReader):
    """UCI Online Retail: invoice lines as purchases, cancellations and negative quantities as returns.

    Rows without a CustomerID (guest checkouts) and non-product stock codes (postage, fees,
    manual adjustments) are counted in ``skipped`` and not loaded. An item's category is its
    product type (:mod:`.product_types`), which needs the whole catalogue's descriptions: the
    file is read twice, once for them.
    """

    def _descriptions(self) -> list[str]:
        first: dict[str, str] = {}
        with _open_text(self.paths[0]) as fh:
            for row in csv.DictReader(fh):
                code = (row.get("StockCode") or "").strip()
                description = (row.get("Description") or "").strip()
                if (description and code not in first and (row.get("CustomerID") or "").strip()
                        and _PRODUCT_CODE.match(code)):
                    first[code] = description
        return list(first.values())

    def records(self) -> Iterator[Record]:
        (path,) = self.paths
        heads = head_counts(self._descriptions())
        seen_items: set[str] = set()
        occurrences: Counter[tuple[str, str]] = Counter()
        with _open_text(path) as fh:
            reader = csv.DictReader(fh)
            for row in reader:
                lineno = reader.line_num
                invoice = (row.get("InvoiceNo") or "").strip()
                code = (row.get("StockCode") or "").strip()
                customer = (row.get("CustomerID") or "").strip()
                if not customer:
                    self.skipped["no_customer_id"] += 1
                    continue
                if not _PRODUCT_CODE.match(code):
                    self.skipped["non_product"] += 1
                    continue
                try:
                    quantity = float(row["Quantity"])
                    price = float(row["UnitPrice"])
                except (KeyError, TypeError, ValueError):
                    yield RecordError(lineno, "Quantity", "Quantity and UnitPrice must be numbers")
                    continue
                if quantity == 0:
                    self.skipped["zero_quantity"] += 1
                    continue
                description = (row.get("Description") or "").strip()
                if code not in seen_items and description:
                    seen_items.add(code)
                    category = product_type(description, heads)
                    yield ItemRecord(
                        code,
                        title=description.capitalize(),
                        price=price if price > 0 else None,
                        categories=(category,) if category else (),
                    )
                is_return = invoice.startswith("C") or quantity < 0
                occurrences[(invoice, code)] += 1
                # Invoice and stock code repeat on a few invoices: the occurrence number keeps
                # the id unique and stable across re-reads of the same file.
                raw = {
                    "event_id": f"or:{invoice}:{code}:{occurrences[(invoice, code)]}",
                    "user_id": customer.removesuffix(".0"),
                    "item_id": code,
                    "type": "return" if is_return else "purchase",
                    "timestamp": row.get("InvoiceDate"),
                    "quantity": abs(quantity),
                    "price": abs(price),
                }
                try:
                    yield parse_event(raw)
                except ValueError as exc:
                    field_names = {"timestamp": "InvoiceDate", "user_id": "CustomerID"}
                    yield RecordError(lineno, field_names.get(exc.args[0], exc.args[0]), exc.args[1])


class MovieLensReader(DatasetReader):
    """MovieLens-100K: ratings as ``rating`` events (score kept), titles and genres as item text."""

    def records(self) -> Iterator[Record]:
        folder = self.paths[0]
        with _open_text(folder / "u.genre.gz", "latin-1") as fh:
            genres = [line.split("|")[0] for line in fh if line.strip()]
        with _open_text(folder / "u.item.gz", "latin-1") as fh:
            for line in fh:
                cols = line.rstrip("\r\n").split("|")
                if len(cols) < 5 + len(genres):
                    continue
                flags = cols[5 : 5 + len(genres)]
                item_genres = tuple(g for g, f in zip(genres, flags) if f == "1" and g != "unknown")
                released = cols[2].strip()
                yield ItemRecord(
                    cols[0],
                    title=cols[1].strip(),
                    description=f"Released {released}." if released else "",
                    categories=item_genres,
                )
        with _open_text(folder / "u.data.gz") as fh:
            for lineno, line in enumerate(fh, start=1):
                parts = line.split("\t")
                if len(parts) != 4:
                    yield RecordError(lineno, "line", "expected 4 tab-separated fields")
                    continue
                user, item, rating, stamp = (p.strip() for p in parts)
                raw = {
                    "event_id": f"ml:{user}:{item}",
                    "user_id": user,
                    "item_id": item,
                    "type": "rating",
                    "timestamp": stamp,
                    "rating": rating,
                }
                try:
                    yield parse_event(raw)
                except ValueError as exc:
                    yield RecordError(lineno, exc.args[0], exc.args[1])


class AmazonMagazineReader(DatasetReader):
    """Amazon Magazine Subscriptions 5-core reviews with item text from the metadata file."""

    def records(self) -> Iterator[Record]:
        folder = self.paths[0]
        reviewed: set[str] = set()
        with _open_text(folder / "Magazine_Subscriptions_5.json.gz") as fh:
            reviews = [json.loads(line) for line in fh if line.strip()]
        reviewed = {r.get("asin") for r in reviews}
        seen: set[str] = set()
        with _open_text(folder / "meta_Magazine_Subscriptions.json.gz") as fh:
            for line in fh:
                meta = json.loads(line)
                asin = meta.get("asin")
                if asin not in reviewed or asin in seen:
                    continue
                seen.add(asin)
                description = " ".join(meta.get("description") or [])
                cats = [c.replace("&amp;", "&") for c in meta.get("category") or []]
                brand = (meta.get("brand") or "").strip()
                yield ItemRecord(
                    asin,
                    title=brand,
                    description=html.unescape(re.sub(r"<[^>]+>", " ", description))[:2000],
                    categories=tuple(c for c in cats if c and c != "Magazine Subscriptions")[:3],
                )
        for lineno, review in enumerate(reviews, start=1):
            text = " ".join(t for t in (review.get("summary"), review.get("reviewText")) if t)
            raw = {
                "event_id": f"amz:{review.get('reviewerID')}:{review.get('asin')}:"
                f"{review.get('unixReviewTime')}",
                "user_id": review.get("reviewerID"),
                "item_id": review.get("asin"),
                "type": "review",
                "timestamp": review.get("unixReviewTime"),
                "rating": review.get("overall"),
                "text": text or None,
            }
            try:
                yield parse_event(raw)
            except ValueError as exc:
                yield RecordError(lineno, exc.args[0], exc.args[1])


def open_dataset(name_or_path: str | Path, datasets_dir: Path | None = None) -> DatasetReader:
    """A reader for a dataset name (``online-retail``, ``ml-100k``, ``amazon-magazine``) or a path.

    Raises:
        DatasetError: unknown name, missing files or an unsupported file type.
    """
    name = str(name_or_path)
    if name in DATASET_NAMES:
        source = PUBLIC_DATASETS[name]
        folder_missing = datasets_dir is None or not datasets_dir.is_dir()
        datasets_dir = Path(datasets_dir or DEFAULT_DATASETS_DIR).resolve()
        if folder_missing:
            raise DatasetError(
                f"dataset {name!r}: the datasets folder {datasets_dir} does not exist. Set "
                "INTERESTGRAPH_DATASETS_DIR to the folder holding the public datasets, or create "
                f"it with these files:\n{how_to_get(datasets_dir)}")
        if missing := source.missing(datasets_dir):
            raise DatasetError(
                f"dataset {name!r}: missing {', '.join(str(p) for p in missing)}. To get it:\n"
                f"{how_to_get(datasets_dir, [name])}")
        if name == "online-retail":
            return OnlineRetailReader(name, tuple(source.paths(datasets_dir)))
        if name == "gowalla":
            return SplitReader(name, tuple(source.paths(datasets_dir)))
        reader = MovieLensReader if name == "ml-100k" else AmazonMagazineReader
        return reader(name, (datasets_dir / source.folder,))
    path = Path(name_or_path)
    if path.is_dir():
        if is_split_folder(path):
            files = (find_split_file(path, "train"), find_split_file(path, "test"))
            return SplitReader(path.name, tuple(f for f in files if f is not None))
        events = _find(path, "events")
        if events is None:
            raise DatasetError(f"{path} holds no events.csv / events.jsonl, nor a train.txt and "
                               "test.txt split")
        return GenericReader(events, _find(path, "items"))
    if not path.exists():
        raise DatasetError(
            f"{name!r} is neither a dataset name ({', '.join(DATASET_NAMES)}) nor an existing path"
        )
    if not (_is_json_lines(path) or path.name.removesuffix(".gz").endswith(".csv")):
        raise DatasetError(f"{path}: unsupported file type (use .csv, .jsonl, optionally .gz)")
    sibling = _find(path.parent, "items")
    return GenericReader(path, sibling if sibling != path else None)


@dataclass
class LoadedDataset:
    """A whole dataset in memory, for evaluation and benchmarks.

    ``test``: a fixed split's test events (``events`` is then its training part); ``None`` for a
    dataset without one (the evaluation makes a temporal split).
    """

    name: str
    events: list[Event]
    items: dict[str, ItemRecord]
    errors: list[RecordError]
    skipped: Counter[str]
    test: list[Event] | None = None


def read_dataset(name_or_path: str | Path, datasets_dir: Path | None = None) -> LoadedDataset:
    """Read a whole dataset into memory (events in file order, items by id)."""
    reader = open_dataset(name_or_path, datasets_dir)
    reader.with_test = True
    events: list[Event] = []
    test: list[Event] = []
    items: dict[str, ItemRecord] = {}
    errors: list[RecordError] = []
    for record in reader.records():
        if isinstance(record, Event):
            events.append(record)
        elif isinstance(record, HeldOut):
            test.append(record.event)
        elif isinstance(record, ItemRecord):
            items[record.item_id] = record
        else:
            errors.append(record)
    split = test or isinstance(reader, SplitReader)
    return LoadedDataset(reader.name, events, items, errors, reader.skipped,
                         test if split else None)

