// A segment's brief against the whole base, and the movements between refreshes.

import { $, el, fmtInt, fmtMoney, fmtPct, isNum, state } from "./common.js";
import { tierBar } from "./segments.js";

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

export { renderBrief, renderDrift, renderMoves };
