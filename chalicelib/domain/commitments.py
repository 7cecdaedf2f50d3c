"""Subcontracts and purchase orders: the snapshot that exports, and the readiness rules.

Pure functions over Procore's JSON. The snapshot leaves out what changes without the
commitment changing (timestamps, links), so an unchanged commitment hashes the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from chalicelib.domain.models import Link

CommitmentKind = Literal["work_order_contract", "purchase_order_contract"]
SUBTYPE: dict[str, str] = {
    "work_order_contract": "subcontract",
    "purchase_order_contract": "purchase_order",
}
KIND_FOR_SUBTYPE = {v: k for k, v in SUBTYPE.items()}
APPROVED = "Approved"


@dataclass(frozen=True)
class Limits:
    """Sage 100 Contractor limits as Procore's connector enforces them (UNCONFIRMED)."""

    number_max: int = 12
    title_max: int = 30


def _money(value: Any) -> str:
    try:
        return str(Decimal(str(value if value not in (None, "") else "0")).quantize(
            Decimal("0.01")))
    except InvalidOperation:
        return str(value)


def _ref(obj: Any, *fields: str) -> dict[str, Any] | None:
    if not isinstance(obj, dict) or obj.get("id") is None:
        return None
    return {"id": obj["id"], **{f: obj.get(f) for f in fields}}


def build_snapshot(kind: CommitmentKind, commitment: dict[str, Any],
                   lines: list[dict[str, Any]]) -> dict[str, Any]:
    vendor = commitment.get("vendor") or {}
    project = commitment.get("project") or {}
    snapshot_lines = []
    for line in sorted(lines, key=lambda ln: (ln.get("position") or 0, ln.get("id") or 0)):
        cost_code = _ref(line.get("cost_code"), "full_code", "name", "origin_id")
        if cost_code is None and line.get("cost_code_id") is not None:
            cost_code = {"id": line["cost_code_id"], "full_code": None, "name": None,
                         "origin_id": None}
        line_type = _ref(line.get("line_item_type"), "code", "name", "origin_id")
        if line_type is None and line.get("line_item_type_id") is not None:
            line_type = {"id": line["line_item_type_id"], "code": None, "name": None,
                         "origin_id": None}
        snapshot_lines.append({
            "id": line.get("id"),
            "description": line.get("description") or "",
            "amount": _money(line.get("amount")),
            "quantity": str(line.get("quantity")) if line.get("quantity") is not None else None,
            "unit_cost": _money(line["unit_cost"]) if line.get("unit_cost") is not None else None,
            "uom": line.get("uom"),
            "cost_code": cost_code,
            "line_item_type": line_type,
        })
    total = sum((Decimal(ln["amount"]) for ln in snapshot_lines), Decimal("0.00"))
    return {
        "commitment_type": SUBTYPE[kind],
        "id": commitment.get("id"),
        "project_id": project.get("id", commitment.get("project_id")),
        "number": str(commitment.get("number") or ""),
        "title": commitment.get("title") or "",
        "status": commitment.get("status") or "",
        "vendor": ({"id": vendor.get("id"), "name": vendor.get("company") or vendor.get("name")}
                   if vendor.get("id") is not None else None),
        "retainage_percent": (str(commitment["retainage_percent"])
                              if commitment.get("retainage_percent") is not None else None),
        "description": commitment.get("description") or "",
        "grand_total": _money(total),
        "lines": snapshot_lines,
    }


def readiness_reasons(snapshot: dict[str, Any], *, project_link: Link | None,
                      vendor_link: Link | None, limits: Limits) -> list[str]:
    """Every reason the commitment cannot go to Sage yet, worded for a project manager."""
    noun = "subcontract" if snapshot["commitment_type"] == "subcontract" else "purchase order"
    reasons: list[str] = []
    status = snapshot.get("status") or "(none)"
    if status != APPROVED:
        reasons.append(f"The {noun} is {status}. Only Approved commitments can go to Sage; "
                       "approve it in the Commitments tool.")
    if project_link is None:
        reasons.append(f"Project {snapshot.get('project_id')} is not linked to a Sage 100 "
                       "Contractor job yet. Add the project to Sage (or link it to its job) "
                       "first.")
    vendor = snapshot.get("vendor")
    if not vendor:
        reasons.append(f"No company is set on the {noun}; choose the vendor in Procore.")
    elif vendor_link is None:
        reasons.append(f"Company '{vendor.get('name') or vendor['id']}' is not linked to a "
                       "Sage vendor. Link it to its Sage vendor or export it to Sage first.")
    number = snapshot.get("number") or ""
    if not number.strip():
        reasons.append(f"The {noun} has no number; Sage needs one (up to {limits.number_max} "
                       "characters).")
    elif len(number) > limits.number_max:
        reasons.append(f"Number '{number}' is {len(number)} characters; Sage 100 Contractor "
                       f"takes at most {limits.number_max}. Shorten it in Procore.")
    title = snapshot.get("title") or ""
    if len(title) > limits.title_max:
        reasons.append(f"Title '{title}' is {len(title)} characters; Sage 100 Contractor "
                       f"takes at most {limits.title_max}. Shorten it in Procore.")
    lines = snapshot.get("lines") or []
    if not lines:
        reasons.append(f"The {noun} has no schedule of values lines; Sage needs at least one.")
    for position, line in enumerate(lines, start=1):
        label = f"Line {position}" + (f" ('{line['description']}')"
                                      if line.get("description") else "")
        if not line.get("cost_code"):
            reasons.append(f"{label} has no cost code; pick one on the schedule of values.")
        if not line.get("line_item_type"):
            reasons.append(f"{label} has no cost type; pick one on the schedule of values.")
    return reasons
