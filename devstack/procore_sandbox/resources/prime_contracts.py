"""Prime contracts (the owner side): ``/rest/v1.0/prime_contract`` and ``/prime_contracts``.

Shapes: ``procore-spec/openapi/RestV10PrimeContract{Post,IdPatch,IdGet,Get,IdDelete}.json``
and ``RestV10PrimeContractsGet.json`` (the list). Choices: docs/decisions.md ("Sandbox
prime contracts, PCCOs and owner invoices ...").

* ``POST /prime_contract`` ``{project_id*, prime_contract*: {...}}`` **201**; ``GET
  /prime_contract?project_id=`` the first (live) prime contract of the project (404 when
  none); ``GET|PATCH|DELETE /prime_contract/{id}`` (``project_id`` in the query, or the
  body for PATCH); ``GET /prime_contracts?project_id=`` the list (paged, ``filters[id]``,
  ``filters[updated_at]``). A project may hold several prime contracts (the reference's
  "Show First Prime Contract" presumes it).
* Every refusal answers **400** (the operations document 400 and no 422), naming the
  field: keys the request schema does not list, values of the wrong kind, an unknown
  vendor, a taken ``number`` (unique per project) or ``origin_id`` (unique per company).
  ``origin_code`` is shown by the list but not in the request schema: refused here.
* Amounts (decimal text, 2 places) are computed on every answer from the schedule of values
  (``prime_contract_lines``), the PCCOs (``prime_change_orders``) and the payment
  applications (``payment_applications``): ``grand_total`` = ``line_items_total`` =
  ``line_items_extended_total`` = the lines' sum; approved / pending / draft change orders
  as commitments do (``CCO_AMOUNT_STATUSES``); revised = grand total + approved; pending
  revised = revised + pending; ``owner_invoices_amount`` = the approved invoices' work
  this period; ``total_payments`` "0.00" (payments received are not modelled);
  ``outstanding_balance`` = revised - payments; ``percentage_paid``.
* DELETE answers **200**, empty, and soft deletes (lists leave it out; show, update, lines
  answer 404). A prime contract with an approved PCCO or an approved invoice is refused
  (400). Writes fire ``Prime Contracts``.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar

from devstack.procore_sandbox.resources.commitments import CURRENCY, _money
from devstack.procore_sandbox.resources.common import (
    BOOL,
    DATE,
    INT,
    MUST_EXIST,
    NOT_PERMITTED,
    NUMERIC_TEXT,
    REFS,
    TEXT,
    FieldSpec,
    ResourceBase,
    _schema_changes,
    _taken,
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

PRIME_CONTRACTS_RESOURCE = "Prime Contracts"
#: openapi/RestV10PrimeContractPost.json ``prime_contract.status``
PRIME_CONTRACT_STATUSES = ("Draft", "Out For Bid", "Out For Signature", "Approved", "Complete",
                           "Terminated")
#: statuses of a PCCO counted in each amount (as commitments count their CCOs)
CCO_AMOUNT_STATUSES = {
    "approved": ("approved",),
    "pending": ("pending", "pricing", "not_pricing", "revised", "proceeding",
                "not_proceeding"),
    "draft": ("draft",),
}
_NO_EFFECT = FieldSpec("number", stored=())
#: ``prime_contract`` of the POST and PATCH (the same keys in both)
PRIME_REQUEST_FIELDS: Mapping[str, FieldSpec] = {
    "actual_completion_date": DATE, "approval_letter_date": DATE, "architect_id": INT,
    "contractor_id": INT, "contract_date": DATE, "contract_estimated_completion_date": DATE,
    "contract_start_date": DATE, "description": TEXT, "exclusions": TEXT, "executed": BOOL,
    "execution_date": DATE, "inclusions": TEXT, "issued_on_date": DATE,
    "letter_of_intent_date": DATE, "number": TEXT, "origin_data": TEXT, "origin_id": TEXT,
    "retainage_percent": NUMERIC_TEXT, "returned_date": DATE,
    "signed_contract_received_date": DATE, "status": FieldSpec("enum", PRIME_CONTRACT_STATUSES),
    "title": TEXT, "vendor_id": FieldSpec("custom"),
    "accounting_method": FieldSpec("enum", ("amount", "unit")),
    "drawing_revision_ids": REFS, "file_version_ids": REFS, "form_ids": REFS, "image_ids": REFS,
    "upload_ids": REFS, "currency_exchange_rate": _NO_EFFECT,
    "currency_iso_code": FieldSpec("text", stored=()),
}
_CUSTOM_FIELD = re.compile(r"custom_field_\d+")
#: openapi/RestV10PrimeContractsGet.json items
LIST_KEYS = (
    "id", "accounting_method", "actual_completion_date", "approval_letter_date",
    "approved_change_orders", "contract_date", "contract_estimated_completion_date",
    "contract_start_date", "contract_termination_date", "created_at", "deleted_at",
    "description", "executed", "execution_date", "exclusions", "grand_total", "inclusions",
    "issued_on_date", "letter_of_intent_date", "number", "origin_code", "origin_data",
    "origin_id", "private", "retainage_percent", "returned_date",
    "signed_contract_received_date", "show_line_items_to_non_admins", "status", "title",
    "updated_at", "architect", "attachments", "contractor", "created_by", "vendor",
    "currency_configuration",
)
#: openapi/RestV10PrimeContractIdGet.json (show, POST, PATCH)
FULL_KEYS = (
    "id", "accounting_method", "actual_completion_date", "allow_comments", "allow_markups",
    "allow_payment_applications", "allow_payments", "allow_redistributions",
    "approval_letter_date", "approved_change_orders", "bill_to", "budget_line_item_id",
    "contract_date", "contract_estimated_completion_date", "contract_start_date",
    "contract_termination_date", "created_at", "deleted_at", "delivery_date", "description",
    "display_materials_retainage", "display_stored_materials", "display_work_retainage",
    "draft_change_orders_amount", "exclusions", "executed", "execution_date", "grand_total",
    "inclusions", "issued_on_date", "letter_of_intent_date", "line_items_extended_total",
    "line_items_total", "number", "origin_data", "origin_id", "outstanding_balance",
    "owner_invoices_amount", "payment_terms", "pending_change_orders_amount",
    "pending_revised_contract_amount", "percentage_paid", "position", "private",
    "requisition_number", "retainage_percent", "returned_date", "revised_contract_amount",
    "ship_to", "ship_via", "signed_contract_received_date", "show_line_items_to_non_admins",
    "status", "title", "total_payments", "type", "updated_at",
    "original_substantial_completion_date", "substantial_completion_date", "architect",
    "assigned_to", "attachments", "change_order_packages", "change_order_requests",
    "contractor", "cost_code", "created_by", "line_items", "potential_change_orders",
    "payments_received", "received_from", "vendor", "currency_configuration",
)
_ONE = r"/rest/v1\.0/prime_contract/(?P<id>\d+)"


class PrimeContractsMixin(ResourceBase):
    """``/rest/v1.0/prime_contract(s)``: the owner's contract of a project."""

    ROUTES: ClassVar[tuple[Route, ...]] = (
        ("GET", r"/rest/v1\.0/prime_contract", "_h_first_prime_contract", True),
        ("POST", r"/rest/v1\.0/prime_contract", "_h_create_prime_contract", True),
        ("GET", _ONE, "_h_get_prime_contract", True),
        ("PATCH", _ONE, "_h_update_prime_contract", True),
        ("DELETE", _ONE, "_h_delete_prime_contract", True),
        ("GET", r"/rest/v1\.0/prime_contracts", "_h_list_prime_contracts", True),
    )

    # --- lookups and sums --------------------------------------------------------------------
    def _prime_contract(self, project_id: int, raw: object) -> dict[str, Any]:
        """A live prime contract of the project; deleted or elsewhere: 404."""
        try:
            record = self.state.prime_contracts.get(int(str(raw)))
        except ValueError:
            record = None
        if record is None or record.get("deleted_at") or record["project_id"] != project_id:
            raise SandboxError(404, f"Prime contract {raw} not found")
        return record

    def _prime_sums(self, contract: Mapping[str, Any]) -> dict[str, Decimal]:
        lines = self.state.prime_lines.get(contract["id"], {}).values()
        grand = sum((line["amount"] for line in lines), Decimal(0))
        by_status = dict.fromkeys(CCO_AMOUNT_STATUSES, Decimal(0))
        for pcco in self.state.prime_change_orders.values():
            if pcco["contract_id"] != contract["id"] or pcco.get("deleted_at"):
                continue
            for name, statuses in CCO_AMOUNT_STATUSES.items():
                if pcco["status"] in statuses:
                    by_status[name] += self._pcco_total(pcco)  # PrimeChangeOrdersMixin
        invoiced = sum((self._pay_app_period_total(app)  # PaymentApplicationsMixin
                        for app in self.state.payment_applications.values()
                        if app["contract_id"] == contract["id"] and app["status"] == "approved"),
                       Decimal(0))
        return {"grand": grand, "invoiced": invoiced, **by_status}

    # --- answers -----------------------------------------------------------------------------
    def _prime_answer(self, record: Mapping[str, Any], *, full: bool) -> dict[str, Any]:
        sums = self._prime_sums(record)
        keys = FULL_KEYS if full else LIST_KEYS
        answer = {key: copy.deepcopy(record.get(key)) for key in keys}
        vendor = self.state.vendors.get(record["vendor_id"]) if record["vendor_id"] else None
        answer.update(
            vendor=None if vendor is None else {"id": vendor["id"], "name": vendor["name"]},
            grand_total=_money(sums["grand"]), approved_change_orders=_money(sums["approved"]),
            attachments=[], currency_configuration=dict(CURRENCY),
        )
        if not full:
            return answer
        revised = sums["grand"] + sums["approved"]
        paid = Decimal(0)
        answer.update(
            line_items_total=_money(sums["grand"]), line_items_extended_total=_money(sums["grand"]),
            draft_change_orders_amount=_money(sums["draft"]),
            pending_change_orders_amount=_money(sums["pending"]),
            revised_contract_amount=_money(revised),
            pending_revised_contract_amount=_money(revised + sums["pending"]),
            owner_invoices_amount=_money(sums["invoiced"]), total_payments=_money(paid),
            outstanding_balance=_money(revised - paid),
            percentage_paid=_money(paid / revised * 100 if revised else Decimal(0)),
            type="PrimeContract", allow_payment_applications=True, allow_payments=True,
            allow_redistributions=False,
            change_order_packages=[self._pcco_package_row(p) for p in self._pccos_of(record)],
            change_order_requests=[], potential_change_orders=[], payments_received=[],
            line_items=self._prime_line_answers(record),  # PrimeContractLinesMixin
        )
        return answer

    def _pccos_of(self, contract: Mapping[str, Any]) -> list[dict[str, Any]]:
        return [p for _, p in sorted(self.state.prime_change_orders.items())
                if p["contract_id"] == contract["id"] and not p.get("deleted_at")]

    # --- writes ------------------------------------------------------------------------------
    def _prime_changes(self, pid: int, fields: Mapping[str, Any],
                       record: dict[str, Any] | None) -> dict[str, Any]:
        """The checked changes of a ``prime_contract`` object; every refusal answers 400."""
        errors = {name: [MUST_EXIST] for name in fields if _CUSTOM_FIELD.fullmatch(name)}
        changes: dict[str, Any] = {}
        _schema_changes(fields, PRIME_REQUEST_FIELDS, changes, errors, handled=errors)
        if fields.get("vendor_id") is not None:
            raw = fields["vendor_id"]
            if isinstance(raw, bool) or not isinstance(raw, int):
                errors["vendor_id"] = ["is not a number"]
            elif raw not in self.state.vendors:
                errors["vendor"] = [MUST_EXIST]
            changes["vendor_id"] = raw
        elif "vendor_id" in fields:
            changes["vendor_id"] = None
        if changes.get("retainage_percent") is not None and "retainage_percent" not in errors:
            try:
                percent = Decimal(str(changes["retainage_percent"]).strip())
                if not Decimal(0) <= percent <= Decimal(100):
                    raise ValueError
            except (ArithmeticError, ValueError):
                errors["retainage_percent"] = ["must be a number between 0 and 100"]
            else:
                changes["retainage_percent"] = _money(percent)
        own = None if record is None else record["id"]
        number = changes.get("number")
        if number is not None and any(
                c["number"] == number and c["project_id"] == pid and c["id"] != own
                for c in self.state.prime_contracts.values()):
            errors["number"] = ["has already been taken"]
        if changes.get("origin_id") is not None and _taken(
                self.state.prime_contracts, "origin_id", changes["origin_id"], own):
            errors["origin_id"] = ["has already been taken"]
        if "status" in changes and changes["status"] is None:
            errors["status"] = ["can't be blank"]
        if errors:
            raise SandboxError(400, errors)
        return changes

    def _create_prime_contract(self, pid: int, fields: Mapping[str, Any], actor: Actor,
                               out: list[_Outgoing]) -> dict[str, Any]:
        project = self._project(pid)  # ProjectsMixin
        changes = self._prime_changes(pid, fields, None)
        now = _now_iso()
        record: dict[str, Any] = dict.fromkeys(FULL_KEYS)
        taken = {c["number"] for c in self.state.prime_contracts.values()
                 if c["project_id"] == pid}
        number = 1
        while str(number) in taken:
            number += 1
        record.update(
            id=self.state.next_id(), project_id=project["id"], number=str(number),
            status="Draft", executed=False, private=False, accounting_method="amount",
            show_line_items_to_non_admins=False, vendor_id=None, origin_code=None,
            display_materials_retainage=False, display_stored_materials=False,
            display_work_retainage=True, allow_comments=False, allow_markups=False,
            position=len(taken) + 1, created_at=now, updated_at=now, deleted_at=None,
            created_by={"id": actor.user_id, "login": None, "name": None},
        )
        record.update(changes)
        self.state.prime_contracts[record["id"]] = record
        self.state.prime_lines[record["id"]] = {}
        self._event("create", PRIME_CONTRACTS_RESOURCE, record["id"], pid, actor, out)
        return record

    def _update_prime_contract(self, record: dict[str, Any], fields: Mapping[str, Any],
                               actor: Actor, out: list[_Outgoing]) -> dict[str, Any]:
        record.update(self._prime_changes(record["project_id"], fields, record))
        self._touch_prime_contract(record, actor, out)
        return record

    def _touch_prime_contract(self, record: dict[str, Any], actor: Actor,
                              out: list[_Outgoing]) -> None:
        record["updated_at"] = _now_iso()
        self._event("update", PRIME_CONTRACTS_RESOURCE, record["id"], record["project_id"],
                    actor, out)

    @staticmethod
    def _prime_body(body: Mapping[str, Any]) -> dict[str, Any]:
        extra = sorted(set(body) - {"project_id", "prime_contract", "attachments"})
        errors: dict[str, list[str]] = {key: [NOT_PERMITTED] for key in extra}
        if body.get("attachments"):
            errors["attachments"] = [MUST_EXIST]
        fields = body.get("prime_contract")
        if not isinstance(fields, dict):
            errors["prime_contract"] = ["can't be blank"]
        if errors:
            raise SandboxError(400, errors)
        return fields  # type: ignore[return-value]

    # --- handlers ----------------------------------------------------------------------------
    def _h_first_prime_contract(self, req: _Request, _: re.Match[str]) -> _Response:
        pid = self._project_param(req)
        live = [c for _, c in sorted(self.state.prime_contracts.items())
                if c["project_id"] == pid and not c.get("deleted_at")]
        if not live:
            raise SandboxError(404, f"Project {pid} has no prime contract")
        return _Response(200, self._prime_answer(live[0], full=True))

    def _h_list_prime_contracts(self, req: _Request, _: re.Match[str]) -> _Response:
        pid = self._project_param(req)
        records = {i: c for i, c in self.state.prime_contracts.items()
                   if c["project_id"] == pid and not c.get("deleted_at")}
        ids = req.query.get("filters[id][]", []) + req.query.get("filters[id]", [])
        wanted = {part for raw in ids for part in raw.split(",") if part}
        if wanted:
            records = {i: c for i, c in records.items() if str(i) in wanted}
        raw = req.param("filters[updated_at]")
        if raw not in (None, ""):
            assert raw is not None
            low, high = self._updated_at_range(raw)  # CommitmentsMixin
            records = {i: c for i, c in records.items()
                       if low <= datetime.fromisoformat(c["updated_at"].replace("Z", "+00:00"))
                       <= high}
        answer = self._page(req, records, origin_filter=False)
        answer.body = [self._prime_answer(c, full=False) for c in answer.body]
        return answer

    def _h_get_prime_contract(self, req: _Request, m: re.Match[str]) -> _Response:
        pid = self._project_param(req)
        return _Response(200, self._prime_answer(self._prime_contract(pid, m["id"]), full=True))

    def _h_create_prime_contract(self, req: _Request, _: re.Match[str]) -> _Response:
        body = _json_body(req)
        if body.get("project_id") in (None, ""):
            raise SandboxError(400, {"project_id": ["can't be blank"]})
        pid = self._body_project(req, body, missing_status=400)
        fields = self._prime_body(body)
        record = self._create_prime_contract(pid, fields, self._actor(req), req.events)
        return _Response(201, self._prime_answer(record, full=True))

    def _h_update_prime_contract(self, req: _Request, m: re.Match[str]) -> _Response:
        body = _json_body(req)
        pid = self._body_project(req, body, missing_status=400)
        record = self._prime_contract(pid, m["id"])
        fields = self._prime_body(body)
        self._update_prime_contract(record, fields, self._actor(req), req.events)
        return _Response(200, self._prime_answer(record, full=True))

    def _h_delete_prime_contract(self, req: _Request, m: re.Match[str]) -> _Response:
        pid = self._project_param(req)
        record = self._prime_contract(pid, m["id"])
        if any(p["status"] == "approved" for p in self._pccos_of(record)) or any(
                a["contract_id"] == record["id"] and a["status"] == "approved"
                for a in self.state.payment_applications.values()):
            raise SandboxError(400, {"base": ["A prime contract with approved change orders "
                                              "or invoices can't be deleted"]})
        record["deleted_at"] = record["updated_at"] = _now_iso()
        self._event("delete", PRIME_CONTRACTS_RESOURCE, record["id"], pid, self._actor(req),
                    req.events)
        return _Response(200)
