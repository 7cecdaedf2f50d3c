"""Owner invoices end to end over the local stack components: with the owner side seeded
(a prime contract linked to its Sage job), an approved payment application entered in
Procore's UI reaches the connector by its Payment Applications webhook, is accepted and
lands in Sage AR (acrinv + arivln with its retention, in the billing date's period) through
the relay agent; the origin id is written back; receipts recorded in Sage are reported as
paid once each, however often they are pulled; then the invoice is unlinked."""

from __future__ import annotations

import json
import sqlite3
from decimal import Decimal
from typing import Any

import pytest

from chalicelib.domain.models import Link
from devstack.procore_sandbox.owner_seeding import seed_owner_side
from tests.e2e.conftest import ExportStack
from tests.helpers import COMPANY_ID

pytestmark = pytest.mark.e2e


def owner_invoice(procore_id: int) -> Any:
    from chalicelib.wiring import get_store

    return get_store().get_item(COMPANY_ID, "owner_invoice", procore_id)


def waits(procore_id: int, *statuses: str) -> Any:
    def check() -> Any:
        item = owner_invoice(procore_id)
        return item if item is not None and item.status.value in statuses else None
    return check


def rows(stack: ExportStack, sql: str, *args: Any) -> list[dict[str, Any]]:
    with sqlite3.connect(stack.tmp / "sage.db") as conn:
        conn.row_factory = sqlite3.Row
        return [dict(r) for r in conn.execute(sql, args).fetchall()]


def money(value: Any) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.01"))


def link_owner_side(stack: ExportStack, contract_id: int) -> None:
    from chalicelib.wiring import get_store

    stack.link()
    store = get_store()
    store.put_link(Link(company_id=COMPANY_ID, kind="prime_contract", origin="sage",
                        procore_id=contract_id, sage_key="24001"))
    settings = store.get_company_settings(COMPANY_ID)
    # The prime contract spans three cost codes: owner invoices bill General Conditions.
    store.put_company_settings(COMPANY_ID, {**settings, "advanced": {
        **settings.get("advanced", {}), "owner_invoice_cost_code": "1100"}},
        expected_version=int(settings.get("version", 0)))


def pull_receipts(stack: ExportStack) -> None:
    status, body = stack.call("post", "/sync/paid-invoices", "admin")
    assert status == 202 and "receipts" in body["queued"], body
    stack.until(lambda: stack.call("get", "/erp/lists", "admin")[1]["pulls"]["receipts"]
                .get("status") == "complete")


def test_an_owner_invoice_with_retention_lands_in_sage_ar_and_is_reported_paid_once(
        stack: ExportStack) -> None:
    owner = seed_owner_side(stack.sandbox, stack.demo)
    contract, lines = owner["prime_contract_id"], owner["prime_line_ids"]
    link_owner_side(stack, contract)
    stack.start_agent()

    # Entered and approved in Procore's UI: the webhook brings it, ready.
    record = stack.sandbox.create_payment_application(
        stack.project, contract, items={lines[0]: "18000.00", lines[1]: "42000.00"},
        invoice_number="OI-002", billing_date="2026-11-30", period_start="2026-11-01",
        period_end="2026-11-30", status="approved")
    item = stack.until(waits(record["id"], "ready_to_export", "not_ready"))
    assert item.status.value == "ready_to_export", item.reasons
    assert (item.snapshot["amount"], item.snapshot["retention"]) == ("60000.00", "6000.00")

    status, body = stack.call("post", f"/items/owner_invoice-{record['id']}/accept", "pm")
    assert status == 403, body  # an invoicing admin is no accounting approver
    status, body = stack.call("post", f"/items/owner_invoice-{record['id']}/accept",
                              "approver")
    assert status == 200, body
    item = stack.until(waits(record["id"], "synced", "failed"))
    assert item.status.value == "synced", item.last_error

    [header] = rows(stack, "SELECT * FROM acrinv WHERE recnum = ?", int(item.erp_keys["acrinv"]))
    assert (header["invnum"], header["jobnum"], header["status"]) == ("OI-002", 24001, 1)
    assert (money(header["invttl"]), money(header["retain"]), money(header["invnet"]),
            money(header["invbal"])) == (Decimal("60000.00"), Decimal("6000.00"),
                                         Decimal("54000.00"), Decimal("60000.00"))
    assert (header["postyr"], header["actper"]) == (2026, 11)
    [line] = rows(stack, "SELECT * FROM arivln WHERE recnum = ?", header["recnum"])
    assert (f"{Decimal(str(line['cstcde'])):.3f}", money(line["extprc"])) == (
        "1100.000", Decimal("60000.00"))
    assert stack.sandbox.state.payment_applications[record["id"]]["origin_id"] == \
        f"acrinv:{header['recnum']}"

    # The owner pays the net due: recorded on the item once, however often pulled.
    stack.sage.record_receipt(header["recnum"], check_number="5521", date="2026-12-15",
                              amount=Decimal("54000.00"))
    for _ in range(2):
        pull_receipts(stack)
    item = owner_invoice(record["id"])
    assert [(r["check_number"], r["amount"]) for r in item.erp_keys["receipts"]] == [
        ("5521", "54000.00")]
    assert item.erp_keys["paid"] is False
    # The retention is released later: now Sage says Paid, and so does the item.
    stack.sage.record_receipt(header["recnum"], check_number="6010", date="2027-01-20",
                              amount=Decimal("6000.00"))
    pull_receipts(stack)
    item = owner_invoice(record["id"])
    assert [r["check_number"] for r in item.erp_keys["receipts"]] == ["5521", "6010"]
    assert item.erp_keys["paid"] is True
    status, view = stack.call("get", f"/items/owner_invoice-{record['id']}", "viewer")
    assert status == 200 and view["sage_keys"]["paid"] is True, view
    assert [r["amount"] for r in view["sage_keys"]["receipts"]] == ["54000.00", "6000.00"]
    # Procore hears it in the payment application's origin_data (no "paid" status exists).
    told = json.loads(stack.sandbox.state.payment_applications[record["id"]]["origin_data"])
    assert (told["sage"]["paid"], told["sage"]["received"]) == (True, "60000.00")

    # Unlink (ERP standard): Procore forgets the origin id; Sage keeps its invoice.
    status, body = stack.call("post", f"/items/owner_invoice-{record['id']}/unlink",
                              "standard")
    assert (status, body["status"]) == (200, "unlinked"), body
    assert stack.sandbox.state.payment_applications[record["id"]]["origin_id"] is None
    assert len(rows(stack, "SELECT * FROM acrinv WHERE invnum = 'OI-002'")) == 1
