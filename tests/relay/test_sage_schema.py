"""The embedded Sage's schema against Sage's real columns for everything the connector
reads or writes (tests/relay/test_sage_reads.py covers the read statements)."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import pytest
import sqlalchemy.dialects.mssql

from chalicelib.relay_protocol import JobPayload, SubcontractPayload
from relay.sage.embedded import EmbeddedSage
from relay.sage.tables import metadata

REAL_SCHEMA = Path("/work/shared/reference/sage-schema/real_schema.json")

# Table -> column -> (SQL Server type, nullable) for every column the connector reads or
# writes through the port (pulls, adds, modifies, the reconciliation look-ups, the checks).
# Copied from reference/sage-schema/real_schema.json (`tables.<t>.columns.<c>.type`); a
# type that file knows only as a family of the 2012 SMB classes (`type_basis` "family:...",
# no size) is written "~decimal", "~int", "~string" or "~date" and matches any type of that
# family. Nullable: real_schema.json's value where it has one (_idnum NOT NULL and the
# audit columns NULL, the EF scaffold's convention); it has none (null) for every other
# column here, and the choice is the stricter NOT NULL, the convention of every table the
# EF scaffold shows: text '' and numbers 0 rather than NULL (docs/decisions.md).

SAGE_COLUMNS: dict[str, dict[str, tuple[str, bool]]] = {
    "actrec": {
        "_idnum": ("uniqueidentifier", False), "recnum": ("bigint", False),
        "jobnme": ("nvarchar(75)", False), "shtnme": ("nvarchar(30)", False),
        "status": ("tinyint", False), "retain": ("decimal(12,2)", False),
        "addrs1": ("nvarchar(50)", False), "ctynme": ("nvarchar(50)", False),
        "state_": ("nvarchar(2)", False), "zipcde": ("nvarchar(10)", False),
        "insdte": ("datetime", True), "insusr": ("nvarchar(128)", True),
        "upddte": ("datetime", True), "updusr": ("nvarchar(128)", True),
    },
    "actpay": {
        "_idnum": ("uniqueidentifier", False), "recnum": ("bigint", False),
        "vndnme": ("nvarchar(75)", False), "shtnme": ("nvarchar(30)", False),
        "inactv": ("tinyint", False), "fedidn": ("nvarchar(64)", False),
        "addrs1": ("nvarchar(50)", False), "ctynme": ("nvarchar(50)", False),
        "state_": ("nvarchar(2)", False), "zipcde": ("nvarchar(10)", False),
        "insdte": ("datetime", True), "insusr": ("nvarchar(128)", True),
        "upddte": ("datetime", True), "updusr": ("nvarchar(128)", True),
    },
    "cstcde": {
        "recnum": ("decimal(15,3)", False), "cdenme": ("nvarchar(50)", False),
        "untdsc": ("nvarchar(10)", False), "inactv": ("nvarchar(2)", False),
    },
    "csttyp": {
        "recnum": ("bigint", False), "typnme": ("~string", False),
    },
    "jobphs": {
        "recnum": ("bigint", False), "phsnum": ("bigint", False), "phsnme": ("~string", False),
    },
    "subcon": {
        "_idnum": ("uniqueidentifier", False), "recnum": ("bigint", False),
        "ctcnum": ("nvarchar(20)", False), "condte": ("~date", False),
        "vndnum": ("bigint", False), "jobnum": ("bigint", False), "phsnum": ("bigint", False),
        "dscrpt": ("nvarchar(50)", False), "status": ("tinyint", False),
        "rtnrte": ("~decimal", False), "lckedt": ("~int", False),
        "cntttl": ("~decimal", False), "chgttl": ("~decimal", False),
        "ctcttl": ("~decimal", False), "invttl": ("decimal(12,2)", False),
        "balttl": ("~decimal", False), "insdte": ("datetime", True),
        "insusr": ("nvarchar(128)", True), "upddte": ("datetime", True),
        "updusr": ("nvarchar(128)", True),
    },
    "sbcnln": {
        "_idnum": ("uniqueidentifier", False), "_idref": ("uniqueidentifier", False),
        "recnum": ("bigint", False), "linnum": ("~int", False),
        "dscrpt": ("nvarchar(50)", False), "cstcde": ("decimal(15,3)", False),
        "csttyp": ("tinyint", False), "amount": ("~decimal", False),
        "change": ("~decimal", False), "cntrct": ("~decimal", False),
        "billed": ("~decimal", False), "remain": ("~decimal", False),
        "insdte": ("datetime", True), "insusr": ("nvarchar(128)", True),
    },
    "pchord": {
        "_idnum": ("uniqueidentifier", False), "recnum": ("bigint", False),
        "ordnum": ("nvarchar(20)", False), "orddte": ("~date", False),
        "vndnum": ("bigint", False), "jobnum": ("bigint", False), "phsnum": ("bigint", False),
        "dscrpt": ("nvarchar(50)", False), "status": ("tinyint", False),
        "pchttl": ("~decimal", False), "pchbal": ("~decimal", False),
        "lckedt": ("~int", False), "insdte": ("datetime", True),
        "insusr": ("nvarchar(128)", True), "upddte": ("datetime", True),
        "updusr": ("nvarchar(128)", True),
    },
    "pcorln": {
        "_idnum": ("uniqueidentifier", False), "_idref": ("uniqueidentifier", False),
        "recnum": ("bigint", False), "linnum": ("~int", False), "prtdsc": ("~string", False),
        "linqty": ("~decimal", False), "linprc": ("~decimal", False),
        "extttl": ("~decimal", False), "rcvdte": ("~decimal", False),
        "cancel": ("~decimal", False), "cstcde": ("decimal(15,3)", False),
        "csttyp": ("tinyint", False), "insdte": ("datetime", True),
        "insusr": ("nvarchar(128)", True),
    },
    # The tables budgets, change orders, owner invoices and job cost reads need (the
    # `needed` columns of real_schema.json's bdglin, prmchg, cstdiv, source, reccln, acrinv,
    # arivln, acrpmt, plus _idnum/_idref and the audit columns); the same file, same rules.
    "bdglin": {
        "_idnum": ("uniqueidentifier", False), "recnum": ("bigint", False),
        "phsnum": ("bigint", False), "linnum": ("~int", False),
        "cstcde": ("decimal(15,3)", False), "untdsc": ("~string", False),
        "hrsbdg": ("~decimal", False), "matbdg": ("~decimal", False),
        "labbdg": ("~decimal", False), "eqpbdg": ("~decimal", False),
        "subbdg": ("~decimal", False), "othbdg": ("~decimal", False),
        "usrcs6": ("~decimal", False), "usrcs7": ("~decimal", False),
        "usrcs8": ("~decimal", False), "usrcs9": ("~decimal", False),
        "ttlbdg": ("~decimal", False), "estunt": ("~decimal", False),
        "untcst": ("~decimal", False), "hrsorg": ("~decimal", False),
        "matorg": ("~decimal", False), "laborg": ("~decimal", False),
        "eqporg": ("~decimal", False), "suborg": ("~decimal", False),
        "othorg": ("~decimal", False), "cs6org": ("~decimal", False),
        "cs7org": ("~decimal", False), "cs8org": ("~decimal", False),
        "cs9org": ("~decimal", False), "ttlorg": ("~decimal", False),
        "insdte": ("datetime", True), "insusr": ("nvarchar(128)", True),
        "upddte": ("datetime", True), "updusr": ("nvarchar(128)", True),
    },
    "budget": {  # written by add_budget (header), read by the budget pull (lckedt)
        "_idnum": ("uniqueidentifier", False), "recnum": ("bigint", False),
        "lckedt": ("~int", False), "insdte": ("datetime", True),
        "insusr": ("nvarchar(128)", True),
    },
    "prmchg": {
        "_idnum": ("uniqueidentifier", False), "recnum": ("bigint", False),
        "chgnum": ("nvarchar(20)", False), "chgdte": ("~date", False),
        "jobnum": ("bigint", False), "phsnum": ("bigint", False),
        "dscrpt": ("nvarchar(50)", False), "status": ("tinyint", False),
        "reqamt": ("~decimal", False), "appamt": ("~decimal", False),
        "cstamt": ("decimal(12,2)", False), "insdte": ("datetime", True),
        "insusr": ("nvarchar(128)", True), "upddte": ("datetime", True),
        "updusr": ("nvarchar(128)", True),
    },
    "pmcgln": {  # read by the receivables pull (approved prime changes)
        "_idnum": ("uniqueidentifier", False), "_idref": ("uniqueidentifier", False),
        "aprprc": ("~decimal", False),
    },
    "cstdiv": {
        "_idnum": ("uniqueidentifier", False), "recnum": ("bigint", False),
        "divnme": ("~string", False), "insdte": ("datetime", True),
    },
    "source": {
        "_idnum": ("uniqueidentifier", False), "recnum": ("bigint", False),
        "srcnme": ("~string", False), "srcdsc": ("~string", False),
        "insdte": ("datetime", True),
    },
    "reccln": {
        "_idnum": ("uniqueidentifier", False), "recnum": ("bigint", False),
        "clnnme": ("~string", False), "shtnme": ("nvarchar(30)", False),
        "insdte": ("datetime", True),
    },
    "acrinv": {  # the EF scaffold: types and NULL / NOT NULL observed on a live company
        "_idnum": ("uniqueidentifier", False), "recnum": ("bigint", False),
        "invnum": ("nvarchar(20)", False), "jobnum": ("bigint", False),
        "phsnum": ("bigint", False), "invdte": ("date", True), "duedte": ("date", True),
        "dscrpt": ("nvarchar(50)", False), "invtyp": ("tinyint", False),
        "status": ("tinyint", False), "invttl": ("decimal(12,2)", False),
        "retain": ("decimal(12,2)", False), "amtpad": ("decimal(12,2)", False),
        "invbal": ("decimal(12,2)", False), "invnet": ("decimal(12,2)", False),
        "actper": ("tinyint", False), "postyr": ("smallint", False),
        "insdte": ("datetime", True), "insusr": ("nvarchar(128)", True),
        "upddte": ("datetime", True), "updusr": ("nvarchar(128)", True),
    },
    "arivln": {
        "_idnum": ("uniqueidentifier", False), "_idref": ("uniqueidentifier", False),
        "recnum": ("bigint", False), "linnum": ("~int", False),
        "dscrpt": ("nvarchar(50)", False), "linqty": ("~decimal", False),
        "linprc": ("~decimal", False), "extprc": ("~decimal", False),
        "cstcde": ("decimal(15,3)", False), "insdte": ("datetime", True),
    },
    # What the payments pull reads (relay/sage/tables.py): the invoice, the payment; what
    # the job cost pull reads of the invoice (its commitment); and what the commitments
    # pull sums (its total and what was paid).
    "acpinv": {
        "_idnum": ("uniqueidentifier", False), "recnum": ("bigint", False),
        "invnum": ("nvarchar(20)", False), "vndnum": ("bigint", False),
        "jobnum": ("bigint", True), "status": ("tinyint", False),
        "invbal": ("decimal(12,2)", False), "pchord": ("nvarchar(20)", False),
        "ctcnum": ("nvarchar(20)", False), "invttl": ("decimal(12,2)", False),
        "amtpad": ("decimal(12,2)", False),
    },
    # What the job cost pull reads (relay/sage/tables.py).
    "jobcst": {
        "recnum": ("bigint", False), "jobnum": ("bigint", False), "phsnum": ("bigint", False),
        "trnnum": ("nvarchar(20)", False), "trndte": ("date", True),
        "dscrpt": ("nvarchar(50)", False), "cstcde": ("decimal(15,3)", False),
        "csttyp": ("tinyint", False), "cstamt": ("decimal(12,2)", False),
        "csthrs": ("decimal(7,2)", False), "vndnum": ("bigint", True),
        "empnum": ("bigint", True), "eqpnum": ("bigint", True), "srcnum": ("tinyint", False),
        "actprd": ("tinyint", False), "postyr": ("smallint", False),
        "status": ("tinyint", False), "insdte": ("datetime", True),
        "upddte": ("datetime", True),
    },
    "acppmt": {
        "_idnum": ("uniqueidentifier", False), "_idref": ("uniqueidentifier", False),
        "recnum": ("bigint", False), "chknum": ("nvarchar(20)", False),
        "chkdte": ("date", False), "amount": ("~decimal", False),
    },
    "acrpmt": {
        "_idnum": ("uniqueidentifier", False), "_idref": ("uniqueidentifier", False),
        "recnum": ("bigint", False), "chknum": ("nvarchar(20)", False),
        "chkdte": ("date", False),
        "amount": ("~decimal", False), "dsctkn": ("decimal(12,2)", False),
        "aplcrd": ("~decimal", False), "insdte": ("datetime", True),
    },
}


_FAMILIES = {
    "decimal": re.compile(r"decimal\(\d+,\d+\)"),
    "int": re.compile(r"(tiny|small|big)?int(eger)?"),  # INTEGER: SQLAlchemy's int on mssql
    "string": re.compile(r"nvarchar\((\d+|max)\)"),
    "date": re.compile(r"date"),
}


def _normal(sql_type: str) -> str:
    return re.sub(r"\s+", "", sql_type).lower()


def _matches(expected: str, declared: str) -> bool:
    if expected.startswith("~"):
        return _FAMILIES[expected[1:]].fullmatch(_normal(declared)) is not None
    return _normal(expected) == _normal(declared)


@pytest.fixture(scope="module")
def embedded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, tuple[str, bool]]]:
    """table -> column -> (declared type, nullable) of a freshly initialized file."""
    db = EmbeddedSage(tmp_path_factory.mktemp("schema") / "sage.db")
    db.init()
    with sqlite3.connect(db.path) as conn:
        return {table: {row[1]: (row[2], not row[3])
                        for row in conn.execute(f"PRAGMA table_info({table})")}
                for table in SAGE_COLUMNS}


@pytest.mark.parametrize("table", list(SAGE_COLUMNS))
def test_embedded_columns_have_sages_types_and_nullability(
        embedded: dict[str, dict[str, tuple[str, bool]]], table: str) -> None:
    mismatches = []
    for column, (expected, nullable) in SAGE_COLUMNS[table].items():
        if column not in embedded[table]:
            mismatches.append(f"{table}.{column} is missing")
            continue
        declared, is_nullable = embedded[table][column]
        if not _matches(expected, declared):
            mismatches.append(f"{table}.{column} is {declared}, Sage's is {expected}")
        if is_nullable != nullable:
            mismatches.append(f"{table}.{column} is {'NULL' if is_nullable else 'NOT NULL'}")
    assert mismatches == []


def test_read_metadata_has_the_same_types_and_nullability() -> None:
    # relay/sage/tables.py: what the agent's reads compile against on a real Sage.
    mssql = sqlalchemy.dialects.mssql.dialect()
    checked = 0
    for table in metadata.tables.values():
        for column in table.columns:
            expected, nullable = SAGE_COLUMNS[table.name][column.name]
            assert _matches(expected, column.type.compile(dialect=mssql)), column
            assert column.nullable == nullable, column
            checked += 1
    # jobs..phases, budget, bdglin, acpinv, acppmt, acrinv, acrpmt, prmchg, pmcgln,
    # source, jobcst, subcon, pchord
    assert checked == 26 + 2 + 25 + 11 + 6 + 8 + 6 + 4 + 3 + 2 + 19 + 9 + 6


@pytest.mark.skipif(not REAL_SCHEMA.exists(), reason="the reference material is not here")
def test_the_list_is_real_schema_json() -> None:
    real = json.loads(REAL_SCHEMA.read_text())["tables"]
    for table, columns in SAGE_COLUMNS.items():
        for column, (expected, nullable) in columns.items():
            known = real[table]["columns"][column]
            assert expected.lstrip("~") == known["type"], (table, column)
            assert expected.startswith("~") == (
                known["type_basis"].startswith("family:") and "(" not in known["type"])
            assert nullable == (False if known["nullable"] is None else known["nullable"]), (
                table, column)


def test_sages_conventions_for_empty_values(tmp_path: Path) -> None:
    # "no phase" is 0, optional text '' (never NULL), and the dates Sage requires are there.
    db = EmbeddedSage(tmp_path / "sage.db")
    db.init()
    db.seed_demo()
    db.add_job(JobPayload(job=24010, name="Harbor"))
    keys = db.add_subcontract(SubcontractPayload.model_validate({
        "job": 24010, "vendor": 3002, "number": "SC-1", "description": "Electrical",
        "lines": [{"line_number": 1, "description": "Rough-in", "cost_code": "26000.000",
                   "cost_type": 4, "amount": "100.00"}]}))
    subcon = db.subcontract(keys["subcon"])
    job = db.rows("actrec", {"recnum": 24010})[0]
    vendor = db.rows("actpay", {"recnum": 3002})[0]
    assert subcon["phsnum"] == 0 and subcon["condte"] is not None
    assert (job["addrs1"], job["ctynme"], job["state_"], job["zipcde"]) == ("", "", "", "")
    assert vendor["fedidn"] == ""


@pytest.mark.skipif(not REAL_SCHEMA.exists(), reason="the reference material is not here")
def test_every_embedded_column_is_as_real_schema_json_knows_it(tmp_path: Path) -> None:
    # Beyond what the connector touches: change orders, budgets, payables, job cost too.
    real = json.loads(REAL_SCHEMA.read_text())["tables"]
    db = EmbeddedSage(tmp_path / "sage.db")
    db.init()
    problems = []
    with sqlite3.connect(db.path) as conn:
        for table in db.tables():
            for row in conn.execute(f"PRAGMA table_info({table})"):
                column, declared, not_null = row[1], row[2], bool(row[3])
                known = real[table]["columns"].get(column)
                if known is None:
                    problems.append(f"{table}.{column} is not a Sage column")
                    continue
                family = known["type_basis"].startswith("family:") and "(" not in known["type"]
                expected = ("~" + known["family"]) if family else known["type"]
                if not _matches(expected, declared):
                    problems.append(f"{table}.{column} is {declared}, Sage's is {expected}")
                if known["nullable"] is not None and known["nullable"] == not_null:
                    problems.append(f"{table}.{column} nullability differs")
    assert problems == []


def test_sages_keys_and_required_columns_of_the_new_tables(tmp_path: Path) -> None:
    # prmchg.chgdte is required; change numbers are unique per job + phase (Sage numbers
    # each phase on its own); budget lines are keyed by job, phase and line number.
    db = EmbeddedSage(tmp_path / "sage.db")
    db.init()
    insert_co = ("INSERT INTO prmchg (_idnum, recnum, chgnum, chgdte, jobnum, phsnum) "
                 "VALUES (?, ?, ?, ?, 24001, ?)")
    insert_line = ("INSERT INTO bdglin (_idnum, recnum, phsnum, linnum, cstcde) "
                   "VALUES (?, 24001, 0, ?, ?)")
    with sqlite3.connect(db.path) as conn:
        conn.execute(insert_co, ("A", 1, "CO-1", "2025-03-01", 0))
        conn.execute(insert_co, ("B", 2, "CO-1", "2025-03-01", 1))  # another phase
        with pytest.raises(sqlite3.IntegrityError):
            conn.execute(insert_co, ("C", 3, "co-1", "2025-03-01", 0))
        with pytest.raises(sqlite3.IntegrityError):
            conn.execute(insert_co, ("D", 4, "CO-2", None, 0))
        conn.execute(insert_line, ("E", 1, 1000))
        with pytest.raises(sqlite3.IntegrityError):
            conn.execute(insert_line, ("F", 1, 2000))
