"""Change events (v1.0): ``/rest/v1.0/change_events?project_id=`` GET/POST and ``/{id}``
GET/PATCH, and the CCO made from a change event.

Shapes: ``procore-spec/openapi/RestV10ChangeEvents{Get,Post,IdGet,IdPatch}.json``.

* Only for a project with the Change Events tool on (``set_change_events``); otherwise
  every endpoint answers **403**, like Budget Changes.
* ``change_event_status_id`` names one of ``CHANGE_EVENT_STATUSES`` (fixed ids 1-3: the
  reference documents no status list endpoint). Line items come and change through
  ``change_event_line_items_attributes`` (an item with ``id`` updates that line item);
  ``proposed_contract_id`` must be a commitment of the project and
  ``commitment_contract_line_item_id`` a line item of it. Refusals answer 422.
* ``estimated_cost_amount`` answers as decimal text, quantities and unit costs as numbers.
* Writes fire ``Change Events``. A CCO is made from a change event in the web UI only
  (``create_cco_from_change_event``): the CCO request schema has no change event key.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, ClassVar

from devstack.procore_sandbox.resources.change_order_lines import _amount_value
from devstack.procore_sandbox.resources.change_orders import CCO_REQUEST_FIELDS
from devstack.procore_sandbox.resources.commitments import CURRENCY, _money
from devstack.procore_sandbox.resources.common import MUST_EXIST, NOT_PERMITTED, ResourceBase
from devstack.procore_sandbox.state import (
    Route,
    SandboxError,
    _json_body,
    _now_iso,
    _Request,
    _Response,
    _wrapped,
)
from devstack.procore_sandbox.webhook_payloads import _Outgoing

CHANGE_EVENTS_RESOURCE = "Change Events"
EVENT_SCOPES = ("tbd", "in_scope", "out_of_scope")
EVENT_TYPES = ("tbd", "allowance", "contingency", "owner_change", "transfer")
#: id -> (name, mapped_to_status): the company's change event statuses
CHANGE_EVENT_STATUSES = {1: ("Open", "open"), 2: ("Closed", "closed"), 3: ("Void", "void")}
#: ``change_event`` keys of POST/PATCH (openapi/RestV10ChangeEventsPost.json)
_EVENT_KEYS = ("title", "number", "status", "change_event_status_id",
               "change_order_change_reason_id", "event_scope", "event_type", "origin_data",
               "origin_id", "rfi_id", "change_event_line_items_attributes",
               "attachments_by_drawing_revision", "attachments_by_file_version",
               "attachments_by_form", "attachments_by_image", "attachments_by_uuid")
_REFS = ("change_order_change_reason_id", "rfi_id")
_TOP_KEYS = ("project_id", "change_event", "change_event_origin_id", "change_event_origin_type",
             "origin_global_id", "attachments")
#: ``change_event_line_items_attributes[]`` keys the sandbox writes (``budget_code`` and the
#: timestamps are documented but read-only here: refused)
_LINE_KEYS = ("id", "description", "uom", "estimated_cost_amount", "estimated_cost_quantity",
              "estimated_cost_unit_cost", "estimated_cost_calculation_strategy",
              "line_item_type_id", "cost_code_id", "proposed_vendor_id", "proposed_contract_id",
              "commitment_contract_line_item_id")
_BASE = r"/rest/v1\.0/change_events"


class ChangeEventsMixin(ResourceBase):
    """Change events and the Change Events tool flag."""

    ROUTES: ClassVar[tuple[Route, ...]] = (
        ("GET", _BASE, "_h_list_change_events", True),
        ("POST", _BASE, "_h_create_change_event", True),
        ("GET", _BASE + r"/(?P<id>\d+)", "_h_get_change_event", True),
        ("PATCH", _BASE + r"/(?P<id>\d+)", "_h_update_change_event", True),
    )
    CONTROL_ROUTES: ClassVar[tuple[Route, ...]] = (
        ("POST", r"/_sandbox/change_events", "_c_change_events", False),
    )

    def _change_events_scope(self, req: _Request) -> int:
        pid = self._project_param(req)
        if pid not in self.state.change_events_enabled:
            raise SandboxError(403, f"Change Events is not enabled for project {pid}")
        return pid

    def _change_event(self, pid: int, raw: object) -> dict[str, Any]:
        record = self.state.change_events.get(int(str(raw)))
        if record is None or record["project_id"] != pid:
            raise SandboxError(404, f"Change event {raw} not found")
        return record

    # --- answers -----------------------------------------------------------------------------
    def _ce_line_answer(self, event: Mapping[str, Any], item: Mapping[str, Any]) -> dict:
        pid = event["project_id"]
        code = self.state.cost_codes.get(pid, {}).get(item["cost_code_id"])
        kind = self.state.line_item_types.get(item["line_item_type_id"])
        contract = self._project_commitment(pid, item["proposed_contract_id"])
        vendor = self.state.vendors.get(item["proposed_vendor_id"] or -1)

        def number(value: Decimal | None) -> float | None:
            return None if value is None else float(value)

        return {
            "id": item["id"], "event_id": event["id"], "description": item["description"],
            "uom": item["uom"], "cost_code_id": item["cost_code_id"],
            "cost_code": None if code is None else self._cost_code_answer(code),
            "line_item_type_id": item["line_item_type_id"],
            "line_item_type": None if kind is None else self._line_item_type_answer(kind),
            "budget_code": None if code is None else self._wbs_code_answer(code, kind),
            "estimated_cost_amount": None if item["estimated_cost_amount"] is None
            else _money(item["estimated_cost_amount"]),
            "estimated_cost_quantity": number(item["estimated_cost_quantity"]),
            "estimated_cost_unit_cost": number(item["estimated_cost_unit_cost"]),
            "estimated_cost_calculation_strategy": item["estimated_cost_calculation_strategy"],
            "proposed_contract_id": item["proposed_contract_id"],
            "contract": None if contract is None else {
                "id": contract["id"], "number": contract["number"], "title": contract["title"],
                "name": contract["title"]},
            "proposed_vendor_id": item["proposed_vendor_id"],
            "vendor": None if vendor is None else {"id": vendor["id"], "name": vendor["name"]},
            "created_at": item["created_at"], "updated_at": item["updated_at"],
            "currency_configuration": dict(CURRENCY),
        }

    def _change_event_answer(self, event: Mapping[str, Any]) -> dict[str, Any]:
        name, mapped = CHANGE_EVENT_STATUSES[event["change_event_status_id"]]
        answer = {k: copy.deepcopy(event[k]) for k in (
            "id", "number", "alphanumeric_number", "origin_data", "origin_id", "title",
            "description", "project_id", "created_at", "deleted_at", "updated_at",
            "event_type", "event_scope")}
        answer.update(
            status=mapped, change_event_origin_id=None, change_event_origin_type=None, rfi=None,
            change_event_line_items=[self._ce_line_answer(event, i) for i in event["line_items"]],
            change_order_change_reason=None,
            change_event_status={"id": event["change_event_status_id"], "name": name,
                                 "mapped_to_status": mapped, "show_in_select": True},
            created_by=event["created_by"], attachments=[], rfqs=[],
            currency_configuration=dict(CURRENCY),
        )
        return answer

    # --- validation --------------------------------------------------------------------------
    def _change_event_changes(
        self, pid: int, body: Mapping[str, Any], record: dict[str, Any] | None
    ) -> dict[str, Any]:
        errors: dict[str, list[str]] = {}
        for key in body:
            if key not in _TOP_KEYS:
                errors[key] = [NOT_PERMITTED]
            elif key not in ("project_id", "change_event") and body[key] not in (None, []):
                errors[key] = [MUST_EXIST]  # origins and uploads the sandbox does not keep
        fields = _wrapped(body, "change_event")
        changes: dict[str, Any] = {}
        for key, value in fields.items():
            if key not in _EVENT_KEYS:
                errors[key] = [NOT_PERMITTED]
            elif key in ("title", "number", "origin_id", "origin_data"):
                if value is not None and not isinstance(value, str):
                    errors[key] = ["is invalid"]
                else:
                    changes[key] = value or None
            elif key == "status":
                errors[key] = ["is deprecated: send change_event_status_id"]
            elif key in _REFS or key.startswith("attachments_by_"):
                if value not in (None, []):
                    errors[key.removesuffix("_id")] = [MUST_EXIST]
            elif key == "change_event_status_id":
                if value not in CHANGE_EVENT_STATUSES:
                    errors["change_event_status"] = [MUST_EXIST]
                changes[key] = value
            elif key in ("event_scope", "event_type"):
                if value not in (EVENT_SCOPES if key == "event_scope" else EVENT_TYPES):
                    errors[key] = ["is not included in the list"]
                changes[key] = value
        if record is None:
            for key in ("change_event_status_id", "event_scope"):
                if fields.get(key) is None:
                    errors[key] = ["can't be blank"]
        number = changes.get("number")
        if number is not None and any(
            e["alphanumeric_number"] == number and e["project_id"] == pid
            and (record is None or e["id"] != record["id"])
            for e in self.state.change_events.values()
        ):
            errors["number"] = ["has already been taken"]
        origin_id = changes.get("origin_id")
        if origin_id is not None and any(
            e.get("origin_id") == origin_id and (record is None or e["id"] != record["id"])
            for e in self.state.change_events.values()
        ):
            errors["origin_id"] = ["has already been taken"]
        items = fields.get("change_event_line_items_attributes")
        if items is not None:
            changes["line_items"] = self._ce_lines_after(
                pid, items, [] if record is None else record["line_items"], errors)
        if errors:
            raise SandboxError(422, errors)
        return changes

    def _ce_lines_after(self, pid: int, items: object, current: list[dict[str, Any]],
                        errors: dict[str, list[str]]) -> list[dict[str, Any]]:
        if not isinstance(items, list):
            errors["change_event_line_items_attributes"] = ["must be an array"]
            return current
        result = [dict(i) for i in current]
        by_id = {i["id"]: i for i in result}
        now = _now_iso()
        for index, item in enumerate(items):
            prefix = f"change_event_line_items_attributes[{index}]."
            if not isinstance(item, dict):
                errors[prefix + "base"] = ["must be a JSON object"]
                continue
            problems = {k: [NOT_PERMITTED] for k in item if k not in _LINE_KEYS}
            target = by_id.get(item["id"]) if item.get("id") is not None else None
            if item.get("id") is not None and target is None:
                problems["id"] = ["Entity with this ID not found"]
            values = self._ce_line_values(pid, item, target, problems)
            if problems:
                errors.update({prefix + k: v for k, v in problems.items()})
                continue
            if target is None:
                target = {"id": self.state.next_id(), "description": None, "uom": None,
                          "cost_code_id": None, "line_item_type_id": None,
                          "estimated_cost_amount": None, "estimated_cost_quantity": None,
                          "estimated_cost_unit_cost": None, "proposed_vendor_id": None,
                          "estimated_cost_calculation_strategy": None,
                          "proposed_contract_id": None, "commitment_contract_line_item_id": None,
                          "created_at": now}
                result.append(target)
            target.update(values, updated_at=now)
        return result

    def _ce_line_values(self, pid: int, item: Mapping[str, Any],
                        target: Mapping[str, Any] | None,
                        problems: dict[str, list[str]]) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name in ("description", "uom", "estimated_cost_calculation_strategy"):
            if name in item:
                if item[name] is not None and not isinstance(item[name], str):
                    problems[name] = ["is invalid"]
                values[name] = item[name]
        for name in ("estimated_cost_amount", "estimated_cost_quantity",
                     "estimated_cost_unit_cost"):
            if name in item:
                values[name] = _amount_value(item[name], name, problems)
        pools: dict[str, Mapping[int, Any]] = {
            "cost_code_id": self.state.cost_codes.get(pid, {}),
            "line_item_type_id": self.state.line_item_types,
            "proposed_vendor_id": self.state.vendors}
        for name, pool in pools.items():
            if item.get(name) is not None:
                if not isinstance(item[name], int) or item[name] not in pool:
                    problems[name.removesuffix("_id")] = [MUST_EXIST]
            if name in item:
                values[name] = item[name]
        if item.get("proposed_contract_id") is not None:
            contract = self._project_commitment(pid, item["proposed_contract_id"])
            if contract is None:
                problems["proposed_contract"] = [MUST_EXIST]
        if "proposed_contract_id" in item:
            values["proposed_contract_id"] = item["proposed_contract_id"]
        contract_id = values.get("proposed_contract_id",
                                 None if target is None else target["proposed_contract_id"])
        sov = item.get("commitment_contract_line_item_id")
        if sov is not None and sov not in self.state.line_items.get(contract_id or -1, {}):
            problems["commitment_contract_line_item"] = [MUST_EXIST + " on the proposed contract"]
        if "commitment_contract_line_item_id" in item:
            values["commitment_contract_line_item_id"] = sov
        return values

    # --- handlers ----------------------------------------------------------------------------
    def _h_list_change_events(self, req: _Request, _: re.Match[str]) -> _Response:
        pid = self._change_events_scope(req)
        records = {i: e for i, e in self.state.change_events.items() if e["project_id"] == pid}
        answer = self._page(req, records)
        answer.body = [self._change_event_answer(e) for e in answer.body]
        return answer

    def _h_get_change_event(self, req: _Request, m: re.Match[str]) -> _Response:
        pid = self._change_events_scope(req)
        return _Response(200, self._change_event_answer(self._change_event(pid, m["id"])))

    def _h_create_change_event(self, req: _Request, _: re.Match[str]) -> _Response:
        pid = self._change_events_scope(req)
        changes = self._change_event_changes(pid, _json_body(req), None)
        numbers = [e["number"] for e in self.state.change_events.values()
                   if e["project_id"] == pid]
        now = _now_iso()
        actor = self._actor(req)
        record: dict[str, Any] = {
            "id": self.state.next_id(), "project_id": pid, "title": None, "description": None,
            "origin_id": None, "origin_data": None, "event_type": None, "line_items": [],
            "created_by": {"id": actor.user_id, "login": None, "name": None},
            "created_at": now, "updated_at": now, "deleted_at": None, **changes,
        }
        alphanumeric = record.pop("number", None) or f"{max(numbers, default=0) + 1:03d}"
        digits = re.sub(r"\D", "", alphanumeric)
        record.update(alphanumeric_number=alphanumeric, number=int(digits) if digits else None)
        self.state.change_events[record["id"]] = record
        self._event("create", CHANGE_EVENTS_RESOURCE, record["id"], pid, actor, req.events)
        return _Response(201, self._change_event_answer(record))

    def _h_update_change_event(self, req: _Request, m: re.Match[str]) -> _Response:
        pid = self._change_events_scope(req)
        record = self._change_event(pid, m["id"])
        changes = self._change_event_changes(pid, _json_body(req), record)
        if "number" in changes:
            alphanumeric = changes.pop("number") or record["alphanumeric_number"]
            digits = re.sub(r"\D", "", alphanumeric)
            changes.update(alphanumeric_number=alphanumeric,
                           number=int(digits) if digits else None)
        record.update(changes, updated_at=_now_iso())
        self._event("update", CHANGE_EVENTS_RESOURCE, record["id"], pid, self._actor(req),
                    req.events)
        return _Response(200, self._change_event_answer(record))

    # --- the tool flag and the web UI --------------------------------------------------------
    def set_change_events(self, project_id: int, enabled: bool = True) -> None:
        """Turn the project's Change Events tool on (off: its endpoints answer 403)."""
        with self.state.lock:
            self._project(project_id)
            (self.state.change_events_enabled.add if enabled
             else self.state.change_events_enabled.discard)(project_id)

    def _c_change_events(self, req: _Request, _: re.Match[str]) -> _Response:
        """``{"project_id", "enabled"}`` -> ``set_change_events``."""
        body = _json_body(req)
        enabled = body.get("enabled", True)
        if not isinstance(enabled, bool) or not isinstance(body.get("project_id"), int):
            raise SandboxError(400, "body must be {project_id: integer, enabled: boolean}")
        self.set_change_events(body["project_id"], enabled)
        return _Response(200, {"project_id": body["project_id"], "enabled": enabled})

    def create_cco_from_change_event(
        self, project_id: int, change_event_id: int, contract_id: int, *,
        status: str = "draft", number: str | None = None, title: str | None = None,
    ) -> dict[str, Any]:
        """The web UI's "Create Commitment CO" on a change event: a CCO on ``contract_id``
        with one line per change event line item proposed for that commitment (its cost
        code and type, ``estimated_cost_amount``, its commitment line item), linked to the
        change event (``view=extended``: ``change_events``). Fires the CCO's webhooks."""
        actor = self._web_actor("procore-web", None)

        def make(out: list[_Outgoing]) -> dict[str, Any]:
            if project_id not in self.state.change_events_enabled:
                raise SandboxError(403, f"Change Events is not enabled for project {project_id}")
            event = self._change_event(project_id, change_event_id)
            items = [i for i in event["line_items"] if i["proposed_contract_id"] == contract_id]
            if not items:
                raise SandboxError(422, {"change_event": [
                    "has no line items proposed for this commitment"]})
            if any(i["cost_code_id"] is None or i["line_item_type_id"] is None for i in items):
                raise SandboxError(422, {"change_event_line_item": [
                    "needs a cost code and a cost type"]})
            body = {"contract_id": contract_id, "status": status,
                    "title": title or event["title"], "number": number}
            changes = self._cco_changes(project_id, {k: v for k, v in body.items()
                                                     if v is not None},
                                        None, CCO_REQUEST_FIELDS, status=422)
            cco = self._create_cco(project_id, changes, actor, out)
            cco["change_event_ids"] = [event["id"]]
            for item in items:
                line = self._new_cco_line(cco, {
                    "cost_code_id": item["cost_code_id"],
                    "line_item_type_id": item["line_item_type_id"],
                    "amount": item["estimated_cost_amount"] or Decimal(0),
                    "description": item["description"],
                    "commitment_line_item_id": item["commitment_contract_line_item_id"],
                    "change_event_line_item_id": item["id"]})
                self._line_written("create", cco, line["id"], actor, out)
            return self._cco_answer(cco, extended=True)

        return self._helper(make)
