// Interest Graph dashboard: reads the /v1 JSON API with the key the user gives and draws the
// segment overview, the segment map (Chart.js) and a user's neighbourhood (Cytoscape.js).
// No inline scripts, no eval; the vendored libraries load as classic deferred scripts before this.

const API = "/v1";
const KEY_STORAGE = "interestgraph.apiKey";
const MAP_LIMIT = 2000;

/** Categorical palette (Tableau 10), extended with evenly spaced hues when there are more segments. */
const PALETTE = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1",
  "#ff9da7", "#9c755f", "#bab0ac"];

/** RFM tiers from best to worst, with a green → grey ordinal scale. */
const TIERS = [
  ["champions", "#1b7f4b"], ["loyal", "#3fa66a"], ["potential loyalists", "#8cc97a"],
  ["new", "#4e9bd1"], ["promising", "#9cc7e8"], ["need attention", "#f2c14e"],
  ["about to sleep", "#f29b4e"], ["at risk", "#e0623f"], ["can't lose", "#b8323a"],
  ["hibernating", "#a3abb8"],
];
const TIER_COLOUR = new Map(TIERS);

const NODE_TYPES = {
  user: { colour: "#1f2a44", label: "User", shape: "ellipse", size: 26 },
  item: { colour: "#4e79a7", label: "Item", shape: "round-rectangle", size: 16 },
  recommended: { colour: "#2a9d8f", label: "Recommended item", shape: "round-rectangle", size: 20 },
  category: { colour: "#f28e2b", label: "Category", shape: "diamond", size: 22 },
  segment: { colour: "#b07aa1", label: "Segment (map colour)", shape: "hexagon", size: 30 },
};

const state = {
  key: "",
  segments: [],
  colours: new Map(), // segment id → colour
  labels: new Map(), // segment id → label
  chart: null,
  cy: null,
  selectedSegment: null,
};

const $ = (selector) => document.querySelector(selector);

// ---- small DOM helpers --------------------------------------------------------------------------

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") node.className = value;
    else if (name === "text") node.textContent = value;
    else if (name === "vars") for (const [k, v] of Object.entries(value)) node.style.setProperty(k, v);
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function showStatus(message, kind = "info") {
  const box = $("#status");
  if (!message) {
    box.hidden = true;
    box.textContent = "";
    return;
  }
  box.hidden = false;
  box.textContent = message;
  box.classList.toggle("error", kind === "error");
}

const fmtInt = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
const fmtMoney = new Intl.NumberFormat(undefined, { minimumFractionDigits: 2, maximumFractionDigits: 2 });
const fmtPct = new Intl.NumberFormat(undefined, { style: "percent", maximumFractionDigits: 0 });
const fmtScore = new Intl.NumberFormat(undefined, { minimumFractionDigits: 3, maximumFractionDigits: 3 });

function isNum(v) {
  return typeof v === "number" && Number.isFinite(v);
}

function short(text, n) {
  const s = String(text ?? "");
  return s.length > n ? `${s.slice(0, n - 1)}…` : s;
}

function segmentColour(id, index) {
  if (state.colours.has(id)) return state.colours.get(id);
  const i = index ?? state.colours.size;
  const colour = i < PALETTE.length ? PALETTE[i] : `hsl(${Math.round((i * 137.5) % 360)} 55% 50%)`;
  state.colours.set(id, colour);
  return colour;
}

// ---- API ----------------------------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, code, message, field) {
    super(message);
    this.status = status;
    this.code = code;
    this.field = field;
  }
}

async function api(path, { method = "GET", body, raw = false } = {}) {
  if (!state.key) throw new ApiError(401, "no_key", "Enter an API key to load data.");
  let response;
  try {
    const headers = { "X-API-Key": state.key, Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    response = await fetch(API + path, {
      method, headers, cache: "no-store", body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (err) {
    throw new ApiError(0, "network", `The API could not be reached (${err.message}).`);
  }
  if (raw && response.ok) return response;
  let payload = null;
  try {
    payload = await response.json();
  } catch {
    payload = null;
  }
  if (!response.ok) {
    const error = (payload && payload.error) || {};
    let message = error.message || `${response.status} ${response.statusText}`;
    if (response.status === 401 || response.status === 403) {
      message = `The API key was rejected (${response.status}): ${error.message || "check the key and its read scope"}.`;
    }
    throw new ApiError(response.status, error.code || String(response.status), message, error.field);
  }
  return payload;
}

// ---- segments -----------------------------------------------------------------------------------

function renderTierLegend() {
  const list = $("#tier-legend");
  list.replaceChildren(...TIERS.map(([name, colour]) =>
    el("li", {}, el("i", { vars: { "--c": colour }, "aria-hidden": "true" }), name)));
}

function tierBar(tiers, size) {
  const entries = Object.entries(tiers || {}).filter(([, n]) => n > 0);
  const known = TIERS.map(([t]) => t);
  entries.sort((a, b) => {
    const ia = known.indexOf(a[0]);
    const ib = known.indexOf(b[0]);
    return (ia < 0 ? 99 : ia) - (ib < 0 ? 99 : ib);
  });
  const total = entries.reduce((s, [, n]) => s + n, 0) || size || 1;
  const description = entries.map(([t, n]) => `${t} ${fmtPct.format(n / total)}`).join(", ");
  const bar = el("div", { class: "tiers", role: "img", "aria-label": description || "no value tiers",
    title: description },
  entries.map(([t, n]) => el("span", { vars: { "--c": TIER_COLOUR.get(t) || "#c3cad6",
    "--w": `${(100 * n) / total}%` } })));
  const top = [...entries].sort((a, b) => b[1] - a[1])[0];
  const caption = top ? el("div", { class: "tier-top" }, `mostly ${top[0]} (${fmtPct.format(top[1] / total)})`) : null;
  return [bar, caption];
}

function riskBadge(risk, basis) {
  // The basis says how the figure was made (BG/NBD or recency), or why there is none.
  if (!isNum(risk)) return el("span", { class: "muted", title: basis || "no churn estimate" }, "–");
  const level = risk < 0.35 ? "low" : risk < 0.65 ? "mid" : "high";
  const text = risk < 0.1 ? `${(100 * risk).toFixed(1)}%` : fmtPct.format(risk);
  return el("span", { class: `risk ${level}`, title: `${level} churn risk (${(100 * risk).toFixed(1)}%)${basis ? `; ${basis}` : ""}` }, text);
}

function renderSegments(payload) {
  const segments = [...(payload.segments || [])].sort((a, b) => (b.size || 0) - (a.size || 0));
  state.segments = segments;
  state.colours.clear();
  state.labels.clear();
  segments.forEach((s, i) => {
    segmentColour(s.id, i);
    state.labels.set(s.id, s.label || s.id);
  });
  const total = segments.reduce((n, s) => n + (s.size || 0), 0);
  const body = $("#segments-body");
  if (!segments.length) {
    body.replaceChildren(el("tr", { class: "placeholder" },
      el("td", { colspan: 5 }, "No segments yet: run a full refresh (interestgraph refresh full).")));
  } else {
    body.replaceChildren(...segments.map((s) => {
      const colour = state.colours.get(s.id);
      const share = total ? s.size / total : 0;
      const row = el("tr", { tabindex: 0, "data-segment": s.id, "aria-label": `Highlight ${s.label} on the map`,
        onclick: () => selectSegment(s.id), onkeydown: (e) => {
          if (e.key === "Enter" || e.key === " ") { e.preventDefault(); selectSegment(s.id); }
        } },
      el("td", {}, el("div", { class: "seg-name" },
        el("span", { class: "swatch", vars: { "--c": colour }, "aria-hidden": "true" }),
        el("div", {},
          el("div", { class: "seg-label" }, s.label || s.id),
          el("div", { class: "seg-cats" }, segmentCategoryWords(s).slice(0, 4).join(" · "))))),
      el("td", { class: "num" }, fmtInt.format(s.size || 0),
        el("span", { class: "share", title: `${fmtPct.format(share)} of users` },
          el("span", { vars: { "--c": colour, "--w": `${100 * share}%` } }))),
      el("td", {}, tierBar(s.tiers, s.size)),
      el("td", { class: "num" }, isNum(s.avg_expected_value) ? fmtMoney.format(s.avg_expected_value) : "–"),
      el("td", { class: "num" }, riskBadge(s.avg_churn_risk, s.churn_basis)));
      return row;
    }));
  }
  const silhouette = segments.find((s) => isNum(s.silhouette))?.silhouette;
  $("#overview-note").textContent = segments.length
    ? `${segments.length} segments · ${fmtInt.format(total)} users` +
      (isNum(silhouette) ? ` · silhouette ${silhouette.toFixed(2)}` : "")
    : "";
  const info = $("#refresh-info");
  info.replaceChildren(
    payload.version ? el("span", {}, "Refresh ", el("strong", {}, payload.version)) : "No active refresh",
    segments.length ? ` · ${fmtInt.format(total)} users in ${segments.length} segments` : "");
}

function segmentCategoryWords(s) {
  const cats = s.categories && s.categories.length ? s.categories.map((c) => c.label || c.name) : s.top_categories || [];
  return cats.map((c) => String(c).toLowerCase());
}

function selectSegment(id) {
  state.selectedSegment = state.selectedSegment === id ? null : id;
  for (const row of document.querySelectorAll("#segments-body tr[data-segment]")) {
    row.classList.toggle("selected", row.dataset.segment === state.selectedSegment);
  }
  styleMap();
  renderBrief(state.selectedSegment || id);
}

// ---- segment map --------------------------------------------------------------------------------

function withAlpha(colour, alpha) {
  if (colour.startsWith("#")) {
    const n = parseInt(colour.slice(1), 16);
    return `rgba(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255}, ${alpha})`;
  }
  return colour.replace(")", ` / ${alpha})`);
}

function styleMap() {
  const chart = state.chart;
  if (!chart) return;
  for (const ds of chart.data.datasets) {
    const dim = state.selectedSegment && ds.segment !== state.selectedSegment;
    ds.backgroundColor = withAlpha(ds.colour, dim ? 0.08 : 0.75);
    ds.borderColor = withAlpha(ds.colour, dim ? 0.1 : 0.95);
    ds.pointRadius = dim ? 2 : state.selectedSegment ? 3.8 : 3;
    ds.order = dim ? 1 : 0;
  }
  chart.update("none");
}

function renderMap(payload) {
  const figure = $("#segment-map");
  const points = payload.points || [];
  const bySegment = new Map();
  for (const p of points) {
    if (!isNum(p.x) || !isNum(p.y)) continue;
    if (!bySegment.has(p.segment)) bySegment.set(p.segment, []);
    bySegment.get(p.segment).push({ x: p.x, y: p.y, user: p.user });
  }
  const order = [...state.segments.map((s) => s.id), ...[...bySegment.keys()].filter((id) => !state.labels.has(id))];
  const datasets = order.filter((id) => bySegment.has(id)).map((id) => ({
    label: state.labels.get(id) || String(id ?? "unassigned"),
    segment: id,
    colour: segmentColour(id),
    data: bySegment.get(id),
    pointRadius: 3,
    pointHoverRadius: 5,
    borderWidth: 0.5,
  }));
  const drawn = datasets.reduce((n, d) => n + d.data.length, 0);
  if (state.chart) state.chart.destroy();
  const canvas = $("#segment-map-canvas");
  state.chart = new window.Chart(canvas, {
    type: "scatter",
    data: { datasets },
    options: {
      animation: false,
      maintainAspectRatio: false,
      responsive: true,
      parsing: false,
      normalized: true,
      interaction: { mode: "nearest", intersect: true },
      scales: {
        x: { ticks: { display: false }, grid: { color: "#eef1f6" }, border: { display: false },
          title: { display: true, text: "projection 1", color: "#8a94a6", font: { size: 11 } } },
        y: { ticks: { display: false }, grid: { color: "#eef1f6" }, border: { display: false },
          title: { display: true, text: "projection 2", color: "#8a94a6", font: { size: 11 } } },
      },
      plugins: {
        legend: { display: false },
        tooltip: {
          callbacks: {
            title: (items) => items[0]?.dataset.label ?? "",
            label: (item) => `user ${short(item.raw.user, 14)}`,
          },
        },
      },
      onClick: (_event, elements) => {
        if (!elements.length) return;
        const { datasetIndex, index } = elements[0];
        const ds = state.chart.data.datasets[datasetIndex];
        const point = ds.data[index];
        const out = $("#map-selection");
        out.replaceChildren("User ", el("code", { title: "pseudonymised graph id" }, point.user),
          " · segment ", el("strong", {}, ds.label));
      },
    },
  });
  styleMap();
  renderMapLegend(datasets);
  figure.dataset.points = String(drawn);
  figure.dataset.state = drawn ? "ready" : "empty";
  $("#map-note").textContent = drawn
    ? `${fmtInt.format(drawn)} users${drawn >= MAP_LIMIT ? " (sample)" : ""} · 2-D projection of interest embeddings`
    : "No users have map positions yet: run a full refresh.";
}

function renderMapLegend(datasets) {
  const list = $("#map-legend");
  list.replaceChildren(...datasets.map((ds, i) => el("li", {},
    el("button", { type: "button", "aria-pressed": "true", title: `Show or hide ${ds.label}`,
      onclick: (e) => {
        const visible = state.chart.isDatasetVisible(i);
        state.chart.setDatasetVisibility(i, !visible);
        e.currentTarget.setAttribute("aria-pressed", String(!visible));
        state.chart.update("none");
      } },
    el("i", { vars: { "--c": ds.colour }, "aria-hidden": "true" }),
    `${short(ds.label, 34)} (${fmtInt.format(ds.data.length)})`))));
}

// ---- segment brief ------------------------------------------------------------------------------

const fmtLift = new Intl.NumberFormat(undefined, { minimumFractionDigits: 1, maximumFractionDigits: 1 });

function versus(value, base, format) {
  if (!isNum(value)) return el("span", { class: "muted" }, "–");
  const arrow = isNum(base) && base !== 0 ? (value > base * 1.05 ? "▲" : value < base * 0.95 ? "▼" : "") : "";
  return el("span", {}, format(value), arrow ? el("span", { class: "trend", "aria-hidden": "true" }, ` ${arrow}`) : null);
}

function compareRow(label, value, base, format) {
  return el("tr", {},
    el("th", { scope: "row" }, label),
    el("td", { class: "num" }, versus(value, base, format)),
    el("td", { class: "num muted" }, isNum(base) ? format(base) : "–"));
}

function renderBrief(id) {
  const box = $("#segment-brief");
  const s = state.segments.find((x) => x.id === id);
  if (!s) {
    box.dataset.state = "empty";
    box.replaceChildren(el("p", { class: "muted" }, state.segments.length ? "No segment selected." : "No segments yet."));
    return;
  }
  box.dataset.state = "ready";
  box.dataset.segment = s.id;
  $("#brief-note").textContent = "Click another segment in the table to read its brief";
  const colour = state.colours.get(s.id) || "#999";
  const cats = s.categories || [];
  const maxLift = Math.max(...cats.map((c) => (isNum(c.lift) ? c.lift : 0)), 1);
  const b = s.behaviour || {};
  const base = s.base_behaviour || {};
  const days = (v) => `${fmtInt.format(v)} d`;
  const count = (v) => fmtLift.format(v);
  box.replaceChildren(
    el("div", { class: "brief-head" },
      el("span", { class: "swatch", vars: { "--c": colour }, "aria-hidden": "true" }),
      el("h3", { class: "brief-label" }, s.label || s.id),
      el("span", { class: "muted" }, `${fmtInt.format(s.size || 0)} customers` + (isNum(s.share) ? ` · ${fmtPct.format(s.share)} of the base` : ""))),
    el("p", { class: "brief-text" }, s.brief || "No brief for this segment (refreshed before briefs existed)."),
    el("div", { class: "brief-grid" },
      el("div", {},
        el("h4", {}, "Buys more often than the base"),
        el("ul", { class: "lifts" }, cats.map((c) => el("li", {},
          el("span", { class: "lift-name" }, c.label || c.name),
          el("span", { class: "lift-bar", title: `${fmtPct.format(c.share || 0)} of members; ${fmtLift.format(c.lift || 0)}× the base rate` },
            el("span", { vars: { "--w": `${(100 * (c.lift || 0)) / maxLift}%`, "--c": colour } })),
          el("span", { class: "num" }, isNum(c.lift) ? `${fmtLift.format(c.lift)}×` : "–"))))),
      el("div", {},
        el("h4", {}, "Value"),
        tierBar(s.tiers, s.size),
        el("table", { class: "compare" },
          el("thead", {}, el("tr", {}, el("th", {}, ""), el("th", { class: "num" }, "segment"), el("th", { class: "num" }, "base"))),
          el("tbody", {},
            compareRow("Expected 90-day value", s.avg_expected_value, s.base_expected_value, (v) => fmtMoney.format(v)),
            compareRow("Churn risk", s.avg_churn_risk, s.base_churn_risk, (v) => fmtPct.format(v)),
            compareRow("Days since last purchase", b.recency_days, base.recency_days, days),
            compareRow("Purchase days", b.frequency, base.frequency, count),
            compareRow("Spend per purchase day", b.order_value, base.order_value, (v) => fmtMoney.format(v)),
            compareRow("Items per purchase day", b.items_per_order, base.items_per_order, count))),
        el("p", { class: "basis" }, `Churn: ${s.churn_basis || "not estimated"}.`))));
}

// ---- segment movements and drift ----------------------------------------------------------------

function renderDrift(drift) {
  const box = $("#drift");
  if (!drift || !drift.users) {
    box.replaceChildren();
    return;
  }
  box.classList.toggle("due", Boolean(drift.due));
  box.replaceChildren(
    el("strong", {}, drift.due ? "Re-segmentation due: " : "Drift: "),
    `${fmtPct.format(drift.share)} of ${fmtInt.format(drift.users)} users lie beyond their segment's usual distance ` +
      `(a full re-segmentation is due above ${fmtPct.format(drift.limit)}).`);
}

function movesLabel(id, label, index) {
  // A full refresh starts from the previous centroids: the same index is the same segment, so a
  // previous segment takes the colour of its successor.
  const current = state.colours.has(id) ? id : state.segments.find((s) => s.id.endsWith(`:${index}`))?.id;
  return el("span", { class: "seg-name" },
    el("span", { class: "swatch", vars: { "--c": state.colours.get(current) || "#c3cad6" }, "aria-hidden": "true" }),
    label || id);
}

function renderMoves(payload) {
  const body = $("#moves-body");
  const table = $("#moves-table");
  const moves = payload.moves || [];
  table.dataset.rows = String(moves.length);
  if (!moves.length) {
    $("#moves-note").textContent = payload.version ? "One refresh so far" : "";
    body.replaceChildren(el("tr", { class: "placeholder" },
      el("td", { colspan: 3 }, "No movements yet: they appear after the next full refresh.")));
    return;
  }
  $("#moves-note").textContent = `${fmtInt.format(payload.moved)} of ${fmtInt.format(payload.total)} users ` +
    `(${fmtPct.format(payload.total ? payload.moved / payload.total : 0)}) changed segment since ${payload.previous}`;
  // Movers first: the rows a marketer acts on; then who stayed.
  const sorted = [...moves].sort((a, b) => (a.from_index === a.to_index) - (b.from_index === b.to_index) || b.users - a.users);
  body.replaceChildren(...sorted.map((m) => {
    const stayed = m.from_index === m.to_index;
    return el("tr", { class: stayed ? "stayed" : "moved" },
      el("td", {}, movesLabel(m.from_id, m.from_label, m.from_index)),
      el("td", {}, stayed ? el("span", { class: "muted" }, "stayed") : movesLabel(m.to_id, m.to_label, m.to_index)),
      el("td", { class: "num" }, fmtInt.format(m.users)));
  }));
}

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

// ---- start-up -----------------------------------------------------------------------------------

async function loadOverview() {
  const figure = $("#segment-map");
  figure.dataset.state = "loading";
  try {
    const segments = await api("/segments");
    renderSegments(segments);
    renderBrief(state.segments[0]?.id);
    renderDrift(segments.drift);
    renderMap(await api(`/segments/map?limit=${MAP_LIMIT}`));
    renderMoves(await api("/segments/transitions"));
    showStatus("");
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

// Shared with audiences.js (the same module instance: it imports this file by URL).
export { api, ApiError, el, fmtInt, fmtMoney, fmtPct, isNum, short, showStatus, state };
