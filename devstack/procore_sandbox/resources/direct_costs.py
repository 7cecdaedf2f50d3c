"""Direct costs: ``/rest/v1.{0,1}/projects/{project_id}/direct_costs`` and their sync.

Shapes: ``procore-spec/openapi/RestV1{0,1}ProjectsProjectIdDirectCosts{Get,Post,IdGet,
IdPatch,IdDelete}.json``, ``RestV10ProjectsProjectIdDirectCostsSyncPatch.json``; line items
are ``direct_cost_lines``. Choices: docs/decisions.md ("Sandbox direct costs ...").

* ``GET`` (paged; ``filters[id|origin_id|invoice_number|created_at|updated_at|payment_date|
  received_date]``, the ranges ISO 8601 ``a...b``, inclusive), ``POST`` **201**, ``GET`` /
  ``PATCH`` ``/{id}``, ``DELETE /{id}`` (**200** ``{"id"}``; removes its lines too). v1.0
  bodies wrap the fields in ``item``, v1.1 in ``direct_cost`` with ``line_items`` (at most
  ``LINE_ITEMS_LIMIT``: ``manual_amount``, ``wbs_code_id`` (required to create), ...; an item
  with ``id`` updates that line). v1.1 show/POST/PATCH add ``company``, ``project`` and
  ``line_items``. The list answers ``vendor`` as the vendor's name (its schema's string).
* ``direct_cost_type`` (``DIRECT_COST_TYPES``) and ``direct_cost_date`` are required to
  create; ``invoice_number`` and ``vendor_id`` (a directory vendor) too for an invoice. The
  type is set on create only (a different value later is refused). ``status`` one of
  ``DIRECT_COST_STATUSES`` (default ``draft``). ``employee_id`` only null (no employees).
* ``amount`` = ``grand_total`` = the sum of its lines, text with 2 places.
* ``PATCH .../direct_costs/sync`` ``{"updates": [...]}`` (at most ``SYNC_LIMIT``): the sync
  rules of ``common``; an unknown ``origin_id`` creates (with the create rules).
  ``origin_id`` unique per company. An ``origin_id`` does not lock API writes.
* Refusals answer ``REFUSAL`` (400, the status these operations document). Each write
  fires ``Direct Costs`` (create/update/delete; a sync only when something changed).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, ClassVar

from devstack.procore_sandbox.resources.commitments import CURRENCY, _money
from devstack.procore_sandbox.resources.common import (
    DATE,
    MUST_EXIST,
    NOT_PERMITTED,
    ORIGIN_ID_DATA,
    REF,
    TEXT,
    FieldSpec,
    ResourceBase,
    _schema_changes,
    _sync_updates,
    _taken,
)
from devstack.procore_sandbox.resources.direct_cost_lines import (
    DIRECT_COSTS_RESOURCE,
    LINE_ITEMS_LIMIT,
    REFUSAL,
    LinePlan,
    _filtered,
)
from devstack.procore_sandbox.state import (
    Actor,
    Route,
    SandboxError,
    _json_body,
    _now_iso,
    _Request,
    _Response,
)
from devstack.procore_sandbox.webhook_payloads import WEB_APPLICATION_ID, WEB_USER_ID, _Outgoing

__all__ = ["DIRECT_COSTS_RESOURCE", "LINE_ITEMS_LIMIT", "DirectCostsMixin"]

DIRECT_COST_TYPES = ("invoice", "expense", "payroll")
DIRECT_COST_STATUSES = ("draft", "pending", "revise_and_resubmit", "approved")
TYPE_ON_CREATE_ONLY = "can only be set when creating a direct cost"
_ZERO = Decimal(0)
_TYPE = FieldSpec("enum", DIRECT_COST_TYPES)
_COMMON: Mapping[str, FieldSpec] = {
    "description": TEXT, "direct_cost_date": DATE, "employee_id": REF, "origin_data": TEXT,
    "origin_id": TEXT, "payment_date": DATE, "received_date": DATE,
    "status": FieldSpec("enum", DIRECT_COST_STATUSES), "terms": TEXT,
    "vendor_id": FieldSpec("custom"),
}
#: the body's object per (minor version, action): v1.0 ``item``, v1.1 ``direct_cost``
REQUEST_FIELDS: Mapping[tuple[str, str], Mapping[str, FieldSpec]] = {
    ("0", "create"): {**_COMMON, "invoice_number": TEXT, "direct_cost_type": _TYPE},
    ("0", "update"): {**_COMMON, "invoice_number": TEXT},
    ("1", "create"): {**_COMMON, "invoice_number": TEXT, "direct_cost_type": _TYPE,
                      "line_items": FieldSpec("custom")},
    ("1", "update"): {**_COMMON, "line_items": FieldSpec("custom")},  # no invoice_number
}
#: one sync update (``id`` handled by the sync); currency keys "only validated and
#: persisted when object level multicurrency is enabled": taken, not kept
SYNC_UPDATE_FIELDS: Mapping[str, FieldSpec] = {
    **REQUEST_FIELDS[("0", "create")], "currency_iso_code": FieldSpec("text", stored=()),
    "currency_exchange_rate": FieldSpec("number", stored=()),
}
_WRAPPERS = {"0": "item", "1": "direct_cost"}
LIST_KEYS = (
    "id", "amount", "created_at", "deleted_at", "description", "direct_cost_type",
    "direct_cost_date", "grand_total", "invoice_number", "origin_data", "origin_id",
    "payment_date", "received_date", "status", "terms", "updated_at", "vendor", "vendor_id",
    "vendor_name", "currency_configuration", "employee",
)
#: v1.0 show, POST, PATCH and the sync's entities
SHOW_KEYS = (
    "id", "attachments", "attachments_count", "created_at", "deleted_at", "description",
    "direct_cost_type", "employee", "invoice_number", "direct_cost_date", "origin_data",
    "origin_id", "grand_total", "line_items_count", "payment_date", "received_date", "status",
    "terms", "updated_at", "vendor", "vendor_id", "vendor_name", "currency_configuration",
)
V11_SHOW_KEYS = (
    *SHOW_KEYS[:3], "company", *SHOW_KEYS[3:15], "project", *SHOW_KEYS[15:], "line_items",
)
V11_CURRENCY = {**CURRENCY, "currency_exchange_rate": "1.0", "base_currency_iso_code": "USD"}
_RECORD_KEYS = ("id", "created_at", "deleted_at", "description", "direct_cost_type",
                "direct_cost_date", "invoice_number", "origin_data", "origin_id",
                "payment_date", "received_date", "status", "terms", "updated_at", "vendor_id")
_BASE = r"/rest/v1\.(?P<v>[01])/projects/(?P<project>\d+)/direct_costs"


class DirectCostsMixin(ResourceBase):
    """Direct costs (v1.0 and v1.1), their sync and the Python helpers."""

    ROUTES: ClassVar[tuple[Route, ...]] = (
        ("GET", _BASE, "_h_list_direct_costs", True),
        ("POST", _BASE, "_h_create_direct_cost", True),
        ("PATCH", r"/rest/v1\.0/projects/(?P<project>\d+)/direct_costs/sync",
         "_h_sync_direct_costs", True),
        ("GET", _BASE + r"/(?P<id>\d+)", "_h_get_direct_cost", True),
        ("PATCH", _BASE + r"/(?P<id>\d+)", "_h_update_direct_cost", True),
        ("DELETE", _BASE + r"/(?P<id>\d+)", "_h_delete_direct_cost", True),
    )

    # --- lookups and answers -----------------------------------------------------------------
    def _direct_cost(self, pid: int, raw: object) -> dict[str, Any]:
        record = self.state.direct_costs.get(int(str(raw)))
        if record is None or record["project_id"] != pid:
            raise SandboxError(404, f"Direct cost {raw} not found")
        return record

    def _direct_cost_answer(self, record: Mapping[str, Any], view: str,
                            refs: Mapping[int, Any] | None = None) -> dict[str, Any]:
        """``view``: ``"list"``, ``"0"`` (v1.0 show and sync entities) or ``"1"``."""
        lines = self.state.direct_cost_lines.get(record["id"], {})
        total = _money(sum((line["amount"] for line in lines.values()), _ZERO))
        vendor = self.state.vendors.get(record["vendor_id"] or 0)
        pid = record["project_id"]
        values: dict[str, Any] = {
            **{key: record.get(key) for key in _RECORD_KEYS},
            "amount": total, "grand_total": total, "attachments": [], "attachments_count": 0,
            "employee": None, "line_items_count": len(lines),
            "vendor": None if vendor is None else (
                vendor["name"] if view == "list" else {"id": vendor["id"], "name": vendor["name"]}),
            "vendor_name": None if vendor is None else vendor["name"],
            "currency_configuration": dict(V11_CURRENCY if view == "1" else CURRENCY),
            "company": {"id": self.company_id, "name": self.company_name},
            "project": {"id": pid, "name": self.state.projects[pid]["name"]},
        }
        if view == "1":
            values["line_items"] = [
                self._dc_line_answer(lines[i], embedded=True, ref=(refs or {}).get(i))
                for i in sorted(lines)]  # DirectCostLinesMixin
        keys = {"list": LIST_KEYS, "0": SHOW_KEYS, "1": V11_SHOW_KEYS}[view]
        return {key: copy.deepcopy(values[key]) for key in keys}

    # --- validation --------------------------------------------------------------------------
    def _dc_changes(self, fields: Mapping[str, Any], record: dict[str, Any] | None,
                    schema: Mapping[str, FieldSpec], *, handled: tuple[str, ...] = (),
                    ) -> tuple[dict[str, Any], dict[str, list[str]]]:
        """Changes of a create (``record`` None) or update; nothing is written."""
        changes: dict[str, Any] = {}
        errors: dict[str, list[str]] = {}
        _schema_changes(fields, schema, changes, errors, handled=handled)
        if "vendor_id" in fields:
            vendor_id = fields["vendor_id"]
            if vendor_id is not None and (isinstance(vendor_id, bool)
                                          or not isinstance(vendor_id, int)):
                errors["vendor_id"] = ["is not a number"]
            elif vendor_id is not None and vendor_id not in self.state.vendors:
                errors["vendor"] = [MUST_EXIST]
            else:
                changes["vendor_id"] = vendor_id
        if record is not None and "direct_cost_type" in changes:
            if changes.pop("direct_cost_type") != record["direct_cost_type"]:
                errors["direct_cost_type"] = [TYPE_ON_CREATE_ONLY]
        merged = {**(record or {}), **changes}
        required = ["direct_cost_date"] + (["direct_cost_type"] if record is None else [])
        if merged.get("direct_cost_type") == "invoice":
            required += ["invoice_number", "vendor_id"]
        for name in required:
            if merged.get(name) is None and name not in errors and name[:-3] not in errors:
                errors[name] = ["can't be blank"]
        own = None if record is None else record["id"]
        if changes.get("origin_id") is not None and "origin_id" not in handled and _taken(
                self.state.direct_costs, "origin_id", changes["origin_id"], own):
            errors["origin_id"] = ["has already been taken"]
        return changes, errors

    def _dc_body(self, req: _Request, v: str, pid: int, record: dict[str, Any] | None
                 ) -> tuple[dict[str, Any], list[LinePlan]]:
        """A POST/PATCH body's changes and v1.1 lines, or the refusal (nothing written)."""
        body = _json_body(req)
        wrapper = _WRAPPERS[v]
        errors: dict[str, list[str]] = {
            key: [NOT_PERMITTED] for key in body if key not in (wrapper, "attachments")}
        if body.get("attachments"):
            errors["attachments"] = [MUST_EXIST]
        fields = body.get(wrapper, {} if record is not None else None)
        if not isinstance(fields, dict):
            raise SandboxError(REFUSAL, {**errors, wrapper: ["can't be blank"]})
        schema = REQUEST_FIELDS[(v, "create" if record is None else "update")]
        changes, more = self._dc_changes(fields, record, schema)
        errors.update({k: m for k, m in more.items() if k not in errors})
        plans = [] if "line_items" not in fields else self._dc_nested_lines(
            pid, record, fields["line_items"], errors)
        if errors:
            raise SandboxError(REFUSAL, errors)
        return changes, plans

    # --- writes ------------------------------------------------------------------------------
    def _new_direct_cost(self, pid: int, changes: Mapping[str, Any]) -> dict[str, Any]:
        now = _now_iso()
        record: dict[str, Any] = {
            **dict.fromkeys(_RECORD_KEYS), "id": self.state.next_id(), "project_id": pid,
            "status": "draft", "employee_id": None, "created_at": now, "updated_at": now,
            **changes,
        }
        self.state.direct_costs[record["id"]] = record
        self.state.direct_cost_lines[record["id"]] = {}
        return record

    def _dc_event(self, action: str, record: Mapping[str, Any], actor: Actor,
                  out: list[_Outgoing]) -> None:
        self._event(action, DIRECT_COSTS_RESOURCE, record["id"], record["project_id"], actor,
                    out)

    def _create_direct_cost(self, pid: int, changes: Mapping[str, Any], plans: list[LinePlan],
                            actor: Actor, out: list[_Outgoing]) -> tuple[dict, dict[int, Any]]:
        record = self._new_direct_cost(pid, changes)
        self._dc_event("create", record, actor, out)
        return record, self._apply_dc_lines(record, plans, actor, out)

    # --- handlers ----------------------------------------------------------------------------
    def _h_list_direct_costs(self, req: _Request, m: re.Match[str]) -> _Response:
        pid = int(self._project(m["project"])["id"])
        records = {i: r for i, r in self.state.direct_costs.items() if r["project_id"] == pid}
        records = _filtered(req, records, ("created_at", "updated_at", "payment_date",
                                           "received_date"))
        number = req.param("filters[invoice_number]")
        if number not in (None, ""):
            records = {i: r for i, r in records.items() if r["invoice_number"] == number}
        answer = self._page(req, records)
        answer.body = [self._direct_cost_answer(r, "list") for r in answer.body]
        return answer

    def _h_get_direct_cost(self, req: _Request, m: re.Match[str]) -> _Response:
        pid = int(self._project(m["project"])["id"])
        return _Response(200, self._direct_cost_answer(self._direct_cost(pid, m["id"]), m["v"]))

    def _h_create_direct_cost(self, req: _Request, m: re.Match[str]) -> _Response:
        pid = int(self._project(m["project"])["id"])
        changes, plans = self._dc_body(req, m["v"], pid, None)
        record, refs = self._create_direct_cost(pid, changes, plans, self._actor(req),
                                                req.events)
        return _Response(201, self._direct_cost_answer(record, m["v"], refs))

    def _h_update_direct_cost(self, req: _Request, m: re.Match[str]) -> _Response:
        pid = int(self._project(m["project"])["id"])
        record = self._direct_cost(pid, m["id"])
        changes, plans = self._dc_body(req, m["v"], pid, record)
        actor = self._actor(req)
        record.update(changes, updated_at=_now_iso())
        refs = self._apply_dc_lines(record, plans, actor, req.events)
        self._dc_event("update", record, actor, req.events)
        return _Response(200, self._direct_cost_answer(record, m["v"], refs))

    def _h_delete_direct_cost(self, req: _Request, m: re.Match[str]) -> _Response:
        pid = int(self._project(m["project"])["id"])
        record = self._direct_cost(pid, m["id"])
        del self.state.direct_costs[record["id"]]
        self.state.direct_cost_lines.pop(record["id"], None)
        self._dc_event("delete", record, self._actor(req), req.events)
        return _Response(200, {"id": record["id"]})

    def _h_sync_direct_costs(self, req: _Request, m: re.Match[str]) -> _Response:
        pid = int(self._project(m["project"])["id"])
        updates = _sync_updates(_json_body(req), status=REFUSAL)
        scope = {i: r for i, r in self.state.direct_costs.items() if r["project_id"] == pid}
        actor, created = self._actor(req), set()

        def create(_: Mapping[str, Any]) -> dict[str, Any]:
            record = self._new_direct_cost(pid, {})
            created.add(record["id"])
            return record

        def on_change(record: dict[str, Any]) -> None:
            self._dc_event("create" if record["id"] in created else "update", record, actor,
                           req.events)

        return self._sync(
            updates, scope, self.state.direct_costs, create=create, on_change=on_change,
            validate=lambda item, record: self._dc_changes(
                item, record, SYNC_UPDATE_FIELDS, handled=("id", *ORIGIN_ID_DATA)),
            origin_fields=ORIGIN_ID_DATA, view=lambda r: self._direct_cost_answer(r, "0"),
            strict=True)

    # --- Python helpers ----------------------------------------------------------------------
    def direct_costs(self, project_id: int) -> list[dict[str, Any]]:
        """The project's direct costs as v1.1 shows them (with ``line_items``), by id."""
        with self.state.lock:
            self._project(project_id)
            return [self._direct_cost_answer(r, "1")
                    for _, r in sorted(self.state.direct_costs.items())
                    if r["project_id"] == project_id]

    def get_direct_cost(self, project_id: int, direct_cost_id: int) -> dict[str, Any]:
        """One direct cost as v1.1 shows it (with ``line_items``)."""
        with self.state.lock:
            return self._direct_cost_answer(self._direct_cost(project_id, direct_cost_id), "1")

    def create_direct_cost(
        self, project_id: int, *, line_items: list[dict[str, Any]] | None = None,
        as_application: str = WEB_APPLICATION_ID, as_user_id: int = WEB_USER_ID,
        **fields: Any,
    ) -> dict[str, Any]:
        """A direct cost made in the web UI (fires webhooks), with the POST's rules;
        ``line_items`` take the v1.1 line keys (``wbs_code_id``, ``manual_amount``, ...).
        Answers as ``get_direct_cost``."""
        actor = Actor(as_application, as_user_id)
        events: list[_Outgoing] = []
        with self.state.lock:
            self._project(project_id)
            changes, errors = self._dc_changes(fields, None, REQUEST_FIELDS[("1", "create")])
            plans = self._dc_nested_lines(project_id, None, line_items or [], errors)
            if errors:
                raise SandboxError(REFUSAL, errors)
            record, refs = self._create_direct_cost(project_id, changes, plans, actor, events)
            answer = self._direct_cost_answer(record, "1", refs)
        self._deliver(events)  # WebhooksMixin
        return answer
