"""Owner invoices through the agent: ADD_RECEIVABLE_INVOICE reaches the embedded Sage's AR
writer (acrinv + arivln) once per command, also after a crash between the Sage write and
the journal; Sage's refusals come back with its code; PULL_RECEIPTS pages acrpmt."""

from __future__ import annotations

import os
import time
from decimal import Decimal
from typing import Any

import pytest

from chalicelib.relay_protocol import Command, CommandType
from relay.sage.embedded import EmbeddedSage
from relay.sage.port import CONSTRAINT_FAILED, INVALID_REFERENCE
from tests.relay import test_sage_setup_records as records
from tests.relay.test_agent import Queues
from tests.relay.test_setup_commands import command, pull_command

# The cost code / phase tests' fixtures: an embedded Sage, moto's queues, agents on them.
sage, queues, make_agent = records.sage, records.queues, records.make_agent

KEYS = {"acrinv": "1", "invnum": "OI-001", "period": "2026-11"}


def invoice_payload(**overrides: Any) -> dict[str, Any]:
    return {"job": 24001, "invoice_number": "OI-001", "description": "Owner pay app 1",
            "invoice_date": "2026-11-30",
            "lines": [{"line_number": 1, "description": "Billed this period",
                       "cost_code": "3300.000", "amount": "120000.00",
                       "retention": "12000.00"}], **overrides}


def add_invoice(command_id: str = "cmd-oi-1", **overrides: Any) -> Command:
    return command(CommandType.ADD_RECEIVABLE_INVOICE, invoice_payload(**overrides),
                   command_id=command_id, item_id="owner_invoice-90")


def test_the_command_writes_acrinv_and_arivln_with_the_retention(
        queues: Queues, make_agent: Any, sage: EmbeddedSage) -> None:
    agent = make_agent(sage)
    queues.send(add_invoice())
    assert agent.poll_once() == 1
    [result], _ = queues.drain_results()
    assert result.ok and result.sage_keys == KEYS
    [written] = sage.receivable_invoices(24001)
    assert (written["invttl"], written["retain"], written["invnet"], written["period"]) == (
        Decimal("120000.00"), Decimal("12000.00"), Decimal("108000.00"), "2026-11")
    assert [(ln["cost_code"], ln["amount"]) for ln in written["lines"]] == [
        ("3300.000", Decimal("120000.00"))]


def test_no_retention_given_takes_the_jobs_rate(queues: Queues, make_agent: Any,
                                                sage: EmbeddedSage) -> None:
    agent = make_agent(sage)
    line = {**invoice_payload()["lines"][0], "retention": None}
    queues.send(add_invoice(lines=[line]))
    assert agent.poll_once() == 1
    [result], _ = queues.drain_results()
    assert result.ok, result.error
    rate = sage.job_contract(24001)["retention_rate"]  # type: ignore[index]
    [written] = sage.receivable_invoices(24001)
    assert written["retain"] == (Decimal("120000.00") * rate / 100).quantize(Decimal("0.01"))


def test_delivered_twice_is_written_once(queues: Queues, make_agent: Any,
                                         sage: EmbeddedSage) -> None:
    agent = make_agent(sage)
    queues.send(add_invoice(), dedup="delivery-1")
    queues.send(add_invoice(), dedup="delivery-2")
    assert agent.poll_once() == 2
    assert sage.count("acrinv") == 1 and sage.count("arivln") == 1
    results, _ = queues.drain_results()
    assert [(r.ok, r.sage_keys) for r in results] == [(True, KEYS)]


class _Crash(BaseException):
    """Stands in for os._exit."""


def test_a_crash_after_the_write_is_reconciled_not_written_again(
        queues: Queues, make_agent: Any, sage: EmbeddedSage,
        monkeypatch: pytest.MonkeyPatch) -> None:
    def fake_exit(code: int) -> None:
        raise _Crash(code)

    monkeypatch.setattr(os, "_exit", fake_exit)
    crashing = make_agent(sage, visibility_timeout=1)
    crashing._crash_after_sage_write = True
    queues.send(add_invoice())
    with pytest.raises(_Crash):
        crashing.poll_once()
    crashing.close()
    restarted = make_agent(sage)
    time.sleep(1.2)  # the message comes back after its visibility timeout
    assert restarted.poll_once() == 1
    results, _ = queues.drain_results()
    assert [(r.ok, r.sage_keys) for r in results] == [(True, KEYS)]
    assert sage.count("acrinv") == 1


def test_sages_refusals_come_back_with_its_code(queues: Queues, make_agent: Any,
                                                sage: EmbeddedSage) -> None:
    agent = make_agent(sage)
    queues.send(add_invoice())
    # the number again on other lines (another invoice): 14201; an unknown job: 12802
    queues.send(add_invoice("cmd-oi-2", invoice_date="2026-11-29"))
    assert agent.poll_once() == 2
    results, _ = queues.drain_results()
    queues.send(add_invoice("cmd-oi-3", job=99999, invoice_number="OI-009"))
    assert agent.poll_once() == 1
    results += queues.drain_results()[0]
    codes = {r.command_id: (r.ok, r.error.code if r.error else None) for r in results}
    assert codes == {"cmd-oi-1": (True, None), "cmd-oi-2": (False, CONSTRAINT_FAILED),
                     "cmd-oi-3": (False, INVALID_REFERENCE)}
    assert sage.count("acrinv") == 1


def test_receipts_are_pulled_with_their_invoice(queues: Queues, make_agent: Any,
                                                sage: EmbeddedSage) -> None:
    agent = make_agent(sage)
    queues.send(add_invoice())
    assert agent.poll_once() == 1
    queues.drain_results()
    sage.record_receipt(1, check_number="5521", date="2026-12-10", amount="108000.00")
    sage.record_receipt(1, check_number="5600", date="2027-02-01", amount="12000.00")
    queues.send(pull_command(CommandType.PULL_RECEIPTS, command_id="pull-r", page_size=1))
    assert agent.poll_once() == 1
    results, _ = queues.drain_results()
    rows = [row for r in results for row in r.data]
    # ordered by invoice, then by the receipt's id (a uniqueidentifier): compare as a set
    assert sorted((r["invoice"], r["check_number"], r["amount"]) for r in rows) == [
        (1, "5521", "108000.00"), (1, "5600", "12000.00")]
    assert all(r.ok for r in results) and not results[-1].more
    paid = [r for r in rows if r["invoice_balance"] == "0.00"]
    assert all(r["invoice_number"] == "OI-001" and r["job"] == 24001 for r in rows)
    assert paid == [] or paid[0]["invoice_status"] == 4
