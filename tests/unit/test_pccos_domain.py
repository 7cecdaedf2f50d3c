"""PCCOs, pure: the snapshot from Procore's answers, the readiness reasons, and the command
the pcco kind builds (cost codes by the company's rule, the reference first, amounts
exact, a CCO's change order of the same change event joined)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from chalicelib.domain import pccos
from chalicelib.domain.models import Item, Link
from chalicelib.domain.sage_mapping import MappingError
from chalicelib.domain.state_machine import Status
from chalicelib.kinds import ExportContext, kind_module
from chalicelib.kinds.pcco import change_order_to_join

CODES = {"03-300": {"id": 31, "full_code": "03-300", "name": "Concrete", "origin_id": None},
         "26-000": {"id": 32, "full_code": "26-000", "name": "Electrical", "origin_id": None}}
TYPES = {"S": {"id": 4, "code": "S", "name": "Subcontract", "origin_id": None},
         "L": {"id": 2, "code": "L", "name": "Labor", "origin_id": None}}
COST_TYPES = {"S": 4, "L": 2}
RULE = "division-dash-code"


def pcco_answer(**fields: Any) -> dict[str, Any]:
    return {"id": 77, "project_id": 10, "contract_id": 500, "number": "003",
            "title": "Added footing", "status": "approved", "updated_at": "2025-06-01T00:00Z",
            "change_events": [{"id": 880, "number": "7"}, {"id": 879, "number": "6"}],
            **fields}


def line(n: int, amount: str, flat: str = "03-300.S", **fields: Any) -> dict[str, Any]:
    return {"id": str(n), "position": n, "description": f"Line {n}", "amount": amount,
            "wbs_code": {"flat_code": flat}, "prime_line_item_id": "901", **fields}


def snapshot(*lines: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return pccos.build_snapshot(pcco_answer(**fields), list(lines) or [line(1, "12500.00")],
                                codes_by_full=CODES, types_by_code=TYPES)


def ctx(**fields: Any) -> pccos.ReadinessContext:
    values: dict[str, Any] = {
        "project_link": Link(company_id=1, kind="project", procore_id=10, sage_key="24001"),
        "prime_contract_link": Link(company_id=1, kind="prime_contract", procore_id=500,
                                    sage_key="24001"),
        "cost_code_rule": RULE, "known_cost_codes": {"3300.000", "26000.000"},
        "cost_types": COST_TYPES}
    values.update(fields)
    return pccos.ReadinessContext(**values)


def test_the_snapshot_orders_lines_maps_wbs_codes_and_totals_exactly() -> None:
    snap = snapshot(line(2, "-0.10", "26-000.L"), line(1, "12500.05"))
    assert snap["change_events"] == [879, 880]
    assert snap["total"] == "12499.95"
    assert [(ln["id"], ln["amount"], ln["cost_code"]["full_code"], ln["line_item_type"]["code"],
             ln["prime_line_item_id"]) for ln in snap["lines"]] == [
        ("1", "12500.05", "03-300", "S", 901), ("2", "-0.10", "26-000", "L", 901)]


def test_an_approved_pcco_on_linked_records_is_ready() -> None:
    assert pccos.readiness_reasons(snapshot(), ctx()) == []


def test_every_reason_is_given_at_once() -> None:
    snap = snapshot(line(1, "10000000000.00"), line(2, "abc"), line(3, "1", "99-999.S"),
                    line(4, "1", description="d" * 45), status="pending", title="t" * 45)
    reasons = pccos.readiness_reasons(snap, ctx(project_link=None, prime_contract_link=None))
    assert reasons[:4] == [
        "PCCO 003 is pending. Only approved prime contract change orders go to Sage; "
        "approve it in Procore.",
        "Project 10 is not linked to a Sage job.",
        "Prime contract 500 is not linked to Sage 100 Contractor. A PCCO goes to Sage only on "
        "a synced prime contract: import the job's contract from Sage into Procore first.",
        "Title '" + "t" * 45 + "' is 45 characters; Sage's change order description takes 43 "
        "after the PCCO reference. Shorten it."]
    rest = "\n".join(reasons[4:])
    assert "Line 'Line 1': amount 10000000000.00 is beyond what Sage can hold." in rest
    assert "Line 'Line 2': amount 'abc' is not a number." in rest
    assert "Line 'Line 3': its WBS code '99-999.S' names no cost code" in rest
    assert "takes 43 characters after the PCCO reference" in rest
    assert "beyond what Sage can hold" in reasons[-1]  # the total


def test_a_cost_code_sage_lacks_and_an_unmapped_type_are_reasons() -> None:
    reasons = pccos.readiness_reasons(snapshot(line(1, "5", "26-000.L")),
                                      ctx(known_cost_codes={"3300.000"}, cost_types={"S": 4}))
    assert len(reasons) == 2 and all(r.startswith("Line 'Line 1':") for r in reasons)
    assert pccos.readiness_reasons({**snapshot(), "lines": []}, ctx()) == [
        "PCCO 003 has no line items."]


class FakeStore:
    def __init__(self, items: list[Item]) -> None:
        self.items = {(i.kind, i.procore_id): i for i in items}

    def get_item(self, company_id: int, kind: str, procore_id: int) -> Item | None:
        return self.items.get((kind, procore_id))


def item(kind: str, procore_id: int, events: list[int], *, status: Status = Status.SYNCED,
         prmchg: str | None = None, project: int = 10) -> Item:
    return Item(company_id=1, kind=kind, procore_id=procore_id, project_id=project,
                status=status,
                snapshot={**(snapshot() if kind == "pcco" else {}), "change_events": events},
                erp_keys={"prmchg": prmchg} if prmchg else {})


def test_the_join_is_the_earliest_synced_change_order_of_the_events_ccos() -> None:
    pcco = item("pcco", 77, [880], status=Status.ACCEPTED)
    pcco.snapshot["change_event_ccos"] = [1, 2, 3, 6, 7]  # Procore's CCOs of event 880
    store = FakeStore([
        item("cco", 1, [880], prmchg="9"), item("cco", 2, [880], prmchg="4"),
        item("cco", 3, [880], status=Status.FAILED, prmchg="2"),  # not in Sage
        item("cco", 4, [879], prmchg="1"),  # another change event's
        item("cco", 6, [880])])  # a purchase order's CCO: lines on the PO, no prmchg
    assert change_order_to_join(store, pcco) == 4  # type: ignore[arg-type]
    assert change_order_to_join(store, item("pcco", 78, [])) is None  # type: ignore[arg-type]


def test_the_command_maps_lines_by_the_rule_with_the_reference_first() -> None:
    module = kind_module("pcco")
    assert module is not None
    pcco = item("pcco", 77, [880], status=Status.ACCEPTED)
    pcco.snapshot = {**snapshot(line(1, "12500.00"), line(2, "-500.00", "26-000.L")),
                     "change_event_ccos": [1]}
    pcco.command_id = "cmd-1"
    context = ExportContext(
        project_link=Link(company_id=1, kind="project", procore_id=10, sage_key="24001"),
        cost_types=COST_TYPES, advanced={"cost_code_rule": RULE},
        store=FakeStore([item("cco", 1, [880], prmchg="6")]))  # type: ignore[arg-type]
    command = module.build_command(pcco, version=3, issued_at="2025-06-03T10:00:00Z",
                                   ctx=context)
    payload = command.typed_payload()
    assert (payload.job, payload.reference, payload.description, payload.join,
            str(payload.change_date)) == (24001, "PCCO77", "PCCO77 Added footing", 6,
                                          "2025-06-03")
    assert [(ln.description, ln.cost_code, ln.cost_type, ln.amount) for ln in payload.lines] == [
        ("PCCO77 Line 1", "3300.000", 4, Decimal("12500.00")),
        ("PCCO77 Line 2", "26000.000", 2, Decimal("-500.00"))]
    assert module.sage_identity(pcco, {"prmchg": "6", "chgnum": "2", "lines": "3-4"}) == (
        "pmcgln:6:3-4", "2")
    with pytest.raises(MappingError, match="no longer linked"):
        module.build_command(pcco, version=3, issued_at="2025-06-03T10:00:00Z",
                             ctx=ExportContext(project_link=None, cost_types=COST_TYPES))


def test_a_prime_contract_linked_to_another_job_than_the_project_is_a_reason() -> None:
    other = Link(company_id=1, kind="prime_contract", procore_id=500, sage_key="24002")
    assert pccos.readiness_reasons(snapshot(), ctx(prime_contract_link=other)) == [
        "Prime contract 500 is linked to Sage job 24002, but project 10 is linked to Sage "
        "job 24001: fix the links before exporting."]
