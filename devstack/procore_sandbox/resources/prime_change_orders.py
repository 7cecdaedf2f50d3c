"""Prime contract change orders (PCCOs): ``/rest/v1.0/projects/{p}/prime_change_orders`` and
their v2.0 line items.

Shapes: ``procore-spec/openapi/RestV10ProjectsProjectIdPrimeChangeOrders{Get,Post,IdGet,
IdPatch,IdDelete}.json`` (request schemas, filters; the answers are not documented: a PCCO
answers the keys of a commitment change order, ``change_orders.CCO_KEYS``, with ``type``
``PrimeContractChangeOrder``) and ``RestV20Companies...PrimeChangeOrders...LineItems*.json``.
Choices: docs/decisions.md ("Sandbox prime contracts, PCCOs and owner invoices ...").

* The sandbox models a one-tier project, as for CCOs: a PCCO *is* its change order package
  (``legacy_package_id`` = its ``id``); ``grand_total`` is the sum of its lines.
* ``change_order.contract_id`` (a live prime contract of the project) is required to
  create and can't change; ``status`` one of the package statuses (``approved`` counts in
  the prime contract's approved change orders); ``number`` defaults to "001", "002", ...
  per prime contract and is unique per prime contract.
* Refusals: a body that is not the documented object, an undocumented key or a value of
  the wrong kind answer **400** naming the field; business rules (the contract, a taken
  number) **422** (both documented). DELETE **204** soft deletes; an approved PCCO can't be
  deleted (400).
* v2.0 line items: GET ``{"data": [...]}`` (10 a page, at most 100), POST **200**, GET /
  PATCH ``/{line}`` 200 ``{"data": {...}}``, DELETE 204; ids as strings, ``amount`` and
  ``unit_cost`` decimal text, ``quantity``/``position`` numbers. ``wbs_code_id`` (a cost
  code and cost type of the project) is required to create; ``prime_line_item_id`` must
  be a line of the PCCO's prime contract. Lines of an approved PCCO can't be written.
  Refusals **400**.
* Every write (PCCO or line) fires ``Change Order Packages`` (resource id = the PCCO id):
  the docs' resource names have no "Prime Change Orders".
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, ClassVar

from devstack.procore_sandbox.resources.change_order_lines import (
    V2_MAX_PER_PAGE,
    V2_PER_PAGE,
    _amount_value,
    _id_value,
)
from devstack.procore_sandbox.resources.change_orders import (
    CCO_KEYS,
    CCO_REQUEST_FIELDS,
    CHANGE_ORDER_PACKAGES_RESOURCE,
    PACKAGE_REQUEST_FIELDS,
    PACKAGE_STATUSES,
)
from devstack.procore_sandbox.resources.commitments import CURRENCY, _money
from devstack.procore_sandbox.resources.common import (
    MUST_EXIST,
    NOT_PERMITTED,
    FieldSpec,
    ResourceBase,
    _schema_changes,
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
from devstack.procore_sandbox.webhook_payloads import _Outgoing

PCCO_TYPE = "PrimeContractChangeOrder"
PCCO_STATUSES = PACKAGE_STATUSES
PCCO_REQUEST_FIELDS: Mapping[str, FieldSpec] = {
    **CCO_REQUEST_FIELDS, "status": FieldSpec("enum", PCCO_STATUSES),
}
PCCO_LINE_KEYS = ("prime_line_item_id", "amount", "description", "quantity", "unit_cost", "uom",
                  "wbs_code_id", "tax_code_id")
_CUSTOM_FIELD = re.compile(r"custom_field_\d+")
_BASE = r"/rest/v1\.0/projects/(?P<project>\d+)/prime_change_orders"
_V2 = (r"/rest/v2\.0/companies/(?P<company>\d+)/projects/(?P<project>\d+)"
       r"/prime_change_orders/(?P<id>\d+)/line_items")


class PrimeChangeOrdersMixin(ResourceBase):
    """PCCOs (v1.0) and their line items (v2.0)."""

    ROUTES: ClassVar[tuple[Route, ...]] = (
        ("GET", _BASE, "_h_list_pccos", True),
        ("POST", _BASE, "_h_create_pcco", True),
        ("GET", _BASE + r"/(?P<id>\d+)", "_h_get_pcco", True),
        ("PATCH", _BASE + r"/(?P<id>\d+)", "_h_update_pcco", True),
        ("DELETE", _BASE + r"/(?P<id>\d+)", "_h_delete_pcco", True),
        ("GET", _V2, "_h_list_pcco_lines", True),
        ("POST", _V2, "_h_create_pcco_line", True),
        ("GET", _V2 + r"/(?P<line>\d+)", "_h_get_pcco_line", True),
        ("PATCH", _V2 + r"/(?P<line>\d+)", "_h_update_pcco_line", True),
        ("DELETE", _V2 + r"/(?P<line>\d+)", "_h_delete_pcco_line", True),
    )

    # --- lookups and answers -----------------------------------------------------------------
    def _pcco(self, project_id: int, raw: object) -> dict[str, Any]:
        record = self.state.prime_change_orders.get(int(str(raw)))
        if record is None or record.get("deleted_at") or record["project_id"] != project_id:
            raise SandboxError(404, f"Prime change order {raw} not found")
        return record

    def _pcco_total(self, pcco: Mapping[str, Any]) -> Decimal:
        lines = self.state.pcco_lines.get(pcco["id"], {}).values()
        return sum((line["amount"] for line in lines), Decimal(0))

    def _pcco_answer(self, pcco: Mapping[str, Any], *, extended: bool = False
                     ) -> dict[str, Any]:
        answer = {key: copy.deepcopy(pcco.get(key)) for key in CCO_KEYS}
        answer.update(legacy_package_id=pcco["id"], type=PCCO_TYPE,
                      grand_total=_money(self._pcco_total(pcco)),
                      currency_configuration=dict(CURRENCY), custom_fields={}, attachments=[])
        if extended:  # the spec: "the extended view includes change events data"
            answer["change_events"] = [
                {"id": ce["id"], "number": ce["alphanumeric_number"]}
                for ce in (self.state.change_events.get(i)
                           for i in pcco.get("change_event_ids") or []) if ce is not None]
        return answer

    def _pcco_package_row(self, pcco: Mapping[str, Any]) -> dict[str, Any]:
        """A row of the prime contract's ``change_order_packages`` (its show schema)."""
        keys = ("id", "contract_id", "created_at", "deleted_at", "due_date", "invoiced_date",
                "number", "origin_data", "origin_id", "paid_date", "reviewed_at", "title",
                "status", "updated_at")
        return {**{k: copy.deepcopy(pcco.get(k)) for k in keys},
                "currency_configuration": dict(CURRENCY)}

    def _pcco_line_answer(self, pcco: Mapping[str, Any], line: Mapping[str, Any]) -> dict:
        pid = pcco["project_id"]
        code = self.state.cost_codes.get(pid, {}).get(line["cost_code_id"])
        cost_type = self.state.line_item_types.get(line["line_item_type_id"])
        wbs = None if code is None else self._wbs_code_answer(code, cost_type)
        return {
            "prime_line_item_id": (None if line["prime_line_item_id"] is None
                                   else str(line["prime_line_item_id"])),
            "id": str(line["id"]), "description": line["description"], "uom": line["uom"],
            "quantity": None if line["quantity"] is None else float(line["quantity"]),
            "unit_cost": None if line["unit_cost"] is None else str(line["unit_cost"]),
            "amount": _money(line["amount"]), "extended_type": line["extended_type"],
            "wbs_code_id": None if wbs is None else str(wbs["id"]), "tax_code_id": None,
            "position": line["position"],
            "wbs_code": None if wbs is None else {k: str(v) for k, v in wbs.items()},
            "work_breakdown_structure": {},
        }

    # --- PCCO writes -------------------------------------------------------------------------
    def _pcco_changes(self, pid: int, fields: Mapping[str, Any],
                      record: dict[str, Any] | None) -> dict[str, Any]:
        shape: dict[str, list[str]] = {
            name: [MUST_EXIST] for name in fields if _CUSTOM_FIELD.fullmatch(name)}
        changes: dict[str, Any] = {}
        _schema_changes(fields, PCCO_REQUEST_FIELDS, changes, shape, handled=shape)
        if "status" in fields and fields["status"] is None:
            shape["status"] = ["can't be blank"]
        if shape:
            raise SandboxError(400, shape)
        rules: dict[str, list[str]] = {}
        if "contract_id" in fields:
            raw = fields["contract_id"]
            contract = self.state.prime_contracts.get(raw) if isinstance(raw, int) else None
            if contract is None or contract.get("deleted_at") or contract["project_id"] != pid:
                rules["contract"] = [MUST_EXIST]
            elif record is not None and contract["id"] != record["contract_id"]:
                rules["contract_id"] = ["can't be changed"]
            else:
                changes["contract_id"] = contract["id"]
        elif record is None:
            rules["contract_id"] = ["can't be blank"]
        contract_id = changes.get("contract_id", None if record is None else record["contract_id"])
        number = changes.get("number")
        if number is not None and any(
                p["number"] == number and p["contract_id"] == contract_id
                and (record is None or p["id"] != record["id"])
                for p in self.state.prime_change_orders.values()):
            rules["number"] = ["has already been taken"]
        if "number" in fields and number is None:
            rules["number"] = ["can't be blank"]
        if rules:
            raise SandboxError(422, rules)
        return changes

    def _create_pcco(self, pid: int, fields: Mapping[str, Any], actor: Actor,
                     out: list[_Outgoing]) -> dict[str, Any]:
        changes = self._pcco_changes(pid, fields, None)
        now = _now_iso()
        record: dict[str, Any] = dict.fromkeys(CCO_KEYS)
        record.update(
            id=self.state.next_id(), project_id=pid, status="draft", revision=0,
            executed=False, paid=False, private=False, field_change=False,
            signature_required=False, created_at=now, updated_at=now, deleted_at=None,
            created_by={"id": actor.user_id, "login": None, "name": None},
        )
        record.update(changes)
        if record["number"] is None:
            numbers = [int(p["number"]) for p in self.state.prime_change_orders.values()
                       if p["contract_id"] == record["contract_id"]
                       and str(p["number"] or "").isdigit()]
            record["number"] = f"{max(numbers, default=0) + 1:03d}"
        self.state.prime_change_orders[record["id"]] = record
        self.state.pcco_lines[record["id"]] = {}
        self._event("create", CHANGE_ORDER_PACKAGES_RESOURCE, record["id"], pid, actor, out)
        return record

    def _touch_pcco(self, pcco: dict[str, Any], actor: Actor, out: list[_Outgoing]) -> None:
        pcco["updated_at"] = _now_iso()
        self._event("update", CHANGE_ORDER_PACKAGES_RESOURCE, pcco["id"], pcco["project_id"],
                    actor, out)

    # --- PCCO handlers -----------------------------------------------------------------------
    @staticmethod
    def _pcco_fields(req: _Request) -> dict[str, Any]:
        body = _json_body(req)
        extra = sorted(set(body) - {"change_order"})
        fields = body.get("change_order")
        errors: dict[str, list[str]] = {key: [NOT_PERMITTED] for key in extra}
        if not isinstance(fields, dict):
            errors["change_order"] = ["can't be blank"]
        if errors:
            raise SandboxError(400, errors)
        return fields  # type: ignore[return-value]

    def _h_list_pccos(self, req: _Request, m: re.Match[str]) -> _Response:
        pid = self._path_scope(None, m["project"])
        self._cco_view(req)  # ChangeOrdersMixin: default | extended, else 400
        records = {i: p for i, p in self.state.prime_change_orders.items()
                   if p["project_id"] == pid and not p.get("deleted_at")}
        records = self._filter_ccos(req, records)  # ChangeOrdersMixin: the same filters
        answer = self._page(req, records, origin_filter=False)
        answer.body = [self._pcco_answer(p) for p in answer.body]
        return answer

    def _h_get_pcco(self, req: _Request, m: re.Match[str]) -> _Response:
        pid = self._path_scope(None, m["project"])
        extended = self._cco_view(req)
        return _Response(200, self._pcco_answer(self._pcco(pid, m["id"]), extended=extended))

    # --- its change order package (origin ids; ChangeOrdersMixin routes PCCO ids here) ------
    def _h_get_pcco_package(self, req: _Request, m: re.Match[str]) -> _Response:
        pcco = self._pcco(self._project_param(req), m["id"])
        return _Response(200, {**self._pcco_answer(pcco), **self._pcco_package_row(pcco)})

    def _h_update_pcco_package(self, req: _Request, m: re.Match[str]) -> _Response:
        body = _json_body(req)
        pid = self._body_project(req, body, missing_status=400)
        pcco = self._pcco(pid, m["id"])
        errors: dict[str, list[str]] = {k: [NOT_PERMITTED] for k in sorted(
            set(body) - {"project_id", "contract_id", "change_order"})}
        fields = body.get("change_order")
        if not isinstance(fields, dict):
            raise SandboxError(400, {**errors, "change_order": ["can't be blank"]})
        changes: dict[str, Any] = {}
        _schema_changes(fields, {k: v for k, v in PACKAGE_REQUEST_FIELDS.items()
                                 if k != "grand_total"}, changes, errors, handled=errors)
        if body.get("contract_id") not in (None, pcco["contract_id"]):
            errors["contract_id"] = ["can't be changed"]
        origin = changes.get("origin_id")
        if origin is not None and any(p["origin_id"] == origin and p["id"] != pcco["id"]
                                      for p in self.state.prime_change_orders.values()):
            errors["origin_id"] = ["has already been taken"]
        if errors:
            raise SandboxError(400, errors)
        pcco.update(changes)
        self._touch_pcco(pcco, self._actor(req), req.events)
        return _Response(200, {**self._pcco_answer(pcco), **self._pcco_package_row(pcco)})

    def link_pcco_change_event(self, project_id: int, pcco_id: int, event_id: int) -> None:
        """The web UI's "add to a prime change order" of a change event (no API key)."""
        def link(out: list[_Outgoing]) -> None:
            pcco = self._pcco(project_id, pcco_id)
            pcco["change_event_ids"] = [*(pcco.get("change_event_ids") or []), event_id]
            self._touch_pcco(pcco, self._web_actor("procore-web", None), out)

        self._helper(link)

    def _h_create_pcco(self, req: _Request, m: re.Match[str]) -> _Response:
        pid = self._path_scope(None, m["project"])
        record = self._create_pcco(pid, self._pcco_fields(req), self._actor(req), req.events)
        return _Response(201, self._pcco_answer(record))

    def _h_update_pcco(self, req: _Request, m: re.Match[str]) -> _Response:
        pid = self._path_scope(None, m["project"])
        self._cco_view(req)
        record = self._pcco(pid, m["id"])
        record.update(self._pcco_changes(pid, self._pcco_fields(req), record))
        self._touch_pcco(record, self._actor(req), req.events)
        return _Response(200, self._pcco_answer(record))

    def _h_delete_pcco(self, req: _Request, m: re.Match[str]) -> _Response:
        pid = self._path_scope(None, m["project"])
        record = self._pcco(pid, m["id"])
        if record["status"] == "approved":
            raise SandboxError(400, {"base": ["An approved change order can't be deleted"]})
        record["deleted_at"] = record["updated_at"] = _now_iso()
        self._event("delete", CHANGE_ORDER_PACKAGES_RESOURCE, record["id"], pid,
                    self._actor(req), req.events)
        return _Response(204)

    # --- v2.0 line items ---------------------------------------------------------------------
    def _pcco_line_changes(self, pcco: Mapping[str, Any], fields: Mapping[str, Any],
                           line: Mapping[str, Any] | None, *, locked_ok: bool = False
                           ) -> dict[str, Any]:
        errors: dict[str, list[str]] = {k: [NOT_PERMITTED] for k in fields
                                        if k not in PCCO_LINE_KEYS}
        if pcco["status"] == "approved" and not locked_ok:
            errors["base"] = ["Line items of an approved change order can't be changed"]
        if fields.get("tax_code_id") is not None:
            errors["tax_code"] = [MUST_EXIST]
        changes: dict[str, Any] = {}
        for name in ("description", "uom"):
            if name in fields:
                value = fields[name]
                if value is not None and not isinstance(value, str):
                    errors[name] = ["is invalid"]
                else:
                    changes[name] = value or None
        if fields.get("wbs_code_id") is not None:
            pair = self._line_wbs(pcco["project_id"], fields, errors)  # ChangeOrderLinesMixin
            if pair is not None:
                changes["cost_code_id"], changes["line_item_type_id"] = pair
        elif line is None:
            errors["wbs_code_id"] = ["can't be blank"]
        if "prime_line_item_id" in fields:
            raw = _id_value(fields["prime_line_item_id"], "prime_line_item_id", errors)
            if raw is not None and raw not in self.state.prime_lines.get(pcco["contract_id"], {}):
                errors["prime_line_item"] = [MUST_EXIST + " on the change order's prime contract"]
            elif "prime_line_item_id" not in errors:
                changes["prime_line_item_id"] = raw
        numbers = {n: _amount_value(fields[n], n, errors)
                   for n in ("amount", "quantity", "unit_cost") if n in fields}
        for name in ("quantity", "unit_cost"):
            if name in numbers:
                changes[name] = numbers[name]
        if numbers.get("amount") is not None:
            changes["amount"], changes["extended_type"] = numbers["amount"], "manual"
        elif "amount" not in errors:
            quantity = changes.get("quantity", None if line is None else line["quantity"])
            unit_cost = changes.get("unit_cost", None if line is None else line["unit_cost"])
            if quantity is not None and unit_cost is not None and (
                    "quantity" in numbers or "unit_cost" in numbers):
                changes["amount"] = (quantity * unit_cost).quantize(Decimal("0.01"))
                changes["extended_type"] = "calculated"
            elif line is None or "amount" in fields:
                errors["amount"] = ["can't be blank"]
        if changes.get("amount") is not None and changes["amount"] != changes["amount"].quantize(
                Decimal("0.01")):
            errors["amount"] = ["must have at most 2 decimal places"]
        if errors:
            raise SandboxError(400, errors)
        return changes

    def _write_pcco_line(self, pcco: dict[str, Any], fields: Mapping[str, Any],
                         line: dict[str, Any] | None, actor: Actor, out: list[_Outgoing],
                         *, locked_ok: bool = False) -> dict[str, Any]:
        changes = self._pcco_line_changes(pcco, fields, line, locked_ok=locked_ok)
        if line is None:
            lines = self.state.pcco_lines.setdefault(pcco["id"], {})
            now = _now_iso()
            line = {"id": self.state.next_id(), "position": len(lines) + 1, "description": None,
                    "uom": None, "quantity": None, "unit_cost": None, "prime_line_item_id": None,
                    "extended_type": "manual", "created_at": now, "updated_at": now}
            lines[line["id"]] = line
        line.update(changes)
        line["updated_at"] = _now_iso()
        self._touch_pcco(pcco, actor, out)
        return line

    def _pcco_line_scope(self, m: re.Match[str]) -> dict[str, Any]:
        pid = self._path_scope(m["company"], m["project"])
        return self._pcco(pid, m["id"])

    def _pcco_line(self, pcco: Mapping[str, Any], raw: str) -> dict[str, Any]:
        line = self.state.pcco_lines.get(pcco["id"], {}).get(int(raw))
        if line is None:
            raise SandboxError(404, f"Line item {raw} not found")
        return line

    def _h_list_pcco_lines(self, req: _Request, m: re.Match[str]) -> _Response:
        pcco = self._pcco_line_scope(m)
        answer = self._page(req, self.state.pcco_lines.get(pcco["id"], {}), origin_filter=False,
                            default_per_page=V2_PER_PAGE, max_per_page=V2_MAX_PER_PAGE)
        answer.body = {"data": [self._pcco_line_answer(pcco, line) for line in answer.body]}
        return answer

    def _h_create_pcco_line(self, req: _Request, m: re.Match[str]) -> _Response:
        pcco = self._pcco_line_scope(m)
        line = self._write_pcco_line(pcco, _json_body(req), None, self._actor(req), req.events)
        return _Response(200, {"data": self._pcco_line_answer(pcco, line)})

    def _h_get_pcco_line(self, req: _Request, m: re.Match[str]) -> _Response:
        pcco = self._pcco_line_scope(m)
        return _Response(200, {"data": self._pcco_line_answer(pcco,
                                                              self._pcco_line(pcco, m["line"]))})

    def _h_update_pcco_line(self, req: _Request, m: re.Match[str]) -> _Response:
        pcco = self._pcco_line_scope(m)
        line = self._pcco_line(pcco, m["line"])
        self._write_pcco_line(pcco, _json_body(req), line, self._actor(req), req.events)
        return _Response(200, {"data": self._pcco_line_answer(pcco, line)})

    def _h_delete_pcco_line(self, req: _Request, m: re.Match[str]) -> _Response:
        pcco = self._pcco_line_scope(m)
        line = self._pcco_line(pcco, m["line"])
        if pcco["status"] == "approved":
            raise SandboxError(400, {"base": ["Line items of an approved change order can't "
                                              "be changed"]})
        del self.state.pcco_lines[pcco["id"]][line["id"]]
        self._touch_pcco(pcco, self._actor(req), req.events)
        return _Response(204)
