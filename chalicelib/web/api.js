// Talking to the connector's API: the root URL, the bearer token (sessionStorage only),
// JSON requests with the API's {"error", "message"} answers, and CSV downloads.

const TOKEN_KEY = "inbox.token";

/** The API root: the page is at <root>/inbox (Chalice local: no prefix; API Gateway: /api). */
export function apiRoot() {
  const path = window.location.pathname;
  const at = path.lastIndexOf("/inbox");
  const prefix = at >= 0 ? path.slice(0, at) : path.replace(/\/[^/]*$/, "");
  return window.location.origin + prefix;
}

/** The page's own URL without query or hash (the Cognito redirect_uri by default). */
export function pageUrl() {
  return window.location.origin + window.location.pathname;
}

export function getToken() {
  try {
    return window.sessionStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

export function setToken(token) {
  window.sessionStorage.setItem(TOKEN_KEY, token);
}

export function clearToken() {
  try {
    window.sessionStorage.removeItem(TOKEN_KEY);
  } catch {
    /* storage unavailable: nothing kept */
  }
}

/** An API refusal (or a failure to reach the API) with a message for the user. */
export class ApiError extends Error {
  constructor(status, body) {
    const message = (body && body.message) || describeStatus(status);
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.body = body || { error: status ? `http_${status}` : "network", message };
  }
}

function describeStatus(status) {
  if (!status) return "The connector could not be reached. Check your connection and try again.";
  if (status === 401) return "Your sign-in has expired. Please sign in again.";
  if (status === 403) return "You do not have permission to do that.";
  if (status === 404) return "Not found: it may have been removed.";
  if (status >= 500) return `The connector had a problem (HTTP ${status}). Please try again in a moment.`;
  return `The connector refused the request (HTTP ${status}).`;
}

// Called (once set by app.js) when a call answers 401: the token is no longer good.
let onUnauthorized = null;
export function setUnauthorizedHandler(handler) {
  onUnauthorized = handler;
}

async function send(method, path, { body, auth = true, accept = "application/json" } = {}) {
  const headers = { Accept: accept };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (auth) {
    const token = getToken();
    if (token) headers.Authorization = `Bearer ${token}`;
  }
  let response;
  try {
    response = await fetch(apiRoot() + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
      credentials: "omit",
    });
  } catch {
    throw new ApiError(0, null);
  }
  if (!response.ok) {
    let data = null;
    try {
      data = await response.json();
    } catch {
      data = null;
    }
    const error = new ApiError(response.status, data);
    if (response.status === 401 && auth && onUnauthorized) onUnauthorized(error);
    throw error;
  }
  return response;
}

/** JSON request; resolves with the parsed answer, rejects with ApiError. */
export async function api(method, path, body, options = {}) {
  const response = await send(method, path, { ...options, body });
  if (response.status === 204) return null;
  const text = await response.text();
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    throw new ApiError(response.status, { error: "bad_answer", message: "The connector answered with something that is not JSON." });
  }
}

export const get = (path, options) => api("GET", path, undefined, options);
export const post = (path, body, options) => api("POST", path, body, options);
export const put = (path, body, options) => api("PUT", path, body, options);

/** Query string from an object, leaving out empty values. */
export function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") search.set(key, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

/** Download a file the API answers (with the bearer header): fetch -> blob -> <a download>. */
export async function download(path, fallbackName) {
  const response = await send("GET", path, { accept: "text/csv, */*" });
  const blob = await response.blob();
  const disposition = response.headers.get("Content-Disposition") || "";
  const match = /filename="?([^";]+)"?/i.exec(disposition);
  const name = (match && match[1]) || fallbackName;
  const url = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = name;
  link.hidden = true;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
  return name;
}
