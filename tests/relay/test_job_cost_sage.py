"""Job cost transactions in the embedded Sage: the source journals of the demo company,
post_job_costs / void_job_cost / set_job_cost_amount (jobcst, for tests, the demo and the
bench) and the job cost read (``read_job_costs``: one job's jobcst rows with their journal
and an AP row's commitment, paged by (changed at, recnum) under a cap), whose statements
compile for SQL Server."""

from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy.dialects.mssql
import sqlalchemy.dialects.sqlite

from chalicelib.relay_protocol import JOB_COST_SETTLE_SECONDS
from relay.sage.__main__ import main
from relay.sage.embedded import EmbeddedSage
from relay.sage.embedded.demo_data import DEMO_SOURCES
from relay.sage.port import INVALID_DATA, INVALID_REFERENCE, SageError
from relay.sage.reads import (
    clock_statement,
    decode_job_cost_cursor,
    job_cost_cursor,
    job_costs_statement,
)
from relay.sage.tables import stamp_text
from tests.relay import test_sage_payables
from tests.relay.test_sage_payables import TODAY, invoice
from tests.relay.test_sage_reads import sqlite_reads

subcon = test_sage_payables.subcon  # SC-100 on job 24001 with vendor 3001

D = Decimal
FAR = "2999-12-31 23:59:59.999"  # a cap after everything


@pytest.fixture
def sage(tmp_path: Path) -> EmbeddedSage:
    db = EmbeddedSage(tmp_path / "sage.db", today=lambda: TODAY)
    db.init()
    db.seed_demo()
    return db


def cost(**fields: Any) -> dict[str, Any]:
    row: dict[str, Any] = {"job": 24001, "cost_code": "3300.000", "cost_type": 1,
                           "amount": "125.00", "date": "2025-03-14",
                           "description": "Rebar delivery", "transaction": "JE-1",
                           "journal": "General Journal"}
    row.update(fields)
    return row


def ago(seconds: float) -> str:
    """A UTC time ``seconds`` ago as the file keeps its stamps."""
    return stamp_text(datetime.now(UTC) - timedelta(seconds=seconds))


def read_run(reader: Any, job: int, limit: int, *, after: str | None = None,
             until: str | None = None) -> tuple[list[list[dict[str, Any]]], list[str | None],
                                                str]:
    """Every page of one run: (pages, next cursors, the run's cap)."""
    pages: list[list[dict[str, Any]]] = []
    cursors: list[str | None] = []
    while True:
        rows, after, until = reader.read_job_costs(job, after=after, until=until, limit=limit)
        pages.append(rows)
        cursors.append(after)
        if after is None:
            assert until is not None
            return pages, cursors, until


def records(pages: list[list[dict[str, Any]]]) -> list[int]:
    return [row["record"] for page in pages for row in page]


# ---- sources ---------------------------------------------------------------------------------


def test_the_demo_company_has_the_journals_procore_imports_and_others(
        sage: EmbeddedSage) -> None:
    assert [(r["recnum"], r["srcnme"], r["srcdsc"]) for r in sage.rows("source")] == [
        (1, "General Journal", "1-3 Journal Transactions"),
        (10, "Accounts Receivable", "3-2 Receivable Invoices"),
        (11, "Accounts Payable", "4-2 Payable Invoices"),
        (15, "Payroll", "5-2 Payroll Records"),
        (17, "Equipment", "7-2 Equipment Costs")]
    assert len(DEMO_SOURCES) == 5
    assert sage.seed_demo() == 0  # seeding again adds nothing


# ---- post_job_costs --------------------------------------------------------------------------


def test_posting_writes_open_jobcst_rows_in_their_journal(sage: EmbeddedSage) -> None:
    recnums = sage.post_job_costs([
        cost(),
        cost(phase=2, cost_code="5120", cost_type=2, amount=D("-40.5"), hours="8",
             date=date(2025, 4, 2), journal="payroll", employee=12, transaction="PR-7",
             description="Ironworker"),
        cost(journal=17, equipment=5, date=None, amount=3),
    ])

    assert recnums == [1, 2, 3]
    first, second, third = sage.rows("jobcst")
    assert {k: first[k] for k in ("recnum", "jobnum", "phsnum", "trnnum", "trndte", "entdte",
                                  "dscrpt", "cstcde", "csttyp", "cstamt", "csthrs", "vndnum",
                                  "empnum", "eqpnum", "srcnum", "actprd", "postyr", "status",
                                  "insusr", "upddte")} == {
        "recnum": 1, "jobnum": 24001, "phsnum": 0, "trnnum": "JE-1",
        "trndte": date(2025, 3, 14), "entdte": TODAY, "dscrpt": "Rebar delivery",
        "cstcde": "3300.000", "csttyp": 1, "cstamt": D("125.00"), "csthrs": D("0.00"),
        "vndnum": None, "empnum": None, "eqpnum": None, "srcnum": 1, "actprd": 3,
        "postyr": 2025, "status": 1, "insusr": "relay", "upddte": None}
    assert (second["phsnum"], second["cstcde"], second["csttyp"], second["cstamt"],
            second["csthrs"], second["srcnum"], second["empnum"], second["actprd"]) == (
        2, "5120.000", 2, D("-40.50"), D("8.00"), 15, 12, 4)
    # No date: trndte NULL, the period of today.
    assert (third["trndte"], third["srcnum"], third["eqpnum"], third["actprd"],
            third["postyr"]) == (None, 17, 5, 5, 2025)
    assert first["insdte"] and len({r["_idnum"] for r in (first, second, third)}) == 3


def test_inserted_at_backdates_the_rows(sage: EmbeddedSage) -> None:
    sage.post_job_costs([cost(), cost()], inserted_at="2025-05-01 08:00:00.000")
    sage.post_job_costs([cost()], inserted_at=datetime(2025, 5, 2, 9, 30, tzinfo=UTC))
    assert [r["insdte"] for r in sage.rows("jobcst")] == [
        "2025-05-01 08:00:00.000", "2025-05-01 08:00:00.000", "2025-05-02 09:30:00.000"]


@pytest.mark.parametrize(("fields", "code", "words"), [
    ({"job": 99999}, INVALID_REFERENCE, "job 99999 does not exist"),
    ({"phase": 7}, INVALID_REFERENCE, "phase 7 does not exist on job 24001"),
    ({"cost_code": "4400.000"}, INVALID_REFERENCE, "cost code 4400.000 does not exist"),
    ({"cost_type": 10}, INVALID_DATA, "cost type 10 is not 1-9"),
    ({"journal": "Inventory"}, INVALID_REFERENCE, "journal 'Inventory' is not a source"),
    ({"journal": 12}, INVALID_REFERENCE, "journal 12 is not a source"),
    ({"vendor": 4242}, INVALID_REFERENCE, "vendor 4242 does not exist"),
    ({"vendor": 3004}, INVALID_DATA, "is inactive"),
    ({"amount": "10.005"}, INVALID_DATA, "more than 2 decimal places"),
    ({"amount": "10000000000.00"}, INVALID_DATA, "too large"),
    ({"hours": "100000"}, INVALID_DATA, "too large for jobcst.csthrs"),
    ({"description": "D" * 51}, INVALID_DATA, "jobcst.dscrpt allows at most 50"),
    ({"transaction": "T" * 21}, INVALID_DATA, "jobcst.trnnum allows at most 20"),
    ({"date": "2025-02-30"}, INVALID_DATA, "is not a date"),
    ({"journal": None}, INVALID_DATA, "no journal"),
    ({"cost": "1.00"}, INVALID_DATA, "unknown field 'cost'"),
], ids=lambda value: str(value)[:30])
def test_refusals_name_the_row_and_write_nothing(sage: EmbeddedSage, fields: dict[str, Any],
                                                 code: int, words: str) -> None:
    with pytest.raises(SageError) as caught:
        sage.post_job_costs([cost(), cost(**fields)])
    assert caught.value.code == code
    assert words in caught.value.message, caught.value.message
    if code == INVALID_DATA and "inactive" not in words:
        assert "(job cost row 2)" in caught.value.message
    assert sage.count("jobcst") == 0


def test_a_float_amount_is_refused_never_rounded(sage: EmbeddedSage) -> None:
    with pytest.raises(TypeError, match="not a float"):
        sage.post_job_costs([cost(amount=0.1)])
    with pytest.raises(TypeError, match="not a float"):
        sage.post_job_costs([cost(hours=1.5)])
    assert sage.post_job_costs([]) == []
    assert sage.count("jobcst") == 0


def test_a_bulk_posts_in_one_go(sage: EmbeddedSage) -> None:
    # Twenty thousand rows over two jobs, four journals, phases and vendors: one
    # transaction, each reference checked once.
    rows = [cost(job=24001 if n % 5 else 24002, phase=(n % 3) if n % 5 else 0,
                 cost_type=n % 9 + 1, amount=f"{n % 997}.{n % 100:02d}",
                 journal=("General Journal", "Payroll", "Accounts Payable", "Equipment")[n % 4],
                 vendor=3001 if n % 4 == 2 else None, transaction=f"T-{n}",
                 description=f"Bulk row {n}") for n in range(20_000)]

    recnums = sage.post_job_costs(rows)

    assert recnums == list(range(1, 20_001))
    assert sage.count("jobcst") == 20_000
    pages, _, _ = read_run(sage, 24002, 1000, until=FAR)
    assert len(records(pages)) == 4_000 and len(pages) == 4
    assert records(pages) == sorted(records(pages))  # one stamp per ms or so: by recnum too


# ---- void and correct ----------------------------------------------------------------------


def test_void_and_correct_in_place(sage: EmbeddedSage) -> None:
    first, second = sage.post_job_costs([cost(), cost(amount="80.00")])

    sage.void_job_cost(first)
    sage.set_job_cost_amount(second, "85.10")

    one, two = sage.rows("jobcst")
    assert (one["status"], one["cstamt"], one["updusr"]) == (2, D("125.00"), "relay")
    assert one["upddte"] is not None  # the trigger stamps the change
    assert (two["status"], two["cstamt"]) == (1, D("85.10"))
    assert two["upddte"] is not None
    # A change already settled: its stamp as given.
    sage.set_job_cost_amount(second, D("86"), changed_at="2025-05-01 08:00:00.000")
    assert sage.rows("jobcst")[1]["upddte"] == "2025-05-01 08:00:00.000"


@pytest.mark.parametrize("action", ["void", "correct"])
def test_a_void_or_missing_row_is_refused(sage: EmbeddedSage, action: str) -> None:
    [recnum] = sage.post_job_costs([cost()])
    sage.void_job_cost(recnum)

    def act(target: int) -> None:
        if action == "void":
            sage.void_job_cost(target)
        else:
            sage.set_job_cost_amount(target, "1.00")

    with pytest.raises(SageError) as caught:
        act(recnum)
    assert caught.value.code == INVALID_DATA and "is Void" in caught.value.message
    with pytest.raises(SageError) as caught:
        act(999)
    assert caught.value.code == INVALID_REFERENCE
    with pytest.raises(TypeError):
        sage.set_job_cost_amount(recnum, 1.0)  # type: ignore[arg-type]


# ---- the read ---------------------------------------------------------------------------------


def test_rows_come_in_the_protocols_shape(sage: EmbeddedSage) -> None:
    sage.post_job_costs([
        cost(),
        cost(phase=1, cost_code="26000", cost_type=2, amount="-12.5", hours="3.25",
             journal="Payroll", employee=12, transaction="PR-1", description="Wiring"),
        cost(journal="Equipment", equipment=7, date=None, description="", transaction=""),
    ], inserted_at="2025-05-01 08:00:00.000")

    rows, cursor, until = sage.read_job_costs(24001, after=None, until=FAR, limit=10)

    assert cursor is None and until == FAR
    assert rows[0] == {
        "record": 1, "job": 24001, "phase": None, "cost_code": "3300.000", "cost_type": 1,
        "amount": "125.00", "hours": "0.00", "date": "2025-03-14",
        "description": "Rebar delivery", "transaction": "JE-1", "source": 1,
        "journal": "General Journal", "vendor": None, "employee": None, "equipment": None,
        "status": 1, "period": 3, "year": 2025, "commitment": None,
        "changed_at": "2025-05-01 08:00:00.000"}
    assert {k: rows[1][k] for k in ("phase", "cost_code", "cost_type", "amount", "hours",
                                    "journal", "source", "employee")} == {
        "phase": 1, "cost_code": "26000.000", "cost_type": 2, "amount": "-12.50",
        "hours": "3.25", "journal": "Payroll", "source": 15, "employee": 12}
    assert {k: rows[2][k] for k in ("date", "journal", "equipment", "description",
                                    "transaction", "period")} == {
        "date": None, "journal": "Equipment", "equipment": 7, "description": "",
        "transaction": "", "period": 5}
    # The same page from the reader a configured database URL gets.
    assert sqlite_reads(sage).read_job_costs(24001, after=None, until=FAR, limit=10) == (
        rows, None, FAR)


def test_a_journal_sage_has_no_source_for_reads_as_blank(sage: EmbeddedSage) -> None:
    [recnum] = sage.post_job_costs([cost()])
    with sqlite3.connect(sage.path) as conn:
        conn.execute("UPDATE jobcst SET srcnum = 99 WHERE recnum = ?", (recnum,))
    [row], _, _ = sage.read_job_costs(24001, after=None, until=FAR, limit=10)
    assert (row["source"], row["journal"]) == (99, "")


def test_only_the_jobs_rows_open_and_void(sage: EmbeddedSage) -> None:
    mine = sage.post_job_costs([cost(), cost()])
    sage.post_job_costs([cost(job=24002)])
    sage.void_job_cost(mine[1])
    rows, _, _ = sage.read_job_costs(24001, after=None, until=FAR, limit=10)
    assert [(r["record"], r["status"]) for r in rows] == [(1, 1), (2, 2)]
    assert sage.read_job_costs(23099, after=None, until=FAR, limit=10) == ([], None, FAR)


def test_an_ap_row_carries_its_invoices_commitment(sage: EmbeddedSage, subcon: int) -> None:
    # GIVEN a subcontract invoice (its distribution is AP jobcst rows), an invoice on a
    # purchase order, a second invoice of that number (a vendor allowing duplicates), an
    # AP row without an invoice and a journal entry that looks like an invoice's
    sage.add_payable_invoice(invoice(subcon))
    with sqlite3.connect(sage.path) as conn:
        for recnum, ctcnum, pchord in ((50, "", "PO-7"), (51, "SC-999", ""),
                                       (52, "", "")):
            conn.execute(
                "INSERT INTO acpinv (_idnum, recnum, invnum, vndnum, jobnum, ctcnum, pchord) "
                "VALUES (?, ?, ?, 3002, 24001, ?, ?)",
                (f"GUID-{recnum}", recnum, "E-1" if recnum < 52 else "E-2", ctcnum, pchord))
    sage.post_job_costs([
        cost(journal="Accounts Payable", vendor=3002, transaction="E-1"),
        cost(journal="Accounts Payable", vendor=3002, transaction="E-2"),
        cost(journal="Accounts Payable", vendor=3002, transaction="E-3"),
        cost(journal="General Journal", vendor=3002, transaction="E-1"),
        cost(journal=11, vendor=3002, transaction="E-1", job=24002),
    ])

    rows, _, _ = sage.read_job_costs(24001, after=None, until=FAR, limit=50)

    # THEN the subcontract's rows name it, the PO invoice's its PO (the first invoice of a
    # repeated number, never one row per invoice), the others None
    assert [(r["journal"], r["transaction"], r["commitment"]) for r in rows] == [
        ("Accounts Payable", "INV-1042", "SC-100"),
        ("Accounts Payable", "INV-1042", "SC-100"),
        ("Accounts Payable", "E-1", "PO-7"),
        ("Accounts Payable", "E-2", None),
        ("Accounts Payable", "E-3", None),
        ("General Journal", "E-1", None)]
    assert rows[0]["vendor"] == 3001 and rows[0]["source"] == 11
    # the invoice of another job is not this row's
    [other], _, _ = sage.read_job_costs(24002, after=None, until=FAR, limit=50)
    assert other["commitment"] is None


def test_pages_follow_the_cursor(sage: EmbeddedSage) -> None:
    # Two rows share a stamp: the record number orders them and the cursor keeps both.
    sage.post_job_costs([cost(), cost()], inserted_at="2025-05-01 08:00:00.000")
    sage.post_job_costs([cost(), cost(), cost()], inserted_at="2025-05-01 08:00:01.500")

    pages, cursors, until = read_run(sage, 24001, 2, until=FAR)

    assert [[row["record"] for row in page] for page in pages] == [[1, 2], [3, 4], [5]]
    assert cursors == ['["2025-05-01 08:00:00.000",2]', '["2025-05-01 08:00:01.500",4]',
                       None]
    assert until == FAR
    assert job_cost_cursor(pages[0][-1]) == cursors[0]
    assert read_run(sqlite_reads(sage), 24001, 2, until=FAR) == (pages, cursors, until)
    # A full last page: the next one is empty.
    assert read_run(sage, 24001, 5, until=FAR)[0] == [pages[0] + pages[1] + pages[2]]
    pages, cursors, _ = read_run(sage, 24001, 1, until=FAR)
    assert records(pages) == [1, 2, 3, 4, 5] and cursors[-1] is None


def test_the_cap_is_sages_clock_less_the_settle_time(sage: EmbeddedSage) -> None:
    # GIVEN rows written two minutes ago, and a row written now (still settling)
    old = sage.post_job_costs([cost(), cost()], inserted_at=ago(120))
    sage.post_job_costs([cost()])

    # WHEN a run starts without a cap
    before = datetime.now(UTC).replace(tzinfo=None)
    rows, cursor, until = sage.read_job_costs(24001, after=None, until=None, limit=10)

    # THEN the cap is the file's clock less JOB_COST_SETTLE_SECONDS, in the stamps' form,
    # and the row written after it is left for a later run
    cap = datetime.fromisoformat(until)
    settle = timedelta(seconds=JOB_COST_SETTLE_SECONDS)
    assert before - settle - timedelta(seconds=2) <= cap <= before - settle + timedelta(
        seconds=5)
    assert until == stamp_text(cap)
    assert [row["record"] for row in rows] == old and cursor is None
    # An explicit cap is inclusive and comes back as given.
    stamp = rows[0]["changed_at"]
    assert sage.read_job_costs(24001, after=None, until=stamp, limit=10)[0] == rows
    earlier = stamp_text(datetime.fromisoformat(stamp) - timedelta(milliseconds=1))
    assert sage.read_job_costs(24001, after=None, until=earlier, limit=10) == (
        [], None, earlier)


def test_the_cap_holds_every_page_of_a_run(sage: EmbeddedSage) -> None:
    sage.post_job_costs([cost(), cost(), cost()], inserted_at=ago(300))
    rows, cursor, until = sage.read_job_costs(24001, after=None, until=None, limit=2)
    assert [row["record"] for row in rows] == [1, 2] and cursor is not None
    sage.post_job_costs([cost()], inserted_at=ago(200))  # arrives mid-run, before the cap
    late = sage.post_job_costs([cost()], inserted_at=ago(1))  # after the cap
    rest, cursor, again = sage.read_job_costs(24001, after=cursor, until=until, limit=2)
    assert again == until and cursor is None
    assert [row["record"] for row in rest] == [3, 4] and late[0] not in records([rest])


def test_a_voided_row_comes_again_in_a_later_run(sage: EmbeddedSage) -> None:
    # GIVEN a run that read every row
    recnums = sage.post_job_costs([cost(), cost(), cost()], inserted_at=ago(600))
    pages, _, _ = read_run(sage, 24001, 2)
    assert records(pages) == recnums
    position = job_cost_cursor(pages[-1][-1])  # after the last row the run read

    # WHEN a row is voided, a row corrected, and a later run starts there
    sage.void_job_cost(recnums[0], changed_at=ago(120))  # settled: two minutes ago
    sage.set_job_cost_amount(recnums[2], "99.99")
    with sqlite3.connect(sage.path) as conn:  # settled too
        conn.execute("UPDATE jobcst SET upddte = ? WHERE recnum = ?", (ago(90), recnums[2]))
    assert read_run(sage, 24001, 2, after=position, until=ago(150))[0] == [[]]
    later, _, _ = read_run(sage, 24001, 2, after=position)

    # THEN both come again, as they are now, and nothing else
    assert [(r["record"], r["status"], r["amount"]) for r in records_of(later)] == [
        (recnums[0], 2, "125.00"), (recnums[2], 1, "99.99")]


def records_of(pages: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    return [row for page in pages for row in page]


def test_bad_arguments_are_value_errors(sage: EmbeddedSage) -> None:
    for after in ("[1]", '["2025-05-01 08:00:00.000","2"]', '["yesterday",2]', "x", "[]",
                  '["2025-05-01",true]'):
        with pytest.raises(ValueError, match="is not a job cost cursor"):
            sage.read_job_costs(24001, after=after, until=FAR, limit=10)
    with pytest.raises(ValueError, match="is not a time"):
        sage.read_job_costs(24001, after=None, until="soon", limit=10)
    with pytest.raises(ValueError, match="limit must be a positive integer"):
        sage.read_job_costs(24001, after=None, until=FAR, limit=0)
    with pytest.raises(ValueError, match="job must be a positive integer"):
        sage.read_job_costs(0, after=None, until=FAR, limit=10)
    assert decode_job_cost_cursor('["2025-05-01 08:00:00.000",2]') == (
        datetime(2025, 5, 1, 8), 2)


def test_the_embedded_file_pages_through_its_index(sage: EmbeddedSage) -> None:
    # The stand-in's index is on CHANGED_AT exactly as the statement writes it.
    statement = job_costs_statement(24001, after='["2025-05-01 08:00:00.000",2]', until=FAR,
                                    limit=100)
    sql = str(statement.compile(dialect=sqlalchemy.dialects.sqlite.dialect(),
                                compile_kwargs={"literal_binds": True})).replace("dbo.", "")
    with sqlite3.connect(sage.path) as conn:
        plan = " ".join(str(row[3]) for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}"))
    assert "USING INDEX jobcst_job_changed (jobnum=? AND <expr>>? AND <expr><?)" in plan, plan
    assert "SEARCH acpinv USING INDEX acpinv_vendor_invoice" in plan, plan


# ---- SQL Server ----------------------------------------------------------------------------


def mssql(statement: Any) -> str:
    return " ".join(str(statement.compile(dialect=sqlalchemy.dialects.mssql.dialect(),
                                          compile_kwargs={"literal_binds": True})).split())


def test_the_job_cost_statement_compiles_for_sql_server() -> None:
    sql = mssql(job_costs_statement(24001, after='["2025-05-01 08:00:00.000",88]',
                                    until="2025-05-20 10:00:00.000", limit=1000))

    changed = ("coalesce(dbo.jobcst.upddte, dbo.jobcst.insdte, CAST('19000101' AS DATETIME))")
    assert sql.startswith("SELECT TOP 1001 dbo.jobcst.recnum, dbo.jobcst.jobnum, "), sql
    assert ("FROM dbo.jobcst LEFT OUTER JOIN dbo.source ON dbo.source.recnum = "
            "dbo.jobcst.srcnum") in sql
    assert "dbo.source.srcnme AS journal" in sql
    assert ("CASE WHEN (dbo.source.srcnme = N'Accounts Payable') THEN (SELECT TOP 1 "
            "coalesce(nullif(dbo.acpinv.ctcnum, ''), nullif(dbo.acpinv.pchord, '')) AS "
            "coalesce_1 FROM dbo.acpinv WHERE dbo.acpinv.vndnum = dbo.jobcst.vndnum AND "
            "dbo.acpinv.invnum = dbo.jobcst.trnnum AND dbo.acpinv.jobnum = dbo.jobcst.jobnum "
            "ORDER BY dbo.acpinv.recnum) END AS commitment") in sql, sql
    assert f"{changed} AS changed_at" in sql
    assert ("WHERE dbo.jobcst.jobnum = 24001 AND dbo.jobcst.status IN (1, 2) AND "
            f"{changed} <= CAST('2025-05-20 10:00:00' AS DATETIME) AND "
            f"{changed} >= CAST('2025-05-01 08:00:00' AS DATETIME) AND "
            f"({changed} > CAST('2025-05-01 08:00:00' AS DATETIME) OR "
            f"{changed} = CAST('2025-05-01 08:00:00' AS DATETIME) AND "
            "dbo.jobcst.recnum > 88)") in sql, sql
    assert sql.endswith(f"ORDER BY {changed}, dbo.jobcst.recnum"), sql
    assert "LIMIT" not in sql.upper() and "NOCASE" not in sql.upper()
    assert "strftime" not in sql and "sage_fold" not in sql


def test_the_clock_is_read_through_sql() -> None:
    assert mssql(clock_statement("mssql")) == (
        "SELECT CAST(dateadd(second, -60, sysutcdatetime()) AS DATETIME) AS clock")
    sqlite_sql = str(clock_statement("sqlite").compile(
        dialect=sqlalchemy.dialects.sqlite.dialect(), compile_kwargs={"literal_binds": True}))
    assert "strftime('%Y-%m-%d %H:%M:%f', 'now', '-60 seconds')" in sqlite_sql
    with pytest.raises(ValueError, match="not postgresql"):
        clock_statement("postgresql")


# ---- the CLI -------------------------------------------------------------------------------


def test_the_cli_posts_and_voids_one_job_cost(sage: EmbeddedSage,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    db = str(sage.path)
    assert main(["--db", db, "post-job-cost", "--job", "24001", "--phase", "1",
                 "--cost-code", "3300", "--cost-type", "2", "--amount", "410.25",
                 "--hours", "8", "--date", "2025-05-19", "--description", "Form crew",
                 "--transaction", "PR-88", "--journal", "Payroll", "--employee", "12"]) == 0
    assert "Posted job cost 1" in capsys.readouterr().out
    [row] = sage.rows("jobcst")
    assert (row["cstamt"], row["csthrs"], row["srcnum"], row["empnum"], row["phsnum"]) == (
        D("410.25"), D("8.00"), 15, 12, 1)

    assert main(["--db", db, "void-job-cost", "1"]) == 0
    assert "Voided job cost 1" in capsys.readouterr().out
    assert sage.rows("jobcst")[0]["status"] == 2
    assert main(["--db", db, "void-job-cost", "1"]) == 1
    assert "is Void" in capsys.readouterr().err
    assert main(["--db", db, "post-job-cost", "--job", "24001", "--cost-code", "3300",
                 "--cost-type", "1", "--amount", "1.00", "--journal", "Nope"]) == 1
    assert "journal 'Nope' is not a source journal" in capsys.readouterr().err
