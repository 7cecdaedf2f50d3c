"""Budgets, pure: snapshot, readiness, Sage cells, change sets, the approver's view."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from chalicelib.domain import budgets
from chalicelib.domain.models import Link
from chalicelib.domain.sage_mapping import MappingError

COST_TYPES = {"Material": 1, "Labor": 2, "Subcontract": 4}
CODES = {11: {"id": 11, "full_code": "03-300", "name": "Concrete", "origin_id": "3300.000"},
         12: {"id": 12, "full_code": "09-900", "name": "Painting", "origin_id": "9900.000"},
         13: {"id": 13, "full_code": "01-100", "name": "General", "origin_id": None}}
TYPES = {1: {"id": 1, "code": "M", "name": "Material", "origin_id": None},
         2: {"id": 2, "code": "L", "name": "Labor", "origin_id": "2"},
         4: {"id": 4, "code": "S", "name": "Subcontract", "origin_id": None},
         7: {"id": 7, "code": "X", "name": "Mystery", "origin_id": None}}
LINK = Link(company_id=1, kind="project", procore_id=500, sage_key="24001")


def row(line_id: int, code: int, category: int, original: str, *, mods: str = "0.0",
        changes: str = "0.0", biller: str = "Project") -> dict[str, Any]:
    return {"id": line_id, "wbs_code_id": 900 + line_id, "cost_code_id": code,
            "category_id": category, "original_budget_amount": original,
            "budget_modifications": mods, "approved_budget_changes": changes,
            "biller_type": biller, "biller_id": 77 if biller == "SubJob" else 500,
            "biller": "East wing" if biller == "SubJob" else "Tower", "project": "Tower"}


def snap(*rows: dict[str, Any], locked: bool = True) -> dict[str, Any]:
    return budgets.build_snapshot(500, locked=locked, rows=list(rows), cost_codes_by_id=CODES,
                                  types_by_id=TYPES)


def ready(snapshot: dict[str, Any], **ctx: Any) -> list[str]:
    context = budgets.ReadinessContext(**{"project_link": LINK, "cost_types": COST_TYPES,
                                          **ctx})
    return budgets.readiness_reasons(snapshot, context)


def test_snapshot_revised_is_original_plus_modifications_plus_approved_changes() -> None:
    s = snap(row(1, 11, 1, "1000.10", mods="-100.05", changes="250.0"),
             row(2, 11, 2, "500.0"), {"id": None, "cost_code_id": 12, "category_id": 1})
    assert [ln["revised"] for ln in s["lines"]] == ["1150.05", "500.00"]
    assert s["original_total"] == "1500.10" and s["revised_total"] == "1650.05"
    assert s["title"] == "Budget of Tower" and s["locked"] is True


def test_a_ready_budget_has_no_reasons() -> None:
    assert ready(snap(row(1, 11, 1, "1000"), row(2, 12, 2, "20"))) == []


@pytest.mark.parametrize(("snapshot", "ctx", "needle"), [
    (snap(row(1, 11, 1, "10"), locked=False), {}, "not locked in Procore"),
    (snap(row(1, 11, 1, "10")), {"project_link": None}, "not linked to a Sage 100"),
    (snap(), {}, "has no line items"),
    (snap(row(1, 11, 1, "10")), {"sage_lines": [{"job": 24001}]},
     "already has a budget (1 lines)"),
    (snap(row(1, 11, 1, "10")), {"job_has_phases": True}, "With Sage phases"),
    (snap(row(1, 11, 1, "10", biller="SubJob")), {}, "sub job 'East wing'"),
    (snap(row(1, 13, 1, "10")), {}, "did not come from Sage"),
    (snap(row(1, 11, 7, "10")), {}, "cost type 'Mystery' has no Sage cost type"),
    (snap(row(1, 11, 1, "10")), {"known_cost_codes": {"9900.000"}},
     "Sage has no active cost code 3300.000"),
    (snap(row(1, 11, 1, "10")), {"managed_in_sage": Link(
        company_id=1, kind="budget", procore_id=500, sage_key="24001", origin="sage")},
     "imported from Sage job 24001"),
    (snap(row(1, 11, 1, "10000000000")), {}, "beyond what Sage can hold"),
])
def test_every_refusal_is_a_reason_a_project_manager_reads(
        snapshot: dict[str, Any], ctx: dict[str, Any], needle: str) -> None:
    assert any(needle in reason for reason in ready(snapshot, **ctx)), ready(snapshot, **ctx)


def test_created_in_both_does_not_apply_once_exported() -> None:
    s = snap(row(1, 11, 1, "10"))
    assert ready(s, sage_lines=[{"job": 24001}], exported=True) == []


def test_cells_group_per_cost_code_with_one_column_per_type_and_sum_shared_cells() -> None:
    s = snap(row(1, 11, 1, "100"), row(2, 11, 2, "50", changes="5"), row(3, 12, 2, "7"))
    cells = budgets.sage_cells(s, cost_types=COST_TYPES, rule="none")
    assert cells[(None, "3300.000", 2)] == budgets.Cell(Decimal("55.00"), Decimal("50.00"),
                                                        (2,))
    rows = budgets.rows_for_add(cells)
    assert rows == [
        {"phase": None, "cost_code": "3300.000",
         "amounts": {1: Decimal("100.00"), 2: Decimal("55.00")},
         "originals": {1: Decimal("100.00"), 2: Decimal("50.00")}},
        {"phase": None, "cost_code": "9900.000", "amounts": {2: Decimal("7.00")},
         "originals": {2: Decimal("7.00")}}]


def test_unmappable_line_is_named() -> None:
    with pytest.raises(MappingError, match="01-100"):
        budgets.sage_cells(snap(row(1, 13, 1, "1")), cost_types=COST_TYPES, rule="none")


def test_change_set_has_only_changed_added_and_deleted_cells() -> None:
    before = budgets.sage_cells(snap(row(1, 11, 1, "100"), row(2, 11, 2, "50"),
                                     row(3, 12, 2, "7")), cost_types=COST_TYPES, rule="none")
    after = budgets.sage_cells(snap(row(1, 11, 1, "100", mods="-10"), row(2, 11, 2, "50"),
                                    row(4, 12, 4, "0", changes="30")),
                               cost_types=COST_TYPES, rule="none")
    assert budgets.rows_for_change(before, after) == [
        {"phase": None, "cost_code": "3300.000", "amounts": {1: Decimal("90.00")},
         "originals": {}},
        {"phase": None, "cost_code": "9900.000",
         "amounts": {2: Decimal("0.00"), 4: Decimal("30.00")},
         "originals": {4: Decimal("0.00")}}]
    assert budgets.rows_for_change(after, after) == []


def test_after_sync_names_each_changed_line() -> None:
    synced = snap(row(1, 11, 1, "100"), row(3, 12, 2, "7"))
    new = snap(row(1, 11, 1, "100", changes="20"), row(5, 12, 4, "0"))
    diff = budgets.change_after_sync(synced, new)
    assert diff.reasons == []
    assert diff.changes == ["line 03-300 Material 100.00 -> 120.00",
                            "line 09-900 Subcontract added (0.00)", "line 09-900 Labor deleted"]
    assert budgets.change_after_sync(synced, synced).changes == []


def test_against_sage_shows_now_after_and_difference() -> None:
    rows = [{"phase": None, "cost_code": "3300.000", "amounts": {1: "90.00", 2: "5.00"}}]
    sage = [{"job": 24001, "phase": None, "cost_code": "3300.000",
             "amounts": {"1": "100.00"}}]
    view = budgets.against_sage(rows, sage)
    assert [(v["cost_type"], v["sage_now"], v["after_export"], v["difference"])
            for v in view] == [(1, "100.00", "90.00", "-10.00"), (2, "0.00", "5.00", "5.00")]
    assert budgets.against_sage(rows, None)[0]["sage_now"] is None
