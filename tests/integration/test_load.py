"""``interestgraph load`` as a user runs it: real process, real server (each backend), real datasets."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from interest_graph.graph import GraphStore
from interest_graph.graph.ingest import GraphCounts, IngestRepository

pytestmark = pytest.mark.integration
CLI = [sys.executable, "-m", "interest_graph.cli"]


def run_cli(env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([*CLI, *args], env=env, capture_output=True, text=True, timeout=600)
    if check and result.returncode != 0:
        raise AssertionError(f"exit {result.returncode}\n{result.stdout}\n{result.stderr}")
    return result


def last_json(output: str) -> dict[str, object]:
    return json.loads(output.strip().splitlines()[-1])


def comparable(counts: GraphCounts) -> tuple[object, ...]:
    return (counts.users, counts.items, counts.categories, counts.edges, counts.edge_events,
            counts.events, round(counts.revenue, 6), round(counts.weight, 6))


def test_loading_twice_changes_no_count(store: GraphStore, backend_env: dict[str, str],
                                        shared_datasets: Path) -> None:
    result = run_cli(backend_env, "load", "ml-100k", "--json")
    assert "notification" not in result.stderr, "a normal load prints nothing but progress"
    first = last_json(result.stdout)
    assert first["events_applied"] == 100_000 and first["rejected"] == 0
    assert (first["users"], first["items"], first["edges"]) == (943, 1682, 100_000)
    assert first["categories"] == 18
    counts = IngestRepository(store).counts()
    second = last_json(run_cli(backend_env, "load", "ml-100k", "--json").stdout)
    assert second["events_applied"] == 0 and second["duplicates"] == 100_000
    assert IngestRepository(store).counts() == counts


def test_sigkill_mid_load_then_rerun_equals_one_clean_load(
    store: GraphStore, backend_env: dict[str, str], shared_datasets: Path
) -> None:
    repo = IngestRepository(store)
    run_cli(backend_env, "load", "ml-100k", "--batch-size", "2000")
    clean = comparable(repo.counts())
    store.clear()
    store.init_schema()
    assert repo.counts().events == 0

    proc = subprocess.Popen([*CLI, "load", "ml-100k", "--batch-size", "500"], env=backend_env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while repo.counts().events < 20_000:
        assert proc.poll() is None, "the load finished before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    # A batch the loader sent just before it died is still applied by the store: wait for it.
    partial, previous = repo.counts(), None
    while partial != previous:
        time.sleep(0.5)
        partial, previous = repo.counts(), partial
    assert 20_000 <= partial.events < 100_000
    assert partial.edge_events == partial.events, "every applied event is on exactly one edge"

    rerun = last_json(run_cli(backend_env, "load", "ml-100k", "--json").stdout)
    assert rerun["duplicates"] == partial.events
    assert rerun["events_applied"] == 100_000 - partial.events
    assert comparable(repo.counts()) == clean


def test_bad_rows_are_named_and_the_rest_loads(store: GraphStore, backend_env: dict[str, str],
                                               tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    path.write_text(
        "event_id,user_id,item_id,type,timestamp\n"
        "1,alice,sku1,view,2024-01-01T00:00:00\n"
        "2,alice,sku2,view,31/02/2024\n"
        "3,bob,,purchase,2024-01-01T00:00:00\n"
        "4,bob,sku1,levitate,2024-01-01T00:00:00\n"
        "5,carol,sku1,purchase,2024-01-02T00:00:00\n"
    )
    result = run_cli(backend_env, "load", str(path), "--json")
    assert "record 3: field 'timestamp'" in result.stdout
    assert "record 4: field 'item_id': is required" in result.stdout
    assert "record 5: field 'type': unknown event type 'levitate'" in result.stdout
    summary = last_json(result.stdout)
    assert (summary["events_applied"], summary["rejected"], summary["users"]) == (2, 3, 2)
    assert "Traceback" not in result.stderr


def test_unknown_dataset_is_a_message_not_a_traceback(cli_env: dict[str, str]) -> None:
    result = run_cli(cli_env, "load", "no-such-thing", check=False)
    assert result.returncode == 1
    assert "neither a dataset name" in result.stderr and "Traceback" not in result.stderr


def test_no_raw_user_id_reaches_the_graph(store: GraphStore, backend_env: dict[str, str],
                                          store_files: list[Path], tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    raw_id = "jane.doe@example.com"
    path.write_text(f'{{"event_id": "shop:{raw_id}:1", "user_id": "{raw_id}", "item_id": "1", '
                    '"type": "view", "timestamp": 1700000000}\n')
    run_cli(backend_env, "load", str(path))
    rows = store.read("stats/user_ids")
    assert len(rows) == 1 and rows[0]["id"].startswith("u") and raw_id not in rows[0]["id"]
    # Not in the graph, and not in what the server writes to disk either (FalkorDB's append-only
    # file; Neo4j's store and transaction logs).
    assert store_files and all(raw_id.encode() not in f.read_bytes() for f in store_files)


def test_undecodable_bytes_and_broken_files_are_messages(falkor_store: GraphStore,
                                                         cli_env: dict[str, str],
                                                         tmp_path: Path) -> None:
    bad = tmp_path / "latin.csv"
    bad.write_bytes(b"event_id,user_id,item_id,type,timestamp\n"
                    b"1,alice,sku1,view,2024-01-01T00:00:00\n"
                    b"2,b\xf6b,sku1,view,2024-01-01T00:00:00\n")
    result = run_cli(cli_env, "load", str(bad), "--json")
    assert "record 3: field 'user_id': is not valid UTF-8" in result.stdout
    assert last_json(result.stdout)["events_applied"] == 1
    broken = tmp_path / "events.csv.gz"
    broken.write_bytes(b"not gzip at all")
    result = run_cli(cli_env, "load", str(broken), check=False)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "cannot read past line 1" in result.stderr


@pytest.mark.parametrize("scheme", ["falkordb", "bolt"])
def test_an_unreachable_store_fails_fast_with_a_message(cli_env: dict[str, str], scheme: str,
                                                        tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    path = tmp_path / "events.csv"
    path.write_text("event_id,user_id,item_id,type,timestamp\n1,alice,sku1,view,1700000000\n")
    env = {**cli_env, "INTERESTGRAPH_GRAPH_URI": f"{scheme}://127.0.0.1:{port}",
           "INTERESTGRAPH_STORE_CONNECT_TIMEOUT": "1"}
    started = time.monotonic()
    result = run_cli(env, "load", str(path), check=False)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "unavailable" in result.stderr or "unreachable" in result.stderr, result.stderr
    assert time.monotonic() - started < 10, "a down store must fail in seconds, not retry for long"
