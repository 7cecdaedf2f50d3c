"""Budgets in the embedded Sage: the first export (add_budget), change sets
(change_budget), the reconciliation look-up (find_budget) and the budget pull, on the
embedded SQLite file and as the SQL Server statement (compiled for mssql)."""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy.dialects.mssql
from sqlalchemy.engine import URL

from chalicelib.relay_protocol import BudgetChangePayload, BudgetPayload
from relay.sage.embedded import EmbeddedSage
from relay.sage.port import CONSTRAINT_FAILED, INVALID_DATA, INVALID_REFERENCE, SageError
from relay.sage.reads import SageReads, read_statement

BUDGET_COLUMNS = ("matbdg", "labbdg", "eqpbdg", "subbdg", "othbdg", "usrcs6", "usrcs7",
                  "usrcs8", "usrcs9", "ttlbdg", "matorg", "laborg", "eqporg", "suborg",
                  "othorg", "cs6org", "cs7org", "cs8org", "cs9org", "ttlorg", "hrsbdg",
                  "hrsorg")


@pytest.fixture
def sage(tmp_path: Path) -> EmbeddedSage:
    db = EmbeddedSage(tmp_path / "sage.db")
    db.init()
    db.seed_demo()
    return db


def add(**payload: Any) -> BudgetPayload:
    body: dict[str, Any] = {"job": 24001, "lines": [
        {"cost_code": "3300.000", "unit": "CY", "amounts": {"1": "1200.00", "4": "800.50"},
         "originals": {"1": "1000.00"}},
        {"phase": 2, "cost_code": "5120.000", "amounts": {"3": "250", "9": "10.25"}},
        {"cost_code": "1100.000", "amounts": {"2": "400.00"}},
        {"phase": 2, "cost_code": "9900.000", "amounts": {"5": "75.00"}},
    ]}
    body.update(payload)
    return BudgetPayload.model_validate(body)


def change(lines: list[dict[str, Any]], job: int = 24001) -> BudgetChangePayload:
    return BudgetChangePayload.model_validate({"job": job, "lines": lines})


def line(sage: EmbeddedSage, code: str, phase: int = 0, job: int = 24001) -> dict[str, Any]:
    found = sage.rows("bdglin", {"recnum": job, "phsnum": phase, "cstcde": code})
    assert len(found) == 1, (job, phase, code)
    return found[0]


def budget_values(row: dict[str, Any]) -> dict[str, Decimal]:
    """The row's non-zero budget columns."""
    return {column: row[column] for column in BUDGET_COLUMNS if row[column]}


def lock(sage: EmbeddedSage, job: int = 24001) -> None:
    """Lock the job's budget as a Sage user would (creating the header if missing)."""
    with sqlite3.connect(sage.path) as conn:
        conn.execute("INSERT INTO budget (_idnum, recnum, lckedt) VALUES (?, ?, 1) "
                     "ON CONFLICT (recnum) DO UPDATE SET lckedt = 1", (f"LOCK-{job}", job))


def counts(sage: EmbeddedSage) -> tuple[int, int]:
    return sage.count("budget"), sage.count("bdglin")


# ---- add_budget ------------------------------------------------------------------------------


def test_add_writes_the_header_and_one_row_per_line(sage: EmbeddedSage) -> None:
    keys = sage.add_budget(add())

    assert keys == {"budget": "24001", "lines": "4"}
    header = sage.rows("budget")
    assert [(h["recnum"], h["lckedt"], h["insusr"]) for h in header] == [(24001, 0, "relay")]
    # Per-type current columns, their total, originals as given ...
    first = line(sage, "3300.000")
    assert budget_values(first) == {
        "matbdg": Decimal("1200.00"), "subbdg": Decimal("800.50"),
        "ttlbdg": Decimal("2000.50"), "matorg": Decimal("1000.00"),
        "ttlorg": Decimal("1000.00")}
    assert (first["untdsc"], first["_idref"], first["linnum"]) == ("CY", header[0]["_idnum"], 1)
    # ... or equal to the amounts when a line gives none; the user types 6-9 too.
    assert budget_values(line(sage, "5120.000", phase=2)) == {
        "eqpbdg": Decimal("250.00"), "usrcs9": Decimal("10.25"), "ttlbdg": Decimal("260.25"),
        "eqporg": Decimal("250.00"), "cs9org": Decimal("10.25"), "ttlorg": Decimal("260.25")}
    assert line(sage, "1100.000")["untdsc"] == ""
    # Line numbers count within job and phase, in the command's order.
    numbers = [(r["phsnum"], r["linnum"], r["cstcde"]) for r in sage.rows("bdglin")]
    assert numbers == [(0, 1, "3300.000"), (2, 1, "5120.000"), (0, 2, "1100.000"),
                       (2, 2, "9900.000")]


def test_add_uses_an_unlocked_header_that_has_no_lines(sage: EmbeddedSage) -> None:
    with sqlite3.connect(sage.path) as conn:
        conn.execute("INSERT INTO budget (_idnum, recnum, lckedt) VALUES ('H-1', 24002, 0)")
    sage.add_budget(add(job=24002, lines=[{"cost_code": "2200.000", "amounts": {"1": "5"}}]))
    assert sage.count("budget") == 1
    assert line(sage, "2200.000", job=24002)["_idref"] == "H-1"


def test_a_job_with_budget_lines_is_refused(sage: EmbeddedSage) -> None:
    sage.add_budget(add())
    before = sage.rows("bdglin")

    with pytest.raises(SageError) as caught:
        sage.add_budget(add(lines=[{"cost_code": "26000.000", "amounts": {"1": "1"}}]))

    assert caught.value.code == CONSTRAINT_FAILED and not caught.value.retryable
    assert caught.value.message == (
        "Failed coded constraint: job 24001 already has a budget (4 lines) in Sage; a budget "
        "is set up in one system and then exported or imported, never in both")
    assert sage.rows("bdglin") == before


def test_a_locked_budget_is_refused(sage: EmbeddedSage) -> None:
    lock(sage)
    with pytest.raises(SageError) as caught:
        sage.add_budget(add())
    assert caught.value.code == INVALID_DATA
    assert caught.value.message.startswith(
        "Invalid data: the budget of job 24001 is locked in Sage (budget.lckedt)")
    assert counts(sage) == (1, 0)


@pytest.mark.parametrize(("lines", "code", "message"), [
    ([{"phase": 7, "cost_code": "3300.000", "amounts": {"1": "1"}}], INVALID_REFERENCE,
     "Invalid object reference: phase 7 does not exist on job 24001 (jobphs.phsnum)"),
    ([{"cost_code": "4400.000", "amounts": {"1": "1"}}], INVALID_REFERENCE,
     "Invalid object reference: line 1 cost code 4400.000 does not exist (cstcde.recnum)"),
    ([{"cost_code": "3300.000", "amounts": {"1": "1"}},
      {"cost_code": "1100.000", "amounts": {"1": "1"}, "originals": {"8": "1"}}],
     INVALID_REFERENCE,
     "Invalid object reference: line 2 cost type 8 does not exist (csttyp.recnum)"),
    ([{"cost_code": "3300.000", "amounts": {"1": "1"}},
      {"phase": 1, "cost_code": "3300.000", "amounts": {"2": "1"}},
      {"cost_code": "3300.000", "amounts": {"4": "1"}}], INVALID_DATA,
     "Invalid data: line 3 (no phase, cost code 3300.000) repeats line 1; a budget has one "
     "line per job, phase and cost code (bdglin), so give each phase and cost code once"),
    ([{"cost_code": "3300.000", "amounts": {"1": "10000000000.00"}}], INVALID_DATA,
     "Invalid data: line 1 cost type 1 amount 10000000000.00 is too large for bdglin.matbdg "
     "decimal(12,2)"),
    ([{"cost_code": "3300.000", "amounts": {"1": "1"}, "originals": {"6": "0.005"}}],
     INVALID_DATA, "Invalid data: line 1 cost type 6 original 0.005 has more than 2 decimal "
     "places (bdglin.cs6org decimal(12,2))"),
    ([{"phase": 1, "cost_code": "3300.000",
       "amounts": {"1": "9999999999.99", "2": "0.01"}}], INVALID_DATA,
     "Invalid data: line 1 (phase 1, cost code 3300.000) total 10000000000.00 is too large "
     "for bdglin.ttlbdg decimal(12,2)"),
], ids=["phase", "cost-code", "cost-type", "duplicate-line", "over-12-2", "3-decimals",
        "total-over-12-2"])
def test_add_refusals_write_nothing(sage: EmbeddedSage, lines: list[dict[str, Any]],
                                    code: int, message: str) -> None:
    with sqlite3.connect(sage.path) as conn:  # cost type 8 is not set up in this company
        conn.execute("DELETE FROM csttyp WHERE recnum = 8")
    with pytest.raises(SageError) as caught:
        sage.add_budget(add(lines=lines))
    assert (caught.value.code, caught.value.message) == (code, message)
    assert counts(sage) == (0, 0)  # all or nothing: not even the header


def test_an_unknown_job_is_refused(sage: EmbeddedSage) -> None:
    with pytest.raises(SageError) as caught:
        sage.add_budget(add(job=99001))
    assert caught.value.code == INVALID_REFERENCE
    assert caught.value.message == (
        "Invalid object reference: job 99001 does not exist (actrec.recnum)")


def test_an_inactive_cost_code_is_refused_on_a_new_line(sage: EmbeddedSage) -> None:
    sage.add_cost_code("7100", "Old Roofing", inactive=True)
    with pytest.raises(SageError) as caught:
        sage.add_budget(add(lines=[{"cost_code": "7100.000", "amounts": {"1": "1"}}]))
    assert caught.value.code == INVALID_DATA and "is inactive" in caught.value.message


def test_amounts_are_exact_decimals(sage: EmbeddedSage) -> None:
    # 0.1 + 0.2 is 0.3 here, and the largest decimal(12,2) is stored as it is.
    sage.add_budget(add(lines=[
        {"cost_code": "3300.000", "amounts": {"1": "0.1", "2": "0.2"}},
        {"cost_code": "1100.000", "amounts": {"4": "9999999999.99"}}]))
    assert line(sage, "3300.000")["ttlbdg"] == Decimal("0.30")
    assert line(sage, "1100.000")["subbdg"] == Decimal("9999999999.99")
    rows, _ = sage.read("budgets", after=None, limit=5)
    assert [r["total"] for r in rows] == ["9999999999.99", "0.30"]


# ---- change_budget ---------------------------------------------------------------------------


def test_change_sets_only_the_named_columns_and_keeps_the_originals(
        sage: EmbeddedSage) -> None:
    sage.add_budget(add())
    before = line(sage, "3300.000")

    keys = sage.change_budget(change([
        # type 4 set, type 1 not named: stays; originals given for an existing row: ignored
        {"cost_code": "3300.000", "unit": "M3", "amounts": {"4": "900.00", "2": "50"},
         "originals": {"1": "1.00"}},
    ]))

    assert keys == {"budget": "24001", "changed": "1", "added": "0"}
    after = line(sage, "3300.000")
    assert budget_values(after) == {
        "matbdg": Decimal("1200.00"), "labbdg": Decimal("50.00"),
        "subbdg": Decimal("900.00"), "ttlbdg": Decimal("2150.00"),
        "matorg": Decimal("1000.00"), "ttlorg": Decimal("1000.00")}
    assert (after["linnum"], after["untdsc"], after["_idnum"]) == (
        before["linnum"], before["untdsc"], before["_idnum"])
    assert after["updusr"] == "relay" and after["upddte"] is not None
    assert line(sage, "1100.000")["upddte"] is None  # rows not named are not touched


def test_change_adds_new_rows_with_no_original_budget(sage: EmbeddedSage) -> None:
    sage.add_budget(add())

    keys = sage.change_budget(change([
        {"phase": 2, "cost_code": "26000.000", "amounts": {"4": "5000"}},
        {"phase": 2, "cost_code": "2200.000", "amounts": {"1": "30"},
         "originals": {"1": "25"}},
        {"phase": 3, "cost_code": "26000.000", "unit": "LS", "amounts": {"5": "12"}},
    ]))

    assert keys == {"budget": "24001", "changed": "0", "added": "3"}
    added = line(sage, "26000.000", phase=2)
    assert budget_values(added) == {"subbdg": Decimal("5000.00"),
                                    "ttlbdg": Decimal("5000.00")}
    assert added["linnum"] == 3  # after the two lines phase 2 already has
    assert added["_idref"] == sage.rows("budget")[0]["_idnum"]
    assert budget_values(line(sage, "2200.000", phase=2)) == {
        "matbdg": Decimal("30.00"), "ttlbdg": Decimal("30.00"), "matorg": Decimal("25.00"),
        "ttlorg": Decimal("25.00")}
    assert line(sage, "26000.000", phase=3)["linnum"] == 1
    assert sage.count("bdglin") == 7


def test_a_zeroed_line_keeps_its_row(sage: EmbeddedSage) -> None:
    # A line deleted in Procore arrives with its amounts 0: the row and its originals stay.
    sage.add_budget(add())
    sage.change_budget(change([{"phase": 2, "cost_code": "5120.000",
                                "amounts": {"3": "0", "9": "0"}}]))
    zeroed = line(sage, "5120.000", phase=2)
    assert budget_values(zeroed) == {"eqporg": Decimal("250.00"), "cs9org": Decimal("10.25"),
                                     "ttlorg": Decimal("260.25")}
    assert sage.count("bdglin") == 4
    rows, _ = sage.read("budgets", after='[24001,0,"3300.000"]', limit=1)
    assert rows == [{"job": 24001, "phase": 2, "line": 1, "cost_code": "5120.000", "unit": "",
                     "amounts": {}, "originals": {"3": "250.00", "9": "10.25"},
                     "total": "0.00", "locked": False}]


def test_the_same_change_twice_is_applied_once(sage: EmbeddedSage) -> None:
    sage.add_budget(add())
    command = change([{"cost_code": "3300.000", "amounts": {"1": "1300"}},
                      {"cost_code": "26000.000", "amounts": {"4": "10"}}])

    first = sage.change_budget(command)
    rows = sage.rows("bdglin")
    second = sage.change_budget(command)

    assert first == {"budget": "24001", "changed": "1", "added": "1"}
    assert second == {"budget": "24001", "changed": "0", "added": "0"}  # nothing left to do
    assert sage.rows("bdglin") == rows  # the very same rows, upddte included


def test_change_of_a_job_without_a_budget_is_refused(sage: EmbeddedSage) -> None:
    with pytest.raises(SageError) as caught:
        sage.change_budget(change([{"cost_code": "3300.000", "amounts": {"1": "1"}}]))
    assert caught.value.code == INVALID_REFERENCE
    assert caught.value.message == ("Invalid object reference: job 24001 has no budget in "
                                    "Sage; export the budget first (budget.recnum)")
    assert counts(sage) == (0, 0)
    with pytest.raises(SageError) as unknown:
        sage.change_budget(change([{"cost_code": "3300.000", "amounts": {"1": "1"}}],
                                  job=99001))
    assert unknown.value.code == INVALID_REFERENCE and "job 99001 does not exist" in (
        unknown.value.message)


def test_change_of_a_locked_budget_is_refused(sage: EmbeddedSage) -> None:
    sage.add_budget(add())
    lock(sage)
    rows = sage.rows("bdglin")
    with pytest.raises(SageError) as caught:
        sage.change_budget(change([{"cost_code": "3300.000", "amounts": {"1": "1"}}]))
    assert caught.value.code == INVALID_DATA and "is locked in Sage" in caught.value.message
    assert sage.rows("bdglin") == rows


@pytest.mark.parametrize(("bad", "code", "words"), [
    ({"phase": 9, "cost_code": "3300.000", "amounts": {"1": "1"}}, INVALID_REFERENCE,
     "phase 9 does not exist on job 24001"),
    ({"cost_code": "4400.000", "amounts": {"1": "1"}}, INVALID_REFERENCE,
     "line 2 cost code 4400.000 does not exist"),
    ({"cost_code": "1100.000", "amounts": {"1": "1"}}, INVALID_DATA,
     "line 2 (no phase, cost code 1100.000) repeats line 1"),
    ({"cost_code": "9900.000", "amounts": {"1": "12345678901"}}, INVALID_DATA,
     "is too large for bdglin.matbdg"),
], ids=["new-line-phase", "new-line-cost-code", "duplicate", "over-12-2"])
def test_a_refused_change_writes_nothing(sage: EmbeddedSage, bad: dict[str, Any], code: int,
                                         words: str) -> None:
    sage.add_budget(add())
    rows = sage.rows("bdglin")
    with pytest.raises(SageError) as caught:
        sage.change_budget(change([{"cost_code": "1100.000", "amounts": {"2": "999"}}, bad]))
    assert caught.value.code == code and words in caught.value.message
    assert sage.rows("bdglin") == rows  # the first line's update is not there either


def test_an_existing_row_may_change_after_its_cost_code_became_inactive(
        sage: EmbeddedSage) -> None:
    sage.add_budget(add())
    with sqlite3.connect(sage.path) as conn:
        conn.execute("UPDATE cstcde SET inactv = 'T' WHERE recnum = 1100")
    sage.change_budget(change([{"cost_code": "1100.000", "amounts": {"2": "0"}}]))
    assert line(sage, "1100.000")["ttlbdg"] == Decimal("0.00")


# ---- find_budget -----------------------------------------------------------------------------


def test_find_budget_answers_whether_the_add_happened(sage: EmbeddedSage) -> None:
    payload = add()
    assert sage.find_budget(payload) is None
    keys = sage.add_budget(payload)
    assert sage.find_budget(payload) == keys
    # Another amount (or an amount in another column) is not this add.
    sage.change_budget(change([{"cost_code": "1100.000", "amounts": {"1": "1"}}]))
    assert sage.find_budget(payload) is None
    assert sage.find_budget(add(job=99001)) is None
    assert sage.find_budget(add(job=10**12)) is None


# ---- the budget pull -------------------------------------------------------------------------


def read_all(reader: Any, limit: int, job: int | None = None
             ) -> tuple[list[list[dict[str, Any]]], list[str | None]]:
    pages, cursors, cursor = [], [], None
    while True:
        rows, cursor = reader.read("budgets", after=cursor, limit=limit, job=job)
        pages.append(rows)
        cursors.append(cursor)
        if cursor is None:
            return pages, cursors


@pytest.fixture
def budgets(sage: EmbeddedSage) -> EmbeddedSage:
    sage.add_budget(add())
    sage.add_budget(add(job=24002, lines=[
        {"phase": 1, "cost_code": "2200.000", "unit": "SF", "amounts": {"2": "3000"}},
        {"cost_code": "26000.000", "amounts": {"4": "12000.40"}}]))
    lock(sage, 24002)
    return sage


def test_budget_rows_in_pages_ordered_by_job_phase_and_cost_code(
        budgets: EmbeddedSage) -> None:
    pages, cursors = read_all(budgets, 2)

    keys = [[(r["job"], r["phase"], r["cost_code"]) for r in page] for page in pages]
    assert keys == [
        [(24001, None, "1100.000"), (24001, None, "3300.000")],
        [(24001, 2, "5120.000"), (24001, 2, "9900.000")],
        [(24002, None, "26000.000"), (24002, 1, "2200.000")],
    ]
    assert cursors == ['[24001,0,"3300.000"]', '[24001,2,"9900.000"]', None]
    assert pages[0][1] == {"job": 24001, "phase": None, "line": 1, "cost_code": "3300.000",
                           "unit": "CY", "amounts": {"1": "1200.00", "4": "800.50"},
                           "originals": {"1": "1000.00"}, "total": "2000.50",
                           "locked": False}
    assert pages[2] == [
        {"job": 24002, "phase": None, "line": 1, "cost_code": "26000.000", "unit": "",
         "amounts": {"4": "12000.40"}, "originals": {"4": "12000.40"}, "total": "12000.40",
         "locked": True},
        {"job": 24002, "phase": 1, "line": 1, "cost_code": "2200.000", "unit": "SF",
         "amounts": {"2": "3000.00"}, "originals": {"2": "3000.00"}, "total": "3000.00",
         "locked": True}]


def test_the_budget_pull_narrows_to_one_job(budgets: EmbeddedSage) -> None:
    pages, cursors = read_all(budgets, 3, job=24002)
    assert [[r["cost_code"] for r in page] for page in pages] == [["26000.000", "2200.000"]]
    assert cursors == [None]
    assert read_all(budgets, 3, job=23099) == ([[]], [None])
    rows, cursor = budgets.read("budgets", after='[24001,0,"3300.000"]', limit=1, job=24001)
    assert [r["cost_code"] for r in rows] == ["5120.000"] and cursor == '[24001,2,"5120.000"]'


def test_lines_without_a_header_read_as_not_locked(sage: EmbeddedSage) -> None:
    with sqlite3.connect(sage.path) as conn:  # a line Sage holds without its header
        conn.execute("INSERT INTO bdglin (_idnum, recnum, phsnum, linnum, cstcde, othbdg, "
                     "ttlbdg) VALUES ('L-1', 24002, 0, 1, 9900, 5.5, 5.5)")
    rows, _ = sage.read("budgets", after=None, limit=5)
    assert rows == [{"job": 24002, "phase": None, "line": 1, "cost_code": "9900.000",
                     "unit": "", "amounts": {"5": "5.50"}, "originals": {}, "total": "5.50",
                     "locked": False}]


@pytest.mark.parametrize("limit", [1, 2, 5])
@pytest.mark.parametrize("job", [None, 24001])
def test_a_configured_url_reads_the_same_budget_rows(budgets: EmbeddedSage, limit: int,
                                                     job: int | None) -> None:
    # The agent's reader for a real Sage database URL, pointed at the embedded file.
    url = URL.create("sqlite", database=str(budgets.path)).render_as_string()
    assert read_all(SageReads.connect(url), limit, job) == read_all(budgets, limit, job)


@pytest.mark.parametrize(("after", "job"), [
    (None, None), ('[24001,2,"5120.000"]', None), (None, 24001),
    ('[24001,0,"3300.000"]', 24001)])
def test_the_budget_statement_compiles_for_sql_server(after: str | None,
                                                      job: int | None) -> None:
    statement = read_statement("budgets", after=after, limit=200, job=job)
    sql = str(statement.compile(dialect=sqlalchemy.dialects.mssql.dialect(),
                                compile_kwargs={"literal_binds": True}))
    assert sql.startswith("SELECT TOP 201 dbo.bdglin.recnum, dbo.bdglin.phsnum"), sql
    assert ("FROM dbo.bdglin LEFT OUTER JOIN dbo.budget ON dbo.budget.recnum = "
            "dbo.bdglin.recnum") in sql
    assert "dbo.budget.lckedt" in sql and "dbo.bdglin.cs9org" in sql
    assert sql.endswith("ORDER BY dbo.bdglin.recnum, dbo.bdglin.phsnum, dbo.bdglin.cstcde")
    assert "LIMIT" not in sql.upper() and "NOCASE" not in sql.upper()
    if job is not None:
        assert f"WHERE dbo.bdglin.recnum = {job}" in sql
    if after == '[24001,2,"5120.000"]':  # keyset over three columns, a decimal last
        assert ("dbo.bdglin.recnum > 24001 OR dbo.bdglin.recnum = 24001 AND "
                "(dbo.bdglin.phsnum > 2 OR dbo.bdglin.phsnum = 2 AND "
                "dbo.bdglin.cstcde > 5120.000)") in sql, sql
