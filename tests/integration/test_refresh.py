"""The refresh through a real Celery worker process and the real embedded server."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from interest_graph.graph import GraphStore
from interest_graph.privacy import Pseudonymiser
from interest_graph.settings import Settings
from interest_graph.tasks import REFRESH_FULL, REFRESH_INCREMENTAL, TaskClient

from .conftest import CLI, RetailSlice, start_worker, stop_process

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def worker_env(cli_env: dict[str, str]) -> dict[str, str]:
    return {**cli_env, "INTERESTGRAPH_ENCODER": "hashing", "INTERESTGRAPH_TRAIN_EPOCHS": "3",
            "INTERESTGRAPH_REFRESH_LOCK_TTL": "5", "INTERESTGRAPH_TOP_K": "10"}


@pytest.fixture(scope="module")
def slice_file(retail_slice: RetailSlice) -> Path:
    return retail_slice.folder


@pytest.fixture(scope="module")
def worker(cli_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[dict[str, Any]]:
    env = worker_env(cli_env)
    log = tmp_path_factory.mktemp("worker") / "worker.log"
    proc = start_worker(env, log)
    state = {"proc": proc, "env": env, "log": log}
    yield state
    stop_process(state["proc"])


@pytest.fixture(scope="module")
def client(embedded_settings: Settings) -> Iterator[TaskClient]:
    tasks = TaskClient(embedded_settings)
    yield tasks
    tasks.close()


def wait(client: TaskClient, task_id: str, timeout: float = 300) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = client.state(task_id)
        if state.done:
            assert state.state == "SUCCESS", state.error
            return state.result or {}
        time.sleep(0.2)
    raise AssertionError(f"task {task_id} did not finish in {timeout}s")


def recs(store: GraphStore, user: str) -> list[tuple[str, int, str]]:
    return [(r["item"], r["rank"], r["reason"])
            for r in store.read("users/get_recommendations", user=user, k=50)]


def test_full_then_incremental_refresh(falkor_store: GraphStore, cli_env: dict[str, str],
                                       slice_file: Path, worker: dict[str, Any],
                                       client: TaskClient) -> None:
    subprocess.run([*CLI, "load", str(slice_file)], env=cli_env, check=True, capture_output=True)
    report = wait(client, client.send(REFRESH_FULL))
    assert report["status"] == "active" and report["segments"] >= 2
    assert set(report["stages"]) >= {"pull", "features", "train", "score", "segment", "activate"}

    summary = falkor_store.read("stats/refresh_summary")[0]
    users = falkor_store.read("stats/count_graph")[0]["users"]
    assert summary["version"] == report["version"]
    assert summary["users_embedded"] == users and summary["items_embedded"] > 0
    assert summary["segmented_users"] == users == summary["memberships"] == summary["segment_members"]
    assert summary["interests"] >= users * 5 and summary["similar"] > 0
    assert summary["category_interests"] > 0 and summary["users_valued"] > users / 2
    assert falkor_store.read("stats/consumed_recommended")[0]["n"] == 0
    segments = falkor_store.read("stats/segments")
    assert all(s["label"] and s["size"] > 0 for s in segments)

    # A purchase returned in full is consumed: the next full refresh does not recommend it back
    # (it nets to no edge, so only the consumption rule keeps it out).
    p = Pseudonymiser("test-secret")
    lines = (slice_file / "events.jsonl").read_text().splitlines()
    raw_ids = list(dict.fromkeys(json.loads(line)["user_id"] for line in lines))
    raw_a, raw_b = raw_ids[0], raw_ids[1]
    a, b = p.user(raw_a), p.user(raw_b)
    # A user who only viewed gets reasons citing what they viewed, not "popular with people".
    returned, viewed = (r[0] for r in recs(falkor_store, a)[:2])
    back = slice_file.parent / "returned.jsonl"
    back.write_text("".join(json.dumps({
        "event_id": f"ret-{n}", "user_id": user, "item_id": item, "type": kind,
        "timestamp": 1323000000, "quantity": 2, "price": 2.0}) + "\n"
        for n, (user, item, kind) in enumerate([
            (raw_a, returned, "purchase"), (raw_a, returned, "return"),
            ("viewer", returned, "view"), ("viewer", viewed, "view")])))
    subprocess.run([*CLI, "load", str(back)], env=cli_env, check=True, capture_output=True)

    # A second full refresh with unchanged text encodes nothing.
    again = wait(client, client.send(REFRESH_FULL))
    assert again["texts_encoded"] == 0 and again["version"] != report["version"]
    assert returned not in {r[0] for r in recs(falkor_store, a)}
    viewer = recs(falkor_store, p.user("viewer"))
    assert viewer and all(r[2].startswith("similar to ") for r in viewer), viewer
    assert falkor_store.read("stats/consumed_recommended")[0]["n"] == 0

    # New purchases for two users → only they (and their neighbourhood) change.
    everyone = [r["id"] for r in falkor_store.read("stats/user_ids")]
    others = [u for u in everyone if u not in (a, b)][:40]
    before = {u: recs(falkor_store, u) for u in [a, b, *others]}
    targets = [r[0] for r in before[a][:3]]
    new = slice_file.parent / "new.jsonl"
    new.write_text("".join(json.dumps({
        "event_id": f"new-{n}", "user_id": raw, "item_id": item, "type": "purchase",
        "timestamp": 1323000000 + n, "quantity": 1, "price": 2.0})
        + "\n" for n, (raw, item) in enumerate([(raw_a, t) for t in targets] + [(raw_b, targets[0])])))
    subprocess.run([*CLI, "load", str(new)], env=cli_env, check=True, capture_output=True)
    result = wait(client, client.send(REFRESH_INCREMENTAL))
    assert result["status"] == "updated" and result["users"] == 2
    after_a = recs(falkor_store, a)
    assert after_a and not set(targets) & {r[0] for r in after_a}, "bought items leave the recs"
    assert recs(falkor_store, b) != before[b]
    assert all(recs(falkor_store, u) == before[u] for u in others), "untouched users keep theirs"
    # Nothing new: returns at once.
    assert wait(client, client.send(REFRESH_INCREMENTAL))["status"] == "noop"


def test_sigkill_mid_refresh_keeps_serving_the_previous_refresh(
        falkor_store: GraphStore, cli_env: dict[str, str], slice_file: Path,
        worker: dict[str, Any], client: TaskClient) -> None:
    subprocess.run([*CLI, "load", str(slice_file)], env=cli_env, check=True, capture_output=True)
    first = wait(client, client.send(REFRESH_FULL))
    user = falkor_store.read("stats/user_ids")[0]["id"]
    served = recs(falkor_store, user)
    summary = falkor_store.read("stats/refresh_summary")[0]

    task_id = client.send(REFRESH_FULL)
    deadline = time.monotonic() + 120
    while client.state(task_id).stage not in ("train", "score", "value", "segment", "write"):
        assert time.monotonic() < deadline, "the refresh never reached training"
        time.sleep(0.05)
    os.kill(worker["proc"].pid, signal.SIGKILL)
    worker["proc"].wait()
    # Readers still see the previous complete refresh, unchanged.
    assert falkor_store.read("stats/refresh_summary")[0] == summary
    assert recs(falkor_store, user) == served

    worker["proc"] = start_worker(worker["env"], worker["log"])
    time.sleep(6)  # the dead worker's lock expires (REFRESH_LOCK_TTL=5)
    second = wait(client, client.send(REFRESH_FULL))
    assert second["status"] == "active" and second["version"] != first["version"]
    after = falkor_store.read("stats/refresh_summary")[0]
    assert after["version"] == second["version"]
    assert after["segmented_users"] == summary["segmented_users"]


def test_only_the_active_and_previous_models_are_kept(embedded_settings: Settings,
                                                      falkor_store: GraphStore) -> None:
    from interest_graph.graph.refresh import RefreshRepository
    from interest_workers.pipelines.artefacts import prune_models

    models = embedded_settings.models_dir
    versions = sorted(p.stem for p in models.glob("*.pt"))
    assert len(versions) <= 2, "full refreshes above must have pruned older models"
    active = RefreshRepository(falkor_store).state().version
    if active is not None:
        assert active in versions
    (models / "old.pt").write_bytes(b"x")
    assert prune_models(models, set(versions)) == ["old"]
    assert not (models / "old.pt").exists()
