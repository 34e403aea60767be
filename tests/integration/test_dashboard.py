"""The dashboard end to end: the real ``create_app``, a real embedded store with a refreshed
Online Retail slice, and headless Chromium (Debian's ``chromium`` package driven by
``playwright``).

The page must draw the segment map and a looked-up user's recommendations and neighbourhood
graph without a single console error; the screenshot lands in ``test-artifacts/dashboard.png``.

Chromium is never downloaded here: CI installs the Debian package (``apt-get install chromium``)
and the ``playwright`` Python package; without either, this module is skipped with the reason.
"""

from __future__ import annotations

import collections
import json
import subprocess
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from werkzeug.serving import make_server

from interest_graph.api import create_app
from interest_graph.audiences.service import AudienceService
from interest_graph.graph import open_store
from interest_graph.privacy import Pseudonymiser
from interest_graph.settings import Settings
from interest_graph.tasks import REFRESH_FULL, TaskClient

from .chromium import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, playwright_or_skip
from .conftest import CLI, RetailSlice, stop_process
from .refreshed import quick_worker

pytestmark = [pytest.mark.integration, pytest.mark.slow]

API_KEY = "dashboard-test-key"
WRITE_KEY = "dashboard-write-key"

sync_api = playwright_or_skip("the dashboard browser test")


# -- a real store with one full refresh ----------------------------------------------------------

@pytest.fixture(scope="module")
def refreshed(embedded_settings: Settings, cli_env: dict[str, str], retail_slice: RetailSlice,
              tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A clean graph with the first 12,000 Online Retail records, fully refreshed twice by a real
    worker process. Returns the raw (shop) id of the busiest customer in the slice."""
    folder = tmp_path_factory.mktemp("dashboard")
    events = retail_slice.events
    store = open_store(embedded_settings)
    store.clear()
    store.init_schema()
    store.close()
    subprocess.run([*CLI, "load", str(retail_slice.folder)], env=cli_env, check=True,
                   capture_output=True)

    log = folder / "worker.log"
    worker = quick_worker(cli_env, log)
    tasks = TaskClient(embedded_settings)
    try:
        # Two full refreshes: the second starts from the first one's segments and writes how
        # many users moved between them (the dashboard's movement table).
        for _ in range(2):
            task_id = tasks.send(REFRESH_FULL)
            deadline = time.monotonic() + 400
            while not (state := tasks.state(task_id)).done:
                assert time.monotonic() < deadline, f"refresh did not finish: {log.read_text()[-2000:]}"
                time.sleep(0.3)
            assert state.state == "SUCCESS", state.error
    finally:
        tasks.close()
        stop_process(worker)
    busiest = collections.Counter(e["user_id"] for e in events if e["type"] == "purchase")
    return {"user": str(busiest.most_common(1)[0][0]), "report": state.result}


# -- the app under test --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def server(embedded_settings: Settings, refreshed: dict[str, Any]) -> Iterator[dict[str, Any]]:
    app = create_app(embedded_settings.with_overrides(api_keys={
        API_KEY: frozenset({"read"}), WRITE_KEY: frozenset({"read", "write"})}))
    assert "dashboard" in app.blueprints, "create_app must register the dashboard blueprint"
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield {"url": f"http://127.0.0.1:{httpd.server_port}"}
    httpd.shutdown()
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class Console:
    """Every console error, uncaught page error and failed request of one page."""

    def __init__(self, page: Any) -> None:
        self.errors: list[str] = []
        page.on("console", lambda m: m.type == "error" and self.errors.append(
            f"console: {m.text} @ {m.location.get('url')}"))
        page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))
        page.on("requestfailed", lambda r: self.errors.append(
            f"requestfailed: {r.url} {r.failure}"))
        page.on("response", lambda r: r.status >= 400 and self.errors.append(
            f"http {r.status}: {r.url}"))


# -- tests ---------------------------------------------------------------------------------------

def test_dashboard_draws_the_map_and_a_users_graph(server: dict[str, Any], browser: Any,
                                                    refreshed: dict[str, Any]) -> None:
    page = browser.new_page(viewport={"width": 1440, "height": 1000})
    console = Console(page)
    page.goto(f"{server['url']}/?key={API_KEY}")

    # The key is remembered and removed from the address bar.
    page.wait_for_selector('#segment-map[data-state="ready"]', timeout=30_000)
    assert "key=" not in page.url
    points = int(page.get_attribute("#segment-map", "data-points") or 0)
    assert points > 50, "the segment map drew too few users"
    painted = page.evaluate("""() => {
        const c = document.querySelector('#segment-map canvas');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let n = 0;
        for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++;
        return n;
    }""")
    assert painted > 1000, "the segment map canvas is blank"
    segments = page.locator("#segments-body tr[data-segment]")
    assert segments.count() >= 2
    assert page.locator("#map-legend li").count() == segments.count()
    assert "Refresh" in page.inner_text("#refresh-info")

    # The largest segment's brief: what its members buy more often, value and behaviour
    # against the base, the churn basis, in words.
    page.wait_for_selector('#segment-brief[data-state="ready"]', timeout=15_000)
    first_label = page.inner_text("#segments-body tr[data-segment] .seg-label")
    brief = page.inner_text("#segment-brief")
    assert first_label in brief and "customers" in brief and "Churn:" in brief
    assert page.locator("#segment-brief .lifts li").count() >= 1
    assert page.locator("#segment-brief table.compare tbody tr").count() == 6
    # Movements since the first refresh, and the drift check.
    assert int(page.get_attribute("#moves-table", "data-rows") or 0) >= 1
    assert "changed segment since" in page.inner_text("#moves-note")
    assert "beyond their segment" in page.inner_text("#drift")
    # Another segment's row shows its brief.
    second = segments.nth(1)
    second.click()
    assert page.get_attribute("#segment-brief", "data-segment") == second.get_attribute(
        "data-segment")
    assert second.inner_text().split("\n")[0] in page.inner_text("#segment-brief .brief-label")
    segments.nth(1).click()  # unselect: the map shows every segment again

    # Look a customer up by the shop's own id.
    page.fill("#user-id", refreshed["user"])
    page.click("#user-lookup button[type=submit]")
    page.wait_for_selector('#user-graph[data-state="ready"]', timeout=30_000)
    page.wait_for_selector("#recommendations li .rec-reason", timeout=30_000)
    assert int(page.get_attribute("#user-graph", "data-nodes") or 0) > 1
    assert page.locator("#user-graph canvas").count() >= 1
    recs = page.locator("#recommendations li")
    assert recs.count() >= 1
    assert all(r.strip() for r in page.locator("#recommendations .rec-reason").all_inner_texts())
    assert refreshed["user"] in page.inner_text("#user-summary")
    # Why this customer is in their segment: their categories and tier against the segment's.
    page.wait_for_selector("#user-why:not([hidden])", timeout=15_000)
    why = page.inner_text("#user-why")
    assert "why this segment" in why.lower() and "Buys mostly" in why and "Value tier" in why
    assert page.locator("#user-why .chip").count() >= 2

    page.wait_for_timeout(300)  # let Cytoscape finish its first paint
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)
    assert (ARTIFACTS / "dashboard.png").stat().st_size > 10_000
    assert console.errors == [], f"browser errors: {console.errors}"

    # An unknown user is a message, not a broken page; only its own 404s are logged.
    page.fill("#user-id", "no-such-customer")
    page.click("#user-lookup button[type=submit]")
    page.wait_for_selector('#user-graph[data-state="error"]', timeout=15_000)
    assert "No user with id" in page.inner_text("#status")
    unexpected = [e for e in console.errors if "no-such-customer" not in e
                  and "status of 404" not in e]
    assert unexpected == [], unexpected

    # A segment row highlights its users on the map; the layout holds on a narrow screen.
    segments.first.click()
    assert "selected" in (segments.first.get_attribute("class") or "")
    page.set_viewport_size({"width": 420, "height": 900})
    page.fill("#user-id", refreshed["user"])
    page.click("#user-lookup button[type=submit]")
    page.wait_for_selector('#user-graph[data-state="ready"]', timeout=30_000)
    page.wait_for_timeout(300)
    page.screenshot(path=str(ARTIFACTS / "dashboard-narrow.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= 420, "horizontal overflow"
    page.close()


def test_dashboard_builds_an_audience_and_reports_its_experiment(
        server: dict[str, Any], browser: Any, embedded_settings: Settings,
        retail_slice: RetailSlice) -> None:
    store = open_store(embedded_settings)
    try:
        service = AudienceService.open(store, embedded_settings)
        interests = collections.Counter(
            r["category"] for u in store.read("stats/user_ids")
            for r in store.read("api/get_user_interests", user=u["id"], k=1) if r["category"])
        category = interests.most_common(1)[0][0]
        tiers = ["champions", "loyal", "potential loyalists", "need attention", "new", "promising"]
        rule = {"all": [{"field": "value_tier", "op": "in", "value": tiers},
                        {"field": "category_interest", "category": category, "op": "rank_lte",
                         "value": 5}]}
        expected = service.count(rule)
    finally:
        store.close()
    assert expected >= 20

    page = browser.new_page(viewport={"width": 1440, "height": 1000})
    console = Console(page)
    page.goto(f"{server['url']}/?key={WRITE_KEY}")
    page.wait_for_selector('#audience-builder[data-state="ready"]', timeout=30_000)
    page.fill("#audience-name", "Loyal customers who like " + category.lower())
    page.select_option("#audience-conditions li:nth-child(1) select.cond-value", tiers)
    page.fill("#audience-conditions li:nth-child(2) .cond-subject", category)
    page.fill("#audience-conditions li:nth-child(2) .cond-value", "5")
    # The size follows the rule live (no eval under the page's CSP: selectors only).
    page.wait_for_selector(f'#audience-size[data-size="{expected}"]', timeout=15_000)
    page.fill("#audience-control", "30")
    page.wait_for_selector("#audience-size:has-text('held out as control')")
    page.click("#audience-builder button[type=submit]")
    page.wait_for_selector('#experiment-report[data-state="ready"]', timeout=30_000)
    row = page.locator("#audiences-body tr[data-audience]").first
    audience = row.get_attribute("data-audience")
    assert str(expected) in row.inner_text().replace(",", "")

    # Events after the start: some members of both arms buy; the report shows them per arm.
    p = Pseudonymiser("test-secret")
    raw_of = {p.user(raw): raw for raw in retail_slice.raw_users}
    members = [json.loads(line) for line in page.request.get(
        f"{server['url']}/v1/audiences/{audience}/export?format=jsonl",
        headers={"X-API-Key": API_KEY}).text().splitlines()]
    buyers = [m for n, m in enumerate(members) if n % 3 != 0 or m["arm"] == "control" and n % 2]
    events = [{"event_id": f"dash-aud-{n}", "user_id": raw_of[m["user"]], "item_id": item,
               "type": "purchase", "timestamp": 1325000000 + n, "quantity": 1, "price": 3.5 + n % 7}
              for n, m in enumerate(buyers) for item in [m["interests"][0]["item"]]
              if m["interests"]]
    response = page.request.post(f"{server['url']}/v1/events", data=json.dumps({"events": events}),
                                 headers={"X-API-Key": WRITE_KEY, "Content-Type": "application/json"})
    assert response.status == 202, response.text()
    row.click()
    page.wait_for_selector('#experiment-report[data-state="ready"]')
    assert page.get_attribute("#experiment-report", "data-arms") == "2"
    text = page.inner_text("#experiment-report")
    assert "treatment − control" in text and "p = " in text and "Conversion" in text
    report = page.request.get(f"{server['url']}/v1/audiences/{audience}/report",
                              headers={"X-API-Key": API_KEY}).json()
    treated = report["arms"][0]["conversion"]
    assert treated["count"] > 0 and f"{100 * treated['rate']:.1f}%" in text
    assert page.locator("#experiment-report .ci-range").count() >= 4, "intervals are drawn"
    page.wait_for_timeout(200)
    ARTIFACTS.mkdir(exist_ok=True)
    page.locator("#audiences-card").screenshot(path=str(ARTIFACTS / "dashboard-audiences.png"))
    assert console.errors == [], f"browser errors: {console.errors}"

    # A read key counts but cannot save: the message says why.
    page.fill("#api-key", API_KEY)
    page.click("#key-form button[type=submit]")
    page.fill("#audience-name", "Not allowed")
    page.click("#audience-builder button[type=submit]")
    page.wait_for_selector("#status.error")
    assert "write scope" in page.inner_text("#status")
    page.close()


def test_dashboard_reports_a_rejected_key(server: dict[str, Any], browser: Any) -> None:
    page = browser.new_page()
    console = Console(page)
    page.goto(f"{server['url']}/?key=wrong-key")
    page.wait_for_selector("#status.error", timeout=15_000)
    assert "rejected" in page.inner_text("#status")
    assert page.get_attribute("#segment-map", "data-state") == "error"
    assert all("401" in e for e in console.errors), console.errors
    page.close()


def test_dashboard_loads_without_a_key(server: dict[str, Any], browser: Any) -> None:
    page = browser.new_page()
    console = Console(page)
    page.goto(server["url"] + "/")
    page.wait_for_selector("#status:not([hidden])", timeout=15_000)
    assert "API key" in page.inner_text("#status")
    assert console.errors == []
    page.close()
