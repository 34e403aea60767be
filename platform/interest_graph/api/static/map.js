// The segment map (Chart.js): each user at their map position, coloured by segment.

import { $, MAP_LIMIT, el, fmtInt, isNum, segmentColour, short, state } from "./common.js";

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

export { renderMap, styleMap };
