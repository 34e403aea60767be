"""Audience exports as CSV or JSON lines, produced row by row so that large audiences stream.

Columns: ``user`` (the graph id: the keyed hash of the shop's id — the raw id is never stored),
``arm``, the member's top ``items`` and the ``reasons`` they are recommended, and ``shop_id`` when
the caller supplies the mapping (:func:`shop_id_mapping`: the shop's own ids, hashed here with the
platform secret to find which member each one is; nothing of it is stored).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator, Mapping

from ..graph.audiences import ExportRow
from ..privacy import Pseudonymiser

FORMATS = {"csv": "text/csv", "jsonl": "application/x-ndjson"}
#: Characters some readers split lines on that JSON leaves raw (with ``ensure_ascii=False``):
#: escaped, so a JSON-lines row stays one line for every reader.
LINE_BREAKS = {0x85: "\\u0085", 0x2028: "\\u2028", 0x2029: "\\u2029"}


def shop_id_mapping(raw_ids: Iterable[str], pseudonymiser: Pseudonymiser) -> dict[str, str]:
    """Graph id → shop id for the shop's ids given (blank lines skipped)."""
    out: dict[str, str] = {}
    for raw in raw_ids:
        raw = raw.strip()
        if raw:
            out[pseudonymiser.user(raw)] = raw
    return out


def export_lines(rows: Iterable[ExportRow], fmt: str,
                 shop_ids: Mapping[str, str] | None = None) -> Iterator[str]:
    """The export as text chunks (a header first for CSV), one per member.

    Raises:
        ValueError: an unknown format.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; valid: {', '.join(FORMATS)}")
    if fmt == "jsonl":
        for row in rows:
            doc: dict[str, object] = {"user": row.user, "arm": row.arm}
            if shop_ids is not None:
                doc["shop_id"] = shop_ids.get(row.user)
            doc["interests"] = [{"item": item, "reason": reason} for item, reason in row.interests]
            yield json.dumps(doc, ensure_ascii=False).translate(LINE_BREAKS) + "\n"
        return
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")

    def line(values: list[str]) -> str:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(values)
        return buffer.getvalue()

    header = ["user", "arm", *(["shop_id"] if shop_ids is not None else []), "items", "reasons"]
    yield line(header)
    for row in rows:
        shop = [shop_ids.get(row.user, "")] if shop_ids is not None else []
        yield line([row.user, row.arm, *shop, " | ".join(item for item, _ in row.interests),
                    " | ".join(reason for _, reason in row.interests)])
