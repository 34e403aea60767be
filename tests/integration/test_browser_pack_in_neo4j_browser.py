"""A query of the Browser pack where users run it: Neo4j Browser, served by the session's Neo4j,
in headless Chromium (Debian's ``chromium`` driven by ``playwright``), against the refreshed graph.

The test logs in, runs the file's ``:param`` lines with real values, then the query, and reads the
result table; the screenshot lands in ``test-artifacts/neo4j-browser.png``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from ..neo4j_server import Neo4jConnection
from .chromium import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, playwright_or_skip
from .refreshed import RefreshedGraph, graph_id

pytestmark = [pytest.mark.integration, pytest.mark.slow]

sync_api = playwright_or_skip("the Neo4j Browser test")


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_api.sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile), executable_path=str(CHROMIUM), args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 1000})
        yield context
        context.close()


def run_in_editor(page: Any, command: str) -> None:
    """Type one command into Neo4j Browser's editor (as one line) and run it (Ctrl+Enter)."""
    editor = page.locator("[data-testid=activeEditor]")
    editor.click()
    page.keyboard.insert_text(command)
    page.keyboard.press("Control+Enter")


@pytest.mark.parametrize("backend", ["neo4j"], indirect=True)
def test_a_pack_query_runs_in_neo4j_browser(refreshed_graph: RefreshedGraph, browser: Any,
                                            neo4j_connection: Neo4jConnection) -> None:
    if neo4j_connection.http is None:
        pytest.skip("the Neo4j at NEO4J_URI has no NEO4J_HTTP: its Browser address is unknown")
    store = refreshed_graph.store
    user = next(graph_id(raw) for raw in refreshed_graph.raw_users
                if store.read("api/get_recommendations", user=graph_id(raw), k=1))
    expected = store.read("browser/user_interests", user=user, k=3)
    query = store.catalog["browser/user_interests"]
    params = [line.strip().removeprefix("//").strip() for line in query.text.splitlines()
              if line.strip().startswith("//") and ":param" in line]
    assert [p.split("=>")[0].strip() for p in params] == [":param user", ":param k"]
    body = " ".join(line.strip() for line in query.text.splitlines()
                    if line.strip() and not line.strip().startswith("//"))

    page = browser.new_page()
    page.goto(f"{neo4j_connection.http}/browser/?dbms={neo4j_connection.uri}"
              "&preselectAuthMethod=NATIVE", timeout=60_000)
    page.fill("[data-testid=username]", neo4j_connection.user, timeout=60_000)
    page.fill("[data-testid=password]", neo4j_connection.password)
    page.click("[data-testid=connect]")
    page.wait_for_selector("text=You are connected as user", timeout=30_000)

    # The file's :param lines with this graph's values, as a user would edit them.
    run_in_editor(page, f":param user => '{user}'")
    page.wait_for_selector("text=Successfully set your parameters", timeout=20_000)
    run_in_editor(page, ":param k => 3")
    page.wait_for_selector("[data-testid=rawParamData]:has-text('\"k\": 3')", timeout=20_000)
    run_in_editor(page, body)
    frame = page.locator("[data-testid=frame]").filter(has_text="MATCH (m:Meta").first
    frame.locator("text=Started streaming 3 records").wait_for(timeout=30_000)
    table = frame.locator("[data-testid=frameContents]").inner_text()
    for row in expected:
        assert row["item"] in table and row["reason"] in table, (row, table[:500])

    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "neo4j-browser.png"), full_page=True)
    page.close()
