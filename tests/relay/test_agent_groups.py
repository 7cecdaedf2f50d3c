"""Per-job order within a batch: a failure holds back the rest of its group, not others.

The command queue is FIFO grouped by Sage job. moto, like SQS, hands one receive several
messages of the same group, in order; it holds a group back only while an earlier receive
still has one of its messages in flight. So each test first checks that one batch held all
the messages: what happens to them within that batch is the agent's doing, not moto's.

Sage is the real embedded one (the demo company in a file in tmp_path).
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import pytest

from chalicelib.relay_protocol import Command, CommandType
from relay.logs import JsonFormatter
from relay.sage.embedded import EmbeddedSage
from relay.sage.port import INVALID_DATA
from tests.relay import test_agent
from tests.relay.test_agent import COMPANY_ID, Queues, RecordingSqs

# test_agent.py's fixtures (the moto queues, an agent factory); pytest finds them by name.
queues = test_agent.queues
make_agent = test_agent.make_agent
JOB_A = "job:24001"  # the MessageGroupId the cloud gives every command of one Sage job
JOB_B = "job:24002"


@pytest.fixture
def sage(tmp_path: Path) -> EmbeddedSage:
    db = EmbeddedSage(tmp_path / "sage.sqlite3")
    db.init()
    db.seed_demo()
    return db


def subcontract(number: str, *, job: int = 24001, vendor: int = 3001) -> Command:
    body = {"job": job, "vendor": vendor, "number": number, "description": "Framing",
            "lines": [{"line_number": 1, "description": "Framing", "cost_code": "1100.000",
                       "cost_type": 4, "amount": "900.00"}]}
    return Command(command_id=f"cmd-{number}", company_id=COMPANY_ID,
                   type=CommandType.ADD_SUBCONTRACT, item_id=f"commitment-{number}",
                   export_version=1, payload=body, issued_at="2025-04-16T09:00:00Z")


def purchase_order(number: str, *, job: int = 24002) -> Command:
    body = {"job": job, "vendor": 3003, "number": number, "description": "Steel",
            "lines": [{"line_number": 1, "description": "Beams", "quantity": "4",
                       "unit_price": "250", "amount": "1000.00", "cost_code": "5120.000",
                       "cost_type": 1}]}
    return Command(command_id=f"cmd-{number}", company_id=COMPANY_ID,
                   type=CommandType.ADD_PURCHASE_ORDER, item_id=f"commitment-{number}",
                   export_version=1, payload=body, issued_at="2025-04-16T09:00:00Z")


def send(queues: Queues, group: str, body: Command | str, dedup: str) -> None:
    """Put one message on the command queue in ``group`` (a Command, or any raw body)."""
    text = body.model_dump_json() if isinstance(body, Command) else body
    queues.sqs.send_message(QueueUrl=queues.commands, MessageBody=text,
                            MessageGroupId=group, MessageDeduplicationId=dedup)


def sent_ids(client: RecordingSqs) -> list[str]:
    """Command ids of the results the agent sent, in the order it sent them."""
    return [json.loads(body)["command_id"] for body in client.sent_results()]


def releases(client: RecordingSqs) -> list[list[dict[str, Any]]]:
    return [kw["Entries"] for name, kw in client.calls
            if name == "change_message_visibility_batch"]


def test_a_refused_command_holds_back_the_rest_of_its_group(
        queues: Queues, make_agent: Any, sage: EmbeddedSage,
        caplog: pytest.LogCaptureFixture) -> None:
    send(queues, JOB_A, subcontract("SC-A1", vendor=3004), "a1")  # inactive vendor: 14050
    send(queues, JOB_A, subcontract("SC-A2"), "a2")
    send(queues, JOB_B, purchase_order("PO-B1"), "b1")
    client = RecordingSqs(queues.sqs)
    agent = make_agent(sage, client=client)

    with caplog.at_level(logging.INFO, logger="relay"):
        assert agent.poll_once() == 3  # one batch: A1, A2 and B1

    assert sage.find_subcontract(24001, "SC-A2") is None  # not applied in that poll ...
    assert agent.journal.get("cmd-SC-A2") is None  # ... not even begun
    assert sage.find_purchase_order("PO-B1") is not None  # the other job went on
    assert sent_ids(client) == ["cmd-SC-A1", "cmd-PO-B1"]
    assert [[entry["VisibilityTimeout"] for entry in entries]
            for entries in releases(client)] == [[0]]  # A2 handed back at once
    held = next(r for r in caplog.records if r.getMessage().startswith("message held back"))
    line = json.loads(JsonFormatter().format(held))
    assert (line["group"], line["outcome"]) == (JOB_A, "held")

    # A1 was answered (and deleted), so SQS hands A2 back on the next poll, after A1.
    assert agent.poll_once() == 1
    assert sage.find_subcontract(24001, "SC-A2") is not None
    assert sent_ids(client) == ["cmd-SC-A1", "cmd-PO-B1", "cmd-SC-A2"]
    results, _ = queues.drain_results()
    outcomes = {r.command_id: (r.ok, r.error.code if r.error else None) for r in results}
    assert outcomes == {"cmd-SC-A1": (False, INVALID_DATA), "cmd-PO-B1": (True, None),
                        "cmd-SC-A2": (True, None)}
    assert queues.depth(queues.commands) == 0


class BuggySage:
    """The embedded Sage with an adapter bug: the first ``failures`` writes of SC-BUG raise."""

    def __init__(self, inner: EmbeddedSage, failures: int = 1_000) -> None:
        self.inner = inner
        self.failures = failures

    def add_subcontract(self, payload: Any) -> dict[str, str]:
        if payload.number == "SC-BUG" and self.failures > 0:
            self.failures -= 1
            raise RuntimeError("adapter bug")
        return self.inner.add_subcontract(payload)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@pytest.mark.parametrize("failing", ["{not json", subcontract("SC-BUG")],
                         ids=["unparseable", "exception"])
def test_a_message_left_on_the_queue_holds_back_the_rest_of_its_group(
        queues: Queues, make_agent: Any, sage: EmbeddedSage, failing: Command | str) -> None:
    send(queues, JOB_A, failing, "a1")
    send(queues, JOB_A, subcontract("SC-A2"), "a2")
    send(queues, JOB_B, purchase_order("PO-B1"), "b1")
    client = RecordingSqs(queues.sqs)
    agent = make_agent(BuggySage(sage), client=client)

    assert agent.poll_once() == 3  # one batch: A1, A2 and B1

    assert sage.find_subcontract(24001, "SC-A2") is None
    assert agent.journal.get("cmd-SC-A2") is None
    assert sage.find_purchase_order("PO-B1") is not None
    assert sent_ids(client) == ["cmd-PO-B1"]
    assert len(releases(client)) == 1
    # A2 is visible again, but A1 is still in flight: SQS keeps the group behind A1.
    assert agent.poll_once() == 0
    assert queues.depth(queues.commands) == 2


def test_a_held_message_comes_back_after_the_failed_one(
        queues: Queues, make_agent: Any, sage: EmbeddedSage) -> None:
    send(queues, JOB_A, subcontract("SC-BUG"), "a1")  # fails once, then works
    send(queues, JOB_A, subcontract("SC-A2"), "a2")
    send(queues, JOB_B, purchase_order("PO-B1"), "b1")
    client = RecordingSqs(queues.sqs)
    agent = make_agent(BuggySage(sage, failures=1), client=client, visibility_timeout=1)
    assert agent.poll_once() == 3
    assert sage.find_subcontract(24001, "SC-A2") is None

    time.sleep(1.2)  # A1's visibility timeout runs out: SQS delivers A1, then A2
    assert agent.poll_once() == 2

    assert sent_ids(client) == ["cmd-PO-B1", "cmd-SC-BUG", "cmd-SC-A2"]
    recnums = [sage.find_subcontract(24001, n) for n in ("SC-BUG", "SC-A2")]
    assert [keys["subcon"] if keys else None for keys in recnums] == ["1", "2"]  # in order
    assert queues.depth(queues.commands) == 0


def test_the_receive_asks_for_the_group(queues: Queues, make_agent: Any,
                                        sage: EmbeddedSage) -> None:
    client = RecordingSqs(queues.sqs)
    make_agent(sage, client=client).poll_once()
    receive = next(kw for name, kw in client.calls if name == "receive_message")
    assert "MessageGroupId" in receive["MessageSystemAttributeNames"]
