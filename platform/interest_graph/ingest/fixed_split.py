"""Datasets published as a fixed train/test split.

Research benchmarks fix the split so that every paper scores the same held-out pairs: the
LightGCN/NGCF format (a folder with ``train.txt`` and ``test.txt``, optionally ``.gz``, one line
per user: ``user item item …``, integer ids separated by spaces) and the generic event format
with a ``split`` column (``train`` or ``test``; empty means ``train``).

Loading such a dataset into the store (``interestgraph load``) takes its training part: test rows
are counted in the reader's ``skipped`` and left out. The evaluation
(:func:`~interest_graph.ingest.datasets.read_dataset`) asks for the test part too, as
:class:`HeldOut` records, and scores against it instead of making a temporal split.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .records import Event, RecordError

#: The time given to every pair of a split published without timestamps (2020-01-01 UTC): every
#: first interaction ties, and the validation carve samples them (see the workers' ``splits``).
SPLIT_TS = 1_577_836_800.0
#: Pairs of a split without behaviour types are consumed items (the published protocol never
#: recommends a user's training items again).
SPLIT_TYPE = "purchase"
SPLITS = ("train", "test")


@dataclass(frozen=True, slots=True)
class HeldOut:
    """An event of a dataset's test split (yielded only when the reader is asked for them)."""

    event: Event


def find_split_file(folder: Path, stem: str) -> Path | None:
    for name in (f"{stem}.txt", f"{stem}.txt.gz"):
        if (folder / name).is_file():
            return folder / name
    return None


def is_split_folder(folder: Path) -> bool:
    """Whether ``folder`` holds a LightGCN-format split (``train.txt`` and ``test.txt``)."""
    return all(find_split_file(folder, s) is not None for s in SPLITS)


def split_of(raw: dict[str, object], lineno: int) -> str | RecordError:
    """The ``split`` column of a generic row (``train`` when absent or empty)."""
    value = raw.pop("split", None)
    text = "" if value is None else str(value).strip().lower()
    if text in ("", "train"):
        return "train"
    if text == "test":
        return "test"
    return RecordError(lineno, "split", f"must be 'train' or 'test', got {str(value)[:40]!r}")


def pair_lines(lines: Iterator[str], split: str) -> Iterator[Event | RecordError]:
    """The events of one LightGCN-format file: a ``purchase`` per (user, item), all at
    :data:`SPLIT_TS`; a line with a non-integer id is one error naming it."""
    for lineno, line in enumerate(lines, start=1):
        parts = line.split()
        if not parts:
            continue
        bad = next((p for p in parts if not p.isdigit()), None)
        if bad is not None:
            field = "user_id" if bad == parts[0] else "item_id"
            yield RecordError(lineno, field, f"{split} file: ids must be non-negative integers, "
                                             f"got {bad[:40]!r}")
            continue
        user = parts[0]
        for item in dict.fromkeys(parts[1:]):
            yield Event(f"{split}:{user}:{item}", user, item, SPLIT_TYPE, SPLIT_TS)
