// The segment overview: the table of segments with their tiers and churn risk.

import { $, TIERS, TIER_COLOUR, el, fmtInt, fmtMoney, fmtPct, isNum, segmentColour, state } from "./common.js";
import { styleMap } from "./map.js";
import { renderBrief } from "./brief.js";

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

export { renderSegments, renderTierLegend, riskBadge, tierBar };
