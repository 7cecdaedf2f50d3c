"""Subcontractor invoices in the embedded Sage's accounts payable: acpinv + apivln + the
job cost distribution (jobcst), the subcontract's billed amounts following, the company's
posting periods, the refusals and the reconciliation look-up."""

from __future__ import annotations

import sqlite3
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from chalicelib.relay_protocol import PayableInvoicePayload, SubcontractPayload
from relay.sage.__main__ import main
from relay.sage.embedded import EmbeddedSage, payables
from relay.sage.embedded.posting import PostingPeriods
from relay.sage.embedded.rules import _invalid
from relay.sage.port import (
    CONSTRAINT_FAILED,
    DUPLICATE_KEY,
    INVALID_DATA,
    INVALID_REFERENCE,
    SageError,
)

D = Decimal
TODAY = date(2025, 5, 20)  # the company's default periods: 2025, current period 5


@pytest.fixture
def sage(tmp_path: Path) -> EmbeddedSage:
    db = EmbeddedSage(tmp_path / "sage.db", today=lambda: TODAY)
    db.init()
    db.seed_demo()
    return db


@pytest.fixture
def subcon(sage: EmbeddedSage) -> int:
    """Subcontract SC-100 on job 24001 with vendor 3001: two lines, 1500.00."""
    keys = sage.add_subcontract(SubcontractPayload.model_validate({
        "job": 24001, "vendor": 3001, "number": "SC-100", "description": "Concrete",
        "retention_rate": "10",
        "lines": [
            {"line_number": 1, "description": "Footings", "cost_code": "3300.000",
             "cost_type": 4, "amount": "1000.00"},
            {"line_number": 2, "description": "Slab", "cost_code": "3300.000",
             "cost_type": 1, "amount": "500.00"}]}))
    return int(keys["subcon"])


def invoice(subcontract: int = 1, **fields: Any) -> PayableInvoicePayload:
    body: dict[str, Any] = {
        "job": 24001, "vendor": 3001, "subcontract": subcontract,
        "subcontract_number": "SC-100", "invoice_number": "INV-1042",
        "description": "Pay app 3 March", "invoice_date": "2025-03-31",
        "due_date": "2025-04-30",
        "lines": [
            {"line_number": 1, "subcontract_line": 1, "description": "Footings 40%",
             "cost_code": "3300.000", "cost_type": 4, "amount": "400.00",
             "retention": "40.00"},
            {"line_number": 2, "subcontract_line": 2, "description": "Slab 20%",
             "cost_code": "3300.000", "cost_type": 1, "amount": "100.00",
             "retention": "10.00"}]}
    body.update(fields)
    return PayableInvoicePayload.model_validate(body)


def written(sage: EmbeddedSage) -> list[list[dict[str, Any]]]:
    return [sage.rows(table) for table in ("acpinv", "apivln", "jobcst", "subcon", "sbcnln")]


def billed(sage: EmbeddedSage, record: int = 1) -> list[tuple[Decimal, Decimal]]:
    return [(line["billed"], line["remain"]) for line in sage.subcontract(record)["lines"]]


# ---- what Sage gets ------------------------------------------------------------------------


def test_an_invoice_writes_acpinv_apivln_and_the_job_cost_distribution(
        sage: EmbeddedSage, subcon: int) -> None:
    keys = sage.add_payable_invoice(invoice(subcon))

    assert keys == {"acpinv": "1", "invnum": "INV-1042", "period": "2025-03"}
    [header] = sage.rows("acpinv")
    assert {name: header[name] for name in (
        "recnum", "invnum", "vndnum", "jobnum", "phsnum", "pchord", "ctcnum", "dscrpt",
        "invdte", "duedte", "invtyp", "status", "invttl", "retain", "setpay", "amtpad",
        "ttlpad", "invbal", "actper", "postyr", "insusr")} == {
        "recnum": 1, "invnum": "INV-1042", "vndnum": 3001, "jobnum": 24001, "phsnum": 0,
        "pchord": "", "ctcnum": "SC-100", "dscrpt": "Pay app 3 March",
        "invdte": date(2025, 3, 31), "duedte": date(2025, 4, 30), "invtyp": 1, "status": 1,
        "invttl": D("500.00"), "retain": D("50.00"), "setpay": D("0.00"),
        "amtpad": D("0.00"), "ttlpad": D("0.00"), "invbal": D("500.00"), "actper": 3,
        "postyr": 2025, "insusr": "relay"}
    assert [(r["_idref"], r["recnum"], r["linnum"], r["prtdsc"], r["linqty"], r["linprc"],
             r["extttl"], r["actnum"], r["subact"]) for r in sage.rows("apivln")] == [
        (header["_idnum"], 1, 1, "Footings 40%", D("1.0000"), D("400.0000"), D("400.00"),
         None, None),
        (header["_idnum"], 1, 2, "Slab 20%", D("1.0000"), D("100.0000"), D("100.00"),
         None, None)]
    assert [(r["recnum"], r["jobnum"], r["phsnum"], r["trnnum"], r["trndte"], r["entdte"],
             r["dscrpt"], r["cstcde"], r["csttyp"], r["cstamt"], r["vndnum"], r["srcnum"],
             r["actprd"], r["postyr"], r["status"]) for r in sage.rows("jobcst")] == [
        (1, 24001, 0, "INV-1042", date(2025, 3, 31), TODAY, "Footings 40%", "3300.000", 4,
         D("400.00"), 3001, 11, 3, 2025, 1),
        (2, 24001, 0, "INV-1042", date(2025, 3, 31), TODAY, "Slab 20%", "3300.000", 1,
         D("100.00"), 3001, 11, 3, 2025, 1)]
    assert sum(r["cstamt"] for r in sage.rows("jobcst")) == header["invttl"]
    assert sage.rows("source", {"recnum": 11})[0]["srcnme"] == "Accounts Payable"


def test_the_subcontract_billed_and_remaining_follow_each_invoice(
        sage: EmbeddedSage, subcon: int) -> None:
    sage.add_payable_invoice(invoice(subcon))
    assert billed(sage) == [(D("400.00"), D("600.00")), (D("100.00"), D("400.00"))]
    row = sage.subcontract(subcon)
    assert (row["ctcttl"], row["invttl"], row["balttl"]) == (
        D("1500.00"), D("500.00"), D("1000.00"))

    # The next pay application bills line 1 twice (two Procore lines on one Sage line).
    sage.add_payable_invoice(invoice(subcon, invoice_number="INV-1043",
                                     invoice_date="2025-04-30", lines=[
        {"line_number": 1, "subcontract_line": 1, "description": "Footings", "cost_code":
         "3300.000", "cost_type": 4, "amount": "300.00", "retention": "30.00"},
        {"line_number": 2, "subcontract_line": 1, "description": "Footings extra",
         "cost_code": "3300.000", "cost_type": 4, "amount": "50.00"}]))
    assert billed(sage) == [(D("750.00"), D("250.00")), (D("100.00"), D("400.00"))]
    row = sage.subcontract(subcon)
    assert (row["cntttl"], row["invttl"], row["balttl"]) == (
        D("1500.00"), D("850.00"), D("650.00"))
    assert [(r["invnum"], r["retain"], r["actper"]) for r in sage.rows("acpinv")] == [
        ("INV-1042", D("50.00"), 3), ("INV-1043", D("30.00"), 4)]


def test_retention_is_the_sum_of_the_lines_and_may_be_none(
        sage: EmbeddedSage, subcon: int) -> None:
    lines = [dict(line, retention="0") for line in invoice(subcon).model_dump()["lines"]]
    sage.add_payable_invoice(invoice(subcon, lines=lines))
    assert [(r["invttl"], r["retain"], r["invbal"]) for r in sage.rows("acpinv")] == [
        (D("500.00"), D("0.00"), D("500.00"))]


def test_billing_past_the_contract_is_recorded(sage: EmbeddedSage, subcon: int) -> None:
    sage.add_payable_invoice(invoice(subcon, lines=[
        {"line_number": 1, "subcontract_line": 2, "description": "Slab", "cost_code":
         "3300.000", "cost_type": 1, "amount": "650.00"}]))
    assert billed(sage)[1] == (D("650.00"), D("-150.00"))


def test_the_check_distribution_rule_is_applied(
        sage: EmbeddedSage, subcon: int, monkeypatch: pytest.MonkeyPatch) -> None:
    # The payload makes one jobcst row per line, so the distribution always equals the
    # ledger total; the write still asks posting.check_distribution, and its refusal
    # leaves nothing written.
    calls: list[tuple[Decimal, list[Decimal]]] = []

    def spy(ledger: Decimal, distribution: list[Decimal]) -> Decimal:
        calls.append((ledger, list(distribution)))
        raise _invalid("the job cost distribution totals 499.99, the ledger total is 500.00")

    before = written(sage)
    monkeypatch.setattr(payables, "check_distribution", spy)
    with pytest.raises(SageError) as refused:
        sage.add_payable_invoice(invoice(subcon))
    assert calls == [(D("500.00"), [D("400.00"), D("100.00")])]
    assert refused.value.code == INVALID_DATA
    assert written(sage) == before


# ---- posting periods -----------------------------------------------------------------------


def test_the_period_comes_from_the_invoice_date(sage: EmbeddedSage, subcon: int) -> None:
    assert sage.posting_periods() == PostingPeriods(year=2025, current=5)
    keys = sage.add_payable_invoice(invoice(subcon, invoice_date="2025-01-15"))
    assert keys["period"] == "2025-01"
    [row] = sage.rows("jobcst", {"csttyp": 4})
    assert (row["actprd"], row["postyr"]) == (1, 2025)

    with pytest.raises(SageError) as refused:  # last year: not an open period
        sage.add_payable_invoice(invoice(subcon, invoice_number="INV-2",
                                         invoice_date="2024-12-31"))
    assert refused.value.code == INVALID_DATA
    assert refused.value.message == (
        "Invalid data: date 2024-12-31 is not in an open posting period (open: periods 1-12 "
        "of 2025); invoice INV-2 of vendor 3001 cannot be posted there (acpinv.invdte): date "
        "it in an open period or have the period unlocked in Sage")

    sage.set_posting_periods(2025, 12)  # December: next year's period 1 opens
    keys = sage.add_payable_invoice(invoice(subcon, invoice_number="INV-3",
                                            invoice_date="2026-01-05"))
    assert keys == {"acpinv": "2", "invnum": "INV-3", "period": "2026-01"}


def test_a_locked_period_is_refused_then_accepted_once_unlocked(
        sage: EmbeddedSage, subcon: int) -> None:
    sage.lock_posting_period(3)
    assert sage.posting_periods().locked == frozenset({3})
    before = written(sage)

    with pytest.raises(SageError) as refused:
        sage.add_payable_invoice(invoice(subcon))
    assert refused.value.code == INVALID_DATA and not refused.value.retryable
    assert refused.value.message == (
        "Invalid data: date 2025-03-31 falls in period 3 of 2025, which is locked; invoice "
        "INV-1042 of vendor 3001 cannot be posted there (acpinv.invdte): date it in an open "
        "period or have the period unlocked in Sage")
    assert written(sage) == before  # nothing: no header, line, job cost or billed amount

    sage.unlock_posting_period(3)
    assert sage.add_payable_invoice(invoice(subcon))["period"] == "2025-03"


def test_nothing_dated_before_the_lock_date_posts(sage: EmbeddedSage, subcon: int) -> None:
    sage.set_posting_periods(2025, 5, lock_date=date(2025, 4, 1))
    with pytest.raises(SageError, match="before the lock date 2025-04-01") as refused:
        sage.add_payable_invoice(invoice(subcon))
    assert refused.value.code == INVALID_DATA
    assert sage.add_payable_invoice(invoice(subcon, invoice_date="2025-04-01"))[
        "period"] == "2025-04"


def test_posting_periods_live_in_the_company_file(sage: EmbeddedSage) -> None:
    stored = sage.set_posting_periods(2024, 11, locked=[1, 2, 2], lock_date=date(2024, 3, 1))
    assert stored == PostingPeriods(year=2024, current=11, locked=frozenset({1, 2}),
                                    lock_date=date(2024, 3, 1))
    other = EmbeddedSage(sage.path)  # another process (a test, the CLI) sees them
    assert other.posting_periods() == stored
    assert "_posting" not in sage.tables()  # the stand-in's own table, no Sage table
    with pytest.raises(ValueError, match="current period 11 cannot be locked"):
        sage.lock_posting_period(11)
    with pytest.raises(ValueError, match="not 1-12"):
        sage.set_posting_periods(2024, 13)
    assert sage.posting_periods() == stored  # a refused setting changes nothing
    assert sage.reset_posting_periods() == PostingPeriods(year=2025, current=5)


# ---- duplicates ----------------------------------------------------------------------------


def test_an_invoice_number_the_vendor_used_is_refused(sage: EmbeddedSage, subcon: int) -> None:
    sage.add_payable_invoice(invoice(subcon))
    before = written(sage)

    with pytest.raises(SageError) as refused:  # trimmed and case-insensitive, as Sage
        sage.add_payable_invoice(invoice(subcon, invoice_number=" inv-1042 ",
                                         invoice_date="2025-04-30"))
    assert refused.value.code == CONSTRAINT_FAILED
    assert refused.value.message == (
        "Failed coded constraint: vendor 3001 Granite Bay Concrete already has an invoice "
        "number inv-1042 (payable invoice 1, dated 2025-03-31); an invoice number is used "
        "once per vendor unless the vendor allows duplicate invoice numbers "
        "(acpinv.invnum, actpay.dupchk)")
    assert written(sage) == before


def test_another_vendor_may_use_the_same_number(sage: EmbeddedSage, subcon: int) -> None:
    sage.add_payable_invoice(invoice(subcon))
    other = sage.add_subcontract(SubcontractPayload.model_validate({
        "job": 24001, "vendor": 3002, "number": "SC-200", "description": "Electrical",
        "lines": [{"line_number": 1, "description": "Rough-in", "cost_code": "26000.000",
                   "cost_type": 4, "amount": "800.00"}]}))
    keys = sage.add_payable_invoice(invoice(
        int(other["subcon"]), vendor=3002, subcontract_number="SC-200", lines=[
            {"line_number": 1, "subcontract_line": 1, "description": "Rough-in",
             "cost_code": "26000.000", "cost_type": 4, "amount": "200.00"}]))
    assert keys["acpinv"] == "2" and keys["invnum"] == "INV-1042"


def test_a_vendor_that_allows_duplicates_takes_the_number_again(
        sage: EmbeddedSage, subcon: int) -> None:
    with sqlite3.connect(sage.path) as conn:  # Sage: the vendor's "allow duplicates"
        conn.execute("UPDATE actpay SET dupchk = 1 WHERE recnum = 3001")
    sage.add_payable_invoice(invoice(subcon))
    keys = sage.add_payable_invoice(invoice(subcon, invoice_date="2025-04-30"))
    assert keys == {"acpinv": "2", "invnum": "INV-1042", "period": "2025-04"}
    assert sage.subcontract(subcon)["invttl"] == D("1000.00")


# ---- refusals ------------------------------------------------------------------------------


@pytest.mark.parametrize(("fields", "code", "message"), [
    ({"job": 99999}, INVALID_REFERENCE,
     "Invalid object reference: job 99999 does not exist (actrec.recnum)"),
    ({"vendor": 9999}, INVALID_REFERENCE,
     "Invalid object reference: vendor 9999 does not exist (actpay.recnum)"),
    ({"vendor": 3004}, INVALID_DATA,
     "Invalid data: vendor 3004 Retired Vendor LLC is inactive (actpay.inactv); reactivate "
     "the vendor or choose another"),
    ({"vendor": 3002}, INVALID_REFERENCE,
     "Invalid object reference: subcontract 1 SC-100 is with vendor 3001 in Sage, not "
     "vendor 3002: the invoice is from another vendor than the subcontractor "
     "(subcon.vndnum)"),
    ({"subcontract": 7}, INVALID_REFERENCE,
     "Invalid object reference: subcontract 7 does not exist on job 24001 (subcon.recnum)"),
    ({"job": 24002}, INVALID_REFERENCE,
     "Invalid object reference: subcontract 1 does not exist on job 24002 (subcon.recnum)"),
    ({"subcontract_number": "SC-101"}, INVALID_REFERENCE,
     "Invalid object reference: subcontract 1 is number 'SC-100' in Sage, not 'SC-101': "
     "the invoice names another subcontract (subcon.ctcnum)"),
    ({"lines": [{"line_number": 1, "subcontract_line": 3, "description": "Curbs",
                 "cost_code": "3300.000", "cost_type": 4, "amount": "10.00"}]},
     INVALID_REFERENCE,
     "Invalid object reference: invoice line 1 bills line 3 of subcontract 1 SC-100, which "
     "Sage does not have (sbcnln.linnum)"),
    ({"lines": [{"line_number": 1, "subcontract_line": 2, "description": "Slab",
                 "cost_code": "3300.000", "cost_type": 4, "amount": "10.00"}]},
     INVALID_REFERENCE,
     "Invalid object reference: invoice line 1 bills line 2 of subcontract 1 SC-100 as "
     "cost code 3300.000 type 4, but that line is cost code 3300.000 type 1 in Sage "
     "(sbcnln.cstcde, sbcnln.csttyp)"),
    ({"lines": [{"line_number": 1, "subcontract_line": 1, "description": "A",
                 "cost_code": "3300.000", "cost_type": 4, "amount": "10.00"},
                {"line_number": 1, "subcontract_line": 1, "description": "B",
                 "cost_code": "3300.000", "cost_type": 4, "amount": "10.00"}]},
     DUPLICATE_KEY, "Duplicate key: line 1 appears twice (apivln.linnum)"),
    ({"lines": [{"line_number": 1, "subcontract_line": 1, "description": "Footings",
                 "cost_code": "3300.000", "cost_type": 4, "amount": "10.00",
                 "retention": "11.00"}]}, INVALID_DATA,
     "Invalid data: line 1 withholds 11.00 retention on 10.00 of work; retention is part of "
     "the amount billed, so it cannot be larger than the amount or of the other sign "
     "(acpinv.retain)"),
    ({"lines": [{"line_number": 1, "subcontract_line": 1, "description": "Footings",
                 "cost_code": "3300.000", "cost_type": 4, "amount": "10.005"}]},
     INVALID_DATA,
     "Invalid data: line 1 amount 10.005 has more than 2 decimal places (apivln.extttl "
     "decimal(12,2))"),
    ({"lines": [{"line_number": 1, "subcontract_line": 1, "description": "Back charge",
                 "cost_code": "3300.000", "cost_type": 4, "amount": "-10.00"}]},
     INVALID_DATA,
     "Invalid data: invoice INV-1042 totals -10.00; a subcontractor invoice cannot be "
     "negative (acpinv.invttl): enter a credit in Sage"),
    ({"invoice_number": "  "}, INVALID_DATA,
     "Invalid data: invoice number is blank; acpinv.invnum is required"),
], ids=["job", "vendor", "inactive-vendor", "other-vendor", "subcontract", "other-job",
        "number", "sub-line", "cost-type", "line-twice", "retention", "decimals",
        "negative", "blank-number"])
def test_a_refused_invoice_writes_nothing(sage: EmbeddedSage, subcon: int,
                                          fields: dict[str, Any], code: int,
                                          message: str) -> None:
    before = written(sage)
    with pytest.raises(SageError) as refused:
        sage.add_payable_invoice(invoice(**{"subcontract": subcon, **fields}))
    assert (refused.value.code, refused.value.message, refused.value.retryable) == (
        code, message, False)
    assert written(sage) == before


def test_a_closed_subcontract_takes_no_invoice(sage: EmbeddedSage, subcon: int) -> None:
    with sqlite3.connect(sage.path) as conn:
        conn.execute("UPDATE subcon SET status = 6 WHERE recnum = 1")
    with pytest.raises(SageError) as refused:
        sage.add_payable_invoice(invoice(subcon))
    assert refused.value.code == INVALID_DATA
    assert refused.value.message == (
        "Invalid data: subcontract 1 SC-100 is Closed in Sage (subcon.status 6) and takes "
        "no invoices; reopen it in Sage first")
    assert sage.count("acpinv") == 0


def test_a_phased_subcontract_costs_its_phase(sage: EmbeddedSage) -> None:
    keys = sage.add_subcontract(SubcontractPayload.model_validate({
        "job": 24001, "phase": 2, "vendor": 3003, "number": "SC-300",
        "description": "Steel", "lines": [
            {"line_number": 1, "description": "Erect", "cost_code": "5120.000",
             "cost_type": 4, "amount": "900.00"}]}))
    sage.add_payable_invoice(invoice(
        int(keys["subcon"]), vendor=3003, subcontract_number="SC-300", lines=[
            {"line_number": 1, "subcontract_line": 1, "description": "Erect",
             "cost_code": "5120.000", "cost_type": 4, "amount": "300.00"}]))
    assert sage.rows("acpinv")[0]["phsnum"] == 2
    assert sage.rows("jobcst")[0]["phsnum"] == 2


# ---- reconciliation ------------------------------------------------------------------------


def test_find_returns_the_keys_of_the_invoice_written(sage: EmbeddedSage, subcon: int) -> None:
    assert sage.find_payable_invoice(invoice(subcon)) is None
    keys = sage.add_payable_invoice(invoice(subcon))
    assert sage.find_payable_invoice(invoice(subcon)) == keys
    assert sage.find_payable_invoice(invoice(subcon, invoice_number="inv-1042 ")) == keys
    # Another number, subcontract, job or total: not the invoice the command wrote.
    assert sage.find_payable_invoice(invoice(subcon, invoice_number="INV-9")) is None
    assert sage.find_payable_invoice(invoice(subcon, subcontract_number="SC-101")) is None
    assert sage.find_payable_invoice(invoice(subcon, job=24002)) is None
    assert sage.find_payable_invoice(invoice(subcon, lines=[
        {"line_number": 1, "subcontract_line": 1, "description": "Footings",
         "cost_code": "3300.000", "cost_type": 4, "amount": "499.00"}])) is None
    assert sage.find_payable_invoice(invoice(subcon, vendor=10**12)) is None


def test_the_cli_shows_locks_and_unlocks_periods(
        sage: EmbeddedSage, capsys: pytest.CaptureFixture[str]) -> None:
    db = str(sage.path)
    assert main(["periods", "--db", db, "--year", "2025", "--current", "5"]) == 0
    assert main(["periods", "--db", db, "--lock", "3", "--lock", "2"]) == 0
    assert sage.posting_periods().locked == frozenset({2, 3})
    assert main(["periods", "--db", db, "--unlock", "3"]) == 0
    assert main(["periods", "--db", db, "--lock", "5"]) == 2  # the current period
    assert main(["periods", "--db", db]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines()[-1] == (
        "Posting year 2025, current period 5, locked periods: 2, lock date: none")
    assert "current period 5 cannot be locked" in err
