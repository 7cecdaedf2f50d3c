"""Results consumer against moto and the Procore sandbox: synced or failed, exactly once."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chalicelib.domain.models import utc_now
from chalicelib.domain.state_machine import Status
from chalicelib.relay_protocol import Heartbeat, Result, SageFailure
from chalicelib.wiring import get_intake, get_item_service, get_store
from devstack.pump import drain, sqs_event
from tests.fixtures_sandbox import demo_fixture, sandbox_fixture  # noqa: F401
from tests.helpers import COMPANY_ID, connect_to_sandbox

WOC = "work_order_contract"


class Flow:
    def __init__(self, aws: Any, sandbox: Any, demo: dict[str, Any], client: Any) -> None:
        self.aws, self.sandbox, self.demo, self.client = aws, sandbox, demo, client
        self.project = demo["project_ids"]["main"]

    def exporting(self, number: str = "SC-001") -> Any:
        """A commitment evaluated, accepted and handed to the relay queue."""
        record = self.sandbox.create_commitment(
            WOC, self.project, number=number, title="Concrete", status="Approved",
            vendor_id=self.demo["vendor_ids"]["concrete"])
        self.sandbox.add_line_item(WOC, record["id"], description="Footings", amount="1500",
                                   cost_code_id=self.demo["cost_code_ids"]["main"]["03-300"],
                                   line_item_type_id=self.demo["line_item_type_ids"]["S"])
        get_intake().evaluate_commitment(COMPANY_ID, WOC, record["id"], self.project,
                                         actor="t")
        approver = get_store().get_user(COMPANY_ID, "approver")
        get_item_service().accept(approver, f"commitment-{record['id']}")
        drain(self.aws.sqs, self.aws.export_url,
              lambda e: self.client.lambda_.invoke("exporter", e).payload)
        item = get_store().get_item(COMPANY_ID, "commitment", record["id"])
        assert item.status is Status.EXPORTING
        return item

    def deliver(self, *messages: Result | Heartbeat) -> Any:
        event = sqs_event([{"MessageId": f"m{n}", "ReceiptHandle": "r",
                            "Body": m.model_dump_json(),
                            "Attributes": {"MessageGroupId": "g"}}
                           for n, m in enumerate(messages)], "arn")
        return self.client.lambda_.invoke("results", event).payload

    def result(self, item: Any, **fields: Any) -> Result:
        base = {"command_id": item.command_id, "company_id": COMPANY_ID,
                "item_id": item.item_id, "export_version": item.version - 1, "ok": True,
                "sage_keys": {"subcon": "17", "ctcnum": item.number}, "agent_id": "agent-1",
                "finished_at": utc_now()}
        return Result(**{**base, **fields})


@pytest.fixture
def flow(aws: Any, sandbox: Any, demo: dict[str, Any], chalice_client: Any,
         monkeypatch: pytest.MonkeyPatch) -> Flow:
    connect_to_sandbox(monkeypatch, sandbox, demo)
    return Flow(aws, sandbox, demo, chalice_client)


def test_ok_result_syncs_and_writes_the_origin_back_to_procore(flow: Flow) -> None:
    item = flow.exporting()
    assert flow.deliver(flow.result(item)) == {"batchItemFailures": []}
    synced = get_store().get_item(COMPANY_ID, "commitment", item.procore_id)
    assert synced.status is Status.SYNCED
    assert synced.erp_keys == {"subcon": "17", "ctcnum": "SC-001", "origin_id": "subcon:17"}
    assert synced.writeback_error is None
    procore = flow.sandbox.get_commitment(WOC, item.procore_id)
    assert (procore["origin_id"], procore["origin_code"]) == ("subcon:17", "SC-001")
    link = get_store().get_link(COMPANY_ID, "commitment", item.procore_id)
    assert link.sage_key == "subcon:17"
    # The same result again (SQS at-least-once): nothing more happens.
    assert flow.deliver(flow.result(item)) == {"batchItemFailures": []}
    trail = get_store().audit_trail(COMPANY_ID, "commitment", item.procore_id)
    assert [e.action for e in trail].count("export_succeeded") == 1


def test_sage_refusal_fails_with_sages_code_and_message(flow: Flow) -> None:
    item = flow.exporting()
    refusal = SageFailure(code=14201, message="Subcontract number SC-001 already exists on "
                          "job 24001")
    flow.deliver(flow.result(item, ok=False, error=refusal, sage_keys={}))
    failed = get_store().get_item(COMPANY_ID, "commitment", item.procore_id)
    assert failed.status is Status.FAILED
    assert failed.last_error["code"] == 14201
    assert "14201 Subcontract number SC-001 already exists" in failed.status_reason
    assert flow.sandbox.get_commitment(WOC, item.procore_id).get("origin_id") in (None, "")


def test_procore_down_during_write_back_retries_the_result(flow: Flow) -> None:
    item = flow.exporting()
    flow.sandbox.inject_fault(503, count=50, retry_after=0)
    with pytest.raises(Exception, match="All records failed"):  # Lambda error: SQS retries
        flow.deliver(flow.result(item))
    assert get_store().get_item(COMPANY_ID, "commitment", item.procore_id).status is \
        Status.EXPORTING
    flow.sandbox.clear_faults()
    assert flow.deliver(flow.result(item)) == {"batchItemFailures": []}
    assert get_store().get_item(COMPANY_ID, "commitment", item.procore_id).status is \
        Status.SYNCED


def test_heartbeats_and_the_waiting_note(flow: Flow, mint: Any,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from chalicelib import wiring

    monkeypatch.setenv("EXPORT_STALE_SECONDS", "0")
    wiring.reset()
    item = flow.exporting()
    headers = {"Authorization": mint("viewer")}
    detail = json.loads(flow.client.http.get(f"/items/{item.item_id}", headers=headers).body)
    assert "never been seen" in detail["waiting"]
    flow.deliver(Heartbeat(agent_id="agent-1", company_id=COMPANY_ID,
                           at="2026-11-26T01:00:00.000Z"),
                 Heartbeat(agent_id="agent-1", company_id=COMPANY_ID,
                           at="2026-11-26T00:59:00.000Z"))  # late, older: ignored
    detail = json.loads(flow.client.http.get(f"/items/{item.item_id}", headers=headers).body)
    assert "last seen at 2026-11-26T01:00:00.000Z (agent agent-1)" in detail["waiting"]


def test_resend_after_failure_exports_again(flow: Flow, mint: Any) -> None:
    item = flow.exporting()
    flow.deliver(flow.result(item, ok=False, sage_keys={},
                             error=SageFailure(code=12802, message="Cost code 3300.000 not "
                                               "found")))
    pm_headers = {"Authorization": mint("pm")}
    response = flow.client.http.post(f"/items/{item.item_id}/resend", headers=pm_headers)
    assert response.status_code == 200
    approver = get_store().get_user(COMPANY_ID, "approver")
    get_item_service().accept(approver, item.item_id)
    drain(flow.aws.sqs, flow.aws.export_url,
          lambda e: flow.client.lambda_.invoke("exporter", e).payload)
    again = get_store().get_item(COMPANY_ID, "commitment", item.procore_id)
    assert again.status is Status.EXPORTING and again.command_id != item.command_id
    flow.deliver(flow.result(again))
    assert get_store().get_item(COMPANY_ID, "commitment", item.procore_id).status is \
        Status.SYNCED
