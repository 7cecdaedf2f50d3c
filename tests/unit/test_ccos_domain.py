"""Commitment change orders, pure: snapshot (summed lines, Sage lines), readiness."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.domain import ccos
from chalicelib.domain.models import Item, Link
from chalicelib.domain.state_machine import Status

CODE = {"id": 11, "full_code": "03-300", "name": "Concrete", "origin_id": None}
LABOR = {"id": 2, "code": "L", "name": "Labor", "origin_id": None}
SUB = {"id": 4, "code": "S", "name": "Subcontract", "origin_id": None}
LINK = Link(company_id=1, kind="project", procore_id=7, sage_key="24001")


def commitment(synced: bool = True) -> Item:
    snapshot = {"number": "SC-001", "lines": [
        {"id": 501, "description": "Footings", "amount": "48000.00", "cost_code": CODE,
         "line_item_type": SUB},
        {"id": 502, "description": "Slab", "amount": "12500.50", "cost_code": CODE,
         "line_item_type": LABOR}]}
    return Item(company_id=1, kind="commitment", procore_id=900, project_id=7,
                subtype="subcontract", status=Status.SYNCED if synced else Status.NOT_READY,
                snapshot=snapshot, synced_snapshot=snapshot if synced else None,
                number="SC-001", erp_keys={"subcon": "17", "ctcnum": "SC-001"})


def cco(status: str = "approved", **extra: Any) -> dict[str, Any]:
    return {"id": 3001, "contract_id": 900, "number": "002", "title": "Extra footing",
            "status": status, "project_id": 7, **extra}


def line(line_id: str, amount: str, target: int | None = None,
         flat: str | None = None) -> dict[str, Any]:
    return {"id": line_id, "amount": amount, "description": f"line {line_id}",
            "commitment_line_item_id": target, "wbs_code": {"flat_code": flat}}


def snap(lines: list[dict[str, Any]], item: Item | None = None, **extra: Any) -> dict[str, Any]:
    return ccos.build_snapshot(cco(**extra), lines, commitment=item or commitment(),
                               codes_by_full={"03-300": CODE}, types_by_code={"L": LABOR,
                                                                              "S": SUB})


def reasons(snapshot: dict[str, Any], item: Item | None = None) -> list[str]:
    return ccos.readiness_reasons(snapshot, ccos.ReadinessContext(
        commitment=item or commitment(), project_link=LINK, cost_code_rule="division-dash-code",
        cost_types={"Labor": 2, "Subcontract": 4}))


def test_changes_to_one_commitment_line_are_summed_and_keep_its_sage_line() -> None:
    s = snap([line("a", "1000", 501), line("b", "-250.50", 501), line("c", "300", 502),
              line("d", "75", None, "03-300.L")])
    by_id = {ln["id"]: ln for ln in s["lines"]}
    assert (by_id["a"]["amount"], by_id["a"]["merged"], by_id["a"]["sage_line"]) == (
        "749.50", ["a", "b"], 1)
    assert (by_id["c"]["sage_line"], by_id["c"]["line_item_type"]) == (2, LABOR)
    assert (by_id["d"]["sage_line"], by_id["d"]["cost_code"]["id"]) == (None, 11)
    assert s["total"] == "1124.50" and s["commitment_type"] == "subcontract"
    assert reasons(s) == []


@pytest.mark.parametrize(("snapshot", "item", "needle"), [
    (snap([line("a", "10", 501)], status="pending"), None, "is pending. Only approved"),
    (snap([line("a", "10", 501)], commitment(synced=False)), commitment(synced=False),
     "not in Sage 100 Contractor. A change order goes to Sage only on a synced commitment"),
    (snap([line("a", "10", 999)]), None, "changes a commitment line Sage does not have"),
    (snap([line("a", "10", None, "99-999.L")]), None, "names no cost code"),
    (snap([]), None, "has no line items"),
    (snap([line("a", "ten", 501)]), None, "is not a number"),
    (snap([line("a", "10", 501)], title="x" * 60), None, "Shorten it"),
])
def test_each_refusal_is_a_reason(snapshot: dict[str, Any], item: Item | None,
                                  needle: str) -> None:
    found = reasons(snapshot, item)
    assert any(needle in r for r in found), found


def test_change_events_read_after_sync_are_not_a_change_of_what_went_to_sage() -> None:
    from chalicelib.kinds.cco import KIND

    synced = {"title": "Rebar", "change_events": []}  # read before the extended view
    assert KIND.after_sync(synced, {**synced, "change_events": [880]}).reasons == []
    assert KIND.after_sync(synced, {**synced, "title": "More rebar"}).reasons
