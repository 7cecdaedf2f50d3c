"""Prime contract change orders (PCCOs): the snapshot that exports and its readiness rules
(pure).

A PCCO goes to Sage once approved, on a project linked to a Sage job and a prime contract
the connector has linked to Sage (imported from Sage's job contract): the owner side
exists in Sage before its changes do, as "CCOs only on synced commitments" is for the
cost side. Each line becomes a Sage prime change line (pmcgln) with the cost code and type
of its WBS code (``{cost code full code}.{cost type code}``) mapped by the company's cost
code rule, its description starting with the PCCO reference (``PCCO{id}``) as the
header's does: that is how the agent finds what it wrote after a crash.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from chalicelib.domain import cost_codes
from chalicelib.domain.budgets import money
from chalicelib.domain.ccos import resolve_wbs
from chalicelib.domain.models import Link
from chalicelib.domain.sage_mapping import (
    AMOUNT_LIMIT,
    DESCRIPTION_MAX,
    MappingError,
    sage_cost_type,
)

APPROVED = "approved"


def reference(pcco_id: int) -> str:
    return f"PCCO{pcco_id}"


def _text(value: Decimal) -> str:
    return str(value.quantize(Decimal("0.01")))


def line_description(pcco_id: int, line: Mapping[str, Any]) -> str:
    """pmcgln.dscrpt: the reference, then the line's description (never cut)."""
    return f"{reference(pcco_id)} {line.get('description') or ''}".strip()


def build_snapshot(pcco: Mapping[str, Any], lines: list[dict[str, Any]], *,
                   codes_by_full: Mapping[str, Mapping[str, Any]],
                   types_by_code: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The PCCO as it would export: its header, change events and lines in position
    order, each with the cost code and type its WBS code names."""
    snapshot_lines = []
    for line in sorted(lines, key=lambda ln: (int(ln.get("position") or 0), str(ln.get("id")))):
        amount = money(line.get("amount"))
        flat = (line.get("wbs_code") or {}).get("flat_code")
        code, line_type = resolve_wbs(flat, codes_by_full, types_by_code)
        raw_prime = line.get("prime_line_item_id")
        snapshot_lines.append({
            "id": str(line.get("id")), "description": line.get("description") or "",
            "amount": _text(amount) if amount is not None else str(line.get("amount")),
            "quantity": line.get("quantity"), "unit_cost": line.get("unit_cost"),
            "uom": line.get("uom"), "wbs_code": flat,
            "prime_line_item_id": int(raw_prime) if str(raw_prime or "").isdigit() else None,
            "cost_code": code, "line_item_type": line_type})
    total = sum((money(ln["amount"]) or Decimal(0) for ln in snapshot_lines), Decimal(0))
    return {
        "id": pcco.get("id"), "project_id": pcco.get("project_id"),
        "contract_id": pcco.get("contract_id"), "number": str(pcco.get("number") or ""),
        "revision": pcco.get("revision"), "title": pcco.get("title") or "",
        "status": pcco.get("status") or "", "description": pcco.get("description") or "",
        "change_events": sorted(int(e["id"]) for e in pcco.get("change_events") or []
                                if str(e.get("id") or "").isdigit()),
        "total": _text(total), "lines": snapshot_lines,
    }


@dataclass(frozen=True)
class ReadinessContext:
    project_link: Link | None
    prime_contract_link: Link | None  # the PCCO's prime contract, linked to Sage
    cost_code_rule: str = cost_codes.DEFAULT_RULE
    known_cost_codes: Collection[str] | None = None
    cost_types: Mapping[str, int] = field(default_factory=dict)


def readiness_reasons(snapshot: Mapping[str, Any], ctx: ReadinessContext) -> list[str]:
    """Every reason the PCCO cannot go to Sage yet, worded for a project manager."""
    reasons: list[str] = []
    pcco_id = int(snapshot.get("id") or 0)
    number = snapshot.get("number") or pcco_id
    status = snapshot.get("status") or "(none)"
    if status != APPROVED:
        reasons.append(f"PCCO {number} is {status}. Only approved prime contract change "
                       "orders go to Sage; approve it in Procore.")
    if ctx.project_link is None:
        reasons.append(f"Project {snapshot.get('project_id')} is not linked to a Sage job.")
    if ctx.prime_contract_link is None:
        reasons.append(f"Prime contract {snapshot.get('contract_id')} is not linked to Sage "
                       "100 Contractor. A PCCO goes to Sage only on a synced prime contract: "
                       "import the job's contract from Sage into Procore first.")
    elif ctx.project_link is not None and \
            ctx.prime_contract_link.sage_key != ctx.project_link.sage_key:
        reasons.append(f"Prime contract {snapshot.get('contract_id')} is linked to Sage job "
                       f"{ctx.prime_contract_link.sage_key}, but project "
                       f"{snapshot.get('project_id')} is linked to Sage job "
                       f"{ctx.project_link.sage_key}: fix the links before exporting.")
    title = str(snapshot.get("title") or "")
    room = DESCRIPTION_MAX - len(reference(pcco_id)) - 1
    if len(title) > room:
        reasons.append(f"Title '{title}' is {len(title)} characters; Sage's change order "
                       f"description takes {room} after the PCCO reference. Shorten it.")
    lines = snapshot.get("lines") or []
    if not lines:
        reasons.append(f"PCCO {number} has no line items.")
    rule = ctx.cost_code_rule if ctx.cost_code_rule in cost_codes.RULES else None
    if rule is None:
        reasons.append(f"The cost code rule '{ctx.cost_code_rule}' is not a rule; an ERP admin "
                       "must correct it.")
    for line in lines:
        reasons += _line_reasons(pcco_id, line, rule, ctx)
    total = money(snapshot.get("total"))
    if total is not None and abs(total) >= AMOUNT_LIMIT:
        reasons.append(f"The PCCO totals {total}, beyond what Sage can hold.")
    return reasons


def _line_reasons(pcco_id: int, line: Mapping[str, Any], rule: str | None,
                  ctx: ReadinessContext) -> list[str]:
    label = f"Line '{line.get('description') or line.get('id')}'"
    reasons = []
    amount = money(line.get("amount"))
    if amount is None:
        reasons.append(f"{label}: amount '{line.get('amount')}' is not a number.")
    elif abs(amount) >= AMOUNT_LIMIT:
        reasons.append(f"{label}: amount {amount} is beyond what Sage can hold.")
    text = line_description(pcco_id, line)
    if len(text) > DESCRIPTION_MAX:
        room = DESCRIPTION_MAX - len(reference(pcco_id)) - 1
        reasons.append(f"{label}: the description takes {room} characters after the PCCO "
                       "reference in Sage. Shorten it.")
    if not line.get("cost_code") or not line.get("line_item_type"):
        reasons.append(f"{label}: its WBS code '{line.get('wbs_code')}' names no cost code "
                       "and cost type of the project.")
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
