"""Line items (the schedule of values) of work order and purchase order contracts.

Moved out of ``commitments`` as they were: ``_create_line`` ... ``_delete_line`` are shared
by the HTTP handlers and the Python helpers in ``seeding``, and every write fires a
webhook attributed to the caller (``related_resources`` names the commitment).

Answers (``_line_answer``) follow ``sdk/RestV10WorkOrderContractsWorkOrderContractIdLineItems
Get.json`` and ``openapi/...LineItemsPost.json``: ``cost_code``, ``line_item_type`` and
``wbs_code`` objects, never flat ids; the request still takes ``cost_code_id``,
``line_item_type_id`` and ``wbs_code_id``. ``quantity``, ``unit_cost``, ``total_amount`` and
``extended_amount`` are decimal text. Each write recomputes the commitment's
``grand_total``. DELETE answers **200** with an empty body.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, ClassVar

from devstack.procore_sandbox.resources.commitments import (
    _ONE,
    CURRENCY,
    _decimal,
    _list_view,
    _money,
)
from devstack.procore_sandbox.resources.common import (
    INT,
    NUMERIC_TEXT,
    TEXT,
    FieldSpec,
    ResourceBase,
    _check_body,
)
from devstack.procore_sandbox.resources.cost_codes import refusals_as
from devstack.procore_sandbox.state import (
    KINDS,
    Actor,
    CommitmentKind,
    Route,
    SandboxError,
    _as_int,
    _json_body,
    _now_iso,
    _Request,
    _Response,
    _wrapped,
)
from devstack.procore_sandbox.webhook_payloads import _Outgoing

EXTENDED_TYPES = ("manual", "calculated")
#: the ``line_item`` of a create or update body (openapi/...LineItemsPost.json and
#: ...LineItemsIdPatch.json, both kinds: the same fields). ``uom`` is "any value present in
#: the company list of units of measure": the sandbox keeps no such list, so any text.
LINE_ITEM_REQUEST_FIELDS: Mapping[str, FieldSpec] = {
    "amount": NUMERIC_TEXT,
    "cost_code_id": INT,
    "description": TEXT,
    "extended_type": FieldSpec("enum", EXTENDED_TYPES),
    "quantity": NUMERIC_TEXT,
    "line_item_type_id": INT,
    "origin_data": TEXT,
    "origin_id": TEXT,
    "tax_code_id": INT,
    "unit_cost": NUMERIC_TEXT,
    "uom": TEXT,
    "wbs_code_id": INT,
}
HOLDER_TYPES = {
    "work_order_contracts": "WorkOrderContract",
    "purchase_order_contracts": "PurchaseOrderContract",
}


def _plain(value: Decimal) -> str:
    """Quantities like Procore shows them: "10.0", "2.5"."""
    text = format(value.normalize(), "f")
    return text if "." in text else text + ".0"


def _maybe_decimal(value: object) -> Decimal | None:
    return None if value is None else Decimal(str(value))


class LineItemsMixin(ResourceBase):
    """``/rest/v1.0/{work_order_contracts|purchase_order_contracts}/{id}/line_items``."""

    ROUTES: ClassVar[tuple[Route, ...]] = (
        ("GET", _ONE + "/line_items", "_h_list_lines", True),
        ("POST", _ONE + "/line_items", "_h_create_line", True),
        ("GET", _ONE + r"/line_items/(?P<line_id>\d+)", "_h_get_line", True),
        ("PATCH", _ONE + r"/line_items/(?P<line_id>\d+)", "_h_update_line", True),
        ("DELETE", _ONE + r"/line_items/(?P<line_id>\d+)", "_h_delete_line", True),
    )

    def _line(self, commitment_id: int, line_id: int | str) -> dict[str, Any]:
        record = self.state.line_items.get(commitment_id, {}).get(int(line_id))
        if record is None:
            raise SandboxError(404, f"Line item {line_id} not found")
        return record

    def _apply_line_fields(
        self, project_id: int, record: dict[str, Any], fields: Mapping[str, Any]
    ) -> None:
        """Validate then write; amount defaults to quantity x unit_cost when not given."""
        changes: dict[str, Any] = {}
        errors: dict[str, list[str]] = {}
        numbers: dict[str, Decimal | None] = {}
        for name in ("amount", "quantity", "unit_cost"):
            if name in fields:
                if fields[name] is None or fields[name] == "":
                    numbers[name] = None
                    continue
                try:
                    numbers[name] = _decimal(fields[name], name)
                except SandboxError:
                    errors[name] = ["is not a number"]
        # Written as ids (the request schema's names), answered as objects (_line_answer).
        for name, pool, error in (
            ("cost_code_id", self.state.cost_codes.get(project_id, {}), "cost_code"),
            ("line_item_type_id", self.state.line_item_types, "line_item_type"),
        ):
            if name in fields:
                raw = fields[name]
                found = None if raw is None else pool.get(_as_int(raw, name))
                if raw is not None and found is None:
                    errors[error] = ["must exist"]
                changes[name] = None if found is None else found["id"]
        if fields.get("wbs_code_id") is not None:  # names a cost code and a cost type
            pair = self._wbs_pair(project_id, _as_int(fields["wbs_code_id"], "wbs_code_id"))
            if pair is None:
                errors["wbs_code"] = ["must exist"]
            else:
                changes["cost_code_id"], changes["line_item_type_id"] = pair
        if fields.get("tax_code_id") is not None:
            errors["tax_code"] = ["must exist"]  # the sandbox has no tax codes
        if "extended_type" in fields:
            if fields["extended_type"] not in EXTENDED_TYPES:
                errors["extended_type"] = ["is not included in the list"]
            changes["extended_type"] = fields["extended_type"]
        for name in ("description", "uom", "origin_id", "origin_data"):
            if name in fields:
                changes[name] = None if fields[name] is None else str(fields[name])
        if "quantity" in numbers:
            q = numbers["quantity"]
            changes["quantity"] = None if q is None else _plain(q)
        if "unit_cost" in numbers:
            u = numbers["unit_cost"]
            changes["unit_cost"] = None if u is None else _money(u)
        amount = numbers.get("amount")
        if amount is not None:
            changes["amount"] = _money(amount)
        elif "amount" not in errors:
            q = numbers.get("quantity", _maybe_decimal(record.get("quantity")))
            u = numbers.get("unit_cost", _maybe_decimal(record.get("unit_cost")))
            if q is not None and u is not None and ("quantity" in fields or "unit_cost" in fields):
                changes["amount"] = _money(q * u)
            elif record.get("amount") is None or ("amount" in fields):
                errors["amount"] = ["can't be blank"]
        if errors:
            raise SandboxError(422, errors)
        record.update(changes)
        code = self.state.cost_codes.get(project_id, {}).get(record["cost_code_id"])
        if code is not None:  # its WBS code gets its id now, in write order
            self._wbs_code_id(code, record["line_item_type_id"])

    def _line_answer(
        self, kind: CommitmentKind, commitment: Mapping[str, Any], line: Mapping[str, Any]
    ) -> dict[str, Any]:
        """A line item as Procore answers it (sdk/...LineItemsGet.json), with the current
        cost code, cost type, WBS code and project (Procore joins them on read)."""
        project_id = commitment["project"]["id"]
        project = self.state.projects.get(project_id, commitment["project"])
        code = self.state.cost_codes.get(project_id, {}).get(line["cost_code_id"])
        cost_type = self.state.line_item_types.get(line["line_item_type_id"])
        quantity, unit_cost = _maybe_decimal(line["quantity"]), _maybe_decimal(line["unit_cost"])
        unit_based = quantity is not None and unit_cost is not None
        return {
            "id": line["id"],
            "amount": line["amount"],
            "company": {"id": self.company_id, "name": self.company_name},
            "cost_code": None if code is None else self._cost_code_answer(code),
            "created_at": line["created_at"],
            "description": line["description"],
            "extended_type": line["extended_type"],
            "holder": {"id": commitment["id"], "holder_type": HOLDER_TYPES[kind.segment]},
            "line_item_type": None if cost_type is None else self._line_item_type_answer(cost_type),
            "origin_data": line["origin_data"],
            "origin_id": line["origin_id"],
            "position": line["position"],
            "project": {"id": project["id"], "name": project["name"]},
            "quantity": line["quantity"],
            "tax_code_id": line["tax_code_id"],
            "total_amount": line["amount"],  # no tax here
            "extended_amount": _money(quantity * unit_cost) if unit_based else line["amount"],
            "unit_cost": line["unit_cost"],
            "uom": line["uom"],
            "wbs_code": None if code is None else self._wbs_code_answer(code, cost_type),
            "updated_at": line["updated_at"],
            "change_event_line_item": None,
            "currency_configuration": dict(CURRENCY),
        }

    def _recompute_total(self, commitment: dict[str, Any]) -> None:
        lines = self.state.line_items.get(commitment["id"], {}).values()
        total = sum((Decimal(line["amount"]) for line in lines), Decimal(0))
        commitment["grand_total"] = _money(total)
        commitment["updated_at"] = _now_iso()

    def _line_event(
        self,
        action: str,
        kind: CommitmentKind,
        commitment: dict[str, Any],
        line_id: int,
        actor: Actor,
        out: list[_Outgoing],
    ) -> None:
        related = [{"id": commitment["id"], "name": kind.resource_name}]
        project_id = commitment["project"]["id"]
        self._event(action, kind.line_resource_name, line_id, project_id, actor, out, related)

    def _create_line(
        self,
        kind_name: str,
        commitment_id: int,
        project_id: int | None,
        fields: Mapping[str, Any],
        actor: Actor,
        out: list[_Outgoing],
    ) -> dict[str, Any]:
        kind = self._kind(kind_name)
        commitment = self._commitment(kind, commitment_id, project_id)
        lines = self.state.line_items.setdefault(commitment["id"], {})
        now = _now_iso()
        record: dict[str, Any] = {
            "id": 0,
            "position": len(lines) + 1,
            "description": None,
            "amount": None,
            "quantity": None,
            "unit_cost": None,
            "uom": None,
            "cost_code_id": None,
            "line_item_type_id": None,
            "extended_type": "manual",
            "tax_code_id": None,
            "origin_id": None,
            "origin_data": None,
            "created_at": now,
            "updated_at": now,
        }
        self._apply_line_fields(commitment["project"]["id"], record, fields)
        record["id"] = self.state.next_id()
        lines[record["id"]] = record
        self._recompute_total(commitment)
        self._line_event("create", kind, commitment, record["id"], actor, out)
        return self._line_answer(kind, commitment, record)

    def _update_line(
        self,
        kind_name: str,
        commitment_id: int,
        line_id: int,
        project_id: int | None,
        fields: Mapping[str, Any],
        actor: Actor,
        out: list[_Outgoing],
    ) -> dict[str, Any]:
        kind = self._kind(kind_name)
        commitment = self._commitment(kind, commitment_id, project_id)
        record = self._line(commitment["id"], line_id)
        self._apply_line_fields(commitment["project"]["id"], record, fields)
        record["updated_at"] = _now_iso()
        self._recompute_total(commitment)
        self._line_event("update", kind, commitment, record["id"], actor, out)
        return self._line_answer(kind, commitment, record)

    def _delete_line(
        self,
        kind_name: str,
        commitment_id: int,
        line_id: int,
        project_id: int | None,
        actor: Actor,
        out: list[_Outgoing],
    ) -> None:
        kind = self._kind(kind_name)
        commitment = self._commitment(kind, commitment_id, project_id)
        record = self._line(commitment["id"], line_id)
        del self.state.line_items[commitment["id"]][record["id"]]
        self._recompute_total(commitment)
        self._line_event("delete", kind, commitment, record["id"], actor, out)

    def _h_list_lines(self, req: _Request, m: re.Match[str]) -> _Response:
        pid = self._project_param(req)
        kind = KINDS[m["kind"]]
        _list_view(req, kind.line_resource_name, "default", ("default", "ssov_source_lines"))
        commitment = self._commitment(kind, m["id"], pid)
        answer = self._page(req, self.state.line_items.get(commitment["id"], {}))
        answer.body = [self._line_answer(kind, commitment, line) for line in answer.body]
        return answer

    def _h_get_line(self, req: _Request, m: re.Match[str]) -> _Response:
        pid = self._project_param(req)
        kind = KINDS[m["kind"]]
        _list_view(req, kind.line_resource_name, "default", ("default", "ssov_source_lines"))
        commitment = self._commitment(kind, m["id"], pid)
        line = self._line(commitment["id"], m["line_id"])
        return _Response(200, self._line_answer(kind, commitment, line))

    def _h_create_line(self, req: _Request, m: re.Match[str]) -> _Response:
        with refusals_as(400):
            body = _json_body(req)
            pid = self._body_project(req, body)
            fields = _wrapped(body, "line_item")
            _check_body(fields, LINE_ITEM_REQUEST_FIELDS)
            assert req.actor is not None
            record = self._create_line(m["kind"], int(m["id"]), pid, fields, req.actor, req.events)
            return _Response(201, record)

    def _h_update_line(self, req: _Request, m: re.Match[str]) -> _Response:
        with refusals_as(400):
            body = _json_body(req)
            pid = self._body_project(req, body)
            fields = _wrapped(body, "line_item")
            _check_body(fields, LINE_ITEM_REQUEST_FIELDS)
            assert req.actor is not None
            record = self._update_line(
                m["kind"], int(m["id"]), int(m["line_id"]), pid, fields, req.actor, req.events
            )
            return _Response(200, record)

    def _h_delete_line(self, req: _Request, m: re.Match[str]) -> _Response:
        pid = self._project_param(req)
        assert req.actor is not None
        self._delete_line(m["kind"], int(m["id"]), int(m["line_id"]), pid, req.actor, req.events)
        return _Response(200)  # documented 200, empty body
