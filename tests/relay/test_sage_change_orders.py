"""Commitment change orders in the embedded Sage: a subcontract change order (prmchg +
sbcgln, the subcontract's lines and totals following), lines appended to a purchase order,
their refusals and the reconciliation look-ups."""

from __future__ import annotations

import sqlite3
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from chalicelib.relay_protocol import (
    PurchaseOrderChangePayload,
    PurchaseOrderPayload,
    SubcontractChangeOrderPayload,
    SubcontractPayload,
)
from relay.sage.embedded import EmbeddedSage
from relay.sage.port import INVALID_DATA, INVALID_REFERENCE, SageError

D = Decimal


@pytest.fixture
def sage(tmp_path: Path) -> EmbeddedSage:
    db = EmbeddedSage(tmp_path / "sage.db")
    db.init()
    db.seed_demo()
    return db


@pytest.fixture
def subcon(sage: EmbeddedSage) -> int:
    """Subcontract SC-100 on job 24001 with vendor 3001: two lines, 1500.00."""
    keys = sage.add_subcontract(SubcontractPayload.model_validate({
        "job": 24001, "vendor": 3001, "number": "SC-100", "description": "Concrete",
        "lines": [
            {"line_number": 1, "description": "Footings", "cost_code": "3300.000",
             "cost_type": 4, "amount": "1000.00"},
            {"line_number": 2, "description": "Slab", "cost_code": "3300.000",
             "cost_type": 1, "amount": "500.00"}]}))
    return int(keys["subcon"])


@pytest.fixture
def order(sage: EmbeddedSage) -> int:
    """Purchase order PO-7 on job 24001: two lines, 300.00."""
    keys = sage.add_purchase_order(PurchaseOrderPayload.model_validate({
        "job": 24001, "vendor": 3003, "number": "PO-7", "description": "Steel",
        "lines": [
            {"line_number": 1, "description": "Beams", "quantity": "2", "unit_price": "100",
             "amount": "200.00", "cost_code": "5120.000", "cost_type": 1},
            {"line_number": 2, "description": "Bolts", "quantity": "1", "unit_price": "100",
             "amount": "100.00", "cost_code": "5120.000", "cost_type": 1}]}))
    return int(keys["pchord"])


def cco(subcontract: int, **fields: Any) -> SubcontractChangeOrderPayload:
    body: dict[str, Any] = {
        "job": 24001, "subcontract": subcontract, "subcontract_number": "SC-100",
        "vendor": 3001, "reference": "CCO 12 #001",
        "description": "CCO 12 #001 Added rebar", "change_date": "2025-05-02",
        "lines": [
            {"subcontract_line": 1, "description": "More rebar", "cost_code": "3300.000",
             "cost_type": 4, "amount": "250.00"},
            {"description": "Embeds", "cost_code": "5120.000", "cost_type": 4,
             "amount": "100.00"}]}
    body.update(fields)
    return SubcontractChangeOrderPayload.model_validate(body)


def po_change(record: int, **fields: Any) -> PurchaseOrderChangePayload:
    body: dict[str, Any] = {
        "job": 24001, "order": record, "number": "PO-7", "reference": "CCO 15 #001",
        "lines": [
            {"description": "CCO 15 #001 Extra beams", "quantity": "3", "unit_price": "50",
             "amount": "150.00", "cost_code": "5120.000", "cost_type": 1},
            {"description": "CCO 15 #001 Credit bolts", "quantity": "-1",
             "unit_price": "20", "amount": "-20.00", "cost_code": "5120.000",
             "cost_type": 1}]}
    body.update(fields)
    return PurchaseOrderChangePayload.model_validate(body)


def totals(sage: EmbeddedSage, subcontract: int) -> tuple[Decimal, ...]:
    row = sage.subcontract(subcontract)
    return row["cntttl"], row["chgttl"], row["ctcttl"], row["invttl"], row["balttl"]


def lines(sage: EmbeddedSage, subcontract: int) -> list[tuple[Any, ...]]:
    return [(r["linnum"], r["dscrpt"], r["cstcde"], r["csttyp"], r["amount"], r["change"],
             r["cntrct"], r["billed"], r["remain"])
            for r in sage.subcontract(subcontract)["lines"]]


def snapshot(sage: EmbeddedSage) -> tuple[list[dict[str, Any]], ...]:
    return tuple(sage.rows(table) for table in ("prmchg", "sbcgln", "subcon", "sbcnln",
                                                "pchord", "pcorln"))


def set_column(sage: EmbeddedSage, table: str, column: str, value: Any,
               recnum: int) -> None:
    with sqlite3.connect(sage.path) as conn:
        conn.execute(f"UPDATE {table} SET {column} = ? WHERE recnum = ?",
                     (value, recnum))


# ---- add_subcontract_change_order ----------------------------------------------------------


def test_an_approved_change_order_writes_prmchg_sbcgln_and_the_subcontract_follows(
        sage: EmbeddedSage, subcon: int) -> None:
    keys = sage.add_subcontract_change_order(cco(subcon))

    assert keys == {"prmchg": "1", "chgnum": "1", "subcon": str(subcon),
                    "joined": "false"}
    [header] = sage.rows("prmchg")
    assert (header["recnum"], header["chgnum"], header["chgdte"], header["jobnum"],
            header["phsnum"], header["dscrpt"], header["status"], header["appamt"],
            header["cstamt"], header["aprdte"], header["insusr"]) == (
        1, "1", date(2025, 5, 2), 24001, 0, "CCO 12 #001 Added rebar", 1, D("350.00"),
        D("350.00"), date(2025, 5, 2), "relay")
    assert [(r["recnum"], r["linnum"], r["dscrpt"], r["bdgprc"], r["vndnum"], r["vndctc"],
             r["ctclin"], r["chgsts"], r["cstcde"], r["csttyp"], r["_idref"])
            for r in sage.rows("sbcgln")] == [
        (1, 1, "More rebar", D("250.00"), 3001, subcon, 1, 1, "3300.000", 4,
         header["_idnum"]),
        (1, 2, "Embeds", D("100.00"), 3001, subcon, 3, 1, "5120.000", 4, header["_idnum"])]
    # The changed line: change, new contract, remaining; the new line is line 3, original 0.
    assert lines(sage, subcon) == [
        (1, "Footings", "3300.000", 4, D("1000.00"), D("250.00"), D("1250.00"), D("0.00"),
         D("1250.00")),
        (2, "Slab", "3300.000", 1, D("500.00"), D("0.00"), D("500.00"), D("0.00"),
         D("500.00")),
        (3, "Embeds", "5120.000", 4, D("0.00"), D("100.00"), D("100.00"), D("0.00"),
         D("100.00"))]
    assert sage.subcontract(subcon)["lines"][2]["_idref"] == sage.subcontract(subcon)["_idnum"]
    # The original contract never changes; changes, new contract and remaining follow.
    assert totals(sage, subcon) == (D("1500.00"), D("350.00"), D("1850.00"), D("0.00"),
                                    D("1850.00"))


def test_remaining_amounts_subtract_what_was_invoiced(sage: EmbeddedSage,
                                                      subcon: int) -> None:
    with sqlite3.connect(sage.path) as conn:  # 400 invoiced on line 1 in Sage
        conn.execute("UPDATE sbcnln SET billed = 400, remain = 600 WHERE linnum = 1")
        conn.execute("UPDATE subcon SET invttl = 400, balttl = 1100")
    sage.add_subcontract_change_order(cco(subcon, lines=[
        {"subcontract_line": 1, "description": "More", "cost_code": "3300.000",
         "cost_type": 4, "amount": "250.00"}]))
    assert lines(sage, subcon)[0][5:] == (D("250.00"), D("1250.00"), D("400.00"),
                                          D("850.00"))
    assert totals(sage, subcon) == (D("1500.00"), D("250.00"), D("1750.00"), D("400.00"),
                                    D("1350.00"))


def test_a_negative_change_lowers_the_line_and_the_totals(sage: EmbeddedSage,
                                                          subcon: int) -> None:
    sage.add_subcontract_change_order(cco(subcon, lines=[
        {"subcontract_line": 2, "description": "Thinner slab", "cost_code": "3300.000",
         "cost_type": 1, "amount": "-125.50"}]))
    assert lines(sage, subcon)[1][4:] == (D("500.00"), D("-125.50"), D("374.50"), D("0.00"),
                                          D("374.50"))
    assert totals(sage, subcon) == (D("1500.00"), D("-125.50"), D("1374.50"), D("0.00"),
                                    D("1374.50"))
    assert sage.rows("prmchg")[0]["appamt"] == D("-125.50")


def test_change_orders_are_numbered_per_job(sage: EmbeddedSage, subcon: int) -> None:
    other = sage.add_subcontract(SubcontractPayload.model_validate({
        "job": 24002, "vendor": 3002, "number": "SC-100", "description": "Electrical",
        "lines": [{"line_number": 1, "description": "Rough-in", "cost_code": "26000.000",
                   "cost_type": 4, "amount": "900.00"}]}))
    with sqlite3.connect(sage.path) as conn:  # entered in Sage by hand: not counted
        conn.execute("INSERT INTO prmchg (_idnum, recnum, chgnum, chgdte, jobnum, phsnum) "
                     "VALUES ('HAND', 50, 'AAA5', '2025-01-01', 24001, 0)")

    first = sage.add_subcontract_change_order(cco(subcon))
    second = sage.add_subcontract_change_order(cco(subcon, reference="CCO 13 #002",
                                                   description="CCO 13 #002 Pump"))
    elsewhere = sage.add_subcontract_change_order(cco(
        int(other["subcon"]), job=24002, vendor=3002, reference="CCO 14 #001",
        description="CCO 14 #001 Panels", lines=[
            {"subcontract_line": 1, "description": "Panels", "cost_code": "26000.000",
             "cost_type": 4, "amount": "10"}]))

    assert (first["chgnum"], second["chgnum"], elsewhere["chgnum"]) == ("1", "2", "1")
    assert (first["prmchg"], second["prmchg"], elsewhere["prmchg"]) == ("51", "52", "53")
    # The second new line of the subcontract is its line 4; line 1 changed twice.
    assert [row[0] for row in lines(sage, subcon)] == [1, 2, 3, 4]
    assert lines(sage, subcon)[0][5] == D("500.00")
    assert totals(sage, subcon)[1:3] == (D("700.00"), D("2200.00"))


def test_an_open_change_order_leaves_the_subcontract_as_it_is(sage: EmbeddedSage,
                                                              subcon: int) -> None:
    before = sage.subcontract(subcon)
    keys = sage.add_subcontract_change_order(cco(subcon, status=2))
    assert keys["chgnum"] == "1"
    header = sage.rows("prmchg")[0]
    assert (header["status"], header["aprdte"], header["appamt"]) == (2, None, D("350.00"))
    assert [(r["ctclin"], r["chgsts"]) for r in sage.rows("sbcgln")] == [(1, 2), (None, 2)]
    assert sage.subcontract(subcon) == before


@pytest.mark.parametrize(("fields", "code", "message"), [
    ({"job": 99001}, INVALID_REFERENCE,
     "Invalid object reference: job 99001 does not exist (actrec.recnum)"),
    ({"job": 24002}, INVALID_REFERENCE,
     "Invalid object reference: subcontract 1 does not exist on job 24002 (subcon.recnum)"),
    ({"subcontract_number": "SC-101"}, INVALID_REFERENCE,
     "Invalid object reference: subcontract 1 is number 'SC-100' in Sage, not 'SC-101': the "
     "change order names another subcontract (subcon.ctcnum)"),
    ({"vendor": 3002}, INVALID_REFERENCE,
     "Invalid object reference: subcontract 1 SC-100 is with vendor 3001 in Sage, not vendor "
     "3002: the change order names another vendor (subcon.vndnum)"),
    ({"lines": [{"subcontract_line": 9, "description": "x", "cost_code": "3300.000",
                 "cost_type": 4, "amount": "1"}]}, INVALID_REFERENCE,
     "Invalid object reference: line 1 changes line 9 of subcontract 1 SC-100, which Sage "
     "does not have (sbcnln.linnum)"),
    ({"lines": [{"description": "ok", "cost_code": "9900.000", "cost_type": 5,
                 "amount": "1"},
                {"subcontract_line": 2, "description": "x", "cost_code": "3300.000",
                 "cost_type": 4, "amount": "1"}]}, INVALID_REFERENCE,
     "Invalid object reference: line 2 changes line 2 of subcontract 1 SC-100 as cost code "
     "3300.000 type 4, but that line is cost code 3300.000 type 1 in Sage (sbcnln.cstcde, "
     "sbcnln.csttyp)"),
    ({"lines": [{"description": "x", "cost_code": "4400.000", "cost_type": 4,
                 "amount": "1"}]}, INVALID_REFERENCE,
     "Invalid object reference: line 1 cost code 4400.000 does not exist (cstcde.recnum)"),
    ({"lines": [{"description": "x", "cost_code": "3300.000", "cost_type": 8,
                 "amount": "1"}]}, INVALID_REFERENCE,
     "Invalid object reference: line 1 cost type 8 does not exist (csttyp.recnum)"),
    ({"description": "Added rebar (CCO 12 #001)"}, INVALID_DATA,
     "Invalid data: change order description 'Added rebar (CCO 12 #001)' does not start "
     "with its Procore reference 'CCO 12 #001' (prmchg.dscrpt); the connector puts the "
     "reference first so the change is never written twice"),
    ({"lines": [{"subcontract_line": 1, "description": "x", "cost_code": "3300.000",
                 "cost_type": 4, "amount": "0.001"}]}, INVALID_DATA,
     "Invalid data: line 1 amount 0.001 has more than 2 decimal places (sbcgln.bdgprc "
     "decimal(12,2))"),
    ({"lines": [{"subcontract_line": 1, "description": "x", "cost_code": "3300.000",
                 "cost_type": 4, "amount": "9999999999.00"}]}, INVALID_DATA,
     "Invalid data: line 1 (line 1 of subcontract 1) new contract 10000000999.00 is too "
     "large for sbcnln.cntrct decimal(12,2)"),
    ({"lines": [{"subcontract_line": 1, "description": "x", "cost_code": "3300.000",
                 "cost_type": 4, "amount": "-1600.00"}]}, INVALID_DATA,
     "Invalid data: subcontract 1 SC-100 would have a new contract total of -100.00 with "
     "this change order; a subcontract total cannot be negative (subcon.ctcttl)"),
], ids=["job", "not-on-job", "number", "vendor", "line", "line-cost-type", "cost-code",
        "cost-type", "reference", "3-decimals", "over-12-2", "negative-total"])
def test_refused_change_orders_write_nothing(sage: EmbeddedSage, subcon: int,
                                            fields: dict[str, Any], code: int,
                                            message: str) -> None:
    with sqlite3.connect(sage.path) as conn:  # cost type 8 is not set up in this company
        conn.execute("DELETE FROM csttyp WHERE recnum = 8")
    before = snapshot(sage)
    with pytest.raises(SageError) as caught:
        sage.add_subcontract_change_order(cco(subcon, **fields))
    assert (caught.value.code, caught.value.message) == (code, message)
    assert not caught.value.retryable
    assert snapshot(sage) == before


@pytest.mark.parametrize(("column", "value", "message"), [
    ("lckedt", 1, "Invalid data: subcontract 1 SC-100 is locked for editing in Sage "
     "(subcon.lckedt); someone with access to the subcontract must unlock it before a "
     "change order can be written"),
    ("status", 6, "Invalid data: subcontract 1 SC-100 is Closed in Sage (subcon.status 6) "
     "and takes no change orders; reopen it in Sage first"),
    ("status", 2, "Invalid data: subcontract 1 SC-100 is Refused in Sage (subcon.status 2) "
     "and takes no change orders; reopen it in Sage first"),
], ids=["locked", "closed", "refused"])
def test_a_locked_or_closed_subcontract_is_refused(sage: EmbeddedSage, subcon: int,
                                                   column: str, value: int,
                                                   message: str) -> None:
    set_column(sage, "subcon", column, value, subcon)
    before = snapshot(sage)
    with pytest.raises(SageError) as caught:
        sage.add_subcontract_change_order(cco(subcon))
    assert (caught.value.code, caught.value.message) == (INVALID_DATA, message)
    assert snapshot(sage) == before


@pytest.mark.parametrize("status", [1, 3, 4, 5])
def test_bid_contract_current_and_complete_subcontracts_take_changes(
        sage: EmbeddedSage, subcon: int, status: int) -> None:
    set_column(sage, "subcon", "status", status, subcon)
    assert sage.add_subcontract_change_order(cco(subcon))["chgnum"] == "1"


def test_an_existing_line_changes_after_its_cost_code_became_inactive(
        sage: EmbeddedSage, subcon: int) -> None:
    with sqlite3.connect(sage.path) as conn:
        conn.execute("UPDATE cstcde SET inactv = 'T' WHERE recnum = 3300")
    sage.add_subcontract_change_order(cco(subcon, lines=[
        {"subcontract_line": 1, "description": "Deduct", "cost_code": "3300.000",
         "cost_type": 4, "amount": "-100"}]))
    assert lines(sage, subcon)[0][6] == D("900.00")
    with pytest.raises(SageError) as caught:  # a new line on it is refused
        sage.add_subcontract_change_order(cco(subcon, reference="CCO 13", lines=[
            {"description": "CCO 13 new", "cost_code": "3300.000", "cost_type": 2,
             "amount": "5"}], description="CCO 13 new"))
    assert caught.value.code == INVALID_DATA and "is inactive" in caught.value.message


def test_find_subcontract_change_order_answers_whether_it_was_written(
        sage: EmbeddedSage, subcon: int) -> None:
    payload = cco(subcon)
    assert sage.find_subcontract_change_order(payload) is None
    keys = sage.add_subcontract_change_order(payload)
    assert sage.find_subcontract_change_order(payload) == keys
    # Another reference, one that merely starts the same, another subcontract or job: no.
    assert sage.find_subcontract_change_order(cco(subcon, reference="CCO 12 #00")) is None
    assert sage.find_subcontract_change_order(cco(subcon, reference="CCO 12 #0011",
                                                  description="CCO 12 #0011")) is None
    assert sage.find_subcontract_change_order(cco(subcon + 1)) is None
    assert sage.find_subcontract_change_order(cco(subcon, job=24002)) is None
    assert sage.find_subcontract_change_order(cco(10**12)) is None
    # Found again, it is not written again: the agent asks before a retry.
    assert sage.count("prmchg") == 1 and totals(sage, subcon)[1] == D("350.00")


# ---- append_purchase_order_lines -----------------------------------------------------------


def test_lines_are_appended_after_the_last_and_the_total_follows(
        sage: EmbeddedSage, order: int) -> None:
    keys = sage.append_purchase_order_lines(po_change(order))

    assert keys == {"pchord": str(order), "lines": "3-4"}
    po = sage.purchase_order(order)
    assert (po["pchttl"], po["pchbal"]) == (D("430.00"), D("430.00"))
    assert [(r["linnum"], r["prtdsc"], r["linqty"], r["linprc"], r["extttl"], r["cstcde"],
             r["csttyp"], r["_idref"]) for r in po["lines"][2:]] == [
        (3, "CCO 15 #001 Extra beams", D("3.0000"), D("50.0000"), D("150.00"), "5120.000", 1,
         po["_idnum"]),
        (4, "CCO 15 #001 Credit bolts", D("-1.0000"), D("20.0000"), D("-20.00"), "5120.000",
         1, po["_idnum"])]
    assert [r["linnum"] for r in po["lines"][:2]] == [1, 2]  # the original lines stay

    again = sage.append_purchase_order_lines(po_change(order, reference="CCO 16", lines=[
        {"description": "CCO 16 Nuts", "quantity": "1", "unit_price": "5", "amount": "5",
         "cost_code": "5120.000", "cost_type": 1}]))
    assert again == {"pchord": str(order), "lines": "5-5"}
    assert sage.purchase_order(order)["pchttl"] == D("435.00")


def test_the_balance_follows_what_is_left_open(sage: EmbeddedSage, order: int) -> None:
    set_column(sage, "pchord", "pchbal", "100.00", order)  # 200 received and invoiced
    sage.append_purchase_order_lines(po_change(order))
    po = sage.purchase_order(order)
    assert (po["pchttl"], po["pchbal"]) == (D("430.00"), D("230.00"))


@pytest.mark.parametrize(("fields", "code", "message"), [
    ({"job": 99001}, INVALID_REFERENCE,
     "Invalid object reference: job 99001 does not exist (actrec.recnum)"),
    ({"order": 99}, INVALID_REFERENCE,
     "Invalid object reference: purchase order 99 does not exist (pchord.recnum)"),
    ({"number": "PO-8"}, INVALID_REFERENCE,
     "Invalid object reference: purchase order 1 is number 'PO-7' in Sage, not 'PO-8': the "
     "change order names another purchase order (pchord.ordnum)"),
    ({"job": 24002}, INVALID_REFERENCE,
     "Invalid object reference: purchase order 1 PO-7 is on job 24001 in Sage, not job "
     "24002 (pchord.jobnum)"),
    ({"lines": [{"description": "CCO 15 #001 x", "quantity": "1", "unit_price": "1",
                 "amount": "1", "cost_code": "4400.000", "cost_type": 1}]},
     INVALID_REFERENCE,
     "Invalid object reference: line 1 cost code 4400.000 does not exist (cstcde.recnum)"),
    ({"lines": [{"description": "CCO 15 #001 x", "quantity": "1", "unit_price": "1",
                 "amount": "1", "cost_code": "5120.000", "cost_type": 1},
                {"description": "Extra", "quantity": "1", "unit_price": "1",
                 "amount": "1", "cost_code": "5120.000", "cost_type": 1}]}, INVALID_DATA,
     "Invalid data: line 2 description 'Extra' does not start with its Procore reference "
     "'CCO 15 #001' (pcorln.prtdsc); the connector puts the reference first so the change "
     "is never written twice"),
    ({"lines": [{"description": "CCO 15 #001 x", "quantity": "0.00001", "unit_price": "1",
                 "amount": "1", "cost_code": "5120.000", "cost_type": 1}]}, INVALID_DATA,
     "Invalid data: line 1 quantity 0.00001 has more than 4 decimal places (pcorln.linqty "
     "decimal(14,4))"),
    ({"lines": [{"description": "CCO 15 #001 x", "quantity": "1", "unit_price": "1",
                 "amount": "-300.01", "cost_code": "5120.000", "cost_type": 1}]},
     INVALID_DATA,
     "Invalid data: purchase order 1 PO-7 would total -0.01 with these lines; a purchase "
     "order total cannot be negative (pchord.pchttl)"),
], ids=["job", "order", "number", "other-job", "cost-code", "reference", "quantity",
        "negative-total"])
def test_refused_po_changes_write_nothing(sage: EmbeddedSage, order: int,
                                          fields: dict[str, Any], code: int,
                                          message: str) -> None:
    before = snapshot(sage)
    with pytest.raises(SageError) as caught:
        sage.append_purchase_order_lines(po_change(order, **fields))
    assert (caught.value.code, caught.value.message) == (code, message)
    assert snapshot(sage) == before


@pytest.mark.parametrize(("column", "value", "message"), [
    ("lckedt", 1, "Invalid data: purchase order 1 PO-7 is locked for editing in Sage "
     "(pchord.lckedt); someone with access to the purchase order must unlock it before "
     "lines can be added"),
    ("status", 4, "Invalid data: purchase order 1 PO-7 is Closed in Sage (pchord.status 4) "
     "and takes no new lines; reopen it in Sage first"),
    ("status", 5, "Invalid data: purchase order 1 PO-7 is Void in Sage (pchord.status 5) "
     "and takes no new lines; reopen it in Sage first"),
], ids=["locked", "closed", "void"])
def test_a_locked_closed_or_void_po_is_refused(sage: EmbeddedSage, order: int, column: str,
                                               value: int, message: str) -> None:
    set_column(sage, "pchord", column, value, order)
    before = snapshot(sage)
    with pytest.raises(SageError) as caught:
        sage.append_purchase_order_lines(po_change(order))
    assert (caught.value.code, caught.value.message) == (INVALID_DATA, message)
    assert snapshot(sage) == before


def test_find_purchase_order_lines_answers_whether_they_were_appended(
        sage: EmbeddedSage, order: int) -> None:
    payload = po_change(order)
    assert sage.find_purchase_order_lines(payload) is None
    keys = sage.append_purchase_order_lines(payload)
    assert sage.find_purchase_order_lines(payload) == keys == {"pchord": str(order),
                                                                "lines": "3-4"}
    assert sage.find_purchase_order_lines(po_change(order, reference="CCO 15 #00")) is None
    assert sage.find_purchase_order_lines(po_change(order + 1)) is None
    assert sage.find_purchase_order_lines(po_change(10**12)) is None


def test_two_lines_on_one_subcontract_line_add_up(sage: EmbeddedSage, subcon: int) -> None:
    sage.add_subcontract_change_order(cco(subcon, lines=[
        {"subcontract_line": 1, "description": "Add", "cost_code": "3300.000",
         "cost_type": 4, "amount": "300"},
        {"subcontract_line": 1, "description": "Deduct", "cost_code": "3300.000",
         "cost_type": 4, "amount": "-50"}]))
    assert lines(sage, subcon)[0][5:] == (D("250.00"), D("1250.00"), D("0.00"), D("1250.00"))
    assert totals(sage, subcon)[1:3] == (D("250.00"), D("1750.00"))
