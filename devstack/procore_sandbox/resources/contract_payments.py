"""Contract payments of a commitment: ``/rest/v1.0/contract_payments``.

Shapes: ``procore-spec/openapi/RestV10ContractPayments*.json``. Choices: docs/decisions.md
("Sandbox subcontractor invoices ...").

* ``GET ?project_id=*&contract_id=*`` (paged), ``POST {project_id*, contract_id*,
  contract_payment: {...}}`` **201**, ``GET`` / ``DELETE`` (**200**, empty body)
  ``/{id}?project_id=&contract_id=``, ``PATCH /{id}`` (same body as the POST) **200**.
  Missing ``project_id``/``contract_id`` in a query: 400; an unknown contract: 404.
* ``amount`` (decimal text or a JSON number, at most 2 places, > 0) and ``date`` are
  required to create; ``amount`` answers as text with 2 places. ``requisition_id`` must
  name an approved invoice of the contract. ``payment_number`` defaults to 1, 2, ... per
  contract and is unique per contract. ``payment_method`` and ``invoice_date`` are taken
  but not in the answer (the schema has no such keys).
* Once ``origin_id`` is set, a PATCH may change only ``origin_id``/``origin_data``
  (422 otherwise: "All attributes other than 'attachments', 'origin_id', and
  'origin_data' will be locked if the contract payment is synced with an ERP system");
  DELETE answers 400 (it documents no 422).
* Refusals: POST/PATCH 422. Every write fires ``Contract Payments``.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, ClassVar

from devstack.procore_sandbox.resources.commitments import _money
from devstack.procore_sandbox.resources.common import (
    DATE,
    INT,
    MUST_EXIST,
    NOT_PERMITTED,
    REFS,
    TEXT,
    FieldSpec,
    ResourceBase,
    _schema_changes,
    _sync_values,
    _taken,
)
from devstack.procore_sandbox.resources.requisition_items import (
    LOCKED_REQUISITION_STATUSES,
    _amount,
)
from devstack.procore_sandbox.state import (
    Actor,
    Route,
    SandboxError,
    _json_body,
    _now_iso,
    _Request,
    _required_param,
    _Response,
)
from devstack.procore_sandbox.webhook_payloads import _Outgoing

CONTRACT_PAYMENTS_RESOURCE = "Contract Payments"
PAYMENT_METHODS = ("check", "credit_card", "electronic")
#: ``contract_payment`` of the POST and PATCH
PAYMENT_FIELDS: Mapping[str, FieldSpec] = {
    "date": DATE, "invoice_number": TEXT, "check_number": TEXT, "invoice_date": DATE,
    "draw_request_number": INT, "notes": TEXT, "payment_number": INT,
    "payment_method": FieldSpec("enum", (*PAYMENT_METHODS, None)),
    "amount": FieldSpec("custom"), "origin_id": TEXT, "origin_data": TEXT,
    "requisition_id": FieldSpec("custom"), "prostore_file_ids": REFS,
}
ORIGIN_KEYS = ("origin_id", "origin_data")
PAYMENT_KEYS = (
    "id", "amount", "check_number", "contract_id", "created_at", "updated_at", "date",
    "date_payment_settled", "date_payment_initiated", "draw_request_number",
    "external_payment_id", "invoice_number", "notes", "payment_number", "attachments",
    "project_id", "requisition_id", "origin_id", "origin_code", "origin_data", "status",
)
_BASE = r"/rest/v1\.0/contract_payments"


class ContractPaymentsMixin(ResourceBase):
    """``/rest/v1.0/contract_payments``."""

    ROUTES: ClassVar[tuple[Route, ...]] = (
        ("GET", _BASE, "_h_list_contract_payments", True),
        ("POST", _BASE, "_h_create_contract_payment", True),
        ("GET", _BASE + r"/(?P<id>\d+)", "_h_get_contract_payment", True),
        ("PATCH", _BASE + r"/(?P<id>\d+)", "_h_update_contract_payment", True),
        ("DELETE", _BASE + r"/(?P<id>\d+)", "_h_delete_contract_payment", True),
    )

    def _payment_answer(self, record: Mapping[str, Any]) -> dict[str, Any]:
        answer = {key: copy.deepcopy(record.get(key)) for key in PAYMENT_KEYS}
        answer.update(amount=_money(record["amount"]), attachments=[])
        return answer

    def _query_contract(self, req: _Request) -> tuple[int, dict[str, Any]]:
        pid = self._project_param(req)
        raw = _required_param(req, "contract_id")
        contract = self._project_commitment(pid, raw)  # ChangeOrdersMixin
        if contract is None:
            raise SandboxError(404, f"Contract {raw} not found")
        return pid, contract

    def _payment(self, contract: Mapping[str, Any], raw: object) -> dict[str, Any]:
        record = self.state.contract_payments.get(int(str(raw)))
        if record is None or record["contract_id"] != contract["id"]:
            raise SandboxError(404, f"Contract payment {raw} not found")
        return record

    def _payment_changes(self, pid: int, contract: dict[str, Any] | None,
                         body: Mapping[str, Any], record: dict[str, Any] | None
                         ) -> dict[str, Any]:
        errors: dict[str, list[str]] = {
            key: [NOT_PERMITTED] for key in body
            if key not in ("project_id", "contract_id", "contract_payment", "attachments")}
        if body.get("attachments"):
            errors["attachments"] = [MUST_EXIST]
        if contract is None:
            errors["contract"] = [MUST_EXIST if body.get("contract_id") is not None
                                  else "can't be blank"]
        fields = body.get("contract_payment", {} if record is not None else None)
        if not isinstance(fields, dict):
            raise SandboxError(422, {**errors, "contract_payment": ["can't be blank"]})
        changes: dict[str, Any] = {}
        _schema_changes(fields, PAYMENT_FIELDS, changes, errors)
        origin, invalid = _sync_values(fields, ORIGIN_KEYS, strict=True)
        errors.update({k: v for k, v in invalid.items() if k not in errors})
        changes.update(origin)
        if record is not None and record.get("origin_id"):
            locked = sorted(set(fields) - set(ORIGIN_KEYS))
            if locked:
                errors["base"] = ["The contract payment is synced with an ERP system "
                                  "(origin_id): only origin_id and origin_data can change, not "
                                  + ", ".join(locked)]
        if "amount" in fields:
            amount = _amount(fields["amount"], "amount", errors)
            if "amount" not in errors:
                if amount is None or amount <= 0:
                    errors["amount"] = ["must be greater than 0"]
                changes["amount"] = amount
        elif record is None:
            errors["amount"] = ["can't be blank"]
        if record is None and changes.get("date") is None and "date" not in errors:
            errors["date"] = ["can't be blank"]
        if fields.get("requisition_id") is not None and contract is not None:
            raw = fields["requisition_id"]
            invoice = (self.state.requisitions.get(raw)
                       if isinstance(raw, int) and not isinstance(raw, bool) else None)
            if invoice is None or invoice["commitment_id"] != contract["id"]:
                errors["requisition"] = [MUST_EXIST]
            elif invoice["status"] not in LOCKED_REQUISITION_STATUSES:
                errors["requisition"] = ["must be approved to be paid"]
            changes["requisition_id"] = raw
        elif "requisition_id" in fields:
            changes["requisition_id"] = None
        own = None if record is None else record["id"]
        number = changes.get("payment_number")
        if number is not None and contract is not None and any(
                p["contract_id"] == contract["id"] and p["payment_number"] == number
                and p["id"] != own for p in self.state.contract_payments.values()):
            errors["payment_number"] = ["has already been taken"]
        if changes.get("origin_id") is not None and _taken(
                self.state.contract_payments, "origin_id", changes["origin_id"], own):
            errors["origin_id"] = ["has already been taken"]
        if errors:
            raise SandboxError(422, errors)
        return {k: v for k, v in changes.items() if k != "prostore_file_ids"}

    def _payment_event(self, action: str, record: Mapping[str, Any], actor: Actor,
                       out: list[_Outgoing]) -> None:
        self._event(action, CONTRACT_PAYMENTS_RESOURCE, record["id"], record["project_id"],
                    actor, out)

    def _body_contract(self, req: _Request, pid: int, body: Mapping[str, Any]
                       ) -> dict[str, Any] | None:
        raw = body.get("contract_id", req.param("contract_id"))
        return None if raw is None else self._project_commitment(pid, raw)

    # --- handlers ----------------------------------------------------------------------------
    def _h_list_contract_payments(self, req: _Request, _: re.Match[str]) -> _Response:
        _, contract = self._query_contract(req)
        records = {i: p for i, p in self.state.contract_payments.items()
                   if p["contract_id"] == contract["id"]}
        answer = self._page(req, records, origin_filter=False)
        answer.body = [self._payment_answer(p) for p in answer.body]
        return answer

    def _h_get_contract_payment(self, req: _Request, m: re.Match[str]) -> _Response:
        _, contract = self._query_contract(req)
        return _Response(200, self._payment_answer(self._payment(contract, m["id"])))

    def _h_create_contract_payment(self, req: _Request, _: re.Match[str]) -> _Response:
        body = _json_body(req)
        pid = self._body_project(req, body)
        contract = self._body_contract(req, pid, body)
        changes = self._payment_changes(pid, contract, body, None)
        assert contract is not None
        now = _now_iso()
        if changes.get("payment_number") is None:
            changes["payment_number"] = 1 + max(
                (p["payment_number"] or 0 for p in self.state.contract_payments.values()
                 if p["contract_id"] == contract["id"]), default=0)
        record: dict[str, Any] = {
            **dict.fromkeys(PAYMENT_KEYS), "id": self.state.next_id(), "project_id": pid,
            "contract_id": contract["id"], "amount": Decimal(0), "created_at": now,
            "updated_at": now, **changes,
        }
        self.state.contract_payments[record["id"]] = record
        self._payment_event("create", record, self._actor(req), req.events)
        return _Response(201, self._payment_answer(record))

    def _h_update_contract_payment(self, req: _Request, m: re.Match[str]) -> _Response:
        body = _json_body(req)
        pid = self._body_project(req, body)
        contract = self._body_contract(req, pid, body)
        if contract is None:
            raise SandboxError(404, f"Contract {body.get('contract_id')} not found")
        record = self._payment(contract, m["id"])
        record.update(self._payment_changes(pid, contract, body, record))
        record["updated_at"] = _now_iso()
        self._payment_event("update", record, self._actor(req), req.events)
        return _Response(200, self._payment_answer(record))

    def _h_delete_contract_payment(self, req: _Request, m: re.Match[str]) -> _Response:
        _, contract = self._query_contract(req)
        record = self._payment(contract, m["id"])
        if record.get("origin_id"):
            raise SandboxError(400, {"base": ["The contract payment is synced with an ERP "
                                              "system (origin_id) and can't be deleted"]})
        del self.state.contract_payments[record["id"]]
        self._payment_event("delete", record, self._actor(req), req.events)
        return _Response(200)
