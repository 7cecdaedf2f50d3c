"""What an item's export would write to Sage now, before anyone accepts it.

The approver sees the command the exporter would build from the item's snapshot (nothing
is sent or stored), or why it cannot be built; for a budget also each cell's amount in
Sage now (from the last pull of Sage's budgets) beside the amount after the export.
"""

from __future__ import annotations

from typing import Any

from chalicelib.adapters.store import ItemStore
from chalicelib.domain import budgets, tax_ids
from chalicelib.domain.permissions import Level, Permission, User, require
from chalicelib.domain.sage_mapping import MappingError
from chalicelib.services.budget_intake import sage_budget_lines
from chalicelib.services.exporter import ExporterService
from chalicelib.services.items import ItemService


class ExportPreview:
    def __init__(self, store: ItemStore, items: ItemService, exporter: ExporterService) -> None:
        self.store = store
        self.items = items
        self.exporter = exporter

    def preview(self, user: User, item_id: str) -> dict[str, Any]:
        require(user, Permission.READ_INBOX)
        item = self.items.get(user.company_id, item_id)
        answer: dict[str, Any] = {"item_id": item.item_id, "status": item.status.value}
        try:
            command = self.exporter.preview(item)
        except MappingError as exc:
            return {**answer, "command": None, "problem": str(exc)}
        payload = command.payload_data()
        answer.update(command=command.type.value, payload=_shown(payload, item.kind, user),
                      problem=None)
        if item.kind == "budget":
            link = self.store.get_link(user.company_id, "project", item.project_id or 0)
            state = self.store.get_pull_state(user.company_id, "budgets")
            pulled = state.get("completed_at")
            sage = (sage_budget_lines(self.store, user.company_id,
                                      link.sage_key if link else None) if pulled else None)
            answer["sage_as_of"] = pulled
            answer["against_sage"] = budgets.against_sage(payload.get("lines") or [], sage)
        return answer


def _shown(payload: dict[str, Any], kind: str, user: User) -> dict[str, Any]:
    """A new vendor's command carries the tax id read from Procore: masked (last four) for
    ERP standard and up, left out for read-only users (as everywhere else)."""
    if kind != "vendor":
        return payload
    shown: dict[str, Any] = tax_ids.redact(payload, bare_nine=False)
    if user.erp_level < Level.STANDARD:
        shown.pop("tax_id", None)
    return shown
