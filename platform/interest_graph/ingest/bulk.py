"""The first load of a shop's history into an empty Neo4j, through Neo4j's bulk importer.

``interestgraph load --bulk SOURCE`` builds the graph an ordinary load would build from the same
records, with the same code (:meth:`Ingestor.prepare` pseudonymises, :func:`aggregate_batch`
folds every distinct event into one row per user and one edge per (user, item) pair; the fold is
order-independent, so one pass over all events equals any sequence of batches), writes it as the
CSV files of ``neo4j-admin database import full`` and runs the import:

* ``Event`` nodes (the hashed event ids: replays after the import still count once), ``User``,
  ``Item`` (from the item records, and bare for items only events name) and ``Category`` nodes;
* ``INTERACTED`` edges with every property of ``ingest/neo4j/apply_events``, ``IN_CATEGORY`` edges.

The importer needs the database offline, which no Bolt client can arrange, so the import itself is
the ``neo4j_import_command`` setting (``INTERESTGRAPH_NEO4J_IMPORT_COMMAND``): a command that is
given the arguments file last and must run ``neo4j-admin database import full @FILE
--overwrite-destination=true <database>`` with the database stopped, then bring it back with the
same address and credentials. For the development server that is ``tools/neo4j-test-server/
neo4j-server import --state DIR``. Before writing anything the database must be empty (the import
replaces it): a database holding any node is refused, named. After the import the schema is
created and list properties the CSV format cannot express empty are set.
"""

from __future__ import annotations

import logging
import shlex
import subprocess
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..errors import ConfigError, Conflict, GraphUnavailable, InterestGraphError
from ..graph import open_store
from ..graph.driver import Neo4jStore
from ..graph.ingest import IngestRepository
from ..privacy import Pseudonymiser, text_hash
from ..recipe import EdgeRecipe
from ..settings import Settings
from .datasets import open_dataset
from .ingestor import IngestSummary, PreparedEvent, aggregate_batch, prepare_event
from .loading import LoadResult
from .records import EVENT_TYPES, Event, ItemRecord, RecordError

log = logging.getLogger(__name__)

#: Seconds to wait for the database to answer again after the import.
RECONNECT_TIMEOUT_S = 300.0

USER_COLUMNS = (("id", "ID(User)"), ("first_ts", "double"), ("last_ts", "double"),
                ("events", "long"), ("created_at", "double"), ("purchase_days", "long[]"),
                ("revenue", "double"), ("text", "string"), ("updated_at", "double"))
ITEM_COLUMNS = (("id", "ID(Item)"), ("title", "string"), ("description", "string"),
                ("price", "double"), ("text_hash", "string"), ("created_at", "double"),
                ("updated_at", "double"), ("text_updated_at", "double"))
EDGE_COLUMNS = ((":START_ID", "User"), (":END_ID", "Item"), ("first_ts", "double"),
                ("last_ts", "double"), ("weight", "double"),
                *((f"n_{t}", "long") for t in EVENT_TYPES),
                ("quantity", "double"), ("revenue", "double"), ("rating", "double"),
                ("rating_ts", "double"), ("review", "string"))


class BulkImportError(InterestGraphError):
    """The bulk import could not run or did not finish (the message says what to do)."""


def _field(value: Any) -> str:
    """One CSV field as the importer reads it: null is an empty field (no property), strings are
    always quoted (so an empty string stays one), lists use the importer's ``;``."""
    if value is None:
        return ""
    if isinstance(value, str):
        return '"' + value.replace('"', '""') + '"'
    if isinstance(value, (list, tuple)):
        return ";".join(_field(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value)


class _CsvFile:
    def __init__(self, path: Path, header: Iterable[str]) -> None:
        self.path = path
        self.fh = path.open("w", encoding="utf-8", newline="")
        self.fh.write(",".join(header) + "\n")
        self.rows = 0

    def write(self, values: Iterable[Any]) -> None:
        self.fh.write(",".join(_field(v) for v in values) + "\n")
        self.rows += 1

    def close(self) -> None:
        self.fh.close()


def _header(columns: Iterable[tuple[str, str]]) -> list[str]:
    """``name:type`` per column; ``:START_ID``/``:END_ID`` take their node's ID space."""
    return [f"{name}({kind})" if name.startswith(":") else f"{name}:{kind}"
            for name, kind in columns]


def _node_count(settings: Settings) -> int:
    store = open_store(settings)
    try:
        return int(store.read("admin/count_nodes")[0]["nodes"])
    finally:
        store.close()


def _require_empty(settings: Settings) -> None:
    target = settings.target()
    nodes = _node_count(settings)
    if nodes:
        raise Conflict(
            f"database {target.database!r} at {target.uri} is not empty ({nodes:,} nodes): "
            "--bulk imports a first load into an empty database only (it replaces the "
            "database); load more events without --bulk, or clear it with 'interestgraph reset'")


def write_import_files(settings: Settings, records: Iterable[Any], folder: Path,
                       now: float) -> tuple[Path, IngestSummary, dict[str, int]]:
    """Write the import CSVs and the ``neo4j-admin`` arguments file into ``folder``; the file's
    path, the read summary (events applied = distinct events) and rows per file."""
    pseudonymiser = Pseudonymiser(settings.resolved_secret(), enabled=settings.pseudonymise)
    recipe = EdgeRecipe.from_settings(settings)
    summary = IngestSummary()
    unique: dict[str, PreparedEvent] = {}
    items: dict[str, ItemRecord] = {}
    for record in records:
        if isinstance(record, Event):
            summary.events_read += 1
            ev = prepare_event(pseudonymiser, record)
            if ev.hid in unique:
                summary.duplicates += 1
            else:
                unique[ev.hid] = ev
        elif isinstance(record, ItemRecord):
            items[record.item_id] = record
        elif isinstance(record, RecordError):
            summary.add_error(record)
    users = aggregate_batch(list(unique.values()), recipe)
    summary.events_applied = len(unique)

    folder.mkdir(parents=True, exist_ok=True)
    files = {name: _CsvFile(folder / f"{name}.csv", _header(cols)) for name, cols in (
        ("users", USER_COLUMNS), ("items", ITEM_COLUMNS), ("interacted", EDGE_COLUMNS))}
    files["events"] = _CsvFile(folder / "events.csv", ["id:ID(Event)"])
    files["categories"] = _CsvFile(folder / "categories.csv", ["name:ID(Category)"])
    files["in_category"] = _CsvFile(folder / "in_category.csv",
                                    [":START_ID(Item)", ":END_ID(Category)"])
    try:
        for hid in unique:
            files["events"].write([hid])
        del unique
        bare: set[str] = set()
        for u in users:
            text = u.get("text")
            files["users"].write([u["id"], u["first_ts"], u["last_ts"], u["events"], now,
                                  u["days"], u["revenue"], text[:2000] if text else text, now])
            for p in u["pairs"]:
                counts = p["counts"]
                files["interacted"].write([
                    u["id"], p["item"], p["first_ts"], p["last_ts"], p["weight"], *counts,
                    p["quantity"], p["revenue"], p.get("rating"), p.get("rating_ts"),
                    p.get("review")])
                if p["item"] not in items:
                    bare.add(p["item"])
        categories: set[str] = set()
        for item in items.values():
            files["items"].write([item.item_id, item.title, item.description, item.price,
                                  text_hash(item.text), now, now, now])
            for name in dict.fromkeys(item.categories):
                categories.add(name)
                files["in_category"].write([item.item_id, name])
        for item_id in sorted(bare):
            files["items"].write([item_id, None, None, None, None, now, now, None])
        for name in sorted(categories):
            files["categories"].write([name])
    finally:
        for f in files.values():
            f.close()
    args = [f"--nodes=Event={files['events'].path}", f"--nodes=User={files['users'].path}",
            f"--nodes=Item={files['items'].path}",
            f"--nodes=Category={files['categories'].path}",
            f"--relationships=INTERACTED={files['interacted'].path}",
            f"--relationships=IN_CATEGORY={files['in_category'].path}",
            "--multiline-fields=true", "--array-delimiter=;", "--id-type=string",
            "--bad-tolerance=0", "--skip-duplicate-nodes=false",
            f"--report-file={folder / 'import.report'}"]
    args_file = folder / "import.args"
    args_file.write_text("".join('"' + a.replace("\\", "\\\\").replace('"', '\\"') + '"\n'
                                 for a in args), encoding="utf-8")
    return args_file, summary, {name: f.rows for name, f in files.items()}


def _wait_until_answering(settings: Settings) -> None:
    deadline = time.monotonic() + RECONNECT_TIMEOUT_S
    while True:
        try:
            _node_count(settings)
            return
        except GraphUnavailable:
            if time.monotonic() > deadline:
                raise BulkImportError(
                    f"the database did not answer within {RECONNECT_TIMEOUT_S:.0f}s after the "
                    "import: the import command must bring it back with the same address and "
                    "credentials") from None
            time.sleep(1.0)


def load_bulk(settings: Settings, source: str, *, import_command: str | None = None,
              work_dir: Path | None = None, keep_files: bool = False) -> LoadResult:
    """Bulk-import ``source`` (a dataset name or path) into the configured, empty Neo4j."""
    target = settings.target()
    if target.backend != "neo4j":
        raise ConfigError("--bulk imports into Neo4j: set INTERESTGRAPH_GRAPH_URI to its bolt:// "
                          "or neo4j:// address (an ordinary load is the fast path for the "
                          "embedded store)")
    command = import_command or settings.neo4j_import_command
    if not command:
        raise ConfigError(
            "--bulk needs the command that runs neo4j-admin's import with the database offline: "
            "set INTERESTGRAPH_NEO4J_IMPORT_COMMAND or pass --import-command (for the "
            "development server: 'tools/neo4j-test-server/neo4j-server import --state DIR')")
    reader = open_dataset(source, settings.datasets_dir)
    _require_empty(settings)
    started = time.perf_counter()
    parent = work_dir or settings.data_dir
    parent.mkdir(parents=True, exist_ok=True)
    tmp = None if keep_files else tempfile.TemporaryDirectory(prefix="bulk-import-", dir=parent)
    folder = Path(tmp.name) if tmp is not None else parent / f"bulk-import-{int(time.time())}"
    try:
        args_file, summary, rows = write_import_files(settings, reader.records(), folder,
                                                      now=time.time())
        summary.skipped.update(reader.skipped)
        stages = {"files": time.perf_counter() - started}
        log.info("import files written in %.1fs: %s", stages["files"], rows)
        _require_empty(settings)  # nobody wrote while the files were being written
        argv = [*shlex.split(command), str(args_file)]
        try:
            done = subprocess.run(argv, capture_output=True, text=True)
        except OSError as exc:
            raise BulkImportError(f"the import command could not start: {exc}") from None
        if done.returncode != 0:
            raise BulkImportError(f"the import command failed (exit {done.returncode}):\n"
                                  f"{done.stderr.strip()[-3000:]}")
        _wait_until_answering(settings)
        stages["import"] = time.perf_counter() - started - stages["files"]
        store = open_store(settings)
        try:
            assert isinstance(store, Neo4jStore)
            store.init_schema()
            store.run_batched("admin/bulk_finish")
            counts = IngestRepository(store).counts()
        finally:
            store.close()
    finally:
        if tmp is not None:
            tmp.cleanup()
    summary.batches = 1
    summary.elapsed_s = time.perf_counter() - started
    stages["finish"] = summary.elapsed_s - stages["files"] - stages["import"]
    return LoadResult(reader.name, summary, counts, stages)
