"""The budget kind: item ``budget-{project id}``, one per project.

First export: ``add_budget`` with every row. After it, an accepted change is a
``change_budget`` with only the cells that differ from what Sage was given last (the
synced snapshot mapped with today's cost code rule and cost type map). Origin ids go to
each Procore line item as ``bdglin:{job}:{phase}:{cost code}:{cost type}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from chalicelib.domain import budgets
from chalicelib.domain.cost_codes import DEFAULT_RULE
from chalicelib.domain.models import Item
from chalicelib.domain.sage_mapping import MappingError, first_error, packed_command
from chalicelib.kinds import ExportContext
from chalicelib.relay_protocol import (
    BudgetChangePayload,
    BudgetPayload,
    Command,
    CommandType,
)
from chalicelib.services.origins import entity_errors

if TYPE_CHECKING:
    from chalicelib.adapters.procore import ProcoreClient

ITEM_TYPE = "budget_line_item"  # external data item type of a budget line item


def job_of(ctx: ExportContext, project_id: int | None) -> int:
    if ctx.project_link is None:
        raise MappingError(f"project {project_id} is no longer linked to a Sage job")
    try:
        return int(ctx.project_link.sage_key)
    except ValueError as exc:
        raise MappingError(f"the linked Sage job '{ctx.project_link.sage_key}' is not a "
                           "number") from exc


def planned_rows(item: Item, ctx: ExportContext) -> tuple[str, list[dict[str, Any]]]:
    """("add" | "change", the rows the export writes); MappingError when it cannot map."""
    rule = str(ctx.advanced.get("cost_code_rule") or DEFAULT_RULE)
    after = budgets.sage_cells(item.snapshot, cost_types=ctx.cost_types, rule=rule)
    if item.synced_snapshot is None:
        return "add", budgets.rows_for_add(after)
    before = budgets.sage_cells(item.synced_snapshot, cost_types=ctx.cost_types, rule=rule)
    return "change", budgets.rows_for_change(before, after)


class BudgetKind:
    name = "budget"
    link_kind = "budget"
    after_sync = staticmethod(budgets.change_after_sync)

    def build_command(self, item: Item, *, version: int, issued_at: str,
                      ctx: ExportContext) -> Command:
        job = job_of(ctx, item.project_id)
        operation, rows = planned_rows(item, ctx)
        if not rows:
            raise MappingError("Sage already holds every amount of this budget; there is "
                               "nothing to change")
        try:
            if operation == "add":
                command_type = CommandType.ADD_BUDGET
                payload: Any = BudgetPayload(job=job, lines=rows)
            else:
                command_type = CommandType.CHANGE_BUDGET
                payload = BudgetChangePayload(job=job, lines=rows)
        except ValidationError as exc:
            raise first_error(exc) from exc
        return packed_command(item.command_id or "", item, command_type, version, payload,
                              issued_at)

    def sage_identity(self, item: Item, keys: Mapping[str, str]) -> tuple[str, str]:
        job = str(keys.get("budget") or "")
        return job, job

    def write_origins(self, procore: ProcoreClient, item: Item, keys: Mapping[str, str],
                      ctx: ExportContext) -> str | None:
        try:
            updates = origin_updates(item, keys, ctx)
            if item.synced_snapshot is not None and not item.writeback_error:
                # A change set: lines whose origin id Procore already holds are not sent
                # again (a 10-line change of a 1,000-line budget writes 10, not 1,000).
                before = origin_updates(item.model_copy(update={
                    "snapshot": item.synced_snapshot}), keys, ctx)
                held = {(u["item_id"], u["origin_id"]) for u in before}
                updates = [u for u in updates if (u["item_id"], u["origin_id"]) not in held]
        except MappingError as exc:  # the mapping changed since the export
            return f"origin ids not written: {exc}"
        refused = entity_errors(procore.sync_external_data(updates)) if updates else None
        return f"Procore refused the origin ids: {refused}" if refused else None

    def clear_origins(self, procore: ProcoreClient, item: Item) -> str | None:
        """Unlink: every line item Sage was given loses its origin id."""
        lines = (item.synced_snapshot or item.snapshot).get("lines") or []
        updates = [{"item_type": ITEM_TYPE, "item_id": int(line["id"]), "origin_id": None}
                   for line in lines]
        return entity_errors(procore.sync_external_data(updates)) if updates else None


def origin_updates(item: Item, keys: Mapping[str, str],
                   ctx: ExportContext) -> list[dict[str, Any]]:
    """One external data update per Procore line item: the Sage cell it went to,
    ``bdglin:{job}:{phase or 0}:{cost code}:{cost type}`` (plus ``#{line id}`` when two
    Procore lines share a cell, since an origin id is unique per company)."""
    job = keys.get("budget") or ""
    rule = str(ctx.advanced.get("cost_code_rule") or DEFAULT_RULE)
    cells = budgets.sage_cells(item.snapshot, cost_types=ctx.cost_types, rule=rule)
    updates = []
    for (phase, code, cost_type), cell in cells.items():
        origin = f"bdglin:{job}:{phase or 0}:{code}:{cost_type}"
        for line_id in cell.line_ids:
            shared = f"#{line_id}" if len(cell.line_ids) > 1 else ""
            updates.append({"item_type": ITEM_TYPE, "item_id": line_id,
                            "origin_id": origin + shared})
    return updates


KIND = BudgetKind()
