"""Legacy budget modifications: ``/rest/v1.0/projects/{project_id}/budget_modifications``.

Shapes: ``procore-spec/openapi/RestV10ProjectsProjectIdBudgetModifications*.json``. A
modification moves ``transfer_amount`` (string/float in answers, e.g. ``"250.0"``) from
``from_budget_line_item_id`` (optional) to ``to_budget_line_item_id``: the lines' net
``budget_modifications`` and revised budgets follow.

* GET (list, paged like every v1.0 list, and show) always works.
* POST, PATCH and DELETE answer **405** once the project's Budget Changes feature is on
  (``set_budget_changes``); otherwise they need a **locked** budget (**422**
  ``{"errors": {"base": [...]}}``). Body refusals answer **400** (the only refusal
  status the operations document): unknown keys, ``to_budget_line_item_id`` and
  ``transfer_amount`` missing (PATCH too: its schema requires them), lines that are not
  live lines of the project, ``from`` = ``to``, an amount that is not a number above 0, an
  ``origin_id`` another modification of the company holds.
* DELETE answers 200 with an empty body. Writes fire ``Budget Modifications``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar

from devstack.procore_sandbox.resources.budgets import _text
from devstack.procore_sandbox.resources.common import (
    INT,
    NUMERIC_TEXT,
    TEXT,
    FieldSpec,
    ResourceBase,
    _check_body,
    _taken,
)
from devstack.procore_sandbox.resources.cost_codes import refusals_as
from devstack.procore_sandbox.state import (
    Route,
    SandboxError,
    _json_body,
    _now_iso,
    _Request,
    _Response,
)

BUDGET_MODIFICATIONS_RESOURCE = "Budget Modifications"
LEGACY_DISABLED = (
    "Budget Modifications can't be written once Budget Changes is enabled for the project"
)
#: ``budget_modification`` of POST and PATCH (openapi/...BudgetModifications{Post,IdPatch})
BUDGET_MODIFICATION_FIELDS: Mapping[str, FieldSpec] = {
    "from_budget_line_item_id": INT,
    "notes": TEXT,
    "origin_data": TEXT,
    "origin_id": TEXT,
    "to_budget_line_item_id": INT,
    "transfer_amount": NUMERIC_TEXT,
}
_BASE = r"/rest/v1\.0/projects/(?P<project>\d+)/budget_modifications"


class BudgetModificationsMixin(ResourceBase):
    """The legacy Budget Modifications API (before Budget Changes)."""

    ROUTES: ClassVar[tuple[Route, ...]] = (
        ("GET", _BASE, "_h_list_budget_modifications", True),
        ("POST", _BASE, "_h_create_budget_modification", True),
        ("GET", _BASE + r"/(?P<id>\d+)", "_h_get_budget_modification", True),
        ("PATCH", _BASE + r"/(?P<id>\d+)", "_h_update_budget_modification", True),
        ("DELETE", _BASE + r"/(?P<id>\d+)", "_h_delete_budget_modification", True),
    )

    def _budget_modification(self, project_id: int, raw: str) -> dict[str, Any]:
        record = self.state.budget_modifications.get(int(raw))
        if record is None or record["project_id"] != project_id:
            raise SandboxError(404, f"Budget modification {raw} not found")
        return record

    @staticmethod
    def _budget_modification_answer(record: Mapping[str, Any]) -> dict[str, Any]:
        """openapi/RestV10ProjectsProjectIdBudgetModificationsIdGet.json"""
        return {
            "id": record["id"],
            "created_at": record["created_at"],
            "from_budget_line_item_id": record["from_budget_line_item_id"],
            "notes": record["notes"],
            "origin_data": record["origin_data"],
            "origin_id": record["origin_id"],
            "to_budget_line_item_id": record["to_budget_line_item_id"],
            "transfer_amount": _text(record["transfer_amount"]),
            "updated_at": record["updated_at"],
        }

    def _legacy_write_scope(self, m: re.Match[str]) -> int:
        """The project of a write: 405 with Budget Changes on."""
        pid = self._path_scope(None, m["project"])
        if pid in self.state.budget_changes_enabled:
            raise SandboxError(405, LEGACY_DISABLED)
        return pid

    def _require_locked(self, project_id: int) -> None:
        if project_id not in self.state.locked_budgets:
            raise SandboxError(
                422, {"base": ["The budget must be locked to write budget modifications"]})

    def _budget_modification_changes(
        self, project_id: int, req: _Request, record: dict[str, Any] | None
    ) -> dict[str, Any]:
        """The checked values of a POST or PATCH body (400 otherwise); nothing written."""
        with refusals_as(400):
            fields = _json_body(req).get("budget_modification")
            if not isinstance(fields, dict):
                raise SandboxError(400, {"budget_modification": ["can't be blank"]})
            required = ("to_budget_line_item_id", "transfer_amount")
            _check_body(fields, BUDGET_MODIFICATION_FIELDS,
                        errors={k: ["can't be blank"] for k in required if fields.get(k) is None})
        errors: dict[str, list[str]] = {}
        lines = self._live_budget_lines(project_id)
        for name in ("to_budget_line_item_id", "from_budget_line_item_id"):
            if fields.get(name) is not None and fields[name] not in lines:
                errors[name.removesuffix("_id")] = ["must exist"]
        if fields.get("from_budget_line_item_id") == fields["to_budget_line_item_id"]:
            errors["to_budget_line_item_id"] = ["can't be the same as from_budget_line_item_id"]
        try:
            amount = Decimal(str(fields["transfer_amount"]).strip())
        except InvalidOperation:
            amount = Decimal("NaN")
        if not amount.is_finite() or amount <= 0:
            errors["transfer_amount"] = ["must be a number greater than 0"]
        origin_id = fields.get("origin_id")
        own = None if record is None else record["id"]
        if origin_id and _taken(self.state.budget_modifications, "origin_id", origin_id, own):
            errors["origin_id"] = ["has already been taken"]
        if errors:
            raise SandboxError(400, errors)
        changes = {k: fields[k] for k in ("from_budget_line_item_id", "notes", "origin_data",
                                          "origin_id", "to_budget_line_item_id") if k in fields}
        changes["transfer_amount"] = amount
        return changes

    def _budget_modification_event(
        self, action: str, record: dict[str, Any], req: _Request
    ) -> None:
        self._event(action, BUDGET_MODIFICATIONS_RESOURCE, record["id"], record["project_id"],
                    self._actor(req), req.events)

    # --- handlers ----------------------------------------------------------------------------
    def _h_list_budget_modifications(self, req: _Request, m: re.Match[str]) -> _Response:
        pid = self._path_scope(None, m["project"])
        records = {i: r for i, r in self.state.budget_modifications.items()
                   if r["project_id"] == pid}
        return self._page(req, records, view=self._budget_modification_answer,
                          origin_filter=False)

    def _h_get_budget_modification(self, req: _Request, m: re.Match[str]) -> _Response:
        pid = self._path_scope(None, m["project"])
        record = self._budget_modification(pid, m["id"])
        return _Response(200, self._budget_modification_answer(record))

    def _h_create_budget_modification(self, req: _Request, m: re.Match[str]) -> _Response:
        pid = self._legacy_write_scope(m)
        changes = self._budget_modification_changes(pid, req, None)
        self._require_locked(pid)
        now = _now_iso()
        record: dict[str, Any] = {
            "id": self.state.next_id(), "project_id": pid, "from_budget_line_item_id": None,
            "notes": None, "origin_data": None, "origin_id": None, "created_at": now,
            "updated_at": now, **changes,
        }
        self.state.budget_modifications[record["id"]] = record
        self._budget_modification_event("create", record, req)
        return _Response(201, self._budget_modification_answer(record))

    def _h_update_budget_modification(self, req: _Request, m: re.Match[str]) -> _Response:
        pid = self._legacy_write_scope(m)
        record = self._budget_modification(pid, m["id"])
        changes = self._budget_modification_changes(pid, req, record)
        self._require_locked(pid)
        record.update(changes, updated_at=_now_iso())
        self._budget_modification_event("update", record, req)
        return _Response(200, self._budget_modification_answer(record))

    def _h_delete_budget_modification(self, req: _Request, m: re.Match[str]) -> _Response:
        pid = self._legacy_write_scope(m)
        record = self._budget_modification(pid, m["id"])
        self._require_locked(pid)
        del self.state.budget_modifications[record["id"]]
        self._budget_modification_event("delete", record, req)
        return _Response(200)  # documented 200; sdk: void (empty body)
