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
              "cost_code": {"id": 300, "full_code": "03-300", "name": "Concrete"},
              "line_item_type": {"id": 4, "code": "S", "name": "Subcontract"}}
    record.update(changes)
    return record


def reasons_for(record: dict[str, Any], lines: list[dict[str, Any]], *,
                project: Link | None = PROJECT, vendor: Link | None = VENDOR) -> list[str]:
    snap = build_snapshot("work_order_contract", record, lines)
    return readiness_reasons(snap, project_link=project, vendor_link=vendor, limits=Limits())


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
