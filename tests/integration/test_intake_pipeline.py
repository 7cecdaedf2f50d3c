"""Webhook -> receiver -> inbound FIFO queue -> intake -> item, over the real pieces.

The Procore sandbox runs on 127.0.0.1 and fires real webhooks at a loopback receiver;
each delivery is posted to the Chalice app (chalice.test.Client), and the inbound queue
(moto, from infra/) is pumped into the intake Lambda handler as Lambda would.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from chalicelib.domain.models import Link
from chalicelib.domain.state_machine import Status
from chalicelib.wiring import get_store
from devstack.pump import drain, pump_once, sqs_event
from tests.conftest import CONNECTOR_APP_ID, WEBHOOK_TOKEN
from tests.fixtures_sandbox import (  # noqa: F401
    demo_fixture,
    sandbox_fixture,
    webhook_receiver_fixture,
)
from tests.helpers import COMPANY_ID, body, use_division_dash_codes

WOC = "work_order_contract"
POC = "purchase_order_contract"


class Pipeline:
    def __init__(self, aws: Any, sandbox: Any, demo: dict[str, Any], client: Any,
                 receiver: Any) -> None:
        self.aws, self.sandbox, self.demo, self.client = aws, sandbox, demo, client
        self.receiver = receiver
        self.delivered = 0
        self.project = demo["project_ids"]["main"]
        self.codes = demo["cost_code_ids"]["main"]
        self.types = demo["line_item_type_ids"]

    # -- Procore side --------------------------------------------------------------------
    def link_project_and_vendor(self, vendor: str = "concrete") -> None:
        store = get_store()
        store.put_link(Link(company_id=COMPANY_ID, kind="project", procore_id=self.project,
                            sage_key="24001"))
        store.put_link(Link(company_id=COMPANY_ID, kind="vendor",
                            procore_id=self.demo["vendor_ids"][vendor], sage_key="3001"))

    def commitment(self, kind: str = WOC, *, status: str = "Approved", number: str = "SC-001",
                   title: str = "Concrete", vendor: str | None = "concrete",
                   lines: int = 2, coded: bool = True) -> dict[str, Any]:
        fields: dict[str, Any] = {"number": number, "title": title, "status": status}
        if vendor:
            fields["vendor_id"] = self.demo["vendor_ids"][vendor]
        record = self.sandbox.create_commitment(kind, self.project, **fields)
        for n in range(lines):
            line: dict[str, Any] = {"description": f"Line {n + 1}", "amount": f"{1000 * (n + 1)}"}
            if coded:
                line["cost_code_id"] = self.codes["03-300"]
                line["line_item_type_id"] = self.types["S"]
            self.sandbox.add_line_item(kind, record["id"], **line)
        return record

    # -- connector side ------------------------------------------------------------------
    def deliveries(self) -> list[dict[str, Any]]:
        """Webhooks the sandbox fired since the last call, as (headers, payload)."""
        fresh = self.receiver.received[self.delivered:]
        self.delivered = len(self.receiver.received)
        return [{"authorization": w.headers.get("authorization"), "payload": w.payload}
                for w in fresh]

    def post(self, delivery: dict[str, Any]) -> Any:
        return self.client.http.post(
            "/webhooks/procore", body=json.dumps(delivery["payload"]),
            headers={"Content-Type": "application/json",
                     "Authorization": delivery["authorization"]})

    def run_intake(self) -> tuple[int, int]:
        return drain(self.aws.sqs, self.aws.inbound_url, self.invoke_intake)

    def invoke_intake(self, event: dict[str, Any]) -> Any:
        return self.client.lambda_.invoke("intake", event).payload

    def deliver_and_process(self) -> list[Any]:
        answers = [self.post(d) for d in self.deliveries()]
        self.run_intake()
        return answers

    def item(self, procore_id: int) -> Any:
        return get_store().get_item(COMPANY_ID, "commitment", procore_id)

    def trail(self, procore_id: int) -> list[Any]:
        return get_store().audit_trail(COMPANY_ID, "commitment", procore_id)


@pytest.fixture
def pipe(aws: Any, sandbox: Any, demo: dict[str, Any], webhook_receiver: Any,
         chalice_client: Any, monkeypatch: pytest.MonkeyPatch) -> Pipeline:
    from chalicelib import wiring

    monkeypatch.setenv("PROCORE_BASE_URL", sandbox.url)
    monkeypatch.setenv("PROCORE_AUTH_URL", sandbox.url)
    monkeypatch.setenv("CONNECTOR_PROCORE_USER_ID", str(sandbox.service_account_user_id))
    wiring.reset()
    use_division_dash_codes()
    sandbox.set_webhook(webhook_receiver.url, WEBHOOK_TOKEN)
    return Pipeline(aws, sandbox, demo, chalice_client, webhook_receiver)


def test_approved_subcontract_becomes_ready_to_export(pipe: Pipeline) -> None:
    pipe.link_project_and_vendor()
    record = pipe.commitment()
    answers = pipe.deliver_and_process()
    assert answers and all(a.status_code == 202 for a in answers)
    item = pipe.item(record["id"])
    assert item.status is Status.READY_TO_EXPORT
    assert item.reasons == []
    assert item.snapshot["vendor"]["name"] == "Granite Bay Concrete"
    assert item.snapshot["grand_total"] == "3000.00"
    assert [ln["cost_code"]["full_code"] for ln in item.snapshot["lines"]] == ["03-300"] * 2
    assert item.subtype == "subcontract" and item.project_id == pipe.project
    # Three webhooks (commitment + 2 lines), one content: one version.
    assert [e.action for e in pipe.trail(record["id"])] == ["observe_ready"]


def test_purchase_order_with_v3_payloads(pipe: Pipeline) -> None:
    pipe.sandbox.set_webhook(pipe.receiver.url, WEBHOOK_TOKEN, payload_version="v3.0")
    pipe.link_project_and_vendor("steel")
    record = pipe.commitment(POC, number="PO-17", vendor="steel", lines=1)
    pipe.deliver_and_process()
    item = pipe.item(record["id"])
    assert item.status is Status.READY_TO_EXPORT and item.subtype == "purchase_order"


def test_v4_payloads_with_string_ids(pipe: Pipeline) -> None:
    pipe.sandbox.set_webhook(pipe.receiver.url, WEBHOOK_TOKEN, payload_version="v4.0")
    pipe.link_project_and_vendor()
    record = pipe.commitment(lines=1)
    pipe.deliver_and_process()
    assert pipe.item(record["id"]).status is Status.READY_TO_EXPORT


def test_same_delivery_five_times_gives_one_item_version(pipe: Pipeline) -> None:
    pipe.link_project_and_vendor()
    record = pipe.commitment(lines=1)
    deliveries = pipe.deliveries()
    for _ in range(5):  # Procore retrying: FIFO deduplication drops the repeats
        for delivery in deliveries:
            assert pipe.post(delivery).status_code == 202
    pipe.run_intake()
    # And past SQS's deduplication window: the same message handed to intake 5 times.
    first = deliveries[0]["payload"]
    from chalicelib.domain.webhooks import parse_webhook, to_message

    message = {"MessageId": "m", "ReceiptHandle": "r",
               "Body": json.dumps(to_message(parse_webhook(json.dumps(first))))}
    for n in range(5):
        answer = pipe.invoke_intake(sqs_event([{**message, "MessageId": f"m{n}"}], "arn"))
        assert answer == {"batchItemFailures": []}
    assert pipe.item(record["id"]).version == 1
    assert len(pipe.trail(record["id"])) == 1


def test_update_before_create_still_ends_right(pipe: Pipeline) -> None:
    pipe.link_project_and_vendor()
    record = pipe.commitment(status="Draft", lines=1)
    pipe.sandbox.update_commitment(WOC, record["id"], status="Approved")
    deliveries = pipe.deliveries()
    actions = [d["payload"]["event_type"] for d in deliveries]
    assert actions[0] == "create" and actions[-1] == "update"
    for delivery in reversed(deliveries):  # the update arrives first
        pipe.post(delivery)
    pipe.run_intake()
    item = pipe.item(record["id"])
    assert item.status is Status.READY_TO_EXPORT  # the latest state, whatever the order
    assert item.snapshot["status"] == "Approved"
    assert item.version == 1


def test_not_ready_with_every_reason_then_fixed(pipe: Pipeline) -> None:
    record = pipe.commitment(status="Draft", number="SC-2026-000123", vendor="electrical",
                             title="Electrical rough-in and trim for all floors", coded=False,
                             lines=1)
    pipe.deliver_and_process()
    item = pipe.item(record["id"])
    assert item.status is Status.NOT_READY
    text = " | ".join(item.reasons)
    for expected in ("is Draft", "not linked to a Sage 100 Contractor job",
                     "Company 'Northern California Electrical Contractors Incorporated' is "
                     "not linked", "is 14 characters", "takes at most 30",
                     "Line 1 ('Line 1') has no cost code", "has no cost type"):
        assert expected in text
    # The project manager fixes everything in Procore; accounting links project and vendor.
    pipe.link_project_and_vendor("electrical")
    line = pipe.sandbox.list_line_items(WOC, record["id"])[0]
    pipe.sandbox.update_line_item(WOC, record["id"], line["id"],
                                  cost_code_id=pipe.codes["26-000"],
                                  line_item_type_id=pipe.types["S"])
    pipe.sandbox.update_commitment(WOC, record["id"], status="Approved", number="SC-123",
                                   title="Electrical rough-in")
    pipe.deliver_and_process()
    item = pipe.item(record["id"])
    assert item.status is Status.READY_TO_EXPORT and item.reasons == []
    assert [e.to_status for e in pipe.trail(record["id"])][-1] == "ready_to_export"


def test_unchanged_commitment_seen_again_makes_no_new_version(pipe: Pipeline) -> None:
    pipe.link_project_and_vendor()
    record = pipe.commitment(lines=1)
    pipe.deliver_and_process()
    pipe.sandbox.update_commitment(WOC, record["id"], title="Concrete")  # same title
    answers = pipe.deliver_and_process()
    assert len(answers) == 1
    assert pipe.item(record["id"]).version == 1


def test_line_item_event_without_parent_resolves_to_its_commitment(pipe: Pipeline) -> None:
    pipe.link_project_and_vendor()
    record = pipe.commitment(lines=1)
    pipe.deliver_and_process()
    line = pipe.sandbox.list_line_items(WOC, record["id"])[0]
    pipe.sandbox.update_line_item(WOC, record["id"], line["id"], amount="1234.50")
    delivery = pipe.deliveries()
    assert delivery[0]["payload"]["resource_name"] == "Work Order Contract Line Items"
    assert "related_resources" not in delivery[0]["payload"]  # v2.0 does not name the parent
    pipe.post(delivery[0])
    pipe.run_intake()
    item = pipe.item(record["id"])
    assert item.snapshot["grand_total"] == "1234.50" and item.version == 2


def test_a_deleted_line_without_parent_resolves_through_the_line_index(
        pipe: Pipeline) -> None:
    pipe.link_project_and_vendor()
    record = pipe.commitment(lines=2)
    pipe.deliver_and_process()
    first, second = pipe.sandbox.list_line_items(WOC, record["id"])
    assert get_store().get_line_parent(COMPANY_ID, second["id"]) == record["id"]
    pipe.sandbox.delete_line_item(WOC, record["id"], second["id"])
    delivery = pipe.deliveries()
    assert delivery[0]["payload"]["event_type"] == "delete"
    assert "related_resources" not in delivery[0]["payload"]
    pipe.post(delivery[0])
    pipe.run_intake()  # Procore no longer lists the line: only the index knows its parent
    item = pipe.item(record["id"])
    assert [line["id"] for line in item.snapshot["lines"]] == [first["id"]]


def test_delete_withdraws_an_item_not_yet_accepted(pipe: Pipeline) -> None:
    pipe.link_project_and_vendor()
    record = pipe.commitment(lines=1)
    pipe.deliver_and_process()
    pipe.sandbox.delete_commitment(WOC, record["id"])
    pipe.deliver_and_process()
    item = pipe.item(record["id"])
    assert item.status is Status.WITHDRAWN and item.deleted_in_procore
    assert pipe.trail(record["id"])[-1].reason == "deleted in Procore"


def test_change_after_acceptance_waits_for_a_new_acceptance(pipe: Pipeline) -> None:
    from chalicelib.wiring import get_item_service
    from tests.helpers import seed_personas

    seed_personas()
    pipe.link_project_and_vendor()
    record = pipe.commitment(lines=1)
    pipe.deliver_and_process()
    approver = get_store().get_user(COMPANY_ID, "approver")
    accepted = get_item_service().accept(approver, f"commitment-{record['id']}")
    pipe.sandbox.update_commitment(WOC, record["id"], title="Concrete (rev 2)")
    pipe.deliver_and_process()
    item = pipe.item(record["id"])
    assert item.status is Status.ACCEPTED
    assert item.snapshot == accepted.snapshot  # what the approver saw still exports
    assert item.pending_snapshot["title"] == "Concrete (rev 2)"
    pipe.sandbox.delete_commitment(WOC, record["id"])
    pipe.deliver_and_process()
    item = pipe.item(record["id"])
    assert item.status is Status.ACCEPTED and item.deleted_in_procore


def test_connector_own_writes_do_not_come_back(pipe: Pipeline) -> None:
    pipe.sandbox.create_commitment(WOC, pipe.project, number="SC-9", title="Echo",
                                   as_application=CONNECTOR_APP_ID)
    answers = [pipe.post(d) for d in pipe.deliveries()]
    assert [body(a)["status"] for a in answers] == ["skipped"]
    assert pipe.aws.queue_depth(pipe.aws.inbound_url) == 0


def test_rate_limited_then_success(pipe: Pipeline) -> None:
    pipe.link_project_and_vendor()
    record = pipe.commitment(lines=1)
    pipe.sandbox.inject_fault(429, count=1, path_prefix="/rest/v1.0/work_order_contracts",
                              reset_in=0)
    before = dict(pipe.sandbox.request_counts)
    pipe.deliver_and_process()
    assert pipe.item(record["id"]).status is Status.READY_TO_EXPORT
    after = pipe.sandbox.request_counts
    gets = [k for k in after if "work_order_contracts" in str(k)]
    assert sum(after[k] for k in gets) > sum(before.get(k, 0) for k in gets)


def test_procore_down_reports_a_batch_item_failure_and_keeps_the_message(
        pipe: Pipeline) -> None:
    pipe.link_project_and_vendor()
    record = pipe.commitment(lines=0)
    for delivery in pipe.deliveries():
        pipe.post(delivery)
    pipe.sandbox.inject_fault(503, count=50, retry_after=0)
    # Lambda's view: the failed record is reported, not deleted, and comes back after the
    # queue's visibility timeout (shortened to 1 s here).
    handled, failed = pump_once(pipe.aws.sqs, pipe.aws.inbound_url, pipe.invoke_intake,
                                visibility_timeout=1)
    assert (handled, failed) == (0, 1)
    assert pipe.item(record["id"]) is None
    assert pipe.aws.queue_depth(pipe.aws.inbound_url) == 1  # back on the queue, not lost
    pipe.sandbox.clear_faults()
    time.sleep(1.2)
    assert pipe.run_intake() == (1, 0)
    assert pipe.item(record["id"]).status is Status.NOT_READY


def test_a_poison_message_ends_in_the_dead_letter_queue_after_five_tries(
        pipe: Pipeline) -> None:
    pipe.aws.sqs.send_message(QueueUrl=pipe.aws.inbound_url, MessageBody='{"event_id": 1}',
                              MessageGroupId="g", MessageDeduplicationId="poison")
    for _ in range(5):
        assert pump_once(pipe.aws.sqs, pipe.aws.inbound_url, pipe.invoke_intake,
                         visibility_timeout=0) == (0, 1)
    assert pump_once(pipe.aws.sqs, pipe.aws.inbound_url, pipe.invoke_intake) == (0, 0)
    dlq = pipe.aws.resources.refs["InboundEventsDeadLetterQueue"]
    dead = pipe.aws.receive_all(dlq)
    assert [m["Body"] for m in dead] == ['{"event_id": 1}']
