// Audiences and experiments on the dashboard: a rule builder whose size updates live (GET
// /v1/audiences/count), the saved audiences, and an experiment report with the arms side by side.
// Shares the key, the API helper and the DOM helpers with the dashboard's panels (common.js: the
// same module instance, imported by URL).

import { api, ApiError, el, fmtInt, fmtMoney, isNum, short, showStatus, state } from "./common.js";

const COUNT_DELAY_MS = 300;
const ARM_COLOURS = ["#2f5fb3", "#a3abb8", "#f28e2b", "#59a14f", "#b07aa1"];
const LABELS = {
  value_tier: "value tier", expected_value: "expected value", expected_purchases: "expected purchases",
  churn_risk: "churn risk", p_alive: "P(alive)", recency_days: "days since last purchase",
  frequency: "repeat purchases", monetary: "average spend", events: "events", segment: "segment id",
  segment_label: "segment", category_interest: "interest in category",
  recommended_category: "recommended from category", item_interest: "interest in item",
};
const OPS = {
  eq: "=", gt: ">", gte: "≥", lt: "<", lte: "≤", between: "between", in: "is one of",
  score_gte: "score ≥", rank_lte: "rank ≤",
};

const aud = { fields: [], timer: null, seq: 0, selected: null };
const $ = (selector) => document.querySelector(selector);
const pct1 = new Intl.NumberFormat(undefined, { style: "percent", minimumFractionDigits: 1, maximumFractionDigits: 1 });

// ---- the builder ---------------------------------------------------------------------------------

function fieldOf(name) {
  return aud.fields.find((f) => f.name === name) || aud.fields[0];
}

function valueInput(field, op) {
  if (field.kind === "text" && field.values) {
    const select = el("select", { class: "cond-value", multiple: op === "in", "aria-label": "value" },
      field.values.map((v) => el("option", { value: v }, v)));
    if (op === "in") select.size = Math.min(6, field.values.length);
    return select;
  }
  if (field.kind === "number" && op === "between") {
    return el("span", { class: "cond-value between" },
      el("input", { type: "number", step: "any", class: "lo", "aria-label": "from", value: 0 }),
      "and",
      el("input", { type: "number", step: "any", class: "hi", "aria-label": "to", value: 100 }));
  }
  if (field.kind === "text") {
    return el("input", { class: "cond-value", type: "text", "aria-label": "value",
      placeholder: op === "in" ? "a, b, c" : "value" });
  }
  const value = field.kind === "interest" ? (op === "rank_lte" ? 5 : 0.1) : 0;
  return el("input", { class: "cond-value", type: "number", step: op === "rank_lte" ? 1 : "any",
    min: op === "rank_lte" ? 1 : undefined, "aria-label": "value", value });
}

function renderCondition(row, fieldName, op) {
  const field = fieldOf(fieldName);
  const ops = field.ops.includes(op) ? op : field.ops[field.kind === "number" ? 2 : 0];
  const fieldSelect = el("select", { class: "cond-field", "aria-label": "field" },
    aud.fields.map((f) => el("option", { value: f.name, selected: f.name === field.name }, LABELS[f.name] || f.name)));
  const opSelect = el("select", { class: "cond-op", "aria-label": "operator" },
    field.ops.map((o) => el("option", { value: o, selected: o === ops }, OPS[o] || o)));
  const subject = field.kind === "interest"
    ? el("input", { class: "cond-subject", type: "text", "aria-label": field.subject, required: true,
      placeholder: field.subject === "category" ? "category, e.g. HOLDER" : "item id" })
    : null;
  fieldSelect.addEventListener("change", () => { renderCondition(row, fieldSelect.value); scheduleCount(); });
  opSelect.addEventListener("change", () => { renderCondition(row, field.name, opSelect.value); scheduleCount(); });
  const negate = el("label", { class: "cond-not", title: "Exclude users who match" },
    el("input", { type: "checkbox", class: "cond-negate", checked: row.dataset.not === "1" }), "not");
  negate.firstChild.addEventListener("change", (e) => { row.dataset.not = e.target.checked ? "1" : ""; });
  const remove = el("button", { type: "button", class: "ghost", "aria-label": "Remove condition",
    onclick: () => { row.remove(); scheduleCount(); } }, "×");
  row.dataset.field = field.name;
  row.replaceChildren(...[negate, fieldSelect, subject, opSelect, valueInput(field, ops), remove].filter(Boolean));
}

function addCondition(fieldName, op) {
  const row = el("li", { class: "condition" });
  renderCondition(row, fieldName, op);
  $("#audience-conditions").append(row);
  return row;
}

function leafOf(row) {
  const field = fieldOf(row.dataset.field);
  const op = row.querySelector(".cond-op").value;
  const leaf = { field: field.name };
  if (field.kind === "interest") {
    const subject = row.querySelector(".cond-subject").value.trim();
    if (!subject) return null;
    leaf[field.subject] = subject;
  }
  leaf.op = op;
  const input = row.querySelector(".cond-value");
  if (field.kind === "number" && op === "between") {
    leaf.value = [Number(input.querySelector(".lo").value), Number(input.querySelector(".hi").value)];
  } else if (field.kind === "text") {
    const values = input.tagName === "SELECT"
      ? [...input.selectedOptions].map((o) => o.value)
      : input.value.split(",").map((v) => v.trim()).filter(Boolean);
    if (!values.length) return null;
    leaf.value = op === "in" ? values : values[0];
  } else {
    if (input.value === "") return null;
    leaf.value = Number(input.value);
  }
  return row.querySelector(".cond-negate").checked ? { not: leaf } : leaf;
}

function currentRule() {
  const parts = [...document.querySelectorAll("#audience-conditions .condition")].map(leafOf);
  if (!parts.length || parts.includes(null)) return null;
  return { [$("#audience-combine").value]: parts };
}

function setSize(text, size, error = false) {
  const out = $("#audience-size");
  out.dataset.size = size === null ? "" : String(size);
  out.classList.toggle("error", error);
  out.replaceChildren(...text);
}

function scheduleCount() {
  clearTimeout(aud.timer);
  aud.timer = setTimeout(updateCount, COUNT_DELAY_MS);
}

async function updateCount() {
  const rule = currentRule();
  if (!rule) {
    setSize(["Complete every condition to see the size."], null);
    return;
  }
  const seq = ++aud.seq;
  setSize(["Counting…"], null);
  try {
    const { size } = await api(`/audiences/count?rule=${encodeURIComponent(JSON.stringify(rule))}`);
    if (seq !== aud.seq) return;
    const control = Number($("#audience-control").value) || 0;
    setSize([el("strong", {}, fmtInt.format(size)), " users match",
      control > 0 ? ` · about ${fmtInt.format(Math.round((size * control) / 100))} held out as control` : ""], size);
  } catch (err) {
    if (seq !== aud.seq) return;
    const where = err instanceof ApiError && err.field ? ` (${err.field})` : "";
    setSize([`${err.message}${where}`], null, true);
  }
}

async function saveAudience(event) {
  event.preventDefault();
  const rule = currentRule();
  const name = $("#audience-name").value.trim();
  if (!rule || !name) {
    showStatus("Give the audience a name and complete every condition.", "error");
    return;
  }
  const control = Math.max(0, Math.min(90, Number($("#audience-control").value) || 0));
  const arms = control > 0
    ? [{ name: "treatment", weight: 100 - control }, { name: "control", weight: control }]
    : [{ name: "treatment", weight: 1 }];
  const button = event.submitter || $("#audience-builder button[type=submit]");
  button.disabled = true;
  try {
    const created = await api("/audiences", { method: "POST", body: { name, rule, arms } });
    showStatus(`Saved “${created.name}”: ${fmtInt.format(created.size)} members.`);
    await loadAudiences(created.id);
  } catch (err) {
    const hint = err instanceof ApiError && err.status === 403 ? " Saving needs a key with the write scope." : "";
    showStatus(`${err.message}${hint}`, "error");
  } finally {
    button.disabled = false;
  }
}

// ---- saved audiences and the report ---------------------------------------------------------------

function armChips(a) {
  return (a.arms || []).map((arm, i) => el("span", { class: "arm-chip", vars: { "--c": ARM_COLOURS[i % ARM_COLOURS.length] } },
    `${arm.name} ${fmtInt.format(arm.members)}`));
}

async function loadAudiences(select) {
  const body = $("#audiences-body");
  let payload;
  try {
    payload = await api("/audiences");
  } catch (err) {
    body.replaceChildren(el("tr", { class: "placeholder" }, el("td", { colspan: 4 }, err.message)));
    return;
  }
  const list = payload.audiences || [];
  $("#audiences-note").textContent = list.length ? `${list.length} saved` : "";
  if (!list.length) {
    body.replaceChildren(el("tr", { class: "placeholder" }, el("td", { colspan: 4 }, "No audiences yet: build one on the left.")));
    return;
  }
  body.replaceChildren(...list.map((a) => el("tr", {
    tabindex: 0, "data-audience": a.id, class: a.id === aud.selected ? "selected" : "",
    onclick: () => showReport(a.id),
    onkeydown: (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); showReport(a.id); } },
  },
  el("td", {}, el("div", { class: "seg-label" }, short(a.name, 60)), el("div", { class: "seg-cats" }, a.id)),
  el("td", { class: "num" }, fmtInt.format(a.size)),
  el("td", {}, armChips(a)),
  el("td", { class: "num" }, new Date(a.created_at * 1000).toLocaleDateString()))));
  if (select) showReport(select);
}

function intervalBar(value, low, high, scale, colour, format) {
  if (!isNum(value)) return el("span", { class: "muted" }, "–");
  const pos = (x) => `${Math.max(0, Math.min(100, (100 * x) / scale))}%`;
  const hasCi = isNum(low) && isNum(high);
  return el("div", { class: "ci" },
    el("div", { class: "ci-text" }, el("strong", {}, format(value)),
      hasCi ? el("span", { class: "muted" }, ` [${format(low)}, ${format(high)}]`) : ""),
    el("div", { class: "ci-track", role: "img", "aria-label": hasCi ? `${format(value)}, 95% interval ${format(low)} to ${format(high)}` : format(value) },
      hasCi ? el("span", { class: "ci-range", vars: { "--l": pos(low), "--r": pos(high), "--c": colour } }) : null,
      el("span", { class: "ci-point", vars: { "--x": pos(value), "--c": colour } })));
}

function diffText(d, percent) {
  if (!d || !isNum(d.diff)) return "–";
  const f = (x) => (percent ? `${x >= 0 ? "+" : ""}${(100 * x).toFixed(1)} pts` : `${x >= 0 ? "+" : ""}${fmtMoney.format(x)}`);
  const ci = isNum(d.low) && isNum(d.high) ? ` [${f(d.low)}, ${f(d.high)}]` : "";
  const p = isNum(d.p_value) ? `, p = ${d.p_value < 0.001 ? "<0.001" : d.p_value.toFixed(3)}` : "";
  const verdict = isNum(d.p_value) ? (d.p_value < 0.05 ? " · significant at 5%" : " · not significant") : "";
  return `${f(d.diff)}${ci}${p}${verdict}`;
}

function renderReport(a, report) {
  const box = $("#experiment-report");
  const arms = report.arms || [];
  const colour = new Map(arms.map((arm, i) => [arm.arm, ARM_COLOURS[i % ARM_COLOURS.length]]));
  const rateScale = Math.max(0.05, ...arms.flatMap((x) => [x.conversion?.high, x.target_conversion?.high, x.hit_rate?.high]).filter(isNum));
  const revScale = Math.max(1, ...arms.map((x) => x.revenue_per_member?.high ?? x.revenue_per_member?.mean).filter(isNum));
  const row = (label, cell) => el("tr", {}, el("th", { scope: "row" }, label), arms.map((x) => el("td", {}, cell(x))));
  const rateCell = (pick) => (x) => {
    const r = pick(x);
    return r ? intervalBar(r.rate, r.low, r.high, rateScale, colour.get(x.arm), (v) => pct1.format(v)) : el("span", { class: "muted" }, "–");
  };
  const hasTarget = arms.some((x) => x.target_conversion);
  const hasHits = arms.some((x) => x.hit_rate);
  const started = report.started_at ? new Date(report.started_at * 1000).toLocaleString() : "–";
  box.dataset.state = "ready";
  box.dataset.arms = String(arms.length);
  box.replaceChildren(
    el("div", { class: "report-head" },
      el("h3", {}, `Experiment · ${short(a.name, 70)}`),
      el("button", { type: "button", class: "ghost", onclick: () => exportCsv(a) }, "Export CSV")),
    el("p", { class: "card-note report-note" }, `Started ${started} · ${fmtInt.format(report.cohort)} members at the start · outcomes from events ingested since · 95% intervals`),
    el("div", { class: "table-wrap" }, el("table", { class: "segments report-table" },
      el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "Arm"), arms.map((x) => el("th", { scope: "col" },
        el("span", { class: "swatch", vars: { "--c": colour.get(x.arm) } }), ` ${x.arm}`)))),
      el("tbody", {},
        row("Members", (x) => fmtInt.format(x.members)),
        row("Conversion (any purchase)", rateCell((x) => x.conversion)),
        hasTarget ? row("Conversion in the target", rateCell((x) => x.target_conversion)) : null,
        row("Revenue per member", (x) => intervalBar(x.revenue_per_member.mean, x.revenue_per_member.low,
          x.revenue_per_member.high, revScale, colour.get(x.arm), (v) => fmtMoney.format(v))),
        hasHits ? row("Hit rate of served recommendations", rateCell((x) => x.hit_rate)) : null))),
    el("ul", { class: "comparisons" }, (report.comparisons || []).map((c) => el("li", {},
      el("strong", {}, `${c.arm} − ${c.reference}`), ": conversion ", diffText(c.conversion, true),
      "; revenue per member ", diffText(c.revenue_per_member, false),
      c.hit_rate ? ["; hit rate ", diffText(c.hit_rate, true)] : null))));
}

async function showReport(id) {
  aud.selected = id;
  for (const tr of document.querySelectorAll("#audiences-body tr[data-audience]")) {
    tr.classList.toggle("selected", tr.dataset.audience === id);
  }
  const box = $("#experiment-report");
  box.dataset.state = "loading";
  try {
    const [a, report] = await Promise.all([api(`/audiences/${encodeURIComponent(id)}`),
      api(`/audiences/${encodeURIComponent(id)}/report`)]);
    renderReport(a, report);
  } catch (err) {
    box.dataset.state = "error";
    box.replaceChildren(el("p", { class: "muted" }, err.message));
  }
}

async function exportCsv(a) {
  try {
    const response = await api(`/audiences/${encodeURIComponent(a.id)}/export?format=csv`, { raw: true });
    const url = URL.createObjectURL(await response.blob());
    const link = el("a", { href: url, download: `${a.id}.csv` });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  } catch (err) {
    showStatus(err.message, "error");
  }
}

// ---- start-up ------------------------------------------------------------------------------------

async function startAudiences() {
  if (!state.key) return;
  try {
    aud.fields = (await api("/audiences/fields")).fields;
  } catch (err) {
    $("#audience-size").textContent = err.message;
    return;
  }
  const list = $("#audience-conditions");
  if (!list.children.length) {
    addCondition("value_tier", "in");
    addCondition("category_interest", "rank_lte");
  }
  $("#audience-builder").dataset.state = "ready";
  scheduleCount();
  await loadAudiences();
}

$("#add-condition").addEventListener("click", () => { addCondition("expected_value", "gte"); scheduleCount(); });
$("#audience-builder").addEventListener("input", scheduleCount);
$("#audience-builder").addEventListener("change", scheduleCount);
$("#audience-builder").addEventListener("submit", saveAudience);
$("#key-form").addEventListener("submit", () => setTimeout(startAudiences, 0));
startAudiences();
