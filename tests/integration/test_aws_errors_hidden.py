"""AWS's error text (account id, role ARN, "AccessDenied") never reaches a response body:
answers carry fixed words and our request id; the log under that id has AWS's text."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import WEBHOOK_TOKEN
from tests.helpers import seed_item, seed_personas
from tests.integration.aws_faults import ACCOUNT, app_logs, assert_no_aws_text, refuse

__all__ = ["app_logs"]  # the fixture

WEBHOOK = Path(__file__).resolve().parents[1] / "fixtures" / "webhooks" / "v2.0"


def _users_only(service: str, operation: str, params: dict[str, Any]) -> bool:
    """Let the caller's own user record be read (so requests get past sign-in)."""
    key = params.get("Key") or {}
    return (service, operation) == ("dynamodb", "GetItem") and str(
        key.get("SK", {}).get("S", "")).startswith("USER#")


@pytest.fixture
def world(aws: Any, chalice_client: Any, mint: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    from chalicelib import wiring

    # Procore unreachable at once (nothing listens there): no route waits on the network.
    monkeypatch.setenv("PROCORE_BASE_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("PROCORE_AUTH_URL", "http://127.0.0.1:9")
    wiring.reset()
    seed_personas()

    class World:
        client = chalice_client

        def call(self, method: str, path: str, who: str | None = "admin_approver",
                 payload: Any = None, headers: dict[str, str] | None = None) -> Any:
            sent = {"Content-Type": "application/json", **(headers or {})}
            if who is not None:
                sent["Authorization"] = mint(who)
            data = payload if isinstance(payload, (str, bytes)) or payload is None else (
                json.dumps(payload))
            return getattr(chalice_client.http, method.lower())(path, headers=sent, body=data)

    return World()


def _answered_with_our_id(response: Any, logs: Any) -> None:
    """A 5xx with fixed words and a request id under which the log holds AWS's text."""
    text = response.body.decode()
    assert_no_aws_text(text)
    answer = json.loads(text)
    assert response.status_code in (500, 503), text
    assert answer["request_id"]
    mine = [r for r in logs.records() if r.get("request_id") == answer["request_id"]]
    assert any(ACCOUNT in json.dumps(r) and "AccessDenied" in json.dumps(r) for r in mine), mine


def test_list_items(world: Any, monkeypatch: pytest.MonkeyPatch, app_logs: Any) -> None:
    refuse(monkeypatch, [("dynamodb", "Query")])
    response = world.call("GET", "/items?status=ready_to_export")
    _answered_with_our_id(response, app_logs)
    assert json.loads(response.body)["message"] == (
        "the connector table is unavailable; try again shortly")


def test_accept(world: Any, monkeypatch: pytest.MonkeyPatch, app_logs: Any) -> None:
    from chalicelib.domain.state_machine import Status

    item = seed_item(Status.READY_TO_EXPORT)
    refuse(monkeypatch, [("dynamodb", "TransactWriteItems"), ("sqs", "SendMessage")])
    response = world.call("POST", f"/items/{item.item_id}/accept", payload={})
    _answered_with_our_id(response, app_logs)


def test_health_ready(world: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    refuse(monkeypatch, allow=_users_only)
    response = world.call("GET", "/health/ready")
    assert response.status_code == 503
    assert_no_aws_text(response.body.decode())
    assert set(json.loads(response.body)["checks"].values()) <= {
        "ok", "access denied", "not configured"}


def test_webhook_receiver(world: Any, monkeypatch: pytest.MonkeyPatch,
                          app_logs: Any) -> None:
    monkeypatch.setenv("PROCORE_COMPANY_ID", "4281379")  # the fixture's company
    from chalicelib import wiring

    wiring.reset()
    refuse(monkeypatch, [("sqs", "SendMessage"), ("dynamodb", "PutItem")])
    payload = (WEBHOOK / "work_order_contract_create.json").read_text()
    response = world.call("POST", "/webhooks/procore", who=None, payload=payload,
                          headers={"Authorization": WEBHOOK_TOKEN})
    _answered_with_our_id(response, app_logs)
    # A body it cannot read goes to quarantine (a table write), refused too: still no text.
    response = world.call("POST", "/webhooks/procore", who=None, payload="{",
                          headers={"Authorization": WEBHOOK_TOKEN})
    assert_no_aws_text(response.body.decode())


def test_a_secret_store_refusal_is_our_500_with_an_id(
        world: Any, monkeypatch: pytest.MonkeyPatch, app_logs: Any) -> None:
    """Powertools wraps SSM's refusal with AWS's text in its own message: untranslated, it
    is a 500 whose body names only our ids."""
    from chalicelib import wiring

    monkeypatch.delenv("WEBHOOK_TOKEN")
    monkeypatch.setenv("WEBHOOK_TOKEN_PARAMETER", "/connector/test/webhook-token-hidden")
    wiring.reset()
    refuse(monkeypatch, [("ssm", "GetParameter")])
    response = world.call("POST", "/webhooks/procore", who=None, payload="{}",
                          headers={"Authorization": WEBHOOK_TOKEN})
    _answered_with_our_id(response, app_logs)
    assert json.loads(response.body)["error"] == "internal_error"


def test_no_route_answers_with_aws_text(world: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every route, every method, as an admin approver, while every AWS call but the
    caller's own user record is refused: no body carries AWS's words."""
    from app import app

    refuse(monkeypatch, allow=_users_only)
    values = {"item_id": "commitment-501", "project_id": "11", "subject": "someone",
              "entry_id": "01JQ3K8Z6W2V9T4R1M5N7P0B2C"}
    called = 0
    for path, methods in app.routes.items():
        concrete = path
        for name, value in values.items():
            concrete = concrete.replace("{" + name + "}", value)
        concrete = "/".join("1" if p.startswith("{") else p for p in concrete.split("/"))
        for method in methods:
            response = world.call(method, concrete, payload={} if method != "GET" else None)
            called += 1
            assert_no_aws_text(response.body.decode() if isinstance(response.body, bytes)
                               else str(response.body))
    assert called >= 40
