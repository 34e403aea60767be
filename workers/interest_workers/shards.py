"""Scoring and writing a full refresh's users and items in shards that any number of workers share.

After training, the full refresh saves its model and splits the users, then the items, into
equal contiguous shards of at most ``Settings.shard_users``. A user shard is scored (top-K items
with reasons, top categories) and its ``INTERESTED_IN`` and ``INTERESTED_IN_CATEGORY`` edges are
written; an item shard gets its items' similar items (``SIMILAR_TO``); both under the new, not yet
active, version. Workers share the shards through a :class:`ShardBoard` in the broker's Redis: a shard is
*claimed* with an expiring key (kept alive by a heartbeat while its worker scores it) and marked
*done* once written. The refresh that owns the version works on the shards too and, once every
shard is done, activates the version in one atomic query, so readers see the previous refresh
until then:

* a worker killed mid-shard stops renewing its claim; the claim expires and another participant
  (at least the owner) scores the shard again;
* writing a shard twice is harmless: the writes ``MERGE`` on ``(user, item, version)`` and the
  scores are a deterministic function of the saved model, so a re-run sets the same edges;
* the owner's death leaves the version unactivated: the previous refresh stays in service.

Workers on one machine share its cores: while scoring, each participant limits its BLAS threads
to the machine's cores divided by the participants working there (:meth:`ShardBoard.sharing_cores`),
so two workers on two cores run one thread each instead of four threads fighting for two cores.

This module holds no Celery: the task that carries the helpers is in :mod:`.tasks.refresh`.
"""

from __future__ import annotations

import logging
import socket
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch
from threadpoolctl import threadpool_limits

from interest_graph.graph.refresh import RefreshRepository

from .heartbeat import heartbeat
from .pipelines.artefacts import Artefacts
from .pipelines.model.interest_model import serve
from .pipelines.model.parallel import usable_cores
from .pipelines.model.scores import Scorer, TopK, explain, interest_rows, similar_items, top_categories
from .typing import IndexArray

log = logging.getLogger(__name__)

CATEGORIES_PER_USER = 5
#: How long a finished refresh's board stays readable (late helpers find it closed).
BOARD_TTL_S = 86400


@dataclass(frozen=True)
class ShardPlan:
    """What a helper needs to score shards of a refresh (plain values: it travels in a task).

    Shards ``0 .. user_shards - 1`` are users; with ``shard_items``, the shards after them are
    items, whose similar items (``SIMILAR_TO``) they find and write.

    Attributes:
        version: The refresh version written.
        model_path: The saved model (:mod:`.pipelines.artefacts`), on storage every worker reads.
        consumed_path: ``(U, I)`` what each user consumed (``.npz``), never recommended.
        num_users: Users of the model's graph.
        shard_users: Users per shard at most (the users are split into equal shards).
        top_k: Items per user.
        num_items: Items of the model's graph.
        shard_items: Items per shard at most; 0: similar items are not sharded.
        similar_k: Similar items per item.
    """

    version: str
    model_path: str
    consumed_path: str
    num_users: int
    shard_users: int
    top_k: int
    num_items: int = 0
    shard_items: int = 0
    similar_k: int = 10

    @property
    def user_shards(self) -> int:
        return max(1, -(-self.num_users // self.shard_users))

    @property
    def item_shards(self) -> int:
        return -(-self.num_items // self.shard_items) if self.shard_items else 0

    @property
    def shards(self) -> int:
        return self.user_shards + self.item_shards

    def users(self, shard: int) -> IndexArray:
        """The user indices of user shard ``shard``: contiguous, and sizes differ by one at most
        (so that workers sharing the shards finish together; not ``shard_users`` and a rest)."""
        return _part(self.num_users, self.user_shards, shard)

    def items(self, shard: int) -> IndexArray:
        """The item indices of shard ``shard`` (at least :attr:`user_shards`)."""
        return _part(self.num_items, self.item_shards, shard - self.user_shards)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _part(n: int, parts: int, part: int) -> IndexArray:
    """Part ``part`` of ``0..n-1`` cut into ``parts`` contiguous parts of equal size (± 1)."""
    if not 0 <= part < parts:
        raise IndexError(f"part {part} of {parts}")
    base, extra = divmod(n, parts)
    start = part * base + min(part, extra)
    return np.arange(start, start + base + (part < extra), dtype=np.int64)


@dataclass(frozen=True)
class ShardInputs:
    """What scoring a user needs: the blended scorer, embeddings, histories, the catalogue."""

    scorer: Scorer
    user_emb: torch.Tensor
    item_emb: torch.Tensor
    consumed: sp.csr_matrix
    history: sp.csr_matrix
    user_ids: Sequence[str]
    item_ids: Sequence[str]
    item_categories: Sequence[Sequence[str]]
    titles: Sequence[str]

    @classmethod
    def from_artefacts(cls, art: Artefacts, consumed: sp.csr_matrix) -> ShardInputs:
        model = art.model
        graph = model.trained.graph
        return cls(model.scorer(), model.user_emb, model.item_emb, consumed,
                   graph.to_csr(binary=True), graph.users.ids, graph.items.ids,
                   art.item_categories, art.titles)


@dataclass(frozen=True)
class ShardRows:
    """A shard's rows for ``write_interests`` and ``write_category_interests``."""

    interests: list[dict[str, Any]]
    categories: list[dict[str, Any]]


def score_users(inputs: ShardInputs, users: IndexArray, top_k: int) -> ShardRows:
    """Top-``top_k`` items with reasons and the top categories of ``users``."""
    top = serve(inputs.scorer, inputs.consumed, top_k, users)
    reasons = explain(top.items, users, inputs.item_emb, inputs.history, inputs.item_categories)
    interests = interest_rows(inputs.item_ids, top, reasons, inputs.titles)
    categories = top_categories(inputs.user_emb[users], inputs.item_emb, inputs.item_categories,
                                CATEGORIES_PER_USER)
    ids = [inputs.user_ids[int(u)] for u in users]
    return ShardRows(
        [dict(user=uid, **rec) for uid, recs in zip(ids, interests) for rec in recs],
        [{"user": uid, "category": c["name"], "score": c["score"]}
         for uid, cs in zip(ids, categories) for c in cs])


def write_rows(repo: RefreshRepository, version: str, rows: ShardRows) -> None:
    """Write a shard's rows under ``version`` (idempotent: ``MERGE`` per version)."""
    repo.write_interests(version, version, rows.interests)
    repo.write_category_interests(version, rows.categories)


def similar_rows(item_ids: Sequence[str], items: IndexArray, top: TopK) -> list[dict[str, Any]]:
    """``write_similar_items`` rows of ``items`` from their :func:`similar_items` ``top``."""
    return [{"item": item_ids[int(i)], "other": item_ids[int(j)], "score": float(top.scores[r, n]),
             "rank": n + 1}
            for r, i in enumerate(items) for n, j in enumerate(top.items[r]) if j >= 0]


def do_shard(repo: RefreshRepository, plan: ShardPlan, inputs: ShardInputs, shard: int) -> None:
    """Score and write one shard of ``plan``: its users' interests, or its items' neighbours."""
    if shard < plan.user_shards:
        write_rows(repo, plan.version, score_users(inputs, plan.users(shard), plan.top_k))
        return
    items = plan.items(shard)
    repo.write_similar_items(plan.version, similar_rows(
        inputs.item_ids, items, similar_items(inputs.item_emb, plan.similar_k, rows=items)))


def save_consumed(path: Path, consumed: sp.csr_matrix) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    sp.save_npz(path, sp.csr_matrix(consumed), compressed=False)


def load_consumed(path: Path) -> sp.csr_matrix:
    return sp.csr_matrix(sp.load_npz(path))


class ShardBoard:
    """Claims and completions of one refresh's shards, in Redis.

    Args:
        client: A ``redis.Redis`` client (the broker's server).
        version: The refresh version.
        claim_ttl_s: How long a claim outlives its worker's last heartbeat.
    """

    def __init__(self, client: Any, version: str, claim_ttl_s: float) -> None:
        self.client = client
        self.prefix = f"interestgraph:shards:{version}"
        self.claim_ttl_ms = max(1, int(claim_ttl_s * 1000))

    def _claim_key(self, shard: int) -> str:
        return f"{self.prefix}:claim:{shard}"

    def claim(self, shard: int) -> bool:
        """Take ``shard`` unless someone holds a live claim on it or it is done."""
        if self.is_done(shard):
            return False
        return bool(self.client.set(self._claim_key(shard), "1", nx=True, px=self.claim_ttl_ms))

    def renew(self, shard: int) -> None:
        self.client.pexpire(self._claim_key(shard), self.claim_ttl_ms)

    def finish(self, shard: int) -> None:
        pipe = self.client.pipeline()
        pipe.sadd(f"{self.prefix}:done", shard)
        pipe.expire(f"{self.prefix}:done", BOARD_TTL_S)
        pipe.delete(self._claim_key(shard))
        pipe.execute()

    def is_done(self, shard: int) -> bool:
        return bool(self.client.sismember(f"{self.prefix}:done", shard))

    def done(self) -> set[int]:
        return {int(s) for s in self.client.smembers(f"{self.prefix}:done")}

    @contextmanager
    def sharing_cores(self, cores: int | None = None, host: str | None = None
                      ) -> Iterator[Callable[[], int]]:
        """Work on this host's share of its cores while in the block.

        Joins the participants of this refresh on ``host`` (default this machine's name) and
        yields a function that returns this participant's share of the host's ``cores``
        (default those this process may run on), at least 1, as others join and leave. A
        participant killed in the block is counted until the board expires: the others then
        use fewer threads than they could, never more.
        """
        key = f"{self.prefix}:host:{host or socket.gethostname()}"
        cores = cores or usable_cores()
        member = uuid.uuid4().hex
        pipe = self.client.pipeline()
        pipe.sadd(key, member)
        pipe.expire(key, BOARD_TTL_S)
        pipe.execute()
        try:
            yield lambda: max(1, cores // max(1, int(self.client.scard(key))))
        finally:
            self.client.srem(key, member)

    def close(self) -> None:
        """No more work on this version (activated, or given up): late helpers stop."""
        self.client.set(f"{self.prefix}:closed", "1", ex=BOARD_TTL_S)

    @property
    def closed(self) -> bool:
        return bool(self.client.exists(f"{self.prefix}:closed"))


def work_shards(board: ShardBoard, shards: int, do_shard: Callable[[int], None],
                first: int = 0) -> list[int]:
    """Claim and do every shard nobody holds, starting at ``first``; returns those done here.

    The claim is renewed every third of its lifetime while ``do_shard`` runs, with as many BLAS
    threads as this participant's share of the machine's cores among those scoring a shard there
    (:meth:`ShardBoard.sharing_cores`; a participant only waiting for others' shards, as the
    owner does at the end, takes none).
    """
    mine = []
    for shard in [*range(first, shards), *range(first)]:
        if board.closed:
            break
        if not board.claim(shard):
            continue
        with (heartbeat(partial(board.renew, shard), board.claim_ttl_ms / 3000, f"shard-{shard}"),
              board.sharing_cores() as share, threadpool_limits(share())):
            do_shard(shard)
        board.finish(shard)
        mine.append(shard)
    return mine


def complete_shards(board: ShardBoard, shards: int, do_shard: Callable[[int], None],
                    poll_s: float = 0.2) -> list[int]:
    """The owner's loop: do shards until every one is done, taking over the shards of workers
    whose claims expired. Returns the shards done here."""
    mine = work_shards(board, shards, do_shard)
    while len(board.done()) < shards:
        redone = work_shards(board, shards, do_shard)
        if redone:
            log.warning("shards %s were claimed by a worker that stopped; redone here", redone)
        mine += redone
        time.sleep(poll_s)
    return mine
