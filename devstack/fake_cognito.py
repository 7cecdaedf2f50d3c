"""A stand-in for a Cognito user pool's hosted UI, for tests of the inbox's sign-in in
AWS mode (authorization code with PKCE) without an AWS account.

It keeps Cognito's rules that the page depends on, strictly:
- ``GET /oauth2/authorize`` needs ``response_type=code``, the registered ``client_id`` and
  ``redirect_uri``, an S256 ``code_challenge``; it shows a sign-in form (username and
  password) and, on success, redirects to the callback with ``code`` and the same ``state``.
- ``POST /oauth2/token`` (form-encoded, CORS open as Cognito's is) exchanges a code once,
  within 5 minutes, for the same client and redirect URI, only with the ``code_verifier``
  whose SHA-256 is the challenge; it answers ``id_token`` (``token_use`` "id", ``aud`` the
  client) and ``access_token`` (``token_use`` "access", ``client_id``), RS256 with a key
  published at ``/.well-known/jwks.json``. Errors are OAuth's (``invalid_grant`` ...).

The token's ``sub`` is the username here, so it names one of the connector's users
directly (in a real pool the admin registers each person's ``sub``).
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import secrets
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

CODE_TTL_SECONDS = 300
TOKEN_TTL_SECONDS = 3600


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class FakeCognito:
    def __init__(self, *, client_id: str, redirect_uri: str, users: dict[str, str],
                 host: str = "127.0.0.1", port: int = 0) -> None:
        self.client_id, self.redirect_uri, self.users = client_id, redirect_uri, dict(users)
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self._codes: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self.token_requests: list[dict[str, str]] = []  # what the page sent, for tests
        self._server = ThreadingHTTPServer((host, port), self._handler())
        self._thread: threading.Thread | None = None

    # ---- lifecycle -------------------------------------------------------------------
    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def issuer(self) -> str:
        return f"{self.url}/pool"

    @property
    def jwks_url(self) -> str:
        return f"{self.url}/.well-known/jwks.json"

    def start(self) -> FakeCognito:
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True,
                                        name="fake-cognito")
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    # ---- the protocol ----------------------------------------------------------------
    def _authorize_error(self, query: dict[str, str]) -> str | None:
        if query.get("response_type") != "code":
            return "response_type must be code"
        if query.get("client_id") != self.client_id:
            return "unknown client_id"
        if query.get("redirect_uri") != self.redirect_uri:
            return "redirect_uri is not a registered callback URL"
        if query.get("code_challenge_method") != "S256" or not query.get("code_challenge"):
            return "an S256 code_challenge is required"
        return None

    def _issue_code(self, query: dict[str, str], username: str) -> str:
        code = secrets.token_urlsafe(24)
        with self._lock:
            self._codes[code] = {"client_id": query["client_id"],
                                 "redirect_uri": query["redirect_uri"],
                                 "challenge": query["code_challenge"], "username": username,
                                 "expires": time.time() + CODE_TTL_SECONDS}
        return code

    def exchange(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        """The token endpoint's answer (status, JSON) for a form."""
        self.token_requests.append(dict(form))
        if form.get("grant_type") != "authorization_code":
            return 400, {"error": "unsupported_grant_type"}
        with self._lock:
            grant = self._codes.pop(form.get("code", ""), None)  # a code works once
        if grant is None or grant["expires"] < time.time():
            return 400, {"error": "invalid_grant", "error_description": "unknown or used code"}
        if form.get("client_id") != grant["client_id"]:
            return 400, {"error": "invalid_client"}
        if form.get("redirect_uri") != grant["redirect_uri"]:
            return 400, {"error": "invalid_grant", "error_description": "redirect_uri differs"}
        verifier = form.get("code_verifier", "")
        if _b64url(hashlib.sha256(verifier.encode()).digest()) != grant["challenge"]:
            return 400, {"error": "invalid_grant",
                         "error_description": "code_verifier does not match the challenge"}
        return 200, {"id_token": self._token(grant["username"], "id"),
                     "access_token": self._token(grant["username"], "access"),
                     "token_type": "Bearer", "expires_in": TOKEN_TTL_SECONDS}

    def _token(self, username: str, use: str) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {"sub": username, "iss": self.issuer, "token_use": use,
                                  "iat": now, "auth_time": now, "exp": now + TOKEN_TTL_SECONDS,
                                  "cognito:username": username}
        claims.update({"aud": self.client_id} if use == "id" else {"client_id": self.client_id})
        return jwt.encode(claims, self._key, algorithm="RS256", headers={"kid": "fake-1"})

    def jwks(self) -> dict[str, Any]:
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self._key.public_key()))
        return {"keys": [{**jwk, "kid": "fake-1", "alg": "RS256", "use": "sig"}]}

    # ---- HTTP ------------------------------------------------------------------------
    def _handler(self) -> type[BaseHTTPRequestHandler]:
        pool = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass  # quiet: tests read what they need from the pool

            def _send(self, status: int, body: str, content_type: str,
                      headers: dict[str, str] | None = None) -> None:
                raw = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(raw)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(raw)

            def _query(self) -> tuple[str, dict[str, str]]:
                parts = urllib.parse.urlsplit(self.path)
                return parts.path, dict(urllib.parse.parse_qsl(parts.query))

            def do_GET(self) -> None:
                path, query = self._query()
                if path == "/.well-known/jwks.json":
                    self._send(200, json.dumps(pool.jwks()), "application/json")
                elif path == "/oauth2/authorize":
                    problem = pool._authorize_error(query)
                    if problem:
                        self._send(400, html.escape(problem), "text/plain")
                    else:
                        self._send(200, _form(self.path, ""), "text/html; charset=utf-8")
                else:
                    self._send(404, "not found", "text/plain")

            def do_POST(self) -> None:
                path, query = self._query()
                length = int(self.headers.get("Content-Length") or 0)
                form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
                if path == "/oauth2/token":
                    status, answer = pool.exchange(form)
                    self._send(status, json.dumps(answer), "application/json",
                               {"Access-Control-Allow-Origin": "*", "Cache-Control": "no-store"})
                elif path == "/oauth2/authorize" and not pool._authorize_error(query):
                    username = form.get("username", "")
                    if pool.users.get(username) != form.get("password") or not username:
                        self._send(200, _form(self.path, "Incorrect username or password."),
                                   "text/html; charset=utf-8")
                        return
                    code = pool._issue_code(query, username)
                    target = query["redirect_uri"] + "?" + urllib.parse.urlencode(
                        {"code": code, **({"state": query["state"]} if "state" in query else {})})
                    self.send_response(302)
                    self.send_header("Location", target)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                else:
                    self._send(404, "not found", "text/plain")

        return Handler


def _form(action: str, error: str) -> str:
    """The hosted UI's sign-in form (labelled, so a browser test finds it as a person would)."""
    note = f'<p role="alert">{html.escape(error)}</p>' if error else ""
    return f"""<!doctype html><html lang="en"><head><title>Sign in</title></head><body>
<main><h1>Sign in</h1>{note}
<form method="post" action="{html.escape(action)}">
<label for="username">Username</label><input id="username" name="username" autocomplete="username">
<label for="password">Password</label><input id="password" name="password" type="password">
<button type="submit">Sign in</button></form></main></body></html>"""
