// One code path for every item action (the detail's buttons, bulk accept, window.inbox.act).

import { post } from "./api.js";
import { showMessage } from "./util.js";

export const ACTIONS = ["accept", "reject", "retrieve", "resend"];

// Which statuses the state machine lets each action start from (README, item lifecycle).
export const STATUS_ALLOWS = {
  accept: ["ready_to_export"],
  reject: ["ready_to_export"],
  retrieve: ["ready_to_export"],
  resend: ["retrieved", "rejected", "failed"],
};

const listeners = [];

/** Run fn after every action that reached the API (refresh the list, counts, detail). */
export function onChanged(fn) {
  listeners.push(fn);
}

function outcome(action, item, id) {
  const name = (item && (item.number || item.title)) || id;
  switch (action) {
    case "accept": return `Accepted ${name}: it is on its way to Sage.`;
    case "reject": return `Rejected ${name}: the sender sees your reason.`;
    case "retrieve": return `Retrieved ${name}: it is back with the sender.`;
    case "resend": return `Sent ${name} again: it is ready to export.`;
    default: return `${action} done for ${name}.`;
  }
}

/**
 * POST /items/{id}/{action} with an optional body. Resolves with the API's answer: the
 * item view on success, or {error, message, status} when refused (the message is shown in
 * #message unless options.quiet). Never rejects.
 */
export async function act(itemId, action, body, options = {}) {
  const path = `/items/${encodeURIComponent(itemId)}/${encodeURIComponent(action)}`;
  let answer;
  try {
    const item = await post(path, body === undefined || body === null ? undefined : body);
    answer = item || {};
    if (!options.quiet) showMessage(outcome(action, item, itemId), "ok");
  } catch (error) {
    answer = { ...(error.body || {}), message: error.message, status: error.status };
    if (!options.quiet) showMessage(error.message, "error");
  }
  if (!options.deferRefresh) changed(itemId);
  return answer;
}

export function changed(itemId) {
  for (const fn of listeners) {
    try {
      fn(itemId);
    } catch (error) {
      showMessage(`Could not refresh the page: ${error.message}`);
    }
  }
}
