"""Payments of payable invoices: the embedded Sage's pay_invoice (acppmt + the invoice's
paid amounts, balance and status, for tests and the demo) and the payments pull
(PULL_PAYMENTS: acppmt with its acpinv, in pages, through the agent), whose statement
compiles for SQL Server."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy.dialects.mssql

from chalicelib.relay_protocol import Command, CommandType
from relay.agent import PULL_TABLES
from relay.sage.embedded import EmbeddedSage
from relay.sage.port import INVALID_DATA, INVALID_REFERENCE, SageError
from relay.sage.reads import READS, decode_cursor, read_statement
from tests.relay import test_agent, test_sage_payables
from tests.relay.test_agent import COMPANY_ID, Queues
from tests.relay.test_sage_payables import TODAY, invoice
from tests.relay.test_sage_reads import read_all, sqlite_reads

# test_agent.py's fixtures (the moto queues, an agent factory); pytest finds them by name.
queues = test_agent.queues
make_agent = test_agent.make_agent
subcon = test_sage_payables.subcon  # SC-100 on job 24001 with vendor 3001

D = Decimal


@pytest.fixture
def sage(tmp_path: Path) -> EmbeddedSage:
    db = EmbeddedSage(tmp_path / "sage.db", today=lambda: TODAY)
    db.init()
    db.seed_demo()
    return db


@pytest.fixture
def invoiced(sage: EmbeddedSage, subcon: int) -> int:
    """Invoice INV-1042 of vendor 3001 on job 24001: 500.00, 50.00 of it retention."""
    return int(sage.add_payable_invoice(invoice(subcon))["acpinv"])


def header(sage: EmbeddedSage, recnum: int) -> dict[str, Any]:
    return sage.rows("acpinv", {"recnum": recnum})[0]


def paid(sage: EmbeddedSage, recnum: int) -> tuple[Any, ...]:
    row = header(sage, recnum)
    return row["amtpad"], row["ttlpad"], row["invbal"], row["status"]


# ---- pay_invoice ---------------------------------------------------------------------------


def test_a_payment_writes_acppmt_and_follows_on_the_invoice(sage: EmbeddedSage,
                                                             invoiced: int) -> None:
    # WHEN what may be paid now (the amount less its retention) is paid
    payment = sage.pay_invoice(invoiced, check_number="10452", date=date(2025, 4, 15),
                               amount=D("450.00"))

    # THEN acppmt holds it, on the invoice, and the invoice stays Open with the retention due
    [row] = sage.rows("acppmt")
    assert row["_idnum"] == payment
    assert row["_idref"] == header(sage, invoiced)["_idnum"]
    assert (row["recnum"], row["chknum"], row["chkdte"], row["amount"], row["dsctkn"],
            row["insusr"]) == (invoiced, "10452", date(2025, 4, 15), D("450.00"), D("0.00"),
                               "relay")
    assert paid(sage, invoiced) == (D("450.00"), D("450.00"), D("50.00"), 1)


def test_the_payment_of_the_balance_marks_the_invoice_paid(sage: EmbeddedSage,
                                                            invoiced: int) -> None:
    sage.pay_invoice(invoiced, check_number="10452", date="2025-04-15", amount="450")
    sage.pay_invoice(invoiced, check_number="10610", date="2025-06-30", amount=50)

    assert paid(sage, invoiced) == (D("500.00"), D("500.00"), D("0.00"), 4)
    assert [(r["chknum"], r["amount"]) for r in sage.rows("acppmt")] == [
        ("10452", D("450.00")), ("10610", D("50.00"))]


def test_a_payment_above_the_balance_is_refused_and_nothing_written(
        sage: EmbeddedSage, invoiced: int) -> None:
    sage.pay_invoice(invoiced, check_number="10452", date="2025-04-15", amount="450.00")
    before = (sage.rows("acpinv"), sage.rows("acppmt"))

    with pytest.raises(SageError) as caught:
        sage.pay_invoice(invoiced, check_number="10453", date="2025-04-16", amount="50.01")

    assert caught.value.code == INVALID_DATA
    assert "more than the 50.00 balance" in caught.value.message
    assert (sage.rows("acpinv"), sage.rows("acppmt")) == before


def test_a_paid_invoice_takes_no_more_payment(sage: EmbeddedSage, invoiced: int) -> None:
    sage.pay_invoice(invoiced, check_number="10452", date="2025-04-15", amount="500.00")
    with pytest.raises(SageError) as caught:
        sage.pay_invoice(invoiced, check_number="10453", date="2025-04-16", amount="0.01")
    assert caught.value.code == INVALID_DATA
    assert sage.count("acppmt") == 1


@pytest.mark.parametrize(("recnum", "fields", "code"), [
    (999, {}, INVALID_REFERENCE),
    (None, {"amount": "0"}, INVALID_DATA),
    (None, {"amount": "-5.00"}, INVALID_DATA),
    (None, {"amount": "10.005"}, INVALID_DATA),
    (None, {"check_number": "C" * 21}, INVALID_DATA),
    (None, {"date": "2025-13-01"}, INVALID_DATA),
], ids=["unknown invoice", "zero", "negative", "three decimals", "long check number",
        "bad date"])
def test_refusals_write_nothing(sage: EmbeddedSage, invoiced: int, recnum: int | None,
                                fields: dict[str, Any], code: int) -> None:
    payment: dict[str, Any] = {"check_number": "10452", "date": "2025-04-15",
                               "amount": "100.00", **fields}
    with pytest.raises(SageError) as caught:
        sage.pay_invoice(recnum or invoiced, **payment)
    assert caught.value.code == code
    assert sage.count("acppmt") == 0
    assert paid(sage, invoiced) == (D("0.00"), D("0.00"), D("500.00"), 1)


# ---- the payments pull -------------------------------------------------------------------


def pull_payments(command_id: str, **payload: Any) -> Command:
    return Command(command_id=command_id, company_id=COMPANY_ID,
                   type=CommandType.PULL_PAYMENTS, item_id="pull:pull_payments",
                   export_version=0, payload=payload, issued_at="2025-05-20T10:00:00Z")


def test_the_agent_answers_the_payments_pull_in_pages(queues: Queues, make_agent: Any,
                                                      sage: EmbeddedSage, invoiced: int,
                                                      subcon: int) -> None:
    # GIVEN two invoices, the first paid in full in two payments, the second in part
    second = int(sage.add_payable_invoice(invoice(subcon, invoice_number="INV-1043"))[
        "acpinv"])
    first_ids = sorted([
        sage.pay_invoice(invoiced, check_number="10452", date="2025-04-15", amount="450.00"),
        sage.pay_invoice(invoiced, check_number="10610", date="2025-06-30", amount="50.00"),
    ])
    partial = sage.pay_invoice(second, check_number="10611", date="2025-06-30",
                               amount="120.50")
    queues.send(pull_payments("pull-payments-1", page_size=2))

    # WHEN the agent answers the pull
    make_agent(sage).poll_once()

    # THEN two pages, in (invoice, payment id) order, each row in the protocol's shape
    results, _ = queues.drain_results()
    assert [(r.ok, r.page, r.more) for r in results] == [(True, 1, True), (True, 2, False)]
    assert [len(r.data or []) for r in results] == [2, 1]
    by_id = {row["payment"]: row for r in results for row in r.data or []}
    assert [row["payment"] for r in results for row in r.data or []] == [*first_ids, partial]
    assert by_id[partial] == {
        "payment": partial, "invoice": second, "invoice_number": "INV-1043",
        "vendor": 3001, "job": 24001, "check_number": "10611", "date": "2025-06-30",
        "amount": "120.50", "invoice_status": 1, "invoice_balance": "379.50"}
    assert sorted((row["check_number"], row["amount"], row["invoice_status"],
                   row["invoice_balance"], row["invoice"], row["invoice_number"])
                  for row in (by_id[i] for i in first_ids)) == [
        ("10452", "450.00", 4, "0.00", invoiced, "INV-1042"),
        ("10610", "50.00", 4, "0.00", invoiced, "INV-1042")]
    assert queues.depth(queues.commands) == 0


def test_a_company_without_payments_answers_one_empty_page(queues: Queues, make_agent: Any,
                                                            sage: EmbeddedSage) -> None:
    queues.send(pull_payments("pull-payments-2"))
    make_agent(sage).poll_once()
    results, _ = queues.drain_results()
    assert [(r.ok, r.page, r.more, r.data) for r in results] == [(True, 1, False, [])]


def test_payments_read_one_per_page_with_a_cursor(sage: EmbeddedSage, invoiced: int) -> None:
    ids = sorted(sage.pay_invoice(invoiced, check_number=f"1045{n}", date="2025-04-15",
                                  amount="100.00") for n in range(3))
    pages, cursors = read_all(sage, "payments", 1)
    assert [[row["payment"] for row in page] for page in pages] == [[i] for i in ids]
    assert cursors == [f'[{invoiced},"{ids[0]}"]', f'[{invoiced},"{ids[1]}"]', None]
    # The reader a configured database URL gets reads exactly the same pages.
    assert read_all(sqlite_reads(sage), "payments", 2) == read_all(sage, "payments", 2)


def test_a_blank_check_number_reads_as_none(sage: EmbeddedSage, invoiced: int) -> None:
    sage.pay_invoice(invoiced, check_number="", date="2025-04-15", amount="1.00")
    rows, _ = sage.read("payments", after=None, limit=10)
    assert rows[0]["check_number"] is None


def test_the_payments_pull_is_wired_and_not_narrowed_by_job() -> None:
    assert PULL_TABLES[CommandType.PULL_PAYMENTS] == "payments"
    with pytest.raises(ValueError,
                       match="job narrows phases, budgets, commitments and receivables only"):
        read_statement("payments", after=None, limit=10, job=24001)


# ---- SQL Server ----------------------------------------------------------------------------


@pytest.mark.parametrize("after", [None, "[7,\"0E984725-C51C-4BF4-9960-E1C80E27ABA0\"]"])
def test_the_payments_statement_compiles_for_sql_server(after: str | None) -> None:
    statement = read_statement("payments", after=after, limit=200)
    sql = " ".join(str(statement.compile(dialect=sqlalchemy.dialects.mssql.dialect(),
                                         compile_kwargs={"literal_binds": True})).split())

    assert sql.startswith("SELECT TOP 201 dbo.acppmt.recnum, dbo.acppmt._idnum, "), sql
    assert ("FROM dbo.acppmt JOIN dbo.acpinv ON dbo.acpinv._idnum = dbo.acppmt._idref"
            in sql), sql
    assert "dbo.acpinv.recnum AS invoice" in sql and "dbo.acpinv.invbal" in sql
    assert sql.endswith("ORDER BY dbo.acppmt.recnum, dbo.acppmt._idnum"), sql
    assert "LIMIT" not in sql.upper() and "sage_fold" not in sql
    if after is not None:  # keyset without a row-value comparison
        assert ("WHERE dbo.acppmt.recnum > 7 OR dbo.acppmt.recnum = 7 AND "
                "dbo.acppmt._idnum > '0E984725-C51C-4BF4-9960-E1C80E27ABA0'") in sql, sql


def test_payment_cursors_hold_the_invoice_and_the_payment_id() -> None:
    spec = READS["payments"]
    guid = "0E984725-C51C-4BF4-9960-E1C80E27ABA0"
    assert decode_cursor(spec, f'[7,"{guid}"]') == [7, guid]
    for bad in ("[7]", '[7,"not-a-guid"]', "[7,12]", f'["7","{guid}"]', "7"):
        with pytest.raises(ValueError, match="is not a payments cursor"):
            decode_cursor(spec, bad)
