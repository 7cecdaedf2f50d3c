"""A Procore cost code Sage lacks, added to Sage's cost code list (pure).

Sage keeps one company-wide list of cost codes (``cstcde``): the code is decimal(15,3)
("3300.000"), its name nvarchar(50) (``cdenme``) and its division an optional reference
to a cost division (``divnum`` -> ``cstdiv.recnum``, int). A Procore cost code is sent
for export only when it maps to exactly one Sage code by the company's cost code rule
(``domain.cost_codes``, the same rule every export uses), Sage does not have that code
yet, and its name fits. Names are never cut: a reason says to shorten it.

The division is given in Procore as the code's parent (``parent: {id}``): the top of its
parent chain, whose full code must be a division number ("03" -> division 3). A code
without a parent has no division (``divnum`` NULL). Whether Sage has that division is
Sage's check at export (12802): the connector pulls no division list (docs/decisions.md,
"Cost codes and sub jobs exported through acceptance").
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from chalicelib.domain import cost_codes

NAME_MAX = 50  # cstcde.cdenme nvarchar(50) (real_schema.json: EI String(50))
DIVISION_MAX = 2_147_483_647  # cstcde.divnum int
_DIVISION = re.compile(r"\d{1,10}", re.ASCII)


@dataclass(frozen=True)
class ReadinessContext:
    """What the connector knows besides the cost code itself."""

    rule: str  # the company's cost code rule (advanced setting cost_code_rule)
    # Every code in Sage's pulled list, active or not ("3300.000"); None before a pull.
    sage_codes: Mapping[str, str] | None = None  # code -> name
    # The Procore cost code already exported to this Sage code (a cost_code link), if any.
    exported_as: Mapping[str, int] | None = None  # Sage code -> Procore cost code id
    linked_to: str | None = None  # this cost code's own link (its Sage code), if any


def _text(value: Any) -> str:
    return str(value or "").strip()


def _root(record: Mapping[str, Any],
          by_id: Mapping[int, Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The top of ``record``'s parent chain (None: it has no parent); cycle safe."""
    seen = {record.get("id")}
    parent = (record.get("parent") or {}).get("id")
    node = None
    while parent is not None and parent not in seen:
        node = by_id.get(int(parent))
        if node is None:
            return {"id": parent, "full_code": None, "name": None}
        seen.add(node.get("id"))
        parent = (node.get("parent") or {}).get("id")
    return node


def build_snapshot(record: Mapping[str, Any], project_codes: list[Mapping[str, Any]],
                   *, project_id: int, rule: str) -> dict[str, Any]:
    """The cost code fields Sage's record is made from; ``project_codes`` give its parent.

    ``sage_code`` and ``sage_division`` are what the export writes, worked out by the rule
    now, so the approver sees them (None where they cannot be: a reason says why).
    """
    by_id = {int(c["id"]): c for c in project_codes if c.get("id") is not None}
    root = _root(record, by_id)
    full_code = _text(record.get("full_code") or record.get("code"))
    snapshot: dict[str, Any] = {
        "id": record.get("id"),
        "project_id": project_id,
        "code": _text(record.get("code")),
        "full_code": full_code,
        "name": _text(record.get("name")),
        "origin_id": _text(record.get("origin_id")) or None,
        "sub_job_id": (record.get("biller_id") if record.get("biller_type") == "SubJob"
                       else None),
        "division": None if root is None else {
            "id": root.get("id"), "full_code": _text(root.get("full_code")) or None,
            "name": _text(root.get("name")) or None},
        "title": _text(record.get("name")),
        "number": full_code,
    }
    try:
        snapshot["sage_code"] = sage_code(snapshot, rule)
    except (cost_codes.CostCodeError, cost_codes.CostCodeRuleError):
        snapshot["sage_code"] = None
    try:
        snapshot["sage_division"] = division_number(snapshot)
    except ValueError:
        snapshot["sage_division"] = None
    return snapshot


def division_number(snapshot: Mapping[str, Any]) -> int | None:
    """The Sage division (cstdiv.recnum) of the code, None when it has none; ValueError
    with the reason when its Procore division cannot be one."""
    division = snapshot.get("division")
    if not division:
        return None
    code = division.get("full_code") or ""
    if not _DIVISION.fullmatch(code) or not 1 <= int(code) <= DIVISION_MAX:
        shown = code or f"id {division.get('id')}"
        raise ValueError(f"its division '{shown}' (the parent cost code in Procore) is not a "
                         "Sage division number (digits only, 1 to "
                         f"{DIVISION_MAX}, e.g. '03' for division 3); put the code under a "
                         "division numbered as in Sage, or under none")
    return int(code)


def sage_code(snapshot: Mapping[str, Any], rule: str) -> str:
    """The Sage code of the cost code by the rule alone (its origin id is not used: an
    exported code is one that did not come from Sage); CostCodeError naming it."""
    return cost_codes.to_sage({"full_code": snapshot.get("full_code"),
                               "name": snapshot.get("name"), "id": snapshot.get("id")}, rule)


def readiness_reasons(snapshot: Mapping[str, Any], ctx: ReadinessContext) -> list[str]:
    """Every reason the cost code cannot be added to Sage's cost code list yet."""
    shown = snapshot.get("full_code") or f"id {snapshot.get('id')}"
    reasons: list[str] = []
    if ctx.linked_to is not None:
        reasons.append(f"Cost code '{shown}' is already linked to Sage cost code "
                       f"{ctx.linked_to}; it is in Sage, use it.")
    elif snapshot.get("origin_id"):
        reasons.append(f"Cost code '{shown}' came from Sage (origin id "
                       f"{snapshot['origin_id']}); it is in Sage already, use it.")
    code: str | None = None
    try:
        code = sage_code(snapshot, ctx.rule)
    except (cost_codes.CostCodeError, cost_codes.CostCodeRuleError) as exc:
        rule = ctx.rule if ctx.rule in cost_codes.RULES else None
        how = (f"the cost code rule '{rule}' ({cost_codes.RULES[rule]})" if rule
               else "the company's cost code rule")
        reasons.append(f"Cost code '{shown}' has no Sage cost code under {how}: {exc}. "
                       "Only a code that maps to exactly one Sage code can be added.")
    if code is not None and ctx.linked_to is None and not snapshot.get("origin_id"):
        reasons += _taken(shown, code, snapshot, ctx)
    name = snapshot.get("name") or ""
    if not name:
        reasons.append(f"Cost code '{shown}' has no name; Sage cost codes need one (up to "
                       f"{NAME_MAX} characters).")
    elif len(name) > NAME_MAX:
        reasons.append(f"Cost code '{shown}' name '{name}' is {len(name)} characters; Sage "
                       f"cost code names take at most {NAME_MAX} (cstcde.cdenme). Shorten "
                       "it in Procore.")
    try:
        division_number(snapshot)
    except ValueError as exc:
        reasons.append(f"Cost code '{shown}': {exc}.")
    return reasons


def _taken(shown: str, code: str, snapshot: Mapping[str, Any],
           ctx: ReadinessContext) -> list[str]:
    if ctx.sage_codes is not None and code in ctx.sage_codes:
        return [f"Sage already has cost code {code} '{ctx.sage_codes[code]}'; cost code "
                f"'{shown}' is linked to it by the cost code rule '{ctx.rule}', so use it "
                "(refresh the project's cost codes from Sage) instead of adding it again."]
    other = (ctx.exported_as or {}).get(code)
    if other is not None and other != snapshot.get("id"):
        return [f"Sage cost code {code} was already added from Procore cost code {other}; "
                f"cost code '{shown}' maps to it by the rule '{ctx.rule}', so use it."]
    return []


def sage_names(rows: Collection[Mapping[str, Any]]) -> dict[str, str] | None:
    """Sage's pulled cost codes (inactive ones too: Sage refuses their code twice) by code;
    None before the first pull."""
    if not rows:
        return None
    return {code: str(r.get("name") or "") for r in rows
            if (code := cost_codes.sage_code_text(r.get("code")))}
