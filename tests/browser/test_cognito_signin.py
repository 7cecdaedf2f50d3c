"""Sign-in as deployed in AWS: the inbox sends the person to Cognito's hosted UI
(authorization code with PKCE) and comes back with the bearer token the API checks.

The hosted UI is devstack/fake_cognito.py, which keeps Cognito's rules (registered
callback, S256 challenge, a code used once with its verifier). A second API process on
the browser stack's tables runs in Cognito mode (no local sign-in, tokens verified against
the pool's JWKS), as the API runs in AWS.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from devstack.fake_cognito import FakeCognito, _b64url
from devstack.stack import HOST, ROOT, free_port, wait_for
from tests.browser.harness import BrowserStack

CLIENT_ID = "inbox-app-client"
PASSWORD = "correct horse battery staple"  # the fake pool's, not a secret


@dataclass
class CognitoApi:
    """The connector's API as deployed with Cognito, beside the browser stack's own."""

    pool: FakeCognito
    url: str

    @property
    def inbox_url(self) -> str:
        return f"{self.url}/inbox"

    def get(self, path: str) -> tuple[int, Any]:
        return _json_call("GET", f"{self.url}{path}")

    def post(self, path: str, body: Any) -> tuple[int, Any]:
        return _json_call("POST", f"{self.url}{path}", body)


def _json_call(method: str, url: str, body: Any = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=15) as answer:  # loopback only
            return answer.status, json.loads(answer.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


@pytest.fixture
def cognito(connector: BrowserStack) -> Iterator[CognitoApi]:
    """A second `chalice local` on the same tables and queues, configured as in AWS: no
    local sign-in key, tokens verified against the (fake) pool's JWKS."""
    port = free_port()
    url = f"http://{HOST}:{port}"
    pool = FakeCognito(client_id=CLIENT_ID, redirect_uri=f"{url}/inbox",
                       users={"approver": PASSWORD, "viewer": PASSWORD}).start()
    environment = {**os.environ, **connector.stack.environment,
                   "COGNITO_DOMAIN": pool.url, "JWT_AUDIENCE": CLIENT_ID,
                   "JWT_ISSUER": pool.issuer, "JWT_JWKS_URL": pool.jwks_url}
    for name in ("JWT_PRIVATE_KEY_PEM", "JWT_PUBLIC_KEY_PEM"):
        environment.pop(name, None)
    process = subprocess.Popen(
        [str(Path(sys.executable).with_name("chalice")), "local", "--host", HOST, "--port",
         str(port), "--stage", "local", "--no-autoreload"],
        cwd=ROOT, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(f"{url}/health", process)
        yield CognitoApi(pool, url)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        pool.stop()


def test_sign_in_through_the_hosted_ui_with_pkce(cognito: CognitoApi, page: Any) -> None:
    # (cognito first: its API outlives the page, whose polling would hit a stopped server)
    status, config = cognito.get("/auth/config")
    assert status == 200 and config["mode"] == "cognito", config
    assert config["authorize_url"] == f"{cognito.pool.url}/oauth2/authorize"
    status, _ = cognito.post("/auth/local-token", {"subject": "admin"})
    assert status == 404  # no local sign-in once Cognito is configured

    page.goto(cognito.inbox_url)
    page.locator("#signin-submit").click()
    page.wait_for_url(f"{cognito.pool.url}/oauth2/authorize*")
    # The authorize request carries an S256 challenge and a state, never a token.
    assert "code_challenge_method=S256" in page.url and "state=" in page.url
    page.get_by_label("Username").fill("approver")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#whoami")).to_contain_text("(approver)")
    # Back on the inbox: the code and state are gone from the address bar.
    assert page.url.split("#")[0] == cognito.inbox_url
    [exchange] = cognito.pool.token_requests
    assert exchange["client_id"] == CLIENT_ID and exchange["redirect_uri"] == cognito.inbox_url
    assert len(exchange["code_verifier"]) >= 43
    # The API takes the pool's token: the approver sees the approver's actions.
    expect(page.locator("#accept-selected")).to_be_enabled()
    token = page.evaluate("() => sessionStorage.getItem('inbox.token')")
    assert token and token not in page.url


def test_a_code_is_refused_without_its_verifier_and_used_only_once(
        cognito: CognitoApi) -> None:
    pool = cognito.pool
    verifier = "v" * 50
    challenge = _b64url(hashlib.sha256(verifier.encode()).digest())
    query = {"response_type": "code", "client_id": CLIENT_ID,
             "redirect_uri": pool.redirect_uri, "code_challenge": challenge,
             "code_challenge_method": "S256"}
    assert pool._authorize_error({**query, "code_challenge_method": "plain"})
    assert pool._authorize_error({**query, "redirect_uri": "https://evil.example/"})
    code = pool._issue_code(query, "approver")
    form = {"grant_type": "authorization_code", "client_id": CLIENT_ID, "code": code,
            "redirect_uri": pool.redirect_uri}
    status, answer = pool.exchange({**form, "code_verifier": "w" * 50})
    assert (status, answer["error"]) == (400, "invalid_grant")
    code = pool._issue_code(query, "approver")
    status, answer = pool.exchange({**form, "code": code, "code_verifier": verifier})
    assert status == 200 and answer["id_token"]
    status, answer = pool.exchange({**form, "code": code, "code_verifier": verifier})
    assert (status, answer["error"]) == (400, "invalid_grant")  # once only
