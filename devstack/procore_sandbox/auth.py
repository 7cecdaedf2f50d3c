"""OAuth clients and tokens, the company checks and the rate-limit window.

``/oauth/token`` (client credentials) issues bearer tokens; every ``/rest/`` route needs one
(401 otherwise) and the ``Procore-Company-Id`` header of this company (missing: 400, another
company: 403). One window of ``rate_limit`` calls per ``rate_window`` seconds covers the
``/rest/`` calls; every answer carries its ``X-Rate-Limit-*`` headers.
"""

from __future__ import annotations

import math
import re
import secrets
import time
from collections.abc import Mapping
from typing import Any, ClassVar
from urllib.parse import parse_qs

from devstack.procore_sandbox.state import (
    Actor,
    Route,
    SandboxError,
    SandboxState,
    _json_body,
    _Request,
    _required_param,
    _Response,
)

SERVICE_ACCOUNT_USER_ID = 90001


class AuthMixin:
    """Clients, tokens, company access and the rate limit of ``ProcoreSandbox``."""

    ROUTES: ClassVar[tuple[Route, ...]] = (("POST", r"/oauth/token", "_h_token", False),)
    CONTROL_ROUTES: ClassVar[tuple[Route, ...]] = (
        ("POST", r"/_sandbox/rate_limit", "_c_rate_limit", False),
        ("POST", r"/_sandbox/tokens/revoke", "_c_revoke_tokens", False),
    )

    # set by ProcoreSandbox.__init__
    state: SandboxState
    company_id: int
    token_ttl: int
    _clients: dict[str, tuple[str, int]]
    _rl_limit: int
    _rl_window: int
    _rl_start: float
    _rl_used: int

    def add_client(self, client_id: str, client_secret: str, user_id: int) -> None:
        """Another OAuth application (e.g. a second integration) allowed to call the API."""
        with self.state.lock:
            self._clients[client_id] = (client_secret, user_id)

    def revoke_tokens(self) -> None:
        """Invalidate every issued token (the next API call answers 401)."""
        with self.state.lock:
            self.state.tokens.clear()

    def set_rate_limit(
        self,
        *,
        limit: int | None = None,
        remaining: int | None = None,
        window_seconds: int | None = None,
    ) -> None:
        """Change the quota; ``window_seconds`` also restarts the window now."""
        with self.state.lock:
            if limit is not None:
                self._rl_limit = limit
            if window_seconds is not None:
                self._rl_window = window_seconds
                self._rl_start = time.time()
                self._rl_used = 0
            if remaining is not None:
                self._rl_used = max(0, self._rl_limit - remaining)

    def _quota_headers(self, *, consume: bool) -> tuple[bool, dict[str, str]]:
        """Advance the rate-limit window; ``consume`` spends one call of the quota."""
        with self.state.lock:
            now = time.time()
            if now >= self._rl_start + self._rl_window:
                self._rl_start, self._rl_used = now, 0
            allowed = self._rl_used < self._rl_limit
            if consume and allowed:
                self._rl_used += 1
            headers = {
                "X-Rate-Limit-Limit": str(self._rl_limit),
                "X-Rate-Limit-Remaining": str(max(0, self._rl_limit - self._rl_used)),
                "X-Rate-Limit-Reset": str(math.ceil(self._rl_start + self._rl_window)),
            }
            return allowed or not consume, headers

    def _authenticate(self, req: _Request) -> None:
        auth = req.headers.get("authorization", "")
        scheme, _, token = auth.partition(" ")
        with self.state.lock:
            grant = self.state.tokens.get(token.strip()) if scheme.lower() == "bearer" else None
            if grant is None or grant["expires_at"] <= time.time():
                raise SandboxError(
                    401,
                    "The access token is missing, invalid or expired",
                    {"WWW-Authenticate": 'Bearer error="invalid_token"'},
                )
            client_id = grant["client_id"]
            req.actor = Actor(client_id, self._clients[client_id][1])
        company = req.headers.get("procore-company-id")
        if company is None or not company.strip():
            raise SandboxError(400, "Procore-Company-Id header is required")
        if company.strip() != str(self.company_id):
            raise SandboxError(403, f"No access to company {company.strip()}")

    def _h_token(self, req: _Request, _: re.Match[str]) -> _Response:
        content_type = req.headers.get("content-type", "")
        if "json" in content_type:
            form = {k: str(v) for k, v in _json_body(req).items()}
        else:
            parsed = parse_qs(req.body.decode("utf-8", "replace"), keep_blank_values=True)
            form = {k: v[0] for k, v in parsed.items()}
        if form.get("grant_type") != "client_credentials":
            return _Response(400, {"error": "unsupported_grant_type"})
        client = self._clients.get(form.get("client_id", ""))
        secret = form.get("client_secret", "")
        if client is None or not secrets.compare_digest(client[0], secret):
            return _Response(
                401,
                {
                    "error": "invalid_client",
                    "error_description": "Client authentication failed.",
                },
            )
        token = secrets.token_urlsafe(32)
        created = int(time.time())
        self.state.tokens[token] = {
            "client_id": form["client_id"],
            "expires_at": created + self.token_ttl,
        }
        return _Response(
            200,
            {
                "access_token": token,
                "token_type": "bearer",
                "expires_in": self.token_ttl,
                "created_at": created,
            },
        )

    # --- company access (query or body) ---------------------------------------------------
    def _check_company_param(self, req: _Request) -> None:
        company = _required_param(req, "company_id")
        if company != str(self.company_id):
            raise SandboxError(403, f"No access to company {company}")

    def _check_company_body(self, req: _Request, body: Mapping[str, Any]) -> None:
        raw = body.get("company_id", req.param("company_id"))
        if raw is None or raw == "":
            raise SandboxError(422, {"company_id": ["can't be blank"]})
        if str(raw).strip() != str(self.company_id):
            raise SandboxError(403, f"No access to company {raw}")

    # --- control endpoints ----------------------------------------------------------------
    def _c_rate_limit(self, req: _Request, _: re.Match[str]) -> _Response:
        body = _json_body(req)
        self.set_rate_limit(
            limit=body.get("limit"),
            remaining=body.get("remaining"),
            window_seconds=body.get("window_seconds"),
        )
        return _Response(200, self._quota_headers(consume=False)[1])

    def _c_revoke_tokens(self, req: _Request, _: re.Match[str]) -> _Response:
        self.revoke_tokens()
        return _Response(204)
