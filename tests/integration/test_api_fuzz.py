"""Contract fuzzing: schemathesis generates requests from ``/openapi.json`` and checks every
response of the running app (real graph, refreshed by a real worker) against the document.

Checks: no 5xx, every status code documented, the documented content type, and every body
(errors included) valid against its schema. Half of the generated ids are swapped for real user,
item and segment ids so that success bodies are checked too, not only 404s.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from interest_graph.api import create_app
from interest_graph.audiences.service import AudienceService

from .refreshed import API_KEYS, WRITE_KEY, RefreshedGraph, stop_worker

pytestmark = [pytest.mark.integration, pytest.mark.slow]

EXAMPLES_PER_OPERATION = 80
MIN_REQUESTS = 2000
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]
REQUESTS: dict[str, dict[str, int]] = {}  # per backend


@pytest.fixture(scope="module")
def fuzz_graph(refreshed_graph: RefreshedGraph) -> Iterator[RefreshedGraph]:
    yield refreshed_graph
    stop_worker(None, refreshed_graph.settings)  # drop refreshes the fuzzer enqueued (no worker)


@pytest.fixture(scope="module")
def real_ids(fuzz_graph: RefreshedGraph) -> dict[str, list[str]]:
    store = fuzz_graph.store
    audience = AudienceService.open(store, fuzz_graph.settings).create(
        {"name": "fuzz", "rule": {"field": "events", "op": "gte", "value": 5}})
    return {
        "user_id": fuzz_graph.raw_users[:50],
        "item_id": [r["item"] for r in store.read("api/popular_items", user="", k=50)],
        "segment_id": [r["id"] for r in store.read("api/list_segments")],
        "audience_id": [audience.id],
    }


@pytest.fixture(scope="module")
def api_schema(fuzz_graph: RefreshedGraph) -> Any:
    app = create_app(fuzz_graph.settings.with_overrides(api_keys=API_KEYS))
    return schemathesis.openapi.from_wsgi("/openapi.json", app)


def fuzz_operation(operation: Any, mode: GenerationMode, real_ids: dict[str, list[str]],
                   examples: int, counts: dict[str, int]) -> None:
    """Run hypothesis over one operation's generated cases (schemathesis' pytest plugin does not
    load under pytest 9, so the strategies are driven directly)."""

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=examples, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def run(case: Any) -> None:
        params = case.path_parameters
        for name, ids in real_ids.items():
            value = (params or {}).get(name)
            if isinstance(value, str) and ids and len(value) % 2 == 0:
                # Keep the generated id for odd lengths (404s), use a real one otherwise (200s).
                params[name] = ids[len(value) % len(ids)]
        for name in ("user_id", "audience_id"):
            if case.method == "DELETE" and params and name in params:
                # Erase only ids that do not exist, so the rest of the run keeps its data.
                params[name] = "fuzz-" + str(params[name])
        response = case.call(headers={"X-API-Key": WRITE_KEY})
        counts["total"] += 1
        if response.status_code >= 500:
            counts["5xx"] += 1
        case.validate_response(response, checks=CHECKS)

    try:
        run()
    except Unsatisfiable:
        # Operations without parameters or body have no invalid input to generate.
        assert mode is GenerationMode.NEGATIVE, operation.label


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_api_honours_its_contract(api_schema: Any, real_ids: dict[str, list[str]],
                                  mode: GenerationMode, backend: str) -> None:
    counts = REQUESTS.setdefault(backend, {"total": 0, "5xx": 0})
    before = counts["total"]
    for result in api_schema.get_all_operations():
        fuzz_operation(result.ok(), mode, real_ids, EXAMPLES_PER_OPERATION, counts)
    print(f"{backend} {mode.value}: {counts['total'] - before} requests")


def test_enough_requests_were_generated(fuzz_graph: RefreshedGraph, backend: str) -> None:
    """Runs after the parametrised test above (file order): the fuzzing was substantial."""
    counts = REQUESTS.get(backend, {"total": 0, "5xx": 0})
    print(f"schemathesis requests on {backend}: {counts['total']}, 5xx: {counts['5xx']}")
    assert counts["total"] >= MIN_REQUESTS, counts
    assert counts["5xx"] == 0, counts
