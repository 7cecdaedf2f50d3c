"""Payment applications (owner invoices) of a prime contract.

Shapes: ``procore-spec/openapi/RestV10PrimeContractsPrimeContractIdPaymentApplications{Get,
Post,IdPatch}.json`` and ``RestV10PaymentApplications{Get,IdGet,IdDelete}.json``. Choices:
docs/decisions.md ("Sandbox prime contracts, PCCOs and owner invoices ...").

* ``GET|POST /rest/v1.0/prime_contracts/{c}/payment_applications`` (list: ``project_id*``,
  ``filters[id]``, ``filters[is_last]``, 30 a page; POST ``{project_id*,
  payment_application: {...}}`` **201**), ``PATCH .../{id}`` **200**; ``GET
  /rest/v1.0/payment_applications?project_id=`` (the project's), ``GET|DELETE
  /rest/v1.0/payment_applications/{id}?project_id=`` (200; DELETE answers an empty body).
  Every answer is the list item's shape.
* The request schemas carry no amounts: what an invoice bills is entered in Procore's UI
  (the schedule of values grid). The sandbox keeps it per prime contract line (``items``:
  line id -> work completed this period), written by ``create_payment_application`` (a
  Python helper standing for that UI, firing the webhook like it); over HTTP an invoice
  starts at 0. The ``g702`` summary is computed from it (retainage at the prime contract's
  ``retainage_percent``, earlier invoices of the contract counted as previous).
* Refusals: **400** naming the field (an undocumented key, a wrong kind, an unknown billing
  period, ``period_end`` before ``period_start``, an ``invoice_number`` taken on the
  contract, a taken ``origin_id``); an unknown prime contract or invoice **404**. Once
  ``origin_id`` is set (synced to the ERP) a PATCH may change only ``origin_id`` and
  ``origin_data``, and DELETE answers **403** (the delete documents no 400).
* Writes fire ``Payment Applications``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, ClassVar

from devstack.procore_sandbox.resources.commitments import _money
from devstack.procore_sandbox.resources.common import (
    DATE,
    MUST_EXIST,
    NOT_PERMITTED,
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
from devstack.procore_sandbox.webhook_payloads import WEB_USER_ID, _Outgoing

PAYMENT_APPLICATIONS_RESOURCE = "Payment Applications"
PAYMENT_APPLICATION_STATUSES = ("draft", "under_review", "revise_and_resubmit", "approved")
PAY_APP_FIELDS: Mapping[str, FieldSpec] = {
    "commitment_billing_period_id": FieldSpec("custom"), "period_start": DATE,
    "period_end": DATE, "billing_date": DATE, "invoice_number": TEXT, "origin_data": TEXT,
    "origin_id": TEXT, "status": FieldSpec("enum", PAYMENT_APPLICATION_STATUSES),
    "include_attachments": FieldSpec("bool", stored=()),
}
ORIGIN_KEYS = ("origin_id", "origin_data")
_CENT = Decimal("0.01")
_PA = r"/rest/v1\.0/prime_contracts/(?P<contract>\d+)/payment_applications"
_PROJECT_PA = r"/rest/v1\.0/payment_applications"


def _cents(value: Decimal) -> Decimal:
    return value.quantize(_CENT, rounding=ROUND_HALF_UP)


class PaymentApplicationsMixin(ResourceBase):
    """Owner invoices of a prime contract."""

    ROUTES: ClassVar[tuple[Route, ...]] = (
        ("GET", _PA, "_h_list_pay_apps", True),
        ("POST", _PA, "_h_create_pay_app", True),
        ("PATCH", _PA + r"/(?P<id>\d+)", "_h_update_pay_app", True),
        ("GET", _PROJECT_PA, "_h_list_project_pay_apps", True),
        ("GET", _PROJECT_PA + r"/(?P<id>\d+)", "_h_get_pay_app", True),
        ("DELETE", _PROJECT_PA + r"/(?P<id>\d+)", "_h_delete_pay_app", True),
    )

    # --- amounts and answers -----------------------------------------------------------------
    def _pay_app_period_total(self, app: Mapping[str, Any]) -> Decimal:
        return sum(app["items"].values(), Decimal(0))

    def _pay_app_answer(self, app: Mapping[str, Any]) -> dict[str, Any]:
        contract = self.state.prime_contracts[app["contract_id"]]
        sums = self._prime_sums(contract)  # PrimeContractsMixin
        earlier = [a for a in self.state.payment_applications.values()
                   if a["contract_id"] == app["contract_id"] and a["number"] < app["number"]]
        percent = Decimal(contract.get("retainage_percent") or 0)
        this_period = self._pay_app_period_total(app)
        previous = sum((self._pay_app_period_total(a) for a in earlier), Decimal(0))
        to_date = previous + this_period
        retainage = _cents(to_date * percent / 100)
        prev_retainage = _cents(previous * percent / 100)
        contract_sum = sums["grand"] + sums["approved"]
        g702 = {
            "original_contract_sum": sums["grand"], "net_change_by_change_orders": sums["approved"],
            "contract_sum_to_date": contract_sum, "total_completed_and_stored_to_date": to_date,
            "completed_work_retainage_percent": percent,
            "completed_work_retainage_amount": retainage,
            "stored_materials_retainage_percent": Decimal(0),
            "stored_materials_retainage_amount": Decimal(0), "total_retainage": retainage,
            "total_earned_less_retainage": to_date - retainage,
            "less_previous_certificates_for_payment": previous - prev_retainage,
            "current_payment_due": this_period - (retainage - prev_retainage),
            "balance_to_finish_including_retainage": contract_sum - (to_date - retainage),
            "positive_change_order_item_total": sums["approved"],
            "negative_change_order_item_total": Decimal(0),
            "positive_new_change_order_item_total": Decimal(0),
            "negative_new_change_order_item_total": Decimal(0),
            "positive_previous_change_order_item_total": Decimal(0),
            "negative_previous_change_order_item_total": Decimal(0),
            "tax_applicable_to_this_payment": Decimal(0),
        }
        start, end = app["period_start"], app["period_end"]
        return {
            "id": app["id"], "billing_date": app["billing_date"],
            "invoice_number": app["invoice_number"], "origin_data": app["origin_data"],
            "origin_id": app["origin_id"],
            "percent_complete": _money(to_date / contract_sum * 100 if contract_sum
                                       else Decimal(0)),
            "period_start": start, "period_end": end, "period_id": app["period_id"],
            "status": app["status"], "total_amount_paid": "0.00", "number": app["number"],
            "total_amount_accrued_this_period": _money(this_period),
            "formatted_contract_company": self.company_name,
            "currency_configuration": {"currency_iso_code": "USD",
                                       "currency_exchange_rate": "1.0",
                                       "base_currency_iso_code": "USD"},
            "g702": {**{k: _money(v) for k, v in g702.items()},
                     "formatted_period": f"{start or ''} - {end or ''}".strip(" -") or None},
            "billing_period": {"start_date": start, "end_date": end},
            "contract": {"id": contract["id"], "type": "PrimeContract",
                         "title": contract["title"]},
            "created_at": app["created_at"][:10], "updated_at": app["updated_at"][:10],
        }

    # --- writes ------------------------------------------------------------------------------
    def _pay_app_changes(self, contract: Mapping[str, Any], body: Mapping[str, Any],
                         record: dict[str, Any] | None) -> dict[str, Any]:
        errors: dict[str, list[str]] = {
            key: [NOT_PERMITTED] for key in body
            if key not in ("project_id", "payment_application", "attachments")}
        if body.get("attachments"):
            errors["attachments"] = [MUST_EXIST]
        fields = body.get("payment_application", {} if record is not None else None)
        if not isinstance(fields, dict):
            raise SandboxError(400, {**errors, "payment_application": ["can't be blank"]})
        changes: dict[str, Any] = {}
        _schema_changes(fields, PAY_APP_FIELDS, changes, errors)
        if record is not None and record.get("origin_id"):
            locked = sorted(set(fields) - set(ORIGIN_KEYS))
            if locked:
                errors["base"] = ["The invoice is synced with an ERP system (origin_id): only "
                                  "origin_id and origin_data can change, not " + ", ".join(locked)]
        if fields.get("commitment_billing_period_id") is not None:
            raw = fields["commitment_billing_period_id"]
            period = self.state.billing_periods.get(raw) if isinstance(raw, int) else None
            if period is None or period["project_id"] != contract["project_id"]:
                errors["commitment_billing_period"] = [MUST_EXIST]
            else:
                changes["period_id"] = period["id"]
                changes.setdefault("period_start", period.get("start_date"))
                changes.setdefault("period_end", period.get("end_date"))
        if "status" in changes and changes["status"] is None:
            errors["status"] = ["can't be blank"]
        start = changes.get("period_start", None if record is None else record["period_start"])
        end = changes.get("period_end", None if record is None else record["period_end"])
        if start and end and end < start:
            errors["period_end"] = ["must be on or after period_start"]
        own = None if record is None else record["id"]
        number = changes.get("invoice_number")
        if number is not None and any(
                a["contract_id"] == contract["id"] and a["invoice_number"] == number
                and a["id"] != own for a in self.state.payment_applications.values()):
            errors["invoice_number"] = ["has already been taken"]
        if changes.get("origin_id") is not None and _taken(
                self.state.payment_applications, "origin_id", changes["origin_id"], own):
            errors["origin_id"] = ["has already been taken"]
        if errors:
            raise SandboxError(400, errors)
        return changes

    def _create_pay_app(self, contract: Mapping[str, Any], body: Mapping[str, Any],
                        actor: Actor, out: list[_Outgoing],
                        items: Mapping[int, Decimal] | None = None) -> dict[str, Any]:
        changes = self._pay_app_changes(contract, body, None)
        number = 1 + max((a["number"] for a in self.state.payment_applications.values()
                          if a["contract_id"] == contract["id"]), default=0)
        now = _now_iso()
        record: dict[str, Any] = {
            "id": self.state.next_id(), "project_id": contract["project_id"],
            "contract_id": contract["id"], "number": number, "invoice_number": str(number),
            "billing_date": None, "period_start": None, "period_end": None, "period_id": None,
            "status": "draft", "origin_id": None, "origin_data": None,
            "items": dict(items or {}), "created_at": now, "updated_at": now, **changes,
        }
        self.state.payment_applications[record["id"]] = record
        self._event("create", PAYMENT_APPLICATIONS_RESOURCE, record["id"],
                    contract["project_id"], actor, out)
        return record

    def _pay_app(self, project_id: int, raw: object,
                 contract: Mapping[str, Any] | None = None) -> dict[str, Any]:
        record = self.state.payment_applications.get(int(str(raw)))
        if record is None or record["project_id"] != project_id or (
                contract is not None and record["contract_id"] != contract["id"]):
            raise SandboxError(404, f"Payment application {raw} not found")
        return record

    def _pay_app_contract(self, req: _Request, m: re.Match[str],
                          body: Mapping[str, Any] | None = None) -> dict[str, Any]:
        raw = (body or {}).get("project_id", req.param("project_id"))
        if raw in (None, ""):
            raise SandboxError(400, {"project_id": ["can't be blank"]})
        if isinstance(raw, bool) or not str(raw).isdigit():
            raise SandboxError(400, {"project_id": ["is not a number"]})
        return self._prime_contract(int(self._project(str(raw))["id"]), m["contract"])

    # --- handlers ----------------------------------------------------------------------------
    def _h_list_pay_apps(self, req: _Request, m: re.Match[str]) -> _Response:
        contract = self._pay_app_contract(req, m)
        records = {i: a for i, a in self.state.payment_applications.items()
                   if a["contract_id"] == contract["id"]}
        ids = req.query.get("filters[id][]", []) + req.query.get("filters[id]", [])
        wanted = {part for raw in ids for part in raw.split(",") if part}
        if wanted:
            records = {i: a for i, a in records.items() if str(i) in wanted}
        is_last = req.param("filters[is_last]")
        if is_last not in (None, "", "true", "false"):
            raise SandboxError(400, "filters[is_last] must be true or false")
        if is_last == "true" and records:
            last = max(records.values(), key=lambda a: a["number"])
            records = {last["id"]: last}
        answer = self._page(req, records, origin_filter=False, default_per_page=30)
        answer.body = [self._pay_app_answer(a) for a in answer.body]
        return answer

    def _h_create_pay_app(self, req: _Request, m: re.Match[str]) -> _Response:
        body = _json_body(req)
        contract = self._pay_app_contract(req, m, body)
        record = self._create_pay_app(contract, body, self._actor(req), req.events)
        return _Response(201, self._pay_app_answer(record))

    def _h_update_pay_app(self, req: _Request, m: re.Match[str]) -> _Response:
        body = _json_body(req)
        contract = self._pay_app_contract(req, m, body)
        record = self._pay_app(contract["project_id"], m["id"], contract)
        record.update(self._pay_app_changes(contract, body, record))
        record["updated_at"] = _now_iso()
        self._event("update", PAYMENT_APPLICATIONS_RESOURCE, record["id"], record["project_id"],
                    self._actor(req), req.events)
        return _Response(200, self._pay_app_answer(record))

    def _h_list_project_pay_apps(self, req: _Request, _: re.Match[str]) -> _Response:
        pid = self._project_param(req)
        records = {i: a for i, a in self.state.payment_applications.items()
                   if a["project_id"] == pid}
        answer = self._page(req, records, origin_filter=False)
        answer.body = [self._pay_app_answer(a) for a in answer.body]
        return answer

    def _h_get_pay_app(self, req: _Request, m: re.Match[str]) -> _Response:
        pid = self._project_param(req)
        return _Response(200, self._pay_app_answer(self._pay_app(pid, m["id"])))

    def _h_delete_pay_app(self, req: _Request, m: re.Match[str]) -> _Response:
        pid = self._project_param(req)
        record = self._pay_app(pid, m["id"])
        if record.get("origin_id"):
            raise SandboxError(403, {"base": ["The invoice is synced with an ERP system "
                                              "(origin_id) and can't be deleted"]})
        del self.state.payment_applications[record["id"]]
        self._event("delete", PAYMENT_APPLICATIONS_RESOURCE, record["id"], pid,
                    self._actor(req), req.events)
        return _Response(200)

    # --- Python helper (Procore's invoice UI: fires the webhook) -----------------------------
    def create_payment_application(
        self, project_id: int, contract_id: int, *, items: Mapping[int, Any] | None = None,
        as_application: str = "procore-web", as_user_id: int = WEB_USER_ID, **fields: Any,
    ) -> dict[str, Any]:
        """An owner invoice entered in the UI: ``items`` = prime contract line id -> work
        completed this period (decimal text or number); ``fields``: ``payment_application``
        keys (``status``, ``invoice_number``, ``billing_date``, ...). Returns its answer."""
        actor = Actor(as_application, as_user_id)

        def make(out: list[_Outgoing]) -> dict[str, Any]:
            contract = self._prime_contract(project_id, contract_id)
            lines = self.state.prime_lines.get(contract["id"], {})
            work = {}
            for line_id, amount in (items or {}).items():
                if line_id not in lines:
                    raise SandboxError(400, {"line_item": [MUST_EXIST]})
                work[line_id] = Decimal(str(amount))
            record = self._create_pay_app(contract, {"payment_application": fields}, actor,
                                          out, work)
            return self._pay_app_answer(record)

        return self._helper(make)  # SeedingMixin
