"""A commitment's amounts follow its change orders, invoices and payments, in every view.

Over real loopback HTTP: the list (compact view), show (full record) and sync entities of
work order and purchase order contracts answer ``approved_change_orders``,
``pending_change_orders``, ``draft_change_orders_amount``, ``revised_contract``,
``pending_revised_contract``, ``total_requisitions_amount`` / ``total_draw_requests_amount``,
``total_payments``, ``remaining_balance_outstanding`` and ``percentage_paid`` as Procore
computes them from the commitment's CCOs, subcontractor invoices (requisitions) and contract
payments; show lists the payments in ``payments_issued``.

Keys and types: ``procore-spec/sdk/RestV10WorkOrderContracts{Get,IdGet}.json``,
``openapi/RestV10PurchaseOrderContracts{Get,IdGet}.json``. Rules: devstack/procore_sandbox/
resources/commitments.py and docs/decisions.md ("Sandbox commitment amounts follow their
change orders, invoices and payments").
"""

from __future__ import annotations

from typing import Any

from devstack.procore_sandbox import ProcoreSandbox
from devstack.procore_sandbox.resources.change_orders import CCO_STATUSES
from devstack.procore_sandbox.resources.commitment_amounts import (
    AMOUNT_KEYS,
    CCO_AMOUNT_STATUSES,
    INVOICED_STATUSES,
)
from devstack.procore_sandbox.resources.requisition_items import LOCKED_REQUISITION_STATUSES
from devstack.procore_sandbox.resources.requisitions import REQUISITION_STATUSES
from tests.contract.shapes import (  # noqa: F401 - token_fixture registers the fixture
    DATE,
    DATETIME,
    DECIMAL,
    INT,
    OBJECT,
    STR,
    assert_shape,
    call,
    token_fixture,
)
from tests.contract.test_sandbox_requisitions import setup
from tests.fixtures_sandbox import (  # noqa: F401 - the *_fixture imports register fixtures
    demo_fixture,
    sandbox_fixture,
)

# openapi/RestV10{WorkOrder,PurchaseOrder}ContractsIdGet.json ``payments_issued`` items
PAYMENT_ISSUED = {
    "id": INT, "amount": DECIMAL, "check_number": STR, "created_at": DATETIME, "date": DATE,
    "draw_request_number": INT, "invoice_number": STR, "notes": STR, "payment_number": INT,
    "attachments": [OBJECT], "origin_id": STR, "origin_data": STR,
    "currency_configuration": {"currency_iso_code": STR},
}
_SHOWN = ("grand_total", *AMOUNT_KEYS)


def _amounts(answer: dict[str, Any]) -> dict[str, Any]:
    return {key: answer[key] for key in _SHOWN}


def _views(sandbox: ProcoreSandbox, token: str, segment: str, pid: int, cid: int
           ) -> dict[str, dict[str, Any]]:
    """The commitment as the list, show, sync (entity) and the Python helper answer it."""
    base = f"/rest/v1.0/{segment}"
    listed = call(sandbox, token, "GET", f"{base}?project_id={pid}")
    shown = call(sandbox, token, "GET", f"{base}/{cid}?project_id={pid}")
    synced = call(sandbox, token, "PATCH", f"{base}/sync", {
        "project_id": pid, "updates": [{"id": cid, "origin_data": "amounts"}]})
    assert (listed.status, shown.status, synced.status) == (200, 200, 200)
    assert synced.body["errors"] == []
    return {
        "list": next(c for c in listed.body if c["id"] == cid),
        "show": shown.body,
        "sync": synced.body["entities"][0],
        "helper": sandbox.get_commitment(segment, cid),
    }


def _assert_everywhere(views: dict[str, dict[str, Any]], expected: dict[str, str]) -> None:
    for name, answer in views.items():
        assert _amounts(answer) == expected, name


def _pay(sandbox: ProcoreSandbox, token: str, pid: int, cid: int, amount: str,
         **fields: Any) -> int:
    made = call(sandbox, token, "POST", "/rest/v1.0/contract_payments", {
        "project_id": pid, "contract_id": cid,
        "contract_payment": {"date": "2026-02-15", "amount": amount, **fields}})
    assert made.status == 201, made.body
    return int(made.body["id"])


def _cco(sandbox: ProcoreSandbox, pid: int, cid: int, status: str, *amounts: str,
         line: int | None = None, cost: tuple[int, int] | None = None
         ) -> tuple[dict[str, Any], list[int]]:
    """A CCO with one line per amount (tied to the commitment line ``line``, else new scope
    with the cost code and type ``cost``); the CCO and its line ids."""
    cco = sandbox.create_cco(pid, cid, status=status)
    ids = []
    for amount in amounts:
        if line is not None:
            made = sandbox.add_cco_line(pid, cco["id"], amount=amount,
                                        commitment_line_item_id=line)
        else:
            assert cost is not None
            made = sandbox.add_cco_line(pid, cco["id"], amount=amount, cost_code_id=cost[0],
                                        line_item_type_id=cost[1])
        ids.append(int(made["id"]))
    return cco, ids


def test_status_sets_cover_the_documented_statuses() -> None:
    counted = [s for statuses in CCO_AMOUNT_STATUSES.values() for s in statuses]
    assert len(counted) == len(set(counted))  # no status counts twice
    assert set(counted) <= set(CCO_STATUSES)
    assert set(CCO_STATUSES) - set(counted) == {"no_charge", "rejected", "void"}
    assert INVOICED_STATUSES == LOCKED_REQUISITION_STATUSES
    assert set(INVOICED_STATUSES) <= set(REQUISITION_STATUSES)


def test_work_order_amounts_follow_ccos_invoices_and_payments(
    sandbox: ProcoreSandbox, demo: dict[str, Any], token: str
) -> None:
    pid, wo, lines, period = setup(sandbox, demo)  # approved, SOV 10,000 + 5,000
    cid = wo["id"]
    other = sandbox.create_commitment("work_order_contracts", pid, title="Untouched")
    sandbox.add_line_item("work_order_contracts", other["id"],
                          cost_code_id=demo["cost_code_ids"]["main"]["03-300"],
                          line_item_type_id=demo["line_item_type_ids"]["S"], amount="42.10")
    first = lines[0]["id"]
    _, (plus, _) = _cco(sandbox, pid, cid, "approved", "1250.50", "-250.50", line=first)
    pricing, _ = _cco(sandbox, pid, cid, "pricing", "400.10", line=first)
    _cco(sandbox, pid, cid, "pending", "99.90", line=first)
    _cco(sandbox, pid, cid, "draft", "75.00", line=first)
    for status in ("no_charge", "rejected", "void"):  # count nowhere
        _cco(sandbox, pid, cid, status, "1000.00", line=first)
    gone, _ = _cco(sandbox, pid, cid, "draft", "1000.00", line=first)
    sandbox.delete_cco(pid, gone["id"])

    # an approved invoice: work 4,000.10 + 500.00 on the CCO line + materials 300.05
    invoice = sandbox.create_requisition(
        pid, cid, period_id=period, invoice_number="1", billing_date="2026-01-31",
        status="draft", items={first: ("4000.10", "400.00"), plus: ("500.00", "0")})
    stored = next(i for i in invoice["items"] if i["line_item_id"] == lines[1]["id"])
    bulk = call(sandbox, token, "PATCH",
                f"/rest/v1.0/requisitions/{invoice['id']}/bulk_item_update?project_id={pid}",
                {"requisition_items": [{"id": stored["id"], "item_type": "contract_item",
                                        "materials_presently_stored": "300.05"}]})
    assert bulk.status == 200, bulk.body
    approve = call(sandbox, token, "PATCH", f"/rest/v1.0/requisitions/{invoice['id']}"
                   f"?project_id={pid}", {"project_id": pid, "commitment_id": cid,
                                          "requisition": {"status": "approved"}})
    assert approve.status == 200, approve.body
    # a second invoice under review is not invoiced yet
    feb = sandbox.create_billing_period(pid, "2026-02-01", "2026-02-28", "2026-03-10")
    sandbox.create_requisition(pid, cid, period_id=feb["id"], invoice_number="2",
                               billing_date="2026-02-28", status="under_review",
                               items={first: ("1000.00", "0")})
    _pay(sandbox, token, pid, cid, "3600.00", requisition_id=invoice["id"], check_number="1")
    small = _pay(sandbox, token, pid, cid, "0.80")

    views = _views(sandbox, token, "work_order_contracts", pid, cid)
    _assert_everywhere(views, {
        "grand_total": "15000.00",
        "approved_change_orders": "1000.00",
        "pending_change_orders": "500.00",
        "draft_change_orders_amount": "75.00",
        "revised_contract": "16000.00",
        "pending_revised_contract": "16500.00",
        "total_requisitions_amount": "4800.15",
        "total_draw_requests_amount": "4800.15",
        "total_payments": "3600.80",
        "remaining_balance_outstanding": "12399.20",
        "percentage_paid": "22.51",  # 3600.80 / 16000.00 = 22.505 %: half up
    })
    issued = views["show"]["payments_issued"]
    assert_shape(issued, [PAYMENT_ISSUED], "GET work_order_contracts/{id} payments_issued")
    assert [(p["amount"], p["payment_number"], p["check_number"]) for p in issued] == [
        ("3600.00", 1, "1"), ("0.80", 2, None)]
    assert "payments_issued" not in views["list"]
    # the other commitment of the same list and sync pass keeps its own (empty) figures
    untouched = _views(sandbox, token, "work_order_contracts", pid, other["id"])
    _assert_everywhere(untouched, {
        "grand_total": "42.10", **dict.fromkeys(AMOUNT_KEYS, "0.00"),
        **dict.fromkeys(("revised_contract", "pending_revised_contract",
                         "remaining_balance_outstanding"), "42.10")})
    assert untouched["show"]["payments_issued"] == []

    # they follow: the pricing CCO approved, a payment deleted
    sandbox.update_cco(pid, pricing["id"], status="approved")
    gone_pay = call(sandbox, token, "DELETE",
                    f"/rest/v1.0/contract_payments/{small}?project_id={pid}&contract_id={cid}")
    assert gone_pay.status == 200
    _assert_everywhere(_views(sandbox, token, "work_order_contracts", pid, cid), {
        "grand_total": "15000.00",
        "approved_change_orders": "1400.10",
        "pending_change_orders": "99.90",
        "draft_change_orders_amount": "75.00",
        "revised_contract": "16400.10",
        "pending_revised_contract": "16500.00",
        "total_requisitions_amount": "4800.15",
        "total_draw_requests_amount": "4800.15",
        "total_payments": "3600.00",
        "remaining_balance_outstanding": "12800.10",
        "percentage_paid": "21.95",  # 3600.00 / 16400.10 = 21.9511 %
    })


def test_purchase_order_amounts_follow_its_cco_invoice_and_payment(
    sandbox: ProcoreSandbox, demo: dict[str, Any], token: str
) -> None:
    pid = demo["project_ids"]["main"]
    codes, types = demo["cost_code_ids"]["main"], demo["line_item_type_ids"]
    po = sandbox.create_commitment("purchase_order_contracts", pid, title="Rebar",
                                   vendor_id=demo["vendor_ids"]["concrete"], status="Approved")
    cid = po["id"]
    line = sandbox.add_line_item("purchase_order_contracts", cid, cost_code_id=codes["03-300"],
                                 line_item_type_id=types["S"], amount="2000")
    cost = (codes["03-300"], types["S"])
    _cco(sandbox, pid, cid, "approved", "150.00", line=line["id"])
    _cco(sandbox, pid, cid, "not_proceeding", "20.00", cost=cost)  # new scope, pending
    _cco(sandbox, pid, cid, "draft", "5.00", cost=cost)
    period = sandbox.create_billing_period(pid, "2026-01-01", "2026-01-31", "2026-02-10")
    invoice = sandbox.create_requisition(
        pid, cid, period_id=period["id"], invoice_number="PO-1", billing_date="2026-01-31",
        status="approved_as_noted", items={line["id"]: ("600.00", "60.00")})
    _pay(sandbox, token, pid, cid, "540.00", requisition_id=invoice["id"])

    views = _views(sandbox, token, "purchase_order_contracts", pid, cid)
    _assert_everywhere(views, {
        "grand_total": "2000.00",
        "approved_change_orders": "150.00",
        "pending_change_orders": "20.00",
        "draft_change_orders_amount": "5.00",
        "revised_contract": "2150.00",
        "pending_revised_contract": "2170.00",
        "total_requisitions_amount": "600.00",
        "total_draw_requests_amount": "600.00",
        "total_payments": "540.00",
        "remaining_balance_outstanding": "1610.00",
        "percentage_paid": "25.12",  # 540 / 2150 = 25.1163 %
    })
    issued = views["show"]["payments_issued"]
    assert_shape(issued, [PAYMENT_ISSUED], "GET purchase_order_contracts/{id} payments_issued")
    assert [p["amount"] for p in issued] == ["540.00"]
