"""Contract: the sandbox's OAuth token endpoint answers as Procore documents it, and the
connector's token request carries exactly the documented fields.

Sources (public, outside this repository):
- procore-spec/openapi/OauthTokenPost.json: 200 body {access_token: string, token_type:
  string, expires_in: integer, refresh_token: string, created_at: integer}; request
  requires grant_type, client_id, client_secret.
- procore-spec/docs/conventions.json "oauth_token_example" (client credentials): no
  refresh_token, token_type "bearer", expires_in 5400.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping
from typing import Any

from chalicelib.adapters.procore import ProcoreTokenProvider, UrllibTransport
from tests.fixtures_sandbox import (  # noqa: F401
    CLIENT_ID,
    CLIENT_SECRET,
    http_call,
    sandbox_fixture,
)

TOKEN_RESPONSE = {"access_token": str, "token_type": str, "expires_in": int, "created_at": int}
TOKEN_RESPONSE_OPTIONAL = {"refresh_token": str}  # not for client credentials
TOKEN_REQUEST_REQUIRED = {"grant_type", "client_id", "client_secret"}
TOKEN_REQUEST_ALLOWED = TOKEN_REQUEST_REQUIRED | {"code", "redirect_uri", "refresh_token"}


def test_token_response_has_the_documented_keys_and_types(sandbox: Any) -> None:
    reply = http_call(
        sandbox.url, "POST", "/oauth/token", company=None,
        form={"grant_type": "client_credentials", "client_id": CLIENT_ID,
              "client_secret": CLIENT_SECRET})
    assert reply.status == 200
    answer = reply.body
    assert set(answer) - set(TOKEN_RESPONSE_OPTIONAL) == set(TOKEN_RESPONSE)
    for key, kind in TOKEN_RESPONSE.items():
        assert isinstance(answer[key], kind) and not isinstance(answer[key], bool), key
    assert answer["token_type"] == "bearer" and answer["expires_in"] == 5400


def test_the_connectors_token_request_carries_only_documented_fields(sandbox: Any) -> None:
    sent: list[dict[str, str]] = []
    loopback = UrllibTransport(use_env_proxies=False)

    def recording(method: str, url: str, headers: Mapping[str, str], body: bytes | None,
                  timeout: float) -> Any:
        sent.append({k: v[0] for k, v in urllib.parse.parse_qs((body or b"").decode()).items()})
        return loopback(method, url, headers, body, timeout)

    ProcoreTokenProvider(sandbox.url, CLIENT_ID, CLIENT_SECRET,
                         transport=recording).token()
    [form] = sent
    assert TOKEN_REQUEST_REQUIRED <= set(form) <= TOKEN_REQUEST_ALLOWED
    assert form["grant_type"] == "client_credentials"
