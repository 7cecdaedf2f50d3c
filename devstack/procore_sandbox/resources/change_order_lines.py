"""The line items of commitment change orders: v2.0 CCO line items and the legacy potential
change order (PCO) endpoints that hold them.

* ``/rest/v2.0/companies/{c}/projects/{p}/commitment_change_orders/{id}/line_items``
  (openapi/RestV20...CommitmentChangeOrderIdLineItems*.json): GET ``{"data": [...]}`` (10 a
  page, at most 100), POST **200** (what the operation documents), GET/PATCH ``/{line}``
  200 ``{"data": {...}}``, DELETE 204. Bodies are unwrapped; ids answer as strings,
  ``amount``/``unit_cost`` as decimal text, ``quantity``/``position`` as numbers. Every
  refusal answers **400** (the operations document 400, 409 and no 422).
* ``/rest/v1.0/potential_change_orders`` (GET list, GET ``/{id}``) and its
  ``/{id}/line_items`` (GET, POST 201, PATCH ``/sync``): the PCO of each CCO, its lines
  (openapi/RestV10PotentialChangeOrders*.json). Refusals 400; sync 200 entities/errors.
* Rules (both faces): a line names a WBS code with a cost type; ``commitment_line_item_id``
  must be a line of the CCO's commitment and the WBS code that line's cost code and type;
  lines of an approved CCO can't be written (the Python helpers skip that rule: they
  stand for the UI form that writes lines and status together); on the v2.0 endpoints
  ``quantity``/``unit_cost``/``uom`` are refused on an amount-based commitment and
  ``amount`` is then required (a unit-based one computes it, ``extended_type:
  calculated``). Each write fires ``Potential Change Order Line Items`` (related: the PCO)
  and updates the CCO (``updated_at``, ``Change Order Packages`` and ``Potential Change
  Orders`` update).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar

from devstack.procore_sandbox.resources.change_orders import (
    LOCKED_STATUSES,
    POTENTIAL_CHANGE_ORDERS_RESOURCE,
)
from devstack.procore_sandbox.resources.commitments import CURRENCY, _money
from devstack.procore_sandbox.resources.common import (
    MUST_EXIST,
    NOT_PERMITTED,
    ResourceBase,
    _sync_updates,
)
from devstack.procore_sandbox.resources.line_items import EXTENDED_TYPES, _plain
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
from devstack.procore_sandbox.webhook_payloads import _Outgoing

PCO_LINE_ITEMS_RESOURCE = "Potential Change Order Line Items"
V2_PER_PAGE, V2_MAX_PER_PAGE = 10, 100
#: request keys of the v2.0 POST/PATCH and of a PCO line item POST / sync update
V2_LINE_KEYS = ("prime_line_item_id", "commitment_line_item_id", "amount", "description",
                "quantity", "unit_cost", "uom", "wbs_code_id", "tax_code_id")
PCO_LINE_KEYS = ("amount", "cost_code_id", "extended_type", "quantity", "line_item_type_id",
                 "origin_data", "origin_id", "tax_code_id", "unit_cost", "uom", "wbs_code_id")
_V2 = (r"/rest/v2\.0/companies/(?P<company>\d+)/projects/(?P<project>\d+)"
       r"/commitment_change_orders/(?P<id>\d+)/line_items")
_PCO = r"/rest/v1\.0/potential_change_orders"


def _id_value(value: object, name: str, errors: dict[str, list[str]]) -> int | None:
    """An id typed string (v2.0) or integer: a digit string or a JSON integer."""
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    errors[name] = ["is invalid"]
    return None


def _amount_value(value: object, name: str, errors: dict[str, list[str]]) -> Decimal | None:
    """Money or a quantity typed string: decimal text or a JSON number."""
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        errors[name] = ["is not a number"]
        return None
    try:
        number = Decimal(repr(value) if isinstance(value, float) else str(value).strip())
    except InvalidOperation:
        errors[name] = ["is not a number"]
        return None
    if not number.is_finite():
        errors[name] = ["is not a number"]
        return None
    return number


class ChangeOrderLinesMixin(ResourceBase):
    """CCO line items (v2.0), PCOs and their line items (v1.0), the line helpers."""

    ROUTES: ClassVar[tuple[Route, ...]] = (
        ("GET", _V2, "_h_list_cco_lines", True),
        ("POST", _V2, "_h_create_cco_line", True),
        ("GET", _V2 + r"/(?P<line>\d+)", "_h_get_cco_line", True),
        ("PATCH", _V2 + r"/(?P<line>\d+)", "_h_update_cco_line", True),
        ("DELETE", _V2 + r"/(?P<line>\d+)", "_h_delete_cco_line", True),
        ("GET", _PCO, "_h_list_pcos", True),
        ("GET", _PCO + r"/(?P<id>\d+)", "_h_get_pco", True),
        ("GET", _PCO + r"/(?P<id>\d+)/line_items", "_h_list_pco_lines", True),
        ("POST", _PCO + r"/(?P<id>\d+)/line_items", "_h_create_pco_line", True),
        ("PATCH", _PCO + r"/(?P<id>\d+)/line_items/sync", "_h_sync_pco_lines", True),
    )

    # --- validation --------------------------------------------------------------------------
    def _cco_line_changes(
        self, cco: Mapping[str, Any], fields: Mapping[str, Any], line: Mapping[str, Any] | None,
        *, keys: tuple[str, ...], v2: bool, locked_ok: bool = False,
    ) -> tuple[dict[str, Any], dict[str, list[str]]]:
        """The changes a body makes to a line (``line`` None: a new one) and its problems."""
        errors: dict[str, list[str]] = {k: [NOT_PERMITTED] for k in fields if k not in keys}
        if cco["status"] in LOCKED_STATUSES and not locked_ok:
            errors["base"] = [f"Line items of an {cco['status']} change order can't be changed"]
        pid = cco["project_id"]
        changes: dict[str, Any] = {}
        for name in ("prime_line_item_id", "tax_code_id"):  # kinds the sandbox does not keep
            if fields.get(name) is not None:
                errors[name.removesuffix("_id")] = [MUST_EXIST]
        for name in ("description", "uom", "origin_id", "origin_data"):
            if name in fields:
                value = fields[name]
                if value is not None and not isinstance(value, str):
                    errors[name] = ["is invalid"]
                else:
                    changes[name] = value or None
        if "extended_type" in fields and fields["extended_type"] not in EXTENDED_TYPES:
            errors["extended_type"] = ["is not included in the list"]
        numbers = {n: _amount_value(fields[n], n, errors)
                   for n in ("amount", "quantity", "unit_cost") if n in fields}
        pair = self._line_wbs(pid, fields, errors)
        if pair is None and line is None and not any(k in errors for k in
                                                     ("wbs_code", "cost_code", "line_item_type")):
            errors["wbs_code_id"] = ["can't be blank"]
        if pair is not None:
            changes["cost_code_id"], changes["line_item_type_id"] = pair
        if "commitment_line_item_id" in fields:
            raw = _id_value(fields["commitment_line_item_id"], "commitment_line_item_id", errors)
            sov = self.state.line_items.get(cco["contract_id"], {})
            if raw is not None and raw not in sov:
                errors["commitment_line_item"] = [MUST_EXIST + " on the change order's commitment"]
            elif "commitment_line_item_id" not in errors:
                changes["commitment_line_item_id"] = raw
        sov_id = changes.get("commitment_line_item_id",
                             None if line is None else line["commitment_line_item_id"])
        sov_line = self.state.line_items.get(cco["contract_id"], {}).get(sov_id or -1)
        now_pair = pair or (None if line is None else
                            (line["cost_code_id"], line["line_item_type_id"]))
        if sov_line is not None and now_pair is not None and now_pair != (
                sov_line["cost_code_id"], sov_line["line_item_type_id"]):
            errors["wbs_code_id"] = ["must be the cost code and cost type of the commitment "
                                     "line item"]
        commitment = self._project_commitment(pid, cco["contract_id"]) or {}
        if v2 and commitment.get("accounting_method", "amount") == "amount":
            for name in ("quantity", "unit_cost", "uom"):
                if fields.get(name) not in (None, ""):
                    errors[name] = ["is only accepted on unit quantity SOVs"]
        if "quantity" in numbers:
            changes["quantity"] = numbers["quantity"]
        if "unit_cost" in numbers:
            changes["unit_cost"] = numbers["unit_cost"]
        quantity = changes.get("quantity", None if line is None else line["quantity"])
        unit_cost = changes.get("unit_cost", None if line is None else line["unit_cost"])
        if numbers.get("amount") is not None:
            changes["amount"] = numbers["amount"]
            changes["extended_type"] = fields.get("extended_type") or "manual"
        elif "amount" not in errors:
            sent_units = "quantity" in numbers or "unit_cost" in numbers
            if quantity is not None and unit_cost is not None and (sent_units or line is None):
                changes["amount"] = quantity * unit_cost
                changes["extended_type"] = "calculated"
            elif line is None or "amount" in fields:
                errors["amount"] = ["can't be blank"]
        return changes, errors

    def _line_wbs(self, pid: int, fields: Mapping[str, Any],
                  errors: dict[str, list[str]]) -> tuple[int, int] | None:
        """The (cost code, cost type) a body names: ``wbs_code_id``, else the two ids."""
        if fields.get("wbs_code_id") is not None:
            wbs = _id_value(fields["wbs_code_id"], "wbs_code_id", errors)
            found = None if wbs is None else self._wbs_pair(pid, wbs)
            if wbs is not None and (found is None or found[1] is None):
                errors["wbs_code"] = [MUST_EXIST]
                return None
            return None if found is None else (found[0], int(found[1] or 0))
        code_id, type_id = fields.get("cost_code_id"), fields.get("line_item_type_id")
        if code_id is None and type_id is None:
            return None
        code = self.state.cost_codes.get(pid, {}).get(code_id) if isinstance(code_id, int) else None
        kind = self.state.line_item_types.get(type_id) if isinstance(type_id, int) else None
        if code is None:
            errors["cost_code"] = [MUST_EXIST]
        if kind is None:
            errors["line_item_type"] = [MUST_EXIST]
        return None if code is None or kind is None else (code["id"], kind["id"])

    # --- writes ------------------------------------------------------------------------------
    def _new_cco_line(self, cco: Mapping[str, Any], changes: Mapping[str, Any]) -> dict:
        lines = self.state.change_order_lines.setdefault(cco["id"], {})
        now = _now_iso()
        line: dict[str, Any] = {
            "id": self.state.next_id(), "position": len(lines) + 1, "description": None,
            "quantity": None, "unit_cost": None, "uom": None, "commitment_line_item_id": None,
            "change_event_line_item_id": None, "extended_type": "manual", "origin_id": None,
            "origin_data": None, "created_at": now, "updated_at": now, **changes,
        }
        code = self.state.cost_codes[cco["project_id"]][line["cost_code_id"]]
        line["wbs_code_id"] = self._wbs_code_id(code, line["line_item_type_id"])
        lines[line["id"]] = line
        return line

    def _line_written(self, action: str, cco: dict[str, Any], line_id: int, actor: Actor,
                      out: list[_Outgoing]) -> None:
        related = [{"id": cco["pco_id"], "name": POTENTIAL_CHANGE_ORDERS_RESOURCE}]
        self._event(action, PCO_LINE_ITEMS_RESOURCE, line_id, cco["project_id"], actor, out,
                    related)
        self._touch_cco(cco, actor, out)

    def _write_cco_line(
        self, cco: dict[str, Any], fields: Mapping[str, Any], line: dict[str, Any] | None,
        actor: Actor, out: list[_Outgoing], *, keys: tuple[str, ...], v2: bool,
        locked_ok: bool = False,
    ) -> dict[str, Any]:
        changes, errors = self._cco_line_changes(cco, fields, line, keys=keys, v2=v2,
                                                 locked_ok=locked_ok)
        if errors:
            raise SandboxError(400, errors)
        if line is None:
            line = self._new_cco_line(cco, changes)
            self._line_written("create", cco, line["id"], actor, out)
            return line
        line.update(changes, updated_at=_now_iso())
        code = self.state.cost_codes[cco["project_id"]][line["cost_code_id"]]
        line["wbs_code_id"] = self._wbs_code_id(code, line["line_item_type_id"])
        self._line_written("update", cco, line["id"], actor, out)
        return line

    def _cco_line(self, cco: Mapping[str, Any], raw: object) -> dict[str, Any]:
        line = self.state.change_order_lines.get(cco["id"], {}).get(int(str(raw)))
        if line is None:
            raise SandboxError(404, f"Line item {raw} not found")
        return line

    # --- answers -----------------------------------------------------------------------------
    def _wbs_of(self, cco: Mapping[str, Any], line: Mapping[str, Any]) -> dict[str, Any]:
        code = self.state.cost_codes[cco["project_id"]][line["cost_code_id"]]
        return self._wbs_code_answer(code, self.state.line_item_types.get(
            line["line_item_type_id"]))

    def _cco_line_v2(self, cco: Mapping[str, Any], line: Mapping[str, Any]) -> dict[str, Any]:
        """A v2.0 line item: ids as strings, amounts as decimal text, quantity a number."""
        wbs = self._wbs_of(cco, line)
        sov = line["commitment_line_item_id"]
        return {
            "id": str(line["id"]), "prime_line_item_id": None,
            "commitment_line_item_id": None if sov is None else str(sov),
            "description": line["description"], "uom": line["uom"],
            "quantity": None if line["quantity"] is None else float(line["quantity"]),
            "unit_cost": None if line["unit_cost"] is None else _money(line["unit_cost"]),
            "amount": _money(line["amount"]), "extended_type": line["extended_type"],
            "wbs_code_id": str(wbs["id"]), "tax_code_id": None, "position": line["position"],
            "wbs_code": {**wbs, "id": str(wbs["id"])}, "work_breakdown_structure": None,
        }

    def _pco_line_answer(self, cco: Mapping[str, Any], line: Mapping[str, Any]) -> dict:
        """openapi/RestV10PotentialChangeOrdersPotentialChangeOrderIdLineItemsGet.json."""
        pid = cco["project_id"]
        code = self.state.cost_codes[pid][line["cost_code_id"]]
        kind = self.state.line_item_types.get(line["line_item_type_id"])
        project = self.state.projects[pid]
        wbs = self._wbs_of(cco, line)
        q, u = line["quantity"], line["unit_cost"]
        ce_line = self._change_event_line(line["change_event_line_item_id"])
        return {
            "id": line["id"], "amount": _money(line["amount"]),
            "company": {"id": self.company_id, "name": self.company_name},
            "cost_code": self._cost_code_answer(code), "created_at": line["created_at"],
            "extended_type": line["extended_type"],
            "holder": {"id": cco["pco_id"], "holder_type": "PotentialChangeOrder"},
            "line_item_type": None if kind is None else self._line_item_type_answer(kind),
            "origin_data": line["origin_data"], "origin_id": line["origin_id"],
            "position": line["position"],
            "project": {"id": project["id"], "name": project["name"]},
            "quantity": None if q is None else _plain(q), "tax_code_id": None,
            "total_amount": _money(line["amount"]),
            "extended_amount": _money(q * u) if q is not None and u is not None
            else _money(line["amount"]),
            "unit_cost": None if u is None else _money(u), "uom": line["uom"],
            "wbs_code": {"id": wbs["id"], "flat_code": wbs["flat_code"]},
            "updated_at": line["updated_at"],
            "change_event_line_item": None if ce_line is None else {
                "id": ce_line["id"], "cost_rom": _money(ce_line["estimated_cost_amount"]),
                "revenue_rom": None, "event_id": ce_line["event_id"],
                "cost_code": self._cost_code_answer(code),
                "line_item_type": None if kind is None else self._line_item_type_answer(kind),
                "currency_configuration": dict(CURRENCY)},
            "currency_configuration": dict(CURRENCY),
        }

    def _change_event_line(self, line_id: int | None) -> dict[str, Any] | None:
        if line_id is None:
            return None
        for event in self.state.change_events.values():
            for item in event["line_items"]:
                if item["id"] == line_id:
                    return dict(item, event_id=event["id"])
        return None

    def _pco_answer(self, cco: Mapping[str, Any], *, full: bool) -> dict[str, Any]:
        total = _money(self._cco_total(cco))
        common = {
            "id": cco["pco_id"], "contract_id": cco["contract_id"],
            "created_at": cco["created_at"], "deleted_at": cco["deleted_at"],
            "due_date": cco["due_date"], "invoiced_date": cco["invoiced_date"],
            "number": cco["number"], "paid_date": cco["paid_date"], "reviewed_at": None,
            "status": cco["status"], "title": cco["title"], "updated_at": cco["updated_at"],
            "revision": cco["revision"], "schedule_impact_amount": cco["schedule_impact_amount"],
            "grand_total": total, "currency_configuration": dict(CURRENCY),
        }
        if not full:
            return {**common, "created_by_id": cco["created_by"]["id"], "change_reason": None,
                    "change_order_request_id": None, "executed": cco["executed"],
                    "change_order_request_title": None,
                    "change_order_package_title": cco["title"],
                    "potential_change_order_acronym_number": f"PCO-{cco['number']}",
                    "change_order_request_acronym_number": None,
                    "change_order_package_acronym_number": f"CCO-{cco['number']}",
                    "change_order_tiers": 1}
        commitment = self._project_commitment(cco["project_id"], cco["contract_id"]) or {}
        lines = self.state.change_order_lines.get(cco["id"], {})
        answers = [self._pco_line_answer(cco, lines[i]) for i in sorted(lines)]
        return {**common, "accounting_method": commitment.get("accounting_method"),
                "change_order_change_reason_id": None, "change_order_request_id": None,
                "commitment_change_event_id": None, "creator": cco["created_by"],
                "description": cco["description"], "designated_reviewer": None,
                "field_change": cco["field_change"], "attachments": [], "line_items": answers,
                "line_items_extended_total": total, "line_items_total": total,
                "location_id": None, "origin_data": None, "origin_id": None,
                "paid": cco["paid"], "position": cco["position"], "prime_change_event_id": None,
                "private": cco["private"], "reason": cco["reason"], "received_from": None,
                "reference": cco["reference"], "request_for_quote_id": None, "reviewer": None,
                "vendor": commitment.get("vendor"), "void": cco["status"] == "void",
                "custom_fields": {}}

    # --- v2.0 handlers -----------------------------------------------------------------------
    def _v2_cco(self, m: re.Match[str]) -> dict[str, Any]:
        return self._cco(self._path_scope(m["company"], m["project"]), m["id"])

    def _h_list_cco_lines(self, req: _Request, m: re.Match[str]) -> _Response:
        cco = self._v2_cco(m)
        answer = self._page(req, self.state.change_order_lines.get(cco["id"], {}),
                            origin_filter=False, default_per_page=V2_PER_PAGE,
                            max_per_page=V2_MAX_PER_PAGE)
        answer.body = {"data": [self._cco_line_v2(cco, line) for line in answer.body]}
        return answer

    def _h_get_cco_line(self, req: _Request, m: re.Match[str]) -> _Response:
        cco = self._v2_cco(m)
        return _Response(200, {"data": self._cco_line_v2(cco, self._cco_line(cco, m["line"]))})

    def _h_create_cco_line(self, req: _Request, m: re.Match[str]) -> _Response:
        cco = self._v2_cco(m)
        body = _json_body(req)
        if body.get("wbs_code_id") is None:
            raise SandboxError(400, {"wbs_code_id": ["can't be blank"]})
        line = self._write_cco_line(cco, body, None, self._actor(req), req.events,
                                    keys=V2_LINE_KEYS, v2=True)
        return _Response(200, {"data": self._cco_line_v2(cco, line)})

    def _h_update_cco_line(self, req: _Request, m: re.Match[str]) -> _Response:
        cco = self._v2_cco(m)
        line = self._cco_line(cco, m["line"])
        self._write_cco_line(cco, _json_body(req), line, self._actor(req), req.events,
                             keys=V2_LINE_KEYS, v2=True)
        return _Response(200, {"data": self._cco_line_v2(cco, line)})

    def _delete_cco_line(self, cco: dict[str, Any], raw: object, actor: Actor,
                         out: list[_Outgoing], *, locked_ok: bool = False) -> None:
        line = self._cco_line(cco, raw)
        if cco["status"] in LOCKED_STATUSES and not locked_ok:
            raise SandboxError(400, {"base": [
                f"Line items of an {cco['status']} change order can't be changed"]})
        del self.state.change_order_lines[cco["id"]][line["id"]]
        self._line_written("delete", cco, line["id"], actor, out)

    def _h_delete_cco_line(self, req: _Request, m: re.Match[str]) -> _Response:
        cco = self._v2_cco(m)
        self._delete_cco_line(cco, m["line"], self._actor(req), req.events)
        return _Response(204)

    # --- PCO handlers ------------------------------------------------------------------------
    def _pco_cco(self, pid: int, raw: object) -> dict[str, Any]:
        cco_id = self.state.potential_change_orders.get(int(str(raw)))
        try:
            return self._cco(pid, -1 if cco_id is None else cco_id)
        except SandboxError:
            raise SandboxError(404, f"Potential change order {raw} not found") from None

    def _h_list_pcos(self, req: _Request, _: re.Match[str]) -> _Response:
        pid = self._project_param(req)
        include = req.param("filters[include_deleted]")
        if include not in (None, "", "only", "with"):
            raise SandboxError(400, "filters[include_deleted] must be one of only, with")
        wanted = {"only": (True,), "with": (False, True)}.get(include or "", (False,))
        contract = req.param("filters[contract_id]")
        rows = {c["pco_id"]: c for c in self.state.change_orders.values()
                if c["project_id"] == pid and bool(c.get("deleted_at")) in wanted
                and contract in (None, "", str(c["contract_id"]))}
        answer = self._page(req, rows, origin_filter=False)
        answer.body = [self._pco_answer(c, full=False) for c in answer.body]
        return answer

    def _h_get_pco(self, req: _Request, m: re.Match[str]) -> _Response:
        cco = self._pco_cco(self._project_param(req), m["id"])
        return _Response(200, self._pco_answer(cco, full=True))

    def _h_list_pco_lines(self, req: _Request, m: re.Match[str]) -> _Response:
        cco = self._pco_cco(self._project_param(req), m["id"])
        answer = self._page(req, self.state.change_order_lines.get(cco["id"], {}),
                            origin_filter=False)
        answer.body = [self._pco_line_answer(cco, line) for line in answer.body]
        return answer

    def _h_create_pco_line(self, req: _Request, m: re.Match[str]) -> _Response:
        body = _json_body(req)
        pid = self._body_project(req, body, missing_status=400)
        cco = self._pco_cco(pid, m["id"])
        try:
            fields = _wrapped(body, "line_item")
        except SandboxError as exc:
            raise SandboxError(400, exc.errors) from None
        line = self._write_cco_line(cco, fields, None, self._actor(req), req.events,
                                    keys=PCO_LINE_KEYS, v2=False)
        return _Response(201, self._pco_line_answer(cco, line))

    def _h_sync_pco_lines(self, req: _Request, m: re.Match[str]) -> _Response:
        """Match on ``id``, else ``origin_id`` (unknown: created); 200 entities/errors."""
        pid = self._project_param(req)
        cco = self._pco_cco(pid, m["id"])
        updates = _sync_updates(_json_body(req), status=400)
        lines = self.state.change_order_lines.setdefault(cco["id"], {})
        actor, entities, errors = self._actor(req), [], []
        for item in updates:
            if not isinstance(item, dict):
                errors.append({"update": item, "errors": {"base": ["must be a JSON object"]}})
                continue
            fields = {k: v for k, v in item.items() if k != "id"}
            line: dict[str, Any] | None = None
            if item.get("id") is not None:
                line = lines.get(item["id"]) if isinstance(item["id"], int) else None
                if line is None:
                    errors.append({**item, "errors": {"id": ["Entity with this ID not found"]}})
                    continue
            elif item.get("origin_id") is not None:
                line = next((x for x in lines.values() if x["origin_id"] == item["origin_id"]),
                            None)
            try:
                written = self._write_cco_line(cco, fields, line, actor, req.events,
                                               keys=PCO_LINE_KEYS, v2=False)
            except SandboxError as exc:
                errors.append({**item, "errors": exc.errors})
                continue
            entities.append(self._pco_line_answer(cco, written))
        return _Response(200, {"entities": entities, "errors": errors})

    # --- Python helpers (the web UI) ---------------------------------------------------------
    def add_cco_line(
        self, project_id: int, cco_id: int, *, amount: object, description: str | None = None,
        commitment_line_item_id: int | None = None, cost_code_id: int | None = None,
        line_item_type_id: int | None = None, wbs_code_id: int | None = None,
        quantity: object = None, unit_cost: object = None, uom: str | None = None,
    ) -> dict[str, Any]:
        """A line added in the web UI (also to an approved CCO); the v2.0 answer. Without a
        cost code and type it takes those of ``commitment_line_item_id``."""
        actor = self._web_actor("procore-web", None)

        def add(out: list[_Outgoing]) -> dict[str, Any]:
            cco = self._cco(project_id, cco_id)
            fields: dict[str, Any] = {"amount": amount, "description": description}
            if commitment_line_item_id is not None:
                fields["commitment_line_item_id"] = commitment_line_item_id
                sov = self.state.line_items.get(cco["contract_id"], {}).get(
                    commitment_line_item_id)
                if sov is not None and cost_code_id is None and wbs_code_id is None:
                    fields.update(cost_code_id=sov["cost_code_id"],
                                  line_item_type_id=sov["line_item_type_id"])
            for name, value in (("cost_code_id", cost_code_id), ("wbs_code_id", wbs_code_id),
                                ("line_item_type_id", line_item_type_id),
                                ("quantity", quantity), ("unit_cost", unit_cost), ("uom", uom)):
                if value is not None:
                    fields[name] = value
            keys = (*V2_LINE_KEYS, "cost_code_id", "line_item_type_id")
            line = self._write_cco_line(cco, fields, None, actor, out, keys=keys, v2=False,
                                        locked_ok=True)
            return self._cco_line_v2(cco, line)

        return self._helper(add)

    def delete_cco_line(self, project_id: int, cco_id: int, line_id: int) -> None:
        actor = self._web_actor("procore-web", None)
        self._helper(lambda out: self._delete_cco_line(
            self._cco(project_id, cco_id), line_id, actor, out, locked_ok=True))
