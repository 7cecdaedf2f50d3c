"""Subcontractor invoices (API name: requisitions): ``/rest/v1.0/requisitions`` and
``/rest/v1.1/requisitions``.

Shapes: ``procore-spec/openapi/RestV1{0,1}Requisitions*.json``. Choices: docs/decisions.md
("Sandbox subcontractor invoices ...").

* List ``GET ?project_id=`` (paged; ``filters[id|commitment_id|period_id|status|origin_id|
  created_at|updated_at]``, v1.1 also ``filters[is_last]``), ``POST`` **201**, ``GET`` /
  ``PATCH`` / ``DELETE`` (**200**, empty body) ``/{id}?project_id=``. v1.0 list and show
  answer the default view; v1.0 POST/PATCH and every v1.1 answer the extended view
  (``vendor_id``, ``summary_text``, ...); v1.1 adds ``items``/``item_packages`` with
  ``view=extended|items``. Money answers as text with 2 places.
* Refusals: POST **400** (it documents 400 and 404, no 422), PATCH and DELETE **422**.
  An invoice needs an ``Approved`` commitment of the project and an open billing period of
  the project (``period_id`` is required); one invoice per commitment per period; a
  commitment has at most one invoice that is not approved (``approved``,
  ``approved_as_noted``) at a time. ``number`` is 1, 2, ... per commitment.
* Once ``origin_id`` is set (PATCH or external data sync) only ``origin_id`` and
  ``origin_data`` can change; its items are locked and it can't be deleted. Only the
  latest invoice of a commitment can be deleted, and not one a contract payment names.
* No webhook: the reference names no requisition resource; find changes by polling
  ``filters[updated_at]``.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any, ClassVar

from devstack.procore_sandbox.resources.billing_periods import _stamp
from devstack.procore_sandbox.resources.commitments import CURRENCY
from devstack.procore_sandbox.resources.common import (
    BOOL,
    DATE,
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
from devstack.procore_sandbox.resources.line_items import HOLDER_TYPES
from devstack.procore_sandbox.resources.requisition_items import LOCKED_REQUISITION_STATUSES
from devstack.procore_sandbox.state import (
    KINDS,
    Actor,
    Route,
    SandboxError,
    _json_body,
    _now_iso,
    _Request,
    _Response,
)

REQUISITION_STATUSES = ("draft", "under_review", "revise_and_resubmit", "approved",
                        "approved_as_noted", "pending_owner_approval")
ORIGIN_KEYS = ("origin_id", "origin_data")
_COMMON_FIELDS: Mapping[str, FieldSpec] = {
    "period_id": FieldSpec("custom"), "requisition_start": DATE, "requisition_end": DATE,
    "billing_date": DATE, "final": BOOL, "invoice_number": TEXT, "payment_date": DATE,
    "origin_data": TEXT, "origin_id": TEXT,
    "status": FieldSpec("enum", REQUISITION_STATUSES), "submitted_at": DATE,
}
#: ``requisition`` of the POST/PATCH bodies, per minor version (v1.0, v1.1)
REQUEST_FIELDS: Mapping[str, Mapping[str, FieldSpec]] = {
    "0": {**_COMMON_FIELDS, "comment": TEXT},
    "1": {**_COMMON_FIELDS, "items": FieldSpec("custom"), "prostore_file_ids": REFS,
            "upload_ids": REFS},
}
_SUMMARY_KEYS = (
    "balance_to_finish_including_retainage", "completed_work_retainage_percent",
    "completed_work_retainage_amount", "contract_sum_to_date", "current_payment_due",
    "formatted_period", "less_previous_certificates_for_payment",
)
#: openapi/RestV10Requisitions{Get,IdGet}.json (action_policy: another view)
DEFAULT_KEYS = (
    "id", "project_id", "electronic_signature_id", "billing_date", "commitment_id",
    "commitment_type", "contract_name", "created_at", "created_by", "updated_at",
    "invoice_number", "origin_data", "origin_id", "payment_date", "period_id",
    "requisition_start", "requisition_end", "status", "erp_status", "submitted_at", "comment",
    "final", "number", "percent_complete", "vendor_name", "total_claimed_amount", "deletable",
    "custom_fields", "currency_configuration", "attachments", "summary",
)
#: "Extended Requisition": v1.0 POST/PATCH, every v1.1 answer (items: view extended|items)
EXTENDED_KEYS = (
    "id", "previous_requisition_id", "project_id", "billing_date", "created_at", "updated_at",
    "commitment_id", "commitment_type", "contract_name", "deletable", "final", "vendor_name",
    "vendor_id", "invoice_number", "invoice_type", "origin_data", "origin_id", "payment_date",
    "percent_complete", "period_id", "requisition_start", "requisition_end", "status",
    "erp_status", "number", "submitted_at", "total_claimed_amount", "electronic_signature_id",
    "move_materials_to_previous_work_completed", "summary_text", "summary", "created_by",
    "custom_fields", "currency_configuration", "attachments",
)
_CUSTOM_FIELD = re.compile(r"custom_field_\d+")
_BASE = r"/rest/v1\.(?P<minor>[01])/requisitions"


class RequisitionsMixin(ResourceBase):
    """Requisitions v1.0/v1.1 and the helpers ``create_requisition``/``get_requisition``."""

    ROUTES: ClassVar[tuple[Route, ...]] = (
        ("GET", _BASE, "_h_list_requisitions", True),
        ("POST", _BASE, "_h_create_requisition", True),
        ("GET", _BASE + r"/(?P<id>\d+)", "_h_get_requisition", True),
        ("PATCH", _BASE + r"/(?P<id>\d+)", "_h_update_requisition", True),
        ("DELETE", _BASE + r"/(?P<id>\d+)", "_h_delete_requisition", True),
    )

    # --- lookups -----------------------------------------------------------------------------
    def _requisition(self, project_id: int, raw: object) -> dict[str, Any]:
        record = self.state.requisitions.get(int(str(raw)))
        if record is None or record["project_id"] != project_id:
            raise SandboxError(404, f"Requisition {raw} not found")
        return record

    def _invoiced_commitment(self, record: Mapping[str, Any]) -> dict[str, Any]:
        return self.state.commitments[record["segment"]][record["commitment_id"]]

    def _is_latest(self, record: Mapping[str, Any]) -> bool:
        return not any(r["commitment_id"] == record["commitment_id"]
                       and r["number"] > record["number"]
                       for r in self.state.requisitions.values())

    def _deletable(self, record: Mapping[str, Any]) -> bool:
        return (self._is_latest(record) and not record.get("origin_id")
                and not any(p["requisition_id"] == record["id"]
                            for p in self.state.contract_payments.values()))

    # --- answers -----------------------------------------------------------------------------
    def _requisition_answer(self, record: Mapping[str, Any], *, extended: bool,
                            items: bool = False) -> dict[str, Any]:
        commitment = self._invoiced_commitment(record)
        vendor = self.state.vendors.get((commitment.get("vendor") or {}).get("id") or 0)
        totals = self._totals(record)  # RequisitionItemsMixin
        answer: dict[str, Any] = {k: copy.deepcopy(record.get(k)) for k in (
            "id", "project_id", "billing_date", "commitment_id", "created_at", "updated_at",
            "invoice_number", "origin_data", "origin_id", "payment_date", "period_id",
            "requisition_start", "requisition_end", "status", "erp_status", "submitted_at",
            "comment", "final", "number")}
        answer.update(
            electronic_signature_id=None, created_by=dict(record["created_by"]),
            commitment_type=HOLDER_TYPES[record["segment"]], contract_name=commitment["title"],
            vendor_name=None if vendor is None else vendor["name"],
            percent_complete=(f"{totals['total'] * 100 / totals['contract_sum']:.2f}"
                              if totals["contract_sum"] else "0.00"),
            total_claimed_amount=f"{totals['claimed']:.2f}",
            deletable=self._deletable(record), custom_fields={},
            currency_configuration=dict(CURRENCY), attachments=[],
            summary=self._summary(record, extended=extended),
        )
        if not extended:
            return {key: answer[key] for key in DEFAULT_KEYS}
        earlier = self._earlier(record)
        project = self.state.projects[record["project_id"]]
        answer.update(
            previous_requisition_id=earlier[-1]["id"] if earlier else None,
            vendor_id=None if vendor is None else vendor["id"], invoice_type=None,
            move_materials_to_previous_work_completed=False,
            currency_configuration={**CURRENCY, "currency_exchange_rate": 1.0,
                                    "base_currency_iso_code": "USD"},
            summary_text={
                "project_name": project.get("name"),
                "project_number": project.get("project_number"),
                "to_general_contractor": self.company_name,
                "requisition_period_start": record["requisition_start"],
                "requisition_period_end": record["requisition_end"],
                "subcontractor_name": None if vendor is None else vendor["name"],
                "subcontractor_street": None if vendor is None else vendor.get("address"),
                **{f"subcontractor_{k}": None if vendor is None else vendor.get(k)
                   for k in ("city", "state_code", "zip", "country_code")},
                # v1.1 names it "Invoice number"; it is the G702 application number
                "application_number": str(record["number"]),
                "contract_for": commitment["title"],
                "contract_date": commitment.get("contract_date"),
            },
        )
        shown = {key: answer[key] for key in EXTENDED_KEYS}
        if items:
            shown["items"] = [self._item_answer(record, i, extended=True)
                              for i in self._items_of(record)]
            shown["item_packages"] = self._item_packages(record, commitment)
        return shown

    def _item_packages(self, record: Mapping[str, Any], commitment: Mapping[str, Any]
                       ) -> list[dict[str, Any]]:
        """The contract, then each approved CCO with items on this invoice."""
        packages = [{"id": commitment["id"], "contract_id": commitment["id"],
                     "change_order_id": None, "number": commitment["number"],
                     "title": commitment["title"], "status": commitment["status"],
                     "position": 0, "change_order_acronym_number": None,
                     "change_order_request": None, "batch": None}]
        cco_ids = sorted({i["change_order_id"] for i in self._items_of(record)
                          if i["change_order_id"] is not None})
        for position, cco_id in enumerate(cco_ids, 1):
            cco = self.state.change_orders[cco_id]
            packages.append({"id": cco_id, "contract_id": commitment["id"],
                             "change_order_id": cco_id, "number": cco["number"],
                             "title": cco["title"], "status": cco["status"],
                             "position": position,
                             "change_order_acronym_number": f"CCO #{cco['number']}",
                             "change_order_request": None, "batch": None})
        return packages

    @staticmethod
    def _extended_view(req: _Request, minor: str) -> bool:
        """v1.1 ``view``: items with extended/items; action_policy is not modelled."""
        view = req.param("view")
        if minor == "0" or view in (None, "", "default"):
            return False
        if view in ("extended", "items"):
            return True
        if view == "action_policy":
            raise SandboxError(400, "the sandbox does not model view=action_policy")
        raise SandboxError(400, "view must be one of default, extended, items, action_policy")

    # --- writes ------------------------------------------------------------------------------
    def _requisition_changes(self, project_id: int, minor: str, body: Mapping[str, Any],
                             record: dict[str, Any] | None) -> dict[str, Any]:
        """Checked changes of a POST/PATCH body (422; the POST handler answers 400)."""
        allowed_top = {"project_id", "commitment_id", "requisition"} | (
            {"attachments"} if minor == "0" else set())
        errors: dict[str, list[str]] = {
            key: [NOT_PERMITTED] for key in body if key not in allowed_top}
        if body.get("attachments"):
            errors["attachments"] = [MUST_EXIST]
        fields = body.get("requisition", {} if record is not None else None)
        if not isinstance(fields, dict):
            raise SandboxError(422, {**errors, "requisition": ["can't be blank"]})
        custom = [name for name in fields if _CUSTOM_FIELD.fullmatch(name)]
        errors.update({name: [MUST_EXIST] for name in custom})
        changes: dict[str, Any] = {}
        _schema_changes(fields, REQUEST_FIELDS[minor], changes, errors, handled=custom)
        if minor == "1" and "items" in fields:
            changes["items"] = fields["items"]
        commitment = self._requisition_commitment(project_id, body, record, errors)
        if record is not None and record.get("origin_id"):
            locked = sorted(set(fields) - set(ORIGIN_KEYS))
            if locked:
                errors["base"] = ["The invoice is synced with an ERP system (origin_id): only "
                                  "origin_id and origin_data can change, not "
                                  + ", ".join(locked)]
        origin, invalid = _sync_values(fields, ORIGIN_KEYS, strict=True)
        errors.update({k: v for k, v in invalid.items() if k not in errors})
        changes.update(origin)
        if changes.get("origin_id") is not None and _taken(
                self.state.requisitions, "origin_id", changes["origin_id"],
                None if record is None else record["id"]):
            errors["origin_id"] = ["has already been taken"]
        if "status" in changes and changes["status"] is None:
            errors["status"] = ["can't be blank"]
        current = {**(record or {}), **changes}
        if "period_id" in fields or record is None:
            self._period_changes(project_id, fields.get("period_id"), commitment, record,
                                 changes, errors)
        start, end = current.get("requisition_start"), current.get("requisition_end")
        if start and end and start > end:
            errors["requisition_end"] = ["must be on or after requisition_start"]
        status = current.get("status") or "draft"
        if commitment is not None and status not in LOCKED_REQUISITION_STATUSES and any(
            r["commitment_id"] == commitment["id"] and r["status"]
            not in LOCKED_REQUISITION_STATUSES and (record is None or r["id"] != record["id"])
            for r in self.state.requisitions.values()
        ):
            errors.setdefault("base", ["The commitment has an invoice that is not approved "
                                       "yet: approve it before another invoice is open"])
        if errors:
            raise SandboxError(422, errors)
        changes["commitment"] = commitment
        return changes

    def _requisition_commitment(self, project_id: int, body: Mapping[str, Any],
                                record: dict[str, Any] | None,
                                errors: dict[str, list[str]]) -> dict[str, Any] | None:
        raw = body.get("commitment_id")
        if record is not None:  # the PATCH schema requires it too
            if raw is None:
                errors["commitment_id"] = ["can't be blank"]
            elif str(raw) != str(record["commitment_id"]):
                errors["commitment_id"] = ["can't be changed"]
            return self._invoiced_commitment(record)
        if raw is None:
            errors["commitment_id"] = ["can't be blank"]
            return None
        commitment = self._project_commitment(project_id, raw)  # ChangeOrdersMixin
        if commitment is None:
            errors["commitment"] = [MUST_EXIST]
        elif commitment["status"] != "Approved":
            errors["commitment"] = [
                f"must be Approved to be invoiced (it is {commitment['status']})"]
            return None
        return commitment

    def _period_changes(self, project_id: int, raw: object, commitment: dict[str, Any] | None,
                        record: dict[str, Any] | None, changes: dict[str, Any],
                        errors: dict[str, list[str]]) -> None:
        if raw is None:
            errors["period_id"] = ["can't be blank"]
            return
        period = None
        if isinstance(raw, int) and not isinstance(raw, bool):
            period = self.state.billing_periods.get(raw)
        if period is None or period["project_id"] != project_id:
            errors["period"] = [MUST_EXIST]
            return
        if period["status"] != "open" and (record is None or record["period_id"] != raw):
            errors["period"] = ["must be open"]
        if commitment is not None and any(
            r["commitment_id"] == commitment["id"] and r["period_id"] == raw
            and (record is None or r["id"] != record["id"])
            for r in self.state.requisitions.values()
        ):
            errors["period_id"] = ["The commitment already has an invoice in this billing period"]
        changes["period_id"] = raw

    def _create_requisition(self, project_id: int, minor: str, body: Mapping[str, Any],
                            actor: Actor) -> dict[str, Any]:
        changes = self._requisition_changes(project_id, minor, body, None)
        commitment = changes.pop("commitment")
        items = changes.pop("items", None)
        now = _now_iso()
        segment = next(s for s in KINDS if commitment["id"] in self.state.commitments[s])
        number = 1 + max((r["number"] for r in self.state.requisitions.values()
                          if r["commitment_id"] == commitment["id"]), default=0)
        record: dict[str, Any] = {
            "id": self.state.next_id(), "project_id": project_id,
            "commitment_id": commitment["id"], "segment": segment, "number": number,
            "status": "draft", "final": False, "erp_status": None, "comment": None,
            "created_by": {"id": actor.user_id, "name": None, "login": None,
                           "company_name": None},
            "created_at": now, "updated_at": now,
            **dict.fromkeys(("billing_date", "invoice_number", "origin_data", "origin_id",
                             "payment_date", "requisition_start", "requisition_end",
                             "submitted_at")),
        }
        record.update({k: v for k, v in changes.items() if k not in ("prostore_file_ids",
                                                                      "upload_ids")})
        if record["status"] is None:
            record["status"] = "draft"
        self.state.requisitions[record["id"]] = record
        self._make_items(record)  # RequisitionItemsMixin
        if items is not None:
            try:
                plan = self._item_plan(record, items, key="requisition.items",
                                       match="line_item_id")
            except SandboxError:
                del self.state.requisitions[record["id"]]
                del self.state.requisition_items[record["id"]]
                raise
            self._apply_items(record, plan)
        return record

    def _update_requisition(self, record: dict[str, Any], minor: str,
                            body: Mapping[str, Any]) -> None:
        changes = self._requisition_changes(record["project_id"], minor, body, record)
        changes.pop("commitment")
        items = changes.pop("items", None)
        plan = None
        if items is not None:
            self._items_writable(record)
            plan = self._item_plan(record, items, key="requisition.items")
        record.update({k: v for k, v in changes.items() if k not in ("prostore_file_ids",
                                                                      "upload_ids")})
        if plan is not None:
            self._apply_items(record, plan)
        record["updated_at"] = _now_iso()

    def _delete_requisition(self, record: dict[str, Any]) -> None:
        if record.get("origin_id"):
            raise SandboxError(422, {"base": [
                "The invoice is synced with an ERP system (origin_id) and can't be deleted"]})
        if not self._is_latest(record):
            raise SandboxError(422, {"base": ["Only the latest invoice of a commitment can be "
                                              "deleted"]})
        if not self._deletable(record):
            raise SandboxError(422, {"base": ["The invoice has contract payments"]})
        del self.state.requisitions[record["id"]]
        self.state.requisition_items.pop(record["id"], None)

    # --- handlers ----------------------------------------------------------------------------
    def _h_list_requisitions(self, req: _Request, m: re.Match[str]) -> _Response:
        pid = self._project_param(req)
        minor = m["minor"]
        items = self._extended_view(req, minor)
        records = {i: r for i, r in self.state.requisitions.items() if r["project_id"] == pid}
        ids = req.query.get("filters[id][]", []) + req.query.get("filters[id]", [])
        wanted = {part for raw in ids for part in raw.split(",") if part}
        if wanted:
            records = {i: r for i, r in records.items() if str(i) in wanted}
        for name in ("commitment_id", "period_id"):
            raw = req.param(f"filters[{name}]")
            if raw not in (None, ""):
                assert raw is not None
                values = raw.split(",")
                if not all(v.isdigit() for v in values):
                    raise SandboxError(400, f"filters[{name}] must be an integer")
                records = {i: r for i, r in records.items() if str(r[name]) in values}
        status = req.param("filters[status]")
        if status not in (None, ""):
            if status not in REQUISITION_STATUSES:
                raise SandboxError(400, "filters[status] must be one of "
                                   + ", ".join(REQUISITION_STATUSES))
            records = {i: r for i, r in records.items() if r["status"] == status}
        for stamp in ("created_at", "updated_at"):
            raw = req.param(f"filters[{stamp}]")
            if raw not in (None, ""):
                assert raw is not None
                low, high = self._updated_at_range(raw)  # CommitmentsMixin
                records = {i: r for i, r in records.items() if low <= _stamp(r[stamp]) <= high}
        is_last = req.param("filters[is_last]") if minor == "1" else None
        if is_last not in (None, ""):
            if is_last not in ("true", "false"):
                raise SandboxError(400, "filters[is_last] must be true or false")
            records = {i: r for i, r in records.items()
                       if self._is_latest(r) == (is_last == "true")}
        answer = self._page(req, records)
        answer.body = [self._requisition_answer(r, extended=minor == "1", items=items)
                       for r in answer.body]
        return answer

    def _h_get_requisition(self, req: _Request, m: re.Match[str]) -> _Response:
        pid = self._project_param(req)
        items = self._extended_view(req, m["minor"])
        record = self._requisition(pid, m["id"])
        return _Response(200, self._requisition_answer(record, extended=m["minor"] == "1",
                                                       items=items))

    def _h_create_requisition(self, req: _Request, m: re.Match[str]) -> _Response:
        body = _json_body(req)
        items = self._extended_view(req, m["minor"])
        pid = self._body_project(req, body, missing_status=400)
        try:
            record = self._create_requisition(pid, m["minor"], body, self._actor(req))
        except SandboxError as exc:  # the POST documents 400 and 404, no 422
            if exc.status != 422:
                raise
            raise SandboxError(400, exc.errors) from None
        return _Response(201, self._requisition_answer(record, extended=True, items=items))

    def _h_update_requisition(self, req: _Request, m: re.Match[str]) -> _Response:
        pid = self._project_param(req)
        items = self._extended_view(req, m["minor"])
        record = self._requisition(pid, m["id"])
        self._update_requisition(record, m["minor"], _json_body(req))
        return _Response(200, self._requisition_answer(record, extended=True, items=items))

    def _h_delete_requisition(self, req: _Request, m: re.Match[str]) -> _Response:
        pid = self._project_param(req)
        self._delete_requisition(self._requisition(pid, m["id"]))
        return _Response(200)

    # --- Python helpers (the web UI; no webhooks: requisitions have none) --------------------
    def create_requisition(
        self, project_id: int, commitment_id: int, *, period_id: int, invoice_number: str | None,
        billing_date: str | None, status: str = "approved",
        items: Mapping[int, tuple[Any, Any]] | None = None, as_user_id: int | None = None,
        **fields: Any,
    ) -> dict[str, Any]:
        """An invoice made in the web UI: its items (commitment or CCO line id ->
        (work completed this period, retainage retained this period)) and then ``status``
        written together; the v1.1 extended answer with items. ``fields``: more
        ``requisition`` keys. Same rules as the API."""
        actor = self._web_actor("procore-web", as_user_id)  # ChangeOrdersMixin
        body = {"project_id": project_id, "commitment_id": commitment_id, "requisition": {
            "period_id": period_id, "invoice_number": invoice_number,
            "billing_date": billing_date, **fields, "status": "draft"}}
        with self.state.lock:
            self._project(project_id)
            record = self._create_requisition(project_id, "0", body, actor)
            try:
                if items:
                    by_line = {i["source_id"]: i for i in self._items_of(record)}
                    entries = []
                    for line_id, (work, retainage) in items.items():
                        item = by_line.get(line_id)
                        entries.append({
                            "id": None if item is None else item["id"],
                            "item_type": "contract_item" if item is None else item["item_type"],
                            "work_completed_this_period": str(work),
                            "work_completed_retainage_retained_this_period": str(retainage)})
                    self._apply_items(record, self._item_plan(record, entries,
                                                              key="requisition_items"))
                if status != "draft":
                    self._update_requisition(record, "0", {"commitment_id": commitment_id,
                                                          "requisition": {"status": status}})
            except SandboxError:
                self._delete_requisition(record)
                raise
            return self._requisition_answer(record, extended=True, items=True)

    def get_requisition(self, project_id: int, requisition_id: int) -> dict[str, Any]:
        """The v1.1 extended answer with items."""
        with self.state.lock:
            return self._requisition_answer(self._requisition(project_id, requisition_id),
                                            extended=True, items=True)
