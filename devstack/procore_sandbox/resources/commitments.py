"""Commitments (work order and purchase order contracts), their line items and their sync.

Every write fires a webhook attributed to the caller: the HTTP handlers and the Python
helpers in ``seeding`` share ``_create_commitment`` ... ``_delete_line``.

Answers have the keys and types of Procore's schemas (docs/decisions.md, "Sandbox
commitments and cost codes follow Procore's schemas"; files named ``procore-spec/...`` are
the reference excerpts listed in its SOURCES.md). Records are stored with what they were
given; ``_commitment_answer`` and ``_line_answer`` render them per endpoint:

* lists and sync entities: the compact view (``procore-spec/sdk/RestV10WorkOrderContractsGet
  .json``, ``openapi/RestV10PurchaseOrderContractsGet.json``); show, POST and PATCH: the
  full record with its ``line_items`` (``openapi/RestV10WorkOrderContractsIdGet.json``,
  ``RestV10PurchaseOrderContractsIdGet.json``). Amounts that need change orders, invoices
  or payments (none here) are ``"0.00"``; revised and remaining amounts equal the total.
* line items (``sdk/RestV10WorkOrderContractsWorkOrderContractIdLineItemsGet.json``,
  ``openapi/...LineItemsPost.json``): ``cost_code``, ``line_item_type`` and ``wbs_code``
  objects, never flat ids; the request still takes ``cost_code_id``, ``line_item_type_id``
  and ``wbs_code_id`` (``openapi/...LineItemsPost.json``, request body). ``quantity``,
  ``unit_cost``, ``total_amount`` and ``extended_amount`` are decimal text (the OpenAPI
  file's ``string``/``float``; the SDK says number).
* DELETE answers **200** with an empty body (``openapi/RestV10WorkOrderContractsIdDelete
  .json``, ``sdk/...IdDelete.json``: "void").
* Purchase orders have their own statuses (``openapi/RestV10PurchaseOrderContractsPost
  .json``: Draft, Processing, Submitted, Partially Received, Received, Approved, Closed);
  a work order status (Complete, Void, ...) on a purchase order is refused.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar

from devstack.procore_sandbox.resources.common import ResourceBase, _sync_updates
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
from devstack.procore_sandbox.webhooks import _Outgoing

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
EXTENDED_TYPES = ("manual", "calculated")
#: the status of a refused body (openapi/...Post.json, ...IdPatch.json ``responses``): work
#: order create/update document 422, purchase orders, line items and syncs only 400
REFUSAL_STATUS = {"work_order_contracts": 422, "purchase_order_contracts": 400}
HOLDER_TYPES = {
    "work_order_contracts": "WorkOrderContract",
    "purchase_order_contracts": "PurchaseOrderContract",
}
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
# Answer amounts without change orders, invoices or payments; the others equal the total.
_ZERO_AMOUNTS = (
    "approved_change_orders",
    "draft_change_orders_amount",
    "pending_change_orders",
    "percentage_paid",
    "total_draw_requests_amount",
    "total_payments",
    "total_requisitions_amount",
)
_TOTAL_AMOUNTS = ("pending_revised_contract", "revised_contract", "remaining_balance_outstanding")
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
# Show-only collections the sandbox never fills (attachments, change orders, payments).
_EMPTY_COLLECTIONS = (
    "change_order_packages",
    "change_order_requests",
    "invoice_contacts",
    "payments_issued",
    "potential_change_orders",
)


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


def _plain(value: Decimal) -> str:
    """Quantities like Procore shows them: "10.0", "2.5"."""
    text = format(value.normalize(), "f")
    return text if "." in text else text + ".0"


def _maybe_decimal(value: object) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _list_view(req: _Request, name: str, modelled: str, known: tuple[str, ...]) -> None:
    """A documented ``view`` other than the one the sandbox models answers 400, saying so."""
    view = req.param("view")
    if view in (None, "", modelled):
        return
    if view in known:
        raise SandboxError(400, f"the sandbox models only view={modelled} of {name}")
    raise SandboxError(400, f"view must be one of {', '.join(known)}")


class CommitmentsMixin(ResourceBase):
    """``/rest/v1.0/{work_order_contracts|purchase_order_contracts}`` and their line items."""

    ROUTES: ClassVar[tuple[Route, ...]] = (
        ("GET", rf"/rest/v1\.0/{_KIND_PATTERN}", "_h_list_commitments", True),
        ("POST", rf"/rest/v1\.0/{_KIND_PATTERN}", "_h_create_commitment", True),
        ("GET", _ONE, "_h_get_commitment", True),
        ("PATCH", _ONE, "_h_update_commitment", True),
        ("DELETE", _ONE, "_h_delete_commitment", True),
        ("PATCH", rf"/rest/v1\.0/{_KIND_PATTERN}/sync", "_h_sync_commitments", True),
        ("GET", _ONE + "/line_items", "_h_list_lines", True),
        ("POST", _ONE + "/line_items", "_h_create_line", True),
        ("GET", _ONE + r"/line_items/(?P<line_id>\d+)", "_h_get_line", True),
        ("PATCH", _ONE + r"/line_items/(?P<line_id>\d+)", "_h_update_line", True),
        ("DELETE", _ONE + r"/line_items/(?P<line_id>\d+)", "_h_delete_line", True),
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
        record = self.state.commitments[kind.segment].get(int(commitment_id))
        if record is None or (project_id is not None and record["project"]["id"] != project_id):
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
        del self.state.commitments[kind.segment][record["id"]]
        self.state.line_items.pop(record["id"], None)
        self._event("delete", kind.resource_name, record["id"], record["project"]["id"], actor, out)

    def _commitment_answer(
        self, kind: CommitmentKind, record: Mapping[str, Any], *, full: bool
    ) -> dict[str, Any]:
        """The compact view (lists, sync entities) or the full record (show, POST, PATCH)."""
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
        answer.update(dict.fromkeys(_ZERO_AMOUNTS, "0.00"))
        answer.update(dict.fromkeys(_TOTAL_AMOUNTS, record["grand_total"]))
        answer["currency_configuration"] = dict(CURRENCY)
        if full:
            answer.pop("billing_schedule_of_values_status", None)
            answer.update({name: [] for name in _EMPTY_COLLECTIONS})
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
        # Nothing is ever soft deleted here: "only" finds none, "with" changes nothing.
        deleted_only = req.param("filters[include_deleted]") == "only"
        records = {
            cid: c
            for cid, c in self.state.commitments[m["kind"]].items()
            if c["project"]["id"] == pid and updated_within(c) and not deleted_only
        }
        answer = self._page(req, records)  # filtered and paged as stored, then shown
        answer.body = [self._commitment_answer(kind, c, full=False) for c in answer.body]
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

    # --- line items -----------------------------------------------------------------------
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
            assert req.actor is not None
            record = self._create_line(m["kind"], int(m["id"]), pid, fields, req.actor, req.events)
            return _Response(201, record)

    def _h_update_line(self, req: _Request, m: re.Match[str]) -> _Response:
        with refusals_as(400):
            body = _json_body(req)
            pid = self._body_project(req, body)
            fields = _wrapped(body, "line_item")
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

    # --- sync (origin_id / origin_code / origin_data) -------------------------------------
    def _h_sync_commitments(self, req: _Request, m: re.Match[str]) -> _Response:
        with refusals_as(400):
            kind = KINDS[m["kind"]]
            body = _json_body(req)
            pid = self._body_project(req, body)
            updates = _sync_updates(body)
            pool = self.state.commitments[kind.segment]
            in_project = {cid: c for cid, c in pool.items() if c["project"]["id"] == pid}
            actor = req.actor
            assert actor is not None

            def changed(record: dict[str, Any]) -> None:
                self._event("update", kind.resource_name, record["id"], pid, actor, req.events)

            answer = self._sync(updates, in_project, pool, create=None, on_change=changed)
            # entities are the records as each update left them, shown in the compact view
            answer.body["entities"] = [
                self._commitment_answer(kind, e, full=False) for e in answer.body["entities"]
            ]
            return answer
