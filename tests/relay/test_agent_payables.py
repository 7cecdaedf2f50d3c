"""The agent with subcontractor invoices: ADD_PAYABLE_INVOICE from the command queue to
the embedded Sage's accounts payable and back as results, Sage's refusals (a locked
period, an invoice number the vendor used), and reconciliation after a retry or a crash
(an invoice adds to what the subcontract billed: it must never be posted twice).

SQS is moto (test_agent.py's queues and agent factory); Sage is the real embedded one.
"""

from __future__ import annotations

import os
import time
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import URL

from chalicelib.relay_protocol import (
    Command,
    CommandType,
    PayableInvoicePayload,
    SubcontractPayload,
)
from relay.agent import FINDS, WRITES
from relay.sage.embedded import EmbeddedSage
from relay.sage.port import (
    CONSTRAINT_FAILED,
    INVALID_DATA,
    SECURITY_DENIED,
    UNAVAILABLE,
    SageError,
)
from tests.relay import test_agent
from tests.relay.test_agent import COMPANY_ID, Queues

# test_agent.py's fixtures (the moto queues, an agent factory); pytest finds them by name.
queues = test_agent.queues
make_agent = test_agent.make_agent

TODAY = date(2025, 5, 20)  # the company's default periods: 2025, current period 5
INVOICE = {"job": 24001, "vendor": 3001, "subcontract": 1, "subcontract_number": "SC-100",
           "invoice_number": "INV-1042", "description": "Pay app 3 March",
           "invoice_date": "2025-03-31", "lines": [
               {"line_number": 1, "subcontract_line": 1, "description": "Footings 40%",
                "cost_code": "3300.000", "cost_type": 4, "amount": "400.00",
                "retention": "40.00"},
               {"line_number": 2, "subcontract_line": 2, "description": "Slab 20%",
                "cost_code": "3300.000", "cost_type": 1, "amount": "100.00"}]}
KEYS = {"acpinv": "1", "invnum": "INV-1042", "period": "2025-03"}


class CommitThenTimeout(EmbeddedSage):
    """An embedded Sage whose first invoice commits, then reports a retryable timeout (the
    answer lost on the way back: Sage has it, the agent does not know)."""

    timeouts = 1

    def add_payable_invoice(self, payload: PayableInvoicePayload) -> dict[str, str]:
        keys = super().add_payable_invoice(payload)
        if self.timeouts:
            self.timeouts -= 1
            raise SageError(UNAVAILABLE, "The company database did not answer in time",
                            retryable=True)
        return keys


def company(sage: EmbeddedSage) -> EmbeddedSage:
    """The demo company with subcontract 1 SC-100 (vendor 3001, 1500.00) on job 24001."""
    sage.init()
    sage.seed_demo()
    sage.add_subcontract(SubcontractPayload.model_validate({
        "job": 24001, "vendor": 3001, "number": "SC-100", "description": "Concrete",
        "lines": [
            {"line_number": 1, "description": "Footings", "cost_code": "3300.000",
             "cost_type": 4, "amount": "1000.00"},
            {"line_number": 2, "description": "Slab", "cost_code": "3300.000",
             "cost_type": 1, "amount": "500.00"}]}))
    return sage


@pytest.fixture
def sage(tmp_path: Path) -> EmbeddedSage:
    return company(EmbeddedSage(tmp_path / "sage.sqlite3", today=lambda: TODAY))


def command(body: dict[str, Any] | None = None, command_id: str = "cmd-inv-1") -> Command:
    return Command(command_id=command_id, company_id=COMPANY_ID,
                   type=CommandType.ADD_PAYABLE_INVOICE, item_id="invoice:42",
                   export_version=1, payload=body or INVOICE,
                   issued_at="2025-04-01T10:00:00Z")


def invoiced(sage: EmbeddedSage) -> tuple[int, int, Decimal, Decimal]:
    row = sage.subcontract(1)
    return sage.count("acpinv"), sage.count("jobcst"), row["invttl"], row["balttl"]


def test_the_command_is_wired_to_the_port() -> None:
    assert CommandType.ADD_PAYABLE_INVOICE in WRITES
    assert CommandType.ADD_PAYABLE_INVOICE in FINDS


def test_an_invoice_command_lands_in_sage_and_reports_its_keys(
        queues: Queues, make_agent: Any, sage: EmbeddedSage) -> None:
    queues.send(command())

    make_agent(sage).poll_once()

    results, _ = queues.drain_results()
    assert [(r.command_id, r.ok, r.sage_keys, r.attempts) for r in results] == [
        ("cmd-inv-1", True, KEYS, 1)]
    assert invoiced(sage) == (1, 2, Decimal("500.00"), Decimal("1000.00"))
    assert sage.rows("acpinv")[0]["retain"] == Decimal("40.00")
    assert queues.depth(queues.commands) == 0


def test_a_locked_period_is_a_result_with_sages_code_then_posts_once_unlocked(
        queues: Queues, make_agent: Any, sage: EmbeddedSage) -> None:
    sage.lock_posting_period(3)
    sleeps: list[float] = []
    agent = make_agent(sage, sleeps=sleeps)

    refused = agent.handle(command())

    assert not refused.ok and refused.error is not None
    assert (refused.error.code, refused.error.retryable, refused.attempts) == (
        INVALID_DATA, False, 1)
    assert refused.error.message == (
        "Invalid data: date 2025-03-31 falls in period 3 of 2025, which is locked; invoice "
        "INV-1042 of vendor 3001 cannot be posted there (acpinv.invdte): date it in an open "
        "period or have the period unlocked in Sage")
    assert sleeps == [] and invoiced(sage)[:2] == (0, 0)

    # The accountant unlocks the period; the cloud sends the invoice again (a new command).
    sage.unlock_posting_period(3)
    accepted = agent.handle(command(command_id="cmd-inv-2"))
    assert accepted.ok and accepted.sage_keys == KEYS


def test_a_used_invoice_number_is_a_result_with_sages_code_and_message(
        queues: Queues, make_agent: Any, sage: EmbeddedSage) -> None:
    queues.send(command())
    queues.send(command(dict(INVOICE, invoice_date="2025-04-30"), command_id="cmd-inv-2"))

    make_agent(sage).poll_once()

    results, _ = queues.drain_results()
    by_id = {r.command_id: r for r in results}
    assert by_id["cmd-inv-1"].ok
    error = by_id["cmd-inv-2"].error
    assert not by_id["cmd-inv-2"].ok and error is not None
    assert (error.code, error.retryable) == (CONSTRAINT_FAILED, False)
    assert error.message == (
        "Failed coded constraint: vendor 3001 Granite Bay Concrete already has an invoice "
        "number INV-1042 (payable invoice 1, dated 2025-03-31); an invoice number is used "
        "once per vendor unless the vendor allows duplicate invoice numbers "
        "(acpinv.invnum, actpay.dupchk)")
    assert invoiced(sage)[0] == 1


def test_an_invoice_committed_before_a_timeout_is_found_on_the_retry(
        make_agent: Any, tmp_path: Path) -> None:
    # The first attempt commits and then times out (retryable); the retry looks Sage up
    # first and finds the invoice instead of billing the subcontract a second time.
    sage = company(CommitThenTimeout(tmp_path / "sage.sqlite3", today=lambda: TODAY))
    sleeps: list[float] = []

    result = make_agent(sage, sleeps=sleeps).handle(command())

    assert result.ok and result.sage_keys == KEYS
    assert result.attempts == 2 and sleeps == [0.5]
    assert invoiced(sage) == (1, 2, Decimal("500.00"), Decimal("1000.00"))


class _Crash(BaseException):
    """Stands in for os._exit: unwinds the test instead of killing pytest."""


def test_an_invoice_written_before_a_crash_is_reconciled_not_written_again(
        queues: Queues, make_agent: Any, sage: EmbeddedSage,
        monkeypatch: pytest.MonkeyPatch) -> None:
    def fake_exit(code: int) -> None:
        raise _Crash(code)

    monkeypatch.setattr(os, "_exit", fake_exit)
    crashing = make_agent(sage, visibility_timeout=1)
    crashing._crash_after_sage_write = True
    queues.send(command())
    with pytest.raises(_Crash):
        crashing.poll_once()
    crashing.close()
    written = [sage.rows(table) for table in ("acpinv", "apivln", "jobcst", "subcon",
                                              "sbcnln")]

    restarted = make_agent(sage)
    time.sleep(1.2)  # the visibility timeout runs out: SQS delivers the same message again
    assert restarted.poll_once() == 1

    results, _ = queues.drain_results()
    assert [(r.command_id, r.ok, r.sage_keys) for r in results] == [
        ("cmd-inv-1", True, KEYS)]
    assert [sage.rows(table) for table in ("acpinv", "apivln", "jobcst", "subcon",
                                           "sbcnln")] == written  # nothing posted twice
    assert queues.depth(queues.commands) == 0


def test_invoices_are_never_written_to_a_configured_sage_database(
        make_agent: Any, sage: EmbeddedSage, tmp_path: Path) -> None:
    real = company(EmbeddedSage(tmp_path / "real.sqlite3"))
    url = URL.create("sqlite", database=str(real.path)).render_as_string()

    result = make_agent(sage, sage_database_url=url).handle(command())

    assert not result.ok and result.error is not None
    assert (result.error.code, result.error.retryable) == (SECURITY_DENIED, False)
    assert result.error.message.startswith("add_payable_invoice refused: this agent reads "
                                           "a real Sage company database")
    assert (sage.count("acpinv"), real.count("acpinv")) == (0, 0)
