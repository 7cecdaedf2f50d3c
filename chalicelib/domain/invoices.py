"""Subcontractor invoices (Procore requisitions): the snapshot that exports and its
readiness rules (pure).

An invoice bills lines of a subcontract Sage already holds: each contract item names the
commitment line it bills, whose cost code, type and Sage line number come from the
commitment's synced snapshot (the line's position, as the commitment export numbered it).
The amount Sage gets per line is the work completed this period plus materials presently
stored; the retention is what Procore retained on both this period.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from chalicelib.domain.budgets import money
from chalicelib.domain.models import Item, Link

APPROVED = ("approved", "approved_as_noted")
INVOICE_NUMBER_MAX = 20
ZERO = Decimal("0.00")


def _text(value: Decimal) -> str:
    return str(value.quantize(Decimal("0.01")))


def _sum(item: Mapping[str, Any], *fields: str) -> Decimal | None:
    values = [money(item.get(f) or 0) for f in fields]
    return None if any(v is None for v in values) else sum(values, ZERO)  # type: ignore[arg-type]


def build_snapshot(requisition: Mapping[str, Any], items: list[dict[str, Any]], *,
                   project_id: int, commitment: Item | None) -> dict[str, Any]:
    synced = (commitment.synced_snapshot or {}) if commitment is not None else {}
    positions = {line.get("id"): (n, line) for n, line in enumerate(synced.get("lines") or [], 1)}
    lines = []
    for item in sorted(items, key=lambda i: int(i.get("id") or 0)):
        amount = _sum(item, "work_completed_this_period", "materials_presently_stored")
        retention = _sum(item, "work_completed_retainage_retained_this_period",
                         "materials_stored_retainage_currently_retained")
        if amount == ZERO and retention == ZERO:
            continue  # nothing billed on this line this period
        raw = item.get("line_item_id")  # the commitment's SOV line (documented link)
        target = int(raw) if raw not in (None, "") and str(raw).isdigit() else None
        number, base = positions.get(target, (None, {}))
        lines.append({
            "id": item.get("id"), "commitment_line_item_id": target, "sage_line": number,
            "description": base.get("description") or item.get("description") or "",
            "cost_code": base.get("cost_code"), "line_item_type": base.get("line_item_type"),
            "scheduled_value": str(item.get("scheduled_value")),
            "previously_completed": str(item.get("work_completed_from_previous_application")
                                        or "0"),
            "amount": _text(amount) if amount is not None else None,
            "retention": _text(retention) if retention is not None else None,
        })
    total = sum((money(ln["amount"]) or ZERO for ln in lines), ZERO)
    retained = sum((money(ln["retention"]) or ZERO for ln in lines), ZERO)
    return {
        "id": requisition.get("id"), "project_id": project_id,
        "commitment_id": requisition.get("commitment_id"),
        "number": str(requisition.get("number") or ""),
        "invoice_number": str(requisition.get("invoice_number") or ""),
        "title": f"Invoice {requisition.get('invoice_number') or requisition.get('number')}",
        "status": requisition.get("status") or "",
        "billing_date": requisition.get("billing_date"),
        "period_id": requisition.get("period_id"),
        "total": _text(total), "retention": _text(retained), "lines": lines,
    }


@dataclass(frozen=True)
class ReadinessContext:
    commitment: Item | None
    project_link: Link | None
    vendor_link: Link | None


def readiness_reasons(snapshot: Mapping[str, Any], ctx: ReadinessContext) -> list[str]:
    reasons: list[str] = []
    label = f"Invoice {snapshot.get('invoice_number') or snapshot.get('number')}"
    status = snapshot.get("status") or "(none)"
    if status not in APPROVED:
        reasons.append(f"{label} is {status}. Only approved invoices go to Sage; approve "
                       "it in Procore.")
    commitment = ctx.commitment
    if commitment is None or commitment.synced_snapshot is None:
        reasons.append(f"{label} bills commitment {snapshot.get('commitment_id')}, which is "
                       "not in Sage 100 Contractor: export the commitment first.")
    elif commitment.subtype != "subcontract":
        reasons.append(f"{label} bills a purchase order; Sage takes subcontractor invoices "
                       "against subcontracts here. Enter the PO invoice in Sage.")
    if ctx.project_link is None:
        reasons.append(f"Project {snapshot.get('project_id')} is not linked to a Sage job.")
    if commitment is not None and ctx.vendor_link is None:
        reasons.append("The subcontract's company is not linked to a Sage vendor.")
    number = str(snapshot.get("invoice_number") or "")
    if not number.strip():
        reasons.append(f"{label} has no invoice number; Sage needs the subcontractor's "
                       "number (unique per vendor).")
    elif len(number) > INVOICE_NUMBER_MAX:
        reasons.append(f"Invoice number '{number}' is {len(number)} characters; Sage takes "
                       f"at most {INVOICE_NUMBER_MAX}.")
    if not snapshot.get("billing_date"):
        reasons.append(f"{label} has no billing date; Sage posts it to the period of that "
                       "date. Set the billing date in Procore.")
    lines = snapshot.get("lines") or []
    if not lines:
        reasons.append(f"{label} bills nothing this period.")
    for line in lines:
        reasons += _line_reasons(line)
    return reasons


def _line_reasons(line: Mapping[str, Any]) -> list[str]:
    label = f"Line '{line.get('description') or line.get('id')}'"
    if line.get("sage_line") is None:
        return [f"{label} bills a commitment line Sage does not have."]
    amount, retention = money(line.get("amount")), money(line.get("retention"))
    if amount is None or retention is None:
        return [f"{label}: its amounts are not numbers."]
    reasons = []
    scheduled = money(line.get("scheduled_value"))
    before = money(line.get("previously_completed")) or ZERO
    if scheduled is not None and before + amount > scheduled:
        reasons.append(f"{label} bills {amount} on top of {before} already billed, more "
                       f"than its scheduled value {scheduled} (the remaining commitment).")
    if retention > amount:
        reasons.append(f"{label}: retention {retention} is more than the amount {amount}.")
    return reasons
