"""Subcontracts and purchase orders: the snapshot that exports, and the readiness rules.

Pure functions over Procore's JSON. The snapshot leaves out what changes without the
commitment changing (timestamps, links), so an unchanged commitment hashes the same.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from chalicelib.domain import cost_codes
from chalicelib.domain.models import Link
from chalicelib.domain.observations import SyncDiff

CommitmentKind = Literal["work_order_contract", "purchase_order_contract"]
SUBTYPE: dict[str, str] = {
    "work_order_contract": "subcontract",
    "purchase_order_contract": "purchase_order",
}
KIND_FOR_SUBTYPE = {v: k for k, v in SUBTYPE.items()}
APPROVED = "Approved"
# Statuses a commitment may move to after it is in Sage, per type; each is a header
# change. Procore's purchase orders have their own statuses (Draft, Processing,
# Submitted, Partially Received, Received, Approved, Closed), never Complete or Void.
AFTER_SYNC_STATUSES: dict[str, tuple[str, ...]] = {
    "subcontract": ("Approved", "Complete", "Terminated", "Void"),
    "purchase_order": ("Approved", "Partially Received", "Received", "Closed"),
}
# Snapshot fields Sage holds on the header (subcon / pchord) and takes in place.
HEADER_FIELDS = ("title", "status", "contract_date", "retainage_percent")
CHANGE_ORDER_REASON = "Synced commitment: change amounts through a commitment change order."


@dataclass(frozen=True)
class Limits:
    """Sage 100 Contractor limits as Procore's connector enforces them (UNCONFIRMED)."""

    number_max: int = 12
    title_max: int = 30


def _money(value: Any) -> str | None:
    """Procore's amount to the cent; None when it has none (never 0: a missing amount is a
    readiness reason, not a zero), and text that is not a number kept as it is (also a
    reason)."""
    if value in (None, ""):
        return None
    number = _number(value)
    return str(number.quantize(Decimal("0.01"))) if number is not None else str(value)


def _number(value: Any) -> Decimal | None:
    """A finite number, or None ("NaN" and "Infinity" are Decimals but not amounts)."""
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


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
        # Procore names a line's cost code and cost type only as objects (``cost_code``,
        # ``line_item_type``; no flat ``cost_code_id``/``line_item_type_id`` in its answers:
        # Procore API reference, GET .../work_order_contracts/{id}/line_items; see
        # docs/decisions.md "Sandbox commitments and cost codes follow Procore's schemas").
        cost_code = _ref(line.get("cost_code"), "full_code", "name", "origin_id")
        line_type = _ref(line.get("line_item_type"), "code", "name", "origin_id")
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
    # The sum of the amounts present, as Procore totals the lines. Sage gets line amounts,
    # never this total, and a line without a number for its amount is a readiness reason.
    total = sum((n for ln in snapshot_lines if (n := _number(ln["amount"])) is not None),
                Decimal("0.00"))
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
        "contract_date": commitment.get("contract_date") or None,
        "grand_total": _money(total),
        "lines": snapshot_lines,
    }


def source_updated_at(commitment: dict[str, Any], lines: list[dict[str, Any]]) -> str | None:
    """Procore's newest updated_at of the commitment and its lines (a line change also
    bumps the commitment's, since its total changes: a deleted line cannot hide)."""
    stamps = [str(r["updated_at"]) for r in (commitment, *lines) if r.get("updated_at")]
    return max(stamps, key=_instant) if stamps else None


def _instant(text: str) -> Any:
    from datetime import datetime

    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def readiness_reasons(snapshot: dict[str, Any], *, project_link: Link | None,
                      vendor_link: Link | None, limits: Limits, synced: bool = False,
                      cost_code_rule: str = cost_codes.DEFAULT_RULE,
                      known_cost_codes: Collection[str] | None = None) -> list[str]:
    """Every reason the commitment cannot go to Sage yet, worded for a project manager.

    ``synced``: it is in Sage already, so it may also be in a later status of its type
    (``AFTER_SYNC_STATUSES``: a status change is a header change Sage takes in place).
    ``cost_code_rule``, ``known_cost_codes``: how a line's cost code becomes a Sage code,
    and Sage's active codes when known (``cost_codes.to_sage``).
    """
    noun = _noun(snapshot)
    reasons: list[str] = []
    status = snapshot.get("status") or "(none)"
    later = AFTER_SYNC_STATUSES.get(snapshot.get("commitment_type") or "subcontract",
                                    AFTER_SYNC_STATUSES["subcontract"])
    if synced and status not in later:
        reasons.append(f"The {noun} is {status}. A {noun} already in Sage can be "
                       f"{', '.join(later[:-1])} or {later[-1]}; change its status "
                       "in the Commitments tool.")
    elif not synced and status != APPROVED:
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
    # A synced commitment's lines are in Sage already and never sent again (a header change
    # carries none; a line change is drift), so only lines that will go to Sage are mapped.
    rule = None if synced else _checked_rule(cost_code_rule, reasons)
    for position, line in enumerate(lines, start=1):
        reasons += _line_reasons(position, line, exported=not synced, rule=rule,
                                 known_codes=known_cost_codes)
    return reasons


def _checked_rule(rule: str, reasons: list[str]) -> str | None:
    """The rule, or None with one reason (not one per line) when it is not a rule."""
    try:
        return cost_codes.check_rule(rule)
    except cost_codes.CostCodeRuleError as exc:
        message = str(exc)
        reasons.append(f"{message[0].upper()}{message[1:]}.")
        return None


def _line_reasons(position: int, line: dict[str, Any], *, exported: bool, rule: str | None,
                  known_codes: Collection[str] | None) -> list[str]:
    label = f"Line {position}" + (f" ('{line['description']}')"
                                  if line.get("description") else "")
    reasons = []
    if not line.get("cost_code"):
        reasons.append(f"{label} has no cost code; pick one on the schedule of values.")
    elif exported and rule is not None:
        problem = cost_codes.cost_code_problem(line["cost_code"], rule,
                                               known_codes=known_codes)
        if problem:
            reasons.append(f"{label}: {problem}.")
    if not line.get("line_item_type"):
        reasons.append(f"{label} has no cost type; pick one on the schedule of values.")
    amount = line.get("amount")
    if exported and amount in (None, ""):
        reasons.append(f"{label} has no amount; enter it on the schedule of values.")
    elif exported and _number(amount) is None:
        reasons.append(f"{label} amount '{amount}' is not a number; correct it on the "
                       "schedule of values.")
    return reasons


def _noun(snapshot: dict[str, Any]) -> str:
    return "subcontract" if snapshot.get("commitment_type") == "subcontract" else \
        "purchase order"


def change_after_sync(synced: dict[str, Any], new: dict[str, Any]) -> SyncDiff:
    """A synced commitment's new content against what Sage holds.

    Header fields (title, status, contract date, retainage) are changed in place by a
    modify command. The number and the vendor identify the Sage record and stay. Lines
    (amounts, cost codes, types, descriptions, lines added or removed) change in Sage only
    through a change order: recorded as drift, with the reason, never exported.
    """
    noun = _noun(new)
    changes = [f for f in HEADER_FIELDS if (synced.get(f) or None) != (new.get(f) or None)]
    if noun == "purchase order" and "retainage_percent" in changes:
        changes.remove("retainage_percent")  # pchord has no retention column
    reasons: list[str] = []
    if (synced.get("number") or "") != (new.get("number") or ""):
        reasons.append(f"The {noun} number changed from '{synced.get('number')}' to "
                       f"'{new.get('number')}' after it went to Sage, where the number "
                       "identifies the record. Change it back in Procore.")
    old_vendor, new_vendor = synced.get("vendor") or {}, new.get("vendor") or {}
    if old_vendor.get("id") != new_vendor.get("id"):
        reasons.append(f"The company changed from '{old_vendor.get('name')}' to "
                       f"'{new_vendor.get('name')}' after the {noun} went to Sage. A Sage "
                       f"{noun} keeps its vendor; change it back in Procore.")
    drift = _line_drift(synced.get("lines") or [], new.get("lines") or [])
    if drift:
        shown = "; ".join(d["what"] for d in drift[:5]) + ("; ..." if len(drift) > 5 else "")
        reasons.append(f"{CHANGE_ORDER_REASON} The schedule of values changed after the "
                       f"{noun} went to Sage ({shown}). Undo the edit and record it as a "
                       "change order.")
    return SyncDiff(changes=changes, reasons=reasons,
                    drift={"lines": drift} if drift else None)


_LINE_FIELDS = ("amount", "description", "quantity", "unit_cost")


def _line_drift(synced: list[dict[str, Any]], new: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per line (by Procore id) what differs between Sage's lines and Procore's."""
    before = {line.get("id"): line for line in synced}
    after = {line.get("id"): line for line in new}
    drift: list[dict[str, Any]] = []
    for line_id, line in after.items():
        label = f"'{line.get('description') or line_id}'"
        old = before.get(line_id)
        if old is None:
            drift.append({"line_id": line_id, "field": "line", "sage": None,
                          "procore": line.get("amount"),
                          "what": f"line {label} added ({line.get('amount')})"})
            continue
        for field in _LINE_FIELDS:
            if old.get(field) != line.get(field):
                drift.append({"line_id": line_id, "field": field, "sage": old.get(field),
                              "procore": line.get(field),
                              "what": f"line {label} {field} {old.get(field)} -> "
                                      f"{line.get(field)}"})
        for field in ("cost_code", "line_item_type"):
            if (old.get(field) or {}).get("id") != (line.get(field) or {}).get("id"):
                drift.append({"line_id": line_id, "field": field,
                              "sage": (old.get(field) or {}).get("id"),
                              "procore": (line.get(field) or {}).get("id"),
                              "what": f"line {label} {field.replace('_', ' ')} changed"})
    for line_id, old in before.items():
        if line_id not in after:
            drift.append({"line_id": line_id, "field": "line", "sage": old.get("amount"),
                          "procore": None,
                          "what": f"line '{old.get('description') or line_id}' removed"})
    return drift
