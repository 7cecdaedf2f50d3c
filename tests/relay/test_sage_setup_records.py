"""Cost codes and phases sent from Procore: the embedded Sage's rules and error codes
(cstcde, cstdiv, jobphs), and the agent writing each command once, also after a crash
between the Sage write and its journal."""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from chalicelib.relay_protocol import Command, CommandType, CostCodePayload, PhasePayload
from relay.agent import RelayAgent
from relay.config import AgentConfig
from relay.sage.embedded import EmbeddedSage
from relay.sage.port import DUPLICATE_KEY, INVALID_DATA, INVALID_REFERENCE, SageError
from tests.relay.test_agent import COMPANY_ID, Queues
from tests.relay.test_setup_commands import command, refused


@pytest.fixture
def sage(tmp_path: Path) -> EmbeddedSage:
    db = EmbeddedSage(tmp_path / "sage.db")
    db.init()
    db.seed_demo()
    return db


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
    agents: list[RelayAgent] = []

    def _make(db: EmbeddedSage, **config: Any) -> RelayAgent:
        values: dict[str, Any] = {
            "agent_id": "agent-1", "company_id": COMPANY_ID,
            "commands_queue_url": queues.commands, "results_queue_url": queues.results,
            "journal_path": str(tmp_path / "journal.sqlite3"),
            "sage_db": str(tmp_path / "sage.db"), "wait_seconds": 0, **config}
        agent = RelayAgent(AgentConfig(**values), db, queues.sqs, sleep=lambda _s: None,
                           rng=lambda: 1.0)
        agents.append(agent)
        return agent

    yield _make
    for agent in agents:
        agent.close()


def cstcde(db: EmbeddedSage, code: int) -> dict[str, Any] | None:
    with sqlite3.connect(db.path) as conn:
        conn.row_factory = sqlite3.Row
        row = conn.execute("SELECT * FROM cstcde WHERE recnum = ?", (code,)).fetchone()
    return dict(row) if row else None


def code_payload(**overrides: Any) -> CostCodePayload:
    return CostCodePayload.model_validate({"cost_code": "3350.000", "name": "Shotcrete",
                                           **overrides})


def phase_payload(**overrides: Any) -> PhasePayload:
    return PhasePayload.model_validate({"job": 24001, "phase": 7, "name": "Parking Deck",
                                        **overrides})


# ---- cost codes -------------------------------------------------------------------------
def test_a_cost_code_is_added_with_its_division(sage: EmbeddedSage) -> None:
    assert sage.add_division(3, "Concrete") is True
    assert sage.create_cost_code(code_payload(division=3)) == {"cstcde": "3350.000"}
    row = cstcde(sage, 3350)
    assert row is not None
    assert (f"{Decimal(str(row['recnum'])):.3f}", row["cdenme"], row["divnum"],
            row["inactv"], row["untdsc"], row["insusr"]) == (
        "3350.000", "Shotcrete", 3, "", "", "relay")
    assert sage.create_cost_code(code_payload(cost_code="3350.125",
                                              name="Shotcrete repair")) == \
        {"cstcde": "3350.125"}
    assert cstcde(sage, 3350.125)["divnum"] is None  # type: ignore[index]


@pytest.mark.parametrize(("payload", "code", "words"), [
    (code_payload(cost_code="3300.000"), DUPLICATE_KEY, "cost code 3300.000 already exists"),
    (code_payload(division=4), INVALID_REFERENCE, "division 4 does not exist"),
    (CostCodePayload.model_construct(cost_code="0330.000", name="x", division=None),
     INVALID_DATA, "is not a valid cost code"),
    (CostCodePayload.model_construct(cost_code="3350.000", name="x" * 51, division=None),
     INVALID_DATA, "cstcde.cdenme allows at most 50"),
    (CostCodePayload.model_construct(cost_code="3350.000", name="  ", division=None),
     INVALID_DATA, "cstcde.cdenme is required"),
], ids=["duplicate", "missing-division", "format", "name-too-long", "blank-name"])
def test_cost_code_refusals(sage: EmbeddedSage, payload: CostCodePayload, code: int,
                            words: str) -> None:
    error = refused(sage, lambda: sage.create_cost_code(payload), code)
    assert words in error.message


def test_an_inactive_code_is_a_duplicate_too(sage: EmbeddedSage) -> None:
    sage.add_cost_code("4400", "Old masonry", inactive=True)
    refused(sage, lambda: sage.create_cost_code(code_payload(cost_code="4400.000")),
            DUPLICATE_KEY)


def test_find_cost_code_finds_only_the_commands_record(sage: EmbeddedSage) -> None:
    assert sage.find_cost_code(code_payload()) is None
    sage.create_cost_code(code_payload())
    assert sage.find_cost_code(code_payload(name="SHOTCRETE ")) == {"cstcde": "3350.000"}
    assert sage.find_cost_code(code_payload(cost_code="3300.000")) is None  # another name
    sage.add_division(3, "Concrete")
    assert sage.find_cost_code(code_payload(division=3)) is None  # another division


def test_a_division_is_added_once(sage: EmbeddedSage) -> None:
    sage.add_division(3, "Concrete")
    assert sage.add_division(3, "Concrete", skip_existing=True) is False
    with pytest.raises(SageError) as caught:
        sage.add_division(3, "Concrete")
    assert caught.value.code == DUPLICATE_KEY


# ---- phases -----------------------------------------------------------------------------
def test_a_phase_is_added_to_its_job(sage: EmbeddedSage) -> None:
    assert sage.create_phase(phase_payload()) == {"jobphs": "24001", "phsnum": "7"}
    assert {(r["job"], r["phase"], r["name"]) for r in sage.read(
        "phases", after=None, limit=50, job=24001)[0]} >= {(24001, 7, "Parking Deck")}
    assert sage.find_phase(phase_payload(name="parking deck")) == {"jobphs": "24001",
                                                                   "phsnum": "7"}
    assert sage.find_phase(phase_payload(name="Garage")) is None
    assert sage.find_phase(phase_payload(job=24002)) is None


@pytest.mark.parametrize(("payload", "code", "words"), [
    (phase_payload(phase=2), DUPLICATE_KEY, "phase 2 of job 24001 already exists"),
    (phase_payload(job=99999), INVALID_REFERENCE, "job 99999 does not exist"),
    (PhasePayload.model_construct(job=24001, phase=7, name="x" * 51), INVALID_DATA,
     "jobphs.phsnme allows at most 50"),
    (PhasePayload.model_construct(job=24001, phase=0, name="Zero"), INVALID_DATA,
     "out of range"),
], ids=["duplicate", "missing-job", "name-too-long", "phase-0"])
def test_phase_refusals(sage: EmbeddedSage, payload: PhasePayload, code: int,
                        words: str) -> None:
    error = refused(sage, lambda: sage.create_phase(payload), code)
    assert words in error.message


# ---- the agent ----------------------------------------------------------------------------
def cost_code_command() -> Command:
    return command(CommandType.ADD_COST_CODE, {"cost_code": "3350.000", "name": "Shotcrete"},
                   command_id="cmd-cost-code", item_id="cost_code-901")


def phase_command() -> Command:
    return command(CommandType.ADD_PHASE, {"job": 24001, "phase": 7, "name": "Parking Deck"},
                   command_id="cmd-phase", item_id="sub_job-902")


CASES = [(cost_code_command, "cstcde", {"cstcde": "3350.000"}),
         (phase_command, "jobphs", {"jobphs": "24001", "phsnum": "7"})]


@pytest.mark.parametrize(("make", "table", "keys"), CASES, ids=["cost-code", "phase"])
def test_delivered_twice_is_written_once(queues: Queues, make_agent: Any,
                                         sage: EmbeddedSage, make: Callable[[], Command],
                                         table: str, keys: dict[str, str]) -> None:
    agent = make_agent(sage)
    before = sage.count(table)
    queues.send(make(), dedup="delivery-1")
    queues.send(make(), dedup="delivery-2")
    assert agent.poll_once() == 2
    assert sage.count(table) == before + 1
    results, _ = queues.drain_results()
    assert [(r.ok, r.sage_keys) for r in results] == [(True, keys)]


class _Crash(BaseException):
    """Stands in for os._exit."""


@pytest.mark.parametrize(("make", "table", "keys"), CASES, ids=["cost-code", "phase"])
def test_a_crash_after_the_write_is_reconciled_not_written_again(
        queues: Queues, make_agent: Any, sage: EmbeddedSage,
        monkeypatch: pytest.MonkeyPatch, make: Callable[[], Command], table: str,
        keys: dict[str, str]) -> None:
    def fake_exit(code: int) -> None:
        raise _Crash(code)

    monkeypatch.setattr(os, "_exit", fake_exit)
    before = sage.count(table)
    crashing = make_agent(sage, visibility_timeout=1)
    crashing._crash_after_sage_write = True
    cmd = make()
    queues.send(cmd)
    with pytest.raises(_Crash):
        crashing.poll_once()
    crashing.close()
    restarted = make_agent(sage)
    time.sleep(1.2)  # the message comes back after its visibility timeout
    assert restarted.poll_once() == 1
    results, _ = queues.drain_results()
    assert [(r.ok, r.sage_keys) for r in results] == [(True, keys)]
    assert sage.count(table) == before + 1


def test_a_refusal_reaches_the_cloud_with_sages_code(queues: Queues, make_agent: Any,
                                                     sage: EmbeddedSage) -> None:
    agent = make_agent(sage)
    queues.send(command(CommandType.ADD_COST_CODE,
                        {"cost_code": "3300.000", "name": "Concrete again"},
                        command_id="cmd-dup", item_id="cost_code-903"))
    assert agent.poll_once() == 1
    [result], _ = queues.drain_results()
    assert not result.ok and result.error is not None
    assert result.error.code == DUPLICATE_KEY and not result.error.retryable
