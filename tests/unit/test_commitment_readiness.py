"""Readiness rules for subcontracts and purchase orders: every not_ready reason."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from chalicelib.domain.commitments import Limits, build_snapshot, readiness_reasons
from chalicelib.domain.models import Link, content_hash

PROJECT = Link(company_id=1, kind="project", procore_id=10, sage_key="101")
VENDOR = Link(company_id=1, kind="vendor", procore_id=20, sage_key="3001")


def commitment(**changes: Any) -> dict[str, Any]:
    record = {"id": 5, "number": "SC-001", "title": "Concrete", "status": "Approved",
              "vendor": {"id": 20, "company": "Acme Concrete"}, "project": {"id": 10},
              "retainage_percent": "10.0", "description": "", "updated_at": "2026-01-01"}
    record.update(changes)
    return record


def line(**changes: Any) -> dict[str, Any]:
    record = {"id": 7, "position": 1, "description": "Footings", "amount": "1500.00",
              "quantity": 1, "unit_cost": "1500", "uom": "ls",
              "cost_code": {"id": 300, "full_code": "03-300", "name": "Concrete",
                            "origin_id": "3300.000"},  # refreshed from Sage: holds its code
              "line_item_type": {"id": 4, "code": "S", "name": "Subcontract"}}
    record.update(changes)
    return record


def reasons_for(record: dict[str, Any], lines: list[dict[str, Any]], *,
                project: Link | None = PROJECT, vendor: Link | None = VENDOR,
                **mapping: Any) -> list[str]:
    snap = build_snapshot("work_order_contract", record, lines)
    return readiness_reasons(snap, project_link=project, vendor_link=vendor, limits=Limits(),
                             **mapping)


def procore_code(full_code: str) -> dict[str, Any]:
    """A cost code made in Procore: no origin id."""
    return {"id": 301, "full_code": full_code, "name": "Concrete", "origin_id": None}


def test_ready_commitment_has_no_reasons() -> None:
    assert reasons_for(commitment(), [line()]) == []


@pytest.mark.parametrize(("record", "lines", "links", "expected"), [
    (commitment(status="Draft"), [line()], {}, "is Draft. Only Approved"),
    (commitment(), [line()], {"project": None}, "Project 10 is not linked to a Sage"),
    (commitment(), [line()], {"vendor": None}, "Company 'Acme Concrete' is not linked"),
    (commitment(vendor=None), [line()], {}, "No company is set"),
    (commitment(number=""), [line()], {}, "has no number"),
    (commitment(number="SC-2026-000123"), [line()], {}, "is 14 characters"),
    (commitment(title="Concrete foundations and slabs, phase 2"), [line()], {},
     "takes at most 30"),
    (commitment(), [], {}, "no schedule of values lines"),
    (commitment(), [line(cost_code=None)], {}, "Line 1 ('Footings') has no cost code"),
    (commitment(), [line(line_item_type=None)], {}, "Line 1 ('Footings') has no cost type"),
])
def test_each_reason(record: dict[str, Any], lines: list[dict[str, Any]],
                     links: dict[str, Any], expected: str) -> None:
    reasons = reasons_for(record, lines, **links)
    assert len(reasons) == 1, reasons
    assert expected in reasons[0]


def test_all_reasons_at_once() -> None:
    record = commitment(status="Draft", number="", vendor=None, title="x" * 31)
    reasons = reasons_for(record, [line(cost_code=None, line_item_type=None)], project=None)
    assert len(reasons) == 7


def test_snapshot_ignores_volatile_fields_and_orders_lines() -> None:
    lines = [line(id=8, position=2, amount="10"), line()]
    first = build_snapshot("purchase_order_contract", commitment(), lines)
    second = build_snapshot("purchase_order_contract",
                            commitment(updated_at="2026-02-02"), list(reversed(lines)))
    assert content_hash(first) == content_hash(second)
    assert first["grand_total"] == "1510.00"
    assert first["commitment_type"] == "purchase_order"
    changed = copy.deepcopy(lines)
    changed[0]["amount"] = "11"
    assert content_hash(build_snapshot("purchase_order_contract", commitment(), changed)) != \
        content_hash(first)


def test_a_cost_code_without_origin_id_needs_the_rule() -> None:
    [reason] = reasons_for(commitment(), [line(cost_code=procore_code("03-300"))])
    assert reason.startswith("Line 1 ('Footings'): cost code '03-300' did not come from Sage")
    assert reasons_for(commitment(), [line(cost_code=procore_code("03-300"))],
                       cost_code_rule="division-dash-code") == []


@pytest.mark.parametrize("full_code", ["3-300", "033-00", "03300", "03-300-1"])
def test_an_ambiguous_cost_code_is_a_reason_naming_line_and_code(full_code: str) -> None:
    lines = [line(), line(id=8, position=2, description="Framing",
                          cost_code=procore_code(full_code))]
    [reason] = reasons_for(commitment(), lines, cost_code_rule="division-dash-code")
    assert reason.startswith(f"Line 2 ('Framing'): cost code '{full_code}' does not follow "
                             "the cost code rule 'division-dash-code' (NN-NNN")


def test_a_code_sage_does_not_have_is_a_reason() -> None:
    lines = [line(cost_code=procore_code("05-120")), line(id=8, position=2)]
    reasons = reasons_for(commitment(), lines, cost_code_rule="division-dash-code",
                          known_cost_codes={"5120.000"})
    assert reasons == [
        "Line 2 ('Footings'): Sage has no active cost code 3300.000 (cost code '03-300'); add "
        "it in Sage and refresh the cost code list, or pick another cost code."]
    assert reasons_for(commitment(), lines, cost_code_rule="division-dash-code",
                       known_cost_codes={"5120.000", "3300.000"}) == []


def test_an_unknown_rule_is_one_reason_not_one_per_line() -> None:
    reasons = reasons_for(commitment(), [line(), line(id=8, position=2)],
                          cost_code_rule="digits")
    assert len(reasons) == 1 and reasons[0].startswith("The cost code rule 'digits'")


@pytest.mark.parametrize("amount", [None, ""])
def test_a_line_without_amount_is_a_reason_and_stays_without_one(amount: str | None) -> None:
    lines = [line(), line(id=8, position=2, description="Framing", amount=amount)]
    snap = build_snapshot("work_order_contract", commitment(), lines)
    assert snap["lines"][1]["amount"] is None  # not "0.00"
    assert snap["grand_total"] == "1500.00"  # the amounts present, as Procore totals them
    assert reasons_for(commitment(), lines) == [
        "Line 2 ('Framing') has no amount; enter it on the schedule of values."]


@pytest.mark.parametrize("amount", ["abc", "NaN", "Infinity"])
def test_an_amount_that_is_not_a_number_is_a_reason(amount: str) -> None:
    snap = build_snapshot("work_order_contract", commitment(), [line(amount=amount), line(
        id=8, position=2)])
    assert snap["lines"][0]["amount"] == amount and snap["grand_total"] == "1500.00"
    assert reasons_for(commitment(), [line(amount=amount)]) == [
        f"Line 1 ('Footings') amount '{amount}' is not a number; correct it on the schedule "
        "of values."]


def test_a_synced_commitment_is_not_mapped_again() -> None:
    """Its lines are in Sage; a header change carries none (a line change is drift)."""
    snap = build_snapshot("work_order_contract", commitment(status="Complete"),
                          [line(cost_code=procore_code("3-300"), amount=None)])
    assert readiness_reasons(snap, project_link=PROJECT, vendor_link=VENDOR, limits=Limits(),
                             synced=True, cost_code_rule="digits") == []


@pytest.mark.parametrize(("status", "ready"), [
    ("Partially Received", True), ("Received", True), ("Closed", True), ("Approved", True),
    ("Complete", False), ("Void", False), ("Draft", False),
])
def test_a_synced_purchase_order_follows_procores_purchase_order_statuses(
        status: str, ready: bool) -> None:
    """Procore's purchase orders are Draft..Approved, Partially Received, Received, Closed
    (openapi/RestV10PurchaseOrderContractsPost.json), never Complete or Void."""
    from chalicelib.domain.sage_mapping import MappingError, sage_status

    snap = {"commitment_type": "purchase_order", "status": status, "number": "PO-1",
            "title": "Rebar", "vendor": {"id": 1, "name": "V"}, "project_id": 1,
            "lines": [{"id": 1, "amount": "1.00", "description": "x",
                       "cost_code": {"id": 1, "full_code": "03-300", "origin_id": "3300"},
                       "line_item_type": {"id": 1, "code": "M"}}]}
    reasons = readiness_reasons(snap, project_link=PROJECT, vendor_link=VENDOR,
                                limits=Limits(), synced=True)
    assert (not any("already in Sage can be" in r for r in reasons)) is ready
    if ready:
        assert sage_status(snap) in (1, 4)
    else:
        with pytest.raises(MappingError):
            sage_status(snap)
