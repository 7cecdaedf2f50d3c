"""Commitments (work order and purchase order contracts), their line items and their sync.

Every write fires a webhook attributed to the caller: the HTTP handlers and the Python
helpers in ``seeding`` share ``_create_commitment`` ... ``_delete_line``.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar

from devstack.procore_sandbox.resources.common import ResourceBase, _sync_updates
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

COMMITMENT_STATUSES = (
    "Draft",
    "Out For Bid",
    "Out For Signature",
    "Approved",
    "Complete",
    "Terminated",
    "Void",
)
_CENT = Decimal("0.01")
_KIND_PATTERN = "(?P<kind>work_order_contracts|purchase_order_contracts)"
_ONE = rf"/rest/v1\.0/{_KIND_PATTERN}/(?P<id>\d+)"


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
            if fields["status"] not in COMMITMENT_STATUSES:
                errors["status"] = ["is not included in the list"]
            changes["status"] = fields["status"]
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
        if "executed" in fields:
            if not isinstance(fields["executed"], bool):
                errors["executed"] = ["must be true or false"]
            changes["executed"] = fields["executed"]
        if "contract_date" in fields:  # Procore: a date (YYYY-MM-DD) or null
            value = fields["contract_date"]
            try:
                changes["contract_date"] = (None if value in (None, "")
                                            else date.fromisoformat(str(value)).isoformat())
            except ValueError:
                errors["contract_date"] = ["is not a date"]
        for name in ("title", "description", "origin_id", "origin_code", "origin_data"):
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
        record: dict[str, Any] = {
            "id": cid,
            "number": str(len(existing) + 1),
            "title": None,
            "status": "Draft",
            "executed": False,
            "vendor": None,
            "project": {"id": project["id"], "name": project["name"]},
            "retainage_percent": None,
            "contract_date": None,
            "description": None,
            "grand_total": "0.00",
            "origin_id": None,
            "origin_code": None,
            "origin_data": None,
            "created_at": now,
            "updated_at": now,
        }
        while any(c["number"] == record["number"] for c in existing):
            record["number"] = str(int(record["number"]) + 1)
        self._apply_commitment_fields(kind, record, fields)
        self.state.commitments[kind.segment][cid] = record
        self.state.line_items[cid] = {}
        self._event("create", kind.resource_name, cid, project["id"], actor, out)
        return copy.deepcopy(record)

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
        return copy.deepcopy(record)

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

        records = {
            cid: c
            for cid, c in self.state.commitments[m["kind"]].items()
            if c["project"]["id"] == pid and updated_within(c)
        }
        return self._page(req, records)

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
        return _Response(200, copy.deepcopy(self._commitment(KINDS[m["kind"]], m["id"], pid)))

    def _h_create_commitment(self, req: _Request, m: re.Match[str]) -> _Response:
        kind = KINDS[m["kind"]]
        body = _json_body(req)
        pid = self._body_project(req, body)
        fields = _wrapped(body, kind.singular)
        assert req.actor is not None
        return _Response(
            201, self._create_commitment(kind.segment, pid, fields, req.actor, req.events)
        )

    def _h_update_commitment(self, req: _Request, m: re.Match[str]) -> _Response:
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
        return _Response(204)

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
        if "cost_code_id" in fields:
            ccid = fields["cost_code_id"]
            if ccid is None:
                changes["cost_code"] = None
                changes["cost_code_id"] = None
            else:
                code = self.state.cost_codes.get(project_id, {}).get(_as_int(ccid, "cost_code_id"))
                if code is None:
                    errors["cost_code"] = ["must exist"]
                else:
                    changes["cost_code"] = {  # as Procore's line item schema names them
                        "id": code["id"],
                        "full_code": code["full_code"],
                        "name": code["name"],
                        "origin_id": code.get("origin_id"),
                    }
                    changes["cost_code_id"] = code["id"]
        if "line_item_type_id" in fields:
            ltid = fields["line_item_type_id"]
            if ltid is None:
                changes["line_item_type"] = None
                changes["line_item_type_id"] = None
            else:
                lit = self.state.line_item_types.get(_as_int(ltid, "line_item_type_id"))
                if lit is None:
                    errors["line_item_type"] = ["must exist"]
                else:
                    changes["line_item_type"] = {
                        "id": lit["id"],
                        "name": lit["name"],
                        "code": lit["code"],
                    }
                    changes["line_item_type_id"] = lit["id"]
        for name in ("description", "uom", "origin_id"):
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
            "cost_code": None,
            "cost_code_id": None,
            "line_item_type": None,
            "line_item_type_id": None,
            "origin_id": None,
            "created_at": now,
            "updated_at": now,
        }
        self._apply_line_fields(commitment["project"]["id"], record, fields)
        record["id"] = self.state.next_id()
        lines[record["id"]] = record
        self._recompute_total(commitment)
        self._line_event("create", kind, commitment, record["id"], actor, out)
        return copy.deepcopy(record)

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
        return copy.deepcopy(record)

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
        commitment = self._commitment(KINDS[m["kind"]], m["id"], pid)
        return self._page(req, self.state.line_items.get(commitment["id"], {}))

    def _h_get_line(self, req: _Request, m: re.Match[str]) -> _Response:
        pid = self._project_param(req)
        commitment = self._commitment(KINDS[m["kind"]], m["id"], pid)
        return _Response(200, copy.deepcopy(self._line(commitment["id"], m["line_id"])))

    def _h_create_line(self, req: _Request, m: re.Match[str]) -> _Response:
        body = _json_body(req)
        pid = self._body_project(req, body)
        fields = _wrapped(body, "line_item")
        assert req.actor is not None
        record = self._create_line(m["kind"], int(m["id"]), pid, fields, req.actor, req.events)
        return _Response(201, record)

    def _h_update_line(self, req: _Request, m: re.Match[str]) -> _Response:
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
        return _Response(204)

    # --- sync (origin_id / origin_code / origin_data) -------------------------------------
    def _h_sync_commitments(self, req: _Request, m: re.Match[str]) -> _Response:
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

        return self._sync(updates, in_project, pool, create=None, on_change=changed)
