"""Scale data: UCI Online Retail grown N times in the generic event format, with its shape kept.

``interestgraph synth --factor N --seed S OUT`` writes ``events.csv.gz`` and ``items.csv.gz`` (what
``interestgraph load OUT`` reads) and ``synth.json`` (the parameters, the counts, and the shape side
by side with Online Retail).

How the copies are made:

* Users and items are copied N times. Copy 0 keeps the real id (``12346``, ``85123A``); copy
  ``c > 0`` appends ``-c``. Item copy 0 keeps the real description; copy ``k > 0`` gets a variant
  that recombines real description words of the same product type (colours with colours, sizes
  with sizes) and keeps the head noun, so categories stay meaningful and the text model has N times
  the texts to encode.
* Each real event of user ``u`` on item ``i`` appears once for every user copy ``c``, on item copy
  ``(c + s) mod N``, where the shift ``s`` belongs to the (user, item) pair: 0 for a share
  ``1 - mix`` of the pairs (a user mostly shops in its own copy of the shop, so baskets keep their
  co-purchases) and uniform over the other copies for the rest. ``c -> (c + s) mod N`` is a
  bijection, so every item copy gets exactly the events of its real item and every user copy those
  of its real user: popularity, activity, items per user, basket sizes, returns and time span are
  kept, while the shifted pairs tie the copies into one graph. With ``mix = 0`` the copies would be
  N disjoint islands; :func:`structure_stats` measures which it is.

Output is streamed in chunks of real events (all copies of an event written together, so the file
stays in time order); memory is a few arrays of the synthetic size, not Python objects per event.
"""

from __future__ import annotations

import csv
import gzip
import io
import itertools
import json
import os
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DatasetError
from .datasets import open_dataset
from .product_types import head_counts, product_type
from .records import Event, ItemRecord

EVENTS_FILE = "events.csv.gz"
ITEMS_FILE = "items.csv.gz"
MANIFEST_FILE = "synth.json"
FORMAT = 1
TOLERANCE = 0.10
_CHUNK = 20000  # real events per write chunk (times the factor in rows)
_SAFE_ID = re.compile(r"^[A-Za-z0-9:._]+$")
_COPY_SEP = "-"
_PURE_WORD = re.compile(r"^[A-Z][A-Z'\-]+$")
_COLOURS = frozenset("""RED PINK BLUE GREEN WHITE BLACK IVORY CREAM YELLOW PURPLE ORANGE SILVER GOLD
    GREY BROWN TURQUOISE LILAC AMETHYST AQUA NATURAL CHOCOLATE TEAL LAVENDER""".split())
_SIZES = frozenset("SMALL LARGE MINI JUMBO MEDIUM GIANT TINY BIG".split())
_FUNCTION_WORDS = frozenset("OF WITH AND IN THE FOR TO ON IN W/ SET PACK BOX".split())


@dataclass
class RetailBase:
    """Online Retail as arrays: one row per event, users and items as integer codes."""

    user_ids: list[str]
    item_ids: list[str]
    items: list[ItemRecord | None]  # by item code; None: the dataset gave no description
    user: np.ndarray  # (E,) int32
    item: np.ndarray  # (E,) int32
    is_return: np.ndarray  # (E,) bool
    ts: np.ndarray  # (E,) int64 seconds
    event_ids: list[str]
    tails: list[str]  # (E,) "type,timestamp,quantity,price" as written

    @property
    def num_events(self) -> int:
        return len(self.user)


def _number(value: float | None) -> str:
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def read_online_retail(datasets_dir: Path | None, limit: int | None = None) -> RetailBase:
    """Online Retail through its platform reader (``limit``: only its first records).

    Raises:
        DatasetError: the dataset is missing, or it holds no events.
    """
    reader = open_dataset("online-retail", datasets_dir)
    users: dict[str, int] = {}
    items: dict[str, int] = {}
    records: dict[str, ItemRecord] = {}
    user, item, is_return, ts = [], [], [], []
    event_ids: list[str] = []
    tails: list[str] = []
    for record in itertools.islice(reader.records(), limit):
        if isinstance(record, ItemRecord):
            records[record.item_id] = record
        elif isinstance(record, Event) and record.item_id is not None:
            for raw in (record.user_id, record.item_id, record.event_id):
                if not _SAFE_ID.match(raw):
                    raise DatasetError(f"unexpected characters in id {raw!r}")
            user.append(users.setdefault(record.user_id, len(users)))
            item.append(items.setdefault(record.item_id, len(items)))
            is_return.append(record.type == "return")
            stamp = int(record.ts)
            ts.append(stamp)
            event_ids.append(record.event_id)
            tails.append(f"{record.type},{stamp},{_number(record.quantity)},{_number(record.price)}")
    if not user:
        raise DatasetError("Online Retail gave no events to grow")
    return RetailBase(
        list(users), list(items), [records.get(i) for i in items],
        np.asarray(user, np.int32), np.asarray(item, np.int32), np.asarray(is_return, bool),
        np.asarray(ts, np.int64), event_ids, tails,
    )


# -- shape and structure ------------------------------------------------------------------------


def _quantiles(counts: np.ndarray, prefix: str, qs: Sequence[int]) -> dict[str, float]:
    out = {f"{prefix}_mean": float(counts.mean())}
    for q in qs:
        out[f"{prefix}_p{q}"] = float(np.percentile(counts, q))
    return out


def _run_lengths(keys: np.ndarray) -> np.ndarray:
    """Sizes of the groups of equal keys (sorts ``keys`` in place)."""
    keys.sort()
    bounds = np.flatnonzero(np.diff(keys)) + 1
    return np.diff(np.concatenate([[0], bounds, [len(keys)]]))


def shape_stats(user: np.ndarray, item: np.ndarray, ts: np.ndarray,
                is_return: np.ndarray) -> dict[str, float]:
    """The shape of an event log given as arrays of codes (one entry per event).

    Baskets are the events of one user at one timestamp (an invoice in Online Retail). Works on
    a few int64 arrays of the log's length at a time.
    """
    per_user = np.bincount(user)
    per_user = per_user[per_user > 0]
    per_item = np.bincount(item)
    per_item = np.sort(per_item[per_item > 0])[::-1]
    n_items = int(item.max()) + 1
    pairs = user.astype(np.int64) * n_items + item
    pairs.sort()
    pairs = pairs[np.concatenate([[True], np.diff(pairs) != 0])]
    items_per_user = _run_lengths(pairs // n_items)
    first = int(ts.min())
    basket = _run_lengths(user.astype(np.int64) * (int(ts.max()) - first + 1) + (ts - first))
    top = max(1, len(per_item) // 10)
    stats: dict[str, float] = {
        "users": float(len(per_user)), "items": float(len(per_item)), "events": float(len(user)),
        "edges": float(len(pairs)),
    }
    stats.update(_quantiles(per_user, "events_per_user", (50, 90, 99)))
    stats.update(_quantiles(per_item, "events_per_item", (50, 90, 99)))
    stats["top_decile_items_share"] = float(per_item[:top].sum() / per_item.sum())
    stats.update(_quantiles(items_per_user, "items_per_user", (50, 90)))
    stats.update(_quantiles(basket, "basket_size", (50, 90)))
    stats["returns_share"] = float(np.mean(is_return))
    stats["time_span_days"] = float((int(ts.max()) - first) / 86400.0)
    return stats


#: Statistics that grow with the factor (compared per copy); the others are compared as they are.
COUNTS = ("users", "items", "events", "edges")


def compare_shapes(real: dict[str, float], synthetic: dict[str, float], factor: int
                   ) -> dict[str, dict[str, float | bool]]:
    """Per statistic: the real value, the synthetic one, their ratio (counts per copy), within 10%."""
    out: dict[str, dict[str, float | bool]] = {}
    for key, value in real.items():
        syn = synthetic[key]
        ratio = (syn / factor if key in COUNTS else syn) / value if value else float(syn == value)
        out[key] = {"real": value, "synthetic": syn, "ratio": round(ratio, 4),
                    "ok": abs(ratio - 1.0) <= TOLERANCE}
    return out


def _components(src: np.ndarray, dst: np.ndarray) -> tuple[int, float]:
    """Connected components of a bipartite edge list: (count, largest share of the nodes)."""
    n_src = int(src.max()) + 1
    a = src.astype(np.int64)
    b = dst.astype(np.int64) + n_src
    label = np.arange(n_src + int(dst.max()) + 1)
    while True:  # min-label propagation with pointer jumping: labels only shrink
        low = np.minimum(label[a], label[b])
        new = label.copy()
        np.minimum.at(new, a, low)
        np.minimum.at(new, b, low)
        new = new[new]
        if np.array_equal(new, label):
            break
        label = new
    used = np.zeros(len(label), bool)
    used[a] = used[b] = True
    _, sizes = np.unique(label[used], return_counts=True)
    return len(sizes), float(sizes.max() / used.sum())


def _two_hop(user: int, u_ptr: np.ndarray, u_items: np.ndarray, i_ptr: np.ndarray,
             i_users: np.ndarray) -> np.ndarray:
    items = u_items[u_ptr[user] : u_ptr[user + 1]]
    if len(items) == 0:
        return np.zeros(0, np.int64)
    reached: np.ndarray = np.unique(np.concatenate([i_users[i_ptr[i] : i_ptr[i + 1]] for i in items]))
    kept: np.ndarray = reached[reached != user]
    return kept


def _jaccard(a: np.ndarray, b: np.ndarray) -> float:
    union = len(np.union1d(a, b))
    return len(np.intersect1d(a, b, assume_unique=True)) / union if union else 0.0


def structure_stats(user: np.ndarray, item: np.ndarray, factor: int, *, sample: int = 200,
                    seed: int = 0) -> dict[str, float | int | None]:
    """Whether the copies form one graph, from the distinct (user, item) edges.

    ``user`` codes are ``real * factor + copy``. Returns the number of connected components and
    the largest one's share of the nodes, and for ``sample`` users: ``cross_copy_2hop_share``, the
    share of the users they reach through a shared item that are other copies (0 for islands),
    and the mean Jaccard of the 2-hop user sets of two copies ``a``, ``b`` of one user
    (``copy_2hop_jaccard``) beside that of copy ``a`` of the user and copy ``b`` of an unrelated
    user (``random_2hop_jaccard``; with one copy, two unrelated users).
    """
    user = np.asarray(user, np.int32)
    item = np.asarray(item, np.int32)
    count, largest = _components(user, item)
    out: dict[str, float | int | None] = {"components": count, "largest_component_share": largest,
                                          "cross_copy_2hop_share": None, "copy_2hop_jaccard": None,
                                          "random_2hop_jaccard": None}
    n_users, n_items = int(user.max()) + 1, int(item.max()) + 1
    order = np.argsort(user, kind="stable")
    u_items, u_ptr = item[order], np.concatenate([[0], np.cumsum(np.bincount(user, minlength=n_users))])
    order = np.argsort(item, kind="stable")
    i_users, i_ptr = user[order], np.concatenate([[0], np.cumsum(np.bincount(item, minlength=n_items))])

    def hop(real: int, copy: int) -> np.ndarray:
        return _two_hop(real * factor + copy, u_ptr, u_items, i_ptr, i_users)

    rng = np.random.default_rng(seed)
    real_users = n_users // factor
    cross, copies, unrelated = [], [], []
    for real in rng.choice(real_users, size=min(sample, real_users), replace=False).tolist():
        a, b = (int(c) for c in rng.choice(factor, size=2, replace=factor < 2))
        other = (real + 1 + int(rng.integers(max(real_users - 1, 1)))) % real_users
        hop_a, hop_b = hop(real, a), hop(real, b)
        unrelated.append(_jaccard(hop_a, hop(other, b)))
        if factor > 1:
            copies.append(_jaccard(hop_a, hop_b))
            if len(hop_a):
                cross.append(float(np.mean(hop_a % factor != a)))
    out["random_2hop_jaccard"] = float(np.mean(unrelated))
    if factor > 1:
        out.update(cross_copy_2hop_share=float(np.mean(cross)) if cross else 0.0,
                   copy_2hop_jaccard=float(np.mean(copies)))
    return out


# -- item texts ---------------------------------------------------------------------------------


class _Variants:
    """Item text variants from the real descriptions' words, unique across the catalogue."""

    def __init__(self, descriptions: Sequence[str], rng: np.random.Generator) -> None:
        self.rng = rng
        self.seen = set(descriptions)
        # The catalogue's product nouns, as the dataset reader finds them (WRAP COWBOYS: a WRAP).
        self.heads = head_counts(descriptions)
        pools: dict[str, set[str]] = {}
        every: set[str] = set()
        colours: set[str] = set()
        sizes: set[str] = set()
        for text in descriptions:
            tokens, head = self._split(text)
            kind = product_type(text, self.heads) or ""
            for token in tokens[:head]:
                if _PURE_WORD.match(token) and token not in _FUNCTION_WORDS:
                    (colours if token in _COLOURS else sizes if token in _SIZES else
                     pools.setdefault(kind, set())).add(token)
                    if token not in _COLOURS and token not in _SIZES:
                        every.add(token)
        self.pools = {k: sorted(v) for k, v in pools.items()}
        self.every = sorted(every)
        self.colours = sorted(colours) or sorted(_COLOURS)
        self.sizes = sorted(sizes) or sorted(_SIZES)

    @staticmethod
    def _split(text: str) -> tuple[list[str], int]:
        """Tokens and the index of the one holding the product type (the last with a word)."""
        tokens = text.split()
        head = max((n for n, t in enumerate(tokens) if re.search(r"[A-Z][A-Z'\-]+", t)), default=0)
        return tokens, head

    def _pick(self, options: Sequence[str], taken: Sequence[str], current: str) -> str:
        """A random option not among ``taken`` (``current`` if none is left after a few draws)."""
        for _ in range(4):
            choice = str(options[int(self.rng.integers(len(options)))]) if options else current
            if choice not in taken:
                return choice
        return current

    def make(self, text: str) -> str:
        """A variant of an (upper-case) description that keeps its product type."""
        tokens, head = self._split(text)
        kind = product_type(text, self.heads) or ""
        pool = self.pools.get(kind, [])
        pool = pool if len(pool) >= 4 else self.every
        for attempt in range(12):
            out = list(tokens)
            slots = [n for n in range(head)
                     if _PURE_WORD.match(tokens[n]) and tokens[n] not in _FUNCTION_WORDS]
            for n in slots:
                if self.rng.random() < 0.5 + attempt * 0.05:
                    options = (self.colours if tokens[n] in _COLOURS else
                               self.sizes if tokens[n] in _SIZES else pool)
                    out[n] = self._pick(options, out, tokens[n])
            if attempt >= 2 or not slots:  # few words to vary: add a modifier in front
                out.insert(0, self._pick([*self.colours, *self.sizes], out, ""))
            variant = " ".join(t for t in out if t)
            if variant not in self.seen and product_type(variant, self.heads) == kind:
                self.seen.add(variant)
                return variant
        variant = f"{text} {len(self.seen)}"  # keeps the head noun: numbers are not words
        self.seen.add(variant)
        return variant


def _item_rows(base: RetailBase, factor: int, rng: np.random.Generator) -> Iterator[list[str]]:
    records = [r for r in base.items if r is not None]
    variants = _Variants([r.title.upper() for r in records], rng)
    for copy in range(factor):
        suffix = f"{_COPY_SEP}{copy}" if copy else ""
        for record in base.items:
            if record is None:
                continue
            if copy == 0:
                title, price = record.title, record.price
            else:
                title = variants.make(record.title.upper()).capitalize()
                # Prices of a product's variants differ a little (log-uniform 0.8-1.25x).
                factor_ = float(np.exp(rng.uniform(np.log(0.8), np.log(1.25))))
                price = None if record.price is None else round(record.price * factor_, 2)
            # A variant keeps its original's product type (``make`` checks it), so it keeps the
            # category the dataset reader gave the original.
            yield [record.item_id + suffix, title, "", _number(price),
                   "|".join(record.categories)]


# -- writing ------------------------------------------------------------------------------------


@contextmanager
def _gzip_writer(path: Path) -> Iterator[gzip.GzipFile]:
    # No name and no time in the header: a seed always gives the same bytes.
    with open(path, "wb") as fh, gzip.GzipFile(filename="", mode="wb", fileobj=fh, mtime=0,
                                                compresslevel=4) as gz:
        yield gz


@dataclass
class SynthReport:
    """What :func:`synthesize` wrote and how its shape compares with Online Retail."""

    out: Path
    factor: int
    seed: int
    mix: float
    limit: int | None
    events: int
    users: int
    items: int
    shape: dict[str, dict[str, float | bool]]
    structure: dict[str, dict[str, float | int | None]] = field(default_factory=dict)

    @property
    def shape_ok(self) -> bool:
        return all(bool(row["ok"]) for row in self.shape.values())

    def as_dict(self) -> dict[str, Any]:
        return {"format": FORMAT, "out": str(self.out), "factor": self.factor, "seed": self.seed,
                "mix": self.mix, "limit": self.limit, "events": self.events, "users": self.users,
                "items": self.items, "shape_ok": self.shape_ok, "shape": self.shape,
                "structure": self.structure}

    def table(self) -> list[str]:
        """The shape side by side (counts per copy in the ratio column) and the structure."""
        lines = [f"{'':26}{'online retail':>15}{'synthetic':>15}{'ratio':>8}"]
        for key, row in self.shape.items():
            ratio = f"{row['ratio']:.3f}" + ("" if row["ok"] else " !")
            lines.append(f"{key:26}{row['real']:>15,.2f}{row['synthetic']:>15,.2f}{ratio:>8}")
        for key in self.structure.get("real", {}):
            real, syn = self.structure["real"][key], self.structure["synthetic"][key]
            lines.append(f"{key:26}{_fmt(real):>15}{_fmt(syn):>15}")
        return lines


def _fmt(value: float | int | None) -> str:
    if value is None:
        return "-"
    return f"{value:,}" if isinstance(value, int) else f"{value:,.3f}"


def synthesize(base: RetailBase, out: Path, factor: int, seed: int = 0, mix: float = 0.25,
               *, limit: int | None = None, structure: bool = True) -> SynthReport:
    """Write Online Retail grown ``factor`` times into ``out`` (see the module docstring).

    Files are written under temporary names and renamed when complete; ``synth.json`` comes last,
    so a folder with a manifest holds complete data.

    Raises:
        ValueError: ``factor`` < 1 or ``mix`` outside [0, 1].
    """
    if factor < 1:
        raise ValueError(f"factor must be at least 1, got {factor}")
    if not 0.0 <= mix <= 1.0:
        raise ValueError(f"mix must be between 0 and 1, got {mix}")
    out.mkdir(parents=True, exist_ok=True)
    (out / MANIFEST_FILE).unlink(missing_ok=True)
    shift_rng, text_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2))
    n_items = len(base.item_ids)
    pair_key = base.user.astype(np.int64) * n_items + base.item
    pairs, pair = np.unique(pair_key, return_inverse=True)
    shifted = shift_rng.random(len(pairs)) < mix
    offsets = shift_rng.integers(1, factor, len(pairs)) if factor > 1 else np.zeros(len(pairs), int)
    shift = np.where(shifted, offsets, 0).astype(np.int64)

    tmp = out / (ITEMS_FILE + ".part")
    with _gzip_writer(tmp) as raw, io.TextIOWrapper(raw, encoding="utf-8", newline="") as text:
        writer = csv.writer(text, lineterminator="\n")
        writer.writerow(["item_id", "title", "description", "price", "categories"])
        writer.writerows(_item_rows(base, factor, text_rng))
    os.replace(tmp, out / ITEMS_FILE)

    n = base.num_events
    syn_user = np.empty(n * factor, np.int32)
    syn_item = np.empty(n * factor, np.int32)
    copy_sfx = [""] + [f"~{c}" for c in range(1, factor)]
    name_sfx = [""] + [f"{_COPY_SEP}{c}" for c in range(1, factor)]
    tmp = out / (EVENTS_FILE + ".part")
    with _gzip_writer(tmp) as raw:
        raw.write(b"event_id,user_id,item_id,type,timestamp,quantity,price\n")
        for start in range(0, n, _CHUNK):
            rows = np.repeat(np.arange(start, min(start + _CHUNK, n)), factor)
            copy = np.tile(np.arange(factor), len(rows) // factor)
            item_copy = (copy + shift[pair[rows]]) % factor
            users, items = base.user[rows], base.item[rows]
            span = slice(start * factor, start * factor + len(rows))
            syn_user[span] = users * factor + copy
            syn_item[span] = items * factor + item_copy
            ids, names, codes, tails = base.event_ids, base.user_ids, base.item_ids, base.tails
            raw.write("".join([
                f"{ids[j]}{copy_sfx[c]},{names[u]}{name_sfx[c]},{codes[i]}{name_sfx[k]},{tails[j]}\n"
                for j, c, u, i, k in zip(rows.tolist(), copy.tolist(), users.tolist(),
                                         items.tolist(), item_copy.tolist())
            ]).encode())
    os.replace(tmp, out / EVENTS_FILE)

    real = shape_stats(base.user, base.item, base.ts, base.is_return)
    synthetic = shape_stats(syn_user, syn_item, np.repeat(base.ts, factor),
                            np.repeat(base.is_return, factor))
    report = SynthReport(out, factor, seed, mix, limit, n * factor, int(synthetic["users"]),
                         int(synthetic["items"]), compare_shapes(real, synthetic, factor))
    if structure:
        edges = syn_user.astype(np.int64) * (n_items * factor) + syn_item
        del syn_user, syn_item
        edges.sort()
        edges = edges[np.concatenate([[True], np.diff(edges) != 0])]
        report.structure = {
            "real": structure_stats(pairs // n_items, pairs % n_items, 1, seed=seed),
            "synthetic": structure_stats(edges // (n_items * factor), edges % (n_items * factor),
                                         factor, seed=seed),
        }
    (out / MANIFEST_FILE).write_text(json.dumps(report.as_dict(), indent=1))
    return report
