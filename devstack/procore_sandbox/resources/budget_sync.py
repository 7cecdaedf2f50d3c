"""The budget line item sync and the ERP close-out call (external data sync).

* ``POST /rest/v1.0/budget_line_items/sync`` ``{project_id*, budget_line_items: [{id?,
  wbs_code_id*, original_budget_amount, uom, quantity, unit_cost,
  calculation_strategy}]}`` (sdk/RestV10BudgetLineItemsSyncPost.json) answers **200 with a
  bare array**: each line written, in request order, as v1.1 shows it. Each item matches
  its ``id`` (a live line of the project), else the live line of its WBS code (update),
  else it creates. Unlike the ``PATCH .../sync`` endpoints it is all or nothing: any
  refused item (or two items naming one line) answers **422** ``{"errors":
  {"budget_line_items[<index>].<field>": [...]}}`` and writes nothing; more than
  ``SYNC_LIMIT`` (1,000) items answers 422. Every item written fires ``Budget Line Items``
  (create or update).
* ``PATCH /rest/v1.0/companies/{company_id}/external_data/sync`` ``{"updates":
  [{item_type*, item_id*, origin_id*, origin_data}]}`` (procore-api.md section 4) sets the
  origin of ``budget_line_item``, ``vendor``, ``project``, ``work_order_contract``,
  ``purchase_order_contract``, ``change_order`` (a commitment change order) and
  ``requisition`` (a subcontractor invoice: its origin lock then applies) records.
  Always 200 ``{"entities": [{item_type, item_id,
  origin_id, origin_data}], "errors": [update + {"errors": {...}}]}``. ``origin_id`` is
  unique per company and item type; ``null`` clears it. Fires no webhook.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar

from devstack.procore_sandbox.resources.budgets import SYNC_ITEM_FIELDS
from devstack.procore_sandbox.resources.common import (
    NOT_PERMITTED,
    SYNC_ID_NOT_FOUND,
    SYNC_LIMIT,
    ResourceBase,
    _schema_changes,
    _sync_id,
    _sync_updates,
    _sync_values,
)
from devstack.procore_sandbox.state import (
    Route,
    SandboxError,
    _json_body,
    _now_iso,
    _Request,
    _Response,
)

#: the item types external data sync writes here (others: "unsupported item_type")
EXTERNAL_DATA_ITEM_TYPES = (
    "budget_line_item",
    "vendor",
    "project",
    "work_order_contract",
    "purchase_order_contract",
    "change_order",
    "requisition",
)
UNSUPPORTED_ITEM_TYPE = "unsupported item_type"
_EXTERNAL_DATA_KEYS = ("item_type", "item_id", "origin_id", "origin_data")


class BudgetSyncMixin(ResourceBase):
    """``POST /rest/v1.0/budget_line_items/sync`` and ``.../external_data/sync``."""

    ROUTES: ClassVar[tuple[Route, ...]] = (
        ("POST", r"/rest/v1\.0/budget_line_items/sync", "_h_sync_budget_line_items", True),
        ("PATCH", r"/rest/v1\.0/companies/(?P<company>\d+)/external_data/sync",
         "_h_sync_external_data", True),
    )

    # --- budget line items -------------------------------------------------------------------
    def _h_sync_budget_line_items(self, req: _Request, _: re.Match[str]) -> _Response:
        body = _json_body(req)
        raw = body.get("project_id")
        if raw is None or raw == "":
            raise SandboxError(400, "param is missing or the value is empty: project_id")
        pid = _sync_id(raw)
        if pid is None:
            raise SandboxError(400, "project_id must be an integer")
        self._project(pid)
        items = body.get("budget_line_items")
        if not isinstance(items, list):
            raise SandboxError(422, {"budget_line_items": ["must be an array"]})
        if len(items) > SYNC_LIMIT:
            raise SandboxError(422, {"budget_line_items": [
                f"is too long (maximum is {SYNC_LIMIT} items, got {len(items)})"]})
        live = self._live_budget_lines(pid)
        by_wbs = {line["wbs_code_id"]: line for line in live.values()}
        plan: list[tuple[dict[str, Any] | None, dict[str, Any]]] = []
        errors: dict[str, list[str]] = {}
        claimed: dict[object, int] = {}  # line id or ("new", wbs) -> index
        for index, item in enumerate(items):
            prefix = f"budget_line_items[{index}]."
            problems: dict[str, list[str]] = {}
            if not isinstance(item, dict):
                errors[prefix + "base"] = ["must be a JSON object"]
                continue
            _schema_changes(item, SYNC_ITEM_FIELDS, {}, problems)
            if item.get("wbs_code_id") is None:
                problems.setdefault("wbs_code_id", ["can't be blank"])
            line: dict[str, Any] | None = None
            if not problems and item.get("id") is not None:
                line = live.get(item["id"])
                if line is None:
                    problems["id"] = [SYNC_ID_NOT_FOUND]
            elif not problems:
                pair = self._wbs_pair(pid, item["wbs_code_id"])
                if pair is not None and pair[1] is not None:
                    code = self.state.cost_codes[pid][pair[0]]
                    line = by_wbs.get(self._wbs_code_id(code, pair[1]))
            changes: dict[str, Any] = {}
            if not problems:
                fields = {k: v for k, v in item.items() if k != "id"}
                changes, problems = self._budget_line_changes(pid, fields, line)
            if not problems:
                key: object = (line["id"] if line is not None
                               else ("new", changes.get("wbs_code_id")))
                if key in claimed:
                    problems["id" if line is not None else "wbs_code_id"] = [
                        f"names the same budget line item as budget_line_items[{claimed[key]}]"]
                claimed.setdefault(key, index)
            errors.update({prefix + name: messages for name, messages in problems.items()})
            plan.append((line, changes))
        if errors:
            raise SandboxError(422, errors)
        actor, written = self._actor(req), []
        for line, changes in plan:
            if line is None:
                line = self._new_budget_line(pid, changes)
                self._budget_line_event("create", line, actor, req)
            else:
                line.update(changes, updated_at=_now_iso())
                self._budget_line_event("update", line, actor, req)
            written.append(line)
        return _Response(200, [self._budget_line_answer(line, "1") for line in written])

    # --- external data (ERP close-out) -------------------------------------------------------
    def _external_data_pool(self, item_type: str) -> tuple[dict[int, dict[str, Any]], bool]:
        """Every record of a type (origin ids are unique among them) and whether its
        records are soft deleted (then a deleted one is not found by id)."""
        if item_type == "budget_line_item":
            return self.state.budget_line_items, True
        if item_type == "vendor":
            return self.state.vendors, False
        if item_type == "project":
            return self.state.projects, False
        if item_type == "change_order":  # a commitment change order (its package id)
            return self.state.change_orders, True
        if item_type == "requisition":  # a subcontractor invoice (deleted: removed)
            return self.state.requisitions, False
        return self.state.commitments[item_type + "s"], True

    def _h_sync_external_data(self, req: _Request, m: re.Match[str]) -> _Response:
        if m["company"] != str(self.company_id):
            raise SandboxError(403, f"No access to company {m['company']}")
        updates = _sync_updates(_json_body(req))
        entities: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        for item in updates:
            if not isinstance(item, dict):
                errors.append({"update": item, "errors": {"base": ["must be a JSON object"]}})
                continue
            record, problems = self._external_data_target(item)
            if record is None:
                errors.append({**item, "errors": problems})
                continue
            values, _ = _sync_values(item, ("origin_id", "origin_data"), strict=True)
            record.update(values)
            record["updated_at"] = _now_iso()
            entities.append({
                "item_type": item["item_type"], "item_id": record["id"],
                "origin_id": record.get("origin_id"), "origin_data": record.get("origin_data"),
            })
        return _Response(200, {"entities": entities, "errors": errors})

    def _external_data_target(
        self, item: Mapping[str, Any]
    ) -> tuple[dict[str, Any] | None, dict[str, list[str]]]:
        """The record an update names, or ``None`` and why (nothing written)."""
        problems: dict[str, list[str]] = {
            key: [NOT_PERMITTED] for key in item if key not in _EXTERNAL_DATA_KEYS}
        item_type = item.get("item_type")
        if item_type is None:
            problems["item_type"] = ["can't be blank"]
        elif item_type not in EXTERNAL_DATA_ITEM_TYPES:
            problems["item_type"] = [UNSUPPORTED_ITEM_TYPE]
        if "origin_id" not in item:
            problems["origin_id"] = ["can't be blank"]
        values, invalid = _sync_values(item, ("origin_id", "origin_data"), strict=True)
        problems.update(invalid)
        item_id = _sync_id(item.get("item_id")) if item.get("item_id") is not None else None
        if item_id is None:
            problems["item_id"] = ["can't be blank" if item.get("item_id") is None
                                   else "is not a number"]
        if problems:
            return None, problems
        assert isinstance(item_type, str) and item_id is not None
        pool, soft = self._external_data_pool(item_type)
        record = pool.get(item_id)
        if record is None or (soft and record.get("deleted_at")):
            return None, {"item_id": [SYNC_ID_NOT_FOUND]}
        origin_id = values.get("origin_id")
        if origin_id is not None and any(
            other.get("origin_id") == origin_id and other["id"] != item_id
            for other in pool.values()
        ):
            return None, {"origin_id": ["has already been taken"]}
        return record, {}
