// The inbox list: status tabs with counts, filters, the items table, bulk accept.

import { act, changed } from "./actions.js";
import { get, query } from "./api.js";
import {
  STATUS_ORDER, actorLabel, byId, clear, el, kindLabel, showMessage,
  statusLabel, timeEl,
} from "./util.js";

const ALWAYS_SHOWN = ["ready_to_export", "not_ready", "accepted", "exporting", "synced", "failed", "rejected"];
const PAGE_SIZE = 50;

const state = {
  status: "ready_to_export",
  items: [],
  nextCursor: null,
  selected: new Set(),
  counts: null,
  loading: 0,
  me: null,
  openDetail: null,
  currentId: null,
};

export function initList(me, openDetail) {
  state.me = me;
  state.openDetail = openDetail;
  renderTabs(null); // "…" until the first /status answer, which is not a change
  byId("filter-kind").onchange = () => reload();
  byId("filter-project").onchange = () => reload();
  byId("filter-project").onkeydown = (event) => {
    if (event.key === "Enter") {
      event.preventDefault();
      reload();
    }
  };
  byId("filter-sender").oninput = () => renderRows();
  byId("search-number").oninput = () => renderRows();
  byId("sort-order").onchange = () => renderRows();
  byId("load-more").onclick = () => load({ append: true });
  byId("select-all").onchange = (event) => selectAllShown(event.target.checked);
  const bulk = byId("accept-selected");
  byId("select-all").disabled = !canAccept();
  if (canAccept()) {
    bulk.disabled = false;
    bulk.removeAttribute("title");
    byId("accept-selected-why").textContent = "";
  } else {
    bulk.disabled = true;
    const why = "Accepting needs ERP Integrations standard or admin with Can Push to Accounting.";
    bulk.title = why;
    byId("accept-selected-why").textContent = why;
  }
  bulk.onclick = () => acceptSelected();
}

function canAccept() {
  return !!(state.me && state.me.can && state.me.can.accept_or_reject);
}

export function resetList() {
  state.items = [];
  state.nextCursor = null;
  state.selected.clear();
  state.counts = null;
  state.currentId = null;
  state.status = "ready_to_export";
  clear(byId("bulk-outcome"));
  byId("bulk-outcome").hidden = true;
}

/** Mark the row whose detail is open (or none). */
export function setCurrent(itemId) {
  state.currentId = itemId;
  for (const row of byId("items").tBodies[0].rows) {
    if (row.dataset.itemId === itemId) row.setAttribute("aria-current", "true");
    else row.removeAttribute("aria-current");
  }
}

export function rowFor(itemId) {
  return [...byId("items").tBodies[0].rows].find((row) => row.dataset.itemId === itemId) || null;
}

// ---- tabs ------------------------------------------------------------------------------
function tabStatuses(counts) {
  const extra = Object.keys(counts).filter((s) => !ALWAYS_SHOWN.includes(s) && counts[s] > 0);
  const all = [...ALWAYS_SHOWN, ...extra];
  return STATUS_ORDER.filter((s) => all.includes(s)).concat(all.filter((s) => !STATUS_ORDER.includes(s)));
}

/** Draw the status tabs from /status counts ("…" while unknown: null). Answers whether
 * the current tab's count changed. */
export function renderTabs(known) {
  const previous = state.counts;
  const counts = known || {};
  state.counts = known;
  const tabs = byId("status-tabs");
  const total = Object.values(counts).reduce((sum, n) => sum + (Number(n) || 0), 0);
  const wanted = [...tabStatuses(counts), "all"];
  const held = [...tabs.querySelectorAll("button[data-status]")].map((b) => b.dataset.status);
  const countOf = (status) => (!known ? "…" : status === "all" ? total : counts[status] || 0);
  if (held.join(",") === wanted.join(",")) {
    // Same tabs: update the counts in place (focus and screen readers undisturbed).
    for (const button of tabs.querySelectorAll("button[data-status]")) {
      const count = button.querySelector(".count");
      const text = String(countOf(button.dataset.status));
      if (count.textContent !== text) count.textContent = text;
      button.setAttribute("aria-pressed", button.dataset.status === state.status ? "true" : "false");
    }
  } else {
    const focused = tabs.contains(document.activeElement) ? document.activeElement.dataset.status : undefined;
    clear(tabs);
    for (const status of wanted) {
      tabs.append(el("button", {
        type: "button",
        class: `tab status-${status}`,
        dataset: { status },
        "aria-pressed": state.status === status ? "true" : "false",
        onclick: () => chooseStatus(status),
      }, status === "all" ? "All" : statusLabel(status), " ", el("span", { class: "count" }, String(countOf(status)))));
    }
    if (focused) {
      const again = tabs.querySelector(`[data-status="${CSS.escape(focused)}"]`);
      if (again) again.focus();
    }
  }
  if (!previous) return false;
  const key = state.status;
  return key === "all" ? total !== Object.values(previous).reduce((s, n) => s + (Number(n) || 0), 0)
    : (previous[key] || 0) !== (counts[key] || 0);
}

function chooseStatus(status) {
  state.status = status;
  for (const tab of byId("status-tabs").querySelectorAll("button[data-status]")) {
    tab.setAttribute("aria-pressed", tab.dataset.status === status ? "true" : "false");
  }
  state.selected.clear();
  reload();
}

// ---- loading ---------------------------------------------------------------------------
export function reload() {
  return load({ append: false });
}

async function load({ append }) {
  const project = byId("filter-project").value.trim();
  if (project && !/^\d+$/.test(project)) {
    showMessage("The project filter takes a Procore project id (digits only).");
    byId("filter-project").focus();
    return;
  }
  const params = {
    status: state.status === "all" ? "" : state.status,
    kind: byId("filter-kind").value,
    project_id: project,
    limit: PAGE_SIZE,
    cursor: append ? state.nextCursor : "",
  };
  const ticket = ++state.loading;
  byId("items").setAttribute("aria-busy", "true");
  try {
    const answer = await get(`/items${query(params)}`);
    if (ticket !== state.loading) return; // a newer load started meanwhile
    const items = answer.items || [];
    state.items = append ? mergeItems(state.items, items) : items;
    state.nextCursor = answer.next_cursor || null;
    const known = new Set(state.items.map((i) => i.id));
    for (const id of [...state.selected]) if (!known.has(id)) state.selected.delete(id);
    renderRows();
  } catch (error) {
    if (ticket === state.loading) showMessage(error.message);
  } finally {
    if (ticket === state.loading) byId("items").removeAttribute("aria-busy");
  }
}

function mergeItems(held, more) {
  const seen = new Set(held.map((i) => i.id));
  return held.concat(more.filter((i) => !seen.has(i.id)));
}

// ---- the table -------------------------------------------------------------------------
function shownItems() {
  const sender = byId("filter-sender").value.trim().toLowerCase();
  const search = byId("search-number").value.trim().toLowerCase();
  const oldest = byId("sort-order").value === "oldest";
  const items = state.items.filter((item) => {
    if (sender) {
      const who = [item.status_by, item.sent_by].filter(Boolean)
        .flatMap((actor) => [actor, actorLabel(actor)]).join(" ").toLowerCase();
      if (!who.includes(sender)) return false;
    }
    if (search) {
      const text = `${item.number || ""} ${item.title || ""}`.toLowerCase();
      if (!text.includes(search)) return false;
    }
    return true;
  });
  const stamp = (item) => item.updated_at || item.created_at || "";
  items.sort((a, b) => (oldest ? stamp(a).localeCompare(stamp(b)) : stamp(b).localeCompare(stamp(a))));
  return items;
}

export function renderRows() {
  const body = byId("items").tBodies[0];
  const focusedId = document.activeElement && body.contains(document.activeElement)
    ? document.activeElement.closest("tr")?.dataset.itemId : null;
  const focusedBox = focusedId && document.activeElement.matches("input[type=checkbox]");
  clear(body);
  const items = shownItems();
  for (const item of items) body.append(row(item));
  if (!items.length) {
    const filtered = state.items.length > 0;
    body.append(el("tr", { class: "empty" }, el("td", { colspan: 7 },
      filtered ? "No items match the filters." : "Nothing here right now.")));
  }
  const summary = byId("list-summary");
  summary.textContent = `${items.length} shown` + (state.items.length !== items.length
    ? ` of ${state.items.length} loaded` : "") + (state.nextCursor ? "; more to load" : "");
  byId("load-more").hidden = !state.nextCursor;
  updateSelectAll(items);
  setCurrent(state.currentId);
  if (focusedId) {
    const again = rowFor(focusedId);
    if (again) (focusedBox ? again.querySelector("input[type=checkbox]") : again).focus();
  }
}

function row(item) {
  const name = item.number || item.id;
  const checkbox = el("input", {
    type: "checkbox",
    dataset: { select: item.id },
    "aria-label": `Select ${name}${item.title ? ` ${item.title}` : ""}`,
  });
  checkbox.checked = state.selected.has(item.id);
  // Selecting only serves bulk accept: not open to someone who cannot accept.
  if (!canAccept()) {
    checkbox.disabled = true;
    checkbox.title = "Only an accounting approver can select items to accept.";
  }
  checkbox.onchange = () => {
    if (checkbox.checked) state.selected.add(item.id);
    else state.selected.delete(item.id);
    updateSelectAll(shownItems());
  };
  const who = item.status_by || item.sent_by;
  const tr = el("tr", { tabindex: "0", dataset: { itemId: item.id } },
    el("td", { class: "select" }, checkbox),
    el("td", { class: "number" }, item.number || "—"),
    el("td", { class: "title" }, item.title || "(no title)",
      item.status === "failed" && item.failure
        ? el("span", { class: "row-note" }, `Sage: ${item.failure.message || item.failure.code}`) : null,
      item.status === "not_ready" && item.reasons && item.reasons.length
        ? el("span", { class: "row-note" }, item.reasons[0] + (item.reasons.length > 1 ? ` (+${item.reasons.length - 1} more)` : ""))
        : null),
    el("td", { class: "kind" }, kindLabel(item)),
    el("td", { class: "project" }, item.project_id ?? "—"),
    el("td", { class: "status" }, statusBadge(item.status)),
    el("td", { class: "who" }, who ? actorLabel(who) : "", who ? el("br") : null,
      timeEl(item.updated_at || item.created_at)));
  tr.addEventListener("click", (event) => {
    if (event.target.closest("input, button, a, label")) return;
    state.openDetail(item.id);
  });
  tr.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && event.target === tr) {
      event.preventDefault();
      state.openDetail(item.id);
    }
  });
  return tr;
}

/** The status in words; a CSS symbol beside it, so colour is never the only signal. */
export function statusBadge(status, dataset = {}) {
  return el("span", { class: `badge status-${status}`, dataset: { value: status, ...dataset } },
    statusLabel(status));
}

function updateSelectAll(items) {
  const box = byId("select-all");
  const chosen = items.filter((i) => state.selected.has(i.id)).length;
  box.checked = items.length > 0 && chosen === items.length;
  box.indeterminate = chosen > 0 && chosen < items.length;
  byId("selected-count").textContent = state.selected.size ? `${state.selected.size} selected` : "";
}

function selectAllShown(checked) {
  for (const item of shownItems()) {
    if (checked) state.selected.add(item.id);
    else state.selected.delete(item.id);
  }
  for (const box of byId("items").querySelectorAll("input[data-select]")) {
    box.checked = state.selected.has(box.dataset.select);
  }
  updateSelectAll(shownItems());
}

// ---- bulk accept -----------------------------------------------------------------------
async function acceptSelected() {
  const order = shownItems().map((i) => i.id).filter((id) => state.selected.has(id));
  const rest = [...state.selected].filter((id) => !order.includes(id));
  const ids = order.concat(rest);
  const list = byId("bulk-outcome");
  if (!ids.length) {
    showMessage("Select one or more items first (use the boxes in the first column).");
    return;
  }
  const button = byId("accept-selected");
  button.disabled = true;
  clear(list);
  list.hidden = false;
  showMessage(`Accepting ${ids.length} item${ids.length === 1 ? "" : "s"}…`, "info");
  let accepted = 0;
  for (const id of ids) {
    const item = state.items.find((i) => i.id === id);
    const name = (item && item.number) || id;
    const li = el("li", { dataset: { itemId: id } }, `${name}: accepting…`);
    list.append(li);
    const answer = await act(id, "accept", undefined, { quiet: true, deferRefresh: true });
    if (answer && !answer.error) {
      accepted += 1;
      li.textContent = `${name}: accepted`;
      li.className = "ok";
      state.selected.delete(id);
    } else {
      li.textContent = `${name}: ${answer.message || "not accepted"}`;
      li.className = "refused";
    }
  }
  button.disabled = false;
  const refused = ids.length - accepted;
  showMessage(`Accepted ${accepted} of ${ids.length}` + (refused ? `; ${refused} not accepted (see the list below the table).` : "."),
    refused ? "error" : "ok");
  changed(null);
}
