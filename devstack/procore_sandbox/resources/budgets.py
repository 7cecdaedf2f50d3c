"""Budgets: budget line items (v1.0, v1.1, v2.0 delete), their amounts, the lock.

Shapes are Procore's (``procore-spec/openapi/RestV10BudgetViews*.json``,
``RestV1{0,1}BudgetLineItems*.json``, ``RestV10ProjectsProjectIdBudget*.json``); choices
where the reference is silent are in docs/decisions.md ("Sandbox budgets ...").

* Amounts are kept as ``Decimal``. Budget line item answers type them ``number`` (JSON
  numbers, e.g. ``1200.5``); detail rows type them ``string``/``float``: plain decimal
  text with at least one decimal (``"1200.0"``, ``"1200.5"``), as Procore prints floats.
* revised budget = original + net budget modifications (in minus out) + the amounts of
  adjustments of *approved* budget changes on the line's WBS code; pending budget changes
  = adjustments of draft and under_review budget changes.
* A budget line item is one WBS code (biller + cost code + cost type; the cost code names
  its biller): one live line per WBS code. DELETE (v2.0 only) soft deletes.
* While the budget is locked, a new line's ``original_budget_amount`` must be 0 and no
  write may change it.
* direct costs = the v1.0 PATCH's ``direct_costs`` plus the direct cost lines (any status)
  on the line's WBS code.
* Every write fires ``Budget Line Items`` (create/update/delete). Lock and unlock fire
  nothing (no documented resource).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, ClassVar

from devstack.procore_sandbox.resources.commitments import CURRENCY
from devstack.procore_sandbox.resources.common import (
    INT,
    NUMBER,
    TEXT,
    FieldSpec,
    ResourceBase,
    _check_body,
)
from devstack.procore_sandbox.resources.line_items import _plain
from devstack.procore_sandbox.state import (
    Actor,
    Route,
    SandboxError,
    _json_body,
    _now_iso,
    _Request,
    _Response,
    _wrapped,
)

BUDGET_LINE_ITEMS_RESOURCE = "Budget Line Items"
STANDARD_BUDGET_VIEW = "Procore Standard Budget"
CALCULATION_STRATEGIES = ("automatic", "manual")
#: commitment statuses whose schedule of values counts as committed cost
COMMITTED_STATUSES = ("Approved", "Complete", "Partially Received", "Received", "Closed")
NOT_DELETABLE = "can't be deleted: it has budget modifications or approved budget changes"
UNBUDGETED_REASON = "No budget line item for this cost code and cost type"
_ZERO = Decimal(0)
_STRATEGY = FieldSpec("enum", CALCULATION_STRATEGIES)
_AMOUNTS = {"original_budget_amount": NUMBER, "quantity": NUMBER, "unit_cost": NUMBER,
            "uom": TEXT, "calculation_strategy": _STRATEGY}
#: ``budget_line_item`` of POST /rest/v1.0/budget_line_items (openapi/...Post.json)
V10_CREATE_FIELDS: Mapping[str, FieldSpec] = {
    "cost_code_id": INT, "line_item_type_id": INT, **_AMOUNTS}
#: PATCH /rest/v1.0/budget_line_items/{id} adds ``direct_costs`` (openapi/...IdPatch.json)
V10_UPDATE_FIELDS: Mapping[str, FieldSpec] = {**V10_CREATE_FIELDS, "direct_costs": NUMBER}
#: v1.1 create and update (openapi/RestV11BudgetLineItems{Post,IdPatch}.json)
V11_FIELDS: Mapping[str, FieldSpec] = {"wbs_code_id": INT, **_AMOUNTS}
#: one item of POST /rest/v1.0/budget_line_items/sync (sdk/...SyncPost.json)
SYNC_ITEM_FIELDS: Mapping[str, FieldSpec] = {"id": INT, **V11_FIELDS}
_V10_AMOUNT_KEYS = (
    "approved_budget_changes", "revised_budget", "pending_budget_changes", "projected_budget",
    "committed_costs", "direct_costs", "pending_cost_changes", "projected_costs",
    "budget_forecast", "estimated_cost_at_completion", "projected_over_under",
)


def _number(value: Decimal | None) -> float | None:
    """A JSON number: the shortest float text of an amount is its decimal text."""
    return None if value is None else float(value)


def _text(value: Decimal) -> str:
    return _plain(value + 0)  # "+ 0": no "-0.0"


def _decimal_of(value: object) -> Decimal:
    """A JSON number (already type checked) as the decimal its JSON text wrote."""
    return Decimal(value) if isinstance(value, int) else Decimal(repr(value))


@dataclass
class BudgetSums:
    """What the amounts of one project's budget lines are made of."""

    modifications: dict[int, Decimal] = field(default_factory=dict)  # line id -> net in
    modified: set[int] = field(default_factory=set)  # line ids named by a modification
    approved: dict[int, Decimal] = field(default_factory=dict)  # wbs code id -> amount
    approved_wbs: set[int] = field(default_factory=set)
    pending: dict[int, Decimal] = field(default_factory=dict)
    committed: dict[int, Decimal] = field(default_factory=dict)
    direct: dict[int, Decimal] = field(default_factory=dict)  # direct cost lines (any status)


class BudgetsMixin(ResourceBase):
    """Budget line items (v1.0, v1.1, v2.0 delete), the lock, the Python helpers."""

    ROUTES: ClassVar[tuple[Route, ...]] = (
        ("GET", r"/rest/v1\.[01]/budget_line_items", "_h_no_budget_line_item_list", True),
        ("POST", r"/rest/v1\.(?P<v>[01])/budget_line_items", "_h_create_budget_line_item",
         True),
        ("GET", r"/rest/v1\.(?P<v>[01])/budget_line_items/(?P<id>\d+)",
         "_h_get_budget_line_item", True),
        ("PATCH", r"/rest/v1\.(?P<v>[01])/budget_line_items/(?P<id>\d+)",
         "_h_update_budget_line_item", True),
        ("DELETE", r"/rest/v2\.0/companies/(?P<company>\d+)/projects/(?P<project>\d+)"
         r"/budget_line_items/(?P<id>\d+)", "_h_delete_budget_line_item", True),
        ("GET", r"/rest/v1\.0/projects/(?P<project>\d+)/budget", "_h_get_budget", True),
        ("POST", r"/rest/v1\.0/projects/(?P<project>\d+)/budget/lock", "_h_lock_budget", True),
        ("DELETE", r"/rest/v1\.0/projects/(?P<project>\d+)/budget/lock", "_h_unlock_budget",
         True),
    )
    CONTROL_ROUTES: ClassVar[tuple[Route, ...]] = (
        ("POST", r"/_sandbox/budget_changes", "_c_budget_changes", False),
    )

    # --- lookups -----------------------------------------------------------------------------
    def _path_scope(self, company: str | None, project: str) -> int:
        """A v2.0 path's company (ours, else 403) and project (404 unless known)."""
        if company is not None and company != str(self.company_id):
            raise SandboxError(403, f"No access to company {company}")
        return int(self._project(project)["id"])

    def _budget_line(self, project_id: int, line_id: object) -> dict[str, Any]:
        """A live budget line item of the project; deleted or elsewhere: 404."""
        line = self.state.budget_line_items.get(int(str(line_id)))
        if line is None or line["project_id"] != project_id or line.get("deleted_at"):
            raise SandboxError(404, f"Budget line item {line_id} not found")
        return line

    def _live_budget_lines(self, project_id: int) -> dict[int, dict[str, Any]]:
        return {i: line for i, line in self.state.budget_line_items.items()
                if line["project_id"] == project_id and not line.get("deleted_at")}

    def _root_code(self, project_id: int, code: dict[str, Any]) -> dict[str, Any]:
        """The division: the top of the cost code's parent chain (itself without one)."""
        codes = self.state.cost_codes.get(project_id, {})
        seen = {code["id"]}
        while code.get("parent_id") in codes and code["parent_id"] not in seen:
            code = codes[code["parent_id"]]
            seen.add(code["id"])
        return code

    def _budget_sums(self, project_id: int) -> BudgetSums:
        sums = BudgetSums()
        for mod in self.state.budget_modifications.values():
            if mod["project_id"] != project_id:
                continue
            amount = mod["transfer_amount"]
            to, source = mod["to_budget_line_item_id"], mod["from_budget_line_item_id"]
            sums.modifications[to] = sums.modifications.get(to, _ZERO) + amount
            sums.modified.add(to)
            if source is not None:
                sums.modifications[source] = sums.modifications.get(source, _ZERO) - amount
                sums.modified.add(source)
        for change in self.state.budget_changes.values():
            if change["project_id"] != project_id or change["status"] == "void":
                continue
            approved = change["status"] == "approved"
            target = sums.approved if approved else sums.pending
            for adjustment in change["adjustments"]:
                wbs = adjustment["wbs_code_id"]
                target[wbs] = target.get(wbs, _ZERO) + adjustment["amount"]
                if approved:
                    sums.approved_wbs.add(wbs)
        codes = self.state.cost_codes.get(project_id, {})
        for commitments in self.state.commitments.values():
            for commitment in commitments.values():
                if (commitment["project"]["id"] != project_id or commitment.get("deleted_at")
                        or commitment.get("status") not in COMMITTED_STATUSES):
                    continue
                for line in self.state.line_items.get(commitment["id"], {}).values():
                    code = codes.get(line["cost_code_id"])
                    if code is None or line["line_item_type_id"] is None:
                        continue
                    wbs = self._wbs_code_id(code, line["line_item_type_id"])
                    sums.committed[wbs] = sums.committed.get(wbs, _ZERO) + Decimal(line["amount"])
        for cost in self.state.direct_costs.values():
            if cost["project_id"] == project_id:
                for line in self.state.direct_cost_lines.get(cost["id"], {}).values():
                    wbs = line["wbs_code_id"]
                    sums.direct[wbs] = sums.direct.get(wbs, _ZERO) + line["amount"]
        return sums

    def _budget_line_amounts(self, line: Mapping[str, Any], sums: BudgetSums) -> dict[str, Any]:
        wbs, original = line["wbs_code_id"], line["original_budget_amount"]
        modifications = sums.modifications.get(line["id"], _ZERO)
        approved = sums.approved.get(wbs, _ZERO)
        revised = original + modifications + approved
        pending = sums.pending.get(wbs, _ZERO)
        committed = sums.committed.get(wbs, _ZERO)
        direct = line["direct_costs"] + sums.direct.get(wbs, _ZERO)  # PATCHed + direct costs
        projected_costs = committed + direct
        return {
            "modifications": modifications, "approved_budget_changes": approved,
            "revised_budget": revised, "pending_budget_changes": pending,
            "projected_budget": revised + pending, "committed_costs": committed,
            "direct_costs": direct, "pending_cost_changes": _ZERO,
            "projected_costs": projected_costs, "budget_forecast": _ZERO,
            "estimated_cost_at_completion": projected_costs,
            "projected_over_under": revised + pending - projected_costs,
        }

    def _budget_line_deletable(self, line: Mapping[str, Any], sums: BudgetSums) -> bool:
        return line["id"] not in sums.modified and line["wbs_code_id"] not in sums.approved_wbs

    # --- answers -----------------------------------------------------------------------------
    def _budget_line_answer(
        self, line: Mapping[str, Any], version: str, sums: BudgetSums | None = None
    ) -> dict[str, Any]:
        """v1.0 (``"0"``): openapi/RestV10BudgetLineItemsIdGet.json; v1.1 (``"1"``, also
        the sync's items): openapi/RestV11BudgetLineItemsIdGet.json. Both add
        ``origin_id`` (set through external data sync)."""
        pid = line["project_id"]
        code = self.state.cost_codes[pid][line["cost_code_id"]]
        cost_type = self.state.line_item_types.get(line["line_item_type_id"])
        answer: dict[str, Any] = {
            "id": line["id"],
            "original_budget_amount": _number(line["original_budget_amount"]),
            "uom": line["uom"],
            "quantity": _number(line["quantity"]),
            "unit_cost": _number(line["unit_cost"]),
            "calculation_strategy": line["calculation_strategy"],
        }
        if version == "1":
            answer["wbs_code"] = self._wbs_code_answer(code, cost_type)
        else:
            amounts = self._budget_line_amounts(line, sums or self._budget_sums(pid))
            answer.update({key: _number(amounts[key]) for key in _V10_AMOUNT_KEYS})
            root = self._root_code(pid, code)
            answer["cost_code"] = {key: code[key] for key in ("id", "name", "code", "full_code")}
            answer["division"] = {key: root[key] for key in ("id", "name", "full_code")}
            answer["line_item_type"] = (
                None if cost_type is None else {"id": cost_type["id"], "name": cost_type["name"]})
        answer["currency_configuration"] = dict(CURRENCY)
        answer["origin_id"] = line["origin_id"]
        return answer

    # --- validation --------------------------------------------------------------------------
    def _budget_line_changes(
        self, project_id: int, fields: Mapping[str, Any], line: dict[str, Any] | None
    ) -> tuple[dict[str, Any], dict[str, list[str]]]:
        """Changes of a create (``line`` None) or update whose keys and value kinds were
        checked (``_check_body``); nothing is written. See the module docstring."""
        changes: dict[str, Any] = {}
        errors: dict[str, list[str]] = {}
        codes = self.state.cost_codes.get(project_id, {})
        pair = (None, None) if line is None else (line["cost_code_id"], line["line_item_type_id"])
        code_id, type_id = pair
        for name, pool, error in (("cost_code_id", codes, "cost_code"),
                                  ("line_item_type_id", self.state.line_item_types,
                                   "line_item_type")):
            if name in fields:
                if fields[name] is None:
                    errors[name] = ["can't be blank"]
                elif fields[name] not in pool:
                    errors[error] = ["must exist"]
                elif name == "cost_code_id":
                    code_id = fields[name]
                else:
                    type_id = fields[name]
        if "wbs_code_id" in fields:
            found = None if fields["wbs_code_id"] is None else self._wbs_pair(
                project_id, fields["wbs_code_id"])
            if fields["wbs_code_id"] is None:
                errors["wbs_code_id"] = ["can't be blank"]
            elif found is None:
                errors["wbs_code"] = ["must exist"]
            elif found[1] is None:  # a WBS code without a cost type (a commitment line's)
                errors["line_item_type"] = ["must exist"]
            else:
                code_id, type_id = found
        if not errors and (code_id, type_id) != pair:
            assert code_id is not None and type_id is not None
            own = None if line is None else line["id"]
            wbs = self._wbs_code_id(codes[code_id], type_id)
            if any(other["wbs_code_id"] == wbs and other["id"] != own
                   for other in self._live_budget_lines(project_id).values()):
                errors["wbs_code"] = ["has already been taken"]
            elif line is not None and not self._budget_line_deletable(
                    line, self._budget_sums(project_id)):
                errors["wbs_code"] = [
                    "can't be changed: the line has budget modifications or approved "
                    "budget changes"]
            else:
                changes.update(cost_code_id=code_id, line_item_type_id=type_id, wbs_code_id=wbs)
        current = line or {}
        numbers = {name: (None if fields[name] is None else _decimal_of(fields[name]))
                   for name in ("original_budget_amount", "quantity", "unit_cost",
                                "direct_costs") if name in fields}
        for name in ("original_budget_amount", "direct_costs"):
            if name in numbers and numbers[name] is None:
                errors[name] = ["can't be blank"]
        strategy = fields.get("calculation_strategy", current.get("calculation_strategy"))
        strategy = strategy or "manual"
        quantity = numbers.get("quantity", current.get("quantity"))
        unit_cost = numbers.get("unit_cost", current.get("unit_cost"))
        original = numbers.get("original_budget_amount")
        if strategy == "automatic" and "original_budget_amount" not in errors:
            for name, value in (("quantity", quantity), ("unit_cost", unit_cost)):
                if value is None:
                    errors[name] = ["can't be blank when calculation_strategy is automatic"]
            if quantity is not None and unit_cost is not None:
                if original is not None and original != quantity * unit_cost:
                    errors["original_budget_amount"] = [
                        "must equal quantity x unit_cost when calculation_strategy is automatic"]
                original = quantity * unit_cost
        before = current.get("original_budget_amount", _ZERO)
        after = before if original is None else original
        if project_id in self.state.locked_budgets and "original_budget_amount" not in errors:
            if line is None and after != 0:
                errors["original_budget_amount"] = ["must be 0 while the budget is locked"]
            elif line is not None and after != before:
                errors["original_budget_amount"] = ["can't be changed while the budget is locked"]
        changes.update(original_budget_amount=after, calculation_strategy=strategy,
                       quantity=quantity, unit_cost=unit_cost)
        if "uom" in fields:
            changes["uom"] = fields["uom"]
        if numbers.get("direct_costs") is not None:
            changes["direct_costs"] = numbers["direct_costs"]
        return changes, errors

    def _new_budget_line(self, project_id: int, changes: Mapping[str, Any]) -> dict[str, Any]:
        now = _now_iso()
        line: dict[str, Any] = {
            "id": self.state.next_id(), "project_id": project_id, "uom": None,
            "quantity": None, "unit_cost": None, "calculation_strategy": "manual",
            "original_budget_amount": _ZERO, "direct_costs": _ZERO, "origin_id": None,
            "origin_data": None, "created_at": now, "updated_at": now, "deleted_at": None,
        }
        line.update(changes)
        self.state.budget_line_items[line["id"]] = line
        return line

    def _budget_line_event(
        self, action: str, line: Mapping[str, Any], actor: Actor, req: _Request
    ) -> None:
        self._event(action, BUDGET_LINE_ITEMS_RESOURCE, line["id"], line["project_id"], actor,
                    req.events)

    # --- budget line items -------------------------------------------------------------------
    def _h_no_budget_line_item_list(self, req: _Request, _: re.Match[str]) -> _Response:
        """Procore has no list of budget line items: read them through the detail rows."""
        raise SandboxError(404, f"No route matches {req.method} {req.path}")

    def _h_get_budget_line_item(self, req: _Request, m: re.Match[str]) -> _Response:
        pid = self._project_param(req)
        return _Response(200, self._budget_line_answer(self._budget_line(pid, m["id"]), m["v"]))

    def _h_create_budget_line_item(self, req: _Request, m: re.Match[str]) -> _Response:
        body = _json_body(req)
        pid = self._body_project(req, body, missing_status=400)
        fields = _wrapped(body, "budget_line_item")
        required = ("cost_code_id", "line_item_type_id") if m["v"] == "0" else ("wbs_code_id",)
        _check_body(fields, V10_CREATE_FIELDS if m["v"] == "0" else V11_FIELDS,
                    errors={k: ["can't be blank"] for k in required if fields.get(k) is None})
        changes, errors = self._budget_line_changes(pid, fields, None)
        if errors:
            raise SandboxError(422, errors)
        line = self._new_budget_line(pid, changes)
        self._budget_line_event("create", line, self._actor(req), req)
        return _Response(201, self._budget_line_answer(line, m["v"]))

    def _h_update_budget_line_item(self, req: _Request, m: re.Match[str]) -> _Response:
        body = _json_body(req)
        pid = self._body_project(req, body, missing_status=400)
        line = self._budget_line(pid, m["id"])
        fields = _wrapped(body, "budget_line_item")
        _check_body(fields, V10_UPDATE_FIELDS if m["v"] == "0" else V11_FIELDS)
        changes, errors = self._budget_line_changes(pid, fields, line)
        if errors:
            raise SandboxError(422, errors)
        line.update(changes, updated_at=_now_iso())
        self._budget_line_event("update", line, self._actor(req), req)
        return _Response(200, self._budget_line_answer(line, m["v"]))

    def _h_delete_budget_line_item(self, req: _Request, m: re.Match[str]) -> _Response:
        pid = self._path_scope(m["company"], m["project"])
        line = self._budget_line(pid, m["id"])
        if not self._budget_line_deletable(line, self._budget_sums(pid)):
            raise SandboxError(422, {"base": [f"Budget line item {NOT_DELETABLE}"]})
        line["deleted_at"] = line["updated_at"] = _now_iso()
        self._budget_line_event("delete", line, self._actor(req), req)
        return _Response(204)

    # --- the lock ----------------------------------------------------------------------------
    def _h_get_budget(self, req: _Request, m: re.Match[str]) -> _Response:
        pid = self._path_scope(None, m["project"])
        return _Response(200, {"locked": pid in self.state.locked_budgets})

    def _h_lock_budget(self, req: _Request, m: re.Match[str]) -> _Response:
        pid = self._path_scope(None, m["project"])
        if pid in self.state.locked_budgets:
            raise SandboxError(422, {"base": ["Budget is already locked"]})
        self.state.locked_budgets.add(pid)
        return _Response(201, {"locked": True})

    def _h_unlock_budget(self, req: _Request, m: re.Match[str]) -> _Response:
        """``destroy_all_budget_line_item_transfers`` (default true) deletes the project's
        budget modifications; ``false`` keeps them."""
        pid = self._path_scope(None, m["project"])
        raw = (req.param("destroy_all_budget_line_item_transfers") or "true").lower()
        if raw not in ("true", "false"):
            raise SandboxError(400, "destroy_all_budget_line_item_transfers must be true or false")
        if pid not in self.state.locked_budgets:
            raise SandboxError(422, {"base": ["Budget is not locked"]})
        self.state.locked_budgets.discard(pid)
        if raw == "true":
            mods = self.state.budget_modifications
            for mid in [i for i, mod in mods.items() if mod["project_id"] == pid]:
                del mods[mid]
        return _Response(200, {"locked": False})

    # --- Python helpers (no webhooks) and the control endpoint --------------------------------
    def budget_wbs_code_id(self, project_id: int, cost_code_id: int, line_item_type_id: int) -> int:
        """The WBS code id of a cost code and cost type (what v1.1 and sync take)."""
        with self.state.lock:
            return self._wbs_code_id(self.state.cost_codes[project_id][cost_code_id],
                                     line_item_type_id)

    def seed_budget(
        self, project_id: int, lines: list[tuple[int, int, object]], *, locked: bool = False
    ) -> list[int]:
        """Budget line items ``(cost_code_id, line_item_type_id, amount)`` written as the
        web UI would (no lock rule, no webhooks); ``locked`` locks the budget after."""
        ids = []
        with self.state.lock:
            self._project(project_id)
            for cost_code_id, type_id, amount in lines:
                changes, errors = self._budget_line_changes(
                    project_id, {"cost_code_id": cost_code_id, "line_item_type_id": type_id,
                                 "original_budget_amount": 0}, None)
                if errors:
                    raise SandboxError(422, errors)
                changes["original_budget_amount"] = Decimal(str(amount))
                ids.append(self._new_budget_line(project_id, changes)["id"])
            if locked:
                self.state.locked_budgets.add(project_id)
        return ids

    def set_budget_changes(self, project_id: int, enabled: bool = True) -> None:
        """Turn the project's Budget Changes feature on (legacy modifications then 405)."""
        with self.state.lock:
            self._project(project_id)
            (self.state.budget_changes_enabled.add if enabled
             else self.state.budget_changes_enabled.discard)(project_id)

    def _c_budget_changes(self, req: _Request, _: re.Match[str]) -> _Response:
        """``{"project_id", "enabled"}`` -> ``set_budget_changes``."""
        body = _json_body(req)
        enabled = body.get("enabled", True)
        if not isinstance(enabled, bool) or not isinstance(body.get("project_id"), int):
            raise SandboxError(400, "body must be {project_id: integer, enabled: boolean}")
        self.set_budget_changes(body["project_id"], enabled)
        return _Response(200, {"project_id": body["project_id"], "enabled": enabled})
