// The reports page (CSV downloads and an on-screen view) and the admin page (users, settings).

import { download, get, put, query } from "./api.js";
import { byId, clear, el, money, showMessage } from "./util.js";
import { initLinks, loadLinks } from "./links.js";
import { initSettings, loadSettings } from "./settings.js";

const REPORTS = {
  "report-accountant": { path: "/reports/accountant", project: "none", file: "accountant-report.csv",
    title: "Accountant report", can: "view_accountant_report" },
  "report-job-costs": { path: "/reports/job-costs", project: "optional", file: "erp-job-costs.csv",
    title: "Job costs" },
  "report-unsyncable": { path: "/reports/unsyncable-direct-costs", project: "required",
    file: "unsyncable-direct-costs.csv", title: "Unsyncable direct costs" },
  "report-reconciliation": { path: "/reports/reconciliation", project: "required", file: "reconciliation.csv",
    title: "Reconciliation (Procore vs Sage)", can: "view_reconciliation_report" },
};

let me = null;

export function initReports(user) {
  me = user;
  initLinks(user);
  for (const [id, report] of Object.entries(REPORTS)) {
    const csv = byId(`${id}-csv`);
    const show = byId(`${id}-show`);
    csv.onclick = (event) => {
      event.preventDefault();
      runReport(report, "csv");
    };
    show.onclick = () => runReport(report, "json");
    const note = byId(`${id}-note`);
    if (note) note.textContent = report.can && !(me.can || {})[report.can] ? " (ERP admin only)" : "";
  }
}

function projectFor(report) {
  const input = byId("report-project");
  const value = input.value.trim();
  if (value && !/^\d+$/.test(value)) {
    showMessage("The project id is the Procore project's number id (digits only).");
    input.focus();
    return undefined;
  }
  if (report.project === "required" && !value) {
    showMessage(`${report.title} is per project: enter the Procore project id first.`);
    input.focus();
    return undefined;
  }
  return report.project === "none" ? "" : value;
}

async function runReport(report, format) {
  const project = projectFor(report);
  if (project === undefined) return;
  const path = report.path + query({ project_id: project, format: format === "csv" ? "csv" : "" });
  try {
    if (format === "csv") {
      const name = await download(path, report.file);
      showMessage(`Downloaded ${name}.`, "ok");
      return;
    }
    const answer = await get(path);
    showReport(report, answer);
  } catch (error) {
    showMessage(error.message);
  }
}

function showReport(report, answer) {
  const box = clear(byId("report-output"));
  const rows = answer.rows || [];
  const columns = answer.columns || (rows[0] ? Object.keys(rows[0]) : []);
  box.append(el("h2", { id: "report-output-title", tabindex: "-1" }, `${report.title}: ${rows.length} row${rows.length === 1 ? "" : "s"}`));
  const extra = Object.entries(answer).filter(([k, v]) => !["rows", "columns"].includes(k) && (v === null || typeof v !== "object"));
  if (extra.length) {
    box.append(el("dl", { class: "facts" }, extra.map(([k, v]) => [el("dt", null, k.replace(/_/g, " ")), el("dd", null, v ?? "—")])));
  }
  if (!rows.length) {
    box.append(el("p", null, "Nothing to report."));
  } else {
    const table = el("table", { class: "report" },
      el("thead", null, el("tr", null, columns.map((c) => el("th", { scope: "col" }, c.replace(/_/g, " "))))),
      el("tbody", null, rows.map((row) => el("tr", null, columns.map((c) => cell(c, row[c]))))));
    box.append(el("div", { class: "scroll" }, table));
  }
  byId("report-output-title").focus();
}

function cell(column, value) {
  const moneyish = /amount|total|budget|cost|committed|paid|invoiced|original|changes|difference|procore|sage/i.test(column);
  if (typeof value === "number" || (moneyish && value !== "" && value !== null && !Number.isNaN(Number(value)) && /\./.test(String(value)))) {
    return el("td", { class: "num" }, money(value));
  }
  if (value && typeof value === "object") return el("td", null, JSON.stringify(value));
  return el("td", null, value ?? "");
}

// ---- admin -----------------------------------------------------------------------------
const TOOLS = ["commitments", "change_orders", "budget", "prime_contract", "invoicing", "directory", "reports", "projects"];
const LEVELS = { none: "None", read_only: "Read only", standard: "Standard", admin: "Admin" };
let users = [];

export async function showAdmin() {
  await Promise.all([loadUsers(), loadLinks(), loadSettings()]);
}

async function loadUsers() {
  const body = byId("users").tBodies[0];
  try {
    const answer = await get("/users");
    users = answer.users || [];
  } catch (error) {
    showMessage(error.message);
    return;
  }
  clear(body);
  for (const user of users) {
    const levels = Object.entries(user.tool_levels || {}).map(([tool, level]) => `${tool.replace(/_/g, " ")}: ${level}`).join(", ");
    body.append(el("tr", { dataset: { subject: user.subject } },
      el("th", { scope: "row" }, user.subject),
      el("td", null, user.name || ""),
      el("td", null, user.erp_level || "none"),
      el("td", null, user.can_push_to_accounting ? "Yes" : "No"),
      el("td", null, user.accounting_approver ? "Yes" : "No"),
      el("td", null, levels || "—"),
      el("td", null, el("button", { type: "button", class: "edit-user", onclick: () => editUser(user.subject) },
        "Edit", el("span", { class: "vh" }, ` ${user.name || user.subject}`)))));
  }
  if (!users.length) body.append(el("tr", null, el("td", { colspan: 7 }, "No users yet.")));
}

function editUser(subject) {
  const user = users.find((u) => u.subject === subject);
  if (!user) return;
  const form = byId("user-form");
  form.hidden = false;
  form.dataset.subject = subject;
  byId("user-form-title").textContent = `Edit ${user.name || subject} (${subject})`;
  byId("user-erp-level").value = user.erp_level || "none";
  byId("user-can-push").checked = !!user.can_push_to_accounting;
  for (const tool of TOOLS) byId(`user-tool-${tool}`).value = (user.tool_levels || {})[tool] || "none";
  byId("user-erp-level").focus();
}

export function initAdmin() {
  initSettings();
  const form = byId("user-form");
  byId("user-tools").append(...TOOLS.map((tool) => el("div", { class: "field" },
    el("label", { for: `user-tool-${tool}` }, tool.charAt(0).toUpperCase() + tool.slice(1).replace(/_/g, " ")),
    el("select", { id: `user-tool-${tool}` }, Object.entries(LEVELS).map(([value, label]) => el("option", { value }, label))))));
  form.onsubmit = async (event) => {
    event.preventDefault();
    const subject = form.dataset.subject;
    const user = users.find((u) => u.subject === subject);
    if (!user) return;
    const body = {
      name: user.name ?? null,
      erp_level: byId("user-erp-level").value,
      can_push_to_accounting: byId("user-can-push").checked,
      tool_levels: Object.fromEntries(TOOLS.map((tool) => [tool, byId(`user-tool-${tool}`).value])
        .filter(([, level]) => level !== "none")),
      privileges: user.privileges || [],
    };
    try {
      await put(`/users/${encodeURIComponent(subject)}`, body);
      showMessage(`Saved ${user.name || subject}.`, "ok");
      form.hidden = true;
      await loadUsers();
      const row = byId("users").querySelector(`tr[data-subject="${CSS.escape(subject)}"] button`);
      if (row) row.focus();
    } catch (error) {
      showMessage(error.message);
    }
  };
  byId("user-cancel").onclick = () => {
    const subject = form.dataset.subject;
    form.hidden = true;
    const row = byId("users").querySelector(`tr[data-subject="${CSS.escape(subject || "")}"] button`);
    if (row) row.focus();
  };
}
