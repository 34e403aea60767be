"""The full refresh's score+write stage in shards, shared by real Celery workers, on each backend.

The sharded refresh must serve exactly what the single-process refresh serves; a helper worker
killed mid-refresh must neither stop it nor let readers see a half-written version; a shard
written twice must leave the same edges; a dead helper's claim must pass to another worker.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import redis
from threadpoolctl import threadpool_info

from interest_graph.graph import GraphStore
from interest_graph.graph.refresh import RefreshRepository
from interest_graph.settings import Settings
from interest_graph.tasks import REFRESH_FULL, TaskClient
from interest_workers.pipelines.artefacts import load_artefacts
from interest_workers.pipelines.model.graph_build import consumed_matrix
from interest_workers.shards import (
    ShardBoard,
    ShardInputs,
    ShardPlan,
    complete_shards,
    do_shard,
    work_shards,
)
from interest_workers.tasks.refresh import FULL_LOCK

from .conftest import CLI, RetailSlice, stop_process
from .refreshed import drop_queued_tasks, quick_worker, stop_worker, wait

pytestmark = [pytest.mark.integration, pytest.mark.slow]
SHARDED = {"INTERESTGRAPH_SHARD_USERS": "40"}


Served = tuple[list[tuple[str, str, int]], dict[str, list[tuple[str, float]]]]


def served(store: GraphStore) -> Served:
    """The active refresh's item interests, and each item's similar items with their scores."""
    similar: dict[str, list[tuple[str, float]]] = {}
    for r in store.read("stats/active_similar_items"):
        similar.setdefault(r["item"], []).append((r["other"], r["score"]))
    return ([(r["user"], r["item"], r["rank"]) for r in store.read("stats/active_interests")],
            similar)


def assert_serves(got: Served, want: Served, what: str) -> None:
    """The same interests; the same similar items, but for the order of near ties.

    Similar items come from the cosine of float32 embeddings, computed in batches of whatever
    items a shard holds: the matrix product's rounding depends on the batch, so neighbours whose
    cosines differ in the last bits may swap (or trade the last place).
    """
    assert got[0] == want[0], f"{what}: interests"
    assert got[1].keys() == want[1].keys(), f"{what}: items with similar items"
    for item, neighbours in want[1].items():
        mine = got[1][item]
        scores = [s for _, s in neighbours]
        assert np.allclose([s for _, s in mine], scores, atol=1e-5), f"{what}: {item}"
        # The neighbours clear of the last place's score cannot trade places.
        assert ({o for o, s in mine if abs(s - scores[-1]) > 1e-5}
                == {o for o, s in neighbours if abs(s - scores[-1]) > 1e-5}), f"{what}: {item}"



def no_refresh_running(settings: Settings) -> None:
    """No task left by an earlier module, and no refresh lock of a killed worker (it expires after
    REFRESH_LOCK_TTL=5 s): the next refresh sent is the one a test's worker runs."""
    drop_queued_tasks(settings)
    broker = redis.Redis.from_url(settings.broker())
    try:
        deadline = time.monotonic() + 30
        while broker.exists(FULL_LOCK):
            assert time.monotonic() < deadline, "a refresh lock outlived its TTL"
            time.sleep(0.2)
    finally:
        broker.close()


@pytest.fixture(scope="module")
def loaded(session_store: GraphStore, backend_env: dict[str, str], retail_slice: RetailSlice,
           backend_settings: Settings) -> GraphStore:
    no_refresh_running(backend_settings)
    session_store.clear()
    session_store.init_schema()
    subprocess.run([*CLI, "load", str(retail_slice.folder)], env=backend_env, check=True,
                   capture_output=True)
    return session_store


@pytest.fixture(scope="module")
def unsharded(loaded: GraphStore, backend_env: dict[str, str], backend_settings: Settings,
              task_client: TaskClient, tmp_path_factory: pytest.TempPathFactory
              ) -> tuple[dict[str, Any], Any]:
    """One refresh by a single worker with sharding off: its report and what it serves."""
    log = tmp_path_factory.mktemp("unsharded") / "worker.log"
    worker = quick_worker({**backend_env, "INTERESTGRAPH_SHARD_USERS": "1000000"}, log)
    try:
        report = wait(task_client, task_client.send(REFRESH_FULL))
    finally:
        stop_worker(worker, backend_settings)
    return report, served(loaded)


def test_two_workers_share_the_shards_and_serve_what_one_process_serves(
        loaded: GraphStore, backend_env: dict[str, str], backend_settings: Settings,
        task_client: TaskClient, unsharded: tuple[dict[str, Any], Any],
        tmp_path: Path) -> None:
    before, rows = unsharded
    assert before["shards"] == 1 and "shards" not in before["stages"]
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    workers = [quick_worker({**backend_env, **SHARDED}, log) for log in logs]
    try:
        report = wait(task_client, task_client.send(REFRESH_FULL))
    finally:
        for w in workers[1:]:
            stop_process(w)
        stop_worker(workers[0], backend_settings)
    assert report["status"] == "active" and report["version"] != before["version"]
    # Users and items alike, in shards of at most 40.
    assert report["shards"] == -(-report["users"] // 40) + -(-report["items"] // 40)
    assert report["shards"] > 4 and "shards" in report["stages"]
    assert_serves(served(loaded), rows, "sharded scoring serves what the single process served")
    written = [log.read_text(errors="replace").count(" written") for log in logs]
    assert sum(written) >= report["shards"] and min(written) >= 1, written
    summary = loaded.read("stats/refresh_summary")[0]
    assert summary["version"] == report["version"]
    assert summary["category_interests"] == 5 * report["users"]
    statuses = {r["version"]: r["status"] for r in loaded.read("refresh/refresh_history", limit=5)}
    assert statuses[before["version"]] == "superseded" and statuses[report["version"]] == "active"
    # The shards' consumed matrix is gone with the activation; the model file stays.
    models = Path(backend_settings.models_dir)
    assert not list(models.glob("*.consumed.npz"))


def test_a_shard_written_again_sets_the_same_edges(loaded: GraphStore,
                                                   unsharded: tuple[dict[str, Any], Any]) -> None:
    """A retried shard (its worker died after writing, the message was redelivered) changes
    nothing: the same rows MERGE onto the same edges under the same version."""
    repo = RefreshRepository(loaded)
    state = repo.state()
    assert state.version and state.model_path
    before = served(loaded)
    summary = loaded.read("stats/refresh_summary")[0]
    art = load_artefacts(Path(state.model_path))
    graph = art.model.trained.graph
    users = repo.users(repo.items().ids)
    assert users.users.ids == graph.users.ids
    consumed = consumed_matrix(users.edges, graph.num_users, graph.num_items)
    inputs = ShardInputs.from_artefacts(art, consumed)
    plan = ShardPlan(state.version, state.model_path, "", graph.num_users, 10, 10,
                     graph.num_items, 10)
    for shard in (0, 1, 1, plan.user_shards, plan.user_shards + 1, plan.user_shards):
        do_shard(repo, plan, inputs, shard)
    assert_serves(served(loaded), before, "a shard written again")
    assert loaded.read("stats/refresh_summary")[0] == summary


def test_a_killed_helper_neither_stops_the_refresh_nor_shows_half_of_it(
        loaded: GraphStore, backend_env: dict[str, str], backend_settings: Settings,
        task_client: TaskClient, unsharded: tuple[dict[str, Any], Any],
        tmp_path: Path) -> None:
    _, rows = unsharded
    previous = loaded.read("stats/refresh_summary")[0]
    no_refresh_running(backend_settings)
    owner = quick_worker({**backend_env, **SHARDED}, tmp_path / "owner.log")
    time.sleep(3)  # the owner takes the refresh; the helper starts after it
    task_id = task_client.send(REFRESH_FULL)
    helper_log = tmp_path / "helper.log"
    helper = quick_worker({**backend_env, **SHARDED}, helper_log)
    try:
        deadline = time.monotonic() + 300
        while " written" not in helper_log.read_text(errors="replace"):
            assert time.monotonic() < deadline and not task_client.state(task_id).done, \
                "the helper wrote no shard"
            time.sleep(0.02)
        os.kill(helper.pid, signal.SIGKILL)  # mid-refresh, possibly mid-shard
        helper.wait()
        # Until the owner activates, readers see the previous refresh whole.
        now = loaded.read("stats/refresh_summary")[0]
        assert now == previous or now["version"] != previous["version"]
        report = wait(task_client, task_id)
    finally:
        stop_process(helper)
        stop_worker(owner, backend_settings)
    assert report["status"] == "active" and report["shards"] > 2
    assert_serves(served(loaded), rows, "every shard written, as one process would have")
    summary = loaded.read("stats/refresh_summary")[0]
    assert summary["version"] == report["version"]
    assert summary["category_interests"] == 5 * report["users"]


@pytest.fixture
def broker(embedded_settings: Settings) -> Iterator[redis.Redis]:
    task_client = redis.Redis.from_url(embedded_settings.broker())
    yield task_client
    for key in task_client.scan_iter("interestgraph:shards:test-*"):
        task_client.delete(key)
    task_client.close()


def test_a_dead_helpers_claim_passes_to_the_owner(broker: redis.Redis) -> None:
    board = ShardBoard(broker, f"test-{time.time_ns()}", claim_ttl_s=1.0)
    assert board.claim(2)  # a helper that dies holding shard 2: no heartbeat, no finish
    done_here: list[int] = []
    started = time.monotonic()
    mine = complete_shards(board, 4, done_here.append, poll_s=0.05)
    assert sorted(mine) == sorted(done_here) == [0, 1, 2, 3]
    assert time.monotonic() - started >= 0.9, "shard 2 waited for the dead claim to expire"
    assert board.done() == {0, 1, 2, 3}
    # A helper redelivered later does nothing: every shard is done.
    assert work_shards(board, 4, done_here.append) == [] and len(done_here) == 4
    board.close()
    other = ShardBoard(broker, board.prefix.rsplit(":", 1)[1], claim_ttl_s=1.0)
    assert other.closed and work_shards(other, 4, done_here.append) == []


def test_a_long_shard_keeps_its_claim(broker: redis.Redis) -> None:
    board = ShardBoard(broker, f"test-{time.time_ns()}", claim_ttl_s=0.6)
    rival = ShardBoard(broker, board.prefix.rsplit(":", 1)[1], claim_ttl_s=0.6)
    stolen: list[bool] = []

    def slow(shard: int) -> None:
        for _ in range(6):  # 1.8 s, three claim lifetimes: the heartbeat renews it
            time.sleep(0.3)
            stolen.append(rival.claim(shard))

    assert work_shards(board, 1, slow) == [0]
    assert stolen and not any(stolen)
    assert board.done() == {0} and not rival.claim(0)


def test_plan_covers_every_user_once() -> None:
    plan = ShardPlan("v", "m", "c", num_users=23, shard_users=10, top_k=5)
    assert plan.shards == 3
    shards = [plan.users(s) for s in range(plan.shards)]
    assert [len(s) for s in shards] == [8, 8, 7]  # balanced, not 10, 10, 3
    assert np.concatenate(shards).tolist() == list(range(23))
    assert ShardPlan(**plan.as_dict()) == plan
    assert ShardPlan("v", "m", "c", 0, 10, 5).shards == 1
    both = ShardPlan("v", "m", "c", 23, 10, 5, num_items=21, shard_items=10)
    assert (both.user_shards, both.item_shards, both.shards) == (3, 3, 6)
    assert both.users(2).tolist() == list(range(16, 23))
    items = [both.items(s) for s in range(3, 6)]
    assert [len(i) for i in items] == [7, 7, 7]
    assert np.concatenate(items).tolist() == list(range(21))
    with pytest.raises(IndexError):
        both.items(6)


def test_participants_on_one_machine_share_its_cores(broker: redis.Redis) -> None:
    version = f"test-{time.time_ns()}"
    board = ShardBoard(broker, version, claim_ttl_s=5.0)
    rival = ShardBoard(broker, version, claim_ttl_s=5.0)
    with board.sharing_cores(cores=4, host="a") as share:
        assert share() == 4
        with rival.sharing_cores(cores=4, host="a") as rival_share:
            assert share() == rival_share() == 2
            with ShardBoard(broker, version, 5.0).sharing_cores(cores=4, host="b") as elsewhere:
                assert share() == 2 and elsewhere() == 4, "another machine's cores are its own"
        assert share() == 4, "a participant that left gives its cores back"

    # While a shard is scored, BLAS runs on this participant's share of the cores.
    cores = len(os.sched_getaffinity(0))
    threads: list[int] = []

    def shard(_: int) -> None:
        threads.append(max(p["num_threads"] for p in threadpool_info()
                           if p["user_api"] == "blas"))

    with rival.sharing_cores():
        assert work_shards(board, 1, shard) == [0]
    assert work_shards(board, 2, shard, first=1) == [1]
    assert threads == [max(1, cores // 2), cores]
