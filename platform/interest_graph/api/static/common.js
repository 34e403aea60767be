// Shared by the dashboard's panels: constants, state, DOM helpers, formatters and the API client.

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

export { $, API, ApiError, KEY_STORAGE, MAP_LIMIT, NODE_TYPES, TIERS, TIER_COLOUR, api, el, fmtInt, fmtMoney, fmtPct, fmtScore, isNum, segmentColour, short, showStatus, state };
