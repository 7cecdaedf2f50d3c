"""Budgets: the snapshot that exports, its readiness rules, and the Sage rows (pure).

A project has one budget item, ``budget-{project id}``. Its snapshot holds every budget
line item of the project as Procore's standard budget view shows it: the cost code, the
cost type, the original amount and the revised amount (original + budget modifications
+ approved budget changes). Sage keeps a budget as ``bdglin`` rows, one per job, phase
and cost code, with one current column per cost type (matbdg, labbdg, ... usrcs9) and
one original column each (matorg, ...). A Procore line item is one *cell* of such a row:

    Procore line (cost code 03-300, type Labor, revised 1200)  ->  bdglin 3300.000 labbdg

The first export writes every row (current = revised, originals = original). After it,
a change set writes only the cells whose revised amount changed, the cells added, and
the cells removed in Procore (set to 0: Sage keeps the row); originals stay as Sage has
them. Two Procore lines landing on one cell are summed (said in the preview).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from chalicelib.domain import cost_codes
from chalicelib.domain.models import Link
from chalicelib.domain.observations import SyncDiff
from chalicelib.domain.sage_mapping import AMOUNT_LIMIT, MappingError, sage_cost_type

CENT = Decimal("0.01")
LOCK_REASON = ("The budget is not locked in Procore. Procore sends only a locked budget to "
               "the ERP: lock it in the Budget tool, then send it again.")
SUB_JOB_REASON = ("Line {label} is on sub job '{sub_job}'. With Sage phases the budget "
                  "originates in Sage: import it from Sage instead of exporting it.")
CellKey = tuple[int | None, str, int]  # (phase, Sage cost code, Sage cost type)


def money(value: Any) -> Decimal | None:
    """Procore's amount (a number or its text) to the cent; None when it is not one."""
    if value in (None, ""):
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return number.quantize(CENT) if number.is_finite() else None


def _text(value: Decimal) -> str:
    return str(value.quantize(CENT))


def _ref(obj: Mapping[str, Any] | None, fallback_id: Any, *fields: str) -> dict[str, Any]:
    obj = obj or {}
    return {"id": obj.get("id", fallback_id), **{f: obj.get(f) for f in fields}}


def build_snapshot(project_id: int, *, locked: bool, rows: list[dict[str, Any]],
                   cost_codes_by_id: Mapping[int, Mapping[str, Any]],
                   types_by_id: Mapping[int, Mapping[str, Any]]) -> dict[str, Any]:
    """The project's budget from its detail rows (budgeted rows only: ``id`` set)."""
    lines = []
    for row in rows:
        if row.get("id") is None:
            continue  # an unbudgeted row (costs without a budget line) is not budget
        code_id, type_id = row.get("cost_code_id"), row.get("category_id")
        code = _ref(cost_codes_by_id.get(code_id), code_id, "full_code", "name", "origin_id")
        code["name"] = code.get("name") or row.get("cost_code")
        if code.get("origin_id") is None and row.get("cost_code_origin_id"):
            code["origin_id"] = row["cost_code_origin_id"]
        line_type = _ref(types_by_id.get(type_id), type_id, "code", "name", "origin_id")
        line_type["name"] = line_type.get("name") or row.get("category")
        original = money(row.get("original_budget_amount"))
        modifications = money(row.get("budget_modifications") or 0)
        approved = money(row.get("approved_budget_changes") or 0)
        revised = (original + modifications + approved
                   if None not in (original, modifications, approved) else None)
        lines.append({
            "id": row["id"],
            "wbs_code_id": row.get("wbs_code_id"),
            "sub_job": ({"id": row.get("biller_id"), "name": row.get("biller")}
                        if row.get("biller_type") == "SubJob" else None),
            "cost_code": code,
            "line_item_type": line_type,
            "original": _text(original) if original is not None
            else str(row.get("original_budget_amount")),
            "modifications": _text(modifications) if modifications is not None else None,
            "approved_changes": _text(approved) if approved is not None else None,
            "revised": _text(revised) if revised is not None else None,
        })
    lines.sort(key=lambda ln: ((ln["sub_job"] or {}).get("id") or 0,
                               str(ln["cost_code"].get("full_code") or ""),
                               ln["line_item_type"].get("id") or 0, ln["id"]))
    name = next((r.get("project") for r in rows if r.get("project")), None)
    return {
        "project_id": project_id,
        "title": f"Budget of {name}" if name else f"Budget of project {project_id}",
        "locked": bool(locked),
        "original_total": _text(sum((money(ln["original"]) or Decimal(0) for ln in lines),
                                    Decimal(0))),
        "revised_total": _text(sum((money(ln["revised"]) or Decimal(0) for ln in lines),
                                   Decimal(0))),
        "lines": lines,
    }


def line_label(line: Mapping[str, Any]) -> str:
    code = line.get("cost_code") or {}
    line_type = line.get("line_item_type") or {}
    shown = code.get("full_code") or code.get("name") or code.get("id")
    return f"{shown} {line_type.get('name') or line_type.get('id')}"


@dataclass(frozen=True)
class ReadinessContext:
    """What the rules need besides the snapshot (all read by the caller)."""

    project_link: Link | None
    managed_in_sage: Link | None = None  # the budget was imported from Sage
    exported: bool = False  # Sage holds this budget from an earlier export
    sage_lines: list[dict[str, Any]] | None = None  # the job's bdglin rows; None: unknown
    job_has_phases: bool = False
    cost_code_rule: str = cost_codes.DEFAULT_RULE
    known_cost_codes: Collection[str] | None = None
    cost_types: Mapping[str, int] | None = None


def readiness_reasons(snapshot: Mapping[str, Any], ctx: ReadinessContext) -> list[str]:
    """Every reason the budget cannot go to Sage yet, worded for a project manager."""
    reasons: list[str] = []
    project = snapshot.get("project_id")
    if ctx.managed_in_sage is not None:
        reasons.append(
            f"This budget was imported from Sage job {ctx.managed_in_sage.sage_key}, so it is "
            "managed in Sage: make the change in Sage and import the budget again. A budget "
            "is updated only in the system that created it.")
    if ctx.project_link is None:
        reasons.append(f"Project {project} is not linked to a Sage 100 Contractor job yet. Add "
                       "the project to Sage (or link it to its job) first.")
    if not snapshot.get("locked"):
        reasons.append(LOCK_REASON)
    lines = snapshot.get("lines") or []
    if not lines:
        reasons.append("The budget has no line items; add them in the Budget tool.")
    if not ctx.exported and ctx.sage_lines:
        job = ctx.project_link.sage_key if ctx.project_link else "?"
        reasons.append(
            f"Sage job {job} already has a budget ({len(ctx.sage_lines)} lines). A budget is "
            "set up in one system and then exported or imported, never created in both: "
            "import the Sage budget instead, or remove one of the two.")
    if ctx.job_has_phases and not ctx.exported:
        reasons.append("The Sage job has phases. With Sage phases the budget originates in "
                       "Sage: import it from Sage instead of exporting it.")
    rule = _checked_rule(ctx.cost_code_rule, reasons)
    for line in lines:
        reasons += _line_reasons(line, rule, ctx)
    return reasons


def _checked_rule(rule: str, reasons: list[str]) -> str | None:
    try:
        return cost_codes.check_rule(rule)
    except cost_codes.CostCodeRuleError as exc:
        message = str(exc)
        reasons.append(f"{message[0].upper()}{message[1:]}.")
        return None


def _line_reasons(line: Mapping[str, Any], rule: str | None,
                  ctx: ReadinessContext) -> list[str]:
    label = line_label(line)
    reasons = []
    if line.get("sub_job"):
        reasons.append(SUB_JOB_REASON.format(label=label, sub_job=line["sub_job"].get("name")))
    if rule is not None:
        problem = cost_codes.cost_code_problem(line.get("cost_code"), rule,
                                               known_codes=ctx.known_cost_codes)
        if problem:
            reasons.append(f"Line {label}: {problem}.")
    if ctx.cost_types is not None:
        try:
            sage_cost_type(line.get("line_item_type"), ctx.cost_types)
        except MappingError as exc:
            reasons.append(f"Line {label}: {exc}.")
    for field in ("original", "revised"):
        amount = money(line.get(field))
        if amount is None:
            reasons.append(f"Line {label}: the {field} amount '{line.get(field)}' is not a "
                           "number.")
        elif abs(amount) >= AMOUNT_LIMIT:
            reasons.append(f"Line {label}: the {field} amount {amount} is beyond what Sage "
                           "can hold (12 digits).")
    return reasons


# ---- Sage cells --------------------------------------------------------------------------
@dataclass(frozen=True)
class Cell:
    current: Decimal
    original: Decimal
    line_ids: tuple[int, ...]


def sage_cells(snapshot: Mapping[str, Any], *, cost_types: Mapping[str, int],
               rule: str) -> dict[CellKey, Cell]:
    """Each Sage cell the budget fills; MappingError naming the line that cannot map."""
    cells: dict[CellKey, Cell] = {}
    for line in snapshot.get("lines") or []:
        label = line_label(line)
        if line.get("sub_job"):
            raise MappingError(SUB_JOB_REASON.format(label=label,
                                                     sub_job=line["sub_job"].get("name")))
        try:
            code = cost_codes.to_sage(line.get("cost_code"), rule)
        except (cost_codes.CostCodeError, cost_codes.CostCodeRuleError) as exc:
            raise MappingError(f"line {label}: {exc}") from exc
        try:
            cost_type = sage_cost_type(line.get("line_item_type"), cost_types)
        except MappingError as exc:
            raise MappingError(f"line {label}: {exc}") from exc
        current, original = money(line.get("revised")), money(line.get("original"))
        if current is None or original is None:
            raise MappingError(f"line {label}: its amounts are not numbers")
        key = (None, code, cost_type)
        held = cells.get(key)
        cells[key] = Cell(current + (held.current if held else 0),
                          original + (held.original if held else 0),
                          (*(held.line_ids if held else ()), int(line["id"])))
    return cells


def rows_for_add(cells: Mapping[CellKey, Cell]) -> list[dict[str, Any]]:
    """Every row of a first export: current columns = revised, originals = original."""
    return _rows({key: (cell.current, cell.original) for key, cell in cells.items()})


def rows_for_change(before: Mapping[CellKey, Cell],
                    after: Mapping[CellKey, Cell]) -> list[dict[str, Any]]:
    """Only the cells that changed: new amounts, added cells (with their originals) and
    removed cells set to 0. Empty when Sage already holds every amount."""
    changed: dict[CellKey, tuple[Decimal, Decimal | None]] = {}
    for key, cell in after.items():
        old = before.get(key)
        if old is None:
            changed[key] = (cell.current, cell.original)
        elif old.current != cell.current:
            changed[key] = (cell.current, None)
    for key in before.keys() - after.keys():
        if before[key].current != 0:
            changed[key] = (Decimal("0.00"), None)
    return _rows(changed)


def _rows(cells: Mapping[CellKey, tuple[Decimal, Decimal | None]]) -> list[dict[str, Any]]:
    rows: dict[tuple[int | None, str], dict[str, Any]] = {}
    for (phase, code, cost_type), (current, original) in sorted(
            cells.items(), key=lambda kv: (kv[0][0] or 0, Decimal(kv[0][1]), kv[0][2])):
        row = rows.setdefault((phase, code), {"phase": phase, "cost_code": code,
                                              "amounts": {}, "originals": {}})
        row["amounts"][cost_type] = current
        if original is not None:
            row["originals"][cost_type] = original
    return list(rows.values())


# ---- after sync ---------------------------------------------------------------------------
def change_after_sync(synced: dict[str, Any], new: dict[str, Any]) -> SyncDiff:
    """An exported budget's new content against what Sage holds: every line whose revised
    amount changed, was added or removed is a change Sage takes as a change set."""
    before = {_line_key(ln): ln for ln in synced.get("lines") or []}
    after = {_line_key(ln): ln for ln in new.get("lines") or []}
    changes = []
    for key, line in after.items():
        old = before.get(key)
        if old is None:
            changes.append(f"line {line_label(line)} added ({line.get('revised')})")
        elif old.get("revised") != line.get("revised"):
            changes.append(f"line {line_label(line)} {old.get('revised')} -> "
                           f"{line.get('revised')}")
    for key in before.keys() - after.keys():
        changes.append(f"line {line_label(before[key])} deleted")
    return SyncDiff(changes=changes)


def _line_key(line: Mapping[str, Any]) -> tuple[Any, ...]:
    return ((line.get("sub_job") or {}).get("id"), (line.get("cost_code") or {}).get("id"),
            (line.get("line_item_type") or {}).get("id"))


def against_sage(rows: list[dict[str, Any]], sage_lines: list[dict[str, Any]] | None,
                 ) -> list[dict[str, Any]]:
    """What each written cell holds in Sage now and after the export (the approver's view).

    ``sage_lines``: the job's pulled bdglin rows (None: not pulled yet, shown as unknown).
    """
    held: dict[tuple[int | None, str], Mapping[str, Any]] = {
        (r.get("phase"), str(r.get("cost_code"))): r for r in sage_lines or []}
    view = []
    for row in rows:
        sage_row = held.get((row["phase"], row["cost_code"]))
        for cost_type, amount in row["amounts"].items():
            now = None
            if sage_lines is not None:
                now = money(((sage_row or {}).get("amounts") or {}).get(str(cost_type)) or 0)
            after = Decimal(amount)
            view.append({"phase": row["phase"], "cost_code": row["cost_code"],
                         "cost_type": int(cost_type), "sage_now": _text(now) if now is not None
                         else None, "after_export": _text(after),
                         "difference": _text(after - now) if now is not None else None,
                         "new_row": sage_row is None if sage_lines is not None else None})
    return view
