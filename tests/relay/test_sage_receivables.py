"""The embedded Sage's accounts receivable (relay/sage/embedded/receivables.py): owner
invoices as acrinv + arivln, receipts in acrpmt, the reads the owner side needs; rules,
Sage's error codes, resends and exact totals."""

from __future__ import annotations

import dataclasses
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from relay.sage.embedded import EmbeddedSage
from relay.sage.embedded.receivables import ReceivableInvoice, ReceivableLine
from relay.sage.port import (
    CONSTRAINT_FAILED,
    DUPLICATE_KEY,
    INVALID_DATA,
    INVALID_REFERENCE,
    SageError,
)

TODAY = date(2025, 5, 20)  # the company's default periods: 2025, current period 5
D = Decimal
JOB = 24001


@pytest.fixture
def sage(tmp_path: Path) -> EmbeddedSage:
    db = EmbeddedSage(tmp_path / "sage.db", today=lambda: TODAY)
    db.init()
    db.seed_demo()
    with db._write() as conn:  # the job's contract as Sage holds it
        conn.execute("UPDATE actrec SET cntrct = ?, retain = ?, connum = ? WHERE recnum = ?",
                     ("950000.00", "10.00", "OC-24001", JOB))
    return db


def owner_invoice(**changes: object) -> ReceivableInvoice:
    """OI-001 on job 24001: 36,000.00 + 84,000.05 of work, retention from the job (10%)."""
    base = ReceivableInvoice(
        job=JOB, invoice_number="OI-001", description="Pay app 1 - April 2025",
        invoice_date=date(2025, 4, 30), due_date=date(2025, 5, 30),
        lines=(ReceivableLine(1, "General Conditions", "1100", "36000.00"),
               ReceivableLine(2, "Cast-in-Place Concrete", "3300.000", "84000.05")))
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def _code(call: object) -> int:
    with pytest.raises(SageError) as caught:
        call()  # type: ignore[operator]
    return caught.value.code


def test_an_owner_invoice_writes_acrinv_and_arivln_with_the_jobs_retention(
        sage: EmbeddedSage) -> None:
    keys = sage.add_receivable_invoice(owner_invoice())
    assert keys == {"acrinv": "1", "invnum": "OI-001", "period": "2025-04"}
    row = sage.rows("acrinv", {"recnum": 1})[0]
    # 3,600.00 + 8,400.005 -> 8,400.01 (half up): retention per line, then summed, exactly
    assert (row["invttl"], row["retain"], row["invnet"], row["invbal"]) == (
        D("120000.05"), D("12000.01"), D("108000.04"), D("120000.05"))
    assert (row["status"], row["invtyp"], row["actper"], row["postyr"], row["phsnum"]) == (
        1, 1, 4, 2025, 0)
    assert (row["invdte"], row["duedte"], row["amtpad"]) == (
        date(2025, 4, 30), date(2025, 5, 30), D("0.00"))
    lines = sage.rows("arivln", {"recnum": 1})
    assert [(r["linnum"], r["cstcde"], r["extprc"], r["_idref"]) for r in lines] == [
        (1, "1100.000", D("36000.00"), row["_idnum"]),
        (2, "3300.000", D("84000.05"), row["_idnum"])]
    assert all(isinstance(v, Decimal) for v in (row["invttl"], row["retain"]))


def test_a_lines_own_retention_wins_over_the_jobs_rate(sage: EmbeddedSage) -> None:
    lines = (ReceivableLine(1, "Concrete", "3300", "1000.00", retention="50.00"),
             ReceivableLine(2, "Electrical", "26000", "200.00", retention="0"))
    sage.add_receivable_invoice(owner_invoice(lines=lines))
    row = sage.rows("acrinv")[0]
    assert (row["invttl"], row["retain"], row["invnet"]) == (
        D("1200.00"), D("50.00"), D("1150.00"))


def test_a_resend_answers_the_same_keys_and_writes_nothing(sage: EmbeddedSage) -> None:
    first = sage.add_receivable_invoice(owner_invoice())
    again = sage.add_receivable_invoice(owner_invoice())
    assert again == first
    assert len(sage.rows("acrinv")) == 1 and len(sage.rows("arivln")) == 2
    assert sage.find_receivable_invoice(owner_invoice()) == first
    assert sage.find_receivable_invoice(owner_invoice(invoice_number="OI-999")) is None


def test_an_invoice_number_is_used_once_in_the_company(sage: EmbeddedSage) -> None:
    sage.add_receivable_invoice(owner_invoice())
    other = owner_invoice(invoice_number=" oi-001 ", lines=(
        ReceivableLine(1, "Other", "1100", "10.00"),))
    assert _code(lambda: sage.add_receivable_invoice(other)) == CONSTRAINT_FAILED
    assert _code(lambda: sage.add_receivable_invoice(owner_invoice(job=24002))) == (
        CONSTRAINT_FAILED)
    assert len(sage.rows("acrinv")) == 1


@pytest.mark.parametrize(("changes", "code"), [
    ({"job": 99999}, INVALID_REFERENCE),
    ({"phase": 9}, INVALID_REFERENCE),
    ({"lines": (ReceivableLine(1, "x", "4444", "1.00"),)}, INVALID_REFERENCE),
    ({"lines": (ReceivableLine(1, "x", "1100", "1.00"),
                ReceivableLine(1, "y", "3300", "1.00"))}, DUPLICATE_KEY),
    ({"lines": ()}, INVALID_DATA),
    ({"invoice_number": "  "}, INVALID_DATA),
    ({"invoice_number": "X" * 21}, INVALID_DATA),
    ({"description": "D" * 51}, INVALID_DATA),
    ({"lines": (ReceivableLine(1, "x", "1100", "1.005"),)}, INVALID_DATA),
    ({"lines": (ReceivableLine(1, "x", "1100", "10000000000.00"),)}, INVALID_DATA),
    ({"lines": (ReceivableLine(1, "x", "1100", "-5.00"),)}, INVALID_DATA),
    ({"lines": (ReceivableLine(1, "x", "1100", "5.00", retention="6.00"),)}, INVALID_DATA),
    ({"lines": (ReceivableLine(1, "x", "0100", "5.00"),)}, INVALID_DATA),
    ({"client_po": "P" * 21}, INVALID_DATA),
])
def test_refusals_carry_sages_codes_and_write_nothing(
        sage: EmbeddedSage, changes: dict[str, object], code: int) -> None:
    assert _code(lambda: sage.add_receivable_invoice(owner_invoice(**changes))) == code
    assert sage.rows("acrinv") == [] and sage.rows("arivln") == []


def test_the_invoice_date_must_be_in_an_open_period(sage: EmbeddedSage) -> None:
    sage.set_posting_periods(2025, 5, locked=[4])
    assert _code(lambda: sage.add_receivable_invoice(owner_invoice())) == INVALID_DATA
    keys = sage.add_receivable_invoice(owner_invoice(invoice_date=date(2025, 5, 2)))
    assert keys["period"] == "2025-05"


def test_a_phase_is_kept_when_the_job_has_it(sage: EmbeddedSage) -> None:
    sage.add_receivable_invoice(owner_invoice(phase=2, client_po="PO-77"))
    row = sage.rows("acrinv")[0]
    assert (row["phsnum"], row["pchord"]) == (2, "PO-77")


def test_receipts_follow_on_the_invoice_until_it_is_paid(sage: EmbeddedSage) -> None:
    recnum = int(sage.add_receivable_invoice(owner_invoice())["acrinv"])
    first = sage.record_receipt(recnum, check_number="4410", date="2025-05-15",
                                amount="108000.04")
    row = sage.rows("acrinv", {"recnum": recnum})[0]
    assert (row["amtpad"], row["ttlpad"], row["invbal"], row["status"]) == (
        D("108000.04"), D("108000.04"), D("12000.01"), 1)
    # the same receipt again is a resend: same id, nothing written
    assert sage.record_receipt(recnum, check_number="4410", date=date(2025, 5, 15),
                               amount=D("108000.04")) == first
    assert len(sage.rows("acrpmt")) == 1
    sage.record_receipt(recnum, check_number="4588", date="2025-09-01", amount="12000.01")
    row = sage.rows("acrinv", {"recnum": recnum})[0]
    assert (row["invbal"], row["status"]) == (D("0.00"), 4)
    listed = sage.receipts(JOB)
    assert [(r["check_number"], r["amount"], r["invoice_paid"]) for r in listed] == [
        ("4410", D("108000.04"), True), ("4588", D("12000.01"), True)]
    payment = sage.rows("acrpmt")[0]
    assert (payment["_idref"], payment["recnum"], payment["chkdte"]) == (
        row["_idnum"], recnum, date(2025, 5, 15))


@pytest.mark.parametrize(("invoice", "amount", "check", "when", "code"), [
    (99, "1.00", "1", "2025-05-01", INVALID_REFERENCE),
    (1, "0", "1", "2025-05-01", INVALID_DATA),
    (1, "120000.06", "1", "2025-05-01", INVALID_DATA),
    (1, "1.001", "1", "2025-05-01", INVALID_DATA),
    (1, "1.00", "C" * 21, "2025-05-01", INVALID_DATA),
    (1, "1.00", "1", "May 1", INVALID_DATA),
])
def test_receipt_refusals(sage: EmbeddedSage, invoice: int, amount: str, check: str,
                          when: str, code: int) -> None:
    sage.add_receivable_invoice(owner_invoice())
    assert _code(lambda: sage.record_receipt(invoice, check_number=check, date=when,
                                             amount=amount)) == code
    assert sage.rows("acrpmt") == []


def test_a_void_invoice_takes_no_receipt(sage: EmbeddedSage) -> None:
    sage.add_receivable_invoice(owner_invoice())
    with sage._write() as conn:
        conn.execute("UPDATE acrinv SET status = 5 WHERE recnum = 1")
    assert _code(lambda: sage.record_receipt(1, check_number="1", date="2025-05-01",
                                             amount="1.00")) == INVALID_DATA


def test_reads_of_the_jobs_contract_and_invoices(sage: EmbeddedSage) -> None:
    assert sage.job_contract(JOB) == {
        "job": JOB, "name": "Riverside Medical Office Building", "status": 4,
        "contract": D("950000.00"), "retention_rate": D("10.00"),
        "contract_number": "OC-24001", "client_po": ""}
    assert sage.job_contract(99999) is None
    sage.add_receivable_invoice(owner_invoice())
    [invoice] = sage.receivable_invoices(JOB)
    assert (invoice["invnum"], invoice["invttl"], invoice["retain"], invoice["period"]) == (
        "OI-001", D("120000.05"), D("12000.01"), "2025-04")
    assert [(li["line"], li["cost_code"], li["amount"]) for li in invoice["lines"]] == [
        (1, "1100.000", D("36000.00")), (2, "3300.000", D("84000.05"))]
    assert sage.receivable_invoices(24002) == [] and sage.receipts(JOB) == []
