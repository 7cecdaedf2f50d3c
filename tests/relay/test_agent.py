"""The relay agent: exactly-once Sage writes, reporting, retries, heartbeats, AWS outages.

SQS is moto in-process (two FIFO queues made here); Sage is a small in-memory fake of the
port, except for header modifies and large commands, which run against the real embedded
Sage (a file in tmp_path). The one subprocess test runs ``python -m relay run`` against a
moto server on 127.0.0.1 and needs the embedded Sage, so it skips until that module exists.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import EndpointConnectionError
from moto import mock_aws

from chalicelib.relay_protocol import (
    Command,
    CommandType,
    Heartbeat,
    PurchaseOrderPayload,
    RelayMessage,
    Result,
    SubcontractPayload,
)
from relay.agent import RelayAgent, backoff_delay, is_transient
from relay.config import AgentConfig, ConfigError, load_config
from relay.logs import JsonFormatter
from relay.sage.embedded import EmbeddedSage
from relay.sage.port import (
    CONSTRAINT_FAILED,
    INVALID_DATA,
    INVALID_REFERENCE,
    UNAVAILABLE,
    SageError,
)

COMPANY_ID = 4264
ROOT = Path(__file__).resolve().parents[2]


# ---- fakes and helpers --------------------------------------------------------------------
class FakeSage:
    """In-memory SagePort: records keyed by natural key, duplicates refused like Sage."""

    def __init__(self, *, busy_times: int = 0, on_write: Callable[[], None] | None = None):
        self.subcontracts: dict[tuple[int, str], dict[str, str]] = {}
        self.purchase_orders: dict[str, dict[str, str]] = {}
        self.writes = 0
        self.busy_times = busy_times  # raise a retryable error this many times first
        self.on_write = on_write

    def _busy(self) -> None:
        if self.busy_times > 0:
            self.busy_times -= 1
            raise SageError(UNAVAILABLE, "The company database is in use", retryable=True)

    def add_subcontract(self, payload: SubcontractPayload) -> dict[str, str]:
        self._busy()
        key = (payload.job, payload.number)
        if key in self.subcontracts:
            raise SageError(CONSTRAINT_FAILED,
                            f"Subcontract {payload.number} already exists on job {payload.job}")
        self.writes += 1
        self.subcontracts[key] = {"subcon": str(len(self.subcontracts) + 1),
                                  "ctcnum": payload.number}
        if self.on_write:
            self.on_write()
        return dict(self.subcontracts[key])

    def add_purchase_order(self, payload: PurchaseOrderPayload) -> dict[str, str]:
        self._busy()
        if payload.number in self.purchase_orders:
            raise SageError(CONSTRAINT_FAILED, f"Purchase order {payload.number} already exists")
        self.writes += 1
        self.purchase_orders[payload.number] = {
            "pchord": str(len(self.purchase_orders) + 1), "ordnum": payload.number}
        return dict(self.purchase_orders[payload.number])

    def find_subcontract(self, job: int, number: str) -> dict[str, str] | None:
        found = self.subcontracts.get((job, number))
        return dict(found) if found else None

    def find_purchase_order(self, number: str) -> dict[str, str] | None:
        found = self.purchase_orders.get(number)
        return dict(found) if found else None


class RecordingSqs:
    """Wraps an SQS client: records calls; can fail ``send_message`` of results N times."""

    def __init__(self, inner: Any, *, fail_result_sends: int = 0) -> None:
        self.inner = inner
        self.fail_result_sends = fail_result_sends
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.inner, name)

        def call(**kwargs: Any) -> Any:
            self.calls.append((name, kwargs))
            heartbeat = str(kwargs.get("MessageGroupId", "")).startswith("heartbeat:")
            if name == "send_message" and not heartbeat and self.fail_result_sends > 0:
                self.fail_result_sends -= 1
                raise EndpointConnectionError(endpoint_url="http://127.0.0.1:9")
            return method(**kwargs)

        return call

    def sent_results(self) -> list[str]:
        return [kw["MessageBody"] for name, kw in self.calls if name == "send_message"
                and not kw["MessageGroupId"].startswith("heartbeat:")]


@dataclass
class Queues:
    sqs: Any
    commands: str
    results: str

    def send(self, command: Command, dedup: str | None = None) -> None:
        self.sqs.send_message(QueueUrl=self.commands, MessageBody=command.model_dump_json(),
                              MessageGroupId=command.item_id,
                              MessageDeduplicationId=dedup or command.command_id)

    def depth(self, url: str) -> int:
        attrs = self.sqs.get_queue_attributes(
            QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages",
                                          "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
        return int(attrs["ApproximateNumberOfMessages"]) + int(
            attrs["ApproximateNumberOfMessagesNotVisible"])

    def drain_results(self) -> tuple[list[Result], list[Heartbeat]]:
        results: list[Result] = []
        beats: list[Heartbeat] = []
        while True:
            got = self.sqs.receive_message(QueueUrl=self.results,
                                           MaxNumberOfMessages=10).get("Messages", [])
            if not got:
                return results, beats
            for message in got:
                parsed = RelayMessage.parse(message["Body"])
                (results if isinstance(parsed, Result) else beats).append(parsed)  # type: ignore[arg-type]
                self.sqs.delete_message(QueueUrl=self.results,
                                        ReceiptHandle=message["ReceiptHandle"])


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def subcontract(number: str = "SC-100", *, command_id: str | None = None,
                item_id: str = "commitment-1", **payload: Any) -> Command:
    body: dict[str, Any] = {
        "job": 101, "vendor": 2001, "number": number, "description": "Drywall",
        "lines": [{"line_number": 1, "description": "Drywall", "cost_code": "9200.000",
                   "cost_type": 4, "amount": "12500.00"}],
    }
    body.update(payload)
    return Command(command_id=command_id or f"cmd-{number}", company_id=COMPANY_ID,
                   type=CommandType.ADD_SUBCONTRACT, item_id=item_id, export_version=1,
                   payload=body, issued_at="2025-03-01T12:00:00Z")


def purchase_order(number: str = "PO-7") -> Command:
    body = {"job": 101, "vendor": 2002, "number": number, "description": "Lumber",
            "lines": [{"line_number": 1, "description": "2x4", "quantity": "100",
                       "unit_price": "4.25", "amount": "425.00", "cost_code": "6100.000",
                       "cost_type": 2}]}
    return Command(command_id=f"cmd-{number}", company_id=COMPANY_ID,
                   type=CommandType.ADD_PURCHASE_ORDER, item_id="commitment-2",
                   export_version=3, payload=body, issued_at="2025-03-01T12:00:00Z")


@pytest.fixture
def queues() -> Iterator[Queues]:
    with mock_aws():
        sqs = boto3.client("sqs", region_name="us-east-1")
        fifo = {"FifoQueue": "true"}
        commands = sqs.create_queue(QueueName="relay-4264-commands.fifo",
                                    Attributes=fifo)["QueueUrl"]
        results = sqs.create_queue(QueueName="relay-results.fifo", Attributes=fifo)["QueueUrl"]
        yield Queues(sqs, commands, results)


@pytest.fixture
def make_agent(tmp_path: Path, queues: Queues) -> Iterator[Callable[..., RelayAgent]]:
    """make_agent(sage, client=..., **config) -> an agent on the test queues; closed after."""
    agents: list[RelayAgent] = []

    def _make(sage: Any, *, client: Any = None, sleeps: list[float] | None = None,
              clock: Callable[[], float] = time.time, **config: Any) -> RelayAgent:
        values: dict[str, Any] = {
            "agent_id": "agent-1", "company_id": COMPANY_ID,
            "commands_queue_url": queues.commands, "results_queue_url": queues.results,
            "journal_path": str(tmp_path / "journal.sqlite3"),
            "sage_db": str(tmp_path / "sage.sqlite3"), "wait_seconds": 0,
        }
        values.update(config)
        recorded = sleeps if sleeps is not None else []
        agent = RelayAgent(AgentConfig(**values), sage, client or queues.sqs, clock=clock,
                           sleep=recorded.append, rng=lambda: 1.0)
        agents.append(agent)
        return agent

    yield _make
    for agent in agents:
        agent.close()


# ---- exactly once -------------------------------------------------------------------------
def test_command_applied_once_reported_and_deleted(queues: Queues, make_agent: Any) -> None:
    sage = FakeSage()
    agent = make_agent(sage)
    queues.send(subcontract())

    assert agent.poll_once() == 1

    results, beats = queues.drain_results()
    assert [r.command_id for r in results] == ["cmd-SC-100"]
    assert results[0].ok and results[0].sage_keys == {"subcon": "1", "ctcnum": "SC-100"}
    assert (results[0].item_id, results[0].agent_id, results[0].attempts) == (
        "commitment-1", "agent-1", 1)
    assert len(beats) == 1 and beats[0].agent_id == "agent-1"
    assert sage.writes == 1
    assert queues.depth(queues.commands) == 0  # deleted after the result went out
    entry = agent.journal.get("cmd-SC-100")
    assert entry is not None and (entry.state, entry.reported) == ("done", True)
    assert (agent.commands_applied, agent.results_sent) == (1, 1)


def test_purchase_order_goes_to_its_port_method(queues: Queues, make_agent: Any) -> None:
    sage = FakeSage()
    queues.send(purchase_order())
    make_agent(sage).poll_once()
    results, _ = queues.drain_results()
    assert results[0].sage_keys == {"pchord": "1", "ordnum": "PO-7"}
    assert sage.purchase_orders and not sage.subcontracts


def test_same_command_delivered_twice_writes_once(queues: Queues, make_agent: Any) -> None:
    sage = FakeSage()
    client = RecordingSqs(queues.sqs)
    agent = make_agent(sage, client=client)
    command = subcontract()
    queues.send(command, dedup="delivery-1")
    queues.send(command, dedup="delivery-2")

    agent.poll_once()

    assert sage.writes == 1
    sent = client.sent_results()
    assert len(sent) == 2 and sent[0] == sent[1]  # two identical results
    results, _ = queues.drain_results()
    assert len(results) == 1  # and FIFO dedup on command_id hands the cloud one of them
    assert queues.depth(queues.commands) == 0
    assert agent.commands_applied == 1


@pytest.mark.parametrize("command", [subcontract(), purchase_order()], ids=["subcon", "pchord"])
def test_crash_after_sage_write_reconciles_without_second_write(
        make_agent: Any, command: Command) -> None:
    sage = FakeSage()
    agent = make_agent(sage)
    # The crash: Sage has the record, the journal only says 'started'.
    payload = command.typed_payload()
    written = (sage.add_subcontract(payload) if command.type is CommandType.ADD_SUBCONTRACT
               else sage.add_purchase_order(payload))
    agent.journal.begin(command)

    result = agent.handle(command)

    assert result.ok and result.sage_keys == written
    assert sage.writes == 1
    assert agent.journal.get(command.command_id).state == "done"  # type: ignore[union-attr]


def test_started_but_missing_in_sage_is_applied(make_agent: Any) -> None:
    sage = FakeSage()
    agent = make_agent(sage)
    agent.journal.begin(subcontract())  # crashed before the Sage write
    result = agent.handle(subcontract())
    assert result.ok and sage.writes == 1


class _Crash(BaseException):
    """Stands in for os._exit: unwinds the test instead of killing pytest."""


def test_crash_hook_then_redelivery(queues: Queues, make_agent: Any,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    def fake_exit(code: int) -> None:
        raise _Crash(code)

    monkeypatch.setattr(os, "_exit", fake_exit)
    sage = FakeSage()
    crashing = make_agent(sage, visibility_timeout=1)
    crashing._crash_after_sage_write = True
    queues.send(subcontract())
    with pytest.raises(_Crash):
        crashing.poll_once()
    crashing.close()
    assert sage.writes == 1
    assert queues.depth(queues.commands) == 1  # never deleted

    restarted = make_agent(sage)  # same journal file, like a restarted process
    assert restarted.journal.get("cmd-SC-100").state == "started"  # type: ignore[union-attr]
    time.sleep(1.2)  # the visibility timeout runs out: SQS delivers the same message again
    assert restarted.poll_once() == 1
    results, _ = queues.drain_results()
    assert [r.ok for r in results] == [True]
    assert sage.writes == 1


# ---- Sage errors ---------------------------------------------------------------------------
def test_non_retryable_sage_error_is_reported(queues: Queues, make_agent: Any) -> None:
    sage = FakeSage()
    sage.subcontracts[(101, "SC-100")] = {"subcon": "9", "ctcnum": "SC-100"}  # someone else's
    sleeps: list[float] = []
    agent = make_agent(sage, sleeps=sleeps)
    queues.send(subcontract())
    agent.poll_once()

    results, _ = queues.drain_results()
    error = results[0].error
    assert not results[0].ok and error is not None
    assert (error.code, error.retryable, results[0].attempts) == (CONSTRAINT_FAILED, False, 1)
    assert error.message == "Subcontract SC-100 already exists on job 101"
    assert sleeps == [] and queues.depth(queues.commands) == 0


def test_invalid_payload_is_14050(make_agent: Any) -> None:
    sage = FakeSage()
    result = make_agent(sage).handle(subcontract(lines=[
        {"line_number": 1, "description": "x", "cost_code": "0300.000", "cost_type": 4,
         "amount": "1"}]))
    assert not result.ok and result.error is not None
    assert result.error.code == INVALID_DATA
    assert "lines.0.cost_code" in result.error.message
    assert sage.writes == 0


def test_retryable_twice_then_ok(make_agent: Any) -> None:
    sage = FakeSage(busy_times=2)
    sleeps: list[float] = []
    result = make_agent(sage, sleeps=sleeps).handle(subcontract())
    assert result.ok and result.attempts == 3
    assert sleeps == [0.5, 1.0]  # exponential; rng pinned at 1.0 (full jitter's upper end)
    assert sage.writes == 1


def test_retryable_forever_gives_up_then_a_later_delivery_retries(make_agent: Any) -> None:
    sage = FakeSage(busy_times=100)
    sleeps: list[float] = []
    agent = make_agent(sage, sleeps=sleeps, max_attempts=4)
    result = agent.handle(subcontract())
    assert not result.ok and result.error is not None
    assert (result.error.code, result.error.retryable, result.attempts) == (UNAVAILABLE, True, 4)
    assert sleeps == [0.5, 1.0, 2.0]
    assert sage.writes == 0

    sage.busy_times = 0  # Sage is free again; the cloud re-sends the same command
    again = agent.handle(subcontract())
    assert again.ok and sage.writes == 1
    assert agent.handle(subcontract()) == again  # and from now on it is final


# ---- against the embedded Sage: header modifies, large commands ---------------------------
@pytest.fixture
def embedded(tmp_path: Path) -> EmbeddedSage:
    """The real embedded Sage: the demo company in a file, one subcontract and one PO."""
    db = EmbeddedSage(tmp_path / "sage.sqlite3")
    db.init()
    db.seed_demo()
    db.add_subcontract(SubcontractPayload.model_validate({
        "job": 24001, "vendor": 3001, "number": "SC-001", "description": "Foundations",
        "retention_rate": "10", "contract_date": "2025-03-01",
        "lines": [{"line_number": 1, "description": "Footings", "cost_code": "3300.000",
                   "cost_type": 4, "amount": "1500.00"}]}))
    db.add_purchase_order(PurchaseOrderPayload.model_validate({
        "job": 24001, "vendor": 3003, "number": "PO-001", "description": "Anchor bolts",
        "lines": [{"line_number": 1, "description": "Bolts", "quantity": "120",
                   "unit_price": "4.25", "amount": "510.00", "cost_code": "5120.000",
                   "cost_type": 1}]}))
    return db


def modify(kind: CommandType, **payload: Any) -> Command:
    """A modify of the embedded fixture's subcontract or purchase order (record 1)."""
    if kind is CommandType.MODIFY_SUBCONTRACT:
        body: dict[str, Any] = {"job": 24001, "record": 1, "number": "SC-001",
                                "description": "Foundations and ramps", "status": 4,
                                "retention_rate": "5", "contract_date": "2025-04-15"}
    else:
        body = {"job": 24001, "record": 1, "number": "PO-001",
                "description": "Anchor bolts and plates", "status": 2,
                "order_date": "2025-05-02"}
    body.update(payload)
    return Command(command_id=f"cmd-{kind.value}", company_id=COMPANY_ID, type=kind,
                   item_id="commitment-9", export_version=2, payload=body,
                   issued_at="2025-04-16T09:00:00Z")


def header_row(sage: EmbeddedSage, kind: CommandType) -> dict[str, Any]:
    if kind is CommandType.MODIFY_SUBCONTRACT:
        return sage.subcontract(1)
    return sage.purchase_order(1)


def commitment_counts(sage: EmbeddedSage) -> dict[str, int]:
    return {table: sage.count(table) for table in ("subcon", "sbcnln", "pchord", "pcorln")}


@pytest.mark.parametrize(("kind", "changed", "keys"), [
    (CommandType.MODIFY_SUBCONTRACT,
     {"dscrpt": "Foundations and ramps", "status": 4, "rtnrte": Decimal("5.00"),
      "condte": date(2025, 4, 15), "cntttl": Decimal("1500.00"), "updusr": "relay"},
     {"subcon": "1", "ctcnum": "SC-001"}),
    (CommandType.MODIFY_PURCHASE_ORDER,
     {"dscrpt": "Anchor bolts and plates", "status": 2, "orddte": date(2025, 5, 2),
      "pchttl": Decimal("510.00"), "updusr": "relay"},
     {"pchord": "1", "ordnum": "PO-001"}),
], ids=["subcon", "pchord"])
def test_modify_command_updates_the_sage_header_and_reports_ok(
        queues: Queues, make_agent: Any, embedded: EmbeddedSage, kind: CommandType,
        changed: dict[str, Any], keys: dict[str, str]) -> None:
    before = commitment_counts(embedded)
    queues.send(modify(kind))

    assert make_agent(embedded).poll_once() == 1

    row = header_row(embedded, kind)
    assert {column: row[column] for column in changed} == changed
    assert commitment_counts(embedded) == before  # in place: nothing inserted
    results, _ = queues.drain_results()
    assert [(r.command_id, r.ok, r.sage_keys) for r in results] == [
        (f"cmd-{kind.value}", True, keys)]
    assert queues.depth(queues.commands) == 0


def test_modify_refused_by_sage_is_reported(make_agent: Any, embedded: EmbeddedSage) -> None:
    result = make_agent(embedded).handle(modify(CommandType.MODIFY_SUBCONTRACT, record=7))
    assert not result.ok and result.error is not None
    assert result.error.code == INVALID_REFERENCE
    assert "subcontract 7 does not exist on job 24001" in result.error.message


@pytest.mark.parametrize("kind", [CommandType.MODIFY_SUBCONTRACT,
                                  CommandType.MODIFY_PURCHASE_ORDER], ids=["subcon", "pchord"])
def test_modify_is_applied_again_after_a_crash(
        queues: Queues, make_agent: Any, embedded: EmbeddedSage,
        monkeypatch: pytest.MonkeyPatch, kind: CommandType) -> None:
    def fake_exit(code: int) -> None:
        raise _Crash(code)

    monkeypatch.setattr(os, "_exit", fake_exit)
    before = commitment_counts(embedded)
    crashing = make_agent(embedded, visibility_timeout=1)
    crashing._crash_after_sage_write = True
    command = modify(kind)
    queues.send(command)
    with pytest.raises(_Crash):
        crashing.poll_once()
    crashing.close()
    written = header_row(embedded, kind)  # in Sage; the journal only says 'started'
    assert (written["dscrpt"], written["updusr"]) == (command.payload["description"], "relay")

    restarted = make_agent(embedded)
    assert restarted.journal.get(command.command_id).state == "started"  # type: ignore[union-attr]
    time.sleep(1.2)  # the visibility timeout runs out: SQS delivers the same message again
    assert restarted.poll_once() == 1

    results, _ = queues.drain_results()
    assert [(r.command_id, r.ok) for r in results] == [(command.command_id, True)]
    assert header_row(embedded, kind) == written  # applied again: the very same row
    assert commitment_counts(embedded) == before
    assert queues.depth(queues.commands) == 0


def test_a_2000_line_subcontract_travels_compressed_and_is_applied(
        queues: Queues, make_agent: Any, embedded: EmbeddedSage) -> None:
    codes = ["1100.000", "2200.000", "3300.000", "5120.000", "9900.000", "26000.000"]
    lines = [{"line_number": n, "description": f"Schedule of values item {n:04d} - level 3",
              "cost_code": codes[n % len(codes)], "cost_type": 4,
              "amount": str(Decimal(n % 97) * 13 + Decimal("0.25"))}
             for n in range(1, 2001)]
    total = sum(Decimal(line["amount"]) for line in lines)
    command = Command.packed(
        payload={"job": 24002, "vendor": 3002, "number": "SC-BIG", "description": "Tower",
                 "lines": lines},
        command_id="cmd-big", company_id=COMPANY_ID, type=CommandType.ADD_SUBCONTRACT,
        item_id="commitment-big", export_version=1, issued_at="2025-04-16T09:00:00Z")
    assert command.payload == {} and command.payload_zlib is not None
    assert len(command.model_dump_json().encode()) < 256 * 1024  # one SQS message
    queues.send(command)

    assert make_agent(embedded).poll_once() == 1

    results, _ = queues.drain_results()
    assert [(r.ok, r.error) for r in results] == [(True, None)]
    doc = embedded.subcontract(results[0].sage_keys["subcon"])
    assert len(doc["lines"]) == 2000
    assert embedded.count("sbcnln") == 2000 + 1  # the fixture's subcontract has one line
    assert doc["cntttl"] == total == sum(line["amount"] for line in doc["lines"])
    assert [line["linnum"] for line in doc["lines"]] == list(range(1, 2001))


# ---- the loop ------------------------------------------------------------------------------
def test_unparseable_message_is_left_for_the_dlq(queues: Queues, make_agent: Any) -> None:
    agent = make_agent(FakeSage())
    queues.sqs.send_message(QueueUrl=queues.commands, MessageBody="{not json",
                            MessageGroupId="g", MessageDeduplicationId="bad-1")
    other_company = subcontract().model_copy(update={"company_id": 1})
    queues.send(other_company, dedup="bad-2")

    assert agent.poll_once() == 2

    results, _ = queues.drain_results()
    assert results == []
    assert queues.depth(queues.commands) == 2  # not deleted: redrive takes them to the DLQ
    assert agent.journal.get(other_company.command_id) is None


class StubSqs:
    """Just enough SQS for schedule tests: records calls, never has messages."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.waits: list[int] = []

    def send_message(self, **kwargs: Any) -> dict[str, Any]:
        self.sent.append(kwargs)
        return {"MessageId": str(len(self.sent))}

    def receive_message(self, **kwargs: Any) -> dict[str, Any]:
        self.waits.append(kwargs["WaitTimeSeconds"])
        return {}


def test_heartbeats_on_schedule(make_agent: Any) -> None:
    now = [1_000.0]
    stub = StubSqs()
    agent = make_agent(FakeSage(), client=stub, clock=lambda: now[0], wait_seconds=20,
                       heartbeat_seconds=30)
    for t in (1_000.0, 1_010.0, 1_025.0, 1_030.0, 1_031.0, 1_061.0):
        now[0] = t
        agent.poll_once()

    beats = [Heartbeat.model_validate_json(kw["MessageBody"]) for kw in stub.sent]
    assert [b.at for b in beats] == ["1970-01-01T00:16:40.000+00:00",
                                     "1970-01-01T00:17:10.000+00:00",
                                     "1970-01-01T00:17:41.000+00:00"]
    assert all(kw["MessageGroupId"] == "heartbeat:agent-1" for kw in stub.sent)
    assert stub.sent[0]["MessageDeduplicationId"] == f"hb:agent-1:{beats[0].at}"
    assert beats[0].company_id == COMPANY_ID
    assert stub.waits == [20, 20, 5, 20, 20, 20]  # the long poll never outlasts a heartbeat


def test_result_that_could_not_be_sent_goes_out_later(queues: Queues, make_agent: Any) -> None:
    sage = FakeSage()
    client = RecordingSqs(queues.sqs, fail_result_sends=1)
    agent = make_agent(sage, client=client)
    queues.send(subcontract())

    with pytest.raises(EndpointConnectionError):
        agent.poll_once()  # run() would back off here
    assert [r.command_id for r in agent.journal.unreported()] == ["cmd-SC-100"]
    assert queues.depth(queues.commands) == 1  # not deleted before the result is out

    agent.poll_once()
    results, _ = queues.drain_results()
    assert [r.command_id for r in results] == ["cmd-SC-100"]
    assert agent.journal.unreported() == []

    queues.send(subcontract(), dedup="redelivered")  # the undeleted message comes back
    agent.poll_once()
    assert sage.writes == 1


def test_aws_unreachable_backs_off_then_recovers(queues: Queues, make_agent: Any) -> None:
    dead = boto3.client("sqs", region_name="us-east-1",
                        endpoint_url=f"http://127.0.0.1:{_free_port()}",
                        config=Config(connect_timeout=1, retries={"total_max_attempts": 1}))
    sleeps: list[float] = []
    agent = make_agent(FakeSage(), client=dead, sleeps=sleeps, backoff_cap=10)
    pending = subcontract()
    agent.journal.begin(pending)
    agent.journal.finish(pending.command_id, agent._ok(pending, {"subcon": "5"}, 1))

    stop = threading.Event()
    original = agent._sleep

    def sleep_then_maybe_stop(seconds: float) -> None:
        original(seconds)
        if len(sleeps) == 7:
            stop.set()

    agent._sleep = sleep_then_maybe_stop
    agent.run(stop)  # must not raise

    assert sleeps == [0.5, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0]  # grows, capped at backoff_cap
    assert [r.command_id for r in agent.journal.unreported()] == [pending.command_id]

    agent.sqs = queues.sqs  # AWS is back
    agent.poll_once()
    results, beats = queues.drain_results()
    assert [r.command_id for r in results] == [pending.command_id]
    assert len(beats) == 1
    assert agent.journal.unreported() == []


def test_stop_finishes_the_message_in_hand(queues: Queues, make_agent: Any) -> None:
    stop = threading.Event()
    sage = FakeSage(on_write=stop.set)  # SIGTERM arrives during the first Sage write
    agent = make_agent(sage)
    queues.send(subcontract("SC-1", item_id="a"))
    queues.send(subcontract("SC-2", item_id="b"))

    assert agent.poll_once(stop) == 2

    assert sage.writes == 1
    results, _ = queues.drain_results()
    assert [r.command_id for r in results] == ["cmd-SC-1"]  # finished and reported
    left = queues.sqs.receive_message(QueueUrl=queues.commands).get("Messages", [])
    assert [json.loads(m["Body"])["command_id"] for m in left] == ["cmd-SC-2"]  # released


def test_run_applies_and_stops(queues: Queues, make_agent: Any) -> None:
    sage = FakeSage()
    agent = make_agent(sage)
    stop = threading.Event()
    worker = threading.Thread(target=agent.run, args=(stop,), daemon=True)
    queues.send(subcontract())
    worker.start()
    deadline = time.monotonic() + 10
    while agent.results_sent == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    stop.set()
    worker.join(timeout=10)
    assert not worker.is_alive()
    assert sage.writes == 1 and agent.results_sent == 1


def test_log_lines_are_json_with_keys(make_agent: Any, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="relay"):
        make_agent(FakeSage()).handle(subcontract())
    record = next(r for r in caplog.records if r.getMessage() == "command handled")
    line = json.loads(JsonFormatter().format(record))
    assert (line["event"], line["command_id"], line["item_id"], line["outcome"]) == (
        "command handled", "cmd-SC-100", "commitment-1", "ok")


def test_backoff_and_error_classification() -> None:
    from botocore.exceptions import ClientError

    assert [backoff_delay(n, 0.5, 30, lambda: 1.0) for n in range(8)] == [
        0.5, 1, 2, 4, 8, 16, 30, 30]
    assert backoff_delay(3, 0.5, 30, lambda: 0.25) == 1.0

    def client_error(code: str, status: int) -> ClientError:
        return ClientError({"Error": {"Code": code}, "ResponseMetadata": {
            "HTTPStatusCode": status}}, "ReceiveMessage")

    assert is_transient(EndpointConnectionError(endpoint_url="http://127.0.0.1:1"))
    assert is_transient(client_error("InternalError", 500))
    assert is_transient(client_error("ThrottlingException", 400))
    assert not is_transient(client_error("AccessDenied", 403))


# ---- configuration -------------------------------------------------------------------------
def test_config_file_overridden_by_environment(tmp_path: Path) -> None:
    path = tmp_path / "relay.toml"
    path.write_text(
        'agent_id = "office-1"\ncompany_id = 4264\n'
        'commands_queue_url = "https://sqs.us-east-1.amazonaws.com/1/c.fifo"\n'
        'results_queue_url = "https://sqs.us-east-1.amazonaws.com/1/r.fifo"\n'
        'journal_path = "/var/lib/relay/journal.sqlite3"\nsage_db = "/srv/sage.db"\n'
        "wait_seconds = 10\n")
    config = load_config(str(path), env={"RELAY_WAIT_SECONDS": "5", "AWS_REGION": "eu-west-1",
                                         "AWS_ENDPOINT_URL": ""})
    assert (config.agent_id, config.wait_seconds, config.region) == ("office-1", 5, "eu-west-1")
    assert config.endpoint_url is None
    assert (config.visibility_timeout, config.heartbeat_seconds, config.max_attempts) == (
        120, 30, 4)


def test_config_errors_name_the_setting(tmp_path: Path) -> None:
    env = {"RELAY_AGENT_ID": "a", "RELAY_COMMANDS_QUEUE_URL": "https://q/c.fifo",
           "RELAY_RESULTS_QUEUE_URL": "https://q/r.fifo", "RELAY_JOURNAL": "j",
           "RELAY_SAGE_DB": "s"}
    with pytest.raises(ConfigError, match=r"missing setting company_id.*RELAY_COMPANY_ID"):
        load_config(None, env=env)
    with pytest.raises(ConfigError, match="invalid setting company_id from environment "
                                          "variable RELAY_COMPANY_ID"):
        load_config(None, env={**env, "RELAY_COMPANY_ID": "acme"})
    with pytest.raises(ConfigError, match=r"results_queue_url.*FIFO"):
        load_config(None, env={**env, "RELAY_COMPANY_ID": "1",
                               "RELAY_RESULTS_QUEUE_URL": "https://q/r"})
    secret = tmp_path / "bad.toml"
    secret.write_text('aws_secret_access_key = "x"\n')
    with pytest.raises(ConfigError, match="boto3 chain"):
        load_config(str(secret), env=env)
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(str(tmp_path / "missing.toml"), env=env)


# ---- the real process ----------------------------------------------------------------------
def test_process_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    pytest.importorskip("relay.sage.embedded")
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    process = None
    try:
        endpoint = f"http://127.0.0.1:{port}"
        sqs = boto3.client("sqs", region_name="us-east-1", endpoint_url=endpoint)
        fifo = {"FifoQueue": "true"}
        commands = sqs.create_queue(QueueName="c.fifo", Attributes=fifo)["QueueUrl"]
        results = sqs.create_queue(QueueName="r.fifo", Attributes=fifo)["QueueUrl"]
        env = {**os.environ, "AWS_ENDPOINT_URL": endpoint, "RELAY_AGENT_ID": "proc-1",
               "RELAY_COMPANY_ID": str(COMPANY_ID), "RELAY_COMMANDS_QUEUE_URL": commands,
               "RELAY_RESULTS_QUEUE_URL": results, "RELAY_WAIT_SECONDS": "1",
               "RELAY_JOURNAL": str(tmp_path / "journal.sqlite3"),
               "RELAY_SAGE_DB": str(tmp_path / "sage.sqlite3")}
        process = subprocess.Popen([sys.executable, "-m", "relay", "run"], cwd=ROOT, env=env,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        beat = None
        deadline = time.monotonic() + 20
        while beat is None and time.monotonic() < deadline and process.poll() is None:
            got = sqs.receive_message(QueueUrl=results, WaitTimeSeconds=1).get("Messages", [])
            beat = got[0] if got else None
        assert beat is not None, process.stderr.read() if process.poll() is not None else ""
        assert json.loads(beat["Body"])["agent_id"] == "proc-1"

        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
        log = process.stderr.read()
        started = next(json.loads(line) for line in log.splitlines()
                       if '"agent started"' in line)
        assert started["agent_id"] == "proc-1" and started["commands_queue_url"] == commands
        assert os.environ["AWS_SECRET_ACCESS_KEY"] not in json.dumps(started)
    finally:
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()
        server.stop()
