// The item detail: fields, reasons, Sage's failure, lines, what changed since the last
// export, the preview of the Sage command, the history, and the action buttons.

import { ACTIONS, STATUS_ALLOWS, act } from "./actions.js";
import { get } from "./api.js";
import { renderLines, renderDiff } from "./lines.js";
import { setCurrent, rowFor, statusBadge } from "./list.js";
import {
  actionLabel, actorLabel, byId, clear, el, kindLabel, money, showMessage, statusLabel, timeEl,
} from "./util.js";

const state = { me: null, item: null, id: null, loading: 0, opener: null };

// Which Procore tool's admins may retrieve and resend each kind (permissions.py).
const TOOL_FOR_KIND = {
  commitment: "commitments", cco: "change_orders", budget: "budget", vendor: "directory",
  project: "projects", subcontractor_invoice: "invoicing",
};

let wired = false;

export function initDetail(me) {
  state.me = me;
  if (wired) return;
  wired = true;
  byId("detail-close").onclick = () => closeDetail();
  byId("load-preview").onclick = () => loadPreview();
  setUpRejectDialog();
  setUpAcceptDialog();
}

export function resetDetail() {
  state.item = null;
  state.id = null;
  byId("detail").hidden = true;
  document.body.classList.remove("detail-open");
}

export function isOpen() {
  return !byId("detail").hidden;
}

export function currentId() {
  return state.id;
}

/** Open an item's detail (GET /items/{id}) and move focus to its heading. */
export async function openDetail(itemId, { focus = true } = {}) {
  const ticket = ++state.loading;
  const opening = state.id !== itemId;
  state.id = itemId;
  setCurrent(itemId);
  if (opening) {
    clear(byId("detail-preview"));
    byId("detail-preview").hidden = true;
  }
  try {
    const item = await get(`/items/${encodeURIComponent(itemId)}`);
    if (ticket !== state.loading || state.id !== itemId) return;
    state.item = item;
    render(item);
    const section = byId("detail");
    section.hidden = false;
    document.body.classList.add("detail-open");
    if (focus) byId("detail-title").focus();
  } catch (error) {
    if (ticket === state.loading) showMessage(error.message);
  }
}

/** Reload the open detail after a change (keeps focus where it can). */
export async function refreshDetail(itemId) {
  if (!isOpen() || !state.id || (itemId && itemId !== state.id)) return;
  const active = document.activeElement;
  // A button disabled while its action ran has dropped focus to <body>: bring it back too.
  const hadFocus = !active || active === document.body || byId("detail").contains(active);
  await openDetail(state.id, { focus: false });
  if (hadFocus && (!document.activeElement || document.activeElement === document.body)) {
    byId("detail-title").focus();
  }
}

export function closeDetail() {
  const id = state.id;
  resetDetail();
  setCurrent(null);
  const row = id && rowFor(id);
  if (row) row.focus();
  else byId("items").focus();
}

// ---- rendering -------------------------------------------------------------------------
function field(name, value) {
  return el("span", { dataset: { field: name } }, value ?? "");
}

function render(item) {
  const snapshot = item.snapshot || {};
  const title = byId("detail-title");
  title.textContent = `${kindLabel(item)} ${item.number || item.id}`;

  const facts = clear(byId("detail-facts"));
  const fact = (label, value) => facts.append(el("dt", null, label), el("dd", null, value));
  fact("Status", statusBadge(item.status, { field: "status" }));
  fact("Number", field("number", item.number || "—"));
  fact("Title", field("title", item.title || "(no title)"));
  fact("Kind", field("kind", kindLabel(item)));
  fact("Procore project", field("project", item.project_id ?? "—"));
  if (snapshot.vendor && snapshot.vendor.name) fact("Vendor", snapshot.vendor.name);
  const total = snapshot.grand_total ?? snapshot.total ?? snapshot.revised_total;
  if (total !== undefined && total !== null) fact("Total", el("span", { class: "amount" }, money(total)));
  if (item.status_reason) fact("Why", item.status_reason);
  if (item.sent_by) fact("Sent by", [field("sent-by", actorLabel(item.sent_by)), item.sent_at ? [", ", timeEl(item.sent_at)] : null]);
  if (item.status_by && item.status_by !== item.sent_by) fact("Last changed by", actorLabel(item.status_by));
  fact("Last change", timeEl(item.updated_at));
  if (item.created_at) fact("First seen", timeEl(item.created_at));
  const keys = Object.entries(item.sage_keys || item.erp_keys || {});
  if (keys.length) fact("In Sage as", keys.map(([k, v]) => `${k} ${v}`).join(", "));

  if (item.export && item.export.operation) {
    fact("Sage gets", item.export.operation === "modify" ? "a change to its existing record" : "a new record");
  }

  const waiting = byId("detail-waiting");
  const notes = [item.waiting];
  if (item.waiting_change || item.change_waiting) {
    notes.push("A newer change from Procore is waiting: Sage gets what was accepted first, then the change comes back for a new acceptance.");
  }
  if (item.deleted_in_procore) notes.push("This was deleted in Procore.");
  if (item.writeback_error) notes.push(`Procore did not take the Sage id back: ${item.writeback_error}`);
  waiting.textContent = notes.filter(Boolean).join(" ");
  waiting.hidden = !waiting.textContent;

  const reasons = clear(byId("detail-reasons"));
  for (const reason of item.reasons || []) reasons.append(el("li", null, reason));
  byId("detail-reasons-box").hidden = !(item.reasons && item.reasons.length);

  const failureBox = byId("detail-failure");
  const failure = item.failure || null;
  clear(failureBox);
  if (failure) {
    const parts = [el("strong", null, "Failed in Sage. "),
      `Sage ${failure.code ?? ""}: ${failure.message ?? ""}`,
      failure.retryable ? el("span", { class: "note" }, " Sage may take it if you try again.") : null,
      failure.attempts ? el("span", { class: "note" }, ` Attempts: ${failure.attempts}.`) : null];
    // DOM append writes null as the text "null": only the parts there are.
    failureBox.append(...parts.filter((part) => part !== null));
  }
  failureBox.hidden = !failure;

  renderActions(item);
  renderLines(byId("detail-lines"), snapshot);
  // Projects and companies have no lines: no empty table for them.
  byId("detail-lines").hidden = !Array.isArray(snapshot.lines) && (item.kind === "project" || item.kind === "vendor");
  renderDiff(byId("detail-diff"), item);
  renderOtherFields(snapshot);
  renderHistory(item.history || []);
}

function renderOtherFields(snapshot) {
  const list = clear(byId("detail-fields"));
  const scalars = Object.entries(snapshot).filter(([, v]) => v === null || typeof v !== "object");
  for (const [key, value] of scalars) {
    list.append(el("dt", null, key.replace(/_/g, " ")), el("dd", null, value === null || value === "" ? "—" : String(value)));
  }
  byId("detail-fields-box").hidden = scalars.length === 0;
}

function renderHistory(history) {
  const list = clear(byId("detail-history"));
  for (const event of history) {
    const change = event.from_status && event.to_status && event.from_status !== event.to_status
      ? ` (${statusLabel(event.from_status)} → ${statusLabel(event.to_status)})` : "";
    list.append(el("li", null, timeEl(event.at), " — ", el("strong", null, actorLabel(event.actor)), ": ",
      actionLabel(event.action), change,
      event.reason ? el("div", { class: "reason" }, event.reason) : null));
  }
  if (!history.length) list.append(el("li", null, "No history yet."));
}

// ---- actions ---------------------------------------------------------------------------
function fallbackActions(item) {
  // Only when the API gave no "actions": work it out from the caller's levels.
  const can = (state.me && state.me.can) || {};
  const levels = (state.me && state.me.tool_levels) || {};
  const toolAdmin = levels[TOOL_FOR_KIND[item.kind]] === "admin";
  const result = {};
  for (const action of ACTIONS) {
    const statusOk = STATUS_ALLOWS[action].includes(item.status);
    const personOk = action === "accept" || action === "reject" ? !!can.accept_or_reject : toolAdmin;
    result[action] = {
      allowed: statusOk && personOk,
      why: personOk ? `The item is ${statusLabel(item.status)}.`
        : action === "accept" || action === "reject"
          ? "Only an accounting approver (ERP standard or admin with Can Push to Accounting) can do this."
          : "Only an admin on the Procore tool that holds this item can do this.",
    };
  }
  return result;
}

function renderActions(item) {
  const box = clear(byId("detail-actions"));
  const actions = item.actions || fallbackActions(item);
  for (const action of ACTIONS) {
    const info = actions[action] || { allowed: false, why: "" };
    // "possible": the status allows it (whoever asks); else the lifecycle table here.
    const statusOk = typeof info.possible === "boolean" ? info.possible
      : STATUS_ALLOWS[action].includes(item.status);
    if (!info.allowed && !statusOk) continue;
    const button = el("button", {
      type: "button",
      id: `action-${action}`,
      class: action === "accept" ? "primary" : action === "reject" ? "danger" : "",
    }, actionLabel(action));
    if (info.allowed) {
      button.onclick = () => startAction(action, button);
      box.append(button);
    } else {
      const why = info.why || "You do not have permission to do this.";
      button.disabled = true;
      button.title = why;
      button.setAttribute("aria-describedby", `action-${action}-why`);
      box.append(el("span", { class: "action-wrap" }, button,
        el("span", { class: "vh", id: `action-${action}-why` }, `${actionLabel(action)} is not available to you: ${why}`)));
    }
  }
  if (!box.childNodes.length) {
    box.append(el("p", { class: "note" }, `Nothing to do here while it is ${statusLabel(item.status).toLowerCase()}.`));
  }
}

async function startAction(action, button) {
  const item = state.item;
  if (!item) return;
  state.opener = button;
  if (action === "reject") {
    openReject();
    return;
  }
  if (action === "accept" && (item.kind === "project" || item.kind === "vendor")) {
    openAccept(item);
    return;
  }
  button.disabled = true;
  try {
    await act(item.id, action);
  } finally {
    button.disabled = false;
  }
}

function setUpRejectDialog() {
  const dialog = byId("reject-dialog");
  byId("reject-form").onsubmit = async (event) => {
    event.preventDefault();
    const reason = byId("reject-reason").value.trim();
    const error = byId("reject-error");
    if (!reason) {
      error.textContent = "Write a reason: the sender needs to know what to fix.";
      byId("reject-reason").focus();
      return;
    }
    error.textContent = "";
    const confirm = byId("reject-confirm");
    confirm.disabled = true;
    const answer = await act(state.id, "reject", { reason });
    confirm.disabled = false;
    if (answer.error) {
      error.textContent = answer.message;
      return;
    }
    dialog.close();
  };
  byId("reject-cancel").onclick = () => dialog.close();
  dialog.addEventListener("close", () => returnFocus());
}

function openReject() {
  const dialog = byId("reject-dialog");
  byId("reject-reason").value = "";
  byId("reject-error").textContent = "";
  byId("reject-item").textContent = state.item ? `${state.item.number || state.item.id} ${state.item.title || ""}` : "";
  dialog.showModal();
  byId("reject-reason").focus();
}

function setUpAcceptDialog() {
  const dialog = byId("accept-dialog");
  byId("accept-form").onsubmit = async (event) => {
    event.preventDefault();
    const item = state.item;
    const value = byId("accept-number").value.trim();
    const error = byId("accept-error");
    if (value && !/^\d+$/.test(value)) {
      error.textContent = "Use digits only.";
      return;
    }
    if (item.kind === "project" && !value) {
      error.textContent = "Give the Sage job number for this project.";
      return;
    }
    const key = item.kind === "project" ? "sage_job_number" : "sage_vendor_number";
    const body = value ? { [key]: Number(value) } : undefined;
    byId("accept-confirm").disabled = true;
    const answer = await act(item.id, "accept", body);
    byId("accept-confirm").disabled = false;
    if (answer.error) {
      error.textContent = answer.message;
      return;
    }
    dialog.close();
  };
  byId("accept-cancel").onclick = () => dialog.close();
  dialog.addEventListener("close", () => returnFocus());
}

function openAccept(item) {
  const dialog = byId("accept-dialog");
  const project = item.kind === "project";
  byId("accept-label").textContent = project ? "Sage job number" : "Sage vendor number (optional)";
  byId("accept-help").textContent = project
    ? "The new job's number in Sage. The project number is proposed."
    : "Leave it blank and Sage gives the next vendor number.";
  const proposed = project ? (item.snapshot || {}).proposed_job_number : (item.snapshot || {}).proposed_vendor_number;
  byId("accept-number").value = proposed ?? "";
  byId("accept-error").textContent = "";
  dialog.showModal();
  byId("accept-number").focus();
}

function returnFocus() {
  const opener = state.opener;
  state.opener = null;
  if (opener && opener.isConnected && !opener.disabled) opener.focus();
  else if (isOpen()) byId("detail-title").focus();
}

// ---- preview ---------------------------------------------------------------------------
async function loadPreview() {
  const id = state.id;
  const pre = byId("detail-preview");
  if (!id) return;
  pre.hidden = false;
  pre.textContent = "Loading what Sage would get…";
  try {
    const answer = await get(`/items/${encodeURIComponent(id)}/preview`);
    if (state.id !== id) return;
    const refused = answer.refused || answer.problem;
    if (refused) {
      pre.textContent = `Sage would not take this as it is now:\n${refused}`;
      return;
    }
    const shown = { ...answer };
    for (const key of ["item_id", "status", "refused", "problem"]) delete shown[key];
    pre.textContent = JSON.stringify(shown, null, 2);
  } catch (error) {
    pre.textContent = `Could not load the preview: ${error.message}`;
    showMessage(error.message);
  }
}
