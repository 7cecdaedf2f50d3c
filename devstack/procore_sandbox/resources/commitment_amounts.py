"""A commitment's amounts from its change orders, invoices and payments (the rules are in
``commitments``' docstring): mixed into ``CommitmentsMixin``."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from devstack.procore_sandbox.resources.common import ResourceBase

_CENT = Decimal("0.01")
_ZERO = Decimal(0)
_HUNDRED = Decimal(100)

#: which CCO statuses (change_orders.CCO_STATUSES) count in which commitment amount; the
#: others (no_charge, rejected, void) count in none
CCO_AMOUNT_STATUSES: Mapping[str, tuple[str, ...]] = {
    "approved_change_orders": ("approved",),
    "pending_change_orders": ("pending", "pricing", "not_pricing", "revised", "proceeding",
                              "not_proceeding", "pending_billable"),
    "draft_change_orders_amount": ("draft",),
}
_CCO_BUCKET = {status: key for key, statuses in CCO_AMOUNT_STATUSES.items()
               for status in statuses}
#: subcontractor invoice statuses whose amounts are invoiced (requisitions.py: approved ones)
INVOICED_STATUSES = ("approved", "approved_as_noted")
#: the amount keys of every view (sdk/RestV10WorkOrderContractsGet.json, openapi/RestV10
#: PurchaseOrderContracts{Get,IdGet}.json, sdk/RestV10WorkOrderContractsIdGet.json)
AMOUNT_KEYS = (
    *CCO_AMOUNT_STATUSES,
    "pending_revised_contract",
    "percentage_paid",
    "remaining_balance_outstanding",
    "revised_contract",
    "total_draw_requests_amount",
    "total_payments",
    "total_requisitions_amount",
)
#: contract payment keys of show's ``payments_issued`` items (openapi/RestV10{WorkOrder,
#: PurchaseOrder}ContractsIdGet.json; the SDK names ``date`` ``var_date``)
PAYMENT_ISSUED_KEYS = (
    "id", "amount", "check_number", "created_at", "date", "draw_request_number",
    "invoice_number", "notes", "payment_number", "attachments", "origin_id", "origin_data",
)


def _money(value: Decimal) -> str:
    return str(value.quantize(_CENT))


class CommitmentAmountsMixin(ResourceBase):
    def _commitment_sums(self, ids: Iterable[int]) -> dict[int, dict[str, Any]]:
        """Per commitment id: its CCO amounts by ``CCO_AMOUNT_STATUSES`` key, ``invoiced``,
        ``paid`` (Decimals) and ``payments`` (its contract payment records, by id). One pass
        over the CCOs, invoices and payments for all ``ids``; lines and items are read only
        for the CCOs and invoices of these commitments."""
        sums: dict[int, dict[str, Any]] = {
            cid: {**dict.fromkeys(CCO_AMOUNT_STATUSES, _ZERO), "invoiced": _ZERO,
                  "paid": _ZERO, "payments": []}
            for cid in ids
        }
        state = self.state
        for cco in state.change_orders.values():
            bucket = _CCO_BUCKET.get(cco["status"])
            totals = sums.get(cco["contract_id"])
            if bucket is None or totals is None or cco.get("deleted_at"):
                continue
            lines = state.change_order_lines.get(cco["id"], {}).values()
            # the CCO's grand_total as it answers it: its lines' sum, to the cent
            totals[bucket] += sum((line["amount"] for line in lines), _ZERO).quantize(_CENT)
        for invoice in state.requisitions.values():
            totals = sums.get(invoice["commitment_id"])
            if totals is None or invoice["status"] not in INVOICED_STATUSES:
                continue
            for item in state.requisition_items.get(invoice["id"], {}).values():
                totals["invoiced"] += (item["work_completed_this_period"]
                                       + item["materials_presently_stored"])
        for payment in state.contract_payments.values():
            totals = sums.get(payment["contract_id"])
            if totals is not None:
                totals["paid"] += payment["amount"]
                totals["payments"].append(payment)
        for totals in sums.values():
            totals["payments"].sort(key=lambda p: p["id"])
        return sums

    @staticmethod
    def _amounts(grand_total: str, sums: Mapping[str, Any]) -> dict[str, str]:
        """The amount keys (``AMOUNT_KEYS``) of one commitment from its ``_commitment_sums``."""
        revised = Decimal(grand_total) + sums["approved_change_orders"]
        paid = sums["paid"]
        percent = (paid * _HUNDRED / revised).quantize(_CENT, ROUND_HALF_UP) if revised else _ZERO
        return {
            **{key: _money(sums[key]) for key in CCO_AMOUNT_STATUSES},
            "revised_contract": _money(revised),
            "pending_revised_contract": _money(revised + sums["pending_change_orders"]),
            "total_requisitions_amount": _money(sums["invoiced"]),
            "total_draw_requests_amount": _money(sums["invoiced"]),
            "total_payments": _money(paid),
            "remaining_balance_outstanding": _money(revised - paid),
            "percentage_paid": _money(percent),
        }

