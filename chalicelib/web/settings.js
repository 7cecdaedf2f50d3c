// The admin page's settings: the sync schedule, direct exports and the advanced settings,
// each a small form saved on its own with the settings version it was loaded with (the
// API refuses a save over a newer version: 409, then the current settings are shown); the
// recent changes and the pulls of Sage's lists below. Every rule is the API's.

import { get, put } from "./api.js";
import { actorLabel, byId, clear, el, showMessage, timeEl } from "./util.js";

// Sage's lists the connector pulls, in plain words (GET /settings' sync_schedule keys).
const LISTS = {
  jobs: "Sage jobs",
  vendors: "Sage vendors",
  cost_codes: "Cost codes",
  cost_types: "Cost types",
  phases: "Phases (sub jobs)",
  budgets: "Budgets",
  payments: "Payments",
  receipts: "Owner invoice receipts",
  commitments: "Subcontracts and purchase orders",
  receivables: "Job contracts and owner invoices (reconciliation)",
  job_costs: "Job costs (each enabled project)",
};
const SETTINGS = { sync_schedule: "Sync schedule", direct_exports: "Direct exports", advanced: "Advanced" };
const ADVANCED = ["vendor_name_max", "commitment_number_max", "commitment_title_max"];

// Each form: where it saves, what it sends, which input an API field names.
const FORMS = {
  schedule: {
    path: "/settings/sync-schedule",
    body: () => Object.fromEntries(Object.keys(LISTS).map((list) => [list, Number(byId(`schedule-${list}`).value)])),
    input: (field) => `schedule-${field}`,
    done: "Saved the sync schedule.",
  },
  direct: {
    path: "/settings/direct-exports",
    body: () => ({ enabled: byId("settings-direct-exports").checked }),
    input: () => "settings-direct-exports",
    done: () => `Saved: direct exports are ${byId("settings-direct-exports").checked ? "on" : "off"}.`,
  },
  advanced: {
    path: "/settings/advanced",
    body: () => {
      const body = { cost_code_rule: byId("advanced-cost-code-rule").value };
      for (const key of ADVANCED) {
        const value = byId(advancedId(key)).value.trim();
        if (value !== "") body[key] = Number(value);
      }
      return body;
    },
    input: (field) => (field === "cost_code_rule" ? "advanced-cost-code-rule" : advancedId(field)),
    done: "Saved the advanced settings.",
  },
};

const versions = {}; // form name -> the settings version its values were loaded from
let pulls = {};

function advancedId(key) {
  return `advanced-${key.replace(/_/g, "-")}`;
}

export function initSettings() {
  const fields = byId("settings-schedule-fields");
  for (const [list, label] of Object.entries(LISTS)) {
    fields.append(el("div", { class: "field" },
      el("label", { for: `schedule-${list}` }, `${label} (minutes)`),
      el("input", { id: `schedule-${list}`, type: "number", min: 0, max: 10080, step: 1, required: true,
        inputmode: "numeric", "aria-describedby": "settings-schedule-help" })));
  }
  for (const name of Object.keys(FORMS)) {
    byId(`settings-${name}-form`).onsubmit = (event) => {
      event.preventDefault();
      save(name);
    };
  }
}

export async function loadSettings() {
  const note = byId("settings-note");
  let settings;
  try {
    settings = await get("/settings");
  } catch (error) {
    note.textContent = `Could not load the settings: ${error.message}`;
    return false;
  }
  note.textContent = "";
  pulls = settings.pulls || {};
  for (const name of Object.keys(FORMS)) {
    show(name, settings);
    status(name, "", "", false); // an earlier save's outcome no longer applies
  }
  showHistory(settings.history || []);
  showPulls();
  return true;
}

/** One form's values from the settings (and the version they are of). */
function show(name, settings) {
  versions[name] = settings.version;
  const form = byId(`settings-${name}-form`);
  for (const input of form.querySelectorAll("[aria-invalid]")) input.removeAttribute("aria-invalid");
  if (name === "schedule") {
    for (const list of Object.keys(LISTS)) byId(`schedule-${list}`).value = settings.sync_schedule?.[list] ?? "";
  } else if (name === "direct") {
    byId("settings-direct-exports").checked = !!settings.direct_exports;
  } else {
    const advanced = settings.advanced || {};
    for (const key of ADVANCED) byId(advancedId(key)).value = advanced[key] ?? "";
    byId("advanced-cost-code-rule").value = advanced.cost_code_rule || "none";
    showCostTypes(advanced.cost_type_map || {});
  }
}

function showCostTypes(map) {
  const box = clear(byId("advanced-cost-type-map"));
  const entries = Object.entries(map);
  if (!entries.length) {
    box.append(el("p", { class: "help" }, "None set: the default cost types apply."));
    return;
  }
  box.append(el("dl", { class: "facts" }, entries.map(([procore, sage]) => [
    el("dt", null, procore), el("dd", null, `Sage cost type ${sage}`)])));
}

async function save(name) {
  const spec = FORMS[name];
  const form = byId(`settings-${name}-form`);
  const sent = versions[name];
  for (const input of form.querySelectorAll("[aria-invalid]")) input.removeAttribute("aria-invalid");
  let answer;
  try {
    answer = await put(spec.path, { ...spec.body(), version: sent });
  } catch (error) {
    status(name, error.message, "error");
    if (error.status === 409) {
      // Someone changed the settings meanwhile: show what they are now.
      if (await loadSettings()) {
        status(name, `${error.message} The current settings are shown now.`, "error");
      }
      byId(`settings-${name}-title`).focus();
    } else if (error.status === 400) {
      const field = error.body && (error.body.details || {}).field; // the API names the field
      const input = field && byId(spec.input(String(field).split(".")[0]));
      if (input) {
        input.setAttribute("aria-invalid", "true");
        input.focus();
      }
    }
    return;
  }
  status(name, typeof spec.done === "function" ? spec.done() : spec.done, "ok");
  show(name, answer);
  // The other forms were loaded from the version this save replaced: still current.
  for (const other of Object.keys(FORMS)) {
    if (other !== name && versions[other] === sent) versions[other] = answer.version;
  }
  showHistory(answer.history || []);
  byId(`settings-${name}-save`).focus();
}

/** The outcome of a save, beside the form and in the page's message area (announced). */
function status(name, text, kind, announce = true) {
  const box = byId(`settings-${name}-status`);
  box.className = kind ? `message message-${kind}` : "message";
  box.textContent = text;
  if (announce) showMessage(text, kind);
}

// ---- below the forms: the recent changes and the pulls ------------------------------------
function showHistory(history) {
  const body = clear(byId("settings-history").tBodies[0]);
  const rows = history.map((entry, at) => [entry, history.slice(0, at).reverse().find((e) => e.setting === entry.setting)]);
  for (const [entry, before] of rows.reverse().slice(0, 20)) {
    body.append(el("tr", null,
      el("td", null, timeEl(entry.at)),
      el("td", null, actorLabel(entry.by) || "—"),
      el("td", null, SETTINGS[entry.setting] || String(entry.setting || "").replace(/_/g, " ")),
      el("td", null, describe(entry.setting, entry.value, before && before.value))));
  }
  if (!history.length) body.append(el("tr", null, el("td", { colspan: 4 }, "No changes yet.")));
}

/** A setting's new value in words: what changed since the one before, when known. */
function describe(setting, value, before) {
  if (typeof value === "boolean") return value ? "On" : "Off";
  if (!value || typeof value !== "object") return String(value ?? "");
  const changed = Object.entries(value).filter(([key, v]) => !before || JSON.stringify(before[key]) !== JSON.stringify(v));
  const shown = changed.length ? changed : Object.entries(value);
  return shown.map(([key, v]) => {
    if (setting === "sync_schedule") return `${LISTS[key] || key}: ${v ? `every ${v} min` : "off"}`;
    return `${key.replace(/_/g, " ")}: ${v && typeof v === "object" ? JSON.stringify(v) : v}`;
  }).join("; ");
}

function showPulls() {
  const body = clear(byId("settings-pulls").tBodies[0]);
  for (const [list, state] of Object.entries(pulls)) {
    const failure = state.error || state.reason;
    const why = failure && typeof failure === "object" ? JSON.stringify(failure) : failure;
    body.append(el("tr", null,
      el("th", { scope: "row" }, LISTS[list] || list.replace(/_/g, " ")),
      el("td", null, state.status ? state.status.replace(/_/g, " ") : "Never pulled", why ? `: ${why}` : ""),
      el("td", null, state.requested_at ? [timeEl(state.requested_at), state.requested_by ? ` by ${actorLabel(state.requested_by)}` : ""] : "—"),
      el("td", null, state.completed_at ? timeEl(state.completed_at) : "—"),
      el("td", { class: "num" }, state.rows ?? "—")));
  }
  if (!Object.keys(pulls).length) body.append(el("tr", null, el("td", { colspan: 5 }, "No lists pulled yet.")));
}
