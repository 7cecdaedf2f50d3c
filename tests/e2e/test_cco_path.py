"""Commitment change orders end to end: a synced subcontract's CCO becomes a Sage change
order (prmchg + sbcgln) and the subcontract's totals follow; a purchase order's CCO is
appended to the PO; a CCO made from a change event exports the same way; a CCO on an
unsynced commitment is refused with the reason; unlink clears the link and origin."""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from typing import Any

import pytest

from tests.e2e.conftest import POC, WOC, ExportStack
from tests.e2e.test_budget_path import ProjectManager
from tests.helpers import COMPANY_ID

pytestmark = pytest.mark.e2e


def cco_item(procore_id: int) -> Any:
    from chalicelib.wiring import get_store

    return get_store().get_item(COMPANY_ID, "cco", procore_id)


def cco_status(procore_id: int, *statuses: str) -> Any:
    def check() -> Any:
        item = cco_item(procore_id)
        return item if item is not None and item.status.value in statuses else None
    return check


def rows(stack: ExportStack, sql: str, *args: Any) -> list[dict[str, Any]]:
    with sqlite3.connect(stack.tmp / "sage.db") as conn:
        conn.row_factory = sqlite3.Row
        return [dict(r) for r in conn.execute(sql, args).fetchall()]


def money(value: Any) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.01"))


def synced_commitment(stack: ExportStack, kind: str = WOC, **extra: Any) -> dict[str, Any]:
    record = stack.commitment(kind, **extra)
    stack.until(stack.status(record["id"], "ready_to_export"))
    status, _ = stack.call("post", f"/items/commitment-{record['id']}/accept", "approver")
    assert status == 200
    stack.until(stack.status(record["id"], "synced"))
    return record


def test_a_subcontract_cco_lands_as_a_sage_change_order_and_totals_follow(
        stack: ExportStack) -> None:
    stack.link()
    stack.start_agent()
    record = synced_commitment(stack)
    footings = stack.sandbox.list_line_items(WOC, record["id"])[0]
    cco = stack.sandbox.create_cco(stack.project, record["id"], title="Extra footing")
    stack.sandbox.add_cco_line(stack.project, cco["id"], amount="1500", description="Deeper",
                               commitment_line_item_id=footings["id"])
    stack.sandbox.add_cco_line(stack.project, cco["id"], amount="800",
                               description="Steel dowels", cost_code_id=stack.codes["05-120"],
                               line_item_type_id=stack.types["M"])
    stack.until(lambda: (item := cco_item(cco["id"])) and item.status.value ==
                "ready_to_export" and item.snapshot["total"] == "2300.00")
    status, body = stack.call("post", f"/items/cco-{cco['id']}/accept", "approver")
    assert status == 200, body
    item = stack.until(cco_status(cco["id"], "synced"))

    [change] = rows(stack, "SELECT * FROM prmchg WHERE jobnum = 24001")
    assert (change["recnum"], change["chgnum"]) == (int(item.erp_keys["prmchg"]),
                                                    item.erp_keys["chgnum"])
    assert change["dscrpt"].startswith(f"CCO{cco['id']} Extra footing")
    lines = rows(stack, "SELECT * FROM sbcgln WHERE recnum = ? ORDER BY linnum",
                 change["recnum"])
    assert [(ln["ctclin"], money(ln["bdgprc"]), f"{Decimal(str(ln['cstcde'])):.3f}",
             ln["csttyp"]) for ln in lines] == [(1, Decimal("1500.00"), "3300.000", 4),
                                                (3, Decimal("800.00"), "5120.000", 1)]
    [subcon] = rows(stack, "SELECT * FROM subcon WHERE recnum = ?",
                    int(item.erp_keys["subcon"]))
    assert money(subcon["chgttl"]) == Decimal("2300.00")
    assert money(subcon["ctcttl"]) == Decimal("62800.50")
    shown = stack.sandbox.get_cco(stack.project, cco["id"])
    assert (shown["origin_id"], shown["origin_code"]) == (f"prmchg:{change['recnum']}",
                                                          change["chgnum"])

    # Unlink (ERP standard): link and Procore origin cleared, Sage keeps its change order.
    status, body = stack.call("post", f"/items/cco-{cco['id']}/unlink", "standard")
    assert (status, body["status"]) == (200, "unlinked"), body
    assert stack.sandbox.get_cco(stack.project, cco["id"])["origin_id"] is None
    assert len(rows(stack, "SELECT * FROM prmchg WHERE jobnum = 24001")) == 1


def test_a_cco_on_a_commitment_not_in_sage_is_refused_with_the_reason(
        stack: ExportStack) -> None:
    stack.link()
    record = stack.commitment(number="SC-009")
    cco = stack.sandbox.create_cco(stack.project, record["id"], title="Too early")
    stack.sandbox.add_cco_line(stack.project, cco["id"], amount="10",
                               commitment_line_item_id=stack.sandbox.list_line_items(
                                   WOC, record["id"])[0]["id"])
    item = stack.until(cco_status(cco["id"], "not_ready"))
    assert any("only on a synced commitment" in r for r in item.reasons), item.reasons
    status, body = stack.call("post", "/items/send", "approver",
                              {"kind": "cco", "procore_id": cco["id"],
                               "project_id": stack.project})
    assert status == 403 and "change orders" in body["message"]


def test_po_cco_appends_lines_and_a_change_event_cco_exports_the_same_way(
        stack: ExportStack) -> None:
    stack.link("steel", "3003")
    stack.start_agent()
    order = synced_commitment(stack, POC, number="PO-001", vendor="steel",
                              lines=[("#5 rebar", "12500", "05-120", "M")])
    rebar = stack.sandbox.list_line_items(POC, order["id"])[0]
    # A change event proposes more rebar on the PO; the CCO is made from it in Procore.
    stack.sandbox.set_change_events(stack.project, True)
    pm = ProjectManager(stack)
    event = pm.call("POST", f"/rest/v1.0/change_events?project_id={stack.project}", {
        "project_id": stack.project, "change_event": {
            "title": "Rebar for the new ramp", "event_scope": "out_of_scope",
            "change_event_status_id": 1, "change_event_line_items_attributes": [
                {"cost_code_id": stack.codes["05-120"], "line_item_type_id": stack.types["M"],
                 "estimated_cost_amount": "2250.00", "proposed_contract_id": order["id"],
                 "commitment_contract_line_item_id": rebar["id"]}]}})
    cco = stack.sandbox.create_cco_from_change_event(stack.project, event["id"], order["id"],
                                                     status="approved", title="Ramp rebar")
    stack.until(cco_status(cco["id"], "ready_to_export"))
    assert stack.call("post", f"/items/cco-{cco['id']}/accept", "approver")[0] == 200
    item = stack.until(cco_status(cco["id"], "synced"))
    appended = rows(stack, "SELECT * FROM pcorln WHERE recnum = ? ORDER BY linnum",
                    int(item.erp_keys["pchord"]))
    assert [(ln["linnum"], money(ln["extttl"])) for ln in appended] == [
        (1, Decimal("12500.00")), (2, Decimal("2250.00"))]
    assert appended[1]["prtdsc"].startswith(f"CCO{cco['id']}")
    [po] = rows(stack, "SELECT * FROM pchord WHERE recnum = ?", int(item.erp_keys["pchord"]))
    assert money(po["pchttl"]) == Decimal("14750.00")
    assert stack.sandbox.get_cco(stack.project, cco["id"])["origin_id"] == \
        f"pcorln:{item.erp_keys['pchord']}:2-2"
