// Interest Graph dashboard: reads the /v1 JSON API with the key the user gives and draws the
// segment overview, the segment map (Chart.js) and a user's neighbourhood (Cytoscape.js).
// No inline scripts, no eval; the vendored libraries load as classic deferred scripts before this.
// Each panel is its own ES module (common, segments, map, brief, lookup); this one starts them.

import { $, API, KEY_STORAGE, MAP_LIMIT, api, showStatus, state } from "./common.js";
import { renderSegments, renderTierLegend } from "./segments.js";
import { renderMap } from "./map.js";
import { renderBrief, renderDrift, renderMoves } from "./brief.js";
import { lookup } from "./lookup.js";

// ---- start-up -----------------------------------------------------------------------------------

async function loadOverview() {
  const figure = $("#segment-map");
  figure.dataset.state = "loading";
  // A message another panel shows while this loads (an audience that could not be saved) stays.
  const before = $("#status").textContent;
  try {
    const segments = await api("/segments");
    renderSegments(segments);
    renderBrief(state.segments[0]?.id);
    renderDrift(segments.drift);
    renderMap(await api(`/segments/map?limit=${MAP_LIMIT}`));
    renderMoves(await api("/segments/transitions"));
    if ($("#status").textContent === before) showStatus("");
    return true;
  } catch (err) {
    figure.dataset.state = "error";
    showStatus(err.message, "error");
    return false;
  }
}

function setKey(key) {
  state.key = key.trim();
  try {
    if (state.key) localStorage.setItem(KEY_STORAGE, state.key);
    else localStorage.removeItem(KEY_STORAGE);
  } catch {
    // storage may be disabled; the key still works for this page
  }
  $("#api-key").value = state.key;
}

async function start() {
  renderTierLegend();
  const params = new URLSearchParams(window.location.search);
  let stored = "";
  try {
    stored = localStorage.getItem(KEY_STORAGE) || "";
  } catch {
    stored = "";
  }
  setKey(params.get("key") || stored);
  if (params.has("key")) {
    // Keep the key out of the address bar and history once it is remembered.
    params.delete("key");
    const query = params.toString();
    window.history.replaceState(null, "", window.location.pathname + (query ? `?${query}` : "") + window.location.hash);
  }
  $("#key-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    setKey($("#api-key").value);
    if (await loadOverview()) {
      const user = $("#user-id").value.trim();
      if (user) lookup(user);
    }
  });
  $("#user-lookup").addEventListener("submit", (e) => {
    e.preventDefault();
    lookup($("#user-id").value);
  });
  if (!state.key) {
    showStatus("Enter an API key with read scope to load the dashboard.");
    $("#api-key").focus();
    return;
  }
  const ok = await loadOverview();
  const user = params.get("user");
  if (ok && user) {
    $("#user-id").value = user;
    lookup(user);
  }
}

if (!window.Chart || !window.cytoscape) {
  showStatus("The dashboard's chart libraries did not load.", "error");
} else {
  start();
}
