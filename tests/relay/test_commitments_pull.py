"""The commitments pull (PULL_COMMITMENTS): one row per subcontract (subcon) and per
purchase order (pchord) with its totals and the sums of the payable invoices naming it,
read in (kind, recnum) pages on the embedded Sage and through the agent; its statement
compiles for SQL Server."""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy.dialects.mssql

from chalicelib.relay_protocol import (
    Command,
    CommandType,
    PurchaseOrderPayload,
    SubcontractPayload,
)
from relay.agent import JOB_PULLS, PULL_TABLES
from relay.sage.embedded import EmbeddedSage
from relay.sage.reads import READS, decode_cursor, read_statement
from tests.relay import test_agent
from tests.relay.test_agent import COMPANY_ID, Queues
from tests.relay.test_sage_change_orders import cco
from tests.relay.test_sage_payables import TODAY, invoice
from tests.relay.test_sage_reads import read_all, sqlite_reads

# test_agent.py's fixtures (the moto queues, an agent factory); pytest finds them by name.
queues = test_agent.queues
make_agent = test_agent.make_agent


@pytest.fixture
def sage(tmp_path: Path) -> EmbeddedSage:
    db = EmbeddedSage(tmp_path / "sage.db", today=lambda: TODAY)
    db.init()
    db.seed_demo()
    return db


def add_subcontract(sage: EmbeddedSage, job: int = 24001, number: str = "SC-100",
                    amount: str = "1000.00") -> int:
    keys = sage.add_subcontract(SubcontractPayload.model_validate({
        "job": job, "vendor": 3001, "number": number, "description": "Concrete",
        "retention_rate": "10",
        "lines": [
            {"line_number": 1, "description": "Footings", "cost_code": "3300.000",
             "cost_type": 4, "amount": amount},
            {"line_number": 2, "description": "Slab", "cost_code": "3300.000",
             "cost_type": 1, "amount": "500.00"}]}))
    return int(keys["subcon"])


def add_order(sage: EmbeddedSage, job: int = 24001, number: str = "PO-7") -> int:
    """A purchase order of vendor 3003: two lines, 300.00."""
    keys = sage.add_purchase_order(PurchaseOrderPayload.model_validate({
        "job": job, "vendor": 3003, "number": number, "description": "Steel",
        "lines": [
            {"line_number": 1, "description": "Beams", "quantity": "2", "unit_price": "100",
             "amount": "200.00", "cost_code": "5120.000", "cost_type": 1},
            {"line_number": 2, "description": "Bolts", "quantity": "1", "unit_price": "100",
             "amount": "100.00", "cost_code": "5120.000", "cost_type": 1}]}))
    return int(keys["pchord"])


def put_invoice(sage: EmbeddedSage, invnum: str, *, vendor: int, job: int | None,
                invttl: str, amtpad: str, status: int = 1, ctcnum: str = "",
                pchord: str = "") -> int:
    """An acpinv row written as Sage would hold it (the embedded Sage's own command only
    writes subcontractor invoices: a PO's invoice is entered in Sage, not by the agent)."""
    with sqlite3.connect(sage.path) as conn:
        recnum = conn.execute("SELECT COALESCE(MAX(recnum), 0) + 1 FROM acpinv").fetchone()[0]
        conn.execute(
            "INSERT INTO acpinv (_idnum, recnum, invnum, vndnum, jobnum, ctcnum, pchord, "
            "status, invttl, amtpad, invbal) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (str(uuid.uuid4()).upper(), recnum, invnum, vendor, job, ctcnum, pchord, status,
             invttl, amtpad, "0"))
    return int(recnum)


def void(sage: EmbeddedSage, recnum: int) -> None:
    with sqlite3.connect(sage.path) as conn:
        conn.execute("UPDATE acpinv SET status = 5 WHERE recnum = ?", (recnum,))


@pytest.fixture
def exported(sage: EmbeddedSage) -> dict[str, int]:
    """SC-100 on job 24001 (1500.00, +350.00 approved change, two invoices of 500.00, the
    first paid 450.00, the second paid 100.00 then voided) and PO-7 on job 24001 (300.00,
    an invoice of 200.00 paid in full, a void one, one on another job)."""
    subcontract = add_subcontract(sage)
    sage.add_subcontract_change_order(cco(subcontract))
    first = int(sage.add_payable_invoice(invoice(subcontract))["acpinv"])
    sage.pay_invoice(first, check_number="10452", date="2025-04-15", amount="450.00")
    second = int(sage.add_payable_invoice(invoice(subcontract,
                                                  invoice_number="INV-1043"))["acpinv"])
    sage.pay_invoice(second, check_number="10453", date="2025-04-16", amount="100.00")
    void(sage, second)
    # Another vendor's invoice naming SC-100 on the job is not the subcontract's.
    put_invoice(sage, "X-1", vendor=3002, job=24001, invttl="75.00", amtpad="75.00",
                ctcnum="SC-100")

    order = add_order(sage)
    put_invoice(sage, "P-1", vendor=3003, job=24001, invttl="200.00", amtpad="200.00",
                status=4, pchord="PO-7")
    put_invoice(sage, "P-2", vendor=3003, job=24001, invttl="100.00", amtpad="40.00",
                status=5, pchord="PO-7")
    put_invoice(sage, "P-3", vendor=3003, job=24002, invttl="60.00", amtpad="25.00",
                pchord="PO-7")
    return {"subcon": subcontract, "pchord": order}


def test_a_subcontract_and_a_purchase_order_read_with_their_totals(
        sage: EmbeddedSage, exported: dict[str, int]) -> None:
    subcontract = sage.subcontract(exported["subcon"])
    assert (subcontract["cntttl"], subcontract["chgttl"], subcontract["ctcttl"],
            subcontract["invttl"]) == (1500, 350, 1850, 1000)

    rows, cursor = sage.read("commitments", after=None, limit=10)

    assert cursor is None
    assert rows == [
        {"sage_key": f"subcon:{exported['subcon']}", "kind": "subcontract", "job": 24001,
         "number": "SC-100", "vendor": 3001, "status": subcontract["status"],
         "original": "1500.00", "changes": "350.00", "total": "1850.00",
         # invoiced is Sage's own subcon.invttl; paid leaves out the void invoice's 100.00
         # and the other vendor's 75.00
         "invoiced": "1000.00", "paid": "450.00"},
        {"sage_key": f"pchord:{exported['pchord']}", "kind": "purchase_order", "job": 24001,
         "number": "PO-7", "vendor": 3003, "status": 1, "original": None, "changes": None,
         "total": "300.00",
         # invoiced: P-1 only (P-2 is void, P-3 on another job); paid: P-1 and P-3
         "invoiced": "200.00", "paid": "225.00"},
    ]


def test_commitments_without_invoices_read_zero_invoiced_and_paid(
        sage: EmbeddedSage) -> None:
    subcontract = add_subcontract(sage)
    order = add_order(sage)
    rows, _ = sage.read("commitments", after=None, limit=10)
    assert [(r["sage_key"], r["original"], r["changes"], r["total"], r["invoiced"],
             r["paid"]) for r in rows] == [
        (f"subcon:{subcontract}", "1500.00", "0.00", "1500.00", "0.00", "0.00"),
        (f"pchord:{order}", None, None, "300.00", "0.00", "0.00")]


def test_a_void_invoice_counts_in_neither_sum(sage: EmbeddedSage,
                                             exported: dict[str, int]) -> None:
    later = put_invoice(sage, "P-4", vendor=3003, job=24001, invttl="30.00",
                        amtpad="30.00", pchord="PO-7")
    rows, _ = sage.read("commitments", after=None, limit=10)
    assert [(r["invoiced"], r["paid"]) for r in rows] == [("1000.00", "450.00"),
                                                          ("230.00", "255.00")]
    void(sage, later)
    rows, _ = sage.read("commitments", after=None, limit=10)
    assert [(r["invoiced"], r["paid"]) for r in rows] == [("1000.00", "450.00"),
                                                          ("200.00", "225.00")]


@pytest.fixture
def four(sage: EmbeddedSage, exported: dict[str, int]) -> list[str]:
    """SC-100 and PO-7 on 24001, and a subcontract SC-100 and PO-8 on 24002: their keys
    in key order (subcontracts first)."""
    other = add_subcontract(sage, job=24002, amount="2000.00")
    order = add_order(sage, job=24002, number="PO-8")
    return [f"subcon:{exported['subcon']}", f"subcon:{other}",
            f"pchord:{exported['pchord']}", f"pchord:{order}"]


def test_commitments_page_by_kind_then_record(sage: EmbeddedSage, four: list[str]) -> None:
    one, cursors = read_all(sage, "commitments", 1)
    assert [[row["sage_key"] for row in page] for page in one] == [[key] for key in four]
    recnums = [int(key.split(":")[1]) for key in four]
    assert cursors == [f"[1,{recnums[0]}]", f"[1,{recnums[1]}]", f"[2,{recnums[2]}]", None]
    three, _ = read_all(sage, "commitments", 3)
    assert [[row["sage_key"] for row in page] for page in three] == [four[:3], four[3:]]
    # The same number on two jobs: each subcontract sums only its own invoices.
    rows = [row for page in one for row in page]
    assert [(r["number"], r["job"], r["total"], r["invoiced"], r["paid"]) for r in rows] == [
        ("SC-100", 24001, "1850.00", "1000.00", "450.00"),
        ("SC-100", 24002, "2500.00", "0.00", "0.00"),
        ("PO-7", 24001, "300.00", "200.00", "225.00"),
        ("PO-8", 24002, "300.00", "0.00", "0.00")]
    # The reader a configured database URL gets reads exactly the same pages.
    assert read_all(sqlite_reads(sage), "commitments", 1) == (one, cursors)


def test_job_narrows_the_commitments(sage: EmbeddedSage, four: list[str]) -> None:
    pages, cursors = read_all(sage, "commitments", 1, job=24002)
    assert [[row["sage_key"] for row in page] for page in pages] == [[four[1]], [four[3]]]
    assert cursors[-1] is None
    rows, cursor = sage.read("commitments", after=None, limit=10, job=23099)
    assert (rows, cursor) == ([], None)


def test_commitment_cursors_hold_the_kind_and_the_record() -> None:
    spec = READS["commitments"]
    assert decode_cursor(spec, "[2,17]") == [2, 17]
    for bad in ("[1]", '["subcon",17]', "[1,true]", "[1,17,3]", "17", '"[1,17]"'):
        with pytest.raises(ValueError, match="is not a commitments cursor"):
            decode_cursor(spec, bad)


# ---- SQL Server ----------------------------------------------------------------------------


def mssql(after: str | None = None, job: int | None = None) -> str:
    statement = read_statement("commitments", after=after, limit=200, job=job)
    return " ".join(str(statement.compile(dialect=sqlalchemy.dialects.mssql.dialect(),
                                          compile_kwargs={"literal_binds": True})).split())


@pytest.mark.parametrize(("after", "job"), [(None, None), ("[1,17]", None), (None, 24001),
                                            ("[2,5]", 24001)])
def test_the_commitments_statement_compiles_for_sql_server(after: str | None,
                                                           job: int | None) -> None:
    sql = mssql(after, job)

    assert sql.startswith("SELECT TOP 201 commitments.kind, commitments.recnum, "), sql
    assert "FROM dbo.subcon UNION ALL SELECT 2 AS kind, dbo.pchord.recnum" in sql, sql
    assert sql.endswith("ORDER BY commitments.kind, commitments.recnum"), sql
    assert "LIMIT" not in sql.upper() and "NOCASE" not in sql.upper(), sql
    # The sums are correlated scalar subqueries, void invoices left out: no join repeats
    # a commitment.
    assert " JOIN " not in sql.upper(), sql
    assert ("(SELECT coalesce(sum(dbo.acpinv.amtpad), 0) AS coalesce_1 FROM dbo.acpinv "
            "WHERE dbo.acpinv.ctcnum = dbo.subcon.ctcnum AND dbo.acpinv.jobnum = "
            "dbo.subcon.jobnum AND dbo.acpinv.vndnum = dbo.subcon.vndnum AND "
            "dbo.acpinv.status != 5) AS paid") in sql, sql
    assert ("WHERE dbo.acpinv.pchord = dbo.pchord.ordnum AND dbo.acpinv.jobnum = "
            "dbo.pchord.jobnum AND dbo.acpinv.status != 5) AS invoiced") in sql, sql
    assert "CAST(NULL AS DECIMAL(12, 2)) AS original" in sql, sql
    if after is not None:  # keyset without a row-value comparison
        kind, recnum = after.strip("[]").split(",")
        assert (f"commitments.kind > {kind} OR commitments.kind = {kind} AND "
                f"commitments.recnum > {recnum}") in sql, sql
    assert ("commitments.jobnum = 24001" in sql) == (job is not None), sql


# ---- the agent -----------------------------------------------------------------------------


def pull_commitments(command_id: str, **payload: Any) -> Command:
    return Command(command_id=command_id, company_id=COMPANY_ID,
                   type=CommandType.PULL_COMMITMENTS, item_id="pull:pull_commitments",
                   export_version=0, payload=payload, issued_at="2025-05-20T10:00:00Z")


def test_the_commitments_pull_is_wired_and_narrowed_by_job() -> None:
    assert PULL_TABLES[CommandType.PULL_COMMITMENTS] == "commitments"
    assert CommandType.PULL_COMMITMENTS in JOB_PULLS


def test_the_agent_answers_the_commitments_pull_in_pages(
        queues: Queues, make_agent: Any, sage: EmbeddedSage, four: list[str]) -> None:
    queues.send(pull_commitments("pull-commitments-1", page_size=3))
    queues.send(pull_commitments("pull-commitments-2", page_size=1, job=24002))

    make_agent(sage).poll_once()

    results, _ = queues.drain_results()
    by_command: dict[str, list[Any]] = {}
    for result in results:
        by_command.setdefault(result.command_id, []).append(result)
    assert [(r.ok, r.page, r.more, [row["sage_key"] for row in r.data or []])
            for r in by_command["pull-commitments-1"]] == [
        (True, 1, True, four[:3]), (True, 2, False, four[3:])]
    assert [(r.ok, r.page, r.more, [row["sage_key"] for row in r.data or []])
            for r in by_command["pull-commitments-2"]] == [
        (True, 1, True, [four[1]]), (True, 2, False, [four[3]])]
    everything = [row for r in by_command["pull-commitments-1"] for row in r.data or []]
    assert everything == [row for page in read_all(sage, "commitments", 10)[0]
                          for row in page]
    assert queues.depth(queues.commands) == 0
