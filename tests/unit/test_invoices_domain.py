"""Subcontractor invoices, pure: the snapshot from contract items, readiness."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.domain import invoices
from chalicelib.domain.models import Item, Link
from chalicelib.domain.state_machine import Status

CODE = {"id": 11, "full_code": "03-300"}
SUB, LABOR = {"id": 4, "name": "Subcontract"}, {"id": 2, "name": "Labor"}
PROJECT = Link(company_id=1, kind="project", procore_id=7, sage_key="24001")
VENDOR = Link(company_id=1, kind="vendor", procore_id=55, sage_key="3001")


def subcontract(synced: bool = True, subtype: str = "subcontract") -> Item:
    snapshot = {"number": "SC-001", "vendor": {"id": 55}, "lines": [
        {"id": 501, "description": "Footings", "cost_code": CODE, "line_item_type": SUB},
        {"id": 502, "description": "Slab", "cost_code": CODE, "line_item_type": LABOR}]}
    return Item(company_id=1, kind="commitment", procore_id=900, project_id=7, subtype=subtype,
                status=Status.SYNCED, snapshot=snapshot,
                synced_snapshot=snapshot if synced else None, number="SC-001")


def contract_item(line: int, work: str, retained: str, *, before: str = "0.00",
                  scheduled: str = "48000.00") -> dict[str, Any]:
    return {"id": line + 1000, "line_item_id": str(line), "scheduled_value": scheduled,
            "work_completed_from_previous_application": before,
            "work_completed_this_period": work, "materials_presently_stored": "0.00",
            "work_completed_retainage_retained_this_period": retained,
            "materials_stored_retainage_currently_retained": "0.00"}


def requisition(**extra: Any) -> dict[str, Any]:
    return {"id": 77, "commitment_id": 900, "number": 1, "invoice_number": "GB-1001",
            "status": "approved", "billing_date": "2026-11-25", "period_id": 3, **extra}


def snap(items: list[dict[str, Any]], item: Item | None = None, **extra: Any) -> dict[str, Any]:
    return invoices.build_snapshot(requisition(**extra), items, project_id=7,
                                   commitment=item or subcontract())


def reasons(snapshot: dict[str, Any], item: Item | None = None,
            vendor: Link | None = VENDOR) -> list[str]:
    return invoices.readiness_reasons(snapshot, invoices.ReadinessContext(
        commitment=item or subcontract(), project_link=PROJECT, vendor_link=vendor))


def test_lines_billed_this_period_with_their_sage_line_and_retention() -> None:
    s = snap([contract_item(501, "10000.00", "1000.00"), contract_item(502, "0.00", "0.00")])
    assert [(ln["sage_line"], ln["amount"], ln["retention"]) for ln in s["lines"]] == [
        (1, "10000.00", "1000.00")]
    assert (s["total"], s["retention"]) == ("10000.00", "1000.00")
    assert reasons(s) == []


@pytest.mark.parametrize(("snapshot", "item", "needle"), [
    (snap([contract_item(501, "1", "0")], status="under_review"), None, "Only approved"),
    (snap([contract_item(501, "1", "0")], subcontract(synced=False)),
     subcontract(synced=False), "not in Sage 100 Contractor: export the commitment first"),
    (snap([contract_item(501, "1", "0")], subcontract(subtype="purchase_order")),
     subcontract(subtype="purchase_order"), "bills a purchase order"),
    (snap([contract_item(501, "1", "0")], invoice_number=""), None, "has no invoice number"),
    (snap([contract_item(501, "1", "0")], invoice_number="X" * 21), None, "at most 20"),
    (snap([contract_item(501, "1", "0")], billing_date=None), None, "has no billing date"),
    (snap([contract_item(501, "0", "0")]), None, "bills nothing this period"),
    (snap([contract_item(999, "1", "0")]), None, "a commitment line Sage does not have"),
    (snap([contract_item(501, "100", "0", before="47950.00")]), None,
     "more than its scheduled value"),
    (snap([contract_item(501, "10", "20")]), None, "retention 20.00 is more than"),
])
def test_each_refusal_is_a_reason(snapshot: dict[str, Any], item: Item | None,
                                  needle: str) -> None:
    found = reasons(snapshot, item)
    assert any(needle in r for r in found), found


def test_an_unlinked_vendor_is_a_reason() -> None:
    found = reasons(snap([contract_item(501, "1", "0")]), vendor=None)
    assert any("not linked to a Sage vendor" in r for r in found)
