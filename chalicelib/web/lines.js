// Snapshot lines as a table, and what changed against the snapshot Sage last received.

import { clear, el, money, toNumber } from "./util.js";

function codeLabel(code) {
  if (!code) return "";
  if (typeof code !== "object") return String(code);
  return [code.full_code, code.name].filter(Boolean).join(" ") || (code.id != null ? `#${code.id}` : "");
}

function typeLabel(type) {
  if (!type) return "";
  if (typeof type !== "object") return String(type);
  return [type.code, type.name].filter(Boolean).join(" ") || (type.id != null ? `#${type.id}` : "");
}

function isBudget(lines) {
  return lines.some((line) => line && ("revised" in line || "original" in line) && !("amount" in line));
}

function amountOf(line) {
  if (!line) return null;
  if ("amount" in line) return line.amount;
  return line.revised ?? line.original ?? null;
}

function lineName(line, position, where = "") {
  const code = [codeLabel(line.cost_code), typeLabel(line.line_item_type)].filter(Boolean).join(", ");
  const words = line.description ? `“${line.description}”` : "";
  const about = [words, code ? `(${code})` : ""].filter(Boolean).join(" ");
  return `line ${position}${where}${about ? ` ${about}` : ""}`;
}

/** Fill <table id="detail-lines"> from snapshot.lines. */
export function renderLines(table, snapshot) {
  clear(table);
  const lines = Array.isArray(snapshot.lines) ? snapshot.lines : [];
  table.append(el("caption", null, lines.length ? `Lines (${lines.length})` : "Lines"));
  const budget = isBudget(lines);
  const headers = budget
    ? ["#", "Cost code", "Cost type", "Original budget", "Revised budget"]
    : ["#", "Cost code", "Cost type", "Description", "Amount"];
  table.append(el("thead", null, el("tr", null, headers.map((h, i) =>
    el("th", { scope: "col", class: i >= 3 && (budget || i === 4) ? "num" : "" }, h)))));
  const body = el("tbody");
  lines.forEach((line, index) => {
    const cells = [
      el("td", null, String(index + 1)),
      el("td", null, codeLabel(line.cost_code) || "—"),
      el("td", null, typeLabel(line.line_item_type) || "—"),
    ];
    if (budget) {
      cells.push(el("td", { class: "num" }, money(line.original)), el("td", { class: "num" }, money(line.revised)));
    } else {
      cells.push(el("td", null, line.description || ""), el("td", { class: "num" }, money(amountOf(line))));
    }
    body.append(el("tr", null, cells));
  });
  if (!lines.length) {
    body.append(el("tr", null, el("td", { colspan: 5 }, "This item has no lines.")));
  }
  table.append(body);
  const total = budget ? snapshot.revised_total : (snapshot.grand_total ?? snapshot.total);
  if (lines.length && total !== undefined && total !== null) {
    table.append(el("tfoot", null, el("tr", null,
      el("th", { scope: "row", colspan: 4 }, budget ? "Revised total" : "Total"),
      el("td", { class: "num" }, money(total)))));
  }
}

const HEADER_FIELDS = [
  ["number", "Number"], ["title", "Title"], ["status", "Procore status"],
  ["contract_date", "Contract date"], ["retainage_percent", "Retainage %"],
  ["description", "Description"], ["locked", "Budget locked"],
];

function same(a, b) {
  const x = toNumber(a);
  const y = toNumber(b);
  if (x !== null && y !== null) return Math.abs(x - y) < 0.005;
  return (a ?? "") === (b ?? "");
}

function signed(delta) {
  return `${delta > 0 ? "+" : delta < 0 ? "−" : ""}${money(Math.abs(delta))}`;
}

/** What changed since Sage last received the item (lines added, removed, amounts changed). */
export function diffSnapshots(current, synced) {
  const changes = [];
  for (const [key, label] of HEADER_FIELDS) {
    if (!(key in current) && !(key in synced)) continue;
    if (!same(current[key], synced[key])) {
      changes.push(`${label}: “${synced[key] ?? ""}” → “${current[key] ?? ""}”`);
    }
  }
  const vendorNow = current.vendor && current.vendor.name;
  const vendorThen = synced.vendor && synced.vendor.name;
  if ((vendorNow || vendorThen) && vendorNow !== vendorThen) {
    changes.push(`Vendor: “${vendorThen ?? ""}” → “${vendorNow ?? ""}”`);
  }
  const now = Array.isArray(current.lines) ? current.lines : [];
  const then = Array.isArray(synced.lines) ? synced.lines : [];
  const keyOf = (line, index) => (line && line.id != null ? `id:${line.id}` : `at:${index}`);
  const old = new Map(then.map((line, i) => [keyOf(line, i), { line, position: i + 1 }]));
  const seen = new Set();
  now.forEach((line, i) => {
    const key = keyOf(line, i);
    const before = old.get(key);
    const name = lineName(line, i + 1);
    if (!before) {
      changes.push(`Added ${name}: ${money(amountOf(line))}`);
      return;
    }
    seen.add(key);
    const a = amountOf(before.line);
    const b = amountOf(line);
    if (!same(a, b)) {
      const x = toNumber(a);
      const y = toNumber(b);
      const delta = x !== null && y !== null ? ` (${signed(y - x)})` : "";
      changes.push(`Changed the amount of ${name}: ${money(a)} → ${money(b)}${delta}`);
    }
    if (codeLabel(before.line.cost_code) !== codeLabel(line.cost_code)) {
      changes.push(`Changed the cost code of ${name}: ${codeLabel(before.line.cost_code) || "none"} → ${codeLabel(line.cost_code) || "none"}`);
    }
    if (typeLabel(before.line.line_item_type) !== typeLabel(line.line_item_type)) {
      changes.push(`Changed the cost type of ${name}: ${typeLabel(before.line.line_item_type) || "none"} → ${typeLabel(line.line_item_type) || "none"}`);
    }
    if ((before.line.description || "") !== (line.description || "") && "description" in line) {
      changes.push(`Changed line ${i + 1} description: “${before.line.description || ""}” → “${line.description || ""}”`);
    }
  });
  for (const [key, { line, position }] of old) {
    if (!seen.has(key)) changes.push(`Removed ${lineName(line, position, " in Sage")}: ${money(amountOf(line))}`);
  }
  return changes;
}

export function renderDiff(box, item) {
  clear(box);
  box.append(el("h3", null, "Changes since the last export to Sage"));
  const current = item.snapshot || {};
  const synced = item.synced_snapshot;
  if (!synced) {
    box.append(el("p", null, "First export: Sage has nothing of this yet; everything above is new to Sage."));
  } else {
    const changes = diffSnapshots(current, synced);
    if (!changes.length) box.append(el("p", null, "No changes: this is what Sage already holds."));
    else box.append(el("ul", null, changes.map((text) => el("li", null, text))));
  }
  const drift = item.drift;
  if (drift && Array.isArray(drift.lines) && drift.lines.length) {
    box.append(el("p", { class: "note" },
      "Changed in Procore after it reached Sage; Sage keeps its values (a change order is needed):"),
    el("ul", null, drift.lines.map((d) => el("li", null,
      `Line ${d.line_id ?? ""} ${d.field || ""}: Sage ${fmt(d.sage)} → Procore ${fmt(d.procore)}`))));
  }
}

function fmt(value) {
  if (value === null || value === undefined) return "none";
  if (typeof value === "object") return JSON.stringify(value);
  return toNumber(value) !== null ? money(value) : String(value);
}
