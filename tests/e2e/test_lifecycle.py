"""The item lifecycle end to end, over the local stack (sandbox over HTTP, moto server, the
relay agent as its own process, the embedded Sage): an acceptance racing a Procore edit,
a synced subcontract's header changed in place, a line amount changed after sync, and the
agent keeping a Sage job's commands in order through a crash and through a failure."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from chalicelib.domain.models import AuditEvent, Item
from chalicelib.relay_protocol import (
    Command,
    CommandType,
    JobPayload,
    SubcontractLine,
    SubcontractPayload,
)
from devstack.pump import pump_once
from tests.e2e.conftest import WOC, ExportStack
from tests.helpers import COMPANY_ID

pytestmark = pytest.mark.e2e

ACCEPTED_TITLE = "Site concrete"  # what ExportStack.commitment() creates
CHANGE_ORDER_REASON = "Synced commitment: change amounts through a commitment change order."
NEW_JOB = 25001  # not in the demo Sage company: the first command of its group adds it


# ---- helpers ------------------------------------------------------------------------------
def pump(stack: ExportStack, name: str) -> int:
    """Run one queue's Lambda until its queue gives nothing (the others are left alone)."""
    [(url, handler)] = [(u, h) for n, u, h in stack.pumps.routes if n == name]
    moved = 0
    while True:
        ok, bad = pump_once(stack.aws.sqs, url, handler)
        stack.pumps.counts[name][0] += ok
        stack.pumps.counts[name][1] += bad
        if not ok and not bad:
            return moved
        moved += ok + bad


def intake(stack: ExportStack) -> None:
    """Deliver what the sandbox posted to the receiver, and run intake on it."""
    stack.deliver_webhooks()
    pump(stack, "intake")


def wait(condition: Callable[[], Any], timeout: float = 20.0, what: str = "",
         explain: Callable[[], Any] = lambda: "") -> Any:
    """Poll without pumping anything (the agent works meanwhile)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"not within {timeout:.0f} s: {what} {explain()}")


def accept(stack: ExportStack, procore_id: int) -> None:
    status, body = stack.call("post", f"/items/commitment-{procore_id}/accept", "approver")
    assert status == 200, body


def subcon_rows(stack: ExportStack, number: str, job: int = 24001) -> list[dict[str, Any]]:
    return stack.sage.rows("subcon", {"jobnum": job, "ctcnum": number})


def trail(stack: ExportStack, procore_id: int) -> list[AuditEvent]:
    from chalicelib.wiring import get_store

    return get_store().audit_trail(COMPANY_ID, "commitment", procore_id)


def assert_no_gaps(stack: ExportStack, item: Item) -> list[AuditEvent]:
    events = trail(stack, item.procore_id)
    assert [e.version for e in events] == list(range(1, item.version + 1)), \
        [(e.version, e.action) for e in events]
    return events


def synced_subcontract(stack: ExportStack, number: str = "SC-001") -> tuple[Item, dict[str, Any]]:
    """A subcontract exported through the whole path; its item and its Sage record."""
    record = stack.commitment(number=number)
    stack.until(stack.status(record["id"], "ready_to_export"))
    accept(stack, record["id"])
    stack.until(stack.status(record["id"], "synced"))
    quiet(stack)  # the origin write-back's echo webhook, processed
    item = stack.item(record["id"])
    return item, stack.sage.subcontract(item.erp_keys["subcon"])


def quiet(stack: ExportStack) -> None:
    """Until every webhook is delivered and every queue the cloud reads is empty."""
    stack.until(lambda: stack.pumps.step() == 0
                and stack.delivered == len(stack.receiver.received))


# ---- 1. acceptance and a Procore edit at the same moment ---------------------------------
def test_accept_racing_a_procore_edit_exports_the_accepted_content_once(
        stack: ExportStack) -> None:
    stack.link()
    stack.start_agent()
    cases = ["edited_first", "before_exporter", "after_command", "after_sage_write", "twice"]
    records = {case: stack.commitment(number=f"SC-1{n}") for n, case in enumerate(cases)}
    ids = {case: record["id"] for case, record in records.items()}

    def all_ready() -> bool:
        return all(stack.status(i, "ready_to_export")() for i in ids.values())

    stack.until(all_ready)
    edited = {case: f"Site concrete, revised {n}" for n, case in enumerate(cases)}

    def edit(case: str, title: str | None = None) -> None:
        stack.sandbox.update_commitment(WOC, ids[case], title=title or edited[case])

    # Procore has the edit already when the approver accepts what they saw; the webhook
    # is processed after the acceptance, before the exporter runs.
    edit("edited_first")
    accept(stack, ids["edited_first"])
    intake(stack)
    # Accepted, then edited, then the exporter.
    accept(stack, ids["before_exporter"])
    edit("before_exporter")
    intake(stack)
    # Accepted, exported (the command is on the relay queue or applied), then edited.
    accept(stack, ids["after_command"])
    pump(stack, "exporter")
    edit("after_command")
    intake(stack)
    # Accepted, exported and written in Sage, then edited, before the result is read.
    accept(stack, ids["after_sage_write"])
    pump(stack, "exporter")
    wait(lambda: subcon_rows(stack, records["after_sage_write"]["number"]),
         what="the agent writes SC-13")
    edit("after_sage_write")
    intake(stack)
    # Edited before and after the exporter: the latest edit is the one that waits.
    accept(stack, ids["twice"])
    edit("twice", "an edit overtaken by another")
    intake(stack)
    pump(stack, "exporter")
    edit("twice")
    intake(stack)

    numbers = {case: records[case]["number"] for case in cases}
    wait(lambda: all(subcon_rows(stack, n) for n in numbers.values()), 30,
         "every accepted subcontract reaches Sage", lambda: {
             case: (stack.item(ids[case]).status.value, len(subcon_rows(stack, numbers[case])))
             for case in cases})
    for case in cases:  # before any result: the edit waits, the accepted content exports
        item = stack.item(ids[case])
        assert item.status.value in ("accepted", "exporting"), (case, item.status)
        assert item.snapshot["title"] == ACCEPTED_TITLE, case
        assert item.pending_snapshot is not None, case
        assert item.pending_snapshot["title"] == edited[case], case
        assert item.export is not None and item.export.operation == "add", case

    stack.until(lambda: all(stack.status(i, "ready_to_export")() for i in ids.values()))
    quiet(stack)
    for case in cases:
        [row] = subcon_rows(stack, numbers[case])  # exactly once
        assert row["dscrpt"] == ACCEPTED_TITLE, case
        item = stack.item(ids[case])
        # The edit was promoted when the result was recorded: ready to export again, as
        # a change to the record Sage holds.
        assert item.status.value == "ready_to_export", (case, item.status)
        assert item.snapshot["title"] == edited[case], case
        assert item.synced_snapshot is not None, case
        assert item.synced_snapshot["title"] == ACCEPTED_TITLE, case
        assert item.pending_snapshot is None, case
        assert item.erp_keys["subcon"] == str(row["recnum"]), case
        events = assert_no_gaps(stack, item)
        done = [n for n, e in enumerate(events) if e.action == "export_succeeded"]
        assert len(done) == 1, case
        succeeded, promoted = events[done[0]], events[done[0] + 1]
        assert (succeeded.to_status, promoted.action, promoted.to_status) == (
            "synced", "observe_ready", "ready_to_export"), case
        # Written by the results consumer with the result, not by a later intake run.
        assert promoted.actor == succeeded.actor == "system:exporter", case
        assert promoted.version == succeeded.version + 1, case
    assert stack.sage.count("subcon") == 5 and stack.sage.count("sbcnln") == 10

    # The approver accepts the edits: each goes to Sage as a modify of the same record.
    for case in cases:
        accept(stack, ids[case])
        item = stack.item(ids[case])
        assert item.export is not None and item.export.operation == "modify", case
    stack.until(lambda: all(stack.status(i, "synced")() for i in ids.values()))
    quiet(stack)
    for case in cases:
        [row] = subcon_rows(stack, numbers[case])
        assert row["dscrpt"] == edited[case], case
        assert_no_gaps(stack, stack.item(ids[case]))
    assert stack.sage.count("subcon") == 5 and stack.sage.count("sbcnln") == 10


# ---- 2. a synced subcontract's title edited in Procore ----------------------------------
def test_title_edit_after_sync_modifies_the_sage_record_in_place(stack: ExportStack) -> None:
    stack.link()
    stack.start_agent()
    item, before = synced_subcontract(stack)
    assert before["updusr"] is None
    stack.sandbox.update_commitment(WOC, item.procore_id, title="Site concrete and curbs")
    ready = stack.until(stack.status(item.procore_id, "ready_to_export"))
    assert ready.reasons == [] and ready.snapshot["title"] == "Site concrete and curbs"
    accept(stack, item.procore_id)
    synced = stack.until(stack.status(item.procore_id, "synced", "failed"))
    assert synced.status.value == "synced", synced.status_reason
    assert synced.export is not None and synced.export.operation == "modify"
    quiet(stack)

    [row] = subcon_rows(stack, "SC-001")
    assert row["recnum"] == before["recnum"] == int(synced.erp_keys["subcon"])
    after = stack.sage.subcontract(row["recnum"])
    assert after["dscrpt"] == "Site concrete and curbs"
    assert after["updusr"] == "relay" and after["upddte"] is not None
    assert after["lines"] == before["lines"]  # lines untouched, amounts too
    assert (after["cntttl"], after["ctcnum"], after["vndnum"]) == (
        before["cntttl"], before["ctcnum"], before["vndnum"])
    assert stack.sage.count("subcon") == 1 and stack.sage.count("sbcnln") == 2
    final = stack.item(item.procore_id)
    assert final.status.value == "synced" and final.synced_snapshot is not None
    assert final.synced_snapshot["title"] == "Site concrete and curbs"
    assert_no_gaps(stack, final)


# ---- 3. a line amount changed on a synced subcontract -----------------------------------
def test_line_amount_change_after_sync_stays_synced_with_the_change_order_reason(
        stack: ExportStack) -> None:
    stack.link()
    stack.start_agent()
    item, before = synced_subcontract(stack)
    commands_sent = stack.pumps.counts["exporter"][0]
    sage_before = (stack.sage.rows("subcon"), stack.sage.rows("sbcnln"))
    slab = next(line for line in stack.sandbox.list_line_items(WOC, item.procore_id)
                if line["description"] == "Slab")
    stack.sandbox.update_line_item(WOC, item.procore_id, slab["id"], amount="13000")
    quiet(stack)  # the webhook delivered and intake run on it

    changed = stack.item(item.procore_id)
    assert changed.version > item.version  # the change was observed
    assert changed.status.value == "synced", (changed.status, changed.reasons)
    assert any(CHANGE_ORDER_REASON in r for r in changed.reasons), changed.reasons
    assert changed.drift is not None
    [drift] = changed.drift["lines"]
    assert (drift["line_id"], drift["field"]) == (slab["id"], "amount")
    assert Decimal(str(drift["procore"])) == Decimal("13000")
    assert Decimal(str(drift["sage"])) == Decimal("12500.50")
    # Nothing new went to Sage: no export message, no command, no row touched.
    assert stack.pumps.counts["exporter"][0] == commands_sent
    assert stack.aws.queue_depth(stack.aws.resources.refs["RelayCommandsQueue"]) == 0
    assert (stack.sage.rows("subcon"), stack.sage.rows("sbcnln")) == sage_before
    assert before["lines"][1]["amount"] == Decimal("12500.50")
    status, detail = stack.call("get", f"/items/commitment-{item.procore_id}", "viewer")
    assert status == 200 and detail["status"] == "synced"
    assert any(CHANGE_ORDER_REASON in r for r in detail["reasons"]), detail["reasons"]
    assert detail["drift"]["lines"][0]["line_id"] == slab["id"]
    # It cannot be accepted as it is: a change order carries it.
    status, body = stack.call("post", f"/items/commitment-{item.procore_id}/accept", "approver")
    assert status == 409, body
    assert_no_gaps(stack, changed)


# ---- 4. the agent and the order of one Sage job's commands ------------------------------
def command(n: int, command_type: CommandType, payload: Any) -> dict[str, Any]:
    return Command(command_id=f"{COMPANY_ID}:order-test:{n}", company_id=COMPANY_ID,
                   type=command_type, item_id=f"commitment-{9000 + n}", export_version=1,
                   payload=payload.model_dump(mode="json"),
                   issued_at="2026-01-01T00:00:00.000Z").model_dump(mode="json")


def subcontract_on(job: int, number: str) -> SubcontractPayload:
    return SubcontractPayload(job=job, vendor=3001, number=number, description=f"{number} work",
                              lines=[SubcontractLine(line_number=1, description="Work",
                                                     cost_code="3300.000", cost_type=4,
                                                     amount=Decimal("1000"))])


def queue_commands(stack: ExportStack) -> list[tuple[str, dict[str, Any]]]:
    """A new job and three subcontracts on it, interleaved with another job's two."""
    plan = [(NEW_JOB, CommandType.ADD_JOB, JobPayload(job=NEW_JOB, name="Harbor Point Lofts")),
            (24001, CommandType.ADD_SUBCONTRACT, subcontract_on(24001, "SC-411")),
            (NEW_JOB, CommandType.ADD_SUBCONTRACT, subcontract_on(NEW_JOB, "SC-401")),
            (NEW_JOB, CommandType.ADD_SUBCONTRACT, subcontract_on(NEW_JOB, "SC-402")),
            (24001, CommandType.ADD_SUBCONTRACT, subcontract_on(24001, "SC-412")),
            (NEW_JOB, CommandType.ADD_SUBCONTRACT, subcontract_on(NEW_JOB, "SC-403"))]
    url = stack.aws.resources.refs["RelayCommandsQueue"]
    sent = []
    for n, (job, command_type, payload) in enumerate(plan):
        body = command(n, command_type, payload)
        group = f"{COMPANY_ID}:job:{job}"  # as the exporter groups them
        stack.aws.sqs.send_message(QueueUrl=url, MessageBody=json.dumps(body),
                                   MessageGroupId=group, MessageDeduplicationId=body["command_id"])
        sent.append((group, body))
    return sent


def results(stack: ExportStack) -> list[dict[str, Any]]:
    messages = stack.aws.receive_all(stack.aws.resources.refs["RelayResultsQueue"])
    bodies = [json.loads(m["Body"]) for m in messages]
    return [b for b in bodies if b.get("kind") == "result"]


def assert_applied_once_in_order(stack: ExportStack) -> None:
    job = stack.sage.rows("actrec", {"recnum": NEW_JOB})
    assert len(job) == 1
    for number_job, numbers in ((NEW_JOB, ["SC-401", "SC-402", "SC-403"]),
                                (24001, ["SC-411", "SC-412"])):
        rows = [subcon_rows(stack, number, number_job) for number in numbers]
        assert [len(r) for r in rows] == [1] * len(numbers), numbers  # exactly once each
        written = [r[0] for r in rows]
        # Queue order is Sage's order: record numbers and insert times both ascend.
        assert [r["recnum"] for r in written] == sorted(r["recnum"] for r in written)
        assert [r["insdte"] for r in written] == sorted(r["insdte"] for r in written)
        if number_job == NEW_JOB:
            assert job[0]["insdte"] <= written[0]["insdte"]
    assert stack.sage.count("subcon") == 5


def test_agent_killed_mid_batch_keeps_each_jobs_commands_in_order(stack: ExportStack) -> None:
    sent = queue_commands(stack)
    commands_url = stack.aws.resources.refs["RelayCommandsQueue"]
    crashing = stack.start_agent(RELAY_CRASH_AFTER_SAGE_WRITE="1")
    wait(lambda: crashing.poll() is not None, what="the agent dies after its first write")
    assert crashing.returncode == 137
    written_before_restart = stack.sage.count("subcon") + len(
        stack.sage.rows("actrec", {"recnum": NEW_JOB}))
    assert written_before_restart == 1  # died between its first Sage write and the ack
    stack.stop_agent()
    stack.start_agent()  # the batch comes back after its visibility timeout (2 s here)
    wait(lambda: stack.sage.count("subcon") == 5 and stack.aws.queue_depth(commands_url) == 0,
         30, "every command applied and deleted")
    stack.stop_agent()

    assert_applied_once_in_order(stack)
    answered = results(stack)
    assert sorted({r["command_id"] for r in answered}) == sorted(b["command_id"]
                                                                 for _, b in sent)
    assert all(r["ok"] for r in answered), [r["error"] for r in answered if not r["ok"]]
    # Within each group, the results came back in queue order.
    for group in {g for g, _ in sent}:
        wanted = [b["command_id"] for g, b in sent if g == group]
        got = [r["command_id"] for r in answered if r["command_id"] in wanted]
        assert list(dict.fromkeys(got)) == wanted, group


def test_a_failed_job_add_holds_back_its_subcontracts_in_the_batch(stack: ExportStack) -> None:
    """The job's add fails in a way the agent does not expect (the message stays on the
    queue); the job's subcontracts in the same batch wait for it instead of running first
    and failing 12802 on a job that is not there yet. The other job carries on."""
    sage_db = stack.tmp / "sage.db"
    with sqlite3.connect(sage_db) as conn:  # Sage throws something unexpected, once
        conn.execute("CREATE TRIGGER test_actrec_fails BEFORE INSERT ON actrec "
                     "BEGIN SELECT zeroblob(2000000000); END")
    sent = queue_commands(stack)
    commands_url = stack.aws.resources.refs["RelayCommandsQueue"]
    stack.start_agent()
    wait(lambda: "command failed unexpectedly" in stack.agent_log.read_text(),
         what="the job add fails")
    with sqlite3.connect(sage_db) as conn:  # fixed: the job add works when it comes back
        conn.execute("DROP TRIGGER test_actrec_fails")
    wait(lambda: stack.aws.queue_depth(commands_url) == 0, 30, "every command deleted")
    stack.stop_agent()

    answered = results(stack)
    failures = [(r["command_id"], r["error"]) for r in answered if not r["ok"]]
    assert failures == [], failures  # in particular no 12802: the job was there first
    assert_applied_once_in_order(stack)
    assert sorted({r["command_id"] for r in answered}) == sorted(b["command_id"]
                                                                 for _, b in sent)
    log = stack.agent_log.read_text()
    assert "message held back" in log
