"""The lifecycle under interleaving, as a hypothesis state machine over the real pieces.

Commitments live in the Procore sandbox (real HTTP); intake, approvals, the exporter, the
results consumer and the sweeper run against the table and queues in moto; the relay agent
applies commands to an embedded Sage database. Hypothesis interleaves Procore edits,
observations (webhook evaluations and "send"s that lost a race, replayed late), people's
actions, exporter / agent / results rounds, duplicate and redelivered messages, and
sweeps. After every step:

- each acceptance yields at most one Sage write (the embedded Sage's writes are counted);
- no commitment number has two Sage records;
- every item's audit trail equals its transitions (versions 1..n, each event starting where
  the previous one ended, the last ending in the item's status);
- a snapshot never goes backwards (Procore's updated_at of the content held never drops).

After a sweep and a settling round, no item is left accepted or exporting.
"""

from __future__ import annotations

import itertools
import sqlite3
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from chalicelib.domain.observations import is_older
from chalicelib.domain.state_machine import Status
from chalicelib.errors import BadRequest, Conflict, NotFound
from chalicelib.services.sweeper import SweeperService
from chalicelib.wiring import get_intake, get_item_service, get_store
from devstack.pump import pump_once
from relay.agent import RelayAgent
from relay.config import AgentConfig
from relay.sage.embedded import EmbeddedSage
from tests.fixtures_sandbox import demo_fixture, sandbox_fixture  # noqa: F401
from tests.helpers import COMPANY_ID, connect_to_sandbox

WOC = "work_order_contract"
COMMITMENTS = 2
EXAMPLES = itertools.count(1)


class CountingSage:
    """The embedded Sage, counting successful writes per commitment number."""

    def __init__(self, sage: EmbeddedSage) -> None:
        self.sage = sage
        self.writes: Counter[str] = Counter()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.sage, name)

    def _counted(self, method: str, payload: Any) -> dict[str, str]:
        keys = getattr(self.sage, method)(payload)
        self.writes[payload.number] += 1
        return keys

    def add_subcontract(self, payload: Any) -> dict[str, str]:
        return self._counted("add_subcontract", payload)

    def modify_subcontract(self, payload: Any) -> dict[str, str]:
        return self._counted("modify_subcontract", payload)


class Recorder:
    """An SQS client that remembers the results the agent sends (to deliver them twice)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.results: list[str] = []

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.inner, name)
        if name != "send_message":
            return method

        def send(**kwargs: Any) -> Any:
            if '"kind":"result"' in kwargs["MessageBody"]:
                self.results.append(kwargs["MessageBody"])
            return method(**kwargs)
        return send


@pytest.fixture
def world(aws: Any, sandbox: Any, demo: dict[str, Any], chalice_client: Any,
          monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, Any]:
    connect_to_sandbox(monkeypatch, sandbox, demo)
    return {"aws": aws, "sandbox": sandbox, "demo": demo, "client": chalice_client,
            "tmp": tmp_path}


def test_lifecycle_holds_under_any_interleaving(world: dict[str, Any]) -> None:
    aws, sandbox, demo, client = world["aws"], world["sandbox"], world["demo"], world["client"]
    project = demo["project_ids"]["main"]
    code, cost_type = demo["cost_code_ids"]["main"]["03-300"], demo["line_item_type_ids"]["S"]
    relay_commands = aws.resources.refs["RelayCommandsQueue"]
    relay_results = aws.resources.refs["RelayResultsQueue"]
    store, items, intake = get_store(), get_item_service(), get_intake()
    users = {name: store.get_user(COMPANY_ID, name) for name in ("approver", "pm")}

    def lambda_handler(name: str) -> Any:
        return lambda event: client.lambda_.invoke(name, event).payload

    class Lifecycle(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.example = next(EXAMPLES)
            for url in (aws.inbound_url, aws.export_url, relay_commands, relay_results):
                _empty(aws.sqs, url)
            self.ids: list[int] = []
            self.lines: dict[int, int] = {}
            self.accepts: Counter[int] = Counter()
            self.held_at: dict[int, str] = {}
            self.reads: list[dict[str, Any]] = []
            self.exports: list[str] = []
            for n in range(COMMITMENTS):
                record = sandbox.create_commitment(
                    WOC, project, number=f"M{self.example}-{n}", title="Concrete",
                    status="Approved", vendor_id=demo["vendor_ids"]["concrete"],
                    retainage_percent="10")
                line = sandbox.add_line_item(WOC, record["id"], description="Footings",
                                             amount="1000", cost_code_id=code,
                                             line_item_type_id=cost_type)
                self.ids.append(record["id"])
                self.lines[record["id"]] = line["id"]
            db = world["tmp"] / f"sage-{self.example}.db"
            embedded = EmbeddedSage(db)
            embedded.init()
            embedded.seed_demo()
            self.sage = CountingSage(embedded)
            self.db = db
            self.sqs = Recorder(aws.sqs)
            config = AgentConfig(agent_id=f"agent-{self.example}", company_id=COMPANY_ID,
                                 commands_queue_url=relay_commands,
                                 results_queue_url=relay_results,
                                 journal_path=str(world["tmp"] / f"journal-{self.example}.db"),
                                 sage_db=str(db), wait_seconds=0, visibility_timeout=1,
                                 heartbeat_seconds=3600)
            self.agent = RelayAgent(config, self.sage, self.sqs)  # type: ignore[arg-type]
            self.sweeper = SweeperService(store, items, stuck_after_seconds=0,
                                          max_redrives=1000, agent_silent_seconds=3600)

        def teardown(self) -> None:
            self.agent.close()

        # ---- Procore ------------------------------------------------------------------
        @initialize()
        def observed_once(self) -> None:
            for n in range(COMMITMENTS):
                self.observe(n)

        @rule(n=st.integers(0, COMMITMENTS - 1),
              change=st.sampled_from(["Concrete", "Forms", "1000", "1250.50"]),
              delivered=st.booleans())
        def edit(self, n: int, change: str, delivered: bool) -> None:
            """A project manager edits the title or the first line's amount in Procore (and
            the webhook is evaluated at once, or later by an observe step)."""
            cid = self.ids[n]
            if change[0].isdigit():
                sandbox.update_line_item(WOC, cid, self.lines[cid], amount=change)
            else:
                sandbox.update_commitment(WOC, cid, title=change)
            if delivered:
                self.observe(n)

        @rule(n=st.integers(0, COMMITMENTS - 1))
        def observe(self, n: int) -> None:
            """A webhook's evaluation (intake reads Procore now)."""
            cid = self.ids[n]
            obs = intake._read_commitment(COMPANY_ID, WOC, cid, project, _synced(cid))
            self.reads.append({"id": cid, "obs": obs})
            intake.evaluate_commitment(COMPANY_ID, WOC, cid, project, actor="system:intake")

        @precondition(lambda self: self.reads)
        @rule(data=st.data())
        def late_send(self, data: st.DataObject) -> None:
            """A "send" that read Procore earlier and writes now (lost a race)."""
            read = data.draw(st.sampled_from(self.reads))
            cid, obs = read["id"], read["obs"]
            before = store.get_item(COMPANY_ID, "commitment", cid)
            items.observe(company_id=COMPANY_ID, kind="commitment", procore_id=cid,
                          project_id=project, subtype="subcontract", snapshot=obs.snapshot,
                          reasons=obs.reasons, actor="pm", source_updated_at=obs.source_updated_at,
                          reread=lambda: intake._read_commitment(COMPANY_ID, WOC, cid, project,
                                                                 _synced(cid)))
            after = store.get_item(COMPANY_ID, "commitment", cid)
            if before is not None and after is not None and is_older(
                    obs.source_updated_at, before.source_updated_at):
                assert after.snapshot_hash == before.snapshot_hash
                assert after.pending_hash == before.pending_hash

        # ---- people ---------------------------------------------------------------------
        @rule(n=st.integers(0, COMMITMENTS - 1),
              action=st.sampled_from(["accept", "accept", "accept", "reject", "retrieve",
                                      "resend"]))
        def person(self, n: int, action: str) -> None:
            cid = self.ids[n]
            item_id = f"commitment-{cid}"
            try:
                if action == "accept":
                    items.accept(users["approver"], item_id)
                    self.accepts[cid] += 1
                elif action == "reject":
                    items.reject(users["approver"], item_id, "not yet")
                elif action == "retrieve":
                    items.retrieve(users["pm"], item_id)
                else:
                    items.resend(users["pm"], item_id)
            except (Conflict, BadRequest, NotFound):
                pass  # not allowed in the item's status: refused, nothing changed

        # ---- the pipeline ---------------------------------------------------------------
        @rule(stage=st.sampled_from(["exporter", "agent", "results", "all"]))
        def pipeline(self, stage: str) -> None:
            """One round of one stage (or of each): stages interleave with everything."""
            if stage in ("exporter", "all"):
                handler = lambda_handler("exporter")

                def recording(event: dict[str, Any]) -> Any:
                    self.exports += [r["body"] for r in event["Records"]]
                    return handler(event)
                pump_once(aws.sqs, aws.export_url, recording, visibility_timeout=0)
            if stage in ("agent", "all"):
                self.agent.poll_once()
            if stage in ("results", "all"):
                pump_once(aws.sqs, relay_results, lambda_handler("results"),
                          visibility_timeout=0)

        @precondition(lambda self: self.sqs.results)
        @rule(data=st.data())
        def duplicate_result(self, data: st.DataObject) -> None:
            body = data.draw(st.sampled_from(self.sqs.results))
            aws.sqs.send_message(QueueUrl=relay_results, MessageBody=body,
                                 MessageGroupId="dup", MessageDeduplicationId=_unique())

        @precondition(lambda self: self.exports)
        @rule(data=st.data())
        def redeliver_export(self, data: st.DataObject) -> None:
            body = data.draw(st.sampled_from(self.exports))
            aws.sqs.send_message(QueueUrl=aws.export_url, MessageBody=body,
                                 MessageGroupId="redelivery", MessageDeduplicationId=_unique())

        @rule()
        def sweep_and_settle(self) -> None:
            self.sweeper.sweep(COMPANY_ID)
            self.settle()
            waiting = [i.item_id for s in (Status.ACCEPTED, Status.EXPORTING)
                       for i in store.list_items(COMPANY_ID, status=s, limit=100)[0]
                       if i.procore_id in self.ids]
            assert not waiting, f"left accepted/exporting after a sweep: {waiting}"

        def settle(self) -> None:
            for _ in range(30):
                moved = pump_once(aws.sqs, aws.export_url, lambda_handler("exporter"),
                                  visibility_timeout=0)[0]
                moved += self.agent.poll_once()
                moved += pump_once(aws.sqs, relay_results, lambda_handler("results"),
                                   visibility_timeout=0)[0]
                if not moved:
                    return

        # ---- invariants -----------------------------------------------------------------
        @invariant()
        def at_most_one_sage_write_per_acceptance(self) -> None:
            for n, cid in enumerate(self.ids):
                number = f"M{self.example}-{n}"
                assert self.sage.writes[number] <= self.accepts[cid], (number, self.accepts)
            with sqlite3.connect(self.db) as conn:
                doubled = conn.execute("SELECT ctcnum, COUNT(*) FROM subcon GROUP BY ctcnum "
                                       "HAVING COUNT(*) > 1").fetchall()
            assert not doubled

        @invariant()
        def audit_trail_equals_the_transitions(self) -> None:
            for cid in self.ids:
                item = store.get_item(COMPANY_ID, "commitment", cid)
                trail = store.audit_trail(COMPANY_ID, "commitment", cid)
                if item is None:
                    assert not trail
                    continue
                assert [e.version for e in trail] == list(range(1, item.version + 1))
                assert trail[0].from_status == Status.NEW.value
                for before, after in itertools.pairwise(trail):
                    assert after.from_status == before.to_status, (before, after)
                assert trail[-1].to_status == item.status.value

        @invariant()
        def snapshots_never_go_backwards(self) -> None:
            for cid in self.ids:
                item = store.get_item(COMPANY_ID, "commitment", cid)
                if item is None or item.source_updated_at is None:
                    continue
                held = self.held_at.get(cid)
                assert not is_older(item.source_updated_at, held), (cid, held, item)
                self.held_at[cid] = item.source_updated_at

    def _synced(cid: int) -> bool:
        item = store.get_item(COMPANY_ID, "commitment", cid)
        return item is not None and item.synced_snapshot is not None

    run_state_machine_as_test(Lifecycle, settings=settings(
        max_examples=10, stateful_step_count=40, deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]))
    # Not vacuous: the runs reached syncs, modifies and waiting changes.
    seen = Counter(e.action for i in _all_items(store) for e in store.audit_trail(
        COMPANY_ID, "commitment", i.procore_id))
    modifies = sum(1 for i in _all_items(store) if i.export and i.export.operation == "modify")
    print("lifecycle machine reached:", dict(seen), "modify exports:", modifies)


def _all_items(store: Any) -> list[Any]:
    found, cursor = [], None
    while True:
        page, cursor = store.list_items(COMPANY_ID, kind="commitment", limit=100, cursor=cursor)
        found += page
        if cursor is None:
            return found


_COUNTER = itertools.count()


def _unique() -> str:
    return f"again-{next(_COUNTER)}"


def _empty(sqs: Any, url: str) -> None:
    """Drop what an earlier example left on a queue (each example starts clean)."""
    for _ in range(100):
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                  VisibilityTimeout=60).get("Messages", [])
        if not got:
            return
        sqs.delete_message_batch(QueueUrl=url, Entries=[
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got)])
