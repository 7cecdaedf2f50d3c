"""Procore's budget calls, mixed into ``ProcoreClient`` (reference: procore-spec, Budget).

Budget line items have no list endpoint: they are read through a budget view's detail
rows (amounts there are strings; line items answer numbers). Writes: one line item by
``POST /budget_line_items`` (cost code + line item type), many by ``POST
/budget_line_items/sync`` (matched on ``id``; answers a bare array), and the line items'
origin ids through the ERP close-out call ``PATCH /companies/{c}/external_data/sync``
(line items have no origin_id field of their own).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from chalicelib.adapters.procore_http import _truncate
from chalicelib.errors import FatalUpstreamError

if TYPE_CHECKING:
    from chalicelib.adapters.procore import SyncOutcome

STANDARD_VIEW = "Procore Standard Budget"
BUDGET_SYNC_CHUNK = 1000  # the reference gives no limit; the sandbox refuses more (decisions)


class ProcoreBudgets:
    """Budget views, detail rows, line items, the lock and external data."""

    company_id: int

    if TYPE_CHECKING:  # provided by ProcoreClient

        def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any: ...

        def get_all(self, path: str, params: Mapping[str, Any] | None = None,
                    per_page: int = 100) -> list[Any]: ...

        def post(self, path: str, json_body: Any,
                 params: Mapping[str, Any] | None = None) -> Any: ...

        def sync(self, path: str, updates: Sequence[Mapping[str, Any]], *,
                 scope: Mapping[str, Any],
                 params: Mapping[str, Any] | None = None) -> SyncOutcome: ...

    def budget_locked(self, project_id: int) -> bool:
        answer = self.get(f"/rest/v1.0/projects/{int(project_id)}/budget")
        return bool(isinstance(answer, dict) and answer.get("locked"))

    def budget_view_id(self, project_id: int) -> int:
        """The project's standard budget view (the first view when none has that name)."""
        views = self.get("/rest/v1.0/budget_views", {"project_id": int(project_id)})
        if not isinstance(views, list) or not views:
            raise FatalUpstreamError(f"Procore has no budget view for project {project_id}; "
                                     "open the project's Budget tool once to create one")
        chosen = next((v for v in views if v.get("name") == STANDARD_VIEW), views[0])
        return int(chosen["id"])

    def list_budget_rows(self, project_id: int, *,
                         row_type: str = "budgeted") -> list[dict[str, Any]]:
        """The detail rows of the project's standard view: budgeted (one per line item);
        ``"all"`` adds the unbudgeted rows (cost code x cost type with costs and no line
        item, e.g. direct costs on an unbudgeted code)."""
        view = self.budget_view_id(project_id)
        params: dict[str, Any] = {"project_id": int(project_id)}
        if row_type != "budgeted":
            params["budget_row_type"] = row_type
        return self.get_all(f"/rest/v1.0/budget_views/{view}/detail_rows", params,
                            per_page=1000)

    def create_budget_line_item(self, project_id: int,
                                fields: Mapping[str, Any]) -> dict[str, Any]:
        """POST one line item (``cost_code_id``, ``line_item_type_id``,
        ``original_budget_amount``). Not resent after a 5xx: read the detail rows first."""
        answer = self.post("/rest/v1.0/budget_line_items",
                           {"project_id": int(project_id), "budget_line_item": dict(fields)})
        if not isinstance(answer, dict):
            raise FatalUpstreamError("Procore POST /budget_line_items did not answer a record")
        return answer

    def sync_budget_line_items(self, project_id: int,
                               items: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Update line items by ``id`` (``wbs_code_id`` required), in chunks. Procore
        answers a bare array of the line items written; a refusal is a 4xx for the chunk."""
        written: list[dict[str, Any]] = []
        for start in range(0, len(items), BUDGET_SYNC_CHUNK):
            chunk = [dict(item) for item in items[start:start + BUDGET_SYNC_CHUNK]]
            answer = self.post("/rest/v1.0/budget_line_items/sync",
                               {"project_id": int(project_id), "budget_line_items": chunk})
            if not isinstance(answer, list):
                raise FatalUpstreamError(
                    "Procore POST /budget_line_items/sync did not answer an array",
                    body=_truncate(json.dumps(answer, default=str).encode()))
            written += answer
        return written

    def sync_external_data(self, updates: Sequence[Mapping[str, Any]]) -> SyncOutcome:
        """Origin ids of records without an origin field (``{item_type, item_id,
        origin_id}`` each); Procore's sync rules (200, entities and errors)."""
        return self.sync(f"/rest/v1.0/companies/{self.company_id}/external_data/sync",
                         updates, scope={})
