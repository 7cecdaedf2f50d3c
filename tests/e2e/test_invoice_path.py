"""Subcontractor invoices end to end: an approved Procore requisition on a synced
subcontract, found by the reconciliation poll (Procore fires no webhook for them), lands in
Sage AP as acpinv + apivln + jobcst with its retention and period; a locked period and a
duplicate invoice number each fail with Sage's message, are fixed, resent and synced."""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from typing import Any

import pytest

from tests.e2e.conftest import WOC, ExportStack
from tests.e2e.test_budget_path import ProjectManager
from tests.helpers import COMPANY_ID

pytestmark = pytest.mark.e2e


def invoice(procore_id: int) -> Any:
    from chalicelib.wiring import get_store

    return get_store().get_item(COMPANY_ID, "subcontractor_invoice", procore_id)


def waits(procore_id: int, *statuses: str) -> Any:
    def check() -> Any:
        item = invoice(procore_id)
        return item if item is not None and item.status.value in statuses else None
    return check


def rows(stack: ExportStack, sql: str, *args: Any) -> list[dict[str, Any]]:
    with sqlite3.connect(stack.tmp / "sage.db") as conn:
        conn.row_factory = sqlite3.Row
        return [dict(r) for r in conn.execute(sql, args).fetchall()]


def money(value: Any) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.01"))


def poll(stack: ExportStack) -> None:
    """The reconciliation schedule: how intake hears of invoices."""
    event = stack.client.events.generate_cw_event(
        source="aws.events", detail_type="Scheduled Event", detail={},
        resources=["arn:aws:events:us-east-1:123456789012:rule/reconcile"])
    stack.client.lambda_.invoke("reconcile-commitments", event)


def accept_until(stack: ExportStack, procore_id: int, *statuses: str) -> Any:
    status, body = stack.call("post", f"/items/subcontractor_invoice-{procore_id}/accept",
                              "approver")
    assert status == 200, body
    return stack.until(waits(procore_id, *statuses))


def test_subcontractor_invoices_land_in_sage_ap_and_sage_refusals_are_fixed_and_resent(
        stack: ExportStack) -> None:
    stack.link()
    stack.start_agent()
    record = stack.commitment()
    stack.until(stack.status(record["id"], "ready_to_export"))
    stack.call("post", f"/items/commitment-{record['id']}/accept", "approver")
    stack.until(stack.status(record["id"], "synced"))
    footings, slab = stack.sandbox.list_line_items(WOC, record["id"])
    period = stack.sandbox.create_billing_period(stack.project, "2026-11-01", "2026-11-30",
                                                 "2026-12-10")
    first = stack.sandbox.create_requisition(
        stack.project, record["id"], period_id=period["id"], invoice_number="GB-1001",
        billing_date="2026-11-25", status="approved",
        items={footings["id"]: ("10000", "1000"), slab["id"]: ("2500.50", "250.05")})

    # November is locked in Sage: Sage's refusal is the item's failure.
    stack.sage.set_posting_periods(2026, 12, locked={11})
    poll(stack)
    stack.until(waits(first["id"], "ready_to_export"))
    failed = accept_until(stack, first["id"], "failed")
    assert failed.last_error["code"] == 14050 and "locked" in failed.last_error["message"]
    stack.sage.set_posting_periods(2026, 12)
    status, body = stack.call("post", f"/items/subcontractor_invoice-{first['id']}/resend",
                              "pm")
    assert (status, body["status"]) == (200, "ready_to_export"), body
    item = accept_until(stack, first["id"], "synced")

    [header] = rows(stack, "SELECT * FROM acpinv WHERE recnum = ?", int(item.erp_keys["acpinv"]))
    assert (header["invnum"], header["vndnum"], header["jobnum"], header["ctcnum"]) == (
        "GB-1001", 3001, 24001, "SC-001")
    assert (money(header["invttl"]), money(header["retain"])) == (Decimal("12500.50"),
                                                                 Decimal("1250.05"))
    assert (header["postyr"], header["actper"]) == (2026, 11)
    lines = rows(stack, "SELECT * FROM apivln WHERE recnum = ? ORDER BY linnum",
                 header["recnum"])
    assert [(money(ln["extttl"]), ln["linref"]) for ln in lines] == [
        (Decimal("10000.00"), "1"), (Decimal("2500.50"), "2")]
    costs = rows(stack, "SELECT * FROM jobcst WHERE trnnum = 'GB-1001' ORDER BY recnum")
    assert sum(money(c["cstamt"]) for c in costs) == money(header["invttl"])
    assert [(f"{Decimal(str(c['cstcde'])):.3f}", c["csttyp"]) for c in costs] == [
        ("3300.000", 4), ("3300.000", 2)]
    [subcon] = rows(stack, "SELECT * FROM subcon WHERE ctcnum = 'SC-001'")
    assert money(subcon["invttl"]) == Decimal("12500.50")
    assert stack.sandbox.get_requisition(stack.project, first["id"])["origin_id"] == \
        f"acpinv:{header['recnum']}"

    # Paid in Sage: the payment reaches Procore once, however often payments are pulled.
    stack.sage.pay_invoice(header["recnum"], check_number="10452", date="2026-12-04",
                           amount=Decimal("11250.45"))
    for _ in range(2):
        status, _ = stack.call("post", "/erp/lists/payments/refresh", "admin")
        assert status == 202
        stack.until(lambda: stack.call("get", "/erp/lists", "admin")[1]["pulls"]["payments"]
                    .get("status") == "complete")
    payments = ProjectManager(stack).call(
        "GET", f"/rest/v1.0/contract_payments?project_id={stack.project}&contract_id="
               f"{record['id']}")
    assert [(p["check_number"], p["amount"], p["requisition_id"]) for p in payments] == [
        ("10452", "11250.45", first["id"])]
    assert payments[0]["origin_id"].startswith("acppmt:")

    # The subcontractor repeats an invoice number: Sage refuses it; fixed in Procore, resent.
    december = stack.sandbox.create_billing_period(stack.project, "2026-12-01", "2026-12-31",
                                                   "2027-01-10")
    second = stack.sandbox.create_requisition(
        stack.project, record["id"], period_id=december["id"], invoice_number="GB-1001",
        billing_date="2026-12-05", status="approved", items={footings["id"]: ("5000", "500")})
    poll(stack)
    stack.until(waits(second["id"], "ready_to_export"))
    failed = accept_until(stack, second["id"], "failed")
    assert "GB-1001" in failed.last_error["message"], failed.last_error
    ProjectManager(stack).call("PATCH", f"/rest/v1.1/requisitions/{second['id']}?project_id="
                                        f"{stack.project}", {
        "project_id": stack.project, "commitment_id": record["id"],
        "requisition": {"invoice_number": "GB-1002"}})
    poll(stack)
    stack.until(lambda: (item := invoice(second["id"])) and
                item.snapshot["invoice_number"] == "GB-1002")
    status, body = stack.call("post", f"/items/subcontractor_invoice-{second['id']}/resend",
                              "pm")
    assert (status, body["status"]) == (200, "ready_to_export"), body
    accept_until(stack, second["id"], "synced")
    assert [r["invnum"] for r in rows(stack, "SELECT invnum FROM acpinv ORDER BY recnum")] \
        == ["GB-1001", "GB-1002"]

    # Unlink (ERP standard): the link goes; Sage keeps its invoice.
    status, body = stack.call("post", f"/items/subcontractor_invoice-{second['id']}/unlink",
                              "standard")
    assert (status, body["status"]) == (200, "unlinked"), body
