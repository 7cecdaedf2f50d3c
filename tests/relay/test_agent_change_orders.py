"""The agent with commitment change orders: ADD_SUBCONTRACT_CHANGE_ORDER and
APPEND_PURCHASE_ORDER_LINES from the command queue to the embedded Sage and back as
results, Sage's refusals, and reconciliation after a retry or a crash (a change order adds
amounts: it must never be applied twice).

SQS is moto (test_agent.py's queues and agent factory); Sage is the real embedded one.
"""

from __future__ import annotations

import os
import sqlite3
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import URL

from chalicelib.relay_protocol import (
    Command,
    CommandType,
    PurchaseOrderChangePayload,
    PurchaseOrderPayload,
    SubcontractChangeOrderPayload,
    SubcontractPayload,
)
from relay.sage.embedded import EmbeddedSage
from relay.sage.port import (
    INVALID_DATA,
    INVALID_REFERENCE,
    SECURITY_DENIED,
    UNAVAILABLE,
    SageError,
)
from tests.relay import test_agent
from tests.relay.test_agent import COMPANY_ID, Queues

# test_agent.py's fixtures (the moto queues, an agent factory); pytest finds them by name.
queues = test_agent.queues
make_agent = test_agent.make_agent

SUB_CCO = {"job": 24001, "subcontract": 1, "subcontract_number": "SC-100", "vendor": 3001,
           "reference": "CCO 12 #001", "description": "CCO 12 #001 Added rebar",
           "change_date": "2025-05-02", "lines": [
               {"subcontract_line": 1, "description": "More rebar", "cost_code": "3300.000",
                "cost_type": 4, "amount": "250.00"},
               {"description": "Embeds", "cost_code": "5120.000", "cost_type": 4,
                "amount": "100.00"}]}
PO_CCO = {"job": 24001, "order": 1, "number": "PO-7", "reference": "CCO 15 #001", "lines": [
    {"description": "CCO 15 #001 Extra beams", "quantity": "3", "unit_price": "50",
     "amount": "150.00", "cost_code": "5120.000", "cost_type": 1}]}


class CommitThenTimeout(EmbeddedSage):
    """An embedded Sage whose first change order commits, then reports a retryable timeout
    (the answer lost on the way back: Sage has it, the agent does not know)."""

    timeouts = 1

    def add_subcontract_change_order(
            self, payload: SubcontractChangeOrderPayload) -> dict[str, str]:
        keys = super().add_subcontract_change_order(payload)
        return self._lost(keys)

    def append_purchase_order_lines(self, payload: PurchaseOrderChangePayload
                                    ) -> dict[str, str]:
        keys = super().append_purchase_order_lines(payload)
        return self._lost(keys)

    def _lost(self, keys: dict[str, str]) -> dict[str, str]:
        if self.timeouts:
            self.timeouts -= 1
            raise SageError(UNAVAILABLE, "The company database did not answer in time",
                            retryable=True)
        return keys


def company(sage: EmbeddedSage) -> EmbeddedSage:
    """The demo company with subcontract 1 SC-100 (1500.00) and PO 1 PO-7 (200.00)."""
    sage.init()
    sage.seed_demo()
    sage.add_subcontract(SubcontractPayload.model_validate({
        "job": 24001, "vendor": 3001, "number": "SC-100", "description": "Concrete",
        "lines": [
            {"line_number": 1, "description": "Footings", "cost_code": "3300.000",
             "cost_type": 4, "amount": "1000.00"},
            {"line_number": 2, "description": "Slab", "cost_code": "3300.000",
             "cost_type": 1, "amount": "500.00"}]}))
    sage.add_purchase_order(PurchaseOrderPayload.model_validate({
        "job": 24001, "vendor": 3003, "number": "PO-7", "description": "Steel",
        "lines": [{"line_number": 1, "description": "Beams", "quantity": "2",
                   "unit_price": "100", "amount": "200.00", "cost_code": "5120.000",
                   "cost_type": 1}]}))
    return sage


@pytest.fixture
def sage(tmp_path: Path) -> EmbeddedSage:
    return company(EmbeddedSage(tmp_path / "sage.sqlite3"))


def sub_cco(body: dict[str, Any] | None = None, command_id: str = "cmd-cco-1") -> Command:
    return Command(command_id=command_id, company_id=COMPANY_ID,
                   type=CommandType.ADD_SUBCONTRACT_CHANGE_ORDER, item_id="cco:12:1",
                   export_version=1, payload=body or SUB_CCO,
                   issued_at="2025-05-02T10:00:00Z")


def po_cco(body: dict[str, Any] | None = None, command_id: str = "cmd-cco-2") -> Command:
    return Command(command_id=command_id, company_id=COMPANY_ID,
                   type=CommandType.APPEND_PURCHASE_ORDER_LINES, item_id="cco:15:1",
                   export_version=1, payload=body or PO_CCO,
                   issued_at="2025-05-02T10:00:00Z")


def subcontract_totals(sage: EmbeddedSage) -> tuple[Decimal, Decimal, Decimal]:
    row = sage.subcontract(1)
    return row["chgttl"], row["ctcttl"], row["balttl"]


def test_change_order_commands_land_in_sage_and_report_their_keys(
        queues: Queues, make_agent: Any, sage: EmbeddedSage) -> None:
    queues.send(sub_cco())
    queues.send(sub_cco(dict(SUB_CCO, reference="CCO 13 #002",
                             description="CCO 13 #002 Pump"), command_id="cmd-cco-3"))
    queues.send(po_cco())

    make_agent(sage).poll_once()

    results, _ = queues.drain_results()
    assert sorted((r.command_id, r.ok, tuple(sorted(r.sage_keys.items())))
                  for r in results) == [
        ("cmd-cco-1", True, (("chgnum", "1"), ("joined", "false"), ("prmchg", "1"),
                              ("subcon", "1"))),
        ("cmd-cco-2", True, (("lines", "2-2"), ("pchord", "1"))),
        ("cmd-cco-3", True, (("chgnum", "2"), ("joined", "false"), ("prmchg", "2"),
                              ("subcon", "1")))]
    assert subcontract_totals(sage) == (Decimal("700.00"), Decimal("2200.00"),
                                        Decimal("2200.00"))
    assert [line["linnum"] for line in sage.subcontract(1)["lines"]] == [1, 2, 3, 4]
    assert sage.purchase_order(1)["pchttl"] == Decimal("350.00")
    assert queues.depth(queues.commands) == 0


@pytest.mark.parametrize(("command", "code", "message"), [
    (sub_cco(dict(SUB_CCO, subcontract_number="SC-101")), INVALID_REFERENCE,
     "Invalid object reference: subcontract 1 is number 'SC-100' in Sage, not 'SC-101': the "
     "change order names another subcontract (subcon.ctcnum)"),
    (sub_cco(dict(SUB_CCO, lines=[dict(SUB_CCO["lines"][0], subcontract_line=7)])),
     INVALID_REFERENCE,
     "Invalid object reference: line 1 changes line 7 of subcontract 1 SC-100, which Sage "
     "does not have (sbcnln.linnum)"),
    (po_cco(dict(PO_CCO, order=1, number="PO-8")), INVALID_REFERENCE,
     "Invalid object reference: purchase order 1 is number 'PO-7' in Sage, not 'PO-8': the "
     "change order names another purchase order (pchord.ordnum)"),
    (po_cco(dict(PO_CCO, lines=[dict(PO_CCO["lines"][0], description="Extra beams")])),
     INVALID_DATA,
     "Invalid data: line 1 description 'Extra beams' does not start with its Procore "
     "reference 'CCO 15 #001' (pcorln.prtdsc); the connector puts the reference first so "
     "the change is never written twice"),
], ids=["sub-number", "sub-line", "po-number", "po-reference"])
def test_a_refused_change_order_is_a_result_with_sages_code_and_message(
        queues: Queues, make_agent: Any, sage: EmbeddedSage, command: Command, code: int,
        message: str) -> None:
    sleeps: list[float] = []
    queues.send(command)

    make_agent(sage, sleeps=sleeps).poll_once()

    results, _ = queues.drain_results()
    error = results[0].error
    assert not results[0].ok and error is not None
    assert (error.code, error.message, error.retryable, results[0].attempts) == (
        code, message, False, 1)
    assert sleeps == [] and queues.depth(queues.commands) == 0
    assert (sage.count("prmchg"), sage.count("pcorln")) == (0, 1)


def test_a_closed_subcontract_is_refused(make_agent: Any, sage: EmbeddedSage) -> None:
    with sqlite3.connect(sage.path) as conn:  # closed in Sage meanwhile
        conn.execute("UPDATE subcon SET status = 6 WHERE recnum = 1")
    result = make_agent(sage).handle(sub_cco())
    assert not result.ok and result.error is not None
    assert result.error.code == INVALID_DATA
    assert "is Closed in Sage (subcon.status 6)" in result.error.message


@pytest.mark.parametrize(("command", "keys"), [
    (sub_cco(), {"prmchg": "1", "chgnum": "1", "subcon": "1", "joined": "false"}),
    (po_cco(), {"pchord": "1", "lines": "2-2"}),
], ids=["subcontract", "purchase-order"])
def test_a_change_committed_before_a_timeout_is_found_on_the_retry(
        make_agent: Any, tmp_path: Path, command: Command, keys: dict[str, str]) -> None:
    # The first attempt commits and then times out (retryable); the retry looks Sage up
    # first and finds the change order instead of adding its amounts a second time.
    sage = company(CommitThenTimeout(tmp_path / "sage.sqlite3"))
    sleeps: list[float] = []

    result = make_agent(sage, sleeps=sleeps).handle(command)

    assert result.ok and result.sage_keys == keys
    assert result.attempts == 2 and sleeps == [0.5]
    assert (sage.count("prmchg"), sage.count("pcorln")) == (
        (1, 1) if command.type is CommandType.ADD_SUBCONTRACT_CHANGE_ORDER else (0, 2))
    assert subcontract_totals(sage)[0] == (
        Decimal("350.00") if command.type is CommandType.ADD_SUBCONTRACT_CHANGE_ORDER
        else Decimal("0.00"))
    assert sage.purchase_order(1)["pchttl"] == (
        Decimal("200.00") if command.type is CommandType.ADD_SUBCONTRACT_CHANGE_ORDER
        else Decimal("350.00"))


class _Crash(BaseException):
    """Stands in for os._exit: unwinds the test instead of killing pytest."""


@pytest.mark.parametrize("command", [sub_cco(), po_cco()], ids=["subcontract", "po"])
def test_a_change_order_written_before_a_crash_is_reconciled_not_written_again(
        queues: Queues, make_agent: Any, sage: EmbeddedSage,
        monkeypatch: pytest.MonkeyPatch, command: Command) -> None:
    def fake_exit(code: int) -> None:
        raise _Crash(code)

    monkeypatch.setattr(os, "_exit", fake_exit)
    crashing = make_agent(sage, visibility_timeout=1)
    crashing._crash_after_sage_write = True
    queues.send(command)
    with pytest.raises(_Crash):
        crashing.poll_once()
    crashing.close()
    written = [sage.rows(table) for table in ("prmchg", "sbcgln", "subcon", "sbcnln",
                                              "pchord", "pcorln")]

    restarted = make_agent(sage)
    time.sleep(1.2)  # the visibility timeout runs out: SQS delivers the same message again
    assert restarted.poll_once() == 1

    results, _ = queues.drain_results()
    expected = ({"prmchg": "1", "chgnum": "1", "subcon": "1", "joined": "false"}
                if command.type is CommandType.ADD_SUBCONTRACT_CHANGE_ORDER
                else {"pchord": "1", "lines": "2-2"})
    assert [(r.command_id, r.ok, r.sage_keys) for r in results] == [
        (command.command_id, True, expected)]
    assert [sage.rows(table) for table in ("prmchg", "sbcgln", "subcon", "sbcnln", "pchord",
                                           "pcorln")] == written  # nothing added twice
    assert queues.depth(queues.commands) == 0


@pytest.mark.parametrize("command", [sub_cco(), po_cco()], ids=["subcontract", "po"])
def test_change_orders_are_never_written_to_a_configured_sage_database(
        make_agent: Any, sage: EmbeddedSage, tmp_path: Path, command: Command) -> None:
    real = company(EmbeddedSage(tmp_path / "real.sqlite3"))
    url = URL.create("sqlite", database=str(real.path)).render_as_string()

    result = make_agent(sage, sage_database_url=url).handle(command)

    assert not result.ok and result.error is not None
    assert (result.error.code, result.error.retryable) == (SECURITY_DENIED, False)
    assert result.error.message.startswith(f"{command.type.value} refused: this agent reads "
                                           "a real Sage company database")
    assert (sage.count("prmchg"), real.count("prmchg")) == (0, 0)
    assert (sage.count("pcorln"), real.count("pcorln")) == (1, 1)
