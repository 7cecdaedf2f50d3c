// The approvers' web inbox: sign-in, navigation, the agent banner and status counts
// (polled every 10 s), and window.inbox for tests. Plain ES modules, no build step.

import { act, onChanged } from "./actions.js";
import { clearToken, get, getToken, setUnauthorizedHandler } from "./api.js";
import { closeDetail, currentId, initDetail, isOpen, openDetail, refreshDetail, resetDetail } from "./detail.js";
import { initList, reload as reloadList, renderTabs, resetList } from "./list.js";
import { initAdmin, initReports, showAdmin } from "./pages.js";
import { completeRedirect, hideSignin, showSignin } from "./signin.js";
import { byId, clearMessage, showMessage, when } from "./util.js";

const POLL_MS = 10000;
const VIEWS = ["inbox", "reports", "admin"];

const session = { me: null, pollTimer: null, polling: null, generation: 0 };

// ---- status and the agent banner ---------------------------------------------------------
async function refreshStatus() {
  if (!session.me) return;
  const generation = session.generation;
  try {
    const status = await get("/status");
    if (generation !== session.generation) return;
    showBanner(status);
    const changed = renderTabs(status.counts || {});
    if (changed && currentView() === "inbox") reloadList();
  } catch (error) {
    if (generation !== session.generation || error.status === 401) return;
    if (error.status === 0) {
      showBanner({ offline: true });
    }
  }
}

function showBanner(status) {
  const banner = byId("agent-banner");
  const parts = [];
  if (status.offline) {
    parts.push("The connector cannot be reached right now; the page will keep trying.");
  } else {
    const agent = status.agent || {};
    if (agent.silent) {
      parts.push(agent.message || (agent.last_seen
        ? `The relay agent has not been heard from since ${when(agent.last_seen)}.`
        : "The relay agent has never been heard from; is it installed and running?"));
    }
    const stuck = Number(status.stuck) || 0;
    if (stuck > 0) {
      parts.push(`${stuck} accepted item${stuck === 1 ? " is" : "s are"} still waiting to reach Sage.`);
    }
  }
  banner.textContent = parts.join(" ");
  banner.hidden = parts.length === 0;
}

function schedulePoll() {
  stopPoll();
  session.pollTimer = window.setTimeout(async () => {
    await refreshStatus();
    if (session.me) schedulePoll();
  }, POLL_MS);
}

function stopPoll() {
  if (session.pollTimer) window.clearTimeout(session.pollTimer);
  session.pollTimer = null;
}

// ---- navigation ---------------------------------------------------------------------------
function currentView() {
  const wanted = window.location.hash.replace(/^#/, "");
  if (wanted === "admin" && !(session.me && session.me.can && session.me.can.manage_users)) return "inbox";
  return VIEWS.includes(wanted) ? wanted : "inbox";
}

function showView({ focus = false } = {}) {
  if (!session.me) return;
  const view = currentView();
  for (const name of VIEWS) {
    byId(`${name}-view`).hidden = name !== view;
    const link = byId(`nav-${name}`);
    if (name === view) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  if (view === "admin") showAdmin();
  if (focus) byId(`${view}-heading`).focus();
}

// ---- session ------------------------------------------------------------------------------
async function startSession() {
  hideSignin();
  let me;
  try {
    me = await get("/me");
  } catch (error) {
    if (error.status !== 401) {
      showMessage(`Could not load your profile: ${error.message}`);
    }
    signOut(error.status === 401 ? `Please sign in again: ${error.message}` : null);
    return;
  }
  session.me = me;
  session.generation += 1;
  byId("whoami").textContent = `Signed in as ${me.name || me.subject} (${me.subject})`;
  byId("session").hidden = false;
  byId("main-nav").hidden = false;
  byId("nav-admin").hidden = !(me.can && me.can.manage_users);
  initList(me, (id) => openDetail(id));
  initDetail(me);
  initReports(me);
  showView();
  if (currentView() === "inbox") byId("inbox-heading").focus();
  await Promise.all([refreshStatus(), reloadList()]);
  schedulePoll();
}

function signOut(reason) {
  clearToken();
  stopPoll();
  session.me = null;
  session.generation += 1;
  resetDetail();
  resetList();
  for (const dialog of document.querySelectorAll("dialog[open]")) dialog.close();
  byId("session").hidden = true;
  byId("main-nav").hidden = true;
  byId("whoami").textContent = "";
  byId("agent-banner").hidden = true;
  for (const name of VIEWS) byId(`${name}-view`).hidden = true;
  if (window.location.hash) {
    // The next person starts at the inbox.
    window.history.replaceState(null, "", window.location.pathname + window.location.search);
  }
  if (reason) showMessage(reason);
  else clearMessage();
  showSignin(startSession);
}

// ---- wiring -------------------------------------------------------------------------------
async function reloadAll() {
  if (!session.me) return;
  await Promise.all([refreshStatus(), reloadList(), refreshDetail()]);
}

function wire() {
  setUnauthorizedHandler((error) => {
    if (session.me) signOut(`Please sign in again: ${error.message}`);
  });
  byId("signout").onclick = () => signOut("You are signed out.");
  window.addEventListener("hashchange", () => showView({ focus: true }));
  document.addEventListener("keydown", (event) => {
    if (event.key !== "Escape" || event.defaultPrevented) return;
    if (document.querySelector("dialog[open]")) return; // the dialog closes itself
    const target = event.target;
    if (target && target.matches && target.matches("input[type=search]") && target.value) return;
    if (isOpen()) {
      event.preventDefault();
      closeDetail();
    }
  });
  onChanged((itemId) => {
    refreshStatus();
    reloadList();
    refreshDetail(itemId || currentId());
  });
  initAdmin();
  window.inbox = {
    /** POST /items/{id}/{action} through the buttons' code path; resolves with the answer. */
    act: (itemId, action, body) => act(itemId, action, body),
    reload: () => reloadAll(),
  };
}

async function boot() {
  wire();
  const exchanged = await completeRedirect();
  if (exchanged || getToken()) await startSession();
  else showSignin(startSession);
}

boot().catch((error) => showMessage(`The inbox could not start: ${error.message}`));
