"""The embedded Sage company database: Sage's rules, codes, totals, CLI and concurrency.

Every refusal is checked twice: the Sage error code, and that nothing was written.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from chalicelib.relay_protocol import (
    PurchaseOrderHeaderPayload,
    PurchaseOrderPayload,
    SubcontractHeaderPayload,
    SubcontractLine,
    SubcontractPayload,
)
from relay.sage.embedded import EmbeddedSage, normalize_cost_code
from relay.sage.port import (
    CONSTRAINT_FAILED,
    DUPLICATE_KEY,
    INVALID_DATA,
    INVALID_REFERENCE,
    UNAVAILABLE,
    SageError,
    SagePort,
)

ROOT = Path(__file__).resolve().parents[2]
COMMITMENT_TABLES = ("subcon", "sbcnln", "pchord", "pcorln")


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo company plus a few extras, built once; each test gets a copy."""
    db = EmbeddedSage(tmp_path_factory.mktemp("template") / "sage.db")
    db.init()
    db.seed_demo()
    with db.batch():
        db.add_cost_code("8800.000", "Retired Finishes", inactive=True)
        db.seed_job(24003, "Lost Bid Clinic", status=2)
    assert not db.path.with_name("sage.db-wal").exists()  # checkpointed on last close
    return db.path


@pytest.fixture
def sage(template: Path, tmp_path: Path) -> EmbeddedSage:
    shutil.copyfile(template, tmp_path / "sage.db")
    return EmbeddedSage(tmp_path / "sage.db")


def sub(**overrides: Any) -> SubcontractPayload:
    data: dict[str, Any] = {
        "job": 24001,
        "vendor": 3001,
        "number": "SC-001",
        "description": "Foundations and slab on grade",
        "retention_rate": "10",
        "lines": [
            {"line_number": 1, "description": "Footings", "cost_code": "3300.000",
             "cost_type": 4, "amount": "1500.00"},
            {"line_number": 2, "description": "Mobilization", "cost_code": "1100.000",
             "cost_type": 4, "amount": "250.50"},
        ],
    }
    data.update(overrides)
    return SubcontractPayload.model_validate(data)


def sub_line(**overrides: Any) -> dict[str, Any]:
    line = {"line_number": 1, "description": "Footings", "cost_code": "3300.000",
            "cost_type": 4, "amount": "1500.00"}
    return {**line, **overrides}


def po(**overrides: Any) -> PurchaseOrderPayload:
    data: dict[str, Any] = {
        "job": 24001,
        "vendor": 3003,
        "number": "PO-24001-001",
        "description": "Anchor bolts and embeds",
        "lines": [
            {"line_number": 1, "description": "Anchor bolts 3/4 in", "quantity": "120",
             "unit_price": "4.25", "amount": "510.00", "cost_code": "5120.000",
             "cost_type": 1},
            {"line_number": 2, "description": "Embed plates", "quantity": "12",
             "unit_price": "37.125", "amount": "445.50", "cost_code": "5120.000",
             "cost_type": 1},
        ],
    }
    data.update(overrides)
    return PurchaseOrderPayload.model_validate(data)


def po_line(**overrides: Any) -> dict[str, Any]:
    line = {"line_number": 1, "description": "Anchor bolts", "quantity": "1",
            "unit_price": "100", "amount": "100.00", "cost_code": "5120.000", "cost_type": 1}
    return {**line, **overrides}


def sub_header(**overrides: Any) -> SubcontractHeaderPayload:
    """A modify of the subcontract sub() adds first (subcon 1, SC-001 on job 24001)."""
    data: dict[str, Any] = {
        "job": 24001,
        "record": 1,
        "number": "SC-001",
        "description": "Foundations, slab and ramps",
        "status": 4,
        "retention_rate": "5.5",
        "contract_date": "2025-04-15",
    }
    data.update(overrides)
    return SubcontractHeaderPayload.model_validate(data)


def po_header(**overrides: Any) -> PurchaseOrderHeaderPayload:
    """A modify of the purchase order po() adds first (pchord 1, PO-24001-001)."""
    data: dict[str, Any] = {
        "job": 24001,
        "record": 1,
        "number": "PO-24001-001",
        "description": "Anchor bolts, embeds and plates",
        "status": 2,
        "order_date": "2025-05-02",
    }
    data.update(overrides)
    return PurchaseOrderHeaderPayload.model_validate(data)


def lock_for_editing(db: EmbeddedSage, table: str, recnum: int) -> None:
    """What a Sage user does with Lock Edit on a record (lckedt = 1)."""
    with sqlite3.connect(db.path) as conn:
        conn.execute(f"UPDATE {table} SET lckedt = 1 WHERE recnum = ?", (recnum,))


def counts(db: EmbeddedSage) -> dict[str, int]:
    return {table: db.count(table) for table in COMMITMENT_TABLES}


def refused(db: EmbeddedSage, write: Any, code: int) -> SageError:
    """Run ``write``; it must fail with ``code`` and leave every commitment table as it was."""
    before = counts(db)
    with pytest.raises(SageError) as caught:
        write()
    assert caught.value.code == code, caught.value.message
    assert caught.value.retryable is False
    assert counts(db) == before
    return caught.value


# ---- schema and seed ------------------------------------------------------------------------


def test_init_is_idempotent_and_uses_sage_names(tmp_path: Path) -> None:
    db = EmbeddedSage(tmp_path / "nested" / "sage.db")
    db.init()
    db.init()
    expected = {"actrec", "jobphs", "cstcde", "csttyp", "actpay", "subcon", "sbcnln",
                "pchord", "pcorln", "prmchg", "pmcgln", "sbcgln", "bdglin", "budget",
                "acpinv", "acppmt", "apivln", "jobcst"}
    assert expected <= set(db.tables())
    for table in db.tables():
        assert {"_idnum", "recnum", "insdte", "upddte"} <= set(db.columns(table)), table
    with sqlite3.connect(db.path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_embedded_sage_satisfies_the_port(sage: EmbeddedSage) -> None:
    port: SagePort = sage
    assert port.find_subcontract(24001, "none") is None


def test_seed_demo_creates_the_demo_company_once(tmp_path: Path) -> None:
    db = EmbeddedSage(tmp_path / "sage.db")
    db.init()
    assert db.seed_demo() == 31
    assert [(r["recnum"], r["typnme"]) for r in db.rows("csttyp")] == [
        (1, "Material"), (2, "Labor"), (3, "Equipment"), (4, "Subcontract"), (5, "Other"),
        (6, "User Def Type 6"), (7, "User Def Type 7"), (8, "User Def Type 8"),
        (9, "User Def Type 9")]
    jobs = {r["recnum"]: (r["jobnme"], r["status"]) for r in db.rows("actrec")}
    assert jobs == {24001: ("Riverside Medical Office Building", 4),
                    24002: ("Oak Street Warehouse Renovation", 4),
                    23099: ("Old Library Closeout", 6)}
    vendors = {r["recnum"]: (r["vndnme"], r["shtnme"], r["inactv"]) for r in db.rows("actpay")}
    assert vendors[3002] == ("Northern California Electric", "Northern California Electric", 0)
    assert vendors[3004] == ("Retired Vendor LLC", "Retired Vendor LLC", 1)
    assert set(vendors) == {3001, 3002, 3003, 3004}
    assert [r["recnum"] for r in db.rows("cstcde")] == [
        "1100.000", "2200.000", "3300.000", "5120.000", "9900.000", "26000.000"]
    assert [(r["recnum"], r["srcnme"]) for r in db.rows("source")] == [
        (1, "General Journal"), (10, "Accounts Receivable"), (11, "Accounts Payable"),
        (15, "Payroll"), (17, "Equipment")]
    before = {t: db.count(t) for t in ("csttyp", "actrec", "actpay", "cstcde", "source")}
    assert db.seed_demo() == 0
    assert {t: db.count(t) for t in before} == before


def test_every_row_gets_a_guid_and_audit_columns(sage: EmbeddedSage) -> None:
    job = sage.rows("actrec", {"recnum": 24001})[0]
    assert len(job["_idnum"]) == 36 and job["insdte"] and job["insusr"] == "relay"
    assert job["upddte"] is None
    with sqlite3.connect(sage.path) as conn:
        conn.execute("UPDATE actrec SET jobnme = 'Renamed' WHERE recnum = 24001")
    assert sage.rows("actrec", {"recnum": 24001})[0]["upddte"]  # set by the trigger


# ---- successful writes ----------------------------------------------------------------------


def test_add_subcontract_writes_header_lines_and_totals(sage: EmbeddedSage) -> None:
    keys = sage.add_subcontract(sub(phase=None))
    assert keys == {"subcon": "1", "ctcnum": "SC-001"}
    doc = sage.subcontract(keys["subcon"])
    assert (doc["ctcnum"], doc["jobnum"], doc["vndnum"], doc["status"]) == (
        "SC-001", 24001, 3001, 3)
    assert doc["dscrpt"] == "Foundations and slab on grade"
    assert doc["rtnrte"] == Decimal("10.00")
    assert doc["cntttl"] == Decimal("1750.50") and isinstance(doc["cntttl"], Decimal)
    assert (doc["chgttl"], doc["ctcttl"], doc["invttl"], doc["balttl"]) == (
        Decimal("0.00"), Decimal("1750.50"), Decimal("0.00"), Decimal("1750.50"))
    assert str(doc["cntttl"]) == "1750.50"
    lines = [(ln["linnum"], ln["dscrpt"], ln["cstcde"], ln["csttyp"], ln["amount"],
              ln["change"], ln["cntrct"], ln["billed"], ln["remain"]) for ln in doc["lines"]]
    assert lines == [
        (1, "Footings", "3300.000", 4, Decimal("1500.00"), Decimal("0.00"),
         Decimal("1500.00"), Decimal("0.00"), Decimal("1500.00")),
        (2, "Mobilization", "1100.000", 4, Decimal("250.50"), Decimal("0.00"),
         Decimal("250.50"), Decimal("0.00"), Decimal("250.50")),
    ]
    assert all(ln["_idref"] == doc["_idnum"] and ln["recnum"] == 1 for ln in doc["lines"])
    assert sage.add_subcontract(sub(number="SC-002")) == {"subcon": "2", "ctcnum": "SC-002"}


def test_add_subcontract_on_a_phase_with_a_credit_line(sage: EmbeddedSage) -> None:
    keys = sage.add_subcontract(sub(job=24002, phase=1, retention_rate=None, lines=[
        sub_line(amount="1000.00"),
        sub_line(line_number=2, description="Owner-supplied rebar credit", amount="-200.25"),
    ]))
    doc = sage.subcontract(keys["subcon"])
    assert doc["phsnum"] == 1 and doc["rtnrte"] == Decimal("0.00")
    assert doc["cntttl"] == Decimal("799.75") == doc["balttl"]


def test_add_purchase_order_writes_header_lines_and_totals(sage: EmbeddedSage) -> None:
    keys = sage.add_purchase_order(po())
    assert keys == {"pchord": "1", "ordnum": "PO-24001-001"}
    doc = sage.purchase_order(1)
    assert (doc["ordnum"], doc["jobnum"], doc["vndnum"], doc["status"]) == (
        "PO-24001-001", 24001, 3003, 1)
    assert doc["pchttl"] == Decimal("955.50") == doc["pchbal"]
    lines = [(ln["linnum"], ln["prtdsc"], ln["linqty"], ln["linprc"], ln["extttl"],
              ln["rcvdte"], ln["cancel"], ln["cstcde"], ln["csttyp"]) for ln in doc["lines"]]
    assert lines == [
        (1, "Anchor bolts 3/4 in", Decimal("120"), Decimal("4.25"), Decimal("510.00"),
         Decimal("0"), Decimal("0"), "5120.000", 1),
        (2, "Embed plates", Decimal("12"), Decimal("37.125"), Decimal("445.50"),
         Decimal("0"), Decimal("0"), "5120.000", 1),
    ]
    assert str(doc["lines"][1]["linprc"]) == "37.1250"


def test_add_writes_the_contract_and_order_dates(sage: EmbeddedSage) -> None:
    # Sage requires both dates (condte, orddte NOT NULL): without one, today's, as Sage's
    # entry form starts a new record.
    sage.today = lambda: date(2025, 6, 30)
    dated = sage.add_subcontract(sub(contract_date="2025-03-01"))
    undated = sage.add_subcontract(sub(number="SC-002"))
    assert sage.subcontract(dated["subcon"])["condte"] == date(2025, 3, 1)
    assert sage.subcontract(undated["subcon"])["condte"] == date(2025, 6, 30)
    ordered = sage.add_purchase_order(po(order_date="2025-03-07"))
    unordered = sage.add_purchase_order(po(number="PO-24001-002"))
    assert sage.purchase_order(ordered["pchord"])["orddte"] == date(2025, 3, 7)
    assert sage.purchase_order(unordered["pchord"])["orddte"] == date(2025, 6, 30)


def test_a_file_of_an_older_layout_is_refused_and_left_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as conn:  # the layout before Sage's types: text cost codes
        conn.executescript("CREATE TABLE actrec (recnum INTEGER PRIMARY KEY, jobnme TEXT);"
                           "CREATE TABLE cstcde (recnum TEXT PRIMARY KEY, cdenme TEXT);")
    with pytest.raises(SageError) as caught:
        EmbeddedSage(path).init()
    assert caught.value.code == UNAVAILABLE and not caught.value.retryable
    assert "older layout" in caught.value.message
    assert "python -m relay.sage seed" in caught.value.message
    assert EmbeddedSage(path).tables() == ["actrec", "cstcde"]


def test_cost_codes_are_stored_and_compared_as_numbers(sage: EmbeddedSage) -> None:
    sage.add_cost_code("3300.5", "Footings")
    with sqlite3.connect(sage.path) as conn:
        stored = dict(conn.execute("SELECT recnum, typeof(recnum) FROM cstcde"))
        assert set(stored.values()) <= {"integer", "real"}
        assert conn.execute("SELECT COUNT(*) FROM cstcde WHERE recnum = 3300").fetchone()[0] == 1
        assert [r[0] for r in conn.execute("SELECT recnum FROM cstcde WHERE recnum > 3300 "
                                           "ORDER BY recnum")] == [
            3300.5, 5120, 8800, 9900, 26000]
    error = refused(sage, lambda: sage.add_cost_code("3300.0", "Again"), DUPLICATE_KEY)
    assert "cost code 3300.000 already exists" in error.message
    keys = sage.add_subcontract(sub(lines=[sub_line(cost_code="3300.500")]))
    assert sage.subcontract(keys["subcon"])["lines"][0]["cstcde"] == "3300.500"


def test_find_subcontract_and_purchase_order(sage: EmbeddedSage) -> None:
    assert sage.find_subcontract(24001, "SC-001") is None
    assert sage.find_purchase_order("PO-24001-001") is None
    sc = sage.add_subcontract(sub())
    order = sage.add_purchase_order(po())
    assert sage.find_subcontract(24001, "SC-001") == sc
    assert sage.find_subcontract(24001, "sc-001 ") == sc  # SQL Server collation: same number
    assert sage.find_subcontract(24002, "SC-001") is None  # numbers are per job
    assert sage.find_purchase_order("PO-24001-001") == order
    assert sage.find_purchase_order("po-24001-001") == order
    assert sage.find_purchase_order("PO-9") is None
    assert sage.find_subcontract(10**20, "SC-001") is None


def test_document_numbers_are_trimmed(sage: EmbeddedSage) -> None:
    assert sage.add_subcontract(sub(number="  SC-7 "))["ctcnum"] == "SC-7"


# ---- refusals -------------------------------------------------------------------------------

LONG_51 = "x" * 51


@pytest.mark.parametrize(("overrides", "code", "words"), [
    ({"job": 99999}, INVALID_REFERENCE, "job 99999 does not exist"),
    ({"job": 10**20}, INVALID_REFERENCE, f"job {10**20} does not exist"),
    ({"phase": 7}, INVALID_REFERENCE, "phase 7 does not exist on job 24001"),
    ({"vendor": 9999}, INVALID_REFERENCE, "vendor 9999 does not exist"),
    ({"lines": [sub_line(cost_code="4400.000")]}, INVALID_REFERENCE,
     "cost code 4400.000 does not exist"),
    ({"vendor": 3004}, INVALID_DATA, "vendor 3004 Retired Vendor LLC is inactive"),
    ({"lines": [sub_line(cost_code="8800.000")]}, INVALID_DATA,
     "cost code 8800.000 Retired Finishes is inactive"),
    ({"number": "S" * 21}, INVALID_DATA, "is 21 characters; subcon.ctcnum allows at most 20"),
    ({"number": "   "}, INVALID_DATA, "subcontract number is blank"),
    ({"description": LONG_51}, INVALID_DATA, "subcon.dscrpt allows at most 50"),
    ({"lines": [sub_line(description=LONG_51)]}, INVALID_DATA,
     "line 1 description 'xxx"),
    ({"lines": [sub_line(amount="10.005")]}, INVALID_DATA,
     "line 1 amount 10.005 has more than 2 decimal places"),
    ({"lines": [sub_line(amount="10000000000")]}, INVALID_DATA,
     "too large for sbcnln.amount decimal(12,2)"),
    ({"lines": [sub_line(amount="9999999999.99"),
                sub_line(line_number=2, amount="9999999999.99")]}, INVALID_DATA,
     "subcontract total 19999999999.98 is too large"),
    ({"lines": [sub_line(amount="-5.00")]}, INVALID_DATA, "subcontract total -5.00 is negative"),
    ({"retention_rate": "150"}, INVALID_DATA, "retention rate 150.00 is outside 0-100"),
    ({"lines": [sub_line(), sub_line(description="again")]}, DUPLICATE_KEY,
     "line 1 appears twice"),
])
def test_subcontract_refusals(sage: EmbeddedSage, overrides: dict[str, Any], code: int,
                              words: str) -> None:
    error = refused(sage, lambda: sage.add_subcontract(sub(**overrides)), code)
    assert words in error.message
    assert str(code) in str(error)


def test_line_description_error_names_the_column(sage: EmbeddedSage) -> None:
    error = refused(sage, lambda: sage.add_subcontract(sub(lines=[sub_line(
        description=LONG_51)])), INVALID_DATA)
    assert "51 characters; sbcnln.dscrpt allows at most 50" in error.message


def test_bad_cost_code_format_is_refused_even_past_validation(sage: EmbeddedSage) -> None:
    line = SubcontractLine.model_construct(line_number=1, description="x",
                                           cost_code="0300.000", cost_type=4,
                                           amount=Decimal("1.00"))
    payload = sub().model_copy(update={"lines": [line]})
    error = refused(sage, lambda: sage.add_subcontract(payload), INVALID_DATA)
    assert "'0300.000' is not a valid cost code" in error.message


def test_duplicate_subcontract_number_on_the_job(sage: EmbeddedSage) -> None:
    first = sage.add_subcontract(sub())
    error = refused(sage, lambda: sage.add_subcontract(sub()), CONSTRAINT_FAILED)
    assert "subcontract number 'SC-001' already exists on job 24001" in error.message
    assert f"subcon.recnum {first['subcon']}" in error.message
    refused(sage, lambda: sage.add_subcontract(sub(number="sc-001")), CONSTRAINT_FAILED)
    assert sage.add_subcontract(sub(job=24002))["ctcnum"] == "SC-001"  # other job: fine


def test_missing_cost_type_row_is_an_invalid_reference(tmp_path: Path) -> None:
    db = EmbeddedSage(tmp_path / "sage.db")
    db.init()
    db.seed_job(24001, "Riverside Medical Office Building")
    db.seed_vendor(3001, "Granite Bay Concrete")
    db.add_cost_code("3300", "Cast-in-Place Concrete")
    for number in (1, 2, 3, 4):
        db.add_cost_type(number, f"Type {number}")
    error = refused(db, lambda: db.add_subcontract(sub(lines=[sub_line(cost_type=5)])),
                    INVALID_REFERENCE)
    assert "line 1 cost type 5 does not exist (csttyp.recnum)" in error.message
    assert db.add_subcontract(sub(lines=[sub_line(cost_type=4)]))["subcon"] == "1"


@pytest.mark.parametrize(("overrides", "code", "words"), [
    ({"job": 99999}, INVALID_REFERENCE, "job 99999 does not exist"),
    ({"job": 24002, "phase": 2}, INVALID_REFERENCE, "phase 2 does not exist on job 24002"),
    ({"vendor": 9999}, INVALID_REFERENCE, "vendor 9999 does not exist"),
    ({"lines": [po_line(cost_code="4400.000")]}, INVALID_REFERENCE,
     "cost code 4400.000 does not exist"),
    ({"vendor": 3004}, INVALID_DATA, "is inactive"),
    ({"lines": [po_line(cost_code="8800.000")]}, INVALID_DATA, "is inactive"),
    ({"number": "P" * 21}, INVALID_DATA, "pchord.ordnum allows at most 20"),
    ({"number": ""}, INVALID_DATA, "purchase order number is blank"),
    ({"description": LONG_51}, INVALID_DATA, "pchord.dscrpt allows at most 50"),
    ({"lines": [po_line(description=LONG_51)]}, INVALID_DATA,
     "pcorln.prtdsc allows at most 50"),
    ({"lines": [po_line(amount="1.001")]}, INVALID_DATA, "more than 2 decimal places"),
    ({"lines": [po_line(quantity="1.00001")]}, INVALID_DATA,
     "line 1 quantity 1.00001 has more than 4 decimal places"),
    ({"lines": [po_line(amount="-100.00")]}, INVALID_DATA, "purchase order total -100.00"),
    ({"lines": [po_line(), po_line()]}, DUPLICATE_KEY, "line 1 appears twice"),
])
def test_purchase_order_refusals(sage: EmbeddedSage, overrides: dict[str, Any], code: int,
                                 words: str) -> None:
    error = refused(sage, lambda: sage.add_purchase_order(po(**overrides)), code)
    assert words in error.message


def test_closed_and_refused_jobs_take_commitments(sage: EmbeddedSage) -> None:
    # Sage: "the job status ... does not affect your ability to post to a job".
    assert sage.add_subcontract(sub(job=23099))["subcon"] == "1"  # 6 Closed
    assert sage.add_subcontract(sub(job=24003))["subcon"] == "2"  # 2 Refused
    assert sage.add_purchase_order(po(job=23099))["pchord"] == "1"


def test_no_phase_is_phase_0(sage: EmbeddedSage) -> None:
    sub_keys = sage.add_subcontract(sub(phase=None))
    po_keys = sage.add_purchase_order(po(phase=0))  # 0 is "no phase" too, as in Sage
    assert sage.subcontract(sub_keys["subcon"])["phsnum"] == 0
    assert sage.purchase_order(po_keys["pchord"])["phsnum"] == 0


def test_duplicate_po_number_is_company_wide(sage: EmbeddedSage) -> None:
    sage.add_purchase_order(po())
    error = refused(sage, lambda: sage.add_purchase_order(po(job=24002)), CONSTRAINT_FAILED)
    assert "purchase order number 'PO-24001-001' already exists" in error.message
    refused(sage, lambda: sage.add_purchase_order(po(number="po-24001-001")),
            CONSTRAINT_FAILED)


def test_purchase_order_credit_line_is_allowed(sage: EmbeddedSage) -> None:
    keys = sage.add_purchase_order(po(lines=[
        po_line(amount="100.00"),
        po_line(line_number=2, description="Restock credit", quantity="-1",
                unit_price="20", amount="-20.00"),
    ]))
    assert sage.purchase_order(keys["pchord"])["pchttl"] == Decimal("80.00")


def test_a_refused_line_rolls_back_the_whole_document(sage: EmbeddedSage) -> None:
    lines = [sub_line(), sub_line(line_number=2, cost_code="4400.000")]
    refused(sage, lambda: sage.add_subcontract(sub(lines=lines)), INVALID_REFERENCE)
    assert sage.find_subcontract(24001, "SC-001") is None


# ---- header modifies ------------------------------------------------------------------------

SUBCON_TOTALS = ("cntttl", "chgttl", "ctcttl", "invttl", "balttl")
PCHORD_TOTALS = ("pchttl", "pchbal")
# What a header modify may change; every other column must come out as it went in.
SUBCON_MODIFIED = {"dscrpt", "status", "rtnrte", "condte", "updusr", "upddte"}
PCHORD_MODIFIED = {"dscrpt", "status", "orddte", "updusr", "upddte"}


def unchanged(before: dict[str, Any], after: dict[str, Any], modified: set[str]) -> None:
    assert {k: v for k, v in after.items() if k not in modified} == {
        k: v for k, v in before.items() if k not in modified}


def test_modify_subcontract_changes_the_header_in_place(sage: EmbeddedSage) -> None:
    keys = sage.add_subcontract(sub(contract_date="2025-03-01"))
    before, tables = sage.subcontract(1), counts(sage)
    assert before["updusr"] is None and before["upddte"] is None

    office = EmbeddedSage(sage.path, user="jdoe")  # the Sage user the agent writes as
    assert office.modify_subcontract(sub_header()) == keys == {"subcon": "1", "ctcnum": "SC-001"}

    after = sage.subcontract(1)
    assert (after["dscrpt"], after["status"], after["rtnrte"], after["condte"]) == (
        "Foundations, slab and ramps", 4, Decimal("5.50"), date(2025, 4, 15))
    assert str(after["rtnrte"]) == "5.50"
    assert after["updusr"] == "jdoe" and after["upddte"]
    assert [after[c] for c in SUBCON_TOTALS] == [before[c] for c in SUBCON_TOTALS]
    assert after["cntttl"] == Decimal("1750.50")
    assert after["lines"] == before["lines"]  # untouched: not even upddte
    unchanged(before, after, SUBCON_MODIFIED)
    assert counts(sage) == tables


def test_modify_subcontract_twice_leaves_the_same_row(sage: EmbeddedSage) -> None:
    sage.add_subcontract(sub())
    first = sage.modify_subcontract(sub_header())
    with sqlite3.connect(sage.path) as conn:  # an old stamp: any later UPDATE would move it
        conn.execute("UPDATE subcon SET upddte = '2025-01-01 00:00:00.000' WHERE recnum = 1")
    once = sage.subcontract(1)
    assert sage.modify_subcontract(sub_header()) == first
    assert sage.subcontract(1) == once  # upddte included: nothing was written again
    assert counts(sage) == {"subcon": 1, "sbcnln": 2, "pchord": 0, "pcorln": 0}


def test_modify_without_retention_or_date_leaves_them(sage: EmbeddedSage) -> None:
    sage.add_subcontract(sub(contract_date="2025-03-01"))
    sage.modify_subcontract(sub_header(retention_rate=None, contract_date=None))
    doc = sage.subcontract(1)
    assert (doc["dscrpt"], doc["rtnrte"], doc["condte"]) == (
        "Foundations, slab and ramps", Decimal("10.00"), date(2025, 3, 1))


def test_modify_matches_the_number_case_insensitively(sage: EmbeddedSage) -> None:
    sage.add_subcontract(sub())
    assert sage.modify_subcontract(sub_header(number=" sc-001")) == {
        "subcon": "1", "ctcnum": "SC-001"}  # the number as Sage has it


def modify_refused(db: EmbeddedSage, write: Any, code: int) -> SageError:
    """``write`` must fail with ``code`` and leave every commitment row exactly as it was."""
    before = {table: db.rows(table) for table in COMMITMENT_TABLES}
    with pytest.raises(SageError) as caught:
        write()
    assert caught.value.code == code, caught.value.message
    assert caught.value.retryable is False
    assert {table: db.rows(table) for table in COMMITMENT_TABLES} == before
    return caught.value


@pytest.mark.parametrize(("overrides", "code", "words"), [
    ({"record": 99}, INVALID_REFERENCE,
     "subcontract 99 does not exist on job 24001 (subcon.recnum)"),
    ({"job": 24002}, INVALID_REFERENCE, "subcontract 1 does not exist on job 24002"),
    ({"record": 10**20}, INVALID_REFERENCE, f"subcontract {10**20} does not exist"),
    ({"number": "SC-002"}, INVALID_DATA,
     "subcontract 1 is number 'SC-001', not 'SC-002': the record's number differs"),
    ({"description": LONG_51}, INVALID_DATA, "51 characters; subcon.dscrpt allows at most 50"),
    ({"retention_rate": "100.01"}, INVALID_DATA, "retention rate 100.01 is outside 0-100"),
    ({"retention_rate": "-1"}, INVALID_DATA, "retention rate -1.00 is outside 0-100"),
    ({"retention_rate": "5.125"}, INVALID_DATA, "has more than 2 decimal places"),
])
def test_modify_subcontract_refusals(sage: EmbeddedSage, overrides: dict[str, Any], code: int,
                                     words: str) -> None:
    sage.add_subcontract(sub())
    error = modify_refused(sage, lambda: sage.modify_subcontract(sub_header(**overrides)), code)
    assert words in error.message


def test_modify_status_outside_1_to_6_is_refused_even_past_validation(
        sage: EmbeddedSage) -> None:
    sage.add_subcontract(sub())
    payload = sub_header().model_copy(update={"status": 7})
    error = modify_refused(sage, lambda: sage.modify_subcontract(payload), INVALID_DATA)
    assert "status 7 is not 1-6 (subcon.status)" in error.message


def test_a_subcontract_locked_for_editing_is_refused(sage: EmbeddedSage) -> None:
    sage.add_subcontract(sub())
    lock_for_editing(sage, "subcon", 1)
    error = modify_refused(sage, lambda: sage.modify_subcontract(sub_header()), INVALID_DATA)
    assert "subcontract 1 SC-001 is locked for editing (subcon.lckedt)" in error.message


def test_modify_purchase_order_changes_the_header_in_place(sage: EmbeddedSage) -> None:
    keys = sage.add_purchase_order(po())
    sage.add_purchase_order(po(number="PO-24001-002"))
    before, other, tables = sage.purchase_order(1), sage.purchase_order(2), counts(sage)

    assert sage.modify_purchase_order(po_header()) == keys == {
        "pchord": "1", "ordnum": "PO-24001-001"}

    after = sage.purchase_order(1)
    assert (after["dscrpt"], after["status"], after["orddte"], after["updusr"]) == (
        "Anchor bolts, embeds and plates", 2, date(2025, 5, 2), "relay")
    assert [after[c] for c in PCHORD_TOTALS] == [Decimal("955.50")] * 2
    assert after["lines"] == before["lines"]
    unchanged(before, after, PCHORD_MODIFIED)
    assert sage.purchase_order(2) == other  # only the record named
    assert counts(sage) == tables

    once = sage.purchase_order(1)
    sage.modify_purchase_order(po_header())
    assert sage.purchase_order(1) == once  # twice: the same row, upddte included
    sage.modify_purchase_order(po_header(order_date=None))
    assert sage.purchase_order(1)["orddte"] == date(2025, 5, 2)  # None leaves the date


@pytest.mark.parametrize(("overrides", "code", "words"), [
    ({"record": 2}, INVALID_REFERENCE,
     "purchase order 2 does not exist on job 24001 (pchord.recnum)"),
    ({"job": 24002}, INVALID_REFERENCE, "purchase order 1 does not exist on job 24002"),
    ({"number": "PO-24001-009"}, INVALID_DATA, "the record's number differs (pchord.ordnum)"),
    ({"description": LONG_51}, INVALID_DATA, "pchord.dscrpt allows at most 50"),
])
def test_modify_purchase_order_refusals(sage: EmbeddedSage, overrides: dict[str, Any],
                                        code: int, words: str) -> None:
    sage.add_purchase_order(po())
    error = modify_refused(sage, lambda: sage.modify_purchase_order(po_header(**overrides)),
                           code)
    assert words in error.message


def test_a_purchase_order_locked_for_editing_is_refused(sage: EmbeddedSage) -> None:
    sage.add_purchase_order(po())
    lock_for_editing(sage, "pchord", 1)
    error = modify_refused(sage, lambda: sage.modify_purchase_order(po_header()),
                           INVALID_DATA)
    assert "purchase order 1 PO-24001-001 is locked for editing (pchord.lckedt)" in (
        error.message)


# ---- seed helpers ---------------------------------------------------------------------------


@pytest.mark.parametrize(("add", "words"), [
    (lambda db: db.seed_job(24001, "Again"), "job 24001 already exists"),
    (lambda db: db.seed_vendor(3001, "Again"), "vendor 3001 already exists"),
    (lambda db: db.add_cost_code("3300", "Again"), "cost code 3300.000 already exists"),
    (lambda db: db.add_phase(24002, 1, "Again"), "phase 1 of job 24002 already exists"),
    (lambda db: db.add_cost_type(4, "Again"), "cost type 4 already exists"),
])
def test_duplicate_master_data_is_a_duplicate_key(sage: EmbeddedSage, add: Any,
                                                  words: str) -> None:
    before = {t: sage.count(t) for t in ("actrec", "actpay", "cstcde", "jobphs", "csttyp")}
    with pytest.raises(SageError) as caught:
        add(sage)
    assert caught.value.code == DUPLICATE_KEY
    assert words in caught.value.message
    assert {t: sage.count(t) for t in before} == before


def test_phase_needs_its_job(sage: EmbeddedSage) -> None:
    with pytest.raises(SageError) as caught:
        sage.add_phase(99999, 1, "Nowhere")
    assert caught.value.code == INVALID_REFERENCE


@pytest.mark.parametrize("code", ["0300", " 300", "A300", "300.1234", "-300", "", "3 300",
                                  "0.500", "3300-000"])
def test_cost_code_format_is_refused(sage: EmbeddedSage, code: str) -> None:
    before = sage.count("cstcde")
    with pytest.raises(SageError) as caught:
        sage.add_cost_code(code, "Bad")
    assert caught.value.code == INVALID_DATA
    assert repr(code) in caught.value.message
    assert sage.count("cstcde") == before


@pytest.mark.parametrize(("code", "normal"), [
    ("300", "300.000"), ("26000.5", "26000.500"), ("3300.000", "3300.000"),
    (Decimal("2010.25"), "2010.250"), (15, "15.000"),
])
def test_cost_codes_are_normalized_to_three_decimals(code: Any, normal: str) -> None:
    assert normalize_cost_code(code) == normal


def test_rows_and_count_helpers(sage: EmbeddedSage) -> None:
    assert sage.count("actrec") == 4
    assert [r["recnum"] for r in sage.rows("actpay", {"inactv": 1})] == [3004]
    assert sage.rows("actrec", {"recnum": 1}) == []
    with pytest.raises(KeyError):
        sage.rows("actrec; DROP TABLE actrec")
    with pytest.raises(KeyError):
        sage.rows("actrec", {"nope": 1})
    with pytest.raises(KeyError):
        sage.subcontract(42)


# ---- availability and concurrency -----------------------------------------------------------


def test_uninitialized_database_is_reported(tmp_path: Path) -> None:
    with pytest.raises(SageError) as caught:
        EmbeddedSage(tmp_path / "empty.db").find_purchase_order("PO-1")
    assert caught.value.code == UNAVAILABLE and "not initialized" in caught.value.message


def test_a_held_write_lock_is_unavailable_and_retryable(sage: EmbeddedSage) -> None:
    impatient = EmbeddedSage(sage.path, timeout=0.05)
    holder = sqlite3.connect(sage.path, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        with pytest.raises(SageError) as caught:
            impatient.add_subcontract(sub())
        assert caught.value.code == UNAVAILABLE and caught.value.retryable
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert sage.count("subcon") == 0
    assert impatient.add_subcontract(sub())["subcon"] == "1"


def test_concurrent_writers_do_not_corrupt(sage: EmbeddedSage) -> None:
    other = EmbeddedSage(sage.path)  # a second handle, as a CLI would have
    errors: list[BaseException] = []
    keys: list[dict[str, str]] = []
    lock = threading.Lock()

    def writer(db: EmbeddedSage, prefix: str) -> None:
        try:
            for i in range(10):
                got = db.add_subcontract(sub(number=f"{prefix}-{i:02d}"))
                with lock:
                    keys.append(got)
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(sage, "A")),
               threading.Thread(target=writer, args=(other, "B"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sage.count("subcon") == 20 and sage.count("sbcnln") == 40
    recnums = [r["recnum"] for r in sage.rows("subcon")]
    assert sorted(recnums) == list(range(1, 21))
    assert sorted(int(k["subcon"]) for k in keys) == recnums
    for row in sage.rows("subcon"):
        assert len(sage.rows("sbcnln", {"recnum": row["recnum"]})) == 2
    with sqlite3.connect(sage.path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


# ---- CLI ------------------------------------------------------------------------------------


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "relay.sage", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=30,
                          env={**os.environ, **(env or {})})


def test_cli_init_seed_show(tmp_path: Path) -> None:
    db = str(tmp_path / "cli.db")
    done = cli("init", "--db", db)
    assert done.returncode == 0, done.stderr
    assert "Initialized" in done.stdout
    assert cli("seed", "--db", db).stdout.strip().endswith("31 rows added")
    assert cli("--db", db, "seed").stdout.strip().endswith("0 rows added")

    shown = cli("show", "actrec", "--db", db)
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0].split()[:4] == ["_idnum", "recnum", "jobnme", "shtnme"]
    assert set(lines[1]) <= {"-", " "}
    assert any("Riverside Medical Office Building" in line for line in lines)
    assert lines[-1] == "(3 rows)"
    assert len({line.index("recnum") for line in lines[:1]}) == 1

    as_json = json.loads(cli("show", "cstcde", "--json", "--db", db).stdout)
    assert [r["recnum"] for r in as_json][:2] == ["1100.000", "2200.000"]


def test_cli_reads_the_path_from_the_environment(tmp_path: Path) -> None:
    db = tmp_path / "env.db"
    assert cli("seed", env={"RELAY_SAGE_DB": str(db)}).returncode == 0
    assert EmbeddedSage(db).count("actpay") == 4


def test_cli_errors(tmp_path: Path) -> None:
    missing = cli("show", "actrec", "--db", str(tmp_path / "missing.db"))
    assert missing.returncode == 1 and "run `python -m relay.sage init`" in missing.stderr
    assert not (tmp_path / "missing.db").exists()
    db = tmp_path / "cli.db"
    EmbeddedSage(db).init()
    unknown = cli("show", "nope", "--db", str(db))
    assert unknown.returncode == 2 and "no table 'nope'" in unknown.stderr
