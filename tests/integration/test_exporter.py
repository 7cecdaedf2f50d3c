"""Exporter (exports queue consumer) against moto: accepted -> one relay command."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chalicelib.domain.models import Link
from chalicelib.domain.state_machine import Action, Status
from chalicelib.wiring import get_item_service, get_store
from devstack.pump import drain
from tests.helpers import COMPANY_ID

SNAPSHOT = {
    "commitment_type": "subcontract", "id": 900, "project_id": 11, "number": "SC-001",
    "title": "Concrete", "status": "Approved", "vendor": {"id": 21, "name": "Granite Bay"},
    "retainage_percent": "10", "description": "", "grand_total": "1500.00",
    "lines": [{"id": 1, "description": "Footings", "amount": "1500.00", "quantity": None,
               "unit_cost": None, "uom": None,
               "cost_code": {"id": 5, "full_code": "03-300", "name": "Concrete",
                             "origin_id": "3300.000"},  # refreshed from Sage
               "line_item_type": {"id": 6, "code": "S", "name": "Subcontract",
                                  "origin_id": None}}],
}


@pytest.fixture
def accepted(aws: Any) -> Any:
    store = get_store()
    store.put_link(Link(company_id=COMPANY_ID, kind="project", procore_id=11, sage_key="24001"))
    store.put_link(Link(company_id=COMPANY_ID, kind="vendor", procore_id=21, sage_key="3001"))

    def make(snapshot: dict[str, Any] | None = None, procore_id: int = 900) -> Any:
        service = get_item_service()
        item = service.observe(company_id=COMPANY_ID, kind="commitment", procore_id=procore_id,
                               project_id=11, subtype=(snapshot or SNAPSHOT)["commitment_type"],
                               snapshot=snapshot or SNAPSHOT, reasons=[], actor="t")
        item = service.apply(item, Action.ACCEPT, actor="approver", reason=None)
        service.enqueue_export(item)
        return item

    return make


def run_exporter(aws: Any, chalice_client: Any) -> tuple[int, int]:
    return drain(aws.sqs, aws.export_url,
                 lambda event: chalice_client.lambda_.invoke("exporter", event).payload)


def commands(aws: Any) -> list[dict[str, Any]]:
    return [json.loads(m["Body"]) | {"_group": m["Attributes"]["MessageGroupId"]}
            for m in aws.receive_all(aws.resources.refs["RelayCommandsQueue"])]


def test_accepted_item_becomes_one_command_and_exporting(aws: Any, chalice_client: Any,
                                                         accepted: Any) -> None:
    item = accepted()
    assert run_exporter(aws, chalice_client) == (1, 0)
    sent = commands(aws)
    assert len(sent) == 1
    command = sent[0]
    assert command["type"] == "add_subcontract"
    assert command["command_id"] == f"{COMPANY_ID}:commitment-900:v{item.version}"
    assert command["_group"] == f"{COMPANY_ID}:job:24001"
    assert command["payload"]["lines"][0]["cost_code"] == "3300.000"
    stored = get_store().get_item(COMPANY_ID, "commitment", 900)
    assert stored.status is Status.EXPORTING and stored.command_id == command["command_id"]
    assert stored.exporting_since


def test_redelivered_export_message_sends_no_second_command(aws: Any, chalice_client: Any,
                                                            accepted: Any) -> None:
    item = accepted()
    message = {"company_id": COMPANY_ID, "item_id": item.item_id, "kind": "commitment",
               "procore_id": 900, "version": item.version,
               "snapshot_version": item.snapshot_version}
    run_exporter(aws, chalice_client)
    from chalicelib.wiring import get_exporter

    assert get_exporter().handle(message) == "duplicate"
    assert len(commands(aws)) == 1


def test_snapshot_sage_would_refuse_fails_with_a_message_and_no_command(
        aws: Any, chalice_client: Any, accepted: Any) -> None:
    too_long = {**SNAPSHOT, "lines": [{**SNAPSHOT["lines"][0], "description": "d" * 60}]}
    accepted(too_long)
    run_exporter(aws, chalice_client)
    assert commands(aws) == []
    item = get_store().get_item(COMPANY_ID, "commitment", 900)
    assert item.status is Status.FAILED
    assert "is 60 characters; Sage 100 Contractor takes at most 50" in item.status_reason
    assert item.last_error["code"] == "validation"
    trail = get_store().audit_trail(COMPANY_ID, "commitment", 900)
    assert [e.action for e in trail][-1] == "export_failed"


def test_relay_queue_down_keeps_the_item_accepted_and_the_message(
        aws: Any, chalice_client: Any, accepted: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from chalicelib import wiring

    accepted()
    monkeypatch.setenv("RELAY_COMMANDS_QUEUE_URL", "http://127.0.0.1:1/nowhere.fifo")
    wiring.reset()
    handled, failed = drain(aws.sqs, aws.export_url,
                            lambda e: chalice_client.lambda_.invoke("exporter", e).payload,
                            max_rounds=1)
    assert (handled, failed) == (0, 1)
    assert get_store().get_item(COMPANY_ID, "commitment", 900).status is Status.ACCEPTED
    assert aws.queue_depth(aws.export_url) == 1  # retried by SQS, then the DLQ if it persists
