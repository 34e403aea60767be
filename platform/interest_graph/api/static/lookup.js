// User lookup: recommendations with reasons, why this segment, and the neighbourhood graph (Cytoscape.js).

import { $, API, ApiError, NODE_TYPES, TIER_COLOUR, api, el, fmtMoney, fmtPct, fmtScore, isNum, short, showStatus, state } from "./common.js";
import { riskBadge } from "./segments.js";

// ---- why this segment (user lookup) -------------------------------------------------------------

function renderWhy(segment) {
  const box = $("#user-why");
  const why = segment && segment.why;
  if (!why) {
    box.hidden = true;
    box.replaceChildren();
    return;
  }
  const shared = new Set(why.shared || []);
  const chip = (name, label, extra) => el("li", { class: shared.has(name) ? "chip shared" : "chip", title: shared.has(name) ? "also distinctive of the segment" : "" }, label, extra);
  box.hidden = false;
  box.replaceChildren(
    el("h3", {}, "Why this segment"),
    el("p", { class: "why-text" }, why.text),
    el("div", { class: "why-grid" },
      el("div", {}, el("h4", {}, "This customer buys"),
        el("ul", { class: "chips" }, (why.categories || []).map((c) => chip(c.category, c.label, el("small", {}, ` ${fmtPct.format(c.share)}`))))),
      el("div", {}, el("h4", {}, "The segment over-indexes on"),
        el("ul", { class: "chips" }, (why.segment_categories || []).map((c, i) => chip(c, (why.segment_labels || [])[i] || c)))),
      el("div", {}, el("h4", {}, "Value tier"),
        el("p", { class: "why-tier" },
          el("span", { class: "swatch", vars: { "--c": TIER_COLOUR.get(why.tier) || "#c3cad6" }, "aria-hidden": "true" }),
          why.tier || "none",
          why.segment_tier ? el("small", { class: "muted" }, ` · segment mostly ${why.segment_tier} (${fmtPct.format(why.segment_tier_share || 0)})`) : null))));
}

// ---- user lookup --------------------------------------------------------------------------------

function renderRecommendations(payload) {
  const list = $("#recommendations");
  const items = payload.items || [];
  list.dataset.count = String(items.length);
  if (!items.length) {
    list.replaceChildren(el("li", { class: "empty" }, "No recommendations for this user yet."));
    return;
  }
  const best = Math.max(...items.map((r) => (isNum(r.score) ? r.score : 0)), 1e-9);
  list.replaceChildren(...items.map((r, i) => el("li", {},
    el("span", { class: "rank", "aria-label": `rank ${r.rank ?? i + 1}` }, String(r.rank ?? i + 1)),
    el("div", { class: "rec-title" }, r.title || r.item, el("small", {}, r.item)),
    el("div", { class: "rec-score", title: "model score" }, isNum(r.score) ? fmtScore.format(r.score) : "",
      el("span", { class: "bar" }, el("span", { vars: { "--w": `${Math.max(4, (100 * (r.score || 0)) / best)}%` } }))),
    el("div", { class: "rec-reason" }, r.reason || ""))));
}

function fact(label, ...value) {
  return el("div", { class: "fact" }, el("dt", {}, label), el("dd", {}, ...value));
}

function renderSummary(userId, recs, segment, value) {
  const box = $("#user-summary");
  const facts = [fact("Customer", userId)];
  // /users/<id>/segment: {segment: {id, label, ...} | null, ...}; older shapes had flat fields.
  const seg = segment && (typeof segment.segment === "object" && segment.segment !== null ? segment.segment : segment);
  const segId = seg && (typeof seg.segment === "string" ? seg.segment : seg.id ?? seg.segment_id);
  const segLabel = seg && (seg.label ?? seg.segment_label ?? state.labels.get(segId));
  if (segLabel || segId) {
    facts.push(fact("Segment",
      el("span", { class: "swatch", vars: { "--c": state.colours.get(segId) || "#999" }, "aria-hidden": "true" }),
      segLabel || segId));
  }
  if (value) {
    const tier = value.tier ?? value.value_tier;
    if (tier) facts.push(fact("Value tier", el("span", { class: "swatch", vars: { "--c": TIER_COLOUR.get(tier) || "#999" }, "aria-hidden": "true" }), tier));
    if (isNum(value.expected_value)) facts.push(fact("Expected value", fmtMoney.format(value.expected_value)));
    if (isNum(value.churn_risk) || value.churn_basis) facts.push(fact("Churn risk", riskBadge(value.churn_risk, value.churn_basis)));
  }
  if (recs && recs.fallback) {
    facts.push(fact("Recommendations", el("span", { class: "badge", title: "Not enough history: popular items are shown" }, "fallback")));
  }
  box.replaceChildren(el("dl", { class: "facts" }, facts));
}

function edgeStyle(type) {
  const t = String(type || "").toUpperCase();
  if (t.includes("RECOMMEND") || t === "INTERESTED_IN") return "recommended";
  if (t.includes("CATEGORY")) return "category";
  if (t.includes("SEGMENT")) return "segment";
  if (t.includes("SIMILAR")) return "similar";
  return "interacted";
}

function renderGraphLegend(types) {
  const list = $("#graph-legend");
  list.replaceChildren(...Object.entries(NODE_TYPES).filter(([t]) => types.has(t)).map(([, v]) =>
    el("li", {}, el("i", { vars: { "--c": v.colour }, "aria-hidden": "true" }), v.label)));
}

function bareId(id, type) {
  const s = String(id);
  return s.startsWith(`${type}:`) ? s.slice(type.length + 1) : s;
}

function renderGraph(payload, userId, graphId) {
  const container = $("#user-graph");
  if (state.cy) {
    state.cy.destroy();
    state.cy = null;
  }
  container.replaceChildren();
  const nodes = payload.nodes || [];
  const ids = new Set(nodes.map((n) => String(n.id)));
  const edges = (payload.edges || []).filter((e) => ids.has(String(e.source)) && ids.has(String(e.target)));
  if (!nodes.length) {
    container.dataset.state = "empty";
    container.dataset.nodes = "0";
    container.textContent = "No neighbourhood for this user.";
    return;
  }
  // The looked-up user: the user node named by the id, else the best-connected user node.
  const degree = new Map();
  for (const e of edges) {
    degree.set(String(e.source), (degree.get(String(e.source)) || 0) + 1);
    degree.set(String(e.target), (degree.get(String(e.target)) || 0) + 1);
  }
  const users = nodes.filter((n) => n.type === "user");
  const names = new Set([userId, graphId].filter(Boolean).map(String));
  const centre = users.find((n) => names.has(String(n.id)) || names.has(bareId(n.id, "user")) || names.has(String(n.label)))
    || users.sort((a, b) => (degree.get(String(b.id)) || 0) - (degree.get(String(a.id)) || 0))[0];
  const recommended = new Set(edges.filter((e) => edgeStyle(e.type) === "recommended")
    .flatMap((e) => [String(e.source), String(e.target)]));
  const maxWeight = Math.max(...edges.map((e) => Math.abs(e.weight || 0)), 1e-9);
  const elements = [
    ...nodes.map((n) => {
      const base = NODE_TYPES[n.type] ? n.type : "item";
      const type = base === "item" && recommended.has(String(n.id)) ? "recommended" : base;
      const segKey = bareId(n.id, "segment");
      const colour = n.type === "segment" && state.colours.has(segKey) ? state.colours.get(segKey) : NODE_TYPES[type].colour;
      const isCentre = centre && String(n.id) === String(centre.id);
      // Interacted items and other users stay unlabelled (hover shows the name) to keep it legible.
      const label = isCentre ? userId : type === "user" || type === "item" ? "" : short(n.label || n.id, 26);
      return { group: "nodes", data: { id: String(n.id), label, full: n.label || n.id, type, colour,
        size: isCentre ? 40 : NODE_TYPES[type].size }, classes: isCentre ? `${type} centre` : type === "recommended" ? "item recommended" : type };
    }),
    ...edges.map((e, i) => ({ group: "edges", data: { id: `e${i}`, source: String(e.source), target: String(e.target),
      w: 0.6 + (3 * Math.abs(e.weight || 0)) / maxWeight, type: e.type }, classes: edgeStyle(e.type) })),
  ];
  const cy = window.cytoscape({
    container,
    elements,
    wheelSensitivity: 0.3,
    minZoom: 0.2,
    maxZoom: 4,
    style: [
      { selector: "node", style: {
        "background-color": "data(colour)", width: "data(size)", height: "data(size)",
        label: "data(label)", "font-size": 9, color: "#33415c", "text-valign": "bottom",
        "text-margin-y": 3, "text-wrap": "ellipsis", "text-max-width": 110,
        "text-background-color": "#ffffff", "text-background-opacity": 0.7, "text-background-padding": 1,
        "border-width": 1, "border-color": "#ffffff" } },
      { selector: "node.item", style: { shape: "round-rectangle" } },
      { selector: "node.recommended", style: { "border-width": 2, "border-color": "#dff3f0", color: "#1d6d64" } },
      { selector: "node.category", style: { shape: "diamond", "font-size": 10, "font-weight": 600, color: "#8a4b0f" } },
      { selector: "node.segment", style: { shape: "hexagon", "font-size": 10, "font-weight": 600 } },
      { selector: "node.user", style: { shape: "ellipse", "background-color": "#7d8aa6" } },
      { selector: "node.centre", style: { "background-color": "#1f2a44", "border-width": 3, "border-color": "#f2c14e",
        "font-size": 12, "font-weight": 700, color: "#1f2a44", "z-index": 20, "text-background-opacity": 1 } },
      { selector: "edge", style: { width: "data(w)", "line-color": "#c5cedd", "curve-style": "haystack", opacity: 0.8 } },
      { selector: "edge.recommended", style: { "line-color": "#2a9d8f", "line-style": "dashed", opacity: 0.9 } },
      { selector: "edge.category", style: { "line-color": "#f5c08e" } },
      { selector: "edge.segment", style: { "line-color": "#d6bfd0", "line-style": "dotted" } },
      { selector: "edge.similar", style: { "line-color": "#9cc7e8" } },
      { selector: "node:selected", style: { "border-width": 3, "border-color": "#e15759" } },
      { selector: "node.hover", style: { label: "data(full)", "z-index": 10, "text-background-opacity": 1 } },
    ],
    layout: { name: "cose", animate: false, randomize: false, nodeRepulsion: () => 14000,
      idealEdgeLength: (edge) => (edge.hasClass("category") ? 45 : 85), gravity: 0.3, numIter: 1500, padding: 24,
      fit: true },
  });
  cy.on("mouseover", "node", (e) => e.target.addClass("hover"));
  cy.on("mouseout", "node", (e) => e.target.removeClass("hover"));
  state.cy = cy;
  container.dataset.nodes = String(cy.nodes().length);
  container.dataset.edges = String(cy.edges().length);
  container.dataset.state = "ready";
  container.setAttribute("aria-label", `Interest neighbourhood of ${userId}: ${cy.nodes().length} nodes, ${cy.edges().length} edges`);
  renderGraphLegend(new Set(elements.filter((e) => e.group === "nodes").map((e) => e.data.type)));
}

async function lookup(userId) {
  const form = $("#user-lookup");
  const button = form.querySelector("button");
  const id = userId.trim();
  if (!id) return;
  button.disabled = true;
  $("#recommendations").dataset.count = "0";
  $("#user-graph").dataset.state = "loading";
  const path = `/users/${encodeURIComponent(id)}`;
  try {
    const [recs, graph] = await Promise.all([api(`${path}/recommendations?k=10`), api(`${path}/graph?depth=2&limit=150`)]);
    // Segment and value are extras: show them when the API has them.
    const [segment, value] = await Promise.all([
      api(`${path}/segment`).catch(() => null), api(`${path}/value`).catch(() => null)]);
    renderSummary(id, recs, segment, value);
    renderWhy(segment);
    renderRecommendations(recs);
    renderGraph(graph, id, recs.user);
    showStatus("");
  } catch (err) {
    const unknown = err instanceof ApiError && err.status === 404;
    const message = unknown ? `No user with id “${id}”. Use the shop's own customer id.` : err.message;
    $("#user-summary").replaceChildren(el("p", { class: "muted" }, message));
    renderWhy(null);
    $("#recommendations").replaceChildren();
    const container = $("#user-graph");
    if (state.cy) { state.cy.destroy(); state.cy = null; }
    container.dataset.state = "error";
    container.dataset.nodes = "0";
    container.replaceChildren(el("span", {}, unknown ? "Unknown user" : "Could not load the graph"));
    showStatus(message, "error");
  } finally {
    button.disabled = false;
  }
}

export { lookup };
