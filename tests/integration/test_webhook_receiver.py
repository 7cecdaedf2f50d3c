"""POST /webhooks/procore through chalice.test.Client, against moto's FIFO queue."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import CONNECTOR_APP_ID, WEBHOOK_TOKEN
from tests.helpers import body

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "webhooks"
FIXTURE_COMPANY = 4281379


def fixture(version: str, name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / version / f"{name}.json").read_text())


@pytest.fixture
def hook(aws: Any, chalice_client: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    from chalicelib import wiring

    monkeypatch.setenv("PROCORE_COMPANY_ID", str(FIXTURE_COMPANY))
    monkeypatch.setenv("CONNECTOR_PROCORE_USER_ID", "90001")
    wiring.reset()

    def post(payload: Any, token: str | None = WEBHOOK_TOKEN,
             content_type: str = "application/json") -> Any:
        headers = {"Content-Type": content_type}
        if token is not None:
            headers["Authorization"] = token
        raw = payload if isinstance(payload, (bytes, str)) else json.dumps(payload)
        return chalice_client.http.post("/webhooks/procore", headers=headers, body=raw)

    return post


def inbound(aws: Any) -> list[dict[str, Any]]:
    return aws.receive_all(aws.inbound_url)


@pytest.mark.parametrize(("version", "name"), [
    ("v2.0", "work_order_contract_create"), ("v3.0", "purchase_order_contract_create"),
    ("v3.0", "purchase_order_contract_line_item_update"), ("v4.0", "work_order_contract_create"),
    ("v4.0", "purchase_order_contract_update"),
])
def test_each_payload_version_is_queued_once(hook: Any, aws: Any, version: str,
                                             name: str) -> None:
    payload = fixture(version, name)
    response = hook(payload)
    assert response.status_code == 202, body(response)
    assert body(response)["status"] == "queued"
    messages = inbound(aws)
    assert len(messages) == 1
    attributes = messages[0]["Attributes"]
    expected_id = payload.get("ulid") or payload["id"]
    assert attributes["MessageDeduplicationId"] == expected_id
    assert attributes["MessageGroupId"] == f"{FIXTURE_COMPANY}:commitments:{payload['project_id']}"
    assert json.loads(messages[0]["Body"])["event_id"] == expected_id
    assert aws.table_snapshot() == []  # no table access on the receiving path


def test_same_delivery_five_times_is_one_message(hook: Any, aws: Any) -> None:
    payload = fixture("v2.0", "work_order_contract_update")
    for _ in range(5):
        assert hook(payload).status_code == 202
    assert len(inbound(aws)) == 1


@pytest.mark.parametrize(("version", "name"), [
    ("v2.0", "work_order_contract_update_from_connector"),
    ("v3.0", "work_order_contract_line_item_update_from_connector"),
])
def test_events_caused_by_this_connector_are_skipped(hook: Any, aws: Any, version: str,
                                                     name: str) -> None:
    payload = fixture(version, name)
    assert payload["metadata"]["source_application_id"] == CONNECTOR_APP_ID
    response = hook(payload)
    assert response.status_code == 202 and body(response)["status"] == "skipped"
    assert inbound(aws) == []


def test_v4_echo_of_our_own_user_is_skipped(hook: Any, aws: Any) -> None:
    payload = {**fixture("v4.0", "work_order_contract_create"), "user_id": "90001"}
    assert body(hook(payload))["status"] == "skipped"
    assert inbound(aws) == []


def test_unsynced_resources_and_other_companies_are_skipped_with_2xx(hook: Any,
                                                                     aws: Any) -> None:
    assert body(hook(fixture("v2.0", "project_update")))["status"] == "skipped"
    other = {**fixture("v2.0", "work_order_contract_create"), "company_id": 1}
    assert body(hook(other))["status"] == "skipped"
    assert inbound(aws) == []


@pytest.mark.parametrize(("token", "message"), [
    (None, "missing"), ("Bearer wrong", "does not match"), ("", "missing"),
    (WEBHOOK_TOKEN + " ", "does not match"),
])
def test_missing_or_wrong_token_is_401_and_changes_nothing(hook: Any, aws: Any,
                                                           token: str | None,
                                                           message: str) -> None:
    response = hook(fixture("v2.0", "work_order_contract_create"), token=token)
    assert response.status_code == 401
    assert message in body(response)["message"]
    assert inbound(aws) == [] and aws.table_snapshot() == []
    assert aws.queue_depth(aws.export_url) == 0


@pytest.mark.parametrize("short", ["v2", "v3"])
def test_short_api_versions_are_accepted(hook: Any, aws: Any, short: str) -> None:
    """Procore's hooks API and older deliveries say "v2"; its docs show both spellings."""
    long_name = {"v2": "v2.0", "v3": "v3.0"}[short]
    name = {"v2": "work_order_contract_create", "v3": "purchase_order_contract_create"}[short]
    payload = {**fixture(long_name, name), "api_version": short}
    response = hook(payload)
    assert response.status_code == 202, body(response)
    assert body(response)["status"] == "queued"
    [message] = inbound(aws)
    assert json.loads(message["Body"])["payload_version"] == long_name


def test_legacy_v2_example_with_64_bit_id_is_queued(hook: Any, aws: Any) -> None:
    """Procore's 2020 example: api_version "v2", a 64-bit delivery id, a line item."""
    payload = {"api_version": "v2", "company_id": FIXTURE_COMPANY, "event_type": "create",
               "id": 5982324300946918154,
               "metadata": {"source_application_id": None, "source_company_id": FIXTURE_COMPANY,
                            "source_operation_id": None, "source_project_id": 219542,
                            "source_user_id": 1469242},
               "project_id": 219542, "resource_id": 245510722,
               "resource_name": "Purchase Order Contract Line Items",
               "timestamp": "2020-07-20T15:22:01.353581Z",
               "ulid": "01EDPD2J6SBY1163N77H95GW09", "user_id": 1469242}
    assert body(hook(payload))["status"] == "queued"
    assert len(inbound(aws)) == 1


def quarantined(aws: Any) -> list[dict[str, Any]]:
    return [{"body": row["body"]["B"], "doc": row["doc"]["S"]} for row in aws.table_snapshot()
            if row["PK"]["S"].startswith("QUARANTINE#")]


@pytest.mark.parametrize(("raw", "message"), [
    (b"{not json", "not valid JSON"),
    (b"[1, 2]", "expected an object"),
    (json.dumps({**fixture("v2.0", "work_order_contract_create"), "api_version": "v9.9"}),
     "v9.9"),
    (json.dumps({k: v for k, v in fixture("v2.0", "work_order_contract_create").items()
                 if k != "resource_id"}), "resource_id"),
    (json.dumps({**fixture("v2.0", "work_order_contract_create"), "company_id": "abc"}),
     "company_id"),
    (json.dumps({**fixture("v4.0", "work_order_contract_create"), "resource_id": 5}),
     "resource_id"),
    (b"", "not valid JSON"),
])
def test_unreadable_body_with_valid_token_is_202_and_quarantined(hook: Any, aws: Any,
                                                                 raw: bytes | str,
                                                                 message: str) -> None:
    """Never a 4xx for a valid token: Procore would pause every delivery to the endpoint."""
    response = hook(raw)
    assert response.status_code == 202, body(response)
    answer = body(response)
    assert answer["status"] == "quarantined" and message in answer["reason"]
    [row] = quarantined(aws)
    stored = raw.encode() if isinstance(raw, str) else raw
    assert bytes(row["body"]) == stored
    assert message in json.loads(row["doc"])["reason"]
    assert inbound(aws) == [] and aws.queue_depth(aws.export_url) == 0


def test_body_over_256_kb_is_quarantined_cut_short_and_not_replayable(hook: Any,
                                                                      aws: Any) -> None:
    payload = {**fixture("v2.0", "work_order_contract_create"), "padding": "x" * 262_144}
    response = hook(payload)
    assert response.status_code == 202
    assert "limit is 262144" in body(response)["reason"]
    [row] = quarantined(aws)
    doc = json.loads(row["doc"])
    assert doc["replayable"] is False and doc["size"] > 262_144
    assert len(bytes(row["body"])) <= 256 * 1024
    assert inbound(aws) == []


def test_unauthenticated_oversized_body_is_401_not_413(hook: Any) -> None:
    assert hook(b"x" * 300_000, token=None).status_code == 401


def test_queue_unavailable_is_503_with_nothing_written(hook: Any, aws: Any,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from chalicelib import wiring

    monkeypatch.setenv("INBOUND_QUEUE_URL", aws.inbound_url.replace("InboundEvents", "Gone"))
    wiring.reset()
    response = hook(fixture("v2.0", "work_order_contract_create"))
    assert response.status_code == 503
    assert "inbound events queue is unavailable" in body(response)["message"]
    assert inbound(aws) == [] and aws.table_snapshot() == []
    assert aws.queue_depth(aws.export_url) == 0


def test_metrics_count_received_skipped_and_rejected(hook: Any,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    hook(fixture("v2.0", "work_order_contract_create"))
    hook(fixture("v2.0", "project_update"))
    hook(b"{", token=WEBHOOK_TOKEN)
    hook(fixture("v2.0", "work_order_contract_create"), token="Bearer nope")
    hook(b"{", token="Bearer nope")
    counted: dict[str, float] = {}
    for line in capsys.readouterr().out.splitlines():
        if '"_aws"' in line:
            record = json.loads(line)
            for metric in record["_aws"]["CloudWatchMetrics"][0]["Metrics"]:
                value = record[metric["Name"]]
                total = sum(value) if isinstance(value, list) else value
                counted[metric["Name"]] = counted.get(metric["Name"], 0) + total
    assert counted == {"WebhooksReceived": 1, "WebhooksSkipped": 1, "WebhooksQuarantined": 1,
                       "WebhooksRejected": 2}
