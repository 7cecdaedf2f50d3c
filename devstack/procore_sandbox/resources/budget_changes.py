"""Budget changes: ``/rest/v1.0/projects/{project_id}/budget_changes`` and the v2.0 list of
their adjustment line items.

Shapes: the request schemas of ``procore-spec/openapi/RestV10ProjectsProjectIdBudgetChanges
{Post,IdPatch}.json`` and the answers of ``sdk/...BudgetChanges{Get,IdGet,Post}.json`` (the
OpenAPI excerpts cut them). Bodies are unwrapped (no ``budget_change`` key).

* Only for a project with the Budget Changes feature on (``set_budget_changes``);
  otherwise every endpoint answers **403** (the tool is not available to the caller).
* POST and PATCH need a locked budget; refusals answer **422** ``{"errors": {...}}``
  (adjustment problems keyed ``adjustment_line_items[<index>].<field>``). Every
  adjustment names the WBS code of a live budget line item of the project (``wbs_code``
  "has no budget line item" otherwise); change events are not modelled, so
  ``change_event_line_item_id`` and ``type: change_event`` are refused. The adjustments of
  an approved or void budget change can't be changed (PATCH its status first); an
  approved one can't be deleted.
* Only ``approved`` budget changes count in a line's approved budget changes and revised
  budget; ``draft`` and ``under_review`` count as pending.
* Answers: POST 201 and GET/PATCH 200 ``{"data": {...}}``, the list ``{"data": [...]}``,
  DELETE 204. Amounts are JSON numbers. Writes fire ``Budget Changes`` (resource id = the
  budget change).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, ClassVar

from devstack.procore_sandbox.resources.budgets import (
    _ZERO,
    CALCULATION_STRATEGIES,
    _decimal_of,
    _number,
)
from devstack.procore_sandbox.resources.commitments import CURRENCY
from devstack.procore_sandbox.resources.common import (
    BOOL,
    INT,
    MUST_EXIST,
    NUMBER,
    REFS,
    SYNC_ID_NOT_FOUND,
    TEXT,
    FieldSpec,
    ResourceBase,
    _check_body,
    _schema_changes,
)
from devstack.procore_sandbox.state import (
    Route,
    SandboxError,
    _json_body,
    _now_iso,
    _Request,
    _Response,
)

BUDGET_CHANGES_RESOURCE = "Budget Changes"
BUDGET_CHANGE_STATUSES = ("draft", "approved", "under_review", "void")
ADJUSTMENT_TYPES = ("change_event", "budget_change")
V2_DEFAULT_PER_PAGE, V2_MAX_PER_PAGE = 10, 100
_CUSTOM = FieldSpec("custom")
_CREATE_FIELDS: Mapping[str, FieldSpec] = {
    "number": INT,
    "status": FieldSpec("enum", BUDGET_CHANGE_STATUSES),
    "title": TEXT,
    "description": TEXT,
    "adjustment_line_items": _CUSTOM,
    "prostore_file_ids": REFS,
    "production_quantities": _CUSTOM,
}
_UPDATE_FIELDS: Mapping[str, FieldSpec] = {**_CREATE_FIELDS, "id": INT}
_ADJUSTMENT_FIELDS: Mapping[str, FieldSpec] = {
    "ref": TEXT,
    "adjustment_number": INT,
    "wbs_code_id": INT,
    "description": TEXT,
    "comment": TEXT,
    "calculation_strategy": FieldSpec("enum", (*CALCULATION_STRATEGIES, None)),
    "quantity": NUMBER,
    "type": FieldSpec("enum", ADJUSTMENT_TYPES),
    "uom": TEXT,
    "unit_cost": NUMBER,
    "amount": NUMBER,
    "change_event_line_item_id": INT,
}
_ADJUSTMENT_UPDATE_FIELDS: Mapping[str, FieldSpec] = {
    **_ADJUSTMENT_FIELDS, "id": INT, "_delete": BOOL}
_LOCKED = ("approved", "void")  # statuses whose adjustments are frozen
_BASE = r"/rest/v1\.0/projects/(?P<project>\d+)/budget_changes"


class BudgetChangesMixin(ResourceBase):
    """Budget changes (v1.0) and their adjustment line items (v2.0 list)."""

    ROUTES: ClassVar[tuple[Route, ...]] = (
        ("GET", _BASE, "_h_list_budget_changes", True),
        ("POST", _BASE, "_h_create_budget_change", True),
        ("GET", _BASE + r"/(?P<id>\d+)", "_h_get_budget_change", True),
        ("PATCH", _BASE + r"/(?P<id>\d+)", "_h_update_budget_change", True),
        ("DELETE", _BASE + r"/(?P<id>\d+)", "_h_delete_budget_change", True),
        ("GET", r"/rest/v2\.0/companies/(?P<company>\d+)/projects/(?P<project>\d+)"
         r"/budget_changes/adjustment_line_items", "_h_list_budget_change_adjustments", True),
    )

    def _budget_changes_scope(self, company: str | None, project: str) -> int:
        pid = self._path_scope(company, project)
        if pid not in self.state.budget_changes_enabled:
            raise SandboxError(403, f"Budget Changes is not enabled for project {pid}")
        return pid

    def _budget_change(self, project_id: int, raw: str) -> dict[str, Any]:
        record = self.state.budget_changes.get(int(raw))
        if record is None or record["project_id"] != project_id:
            raise SandboxError(404, f"Budget change {raw} not found")
        return record

    # --- answers -----------------------------------------------------------------------------
    def _adjustment_answer(self, project_id: int, adjustment: Mapping[str, Any]) -> dict:
        code_id, type_id = self._wbs_pair(project_id, adjustment["wbs_code_id"]) or (None, None)
        code = self.state.cost_codes[project_id][code_id]
        wbs = self._wbs_code_answer(code, self.state.line_item_types.get(type_id))
        return {
            "id": adjustment["id"], "ref": adjustment["ref"],
            "adjustment_number": adjustment["adjustment_number"], "wbs_code": wbs,
            "description": adjustment["description"], "comment": adjustment["comment"],
            "calculation_strategy": adjustment["calculation_strategy"],
            "quantity": _number(adjustment["quantity"]), "type": adjustment["type"],
            "uom": adjustment["uom"], "unit_cost": _number(adjustment["unit_cost"]),
            "amount": _number(adjustment["amount"]), "change_event_line_item_id": None,
            "change_event_line_item": None, "currency_configuration": dict(CURRENCY),
        }

    @staticmethod
    def _budget_change_amount(record: Mapping[str, Any]) -> Decimal:
        return sum((a["amount"] for a in record["adjustments"]), _ZERO)

    def _budget_change_answer(self, record: Mapping[str, Any], *, created: bool = False) -> dict:
        """sdk/...BudgetChangesIdGet.json (GET, PATCH) or ...BudgetChangesPost.json (POST)."""
        answer: dict[str, Any] = {key: record[key] for key in
                                  ("id", "number", "status", "title", "description",
                                   "erp_status")}
        if not created:
            answer["amount"] = _number(self._budget_change_amount(record))
            answer["prime_contract"] = None
        answer["attachments"] = []
        answer["adjustment_line_items"] = [
            self._adjustment_answer(record["project_id"], a) for a in record["adjustments"]]
        if created:
            answer["created_change_event"] = None
        answer["production_quantities"] = []
        answer["currency_configuration"] = dict(CURRENCY)
        return {"data": answer}

    # --- validation --------------------------------------------------------------------------
    def _adjustments_after(
        self, project_id: int, items: object, current: list[dict[str, Any]],
        errors: dict[str, list[str]], *, updating: bool,
    ) -> list[dict[str, Any]]:
        """The adjustments once ``items`` are applied (new list; ``current`` untouched)."""
        if not isinstance(items, list):
            errors["adjustment_line_items"] = ["must be an array"]
            return current
        result = [dict(a) for a in current]
        by_id = {a["id"]: a for a in result}
        schema = _ADJUSTMENT_UPDATE_FIELDS if updating else _ADJUSTMENT_FIELDS
        for index, item in enumerate(items):
            prefix = f"adjustment_line_items[{index}]."
            problems: dict[str, list[str]] = {}
            if not isinstance(item, dict):
                errors[prefix + "base"] = ["must be a JSON object"]
                continue
            _schema_changes(item, schema, {}, problems)
            target = None
            if not problems and item.get("id") is not None:
                target = by_id.get(item["id"])
                if target is None:
                    problems["id"] = [SYNC_ID_NOT_FOUND]
                elif item.get("_delete"):
                    result.remove(target)
                    continue
            if not problems:
                self._adjustment_check(project_id, item, target, problems)
            if problems:
                errors.update({prefix + k: v for k, v in problems.items()})
                continue
            if target is None:
                target = {"id": self.state.next_id(), "ref": None, "description": None,
                          "comment": None, "calculation_strategy": None, "quantity": None,
                          "uom": None, "unit_cost": None, "type": "budget_change",
                          "adjustment_number": max(
                              (a["adjustment_number"] or 0 for a in result), default=0) + 1}
                result.append(target)
            for key, value in item.items():
                if key in ("id", "_delete", "change_event_line_item_id"):
                    continue
                numeric = key in ("quantity", "unit_cost", "amount") and value is not None
                target[key] = _decimal_of(value) if numeric else value
        return result

    def _adjustment_check(
        self, project_id: int, item: Mapping[str, Any], target: Mapping[str, Any] | None,
        problems: dict[str, list[str]],
    ) -> None:
        for name in ("wbs_code_id", "amount"):
            if (target is None or name in item) and item.get(name) is None:
                problems[name] = ["can't be blank"]
        if item.get("change_event_line_item_id") is not None or item.get("type") == (
                "change_event"):
            problems["change_event_line_item"] = [MUST_EXIST]  # no change events here
        wbs = item.get("wbs_code_id")
        if wbs is not None:
            pair = self._wbs_pair(project_id, wbs)
            if pair is None or pair[1] is None:
                problems["wbs_code"] = [MUST_EXIST]
            elif not any(line["wbs_code_id"] == wbs
                         for line in self._live_budget_lines(project_id).values()):
                problems["wbs_code"] = ["has no budget line item"]

    def _budget_change_write(
        self, project_id: int, body: Mapping[str, Any], record: dict[str, Any] | None
    ) -> dict[str, Any]:
        """The changes of a POST (``record`` None) or PATCH; 422 and nothing written."""
        errors: dict[str, list[str]] = {}
        if record is None and body.get("status") is None:
            errors["status"] = ["can't be blank"]
        _check_body(body, _CREATE_FIELDS if record is None else _UPDATE_FIELDS, errors=errors)
        if record is not None and body.get("id") not in (None, record["id"]):
            errors["id"] = ["must be the id of the path"]
        if body.get("production_quantities") not in (None, []):
            errors["production_quantities"] = ["are not modelled by the sandbox"]
        changes = {k: body[k] for k in ("number", "status", "title", "description") if k in body}
        if changes.get("number") is None:
            changes.pop("number", None)
        elif any(c["number"] == changes["number"] and c["project_id"] == project_id
                 and (record is None or c["id"] != record["id"])
                 for c in self.state.budget_changes.values()):
            errors["number"] = ["has already been taken"]
        current = [] if record is None else record["adjustments"]
        if "adjustment_line_items" in body:
            if record is not None and record["status"] in _LOCKED:
                errors["adjustment_line_items"] = [
                    f"can't be changed while the budget change is {record['status']}"]
            else:
                changes["adjustments"] = self._adjustments_after(
                    project_id, body["adjustment_line_items"], current, errors,
                    updating=record is not None)
        status = changes.get("status", None if record is None else record["status"])
        if status == "approved" and not errors:
            lines = {line["wbs_code_id"] for line in self._live_budget_lines(project_id).values()}
            if any(a["wbs_code_id"] not in lines for a in changes.get("adjustments", current)):
                errors["status"] = ["can't be approved: an adjustment's WBS code has no "
                                    "budget line item"]
        if errors:
            raise SandboxError(422, errors)
        if project_id not in self.state.locked_budgets:
            raise SandboxError(422, {"base": ["The budget must be locked to write budget changes"]})
        return changes

    def _budget_change_event(self, action: str, record: dict[str, Any], req: _Request) -> None:
        self._event(action, BUDGET_CHANGES_RESOURCE, record["id"], record["project_id"],
                    self._actor(req), req.events)

    # --- handlers ----------------------------------------------------------------------------
    def _h_list_budget_changes(self, req: _Request, m: re.Match[str]) -> _Response:
        """sdk/RestV10ProjectsProjectIdBudgetChangesGet.json: summary rows, not paged."""
        pid = self._budget_changes_scope(None, m["project"])
        if req.param("exclude_custom_fields") not in (None, "", "true", "false"):
            raise SandboxError(400, "exclude_custom_fields must be true or false")
        rows = []
        for cid in sorted(self.state.budget_changes):
            record = self.state.budget_changes[cid]
            if record["project_id"] == pid:
                rows.append({
                    **{k: record[k] for k in ("id", "number", "status", "title",
                                              "description", "erp_status")},
                    "prime_contract_id": None,
                    "amount": _number(self._budget_change_amount(record)),
                    "change_event_line_item_ids": [],
                    "currency_configuration": dict(CURRENCY),
                })
        return _Response(200, {"data": rows})

    def _h_get_budget_change(self, req: _Request, m: re.Match[str]) -> _Response:
        pid = self._budget_changes_scope(None, m["project"])
        return _Response(200, self._budget_change_answer(self._budget_change(pid, m["id"])))

    def _h_create_budget_change(self, req: _Request, m: re.Match[str]) -> _Response:
        pid = self._budget_changes_scope(None, m["project"])
        changes = self._budget_change_write(pid, _json_body(req), None)
        numbers = [c["number"] for c in self.state.budget_changes.values()
                   if c["project_id"] == pid]
        now = _now_iso()
        record: dict[str, Any] = {
            "id": self.state.next_id(), "project_id": pid,
            "number": max(numbers, default=0) + 1, "title": None, "description": None,
            "erp_status": "not_in_erp", "adjustments": [], "created_at": now,
            "updated_at": now, **changes,
        }
        self.state.budget_changes[record["id"]] = record
        self._budget_change_event("create", record, req)
        return _Response(201, self._budget_change_answer(record, created=True))

    def _h_update_budget_change(self, req: _Request, m: re.Match[str]) -> _Response:
        pid = self._budget_changes_scope(None, m["project"])
        record = self._budget_change(pid, m["id"])
        changes = self._budget_change_write(pid, _json_body(req), record)
        record.update(changes, updated_at=_now_iso())
        self._budget_change_event("update", record, req)
        return _Response(200, self._budget_change_answer(record))

    def _h_delete_budget_change(self, req: _Request, m: re.Match[str]) -> _Response:
        pid = self._budget_changes_scope(None, m["project"])
        record = self._budget_change(pid, m["id"])
        if record["status"] == "approved":
            raise SandboxError(422, {"base": ["An approved budget change can't be deleted"]})
        del self.state.budget_changes[record["id"]]
        self._budget_change_event("delete", record, req)
        return _Response(204)

    def _h_list_budget_change_adjustments(self, req: _Request, m: re.Match[str]) -> _Response:
        """sdk/RestV20...BudgetChangesAdjustmentLineItemsGet.json: ``{"data": [...]}``, ids
        as strings, 10 a page by default, at most 100."""
        pid = self._budget_changes_scope(m["company"], m["project"])
        rows: dict[int, dict[str, Any]] = {}
        for cid in sorted(self.state.budget_changes):
            change = self.state.budget_changes[cid]
            if change["project_id"] != pid:
                continue
            for adjustment in change["adjustments"]:
                rows[len(rows)] = {
                    "id": str(adjustment["id"]),
                    "adjustment_number": adjustment["adjustment_number"],
                    "wbs_code_id": str(adjustment["wbs_code_id"]),
                    "amount": _number(adjustment["amount"]),
                    "uom": adjustment["uom"],
                    "quantity": _number(adjustment["quantity"]),
                    "description": adjustment["description"],
                    "type": adjustment["type"],
                    "budget_change_number": str(change["number"]),
                    "budget_change_status": change["status"],
                    "budget_change_name": change["title"],
                    "budget_change_id": str(change["id"]),
                }
        answer = self._page(req, rows, origin_filter=False,
                            default_per_page=V2_DEFAULT_PER_PAGE, max_per_page=V2_MAX_PER_PAGE)
        answer.body = {"data": answer.body}
        answer.headers["Page"] = str(max(1, int(req.param("page") or 1)))
        return answer
