"""Commitment change orders (CCOs): ``/rest/v1.0/projects/{p}/commitment_change_orders``
and their legacy face, ``/rest/v1.0/change_order_packages``.

Shapes: ``procore-spec/openapi/RestV10ProjectsProjectIdCommitmentChangeOrders*.json`` (the
request schemas, the filters) and ``sdk/...CommitmentChangeOrders{Get,IdGet,Post}.json``
(the answers); packages ``openapi/RestV10ChangeOrderPackages*.json``. Choices:
docs/decisions.md ("Sandbox commitment change orders ...").

* The sandbox models a one-tier project: a CCO *is* its change order package (one record,
  ``legacy_package_id`` = its ``id``) and owns one potential change order (PCO) that holds
  its line items (``change_order_lines``). The PCO's endpoints and the v2.0 CCO line item
  endpoints show the same lines.
* ``grand_total`` is the sum of the line items (decimal text, 2 places). ``number`` defaults
  to the next per commitment ("001", "002", ...) and is unique per commitment.
* Bodies take only the documented keys (``origin_*`` and ``change_event_ids`` are not on the
  CCO schema: refused; origin fields go through the package PATCH or external data sync).
  Refusals: 422 on the CCO endpoints, 400 on the package endpoints (what each documents).
* DELETE (204) soft deletes: lists leave the CCO out (packages show it with
  ``filters[include_deleted]``), show/update/lines answer 404. An approved CCO can't be
  deleted (400).
* Writes fire ``Change Order Packages`` and ``Potential Change Orders`` (resource id = the
  CCO id and its PCO id).
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
    REFS,
    TEXT,
    FieldSpec,
    ResourceBase,
    _schema_changes,
    _taken,
)
from devstack.procore_sandbox.resources.cost_codes import refusals_as
from devstack.procore_sandbox.state import (
    KINDS,
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

CHANGE_ORDER_PACKAGES_RESOURCE = "Change Order Packages"
POTENTIAL_CHANGE_ORDERS_RESOURCE = "Potential Change Orders"
#: openapi/...CommitmentChangeOrdersGet.json ``filters[status]``
CCO_STATUSES = ("draft", "pricing", "not_pricing", "pending", "revised", "proceeding",
                "not_proceeding", "pending_billable", "no_charge", "approved", "rejected",
                "void")
#: the package (and PCO) enum: the CCO list without pending_billable
PACKAGE_STATUSES = tuple(s for s in CCO_STATUSES if s != "pending_billable")
LOCKED_STATUSES = ("approved",)  # a CCO whose line items can't be changed over the API
CCO_TYPE = "CommitmentChangeOrder"
PACKAGE_TYPE = "CommitmentContractChangeOrder"
_REF = FieldSpec("ref")  # ids of records the sandbox does not keep: only null
_NO_EFFECT_BOOL = FieldSpec("bool", stored=())
#: ``change_order`` of the CCO POST and PATCH (openapi/...CommitmentChangeOrders{Post,
#: IdPatch}.json: the same keys); contract_id is checked by the resource
CCO_REQUEST_FIELDS: Mapping[str, FieldSpec] = {
    "contract_id": FieldSpec("custom"),
    "batch_id": _REF, "change_order_change_reason_id": _REF, "location_id": _REF,
    "designated_reviewer_id": _REF, "received_from_id": _REF,
    "description": TEXT, "due_date": DATE, "paid_date": DATE, "invoiced_date": DATE,
    "title": TEXT, "status": FieldSpec("enum", CCO_STATUSES), "reference": TEXT,
    "number": TEXT, "revision": INT, "field_change": BOOL, "signature_required": BOOL,
    "signed_change_order_received_date": DATE, "schedule_impact_amount": INT,
    "executed": BOOL, "private": BOOL, "paid": BOOL, "reason": TEXT,
    "enable_ssov": _NO_EFFECT_BOOL,
    "change_event_attachment_ids": REFS, "attachment_ids": REFS,
    "drawing_revision_ids": REFS, "file_version_ids": REFS, "form_ids": REFS,
    "image_ids": REFS, "upload_ids": REFS,
}
#: ``change_order`` of the package POST and PATCH (openapi/RestV10ChangeOrderPackages
#: {Post,IdPatch}.json); grand_total is checked by the resource (it is the lines' sum)
PACKAGE_REQUEST_FIELDS: Mapping[str, FieldSpec] = {
    "status": FieldSpec("enum", PACKAGE_STATUSES), "title": TEXT,
    "grand_total": FieldSpec("custom"), "schedule_impact_amount": INT,
    "origin_code": TEXT, "origin_data": TEXT, "origin_id": TEXT,
    "paid_date": DATE, "invoiced_date": DATE, "due_date": DATE, "executed": BOOL,
    "signed_change_order_received_date": DATE,
}
_CUSTOM_FIELD = re.compile(r"custom_field_\d+")
#: sdk/...CommitmentChangeOrdersIdGet.json keys (``change_events``: view=extended only),
#: then the origin fields and paid_date (docs/decisions.md)
CCO_KEYS = (
    "id", "batch_id", "contract_id", "legacy_package_id", "legacy_request_id", "location_id",
    "description", "title", "invoiced_date", "due_date", "revised_substantial_completion_date",
    "signed_change_order_received_date", "updated_at", "created_at", "reviewed_at", "executed",
    "paid", "signature_required", "private", "field_change", "grand_total",
    "schedule_impact_amount", "number", "type", "revision", "status", "reference",
    "created_by", "designated_reviewer", "received_from", "reviewed_by",
    "change_order_change_reason", "custom_fields", "currency_configuration",
    "origin_id", "origin_code", "origin_data", "paid_date",
)
#: openapi/RestV10ChangeOrderPackagesGet.json items
PACKAGE_LIST_KEYS = (
    "id", "contract_id", "created_at", "created_by_id", "deleted_at", "due_date", "executed",
    "invoiced_date", "number", "origin_code", "origin_data", "origin_id", "paid_date",
    "reviewed_at", "signed_change_order_received_date", "status", "title", "updated_at",
    "revision", "grand_total", "designated_reviewer", "currency_configuration",
    "custom_fields",
)
#: openapi/RestV10ChangeOrderPackagesIdGet.json
PACKAGE_KEYS = (
    "id", "contract_id", "created_at", "deleted_at", "description", "due_date", "executed",
    "grand_total", "invoiced_date", "number", "origin_code", "origin_data", "origin_id",
    "paid_date", "position", "private", "review_notes", "reviewed_at",
    "revised_substantial_completion_date", "revision", "schedule_impact_amount",
    "signed_change_order_received_date", "status", "title", "type", "updated_at", "creator",
    "designated_reviewer", "reviewer", "attachments", "line_items", "currency_configuration",
    "custom_fields",
)
_BASE = r"/rest/v1\.0/projects/(?P<project>\d+)/commitment_change_orders"
_PACKAGES = r"/rest/v1\.0/change_order_packages"
_BOOL_FILTERS = ("signature_required", "executed")


def _custom_fields(fields: Mapping[str, Any]) -> dict[str, list[str]]:
    return {name: [MUST_EXIST] for name in fields if _CUSTOM_FIELD.fullmatch(name)}


class ChangeOrdersMixin(ResourceBase):
    """CCOs (v1.0), change order packages (legacy), the CCO helpers."""

    ROUTES: ClassVar[tuple[Route, ...]] = (
        ("GET", _BASE, "_h_list_ccos", True),
        ("POST", _BASE, "_h_create_cco", True),
        ("GET", _BASE + r"/(?P<id>\d+)", "_h_get_cco", True),
        ("PATCH", _BASE + r"/(?P<id>\d+)", "_h_update_cco", True),
        ("DELETE", _BASE + r"/(?P<id>\d+)", "_h_delete_cco", True),
        ("GET", _PACKAGES, "_h_list_packages", True),
        ("POST", _PACKAGES, "_h_create_package", True),
        ("GET", _PACKAGES + r"/(?P<id>\d+)", "_h_get_package", True),
        ("PATCH", _PACKAGES + r"/(?P<id>\d+)", "_h_update_package", True),
    )

    # --- lookups -----------------------------------------------------------------------------
    def _project_commitment(self, project_id: int, raw: object) -> dict[str, Any] | None:
        """A live work order or purchase order of the project with id ``raw``."""
        if isinstance(raw, bool) or not isinstance(raw, int | str):
            return None
        try:
            cid = int(raw)
        except ValueError:
            return None
        for segment in KINDS:
            record = self.state.commitments[segment].get(cid)
            if (record is not None and not record.get("deleted_at")
                    and record["project"]["id"] == project_id):
                return record
        return None

    def _cco(self, project_id: int, raw: object) -> dict[str, Any]:
        """A live CCO of the project; deleted or elsewhere: 404."""
        record = self.state.change_orders.get(int(str(raw)))
        if record is None or record.get("deleted_at") or record["project_id"] != project_id:
            raise SandboxError(404, f"Commitment change order {raw} not found")
        return record

    def _cco_total(self, cco: Mapping[str, Any]) -> Decimal:
        lines = self.state.change_order_lines.get(cco["id"], {}).values()
        return sum((line["amount"] for line in lines), Decimal(0))

    def _next_cco_number(self, contract_id: int) -> str:
        """The next number of a commitment's CCOs: "001", "002", ... (max numeric + 1)."""
        numbers = [int(c["number"]) for c in self.state.change_orders.values()
                   if c["contract_id"] == contract_id and str(c["number"] or "").isdigit()]
        return f"{max(numbers, default=0) + 1:03d}"

    # --- answers -----------------------------------------------------------------------------
    def _cco_answer(self, cco: Mapping[str, Any], *, extended: bool = False) -> dict[str, Any]:
        answer = {key: copy.deepcopy(cco.get(key)) for key in CCO_KEYS}
        answer.update(
            legacy_package_id=cco["id"], type=CCO_TYPE, grand_total=_money(self._cco_total(cco)),
            currency_configuration=dict(CURRENCY), custom_fields={},
        )
        answer["attachments"] = []
        answer["created_by"] = {k: cco["created_by"][k] for k in ("id", "name")}
        if extended:
            answer["change_events"] = [
                {"id": ce["id"], "number": ce["alphanumeric_number"]}
                for ce in (self.state.change_events.get(i) for i in cco["change_event_ids"])
                if ce is not None
            ]
        return answer

    def _package_answer(self, cco: Mapping[str, Any], *, full: bool) -> dict[str, Any]:
        keys = PACKAGE_KEYS if full else PACKAGE_LIST_KEYS
        answer = {key: copy.deepcopy(cco.get(key)) for key in keys}
        answer.update(grand_total=_money(self._cco_total(cco)), custom_fields={},
                      currency_configuration={**CURRENCY, "base_currency_iso_code": "USD"})
        if full:
            answer.update(type=PACKAGE_TYPE, position=cco["position"], attachments=[],
                          creator=cco["created_by"], line_items=self._package_lines(cco))
        else:
            answer["created_by_id"] = cco["created_by"]["id"]
        return answer

    def _package_lines(self, cco: Mapping[str, Any]) -> list[dict[str, Any]]:
        """openapi/RestV10ChangeOrderPackagesIdGet.json ``line_items``."""
        rows = []
        lines = self.state.change_order_lines.get(cco["id"], {})
        for line_id in sorted(lines):
            full = self._pco_line_answer(cco, lines[line_id])  # ChangeOrderLinesMixin
            rows.append({
                **{k: full[k] for k in ("id", "position", "quantity", "uom", "total_amount",
                                         "extended_amount", "cost_code", "unit_cost",
                                         "holder", "line_item_type", "currency_configuration")},
                "wbs_code": {k: full["wbs_code"][k] for k in ("id", "flat_code")},
                "markup_line_items": [],
            })
        return rows

    # --- writes ------------------------------------------------------------------------------
    def _cco_changes(
        self, project_id: int, fields: Mapping[str, Any], record: dict[str, Any] | None,
        schema: Mapping[str, FieldSpec], *, status: int,
    ) -> dict[str, Any]:
        """The checked changes of a CCO or package body (``status`` on refusal)."""
        changes: dict[str, Any] = {}
        errors = _custom_fields(fields)
        _schema_changes(fields, schema, changes, errors, handled=errors)
        if "contract_id" in fields:
            commitment = self._project_commitment(project_id, fields["contract_id"])
            if commitment is None:
                errors["contract"] = [MUST_EXIST]
            elif record is not None and commitment["id"] != record["contract_id"]:
                errors["contract_id"] = ["can't be changed"]
            else:
                changes["contract_id"] = commitment["id"]
        elif record is None:
            errors["contract_id"] = ["can't be blank"]
        if "grand_total" in fields and fields["grand_total"] is not None:
            errors["grand_total"] = ["is the sum of the line items and can't be written"]
        if changes.get("revision") is not None and changes["revision"] < 0:
            errors["revision"] = ["must be greater than or equal to 0"]
        if "status" in changes and changes["status"] is None:
            errors["status"] = ["can't be blank"]
        if "number" in fields and changes.get("number") is None and "number" not in errors:
            errors["number"] = ["can't be blank"]
        contract_id = changes.get("contract_id", None if record is None else record["contract_id"])
        number = changes.get("number")
        if number is not None and contract_id is not None and any(
            c["number"] == number and c["contract_id"] == contract_id
            and (record is None or c["id"] != record["id"])
            for c in self.state.change_orders.values()
        ):
            errors["number"] = ["has already been taken"]
        origin_id = changes.get("origin_id")  # only the package schema has origin fields
        if origin_id is not None and _taken(self.state.change_orders, "origin_id", origin_id,
                                            None if record is None else record["id"]):
            errors["origin_id"] = ["has already been taken"]
        if errors:
            raise SandboxError(status, errors)
        return changes

    def _create_cco(
        self, project_id: int, changes: Mapping[str, Any], actor: Actor, out: list[_Outgoing],
    ) -> dict[str, Any]:
        """Register a CCO (already checked ``changes``, ``contract_id`` in them) and its PCO."""
        now = _now_iso()
        cid, pco_id = self.state.next_id(), self.state.next_id()
        record: dict[str, Any] = dict.fromkeys(CCO_KEYS)
        record.update(
            id=cid, project_id=project_id, pco_id=pco_id, status="draft", revision=0,
            executed=False, paid=False, private=False, field_change=False,
            signature_required=False, schedule_impact_amount=None, change_event_ids=[],
            created_by={"id": actor.user_id, "name": None, "login": None},
            position=1 + sum(c["project_id"] == project_id
                             for c in self.state.change_orders.values()),
            created_at=now, updated_at=now, deleted_at=None,
        )
        record.update(changes)
        if record["number"] is None:
            record["number"] = self._next_cco_number(record["contract_id"])
        self.state.change_orders[cid] = record
        self.state.change_order_lines[cid] = {}
        self.state.potential_change_orders[pco_id] = cid
        self._cco_event("create", record, actor, out)
        return record

    def _cco_event(self, action: str, cco: Mapping[str, Any], actor: Actor,
                   out: list[_Outgoing]) -> None:
        """``Change Order Packages`` (the CCO) and ``Potential Change Orders`` (its PCO)."""
        pid = cco["project_id"]
        self._event(action, CHANGE_ORDER_PACKAGES_RESOURCE, cco["id"], pid, actor, out)
        self._event(action, POTENTIAL_CHANGE_ORDERS_RESOURCE, cco["pco_id"], pid, actor, out)

    def _touch_cco(self, cco: dict[str, Any], actor: Actor, out: list[_Outgoing]) -> None:
        cco["updated_at"] = _now_iso()
        self._cco_event("update", cco, actor, out)

    # --- CCO handlers ------------------------------------------------------------------------
    @staticmethod
    def _cco_view(req: _Request) -> bool:
        view = req.param("view")
        if view not in (None, "", "default", "extended"):
            raise SandboxError(400, "view must be one of default, extended")
        return view == "extended"

    def _h_list_ccos(self, req: _Request, m: re.Match[str]) -> _Response:
        pid = self._path_scope(None, m["project"])
        extended = self._cco_view(req)
        records = {i: c for i, c in self.state.change_orders.items()
                   if c["project_id"] == pid and not c.get("deleted_at")}
        records = self._filter_ccos(req, records)
        sort = req.param("sort") or "id"
        if sort.lstrip("-") not in ("id", "created_at"):
            raise SandboxError(400, "sort must be one of id, created_at (- for descending)")
        order = sorted(records.values(), key=lambda c: (c[sort.lstrip("-")], c["id"]),
                       reverse=sort.startswith("-"))
        answer = self._page(req, dict(enumerate(order)), origin_filter=False)
        answer.body = [self._cco_answer(c, extended=extended) for c in answer.body]
        return answer

    def _filter_ccos(self, req: _Request, records: dict[int, dict[str, Any]]) -> dict:
        """The documented ``filters[...]`` of the CCO list (a bad value answers 400)."""
        def ints(name: str) -> int | None:
            raw = req.param(f"filters[{name}]")
            if raw in (None, ""):
                return None
            if not raw.isdigit():
                raise SandboxError(400, f"filters[{name}] must be an integer")
            return int(raw)

        wanted = {name: ints(name) for name in ("id", "batch_id", "legacy_package_id",
                                                "contract_id", "vendor_id")}
        key_of = {"id": "id", "batch_id": "batch_id", "legacy_package_id": "id",
                  "contract_id": "contract_id"}
        for name, value in wanted.items():
            if value is None:
                continue
            if name == "vendor_id":
                records = {i: c for i, c in records.items()
                           if ((self._project_commitment(c["project_id"], c["contract_id"])
                                or {}).get("vendor") or {}).get("id") == value}
            else:
                records = {i: c for i, c in records.items() if c[key_of[name]] == value}
        for name in _BOOL_FILTERS:
            raw = req.param(f"filters[{name}]")
            if raw in (None, ""):
                continue
            if raw not in ("true", "false"):
                raise SandboxError(400, f"filters[{name}] must be true or false")
            records = {i: c for i, c in records.items() if c[name] == (raw == "true")}
        status = req.param("filters[status]")
        if status not in (None, ""):
            if status not in CCO_STATUSES:
                raise SandboxError(400, f"filters[status] must be one of {', '.join(CCO_STATUSES)}")
            records = {i: c for i, c in records.items() if c["status"] == status}
        raw = req.param("filters[updated_at]")
        if raw not in (None, ""):
            assert raw is not None
            low, high = self._updated_at_range(raw)  # CommitmentsMixin
            records = {i: c for i, c in records.items()
                       if low <= datetime.fromisoformat(c["updated_at"].replace("Z", "+00:00"))
                       <= high}
        return records

    def _h_get_cco(self, req: _Request, m: re.Match[str]) -> _Response:
        pid = self._path_scope(None, m["project"])
        extended = self._cco_view(req)
        return _Response(200, self._cco_answer(self._cco(pid, m["id"]), extended=extended))

    def _h_create_cco(self, req: _Request, m: re.Match[str]) -> _Response:
        pid = self._path_scope(None, m["project"])
        fields = _wrapped(_json_body(req), "change_order")
        changes = self._cco_changes(pid, fields, None, CCO_REQUEST_FIELDS, status=422)
        record = self._create_cco(pid, changes, self._actor(req), req.events)
        return _Response(201, self._cco_answer(record))

    def _h_update_cco(self, req: _Request, m: re.Match[str]) -> _Response:
        pid = self._path_scope(None, m["project"])
        extended = self._cco_view(req)
        record = self._cco(pid, m["id"])
        fields = _wrapped(_json_body(req), "change_order")
        changes = self._cco_changes(pid, fields, record, CCO_REQUEST_FIELDS, status=422)
        record.update(changes)
        self._touch_cco(record, self._actor(req), req.events)
        return _Response(200, self._cco_answer(record, extended=extended))

    def _delete_cco(self, pid: int, raw: object, actor: Actor, out: list[_Outgoing]) -> None:
        record = self._cco(pid, raw)
        if record["status"] in LOCKED_STATUSES:
            raise SandboxError(400, {"base": ["An approved change order can't be deleted"]})
        record["deleted_at"] = record["updated_at"] = _now_iso()
        self._cco_event("delete", record, actor, out)

    def _h_delete_cco(self, req: _Request, m: re.Match[str]) -> _Response:
        pid = self._path_scope(None, m["project"])
        self._delete_cco(pid, m["id"], self._actor(req), req.events)
        return _Response(204)

    # --- legacy change order packages --------------------------------------------------------
    def _h_list_packages(self, req: _Request, _: re.Match[str]) -> _Response:
        pid = self._project_param(req)
        include = req.param("filters[include_deleted]")
        if include not in (None, "", "only", "with"):
            raise SandboxError(400, "filters[include_deleted] must be one of only, with")
        wanted = {"only": (True,), "with": (False, True)}.get(include or "", (False,))
        records = {i: c for i, c in self.state.change_orders.items()
                   if c["project_id"] == pid and bool(c.get("deleted_at")) in wanted}
        contract = req.param("contract_id")
        if contract not in (None, ""):
            records = {i: c for i, c in records.items() if str(c["contract_id"]) == contract}
        ids = req.query.get("filters[id][]", []) + req.query.get("filters[id]", [])
        if ids:
            records = {i: c for i, c in records.items() if str(c["id"]) in ids}
        answer = self._page(req, records, origin_filter=False)
        answer.body = [self._package_answer(c, full=False) for c in answer.body]
        return answer

    def _h_get_package(self, req: _Request, m: re.Match[str]) -> _Response:
        if int(m["id"]) in self.state.prime_change_orders:  # a PCCO is a package too
            return self._h_get_pcco_package(req, m)  # PrimeChangeOrdersMixin
        pid = self._project_param(req)
        return _Response(200, self._package_answer(self._cco(pid, m["id"]), full=True))

    def _h_create_package(self, req: _Request, _: re.Match[str]) -> _Response:
        with refusals_as(400):
            body = _json_body(req)
            pid = self._body_project(req, body)
            self._top_level_keys(body)
            fields = {**_wrapped(body, "change_order"), "contract_id": body.get("contract_id")}
            if body.get("contract_id") is None:
                raise SandboxError(400, {"contract_id": ["can't be blank"]})
            changes = self._cco_changes(pid, fields, None, {
                **PACKAGE_REQUEST_FIELDS, "contract_id": FieldSpec("custom")}, status=400)
            record = self._create_cco(pid, changes, self._actor(req), req.events)
            return _Response(201, self._package_answer(record, full=True))

    def _h_update_package(self, req: _Request, m: re.Match[str]) -> _Response:
        if int(m["id"]) in self.state.prime_change_orders:  # a PCCO is a package too
            return self._h_update_pcco_package(req, m)  # PrimeChangeOrdersMixin
        with refusals_as(400):
            body = _json_body(req)
            pid = self._body_project(req, body)
            self._top_level_keys(body)
            record = self._cco(pid, m["id"])
            fields = dict(_wrapped(body, "change_order"))
            if body.get("contract_id") is not None:
                fields["contract_id"] = body["contract_id"]
            changes = self._cco_changes(pid, fields, record, {
                **PACKAGE_REQUEST_FIELDS, "contract_id": FieldSpec("custom")}, status=400)
            record.update(changes)
            self._touch_cco(record, self._actor(req), req.events)
            return _Response(200, self._package_answer(record, full=True))

    @staticmethod
    def _top_level_keys(body: Mapping[str, Any]) -> None:
        extra = sorted(set(body) - {"project_id", "contract_id", "change_order"})
        if extra:
            raise SandboxError(400, {key: [NOT_PERMITTED] for key in extra})

    # --- Python helpers (the web UI: they fire webhooks) -------------------------------------
    def create_cco(
        self, project_id: int, contract_id: int, *, status: str = "approved",
        number: str | None = None, title: str | None = "Change order",
        as_application: str = "procore-web", as_user_id: int | None = None, **fields: Any,
    ) -> dict[str, Any]:
        """A CCO made in the web UI (``fields``: more ``change_order`` keys); its answer."""
        actor = self._web_actor(as_application, as_user_id)
        body = {"contract_id": contract_id, "status": status, "title": title, **fields}
        if number is not None:
            body["number"] = number

        def make(out: list[_Outgoing]) -> dict[str, Any]:
            self._project(project_id)
            changes = self._cco_changes(project_id, body, None, CCO_REQUEST_FIELDS, status=422)
            return self._cco_answer(self._create_cco(project_id, changes, actor, out))

        return self._helper(make)

    def update_cco(self, project_id: int, cco_id: int, **fields: Any) -> dict[str, Any]:
        """A web UI edit of a CCO's ``change_order`` keys."""
        actor = self._web_actor("procore-web", None)

        def edit(out: list[_Outgoing]) -> dict[str, Any]:
            record = self._cco(project_id, cco_id)
            record.update(self._cco_changes(project_id, fields, record, CCO_REQUEST_FIELDS,
                                            status=422))
            self._touch_cco(record, actor, out)
            return self._cco_answer(record, extended=True)

        return self._helper(edit)

    def delete_cco(self, project_id: int, cco_id: int) -> None:
        actor = self._web_actor("procore-web", None)
        self._helper(lambda out: self._delete_cco(project_id, cco_id, actor, out))

    def get_cco(self, project_id: int, cco_id: int) -> dict[str, Any]:
        with self.state.lock:
            return self._cco_answer(self._cco(project_id, cco_id), extended=True)

    @staticmethod
    def _web_actor(application: str, user_id: int | None) -> Actor:
        from devstack.procore_sandbox.webhook_payloads import WEB_USER_ID

        return Actor(application, WEB_USER_ID if user_id is None else user_id)
