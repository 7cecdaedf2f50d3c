"""GET /health (liveness: nothing but "ok") and GET /health/ready (signed-in readiness: one
fixed word per dependency, never AWS's text, which is logged under the request id)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chalicelib.domain.models import utc_now
from tests.integration.aws_faults import ACCOUNT, app_logs, assert_no_aws_text, refuse

__all__ = ["app_logs"]  # the fixture

COMPANY_ID = 4264
CHECKS = {"table", "inbound_queue", "export_queue", "webhook_token", "procore_auth",
          "relay_agent"}


def _get(client: Any, path: str, auth: str | None = None) -> Any:
    headers = {"Authorization": auth} if auth else {}
    return client.http.get(path, headers=headers)


def _beat(at: str | None = None) -> None:
    from chalicelib.wiring import get_store

    get_store().put_heartbeat(COMPANY_ID, "agent-1", {"at": at or utc_now(),
                                                      "agent_id": "agent-1"})


def test_liveness_is_ok_and_nothing_else(chalice_client: Any) -> None:
    response = _get(chalice_client, "/health")
    assert response.status_code == 200
    assert json.loads(response.body) == {"status": "ok"}


def test_liveness_is_the_same_while_aws_refuses_everything(
        chalice_client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    refused = refuse(monkeypatch)  # every AWS call of every client
    response = _get(chalice_client, "/health")
    assert response.status_code == 200
    assert json.loads(response.body) == {"status": "ok"}
    assert refused == []  # liveness makes no AWS call at all


def test_readiness_needs_a_token(chalice_client: Any) -> None:
    assert _get(chalice_client, "/health/ready").status_code == 401
    assert _get(chalice_client, "/health/ready", "Bearer not-a-jwt").status_code == 401


def test_readiness_reports_each_dependency(chalice_client: Any, mint: Any) -> None:
    _beat()
    # Any signed-in user: this subject has no record (no levels) in the connector.
    response = _get(chalice_client, "/health/ready", mint("someone-without-levels"))
    assert response.status_code == 200, response.body
    report = json.loads(response.body)
    assert report["status"] == "ok"
    assert report["checks"] == dict.fromkeys(CHECKS, "ok")
    assert 0 <= report["relay_agent_age_seconds"] < 60
    assert report["request_id"]


def test_readiness_names_what_is_missing(chalice_client: Any, mint: Any,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from chalicelib import wiring

    _beat("2020-01-01T00:00:00Z")
    monkeypatch.delenv("WEBHOOK_TOKEN")
    monkeypatch.setenv("PROCORE_CLIENT_ID", "")
    monkeypatch.setenv("EXPORT_QUEUE_URL", "")
    wiring.reset()
    response = _get(chalice_client, "/health/ready", mint("approver"))
    assert response.status_code == 503
    report = json.loads(response.body)
    assert report["status"] == "degraded"
    assert report["checks"] == {"table": "ok", "inbound_queue": "ok",
                                "export_queue": "not configured",
                                "webhook_token": "not configured",
                                "procore_auth": "not configured", "relay_agent": "stale"}
    assert report["relay_agent_age_seconds"] > 86400


def test_readiness_with_no_agent_ever_seen(chalice_client: Any, mint: Any) -> None:
    report = json.loads(_get(chalice_client, "/health/ready", mint("approver")).body)
    assert report["checks"]["relay_agent"] == "never seen"
    assert report["relay_agent_age_seconds"] is None and report["status"] == "degraded"


def test_readiness_never_shows_aws_text_and_logs_it_under_the_request_id(
        chalice_client: Any, mint: Any, monkeypatch: pytest.MonkeyPatch,
        app_logs: Any) -> None:
    _beat()
    token = mint("approver")
    # What the API role may lack: the table reads and the queue probe.
    refuse(monkeypatch, [("dynamodb", "GetItem"), ("dynamodb", "Query"),
                         ("sqs", "GetQueueAttributes")])
    response = _get(chalice_client, "/health/ready", token)
    assert response.status_code == 503
    assert_no_aws_text(response.body.decode())
    report = json.loads(response.body)
    assert report["checks"] == {"table": "access denied", "inbound_queue": "access denied",
                                "export_queue": "access denied", "webhook_token": "ok",
                                "procore_auth": "ok", "relay_agent": "access denied"}
    logged = [r for r in app_logs.records() if r.get("message") == "readiness check failed"]
    assert {r["check"] for r in logged} == {"table", "inbound_queue", "export_queue",
                                            "relay_agent"}
    for record in logged:
        assert record["request_id"] == report["request_id"]
        assert ACCOUNT in record["error"] and "AccessDenied" in record["error"]


def test_readiness_says_unreachable_when_aws_cannot_be_reached(
        chalice_client: Any, mint: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from botocore.exceptions import EndpointConnectionError

    token = mint("approver")

    def unreachable(service: str, operation: str) -> Exception:
        return EndpointConnectionError(endpoint_url=f"https://{service}.us-east-1.amazonaws.com")

    refuse(monkeypatch, [("dynamodb", "GetItem"), ("sqs", "GetQueueAttributes")],
           error=unreachable)
    report = json.loads(_get(chalice_client, "/health/ready", token).body)
    assert report["checks"]["table"] == "unreachable"
    assert report["checks"]["inbound_queue"] == "unreachable"
    assert "amazonaws" not in json.dumps(report)


def test_readiness_when_the_secret_store_refuses(chalice_client: Any, mint: Any,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """In AWS the webhook token is an SSM parameter: a role without GetParameter."""
    from chalicelib import wiring

    token = mint("approver")
    monkeypatch.delenv("WEBHOOK_TOKEN")
    monkeypatch.setenv("WEBHOOK_TOKEN_PARAMETER", "/connector/test/webhook-token-health")
    wiring.reset()
    refuse(monkeypatch, [("ssm", "GetParameter")])
    response = _get(chalice_client, "/health/ready", token)
    assert_no_aws_text(response.body.decode())
    assert json.loads(response.body)["checks"]["webhook_token"] == "access denied"
