// Signing in: local mode (pick a demo user, POST /auth/local-token) or Cognito
// (authorization code with PKCE). The token is kept in sessionStorage only.

import { ApiError, get, pageUrl, post, setToken } from "./api.js";
import { byId, clear, el, showMessage } from "./util.js";

const PKCE_KEY = "inbox.pkce";

let config = null;

async function loadConfig() {
  if (!config) config = await get("/auth/config", { auth: false });
  return config;
}

/** Show the sign-in view; resolves when the user has a token (local mode). */
export async function showSignin(onSignedIn) {
  const view = byId("signin-view");
  const select = byId("signin-user");
  const userField = byId("signin-user-field");
  const button = byId("signin-submit");
  const intro = byId("signin-intro");
  view.hidden = false;
  button.disabled = true;
  let cfg;
  try {
    cfg = await loadConfig();
  } catch (error) {
    config = null;
    showMessage(`Sign-in is not available: ${error.message}`);
    button.disabled = false;
    button.onclick = () => showSignin(onSignedIn);
    button.textContent = "Try again";
    return;
  }
  button.disabled = false;
  if (cfg.mode === "local") {
    userField.hidden = false;
    intro.textContent = "Choose who you are for this local connector, then sign in.";
    clear(select);
    for (const user of cfg.users || []) {
      select.append(el("option", { value: user.subject }, user.name || user.subject));
    }
    button.textContent = "Sign in";
    byId("signin-form").onsubmit = async (event) => {
      event.preventDefault();
      if (!select.value) {
        showMessage("Choose a user to sign in as.");
        select.focus();
        return;
      }
      button.disabled = true;
      try {
        const answer = await post("/auth/local-token", { subject: select.value }, { auth: false });
        if (!answer || !answer.token) throw new ApiError(500, { message: "The connector gave no token." });
        setToken(answer.token);
        view.hidden = true;
        onSignedIn();
      } catch (error) {
        showMessage(error.message);
      } finally {
        button.disabled = false;
      }
    };
    select.focus();
  } else {
    userField.hidden = true;
    intro.textContent = "Sign in with your company account to see the items waiting for you.";
    button.textContent = "Sign in with your company account";
    byId("signin-form").onsubmit = (event) => {
      event.preventDefault();
      startCognito(cfg).catch((error) => showMessage(`Sign-in failed: ${error.message}`));
    };
    button.focus();
  }
}

export function hideSignin() {
  byId("signin-view").hidden = true;
}

// ---- Cognito: authorization code with PKCE ------------------------------------------------
function base64url(bytes) {
  let text = "";
  for (const byte of bytes) text += String.fromCharCode(byte);
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function randomText(size) {
  const bytes = new Uint8Array(size);
  crypto.getRandomValues(bytes);
  return base64url(bytes);
}

async function challengeOf(verifier) {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
  return base64url(new Uint8Array(digest));
}

async function startCognito(cfg) {
  if (!window.crypto || !crypto.subtle) {
    throw new Error("this browser cannot sign in securely here (the page must be served over https)");
  }
  const verifier = randomText(48);
  const state = randomText(24);
  const redirectUri = cfg.redirect_uri || pageUrl();
  sessionStorage.setItem(PKCE_KEY, JSON.stringify({ verifier, state, redirectUri }));
  const url = new URL(cfg.authorize_url);
  url.searchParams.set("response_type", "code");
  url.searchParams.set("client_id", cfg.client_id);
  url.searchParams.set("redirect_uri", redirectUri);
  if (cfg.scope) url.searchParams.set("scope", cfg.scope);
  url.searchParams.set("state", state);
  url.searchParams.set("code_challenge", await challengeOf(verifier));
  url.searchParams.set("code_challenge_method", "S256");
  window.location.assign(url.toString());
}

function cleanUrl() {
  const url = new URL(window.location.href);
  for (const key of ["code", "state", "error", "error_description"]) url.searchParams.delete(key);
  window.history.replaceState(null, "", url.pathname + url.search + url.hash);
}

/**
 * Back from Cognito with ?code=...: exchange it for tokens. Resolves true when a token was
 * stored, false when the URL held no answer from Cognito. Errors go to #message.
 */
export async function completeRedirect() {
  const params = new URLSearchParams(window.location.search);
  if (!params.has("code") && !params.has("error")) return false;
  const code = params.get("code");
  const state = params.get("state");
  const error = params.get("error");
  const description = params.get("error_description");
  cleanUrl(); // the code never stays in the address bar or the history
  let saved = null;
  try {
    saved = JSON.parse(sessionStorage.getItem(PKCE_KEY) || "null");
  } catch {
    saved = null;
  }
  sessionStorage.removeItem(PKCE_KEY);
  if (error) {
    showMessage(`Sign-in was not completed: ${description || error}`);
    return false;
  }
  if (!saved || saved.state !== state) {
    showMessage("Sign-in could not be completed (the answer did not match this browser tab). Please sign in again.");
    return false;
  }
  try {
    const cfg = await loadConfig();
    const form = new URLSearchParams({
      grant_type: "authorization_code",
      client_id: cfg.client_id,
      code,
      redirect_uri: saved.redirectUri,
      code_verifier: saved.verifier,
    });
    const response = await fetch(cfg.token_url, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded", Accept: "application/json" },
      body: form.toString(),
      credentials: "omit",
    });
    const answer = await response.json().catch(() => ({}));
    if (!response.ok) {
      throw new Error(answer.error_description || answer.error || `HTTP ${response.status}`);
    }
    const token = answer.id_token || answer.access_token;
    if (!token) throw new Error("no token in the answer");
    setToken(token);
    return true;
  } catch (err) {
    showMessage(`Sign-in could not be completed: ${err.message}`);
    return false;
  }
}
