"""The holes issue "Lifecycle that never strands, doubles or regresses an item" named, each
shown closed over the real pieces: the Procore sandbox (HTTP), the table and queues in
moto, the exporter / results / sweeper handlers, the relay agent on an embedded Sage.

Each test failed on the lifecycle before the export record existed (see the issue's Why).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from chalicelib.domain.commitments import CHANGE_ORDER_REASON
from chalicelib.domain.state_machine import Status
from chalicelib.relay_protocol import Command, CommandType
from chalicelib.services.sweeper import SweeperService
from chalicelib.wiring import get_intake, get_item_service, get_store
from devstack.pump import drain
from relay.agent import RelayAgent
from relay.config import AgentConfig
from relay.sage.embedded import EmbeddedSage
from tests.fixtures_sandbox import demo_fixture, sandbox_fixture  # noqa: F401
from tests.helpers import COMPANY_ID, connect_to_sandbox

WOC, POC = "work_order_contract", "purchase_order_contract"


class Flow:
    """One commitment's way from Procore to Sage, stage by stage, for tests to interleave."""

    def __init__(self, aws: Any, sandbox: Any, demo: dict[str, Any], client: Any,
                 tmp: Path) -> None:
        self.aws, self.sandbox, self.demo, self.client = aws, sandbox, demo, client
        self.project = demo["project_ids"]["main"]
        self.relay_commands = aws.resources.refs["RelayCommandsQueue"]
        self.relay_results = aws.resources.refs["RelayResultsQueue"]
        self.sage = EmbeddedSage(tmp / "sage.db")
        self.sage.init()
        self.sage.seed_demo()
        config = AgentConfig(agent_id="agent-1", company_id=COMPANY_ID,
                             commands_queue_url=self.relay_commands,
                             results_queue_url=self.relay_results,
                             journal_path=str(tmp / "journal.db"), sage_db=str(tmp / "sage.db"),
                             wait_seconds=0, visibility_timeout=1, heartbeat_seconds=3600)
        self.agent = RelayAgent(config, self.sage, aws.sqs)
        self.store, self.items = get_store(), get_item_service()
        self.approver = self.store.get_user(COMPANY_ID, "approver")

    # -- Procore ---------------------------------------------------------------------------
    def commitment(self, kind: str = WOC, number: str = "SC-001", lines: int = 1) -> int:
        record = self.sandbox.create_commitment(
            kind, self.project, number=number, title="Site concrete", status="Approved",
            vendor_id=self.demo["vendor_ids"]["concrete"], retainage_percent="10",
            contract_date="2026-11-02")
        for n in range(lines):
            self.sandbox.add_line_item(
                kind, record["id"], description=f"Line {n + 1}", amount=f"{1000 + n}.25",
                cost_code_id=self.demo["cost_code_ids"]["main"]["03-300"],
                line_item_type_id=self.demo["line_item_type_ids"]["S"])
        self.observe(record["id"], kind)
        return int(record["id"])

    def observe(self, cid: int, kind: str = WOC) -> Any:
        """What a webhook for the commitment leads to: intake reads Procore now."""
        return get_intake().evaluate_commitment(COMPANY_ID, kind, cid, self.project,
                                                actor="system:intake")

    def edit(self, cid: int, kind: str = WOC, **fields: Any) -> None:
        self.sandbox.update_commitment(kind, cid, **fields)

    # -- connector ------------------------------------------------------------------------
    def accept(self, cid: int) -> Any:
        return self.items.accept(self.approver, f"commitment-{cid}")

    def exporter(self) -> int:
        return drain(self.aws.sqs, self.aws.export_url, self._lambda("exporter"),
                     visibility_timeout=0)[0]

    def results(self) -> int:
        return drain(self.aws.sqs, self.relay_results, self._lambda("results"),
                     visibility_timeout=0)[0]

    def settle(self) -> None:
        for _ in range(20):
            moved = self.exporter() + self.agent.poll_once() + self.results()
            if not moved:
                return

    def item(self, cid: int) -> Any:
        return self.store.get_item(COMPANY_ID, "commitment", cid)

    def commands(self) -> list[Command]:
        got = self.aws.receive_all(self.relay_commands)
        for message in got:  # visible again for the agent
            self.aws.sqs.change_message_visibility(QueueUrl=self.relay_commands,
                                                   ReceiptHandle=message["ReceiptHandle"],
                                                   VisibilityTimeout=0)
        return [Command.model_validate_json(m["Body"]) for m in got]

    def subcontracts(self, number: str) -> list[dict[str, Any]]:
        return self.sage.rows("subcon", {"ctcnum": number})

    def _lambda(self, name: str) -> Any:
        return lambda event: self.client.lambda_.invoke(name, event).payload


@pytest.fixture
def flow(aws: Any, sandbox: Any, demo: dict[str, Any], chalice_client: Any,
         monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    connect_to_sandbox(monkeypatch, sandbox, demo)
    made = Flow(aws, sandbox, demo, chalice_client, tmp_path)
    yield made
    made.agent.close()


def test_an_edit_right_after_acceptance_still_exports_the_accepted_content(flow: Flow) -> None:
    cid = flow.commitment()
    accepted = flow.accept(cid)
    flow.edit(cid, title="Site concrete rev 2")
    flow.observe(cid)  # the item's version moves on; its export record does not
    assert flow.exporter() == 1
    item = flow.item(cid)
    assert item.status is Status.EXPORTING  # not dropped as "stale"
    assert item.command_id == accepted.export.command_id
    assert item.pending_snapshot["title"] == "Site concrete rev 2"
    [command] = flow.commands()
    assert command.payload_data()["description"] == "Site concrete"  # what was accepted
    flow.settle()
    assert [r["dscrpt"] for r in flow.subcontracts("SC-001")] == ["Site concrete"]
    # The edit came out of the wait in the same write as synced, now needing acceptance.
    after = flow.item(cid)
    assert after.status is Status.READY_TO_EXPORT and after.snapshot["title"] == \
        "Site concrete rev 2"
    trail = flow.store.audit_trail(COMPANY_ID, "commitment", cid)
    assert [e.action for e in trail][-2:] == ["export_succeeded", "observe_ready"]
    assert trail[-1].version == trail[-2].version + 1 == after.version


def test_an_edit_between_the_command_send_and_the_exporting_write_loses_nothing(
        flow: Flow, monkeypatch: pytest.MonkeyPatch) -> None:
    from chalicelib.wiring import get_exporter

    cid = flow.commitment()
    flow.accept(cid)
    commands = get_exporter().commands
    real_send = commands.send

    def send_then_edit(*args: Any, **kwargs: Any) -> str:
        answer = real_send(*args, **kwargs)
        flow.edit(cid, title="Edited meanwhile")
        flow.observe(cid)  # lands between the send and the exporting write
        return answer

    monkeypatch.setattr(commands, "send", send_then_edit)
    flow.exporter()
    monkeypatch.setattr(commands, "send", real_send)
    assert flow.item(cid).status is Status.EXPORTING
    flow.agent.poll_once()
    flow.results()  # the heartbeat and the result
    item = flow.item(cid)
    assert item.erp_keys["subcon"] == str(flow.subcontracts("SC-001")[0]["recnum"])
    assert item.synced_snapshot["title"] == "Site concrete"
    assert item.status is Status.READY_TO_EXPORT  # the edit, promoted, waits for acceptance


def test_a_result_that_overtakes_the_exporting_write_still_syncs(flow: Flow,
                                                                  monkeypatch: Any) -> None:
    from chalicelib.wiring import get_exporter

    cid = flow.commitment()
    flow.accept(cid)
    exporter = get_exporter()
    # The exporter sends and then dies before its exporting write (SQS would redeliver).
    monkeypatch.setattr(exporter, "_mark_exporting", lambda item: None)
    flow.exporter()
    assert flow.item(cid).status is Status.ACCEPTED
    flow.agent.poll_once()
    flow.results()  # the heartbeat and the result
    assert flow.item(cid).status is Status.SYNCED
    assert len(flow.subcontracts("SC-001")) == 1


def test_a_synced_subcontract_title_change_is_a_modify_not_a_second_add(flow: Flow) -> None:
    cid = flow.commitment()
    flow.accept(cid)
    flow.settle()
    assert flow.item(cid).status is Status.SYNCED
    recnum = flow.subcontracts("SC-001")[0]["recnum"]
    flow.edit(cid, title="Site concrete phase 2", contract_date="2026-12-01",
              retainage_percent="5")
    item = flow.observe(cid)
    assert item.status is Status.READY_TO_EXPORT and not item.reasons
    accepted = flow.accept(cid)
    assert accepted.export.operation == "modify"
    flow.exporter()
    [command] = flow.commands()
    assert command.type is CommandType.MODIFY_SUBCONTRACT
    assert command.payload_data()["record"] == recnum
    flow.settle()
    rows = flow.subcontracts("SC-001")
    assert len(rows) == 1  # never a duplicate add (Sage would answer 14201)
    assert rows[0]["dscrpt"] == "Site concrete phase 2"
    assert str(rows[0]["condte"]).startswith("2026-12-01")
    assert str(rows[0]["rtnrte"]) == "5.00"
    assert flow.item(cid).status is Status.SYNCED


def test_a_synced_purchase_order_status_change_is_a_modify(flow: Flow) -> None:
    cid = flow.commitment(POC, number="PO-7")
    flow.accept(cid)
    flow.settle()
    flow.edit(cid, POC, status="Closed")  # Procore's purchase order statuses
    assert flow.observe(cid, POC).status is Status.READY_TO_EXPORT
    flow.accept(cid)
    flow.settle()
    [row] = flow.sage.rows("pchord", {"ordnum": "PO-7"})
    assert row["status"] == 4  # Closed
    assert flow.item(cid).status is Status.SYNCED


def test_a_line_amount_change_on_a_synced_subcontract_waits_for_a_change_order(
        flow: Flow) -> None:
    cid = flow.commitment(lines=2)
    flow.accept(cid)
    flow.settle()
    line_id = flow.item(cid).snapshot["lines"][0]["id"]
    before = flow.sage.count("sbcnln")
    flow.sandbox.update_line_item(WOC, cid, line_id, amount="2500")
    item = flow.observe(cid)
    assert item.status is Status.SYNCED  # still what Sage holds
    assert any(r.startswith(CHANGE_ORDER_REASON) for r in item.reasons)
    assert "Line 1" in " ".join(item.reasons)
    assert item.drift["lines"][0]["field"] == "amount"
    assert item.drift["lines"][0]["procore"] == "2500.00"
    # Nothing can be accepted, nothing is sent.
    with pytest.raises(Exception, match="synced"):
        flow.accept(cid)
    flow.settle()
    assert flow.sage.count("sbcnln") == before and len(flow.subcontracts("SC-001")) == 1
    # Undoing the edit puts it back in sync, reasons gone.
    flow.sandbox.update_line_item(WOC, cid, line_id, amount="1000.25")
    back = flow.observe(cid)
    assert back.status is Status.SYNCED and not back.reasons and back.drift is None


def test_a_send_that_read_procore_earlier_never_overwrites_newer_content(flow: Flow) -> None:
    intake = get_intake()
    cid = flow.commitment()
    early = intake._read_commitment(COMPANY_ID, WOC, cid, flow.project, False)
    flow.edit(cid, title="Newer title")
    newer = flow.observe(cid)
    held = flow.item(cid)
    # The late write: an older read (lost the race) is dropped, or, when Procore's
    # one-second updated_at cannot order the two, settled by reading Procore again.
    flow.items.observe(company_id=COMPANY_ID, kind="commitment", procore_id=cid,
                       project_id=flow.project, subtype="subcontract", snapshot=early.snapshot,
                       reasons=early.reasons, actor="pm",
                       source_updated_at=early.source_updated_at,
                       reread=lambda: intake._read_commitment(COMPANY_ID, WOC, cid,
                                                              flow.project, False))
    after = flow.item(cid)
    assert after.snapshot["title"] == "Newer title"
    assert after.snapshot_hash == held.snapshot_hash == newer.snapshot_hash


def test_an_older_read_is_never_applied_even_without_a_reread(flow: Flow) -> None:
    cid = flow.commitment()
    item = flow.item(cid)
    older = "2001-01-01T00:00:00Z"
    result = flow.items.observe(company_id=COMPANY_ID, kind="commitment", procore_id=cid,
                                project_id=flow.project, subtype="subcontract",
                                snapshot={**item.snapshot, "title": "Stale"}, reasons=[],
                                actor="pm", source_updated_at=older)
    assert result is None and flow.item(cid).snapshot_hash == item.snapshot_hash


def test_a_2000_line_subcontract_is_recorded_accepted_and_exported(flow: Flow) -> None:
    cid = flow.commitment(number="SC-BIG", lines=2000)
    item = flow.item(cid)
    assert item.status is Status.READY_TO_EXPORT and len(item.snapshot["lines"]) == 2000
    flow.accept(cid)
    flow.exporter()
    [command] = flow.commands()
    assert len(command.model_dump_json()) < 256 * 1024  # one SQS message
    flow.settle()
    [row] = flow.subcontracts("SC-BIG")
    assert len(flow.sage.rows("sbcnln", {"recnum": row["recnum"]})) == 2000
    expected = sum(1000 + n for n in range(2000)) + 2000 * 0.25
    assert str(row["cntttl"]) == f"{expected:.2f}"
    # A change while it is synced (2,000 lines in the snapshot, the pending change and
    # what Sage holds) still fits the table.
    flow.edit(cid, title="Big job rev")
    assert flow.observe(cid).status is Status.READY_TO_EXPORT
    assert flow.item(cid).synced_snapshot["lines"][1999]["description"] == "Line 2000"


# ---- the sweeper ---------------------------------------------------------------------------
def _sweeper(stuck_after: int = 0, max_redrives: int = 3) -> SweeperService:
    return SweeperService(get_store(), get_item_service(), stuck_after_seconds=stuck_after,
                          max_redrives=max_redrives, agent_silent_seconds=60)


def test_the_sweeper_redrives_an_export_whose_messages_were_lost(flow: Flow) -> None:
    cid = flow.commitment()
    accepted = flow.accept(cid)
    _drop(flow, flow.aws.export_url)  # the export message is lost
    assert _sweeper(stuck_after=3600).sweep(COMPANY_ID).stuck == 0  # young: left alone
    report = _sweeper().sweep(COMPANY_ID)
    assert (report.stuck, report.redriven) == (1, 1)
    flow.settle()
    item = flow.item(cid)
    assert item.status is Status.SYNCED and item.command_id == accepted.export.command_id
    assert len(flow.subcontracts("SC-001")) == 1


def test_the_sweeper_resends_a_lost_command_with_the_same_id(flow: Flow) -> None:
    cid = flow.commitment()
    flow.accept(cid)
    flow.exporter()
    [sent] = flow.commands()
    flow.agent.poll_once()  # applied in Sage, journaled...
    _drop(flow, flow.relay_results)  # ...but the result never reaches the cloud
    assert flow.item(cid).status is Status.EXPORTING
    _sweeper().sweep(COMPANY_ID)
    flow.exporter()
    resent = flow.commands()
    assert [c.command_id for c in resent] == [sent.command_id]
    flow.settle()
    assert flow.item(cid).status is Status.SYNCED
    assert len(flow.subcontracts("SC-001")) == 1  # the journal replayed, Sage wrote once


def test_redrives_are_bounded_and_stuck_items_stay_counted(
        flow: Flow, capsys: pytest.CaptureFixture[str]) -> None:
    from chalicelib.observability import flush_metrics

    cid = flow.commitment()
    flow.accept(cid)
    sweeper = _sweeper(max_redrives=2)
    reports = [sweeper.sweep(COMPANY_ID) for _ in range(4)]  # nobody runs the exporter
    assert [r.redriven for r in reports] == [1, 1, 0, 0]
    assert [r.given_up for r in reports] == [0, 0, 1, 1]
    assert all(r.stuck == 1 for r in reports)
    assert flow.item(cid).export.redrives == 2
    capsys.readouterr()
    flush_metrics()
    metrics = [json.loads(line) for line in capsys.readouterr().out.splitlines()
               if '"_aws"' in line]
    stuck = [m["StuckItems"] for m in metrics if "StuckItems" in m]
    assert stuck and stuck[-1] == [1.0, 1.0, 1.0, 1.0]


def test_an_accepted_item_without_its_export_record_is_counted_not_crashed_on(
        flow: Flow, caplog: pytest.LogCaptureFixture) -> None:
    # A defect's leftover (no export record) once passed an assert, which `python -O`
    # strips: the sweep then died on it and stopped sweeping every later item.
    cid = flow.commitment()
    flow.accept(cid)
    broken = flow.item(cid).model_copy(update={"export": None})
    get_store().save_fields(broken)
    assert flow.item(cid).export is None
    report = _sweeper().sweep(COMPANY_ID)
    assert (report.stuck, report.redriven) == (1, 0)
    assert "accepted item has no export record" in caplog.text


def test_an_agent_that_stays_silent_is_reported(flow: Flow) -> None:
    cid = flow.commitment()
    flow.accept(cid)
    flow.exporter()
    report = _sweeper(stuck_after=3600).sweep(COMPANY_ID)
    assert report.agent_silent and report.stuck == 0  # no heartbeat ever; still young
    # Past the waiting note's threshold the item counts as stuck (the alarm tells a
    # person), though its re-drive waits for STUCK_AFTER_SECONDS.
    later = SweeperService(get_store(), get_item_service(), stuck_after_seconds=3600,
                           max_redrives=3, agent_silent_seconds=60,
                           clock=lambda: _after(flow.item(cid).exporting_since, 120))
    report = later.sweep(COMPANY_ID)
    assert (report.agent_silent, report.stuck, report.redriven) == (True, 1, 0)
    flow.agent.send_heartbeat()
    flow.results()
    assert not _sweeper(stuck_after=3600).sweep(COMPANY_ID).agent_silent
    assert flow.item(cid).status is Status.EXPORTING


def _after(moment: str, seconds: int) -> str:
    from datetime import datetime, timedelta

    at = datetime.fromisoformat(moment.replace("Z", "+00:00")) + timedelta(seconds=seconds)
    return at.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _drop(flow: Flow, url: str) -> None:
    for message in flow.aws.receive_all(url):
        flow.aws.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
