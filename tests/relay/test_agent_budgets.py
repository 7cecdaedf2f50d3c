"""The agent with budget commands: ADD_BUDGET and CHANGE_BUDGET from the command queue to the
embedded Sage and back as results, Sage's refusals, reconciliation after a retry or a
crash, the budget pull, and the read-only real Sage database.

SQS is moto (test_agent.py's queues and agent factory); Sage is the real embedded one.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import URL

from chalicelib.relay_protocol import BudgetPayload, Command, CommandType, Result
from relay.sage.embedded import EmbeddedSage
from relay.sage.port import (
    CONSTRAINT_FAILED,
    INVALID_DATA,
    INVALID_REFERENCE,
    SECURITY_DENIED,
    UNAVAILABLE,
    SageError,
)
from tests.relay import test_agent
from tests.relay.test_agent import COMPANY_ID, Queues, RecordingSqs

# test_agent.py's fixtures (the moto queues, an agent factory); pytest finds them by name.
queues = test_agent.queues
make_agent = test_agent.make_agent

BUDGET = {"job": 24001, "lines": [
    {"cost_code": "3300.000", "unit": "CY", "amounts": {"1": "1200.00", "4": "800.00"},
     "originals": {"1": "1000.00"}},
    {"phase": 1, "cost_code": "2200.000", "amounts": {"2": "450.25"}},
]}
CHANGE = {"job": 24001, "lines": [
    {"cost_code": "3300.000", "amounts": {"4": "950.00"}},
    {"phase": 1, "cost_code": "2200.000", "amounts": {"2": "0"}},  # deleted in Procore
    {"phase": 2, "cost_code": "5120.000", "amounts": {"1": "60.00"}},  # new in Procore
]}


class CommitThenTimeout(EmbeddedSage):
    """An embedded Sage whose first budget add commits, then reports a retryable timeout
    (the answer lost on the way back: Sage has the budget, the agent does not know)."""

    timeouts = 1

    def add_budget(self, payload: BudgetPayload) -> dict[str, str]:
        keys = super().add_budget(payload)
        if self.timeouts:
            self.timeouts -= 1
            raise SageError(UNAVAILABLE, "The company database did not answer in time",
                            retryable=True)
        return keys


def company(sage: EmbeddedSage) -> EmbeddedSage:
    sage.init()
    sage.seed_demo()
    return sage


@pytest.fixture
def sage(tmp_path: Path) -> EmbeddedSage:
    return company(EmbeddedSage(tmp_path / "sage.sqlite3"))


def budget_command(kind: CommandType, body: dict[str, Any], command_id: str,
                   version: int = 1) -> Command:
    return Command(command_id=command_id, company_id=COMPANY_ID, type=kind,
                   item_id="budget:24001", export_version=version, payload=body,
                   issued_at="2025-05-02T10:00:00Z")


def add_budget(body: dict[str, Any] | None = None, command_id: str = "cmd-budget-1") -> Command:
    return budget_command(CommandType.ADD_BUDGET, body or BUDGET, command_id)


def change_budget(body: dict[str, Any] | None = None,
                  command_id: str = "cmd-budget-2") -> Command:
    return budget_command(CommandType.CHANGE_BUDGET, body or CHANGE, command_id, version=2)


def pulled(sage: EmbeddedSage, job: int = 24001) -> list[dict[str, Any]]:
    rows, _ = sage.read("budgets", after=None, limit=100, job=job)
    return rows


def test_add_budget_command_lands_in_sage_and_reports_its_keys(
        queues: Queues, make_agent: Any, sage: EmbeddedSage) -> None:
    queues.send(add_budget())

    assert make_agent(sage).poll_once() == 1

    results, _ = queues.drain_results()
    assert [(r.command_id, r.ok, r.sage_keys, r.attempts) for r in results] == [
        ("cmd-budget-1", True, {"budget": "24001", "lines": "2"}, 1)]
    assert [(r["phase"], r["cost_code"], r["amounts"], r["originals"], r["total"])
            for r in pulled(sage)] == [
        (None, "3300.000", {"1": "1200.00", "4": "800.00"}, {"1": "1000.00"}, "2000.00"),
        (1, "2200.000", {"2": "450.25"}, {"2": "450.25"}, "450.25")]
    assert queues.depth(queues.commands) == 0


def test_change_budget_command_updates_and_adds_lines(
        queues: Queues, make_agent: Any, sage: EmbeddedSage) -> None:
    agent = make_agent(sage)
    queues.send(add_budget())
    queues.send(change_budget())

    agent.poll_once()

    results, _ = queues.drain_results()
    assert [(r.command_id, r.ok, r.sage_keys) for r in results] == [
        ("cmd-budget-1", True, {"budget": "24001", "lines": "2"}),
        ("cmd-budget-2", True, {"budget": "24001", "changed": "2", "added": "1"})]
    assert [(r["phase"], r["cost_code"], r["amounts"], r["originals"]) for r in pulled(sage)] == [
        (None, "3300.000", {"1": "1200.00", "4": "950.00"}, {"1": "1000.00"}),
        (1, "2200.000", {}, {"2": "450.25"}),  # zeroed, kept with its original
        (2, "5120.000", {"1": "60.00"}, {})]  # added by a change: no original budget


def test_a_refused_budget_is_reported_with_sages_code_and_message(
        queues: Queues, make_agent: Any, sage: EmbeddedSage) -> None:
    sage.add_budget(BudgetPayload.model_validate(
        {"job": 24001, "lines": [{"cost_code": "1100.000", "amounts": {"5": "10"}}]}))
    sleeps: list[float] = []
    queues.send(add_budget())

    make_agent(sage, sleeps=sleeps).poll_once()

    results, _ = queues.drain_results()
    error = results[0].error
    assert not results[0].ok and error is not None
    assert (error.code, error.retryable, results[0].attempts) == (CONSTRAINT_FAILED, False, 1)
    assert error.message == (
        "Failed coded constraint: job 24001 already has a budget (1 line) in Sage; a budget "
        "is set up in one system and then exported or imported, never in both")
    assert sleeps == [] and queues.depth(queues.commands) == 0
    assert len(pulled(sage)) == 1


@pytest.mark.parametrize(("command", "code", "words"), [
    (change_budget(), INVALID_REFERENCE, "job 24001 has no budget in Sage; export the budget"),
    (add_budget({"job": 24001, "lines": [{"cost_code": "4400.000", "amounts": {"1": "1"}}]}),
     INVALID_REFERENCE, "line 1 cost code 4400.000 does not exist"),
    (add_budget({"job": 24001, "lines": [
        {"cost_code": "3300.000", "amounts": {"1": "1"}},
        {"cost_code": "3300.000", "amounts": {"2": "1"}}]}),
     INVALID_DATA, "repeats line 1"),
    (add_budget({"job": 24001, "lines": [{"cost_code": "3300.000", "amounts": {"0": "1"}}]}),
     INVALID_DATA, "lines.0.amounts.0.[key]"),  # the protocol's own check: types 1-9
], ids=["change-without-budget", "cost-code", "duplicate-line", "cost-type-0"])
def test_other_refusals_are_results_too(make_agent: Any, sage: EmbeddedSage, command: Command,
                                        code: int, words: str) -> None:
    result = make_agent(sage).handle(command)
    assert not result.ok and result.error is not None
    assert result.error.code == code and words in result.error.message
    assert sage.count("bdglin") == 0


def test_an_add_committed_before_a_timeout_is_found_on_the_retry(
        make_agent: Any, tmp_path: Path) -> None:
    # The first attempt commits and then times out (retryable); the retry looks Sage up
    # first and finds the budget, instead of writing again and being refused (14201).
    sage = company(CommitThenTimeout(tmp_path / "sage.sqlite3"))
    sleeps: list[float] = []

    result = make_agent(sage, sleeps=sleeps).handle(add_budget())

    assert result.ok and result.sage_keys == {"budget": "24001", "lines": "2"}
    assert result.attempts == 2 and sleeps == [0.5]
    assert sage.count("bdglin") == 2


def test_an_add_written_before_a_crash_is_reconciled(make_agent: Any,
                                                     sage: EmbeddedSage) -> None:
    agent = make_agent(sage)
    command = add_budget()
    written = sage.add_budget(command.typed_payload())  # in Sage; the journal says 'started'
    agent.journal.begin(command)

    result = agent.handle(command)

    assert result.ok and result.sage_keys == written
    assert sage.count("bdglin") == 2
    assert agent.journal.get(command.command_id).state == "done"  # type: ignore[union-attr]


def test_a_different_budget_on_the_job_is_not_taken_for_the_add(make_agent: Any,
                                                                sage: EmbeddedSage) -> None:
    # Reconciliation after a crash: the job's lines are not this command's amounts, so
    # the add is tried and Sage refuses it.
    agent = make_agent(sage)
    other = dict(BUDGET, lines=[dict(BUDGET["lines"][0], amounts={"1": "1.00"})])
    sage.add_budget(BudgetPayload.model_validate(other))
    agent.journal.begin(add_budget())

    result = agent.handle(add_budget())

    assert not result.ok and result.error is not None
    assert result.error.code == CONSTRAINT_FAILED


class _Crash(BaseException):
    """Stands in for os._exit: unwinds the test instead of killing pytest."""


def test_a_change_is_applied_again_after_a_crash(
        queues: Queues, make_agent: Any, sage: EmbeddedSage,
        monkeypatch: pytest.MonkeyPatch) -> None:
    def fake_exit(code: int) -> None:
        raise _Crash(code)

    monkeypatch.setattr(os, "_exit", fake_exit)
    sage.add_budget(add_budget().typed_payload())
    crashing = make_agent(sage, visibility_timeout=1)
    crashing._crash_after_sage_write = True
    queues.send(change_budget())
    with pytest.raises(_Crash):
        crashing.poll_once()
    crashing.close()
    written = sage.rows("bdglin")  # in Sage; the journal only says 'started'

    restarted = make_agent(sage)
    time.sleep(1.2)  # the visibility timeout runs out: SQS delivers the same message again
    assert restarted.poll_once() == 1

    results, _ = queues.drain_results()
    assert [(r.command_id, r.ok, r.sage_keys) for r in results] == [
        ("cmd-budget-2", True, {"budget": "24001", "changed": "0", "added": "0"})]
    assert sage.rows("bdglin") == written  # applied again: the very same rows
    assert queues.depth(queues.commands) == 0


def test_budget_pull_pages_one_job(queues: Queues, make_agent: Any,
                                   sage: EmbeddedSage) -> None:
    sage.add_budget(add_budget().typed_payload())
    sage.add_budget(BudgetPayload.model_validate(
        {"job": 24002, "lines": [{"cost_code": "9900.000", "amounts": {"5": "70"}}]}))
    pull = Command(command_id="pull-budgets-1", company_id=COMPANY_ID,
                   type=CommandType.PULL_BUDGETS, item_id="pull:pull_budgets",
                   export_version=0, payload={"page_size": 1, "job": 24001},
                   issued_at="2025-05-02T10:00:00Z")
    queues.send(pull)

    make_agent(sage).poll_once()

    results, _ = queues.drain_results()
    assert [(r.page, r.more) for r in results] == [(1, True), (2, False)]
    assert [row for r in results for row in r.data or []] == [
        {"job": 24001, "phase": None, "line": 1, "cost_code": "3300.000", "unit": "CY",
         "amounts": {"1": "1200.00", "4": "800.00"}, "originals": {"1": "1000.00"},
         "total": "2000.00", "locked": False},
        {"job": 24001, "phase": 1, "line": 1, "cost_code": "2200.000", "unit": "",
         "amounts": {"2": "450.25"}, "originals": {"2": "450.25"}, "total": "450.25",
         "locked": False}]


def test_budget_pull_without_a_job_reads_every_job(make_agent: Any, sage: EmbeddedSage,
                                                   queues: Queues) -> None:
    sage.add_budget(add_budget().typed_payload())
    sage.add_budget(BudgetPayload.model_validate(
        {"job": 24002, "lines": [{"cost_code": "9900.000", "amounts": {"5": "70"}}]}))
    client = RecordingSqs(queues.sqs)
    pull = Command(command_id="pull-budgets-2", company_id=COMPANY_ID,
                   type=CommandType.PULL_BUDGETS, item_id="pull:pull_budgets",
                   export_version=0, payload={}, issued_at="2025-05-02T10:00:00Z")

    last = make_agent(sage, client=client).pull(pull)

    assert last is not None and last.ok and not last.more
    rows = [row for body in client.sent_results()
            for row in Result.model_validate_json(body).data or []]
    assert [(r["job"], r["cost_code"]) for r in rows] == [
        (24001, "3300.000"), (24001, "2200.000"), (24002, "9900.000")]


@pytest.mark.parametrize("command", [add_budget(), change_budget()], ids=["add", "change"])
def test_budgets_are_never_written_to_a_configured_sage_database(
        make_agent: Any, sage: EmbeddedSage, tmp_path: Path, command: Command) -> None:
    real = company(EmbeddedSage(tmp_path / "real.sqlite3"))
    url = URL.create("sqlite", database=str(real.path)).render_as_string()

    result = make_agent(sage, sage_database_url=url).handle(command)

    assert not result.ok and result.error is not None
    assert (result.error.code, result.error.retryable) == (SECURITY_DENIED, False)
    assert result.error.message.startswith(f"{command.type.value} refused: this agent reads "
                                           "a real Sage company database")
    assert (sage.count("bdglin"), real.count("bdglin")) == (0, 0)
