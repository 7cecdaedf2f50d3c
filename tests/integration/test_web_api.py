"""The inbox page's API: its files (with their security headers), sign-in configuration,
local sign-in only where it may exist, who the caller is, the status banner's facts, and
item views designed for people (actions for the caller, no bookkeeping fields)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chalicelib.domain.state_machine import Status
from chalicelib.wiring import get_store
from tests.helpers import COMPANY_ID, seed_item, seed_personas


@pytest.fixture
def client(aws: Any, chalice_client: Any, monkeypatch: pytest.MonkeyPatch,
           signing_keys: tuple[str, str]) -> Any:
    from chalicelib import wiring

    monkeypatch.setenv("JWT_PRIVATE_KEY_PEM", signing_keys[0])
    wiring.reset()
    from chalicelib.settings import get_settings

    get_settings.cache_clear()
    seed_personas()
    yield chalice_client
    get_settings.cache_clear()


def body(response: Any) -> Any:
    return json.loads(response.body)


def headers(response: Any) -> dict[str, str]:
    return {k.lower(): v for k, v in response.headers.items()}


def test_the_page_and_its_files_are_served_with_a_strict_policy(client: Any) -> None:
    page = client.http.get("/inbox")
    assert page.status_code == 200
    sent = headers(page)
    assert sent["content-type"].startswith("text/html")
    assert "script-src 'self'" in sent["content-security-policy"]
    assert "frame-ancestors 'none'" in sent["content-security-policy"]
    assert sent["x-content-type-options"] == "nosniff"
    assert b"<html" in page.body if isinstance(page.body, bytes) else "<html" in page.body
    script = client.http.get("/inbox/app.js")
    assert script.status_code == 200
    assert headers(script)["content-type"].startswith("text/javascript")
    for name in ("nothing.js", "app.py", "APP.JS", ".env"):
        answer = client.http.get(f"/inbox/{name}")
        assert answer.status_code == 404, name
        assert "no inbox file" in body(answer)["message"]


def test_local_sign_in_lists_the_seeded_users_and_signs_their_tokens(client: Any) -> None:
    config = body(client.http.get("/auth/config"))
    assert config["mode"] == "local"
    assert {"approver", "viewer", "admin"} <= {u["subject"] for u in config["users"]}
    answer = client.http.post("/auth/local-token", body=json.dumps({"subject": "approver"}),
                              headers={"Content-Type": "application/json"})
    assert answer.status_code == 200
    token = body(answer)["token"]
    me = client.http.get("/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200
    assert (body(me)["subject"], body(me)["can"]["accept_or_reject"]) == ("approver", True)
    unknown = client.http.post("/auth/local-token", body=json.dumps({"subject": "mallory"}),
                               headers={"Content-Type": "application/json"})
    assert unknown.status_code == 404
    blank = client.http.post("/auth/local-token", body=json.dumps({"subject": ""}),
                             headers={"Content-Type": "application/json"})
    assert blank.status_code == 400 and body(blank)["details"]["field"] == "subject"


def test_without_the_local_key_there_is_no_local_sign_in(
        client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from chalicelib.settings import get_settings

    monkeypatch.delenv("JWT_PRIVATE_KEY_PEM")
    monkeypatch.setenv("COGNITO_DOMAIN", "https://inbox.auth.us-east-1.amazoncognito.com")
    get_settings.cache_clear()
    config = body(client.http.get("/auth/config"))
    assert config == {"mode": "cognito", "client_id": get_settings().jwt_audience,
                      "authorize_url": "https://inbox.auth.us-east-1.amazoncognito.com"
                                       "/oauth2/authorize",
                      "token_url": "https://inbox.auth.us-east-1.amazoncognito.com"
                                   "/oauth2/token",
                      "scope": "openid email profile"}
    answer = client.http.post("/auth/local-token", body=json.dumps({"subject": "admin"}),
                              headers={"Content-Type": "application/json"})
    assert answer.status_code == 404
    page = client.http.get("/inbox")
    assert "amazoncognito.com" in headers(page)["content-security-policy"]


def test_item_views_say_what_the_caller_may_do_and_hide_bookkeeping(
        client: Any, mint: Any) -> None:
    ready = seed_item(Status.READY_TO_EXPORT)
    for who, allowed in (("approver", True), ("viewer", False)):
        listed = body(client.http.get("/items?status=ready_to_export",
                                      headers={"Authorization": mint(who)}))
        [view] = [i for i in listed["items"] if i["id"] == ready.item_id]
        assert view["actions"]["accept"]["allowed"] is allowed, who
        assert view["actions"]["resend"] == {
            "allowed": False, "possible": False,
            "why": "not possible while the item is ready to export"}
        if not allowed:
            assert "requires" in view["actions"]["accept"]["why"]
        for hidden in ("snapshot_hash", "command_id", "export_enqueued", "pending_hash",
                       "company_id", "source_updated_at"):
            assert hidden not in view, hidden
    detail = body(client.http.get(f"/items/{ready.item_id}",
                                  headers={"Authorization": mint("viewer")}))
    assert detail["snapshot"] == ready.snapshot and detail["history"]
    assert detail["status_label"] == "Ready to export"


def test_the_status_counts_items_and_tells_when_the_agent_is_silent(
        client: Any, mint: Any) -> None:
    seed_item(Status.READY_TO_EXPORT)
    seed_item(Status.FAILED, procore_id=502)
    status = body(client.http.get("/status", headers={"Authorization": mint("viewer")}))
    assert status["counts"]["ready_to_export"] == 1 and status["counts"]["failed"] == 1
    assert status["agent"]["silent"] is True and "never been heard" in status["agent"][
        "message"]
    get_store().put_heartbeat(COMPANY_ID, "agent-1", {"at": "2999-01-01T00:00:00Z",
                                                      "agent_id": "agent-1"})
    heard = body(client.http.get("/status", headers={"Authorization": mint("viewer")}))
    assert heard["agent"]["silent"] is False and heard["agent"]["message"] is None
    refused = client.http.get("/status", headers={"Authorization": mint("nobody")})
    assert refused.status_code == 403
