"""Commitment change orders: the snapshot that exports and its readiness rules (pure).

A CCO goes to Sage only on a commitment already there (the seed: "CCOs only on synced
commitments") and only once approved. Each CCO line either changes a line of the
commitment (``commitment_line_item_id``: its cost code and type are that line's, and its
Sage line is the one the commitment's export wrote) or adds a new one (cost code and type
from its WBS code: ``{cost code full code}.{cost type code}``, the one exact rule).
Procore sums several changes to one commitment line within a CCO; so does the connector,
and the snapshot says which lines were merged.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from chalicelib.domain import cost_codes
from chalicelib.domain.budgets import money
from chalicelib.domain.models import Item, Link
from chalicelib.domain.sage_mapping import (
    AMOUNT_LIMIT,
    DESCRIPTION_MAX,
    MappingError,
    sage_cost_type,
)

APPROVED = "approved"
REFERENCE_MAX = 20  # the agent finds what it wrote by this prefix of the description


def reference(cco_id: int) -> str:
    return f"CCO{cco_id}"


def _text(value: Decimal) -> str:
    return str(value.quantize(Decimal("0.01")))


def resolve_wbs(flat_code: str | None, codes_by_full: Mapping[str, Mapping[str, Any]],
                types_by_code: Mapping[str, Mapping[str, Any]],
                ) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """A WBS flat code ("03-300.L") as (cost code, cost type) of the project, or Nones."""
    full, _, type_code = str(flat_code or "").rpartition(".")
    code, line_type = codes_by_full.get(full), types_by_code.get(type_code)
    return (_code_ref(code) if code else None,
            _type_ref(line_type) if line_type else None)


def _code_ref(code: Mapping[str, Any]) -> dict[str, Any]:
    return {k: code.get(k) for k in ("id", "full_code", "name", "origin_id")}


def _type_ref(line_type: Mapping[str, Any]) -> dict[str, Any]:
    return {k: line_type.get(k) for k in ("id", "code", "name", "origin_id")}


def build_snapshot(cco: Mapping[str, Any], lines: list[dict[str, Any]], *,
                   commitment: Item | None,
                   codes_by_full: Mapping[str, Mapping[str, Any]],
                   types_by_code: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The CCO as it would export; lines changing one commitment line are summed."""
    synced = (commitment.synced_snapshot or {}) if commitment is not None else {}
    positions = {line.get("id"): (n, line) for n, line in enumerate(synced.get("lines") or [], 1)}
    merged: dict[str, dict[str, Any]] = {}
    for line in sorted(lines, key=lambda ln: str(ln.get("id"))):
        raw = line.get("commitment_line_item_id")  # v2.0 ids are strings
        target = int(raw) if raw not in (None, "") and str(raw).isdigit() else None
        key = f"line:{target}" if target is not None else f"new:{line.get('id')}"
        amount = money(line.get("amount"))
        held = merged.get(key)
        if held is not None:  # Procore sums changes to one commitment line
            held["amount"] = _add(held["amount"], amount)
            held["merged"].append(str(line.get("id")))
            continue
        entry: dict[str, Any] = {
            "id": str(line.get("id")), "merged": [str(line.get("id"))],
            "description": line.get("description") or "",
            "amount": _text(amount) if amount is not None else str(line.get("amount")),
            "quantity": line.get("quantity"), "unit_cost": line.get("unit_cost"),
            "uom": line.get("uom"), "commitment_line_item_id": target,
            "wbs_code": (line.get("wbs_code") or {}).get("flat_code")}
        if target is not None and target in positions:
            number, base = positions[target]
            entry.update(sage_line=number, cost_code=base.get("cost_code"),
                         line_item_type=base.get("line_item_type"),
                         description=entry["description"] or base.get("description") or "")
        elif target is None:
            code, line_type = resolve_wbs(entry["wbs_code"], codes_by_full, types_by_code)
            entry.update(sage_line=None, cost_code=code, line_item_type=line_type)
        else:
            entry.update(sage_line=None, cost_code=None, line_item_type=None,
                         unknown_commitment_line=True)
        merged[key] = entry
    snapshot_lines = list(merged.values())
    total = sum((money(ln["amount"]) or Decimal(0) for ln in snapshot_lines), Decimal(0))
    return {
        "id": cco.get("id"), "project_id": cco.get("project_id"),
        "contract_id": cco.get("contract_id"),
        "commitment_type": commitment.subtype if commitment is not None else None,
        "number": str(cco.get("number") or ""), "revision": cco.get("revision"),
        "title": cco.get("title") or "", "status": cco.get("status") or "",
        "description": cco.get("description") or "",
        "change_events": [e.get("id") for e in cco.get("change_events") or []],
        "total": _text(total), "lines": snapshot_lines,
    }


def _add(held: str, amount: Decimal | None) -> str:
    base = money(held)
    return _text(base + amount) if base is not None and amount is not None else held


@dataclass(frozen=True)
class ReadinessContext:
    commitment: Item | None  # the commitment item the CCO changes
    project_link: Link | None
    cost_code_rule: str = cost_codes.DEFAULT_RULE
    known_cost_codes: Collection[str] | None = None
    cost_types: Mapping[str, int] = field(default_factory=dict)


def readiness_reasons(snapshot: Mapping[str, Any], ctx: ReadinessContext) -> list[str]:
    """Every reason the CCO cannot go to Sage yet, worded for a project manager."""
    reasons: list[str] = []
    number = snapshot.get("number") or snapshot.get("id")
    status = snapshot.get("status") or "(none)"
    if status != APPROVED:
        reasons.append(f"CCO {number} is {status}. Only approved change orders go to Sage; "
                       "approve it in Procore.")
    commitment = ctx.commitment
    if commitment is None or commitment.synced_snapshot is None:
        what = f"commitment {commitment.number}" if commitment else \
            f"commitment {snapshot.get('contract_id')}"
        reasons.append(f"The {what} is not in Sage 100 Contractor. A change order goes to "
                       "Sage only on a synced commitment: export the commitment first.")
    if ctx.project_link is None:
        reasons.append(f"Project {snapshot.get('project_id')} is not linked to a Sage job.")
    title = str(snapshot.get("title") or "")
    room = DESCRIPTION_MAX - len(reference(int(snapshot.get("id") or 0))) - 1
    if len(title) > room:
        reasons.append(f"Title '{title}' is {len(title)} characters; Sage's change order "
                       f"description takes {room} after the CCO reference. Shorten it.")
    lines = snapshot.get("lines") or []
    if not lines:
        reasons.append(f"CCO {number} has no line items.")
    rule = ctx.cost_code_rule if ctx.cost_code_rule in cost_codes.RULES else None
    if rule is None:
        reasons.append(f"The cost code rule '{ctx.cost_code_rule}' is not a rule; an ERP admin "
                       "must correct it.")
    for line in lines:
        reasons += _line_reasons(line, rule, ctx)
    return reasons


def _line_reasons(line: Mapping[str, Any], rule: str | None,
                  ctx: ReadinessContext) -> list[str]:
    label = f"Line '{line.get('description') or line.get('id')}'"
    if line.get("unknown_commitment_line"):
        return [f"{label} changes a commitment line Sage does not have (added after the "
                "commitment was exported); add it as a new line of the change order."]
    reasons = []
    amount = money(line.get("amount"))
    if amount is None:
        reasons.append(f"{label}: amount '{line.get('amount')}' is not a number.")
    elif abs(amount) >= AMOUNT_LIMIT:
        reasons.append(f"{label}: amount {amount} is beyond what Sage can hold.")
    if len(str(line.get("description") or "")) > DESCRIPTION_MAX:
        reasons.append(f"{label}: the description is over {DESCRIPTION_MAX} characters.")
    if line.get("sage_line") is None:  # a new line: its cost code and type must map
        if not line.get("cost_code") or not line.get("line_item_type"):
            reasons.append(f"{label}: its WBS code '{line.get('wbs_code')}' names no cost "
                           "code and cost type of the project.")
            return reasons
        if rule is not None:
            problem = cost_codes.cost_code_problem(line["cost_code"], rule,
                                                   known_codes=ctx.known_cost_codes)
            if problem:
                reasons.append(f"{label}: {problem}.")
        try:
            sage_cost_type(line["line_item_type"], ctx.cost_types)
        except MappingError as exc:
            reasons.append(f"{label}: {exc}.")
    return reasons
