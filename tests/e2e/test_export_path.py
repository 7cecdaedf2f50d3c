"""The export path end to end: webhook -> ready -> accept -> exporter -> relay agent (its own
process) -> embedded Sage -> results -> synced, with the origin id back in Procore."""

from __future__ import annotations

import json
import time
from decimal import Decimal
from typing import Any

import pytest

from chalicelib.relay_protocol import SubcontractLine, SubcontractPayload
from tests.e2e.conftest import POC, WOC, ExportStack, PausableProxy

pytestmark = pytest.mark.e2e


def accept(stack: ExportStack, procore_id: int) -> None:
    status, body = stack.call("post", f"/items/commitment-{procore_id}/accept", "approver")
    assert status == 200, body


def test_subcontract_lands_in_sage_and_its_origin_in_procore(stack: ExportStack) -> None:
    stack.link()
    stack.start_agent()
    record = stack.commitment()
    stack.until(stack.status(record["id"], "ready_to_export"))
    accept(stack, record["id"])
    item = stack.until(stack.status(record["id"], "synced"))
    keys = stack.sage.find_subcontract(24001, "SC-001")
    assert keys is not None and item.erp_keys["subcon"] == keys["subcon"]
    subcon = stack.sage.subcontract(keys["subcon"])
    assert (subcon["jobnum"], subcon["vndnum"], subcon["ctcnum"]) == (24001, 3001, "SC-001")
    assert subcon["cntttl"] == Decimal("60500.50") and subcon["rtnrte"] == Decimal("10")
    assert [(ln["linnum"], ln["cstcde"], ln["csttyp"], ln["amount"]) for ln in
            subcon["lines"]] == [(1, "3300.000", 4, Decimal("48000.00")),
                                 (2, "3300.000", 2, Decimal("12500.50"))]
    procore = stack.sandbox.get_commitment(WOC, record["id"])
    assert procore["origin_id"] == f"subcon:{keys['subcon']}"
    assert procore["origin_code"] == "SC-001"
    # The origin write-back fired a webhook: it is our own echo and changes nothing.
    stack.until(lambda: stack.pumps.step() == 0 and not stack.aws.queue_depth(
        stack.aws.inbound_url))
    assert stack.item(record["id"]).version == item.version


def test_purchase_order_lands_in_sage(stack: ExportStack) -> None:
    stack.link("steel", "3003")
    stack.start_agent()
    record = stack.commitment(POC, number="PO-001", vendor="steel",
                              lines=[("#5 rebar", "12500", "05-120", "M")])
    stack.until(stack.status(record["id"], "ready_to_export"))
    accept(stack, record["id"])
    stack.until(stack.status(record["id"], "synced"))
    keys = stack.sage.find_purchase_order("PO-001")
    order = stack.sage.purchase_order(keys["pchord"])
    assert (order["jobnum"], order["vndnum"], order["pchttl"]) == (24001, 3003,
                                                                   Decimal("12500.00"))
    assert [(ln["cstcde"], ln["csttyp"], ln["extttl"]) for ln in order["lines"]] == [
        ("5120.000", 1, Decimal("12500.00"))]
    assert stack.sandbox.get_commitment(POC, record["id"])["origin_id"] == \
        f"pchord:{keys['pchord']}"


def test_agent_dies_after_the_sage_write_and_restarts_one_record(stack: ExportStack) -> None:
    stack.link()
    crashing = stack.start_agent(RELAY_CRASH_AFTER_SAGE_WRITE="1")
    record = stack.commitment()
    stack.until(stack.status(record["id"], "ready_to_export"))
    accept(stack, record["id"])
    stack.until(lambda: crashing.poll() is not None)  # died between the write and the ack
    assert crashing.returncode == 137
    assert stack.sage.count("subcon") == 1
    assert stack.item(record["id"]).status.value == "exporting"
    stack.stop_agent()
    stack.start_agent()  # the command comes back after its visibility timeout (2 s here)
    stack.until(stack.status(record["id"], "synced"))
    assert stack.sage.count("subcon") == 1
    assert stack.sage.count("sbcnln") == 2


def test_a_command_delivered_twice_writes_one_record(stack: ExportStack) -> None:
    stack.link()
    record = stack.commitment()
    stack.until(stack.status(record["id"], "ready_to_export"))
    accept(stack, record["id"])
    stack.until(stack.status(record["id"], "exporting"))
    commands_url = stack.aws.resources.refs["RelayCommandsQueue"]
    [message] = stack.aws.receive_all(commands_url)
    stack.aws.sqs.change_message_visibility(QueueUrl=commands_url, VisibilityTimeout=0,
                                            ReceiptHandle=message["ReceiptHandle"])
    stack.aws.sqs.send_message(QueueUrl=commands_url, MessageBody=message["Body"],
                               MessageGroupId=message["Attributes"]["MessageGroupId"],
                               MessageDeduplicationId="a-second-delivery")
    assert stack.aws.queue_depth(commands_url) == 2
    stack.start_agent()
    stack.until(stack.status(record["id"], "synced"))
    stack.until(lambda: stack.aws.queue_depth(commands_url) == 0)
    stack.until(lambda: stack.pumps.counts["results"][0] >= 2)
    assert stack.sage.count("subcon") == 1
    command_id = json.loads(message["Body"])["command_id"]
    assert stack.item(record["id"]).command_id == command_id


def test_duplicate_number_fails_with_sages_message_then_fixed_and_resent(
        stack: ExportStack) -> None:
    stack.link()
    stack.sage.add_subcontract(SubcontractPayload(
        job=24001, vendor=3001, number="SC-001", description="Entered in Sage by hand",
        lines=[SubcontractLine(line_number=1, description="x", cost_code="3300.000",
                               cost_type=4, amount=Decimal("1"))]))
    stack.start_agent()
    record = stack.commitment()
    stack.until(stack.status(record["id"], "ready_to_export"))
    accept(stack, record["id"])
    failed = stack.until(stack.status(record["id"], "failed"))
    assert failed.last_error["code"] == 14201
    assert "SC-001" in failed.status_reason and "already exists" in failed.status_reason
    _, detail = stack.call("get", f"/items/commitment-{record['id']}", "viewer")
    assert "14201" in detail["status_reason"]
    # The project manager renumbers it in Procore and resends; the approver accepts.
    stack.sandbox.update_commitment(WOC, record["id"], number="SC-002")
    stack.until(lambda: stack.item(record["id"]).snapshot["number"] == "SC-002")
    assert stack.call("post", f"/items/commitment-{record['id']}/resend", "pm")[0] == 200
    accept(stack, record["id"])
    stack.until(stack.status(record["id"], "synced"))
    assert stack.sage.find_subcontract(24001, "SC-002") is not None
    assert stack.sage.count("subcon") == 2


def test_unknown_cost_code_fails_then_added_in_sage_and_resent(stack: ExportStack) -> None:
    stack.link()
    masonry = stack.sandbox.add_cost_code(stack.project, "04-400", "Masonry")
    stack.codes["04-400"] = masonry["id"]
    stack.start_agent()
    record = stack.commitment(lines=[("Block walls", "9000", "04-400", "S")])
    stack.until(stack.status(record["id"], "ready_to_export"))
    accept(stack, record["id"])
    failed = stack.until(stack.status(record["id"], "failed"))
    assert failed.last_error["code"] == 12802
    assert "4400.000" in failed.status_reason
    stack.sage.add_cost_code("4400.000", "Masonry")  # the accountant adds it in Sage
    assert stack.call("post", f"/items/commitment-{record['id']}/resend", "pm")[0] == 200
    accept(stack, record["id"])
    stack.until(stack.status(record["id"], "synced"))
    assert stack.sage.count("subcon") == 1


def test_aws_unreachable_for_a_while_then_the_agent_recovers(stack: ExportStack) -> None:
    stack.link()
    port = int(stack.endpoint.rsplit(":", 1)[1])
    proxy = PausableProxy(port)
    try:
        stack.start_agent(endpoint=f"http://127.0.0.1:{proxy.port}")
        record = stack.commitment()
        stack.until(stack.status(record["id"], "ready_to_export"))
        proxy.pause()  # the office internet goes down
        accept(stack, record["id"])
        stack.until(stack.status(record["id"], "exporting"))
        time.sleep(3)
        assert stack.sage.count("subcon") == 0
        assert "backing off" in stack.agent_log.read_text()
        proxy.resume()  # back up: nobody touches the agent
        stack.until(stack.status(record["id"], "synced"), timeout=60)
        assert stack.agent.poll() is None and stack.sage.count("subcon") == 1
    finally:
        proxy.pause()


def test_agent_stops_cleanly_on_sigterm(stack: ExportStack) -> None:
    agent: Any = stack.start_agent()
    stack.until(lambda: stack.pumps.counts["results"][0] >= 1)  # a heartbeat arrived
    assert stack.stop_agent() == 0
    del agent
