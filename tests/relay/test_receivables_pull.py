"""The receivables pull (PULL_RECEIVABLES): per job its contract and approved prime change
total, per receivable invoice its total, retention and receipts, read in (kind, recnum)
pages on the embedded Sage and through the agent; its statement compiles for SQL Server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy.dialects.mssql

from chalicelib.relay_protocol import CommandType
from relay.agent import JOB_PULLS, PULL_TABLES
from relay.sage.embedded import EmbeddedSage
from relay.sage.reads import READS, decode_cursor, read_statement
from tests.relay import test_agent
from tests.relay.test_agent import Queues
from tests.relay.test_sage_prime_changes import pcco
from tests.relay.test_sage_reads import read_all, sqlite_reads
from tests.relay.test_sage_receivables import TODAY, owner_invoice
from tests.relay.test_setup_commands import pull_command

queues = test_agent.queues
make_agent = test_agent.make_agent


@pytest.fixture
def sage(tmp_path: Path) -> EmbeddedSage:
    """Job 24001: contract 950,000.00; PCCO77 approved (12,000.00 net), a change order
    reopened in Sage (not counted); OI-001 (120,000.05, retention 12,000.01) received
    100,000.00 in two receipts; OI-002 on job 24002, voided."""
    db = EmbeddedSage(tmp_path / "sage.db", today=lambda: TODAY)
    db.init()
    db.seed_demo()
    with db._write() as conn:
        conn.execute("UPDATE actrec SET cntrct = ?, connum = ?, retain = ? "
                     "WHERE recnum IN (24001, 24002)", ("950000.00", "OC-24001", "10.00"))
    db.add_prime_change_order(pcco())  # 12,500.00 - 500.00
    reopened = db.add_prime_change_order(pcco(
        reference="PCCO78", description="PCCO78 Canopy", lines=[
            {"description": "PCCO78 Canopy", "cost_code": "3300.000", "cost_type": 4,
             "amount": "4000.00"}]))
    first = int(db.add_receivable_invoice(owner_invoice())["acrinv"])
    second = int(db.add_receivable_invoice(owner_invoice(job=24002,
                                                         invoice_number="OI-002"))["acrinv"])
    db.record_receipt(first, check_number="5521", date="2025-05-10", amount="60000.00")
    db.record_receipt(first, check_number="5522", date="2025-05-12", amount="40000.00")
    with db._write() as conn:
        conn.execute("UPDATE prmchg SET status = 2 WHERE recnum = ?",
                     (int(reopened["prmchg"]),))
        conn.execute("UPDATE acrinv SET status = 5 WHERE recnum = ?", (second,))
    return db


def test_jobs_then_invoices_with_their_totals(sage: EmbeddedSage) -> None:
    rows, cursor = sage.read("receivables", after=None, limit=50)

    assert cursor is None
    jobs = {r["job"]: r for r in rows if r["kind"] == "job_contract"}
    assert set(jobs) == {23099, 24001, 24002}
    assert jobs[24001] == {
        "sage_key": "actrec:24001", "kind": "job_contract", "job": 24001,
        "number": "OC-24001", "status": 4, "contract": "950000.00",
        # PCCO77's two prime lines; PCCO78's change order is Open again: not approved
        "changes": "12000.00", "invoiced": None, "retention": None, "received": None}
    assert (jobs[23099]["contract"], jobs[23099]["changes"]) == ("0.00", "0.00")
    invoices = [r for r in rows if r["kind"] == "invoice"]
    assert invoices == [
        {"sage_key": "acrinv:1", "kind": "invoice", "job": 24001, "number": "OI-001",
         "status": 1, "contract": None, "changes": None, "invoiced": "120000.05",
         "retention": "12000.01", "received": "100000.00"},
        {"sage_key": "acrinv:2", "kind": "invoice", "job": 24002, "number": "OI-002",
         "status": 5, "contract": None, "changes": None, "invoiced": "120000.05",
         "retention": "12000.01", "received": "0.00"}]
    assert rows.index(jobs[24002]) < rows.index(invoices[0])  # every job first


def test_pages_by_kind_then_record_and_a_job_narrows(sage: EmbeddedSage) -> None:
    one, cursors = read_all(sage, "receivables", 1)
    keys = [row["sage_key"] for page in one for row in page]
    assert keys == ["actrec:23099", "actrec:24001", "actrec:24002", "acrinv:1", "acrinv:2"]
    assert cursors == ["[1,23099]", "[1,24001]", "[1,24002]", "[2,1]", None]
    # The reader a configured database URL gets reads exactly the same pages.
    assert read_all(sqlite_reads(sage), "receivables", 1) == (one, cursors)
    pages, _ = read_all(sage, "receivables", 10, job=24001)
    assert [row["sage_key"] for page in pages for row in page] == ["actrec:24001",
                                                                    "acrinv:1"]
    assert decode_cursor(READS["receivables"], "[2,7]") == [2, 7]
    with pytest.raises(ValueError, match="is not a receivables cursor"):
        decode_cursor(READS["receivables"], '["acrinv",7]')


@pytest.mark.parametrize(("after", "job"), [(None, None), ("[2,5]", 24001)])
def test_the_statement_compiles_for_sql_server(after: str | None, job: int | None) -> None:
    statement = read_statement("receivables", after=after, limit=200, job=job)
    sql = " ".join(str(statement.compile(dialect=sqlalchemy.dialects.mssql.dialect(),
                                         compile_kwargs={"literal_binds": True})).split())
    assert sql.startswith("SELECT TOP 201 receivables.kind, receivables.recnum"), sql
    assert "FROM dbo.actrec UNION ALL SELECT 2 AS kind, dbo.acrinv.recnum" in sql, sql
    assert "LIMIT" not in sql.upper() and "NOCASE" not in sql.upper(), sql
    assert ("(SELECT coalesce(sum(dbo.pmcgln.aprprc), 0) AS coalesce_1 FROM dbo.pmcgln "
            "JOIN dbo.prmchg ON dbo.prmchg._idnum = dbo.pmcgln._idref WHERE "
            "dbo.prmchg.jobnum = dbo.actrec.recnum AND dbo.prmchg.status = 1) AS changes"
            ) in sql, sql
    assert ("(SELECT coalesce(sum(dbo.acrpmt.amount), 0) AS coalesce_2 FROM dbo.acrpmt "
            "WHERE dbo.acrpmt._idref = dbo.acrinv._idnum) AS received") in sql, sql
    assert sql.endswith("ORDER BY receivables.kind, receivables.recnum"), sql
    assert ("receivables.jobnum = 24001" in sql) == (job is not None), sql
    if after is not None:
        assert ("receivables.kind > 2 OR receivables.kind = 2 AND receivables.recnum > 5"
                ) in sql, sql


def test_the_agent_answers_the_receivables_pull_in_pages(
        queues: Queues, make_agent: Any, sage: EmbeddedSage) -> None:
    assert PULL_TABLES[CommandType.PULL_RECEIVABLES] == "receivables"
    assert CommandType.PULL_RECEIVABLES in JOB_PULLS
    queues.send(pull_command(CommandType.PULL_RECEIVABLES, command_id="pull-rv-1",
                             page_size=2))
    queues.send(pull_command(CommandType.PULL_RECEIVABLES, command_id="pull-rv-2",
                             page_size=5, job=24001))

    make_agent(sage).poll_once()

    results, _ = queues.drain_results()
    by_command: dict[str, list[Any]] = {}
    for result in results:
        by_command.setdefault(result.command_id, []).append(result)
    assert [(r.ok, r.page, r.more, len(r.data or [])) for r in by_command["pull-rv-1"]] == [
        (True, 1, True, 2), (True, 2, True, 2), (True, 3, False, 1)]
    assert [row["sage_key"] for r in by_command["pull-rv-2"] for row in r.data or []] == [
        "actrec:24001", "acrinv:1"]
