"""Commitments (work order and purchase order contracts) and their sync.

Every write fires a webhook attributed to the caller: the HTTP handlers and the Python
helpers in ``seeding`` share ``_create_commitment`` ... ``_delete_commitment``. Line items
are in ``line_items``.

Answers have the keys and types of Procore's schemas (docs/decisions.md, "Sandbox
commitments and cost codes follow Procore's schemas"; files named ``procore-spec/...`` are
the reference excerpts listed in its SOURCES.md). Records are stored with what they were
given; ``_commitment_answer`` renders them per endpoint:

* lists and sync entities: the compact view (``procore-spec/sdk/RestV10WorkOrderContractsGet
  .json``, ``openapi/RestV10PurchaseOrderContractsGet.json``); show, POST and PATCH: the
  full record with its ``line_items`` (``openapi/RestV10WorkOrderContractsIdGet.json``,
  ``RestV10PurchaseOrderContractsIdGet.json``).
* Amounts (every view: list, show, POST/PATCH, sync entities; decimal text, 2 places; docs/
  decisions.md "Sandbox commitment amounts follow their change orders, invoices and
  payments") follow the commitment's CCOs (``change_orders``), subcontractor invoices
  (``requisitions``) and contract payments, summed once per answer (``_commitment_sums``;
  a list or sync answer sums for all its commitments in one pass):

  - ``grand_total``: the schedule of values total (stored as the lines change).
  - ``approved_change_orders`` / ``pending_change_orders`` / ``draft_change_orders_amount``:
    the sum of the ``grand_total`` (its lines' amounts, to the cent) of the commitment's
    live CCOs by status (``CCO_AMOUNT_STATUSES``): ``approved``; ``pending``, ``pricing``,
    ``not_pricing``, ``revised``, ``proceeding``, ``not_proceeding``, ``pending_billable``
    ("Pending - ..."); ``draft``. ``no_charge``, ``rejected``, ``void`` and deleted CCOs
    count nowhere.
  - ``revised_contract`` = grand total + approved; ``pending_revised_contract`` = revised +
    pending.
  - ``total_requisitions_amount`` = ``total_draw_requests_amount``: over the commitment's
    invoices with status ``approved`` or ``approved_as_noted`` (``INVOICED_STATUSES``), the
    sum of each item's ``work_completed_this_period`` + ``materials_presently_stored``
    (billed, before retainage).
  - ``total_payments``: the sum of the commitment's contract payments' ``amount``; show also
    lists them in ``payments_issued`` (an array of payments in the schema, by id).
  - ``remaining_balance_outstanding`` = revised - total payments; ``percentage_paid`` (text
    in the schema) = total payments / revised x 100, 2 places (half up), "0.00" when the
    revised contract is 0.
* Requests over HTTP: the ``work_order_contract`` / ``purchase_order_contract`` object takes
  only the keys of its kind's create/update schema (``REQUEST_FIELDS``), each of its
  documented kind (text a JSON string; dates, enums, integers, booleans checked); anything
  else is refused (``NOT_PERMITTED``) with the endpoint's documented status
  (``REFUSAL_STATUS``) before anything is written. The Python helpers skip that gate.
* DELETE answers **200** with an empty body (``openapi/RestV10WorkOrderContractsIdDelete
  .json``, ``sdk/...IdDelete.json``: "void") and soft deletes: the record (and its line
  items) stays with ``deleted_at`` set. The lists leave it out unless
  ``filters[include_deleted]`` is ``only`` or ``with`` (another value: 400); show, update,
  delete, line items and sync by ``id`` (which document no such filter) do not find it
  (404, "Entity with this ID not found"). It keeps its ``number`` and ``origin_id``.
* Purchase orders have their own statuses (``openapi/RestV10PurchaseOrderContractsPost
  .json``: Draft, Processing, Submitted, Partially Received, Received, Approved, Closed);
  a work order status (Complete, Void, ...) on a purchase order is refused.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar

from devstack.procore_sandbox.resources.commitment_amounts import (
    PAYMENT_ISSUED_KEYS,
    CommitmentAmountsMixin,
)
from devstack.procore_sandbox.resources.common import (
    BOOL,
    DATE,
    INT,
    MUST_EXIST,
    NUMERIC_TEXT,
    REFS,
    TEXT,
    FieldSpec,
    _check_body,
    _sync_updates,
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

#: work order contract statuses (openapi/RestV10WorkOrderContractsPost.json)
COMMITMENT_STATUSES = (
    "Draft",
    "Out For Bid",
    "Out For Signature",
    "Approved",
    "Complete",
    "Terminated",
    "Void",
)
#: purchase order contract statuses (openapi/RestV10PurchaseOrderContractsPost.json)
PURCHASE_ORDER_STATUSES = (
    "Draft",
    "Processing",
    "Submitted",
    "Partially Received",
    "Received",
    "Approved",
    "Closed",
)
STATUSES = {
    "work_order_contracts": COMMITMENT_STATUSES,
    "purchase_order_contracts": PURCHASE_ORDER_STATUSES,
}
ACCOUNTING_METHODS = ("amount", "unit")
#: ``filters[include_deleted]`` of the lists (openapi/RestV10WorkOrderContractsGet.json)
INCLUDE_DELETED = ("only", "with")
#: the status of a refused body (openapi/...Post.json, ...IdPatch.json ``responses``): work
#: order create/update document 422, purchase orders, line items and syncs only 400
REFUSAL_STATUS = {"work_order_contracts": 422, "purchase_order_contracts": 400}
CURRENCY = {"currency_iso_code": "USD"}
_CENT = Decimal("0.01")
_KIND_PATTERN = "(?P<kind>work_order_contracts|purchase_order_contracts)"
_ONE = rf"/rest/v1\.0/{_KIND_PATTERN}/(?P<id>\d+)"

# Request fields (openapi/RestV10{WorkOrder,PurchaseOrder}ContractsPost.json) by kind of
# value: text, dates (YYYY-MM-DD) and booleans; the rest are handled one by one.
_TEXT = ("title", "description", "approval_letter_date", "origin_id", "origin_code", "origin_data")
_DATES = (
    "contract_date",
    "execution_date",
    "issued_on_date",
    "letter_of_intent_date",
    "returned_date",
    "signed_contract_received_date",
)
_KIND_TEXT = {
    "work_order_contracts": ("exclusions", "inclusions"),
    "purchase_order_contracts": ("bill_to_address", "payment_terms", "ship_to_address", "ship_via"),
}
_KIND_DATES = {
    "work_order_contracts": (
        "actual_completion_date",
        "contract_estimated_completion_date",
        "contract_start_date",
    ),
    "purchase_order_contracts": ("delivery_date",),
}
_BOOLS = ("executed", "private")

# --- request schemas: the object of a create or update body (openapi/RestV10{WorkOrder,
# PurchaseOrder}Contracts{Post,IdPatch}.json; create and update list the same fields) ------
_NO_EFFECT_NUMBER = FieldSpec("number", stored=())
_REQUEST_COMMON: Mapping[str, FieldSpec] = {
    "accounting_method": FieldSpec("enum", ACCOUNTING_METHODS),
    "approval_letter_date": TEXT,  # typed string, no format, in the schema
    "contract_date": DATE,
    "description": TEXT,
    "executed": BOOL,
    "execution_date": DATE,
    "invoice_contact_user_ids": REFS,  # the sandbox keeps no users: only []
    "issued_on_date": DATE,
    "letter_of_intent_date": DATE,
    "origin_code": TEXT,
    "origin_data": TEXT,
    "origin_id": TEXT,
    "number": TEXT,
    "private": BOOL,
    "retainage_percent": NUMERIC_TEXT,
    "returned_date": DATE,
    "signed_contract_received_date": DATE,
    "title": TEXT,
    "vendor_id": INT,
    "drawing_revision_ids": REFS,  # attachments of kinds the sandbox does not keep: only []
    "file_version_ids": REFS,
    "form_ids": REFS,
    "image_ids": REFS,
    "upload_ids": REFS,
    "currency_exchange_rate": _NO_EFFECT_NUMBER,  # answers stay in USD
    "currency_iso_code": FieldSpec("text", stored=()),
}
REQUEST_FIELDS: Mapping[str, Mapping[str, FieldSpec]] = {
    "work_order_contracts": {
        **_REQUEST_COMMON,
        "status": FieldSpec("enum", COMMITMENT_STATUSES),
        "actual_completion_date": DATE,
        "contract_estimated_completion_date": DATE,
        "contract_start_date": DATE,
        "exclusions": TEXT,
        "inclusions": TEXT,
    },
    "purchase_order_contracts": {
        **_REQUEST_COMMON,
        "status": FieldSpec("enum", PURCHASE_ORDER_STATUSES),
        "assignee_id": INT,
        "bill_to_address": TEXT,
        "delivery_date": DATE,
        "payment_terms": TEXT,
        "ship_to_address": TEXT,
        "ship_via": TEXT,
    },
}
#: ``custom_field_%{custom_field_definition_id}``: documented, but the sandbox keeps no
#: custom field definitions, so each is refused with ``MUST_EXIST``
_CUSTOM_FIELD = re.compile(r"custom_field_\d+")
# Stored and shown as they are in both views (vendor and project are refreshed on answer).
_STORED = (
    "id",
    "number",
    "status",
    "executed",
    "private",
    "accounting_method",
    "vendor",
    "project",
    "retainage_percent",
    "grand_total",
    "requisitions_are_enabled",
    "show_line_items_to_non_admins",
    "created_at",
    "updated_at",
    "deleted_at",
    *_TEXT,
    *_DATES,
)
#: the compact view's keys (sdk/RestV10WorkOrderContractsGet.json,
#: openapi/RestV10PurchaseOrderContractsGet.json), besides amounts and currency
_COMPACT = {
    "work_order_contracts": (
        *_STORED,
        *_KIND_TEXT["work_order_contracts"],
        *_KIND_DATES["work_order_contracts"],
    ),
    "purchase_order_contracts": (
        *_STORED,
        *_KIND_TEXT["purchase_order_contracts"],
        *_KIND_DATES["purchase_order_contracts"],
        "assignee",
        "billing_schedule_of_values_status",
    ),
}
# Show-only collections the sandbox leaves empty (payments_issued is filled from the
# contract payments; change_order_packages is not rendered here).
_EMPTY_COLLECTIONS = (
    "change_order_packages",
    "change_order_requests",
    "invoice_contacts",
    "potential_change_orders",
)
_ZERO = Decimal(0)
_HUNDRED = Decimal(100)


def _decimal(value: object, name: str) -> Decimal:
    if isinstance(value, bool):
        raise SandboxError(422, {name: ["is not a number"]})
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise SandboxError(422, {name: ["is not a number"]}) from None
    if not number.is_finite():
        raise SandboxError(422, {name: ["is not a number"]})
    return number


def _money(value: Decimal) -> str:
    return str(value.quantize(_CENT))


def _list_view(req: _Request, name: str, modelled: str, known: tuple[str, ...]) -> None:
    """A documented ``view`` other than the one the sandbox models answers 400, saying so."""
    view = req.param("view")
    if view in (None, "", modelled):
        return
    if view in known:
        raise SandboxError(400, f"the sandbox models only view={modelled} of {name}")
    raise SandboxError(400, f"view must be one of {', '.join(known)}")


def _check_commitment_body(kind: CommitmentKind, fields: Mapping[str, Any]) -> None:
    """The documented keys and value kinds of a create or update (``REQUEST_FIELDS``)."""
    custom = [name for name in fields if _CUSTOM_FIELD.fullmatch(name)]
    _check_body(
        fields,
        REQUEST_FIELDS[kind.segment],
        handled=custom,
        errors={name: [MUST_EXIST] for name in custom},
    )


class CommitmentsMixin(CommitmentAmountsMixin):
    """``/rest/v1.0/{work_order_contracts|purchase_order_contracts}`` and their line items."""

    ROUTES: ClassVar[tuple[Route, ...]] = (
        ("GET", rf"/rest/v1\.0/{_KIND_PATTERN}", "_h_list_commitments", True),
        ("POST", rf"/rest/v1\.0/{_KIND_PATTERN}", "_h_create_commitment", True),
        ("GET", _ONE, "_h_get_commitment", True),
        ("PATCH", _ONE, "_h_update_commitment", True),
        ("DELETE", _ONE, "_h_delete_commitment", True),
        ("PATCH", rf"/rest/v1\.0/{_KIND_PATTERN}/sync", "_h_sync_commitments", True),
    )

    @staticmethod
    def _kind(name: str) -> CommitmentKind:
        for kind in KINDS.values():
            if name in (kind.segment, kind.singular):
                return kind
        raise ValueError(f"unknown commitment kind {name!r}")

    def _commitment(
        self, kind: CommitmentKind, commitment_id: int | str, project_id: int | None
    ) -> dict[str, Any]:
        """A live commitment; a deleted one is not found (only the lists show it)."""
        record = self.state.commitments[kind.segment].get(int(commitment_id))
        if record is None or record.get("deleted_at") or (
            project_id is not None and record["project"]["id"] != project_id
        ):
            raise SandboxError(404, f"{kind.resource_name[:-1]} {commitment_id} not found")
        return record

    def _apply_commitment_fields(
        self, kind: CommitmentKind, record: dict[str, Any], fields: Mapping[str, Any]
    ) -> None:
        """Validate everything first, then write: a 422 leaves the record untouched."""
        changes: dict[str, Any] = {}
        errors: dict[str, list[str]] = {}
        if "status" in fields:
            if fields["status"] not in STATUSES[kind.segment]:
                errors["status"] = ["is not included in the list"]
            changes["status"] = fields["status"]
        if "accounting_method" in fields:
            if fields["accounting_method"] not in ACCOUNTING_METHODS:
                errors["accounting_method"] = ["is not included in the list"]
            changes["accounting_method"] = fields["accounting_method"]
        if "vendor_id" in fields:
            vendor_id = fields["vendor_id"]
            if vendor_id is None:
                changes["vendor"] = None
            else:
                vendor = self.state.vendors.get(_as_int(vendor_id, "vendor_id"))
                if vendor is None:
                    errors["vendor"] = ["must exist"]
                else:
                    changes["vendor"] = {"id": vendor["id"], "company": vendor["name"]}
        if "assignee_id" in fields and kind.segment == "purchase_order_contracts":
            raw = fields["assignee_id"]
            changes["assignee"] = None if raw is None else {"id": _as_int(raw, "assignee_id")}
        if "number" in fields and fields["number"] is not None:
            number = str(fields["number"])
            taken = any(
                other["number"] == number
                and other["project"]["id"] == record["project"]["id"]
                and other["id"] != record.get("id")
                for other in self.state.commitments[kind.segment].values()
            )
            if taken:
                errors["number"] = ["has already been taken"]
            changes["number"] = number
        if "retainage_percent" in fields and fields["retainage_percent"] is not None:
            try:
                percent = _decimal(fields["retainage_percent"], "retainage_percent")
            except SandboxError:
                errors["retainage_percent"] = ["is not a number"]
            else:
                if not Decimal(0) <= percent <= Decimal(100):
                    errors["retainage_percent"] = ["must be between 0 and 100"]
                changes["retainage_percent"] = _money(percent)
        elif "retainage_percent" in fields:
            changes["retainage_percent"] = None
        for name in _BOOLS:
            if name in fields:
                if not isinstance(fields[name], bool):
                    errors[name] = ["must be true or false"]
                changes[name] = fields[name]
        for name in (*_DATES, *_KIND_DATES[kind.segment]):  # a date (YYYY-MM-DD) or null
            if name in fields:
                value = fields[name]
                try:
                    changes[name] = (None if value in (None, "")
                                     else date.fromisoformat(str(value)).isoformat())
                except ValueError:
                    errors[name] = ["is not a date"]
        for name in (*_TEXT, *_KIND_TEXT[kind.segment]):
            if name in fields:
                value = fields[name]
                changes[name] = None if value is None else str(value)
        if errors:
            raise SandboxError(422, errors)
        record.update(changes)

    def _create_commitment(
        self,
        kind_name: str,
        project_id: int,
        fields: Mapping[str, Any],
        actor: Actor,
        out: list[_Outgoing],
    ) -> dict[str, Any]:
        kind = self._kind(kind_name)
        project = self._project(project_id)
        now = _now_iso()
        cid = self.state.next_id()
        existing = [
            c
            for c in self.state.commitments[kind.segment].values()
            if c["project"]["id"] == project["id"]
        ]
        record: dict[str, Any] = dict.fromkeys(_COMPACT[kind.segment])
        record.update(
            id=cid,
            number=str(len(existing) + 1),
            status="Draft",
            executed=False,
            private=False,
            accounting_method="amount",
            requisitions_are_enabled=False,
            show_line_items_to_non_admins=False,
            project={"id": project["id"], "name": project["name"]},
            grand_total="0.00",
            created_by_id=actor.user_id,
            created_at=now,
            updated_at=now,
        )
        while any(c["number"] == record["number"] for c in existing):
            record["number"] = str(int(record["number"]) + 1)
        self._apply_commitment_fields(kind, record, fields)
        self.state.commitments[kind.segment][cid] = record
        self.state.line_items[cid] = {}
        self._event("create", kind.resource_name, cid, project["id"], actor, out)
        return self._commitment_answer(kind, record, full=True)

    def _update_commitment(
        self,
        kind_name: str,
        commitment_id: int,
        project_id: int | None,
        fields: Mapping[str, Any],
        actor: Actor,
        out: list[_Outgoing],
    ) -> dict[str, Any]:
        kind = self._kind(kind_name)
        record = self._commitment(kind, commitment_id, project_id)
        self._apply_commitment_fields(kind, record, fields)
        record["updated_at"] = _now_iso()
        self._event("update", kind.resource_name, record["id"], record["project"]["id"], actor, out)
        return self._commitment_answer(kind, record, full=True)

    def _delete_commitment(
        self,
        kind_name: str,
        commitment_id: int,
        project_id: int | None,
        actor: Actor,
        out: list[_Outgoing],
    ) -> None:
        kind = self._kind(kind_name)
        record = self._commitment(kind, commitment_id, project_id)
        # Soft delete: the record (and its line items) stays, stamped; see _h_list_commitments.
        record["deleted_at"] = record["updated_at"] = _now_iso()
        self._event("delete", kind.resource_name, record["id"], record["project"]["id"], actor, out)

    def _commitment_answers(
        self, kind: CommitmentKind, records: Iterable[Mapping[str, Any]], *, full: bool
    ) -> list[dict[str, Any]]:
        """Several commitments' answers, their amounts summed in one pass."""
        records = list(records)
        sums = self._commitment_sums(r["id"] for r in records)
        return [self._commitment_answer(kind, r, full=full, sums=sums[r["id"]]) for r in records]

    def _commitment_answer(
        self, kind: CommitmentKind, record: Mapping[str, Any], *, full: bool,
        sums: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """The compact view (lists, sync entities) or the full record (show, POST, PATCH).
        ``sums``: the record's ``_commitment_sums`` when the caller has them."""
        if sums is None:
            sums = self._commitment_sums((record["id"],))[record["id"]]
        answer = {key: copy.deepcopy(record.get(key)) for key in _COMPACT[kind.segment]}
        project = self.state.projects.get(record["project"]["id"], record["project"])
        answer["project"] = {"id": project["id"], "name": project["name"]}
        vendor = record.get("vendor")
        if vendor is not None:
            current = self.state.vendors.get(vendor["id"]) or {}
            name = current.get("name", vendor["company"])
            answer["vendor"] = {"id": vendor["id"], "company": name}
            if full:
                answer["vendor"].update(
                    origin_data=current.get("origin_data"), origin_id=current.get("origin_id")
                )
        answer.update(self._amounts(record["grand_total"], sums))
        answer["currency_configuration"] = dict(CURRENCY)
        if full:
            answer.pop("billing_schedule_of_values_status", None)
            answer.update({name: [] for name in _EMPTY_COLLECTIONS})
            answer["payments_issued"] = [
                {**{key: copy.deepcopy(p.get(key)) for key in PAYMENT_ISSUED_KEYS},
                 "amount": _money(p["amount"]), "attachments": [],
                 "currency_configuration": dict(CURRENCY)}
                for p in sums["payments"]
            ]
            # openapi/RestV10PurchaseOrderContractsIdGet.json types a PO's attachments as
            # one object (a work order's as an array); without attachments: null.
            po = kind.segment == "purchase_order_contracts"
            answer["attachments"] = None if po else []
            answer["created_by_id"] = record.get("created_by_id")
            lines = self.state.line_items.get(record["id"], {})
            answer["line_items"] = [
                self._line_answer(kind, record, lines[i]) for i in sorted(lines)
            ]
        return answer

    def _h_list_commitments(self, req: _Request, m: re.Match[str]) -> _Response:
        """A project's commitments; ``filters[updated_at]`` narrows them like Procore."""
        pid = self._project_param(req)
        raw = req.param("filters[updated_at]")
        low, high = self._updated_at_range(raw) if raw is not None else (None, None)

        def updated_within(record: dict[str, Any]) -> bool:
            if low is None or high is None:
                return True
            stamp = datetime.fromisoformat(str(record["updated_at"]).replace("Z", "+00:00"))
            return low <= stamp <= high

        kind = KINDS[m["kind"]]
        _list_view(req, kind.resource_name, "compact", ("compact", "extended"))
        # Deleted records are left out unless asked: "only" lists just them, "with" both.
        include_deleted = req.param("filters[include_deleted]")
        if include_deleted not in (None, "", *INCLUDE_DELETED):
            raise SandboxError(
                400, f"filters[include_deleted] must be one of {', '.join(INCLUDE_DELETED)}"
            )
        wanted = {"only": (True,), "with": (False, True)}.get(include_deleted or "", (False,))
        records = {
            cid: c
            for cid, c in self.state.commitments[m["kind"]].items()
            if c["project"]["id"] == pid
            and updated_within(c)
            and bool(c.get("deleted_at")) in wanted
        }
        answer = self._page(req, records)  # filtered and paged as stored, then shown
        answer.body = self._commitment_answers(kind, answer.body, full=False)
        return answer

    @staticmethod
    def _updated_at_range(raw: str) -> tuple[datetime, datetime]:
        """``a...b``, inclusive: each end a date (``YYYY-MM-DD``, the whole day) or a
        datetime with ``Z`` or an offset (``YYYY-MM-DDTHH:MM:SSZ``, ``...+HH:MM``).
        Anything else answers 400 naming the filter."""
        problem = (
            "filters[updated_at] must be an ISO 8601 range 'start...end' of dates "
            "(YYYY-MM-DD) or datetimes (YYYY-MM-DDTHH:MM:SSZ or with a UTC offset)"
        )
        ends = raw.split("...")
        if len(ends) != 2:
            raise SandboxError(400, problem)
        bounds: list[datetime] = []
        for n, end in enumerate(ends):
            try:
                if re.fullmatch(r"\d{4}-\d{2}-\d{2}", end):
                    day = date.fromisoformat(end)
                    bounds.append(
                        datetime(day.year, day.month, day.day, tzinfo=UTC)
                        if n == 0
                        else datetime(day.year, day.month, day.day, 23, 59, 59, 999999, UTC)
                    )
                elif re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(Z|[+-]\d{2}:\d{2})", end):
                    bounds.append(datetime.fromisoformat(end.replace("Z", "+00:00")))
                else:
                    raise ValueError(end)
            except ValueError:
                raise SandboxError(400, f"{problem}; got {raw!r}") from None
        return bounds[0], bounds[1]

    def _h_get_commitment(self, req: _Request, m: re.Match[str]) -> _Response:
        pid = self._project_param(req)
        kind = KINDS[m["kind"]]
        record = self._commitment(kind, m["id"], pid)
        return _Response(200, self._commitment_answer(kind, record, full=True))

    def _h_create_commitment(self, req: _Request, m: re.Match[str]) -> _Response:
        with refusals_as(REFUSAL_STATUS[m["kind"]]):
            kind = KINDS[m["kind"]]
            body = _json_body(req)
            pid = self._body_project(req, body)
            fields = _wrapped(body, kind.singular)
            _check_commitment_body(kind, fields)
            assert req.actor is not None
            return _Response(
                201, self._create_commitment(kind.segment, pid, fields, req.actor, req.events)
            )

    def _h_update_commitment(self, req: _Request, m: re.Match[str]) -> _Response:
        with refusals_as(REFUSAL_STATUS[m["kind"]]):
            kind = KINDS[m["kind"]]
            body = _json_body(req)
            pid = self._body_project(req, body)
            fields = _wrapped(body, kind.singular)
            _check_commitment_body(kind, fields)
            assert req.actor is not None
            record = self._update_commitment(
                kind.segment, int(m["id"]), pid, fields, req.actor, req.events
            )
            return _Response(200, record)

    def _h_delete_commitment(self, req: _Request, m: re.Match[str]) -> _Response:
        pid = self._project_param(req)
        assert req.actor is not None
        self._delete_commitment(m["kind"], int(m["id"]), pid, req.actor, req.events)
        return _Response(200)  # documented 200, empty body (sdk/...IdDelete.json: void)

    # --- sync (origin_id / origin_code / origin_data) -------------------------------------
    def _h_sync_commitments(self, req: _Request, m: re.Match[str]) -> _Response:
        with refusals_as(400):
            kind = KINDS[m["kind"]]
            body = _json_body(req)
            pid = self._body_project(req, body)
            updates = _sync_updates(body)
            pool = self.state.commitments[kind.segment]
            in_project = {  # a deleted commitment is not found by id; it keeps its origin_id
                cid: c
                for cid, c in pool.items()
                if c["project"]["id"] == pid and not c.get("deleted_at")
            }
            actor = req.actor
            assert actor is not None

            def changed(record: dict[str, Any]) -> None:
                self._event("update", kind.resource_name, record["id"], pid, actor, req.events)

            answer = self._sync(updates, in_project, pool, create=None, on_change=changed)
            # entities are the records as each update left them, shown in the compact view
            answer.body["entities"] = self._commitment_answers(
                kind, answer.body["entities"], full=False
            )
            return answer
