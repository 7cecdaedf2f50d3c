// Small helpers shared by the inbox modules: DOM building, formatting, plain-words labels,
// and the #message area.

export const STATUS_ORDER = [
  "ready_to_export", "not_ready", "accepted", "exporting", "synced", "failed",
  "rejected", "retrieved", "withdrawn", "unlinked",
];

export const STATUS_LABELS = {
  ready_to_export: "Ready to export",
  not_ready: "Not ready",
  accepted: "Accepted",
  exporting: "Sending to Sage",
  synced: "In Sage",
  failed: "Failed in Sage",
  rejected: "Rejected",
  retrieved: "Retrieved by sender",
  withdrawn: "Deleted in Procore",
  unlinked: "Unlinked",
  new: "New",
};

export const ACTION_LABELS = {
  accept: "Accept", reject: "Reject", retrieve: "Retrieve", resend: "Resend",
  observe_ready: "Read from Procore: ready",
  observe_not_ready: "Read from Procore: not ready",
  observe_deleted: "Deleted in Procore",
  observe_in_sync: "Procore matches Sage again",
  begin_export: "Sent to Sage",
  export_succeeded: "Saved in Sage",
  export_failed: "Sage refused it",
  unlink: "Unlinked",
};

export const KIND_LABELS = {
  commitment: "Commitment",
  cco: "Change order",
  subcontractor_invoice: "Subcontractor invoice",
  budget: "Budget",
  project: "Project (Sage job)",
  vendor: "Company (Sage vendor)",
};

const SUBTYPE_LABELS = { subcontract: "Subcontract", purchase_order: "Purchase order" };

export function statusLabel(status) {
  return STATUS_LABELS[status] || String(status || "").replace(/_/g, " ");
}

export function kindLabel(item) {
  if (item.kind === "commitment" && SUBTYPE_LABELS[item.subtype]) return SUBTYPE_LABELS[item.subtype];
  return KIND_LABELS[item.kind] || String(item.kind || "").replace(/_/g, " ");
}

export function actionLabel(action) {
  return ACTION_LABELS[action] || String(action || "").replace(/_/g, " ");
}

/** el("td", {class: "x", dataset: {a: 1}, onclick: fn}, "text", childNode, ...) */
export function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.startsWith("on") && typeof value === "function") {
      node.addEventListener(key.slice(2), value);
    } else if (value === true) node.setAttribute(key, "");
    else node.setAttribute(key, String(value));
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    if (Array.isArray(child)) append(node, child);
    else node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function clear(node) {
  while (node.firstChild) node.removeChild(node.firstChild);
  return node;
}

export function byId(id) {
  return document.getElementById(id);
}

const MONEY = new Intl.NumberFormat(undefined, { minimumFractionDigits: 2, maximumFractionDigits: 2 });

/** "1234.5" -> "1,234.50" (in the reader's locale); "" for nothing; the text as is when not a number. */
export function money(value) {
  if (value === undefined || value === null || value === "") return "";
  const number = typeof value === "number" ? value : Number(String(value).replace(/,/g, ""));
  return Number.isFinite(number) ? MONEY.format(number) : String(value);
}

export function toNumber(value) {
  if (value === undefined || value === null || value === "") return null;
  const number = typeof value === "number" ? value : Number(String(value).replace(/,/g, ""));
  return Number.isFinite(number) ? number : null;
}

/** An ISO time as the reader's local date and time. */
export function when(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return String(iso);
  return date.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

export function timeEl(iso) {
  return iso ? el("time", { datetime: iso }, when(iso)) : "";
}

/** Actors such as "system:intake" in words. */
export function actorLabel(actor) {
  if (!actor) return "";
  const system = {
    "system:intake": "Procore (automatic)",
    "system:exporter": "the connector",
    "system:direct-export": "direct exports",
    "system:results": "Sage (relay agent)",
  };
  return system[actor] || actor;
}

// ---- the #message area: outcomes and the API's messages ----------------------------------
export function showMessage(text, kind = "error") {
  const box = byId("message");
  if (!box) return;
  box.className = `message message-${kind}`;
  box.textContent = text;
}

export function clearMessage() {
  const box = byId("message");
  if (!box) return;
  box.className = "message";
  box.textContent = "";
}
