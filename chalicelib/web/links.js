// The admin page's links: which Procore project, company or sub job is joined to which
// Sage job, vendor or phase; link two existing records (differences shown first) and
// unlink. Every rule (levels, "already linked", the audit) is the API's; this only asks.

import { api, get, post, query } from "./api.js";
import { byId, clear, el, showMessage, when } from "./util.js";

const KINDS = {
  projects: { procore: "Procore project", sage: "Sage job", can: "link_projects" },
  vendors: { procore: "Procore company", sage: "Sage vendor", can: "link_companies" },
  // Sub jobs are linked by importing a Sage phase (the project's sub jobs), not here.
  "sub-jobs": { procore: "Procore sub job", sage: "Sage phase", can: null },
};

let me = null;
let previewed = null; // the pair whose differences are on screen: linking needs a preview first

export function initLinks(user) {
  me = user;
  byId("links-kind").onchange = () => loadLinks();
  byId("link-form").onsubmit = (event) => {
    event.preventDefault();
    linkPair();
  };
  byId("link-preview").onclick = () => previewPair();
  for (const id of ["link-procore-id", "link-sage-key"]) {
    byId(id).oninput = () => resetPreview();
  }
  byId("unlink-cancel").onclick = () => byId("unlink-dialog").close();
  byId("unlink-form").onsubmit = (event) => {
    event.preventDefault();
    unlinkConfirmed();
  };
  byId("unlink-dialog").addEventListener("close", () => {
    const back = byId("unlink-dialog").dataset.returnFocus;
    const button = back && byId("links").querySelector(`button[data-procore-id="${CSS.escape(back)}"]`);
    if (button) button.focus();
  });
}

function kind() {
  return byId("links-kind").value;
}

export async function loadLinks() {
  const spec = KINDS[kind()];
  const body = byId("links").tBodies[0];
  byId("links-sage-col").textContent = spec.sage;
  byId("links-procore-col").textContent = spec.procore;
  const canLink = !!(spec.can && me && me.can && me.can[spec.can]);
  byId("link-form").hidden = !canLink;
  byId("link-form-note").textContent = spec.can
    ? (canLink ? "" : "Linking these needs the ERP admin level.")
    : "Sub jobs are linked by importing a Sage phase into the project.";
  byId("link-procore-label").textContent = `${spec.procore} id`;
  byId("link-sage-label").textContent = `${spec.sage} number`;
  resetPreview();
  let answer;
  try {
    answer = await get(`/links${query({ kind: kind() })}`);
  } catch (error) {
    showMessage(error.message);
    return;
  }
  clear(body);
  const canUnlink = !!(me && me.can && me.can.unlink);
  for (const link of answer.links || []) {
    const name = link.in_sage_list ? link.sage_name || "" : "Not in Sage's list any more: refresh it, or unlink";
    body.append(el("tr", { dataset: { procoreId: String(link.procore_id) } },
      el("th", { scope: "row" }, String(link.procore_id)),
      el("td", null, link.sage_label),
      el("td", { class: link.in_sage_list ? "" : "warn" }, name),
      el("td", null, link.linked_by || "—"),
      el("td", null, link.linked_at ? when(link.linked_at) : "—"),
      el("td", null, canUnlink
        ? el("button", { type: "button", class: "danger", dataset: { procoreId: String(link.procore_id) },
          onclick: () => askUnlink(link) }, "Unlink", el("span", { class: "vh" }, ` ${spec.procore} ${link.procore_id}`))
        : "")));
  }
  if (!(answer.links || []).length) {
    body.append(el("tr", null, el("td", { colspan: 6 }, `No ${spec.procore.toLowerCase()}s are linked yet.`)));
  }
}

function pair() {
  const procoreId = byId("link-procore-id").value.trim();
  const sageKey = byId("link-sage-key").value.trim();
  for (const [value, id, label] of [[procoreId, "link-procore-id", "link-procore-label"], [sageKey, "link-sage-key", "link-sage-label"]]) {
    if (!/^\d+$/.test(value)) {
      showMessage(`${byId(label).textContent}: enter digits only.`);
      byId(id).focus();
      return null;
    }
  }
  return { procore_id: Number(procoreId), sage_key: Number(sageKey) };
}

function resetPreview() {
  previewed = null;
  clear(byId("link-differences"));
  byId("link-submit").disabled = true;
}

async function previewPair() {
  const wanted = pair();
  if (!wanted) return;
  const box = clear(byId("link-differences"));
  try {
    const answer = await post(`/links/${kind()}`, { ...wanted, preview: true });
    previewed = `${kind()}:${wanted.procore_id}:${wanted.sage_key}`;
    const differences = answer.differences || [];
    box.append(el("h3", { id: "link-differences-title", tabindex: "-1" },
      differences.length ? `${differences.length} difference${differences.length === 1 ? "" : "s"} between them` : "They agree on every compared field"));
    if (differences.length) {
      box.append(el("table", { class: "report" },
        el("thead", null, el("tr", null, ["Field", "Procore", "Sage"].map((c) => el("th", { scope: "col" }, c)))),
        el("tbody", null, differences.map((d) => el("tr", null,
          el("th", { scope: "row" }, String(d.field).replace(/_/g, " ")),
          el("td", null, d.procore ?? "—"), el("td", null, d.sage ?? "—"))))));
    }
    byId("link-submit").disabled = false;
    byId("link-differences-title").focus();
  } catch (error) {
    showMessage(error.message);
  }
}

async function linkPair() {
  const wanted = pair();
  if (!wanted) return;
  if (previewed !== `${kind()}:${wanted.procore_id}:${wanted.sage_key}`) {
    showMessage("Look at the differences first (Preview), then link.");
    byId("link-preview").focus();
    return;
  }
  try {
    await post(`/links/${kind()}`, wanted);
    showMessage(`Linked ${KINDS[kind()].procore} ${wanted.procore_id} to ${KINDS[kind()].sage} ${wanted.sage_key}.`, "ok");
    byId("link-procore-id").value = "";
    byId("link-sage-key").value = "";
    await loadLinks();
  } catch (error) {
    showMessage(error.message);
  }
}

function askUnlink(link) {
  const spec = KINDS[kind()];
  const dialog = byId("unlink-dialog");
  dialog.dataset.procoreId = String(link.procore_id);
  dialog.dataset.returnFocus = String(link.procore_id);
  byId("unlink-what").textContent = `${spec.procore} ${link.procore_id} and ${spec.sage} ${link.sage_label}` +
    `${link.sage_name ? ` (${link.sage_name})` : ""}. Procore's origin id is cleared; a synced item becomes unlinked.`;
  dialog.showModal();
  byId("unlink-cancel").focus();
}

async function unlinkConfirmed() {
  const dialog = byId("unlink-dialog");
  const procoreId = dialog.dataset.procoreId;
  try {
    await api("DELETE", `/links/${kind()}/${encodeURIComponent(procoreId)}`);
    dialog.dataset.returnFocus = "";
    dialog.close();
    showMessage(`Unlinked ${KINDS[kind()].procore} ${procoreId}.`, "ok");
    await loadLinks();
    byId("links-kind").focus();
  } catch (error) {
    dialog.close();
    showMessage(error.message);
  }
}
