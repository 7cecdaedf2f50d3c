"""A prime contract's schedule of values: ``/rest/v1.0/prime_contracts/{id}/line_items``.

Shapes: ``procore-spec/openapi/RestV10PrimeContractsPrimeContractIdLineItems{Get,Post,
SyncPatch}.json``. Choices: docs/decisions.md ("Sandbox prime contracts, PCCOs and owner
invoices ...").

* ``GET ?project_id=*`` (paged), ``POST {project_id*, line_item*: {...}}`` **201**, ``PATCH
  /sync?project_id=*`` ``{updates*: [...]}`` **200** ``{entities, errors}`` (Procore's sync
  rules, ``common._sync``: matched on ``id``, else ``origin_id``, else created).
* A line names its cost code and cost type (``cost_code_id`` + ``line_item_type_id``, or a
  ``wbs_code_id`` standing for both), optional. ``amount`` is decimal text (a JSON number
  is taken too) and required to create, unless ``quantity`` and ``unit_cost`` are given
  (then ``amount`` = their product, ``extended_type: calculated``). Answers show ``amount``
  as text with 2 places, ``quantity``/``unit_cost``/``total_amount``/``extended_amount`` as
  text (``format: float``).
* Refusals answer **400** naming the field (the operations document 400, no 422). Lines of
  a prime contract that has an approved owner invoice or is ``Approved`` with an
  ``origin_id`` (synced to the ERP) take only origin fields. Each write fires ``Prime
  Contract Line Items`` and ``Prime Contracts`` (its amounts changed).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, ClassVar

from devstack.procore_sandbox.resources.change_order_lines import _amount_value
from devstack.procore_sandbox.resources.commitments import CURRENCY, _money
from devstack.procore_sandbox.resources.common import (
    MUST_EXIST,
    NOT_PERMITTED,
    ORIGIN_ID_DATA,
    ResourceBase,
    _sync_updates,
)
from devstack.procore_sandbox.resources.line_items import EXTENDED_TYPES
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

PRIME_LINE_ITEMS_RESOURCE = "Prime Contract Line Items"
#: ``line_item`` of the POST and each sync update (plus ``id`` in a sync)
PRIME_LINE_KEYS = ("amount", "cost_code_id", "description", "extended_type", "quantity",
                   "line_item_type_id", "origin_data", "origin_id", "tax_code_id",
                   "unit_cost", "uom", "wbs_code_id")
_BASE = r"/rest/v1\.0/prime_contracts/(?P<contract>\d+)/line_items"


class PrimeContractLinesMixin(ResourceBase):
    """The schedule of values of a prime contract."""

    ROUTES: ClassVar[tuple[Route, ...]] = (
        ("GET", _BASE, "_h_list_prime_lines", True),
        ("POST", _BASE, "_h_create_prime_line", True),
        ("PATCH", _BASE + r"/sync", "_h_sync_prime_lines", True),
    )

    # --- answers -----------------------------------------------------------------------------
    def _prime_line_answer(self, contract: Mapping[str, Any],
                           line: Mapping[str, Any]) -> dict[str, Any]:
        pid = contract["project_id"]
        project = self.state.projects[pid]
        code = self.state.cost_codes.get(pid, {}).get(line["cost_code_id"] or -1)
        cost_type = self.state.line_item_types.get(line["line_item_type_id"] or -1)
        amount = _money(line["amount"])
        return {
            "id": line["id"], "amount": amount,
            "company": {"id": self.company_id, "name": self.company_name},
            "cost_code": None if code is None else self._cost_code_answer(code),
            "created_at": line["created_at"], "description": line["description"],
            "extended_type": line["extended_type"],
            "holder": {"id": contract["id"], "holder_type": "PrimeContract"},
            "line_item_type": (None if cost_type is None
                               else self._line_item_type_answer(cost_type)),
            "origin_data": line["origin_data"], "origin_id": line["origin_id"],
            "position": line["position"],
            "project": {"id": project["id"], "name": project["name"]},
            "quantity": None if line["quantity"] is None else str(line["quantity"]),
            "tax_code_id": None, "total_amount": amount, "extended_amount": amount,
            "unit_cost": None if line["unit_cost"] is None else str(line["unit_cost"]),
            "uom": line["uom"],
            "wbs_code": None if code is None else self._wbs_code_answer(code, cost_type),
            "updated_at": line["updated_at"], "change_event_line_item": None,
            "currency_configuration": dict(CURRENCY),
        }

    def _prime_line_answers(self, contract: Mapping[str, Any]) -> list[dict[str, Any]]:
        lines = self.state.prime_lines.get(contract["id"], {})
        return [self._prime_line_answer(contract, lines[i]) for i in sorted(lines)]

    # --- validation --------------------------------------------------------------------------
    def _prime_locked(self, contract: Mapping[str, Any]) -> bool:
        """Only origin fields of its lines change: invoiced, or approved and synced."""
        invoiced = any(a["contract_id"] == contract["id"] and a["status"] == "approved"
                       for a in self.state.payment_applications.values())
        return invoiced or (contract["status"] == "Approved" and bool(contract["origin_id"]))

    def _prime_line_changes(self, contract: Mapping[str, Any], fields: Mapping[str, Any],
                            line: Mapping[str, Any] | None, *, sync: bool = False
                            ) -> tuple[dict[str, Any], dict[str, list[str]]]:
        keys = (*PRIME_LINE_KEYS, "id") if sync else PRIME_LINE_KEYS
        errors: dict[str, list[str]] = {k: [NOT_PERMITTED] for k in fields if k not in keys}
        changes: dict[str, Any] = {}
        own = set(fields) - {"id", *ORIGIN_ID_DATA}
        if own and self._prime_locked(contract):
            errors["base"] = ["The prime contract is invoiced or synced with an ERP system: "
                              "only origin_id and origin_data of its line items can change"]
        if fields.get("tax_code_id") is not None:
            errors["tax_code"] = [MUST_EXIST]
        for name in ("description", "uom", "origin_id", "origin_data"):
            if name in fields:
                value = fields[name]
                if value is not None and not isinstance(value, str):
                    errors[name] = ["is invalid"]
                else:
                    changes[name] = value or None
        if "extended_type" in fields:
            if fields["extended_type"] not in EXTENDED_TYPES:
                errors["extended_type"] = ["is not included in the list"]
            else:
                changes["extended_type"] = fields["extended_type"]
        if "wbs_code_id" in fields or "cost_code_id" in fields or "line_item_type_id" in fields:
            pair = self._line_wbs(contract["project_id"], fields, errors)  # ChangeOrderLines
            if pair is not None:
                changes["cost_code_id"], changes["line_item_type_id"] = pair
        numbers = {n: _amount_value(fields[n], n, errors)
                   for n in ("amount", "quantity", "unit_cost") if n in fields}
        for name in ("quantity", "unit_cost"):
            if name in numbers:
                changes[name] = numbers[name]
        if numbers.get("amount") is not None:
            if numbers["amount"] != numbers["amount"].quantize(Decimal("0.01")):
                errors["amount"] = ["must have at most 2 decimal places"]
            changes["amount"] = numbers["amount"]
            changes.setdefault("extended_type", "manual")
        elif "amount" not in errors:
            quantity = changes.get("quantity", None if line is None else line["quantity"])
            unit_cost = changes.get("unit_cost", None if line is None else line["unit_cost"])
            if quantity is not None and unit_cost is not None and (
                    "quantity" in numbers or "unit_cost" in numbers):
                changes["amount"] = (quantity * unit_cost).quantize(Decimal("0.01"))
                changes["extended_type"] = "calculated"
            elif line is None or "amount" in fields:
                errors["amount"] = ["can't be blank"]
        return changes, errors

    # --- writes ------------------------------------------------------------------------------
    def _new_prime_line(self, contract: Mapping[str, Any]) -> dict[str, Any]:
        lines = self.state.prime_lines.setdefault(contract["id"], {})
        now = _now_iso()
        line: dict[str, Any] = {
            "id": self.state.next_id(), "position": len(lines) + 1, "amount": Decimal(0),
            "description": None, "quantity": None, "unit_cost": None, "uom": None,
            "cost_code_id": None, "line_item_type_id": None, "extended_type": "manual",
            "origin_id": None, "origin_data": None, "created_at": now, "updated_at": now,
        }
        lines[line["id"]] = line
        return line

    def _prime_line_written(self, action: str, contract: dict[str, Any], line_id: int,
                            actor: Actor, out: list[_Outgoing]) -> None:
        related = [{"id": contract["id"], "name": "Prime Contracts"}]
        self._event(action, PRIME_LINE_ITEMS_RESOURCE, line_id, contract["project_id"], actor,
                    out, related)
        self._touch_prime_contract(contract, actor, out)  # PrimeContractsMixin

    def _create_prime_line(self, contract: dict[str, Any], fields: Mapping[str, Any],
                           actor: Actor, out: list[_Outgoing]) -> dict[str, Any]:
        changes, errors = self._prime_line_changes(contract, fields, None)
        origin_id = changes.get("origin_id")
        if origin_id is not None and any(
                line["origin_id"] == origin_id for lines in self.state.prime_lines.values()
                for line in lines.values()):
            errors["origin_id"] = ["has already been taken"]
        if errors:
            raise SandboxError(400, errors)
        line = self._new_prime_line(contract)
        line.update(changes)
        self._prime_line_written("create", contract, line["id"], actor, out)
        return line

    def _lines_contract(self, req: _Request, m: re.Match[str],
                        body: Mapping[str, Any] | None = None) -> dict[str, Any]:
        raw = (body or {}).get("project_id") or req.param("project_id")
        if raw in (None, ""):
            raise SandboxError(400, "param is missing or the value is empty: project_id")
        pid = int(self._project(str(raw))["id"]) if str(raw).isdigit() else None
        if pid is None:
            raise SandboxError(400, {"project_id": ["is not a number"]})
        return self._prime_contract(pid, m["contract"])  # PrimeContractsMixin

    # --- handlers ----------------------------------------------------------------------------
    def _h_list_prime_lines(self, req: _Request, m: re.Match[str]) -> _Response:
        contract = self._lines_contract(req, m)
        answer = self._page(req, self.state.prime_lines.get(contract["id"], {}),
                            origin_filter=False)
        answer.body = [self._prime_line_answer(contract, line) for line in answer.body]
        return answer

    def _h_create_prime_line(self, req: _Request, m: re.Match[str]) -> _Response:
        body = _json_body(req)
        contract = self._lines_contract(req, m, body)
        extra = sorted(set(body) - {"project_id", "line_item"})
        fields = body.get("line_item")
        if extra or not isinstance(fields, dict):
            errors = {key: [NOT_PERMITTED] for key in extra}
            if not isinstance(fields, dict):
                errors["line_item"] = ["can't be blank"]
            raise SandboxError(400, errors)
        line = self._create_prime_line(contract, fields, self._actor(req), req.events)
        return _Response(201, self._prime_line_answer(contract, line))

    def _h_sync_prime_lines(self, req: _Request, m: re.Match[str]) -> _Response:
        body = _json_body(req)
        contract = self._lines_contract(req, m, body)
        updates = _sync_updates(body, status=400)
        actor = self._actor(req)
        pool = {i: line for lines in self.state.prime_lines.values()
                for i, line in lines.items()}
        scope = self.state.prime_lines.setdefault(contract["id"], {})

        def validate(item: Mapping[str, Any], record: dict[str, Any] | None
                     ) -> tuple[dict[str, Any], dict[str, list[str]]]:
            return self._prime_line_changes(contract, item, record, sync=True)

        created: set[int] = set()

        def create(_: Mapping[str, Any]) -> dict[str, Any]:
            line = self._new_prime_line(contract)
            created.add(line["id"])
            return line

        changed: list[int] = []
        answer = self._sync(updates, scope, pool, create=create,
                            on_change=lambda record: changed.append(record["id"]),
                            validate=validate, origin_fields=ORIGIN_ID_DATA, strict=True)
        for line_id in changed:
            action = "create" if line_id in created else "update"
            self._event(action, PRIME_LINE_ITEMS_RESOURCE, line_id, contract["project_id"],
                        actor, req.events, [{"id": contract["id"], "name": "Prime Contracts"}])
        if changed:
            self._touch_prime_contract(contract, actor, req.events)
        answer.body["entities"] = [self._prime_line_answer(contract, e)
                                   for e in answer.body["entities"]]
        return answer
