"""Billing periods of a project: ``/rest/v1.0/projects/{project_id}/billing_periods``.

Shapes: ``procore-spec/openapi/RestV10ProjectsProjectIdBillingPeriods{Get,Post}.json``.
Choices: docs/decisions.md ("Sandbox subcontractor invoices ...").

* ``GET`` (paged, ``filters[id]``, ``filters[status]``, ``filters[created_at]``,
  ``filters[updated_at]``) and ``POST {billing_period: {start_date*, end_date*, due_date*,
  status* open|closed}}`` **201**. Refusals **422** ``{"errors": {field: [message]}}``.
* Stricter than the reference (which is silent): ``start_date`` <= ``end_date``, the
  periods of a project never overlap, ``position`` is 1, 2, ... in start date order.
  No webhook (the reference names no billing period resource).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any, ClassVar

from devstack.procore_sandbox.resources.common import (
    DATE,
    FieldSpec,
    ResourceBase,
    _schema_changes,
)
from devstack.procore_sandbox.state import (
    Route,
    SandboxError,
    _json_body,
    _now_iso,
    _Request,
    _Response,
    _wrapped,
)

BILLING_PERIOD_STATUSES = ("open", "closed")
#: ``billing_period`` of the POST (all four required)
BILLING_PERIOD_FIELDS: Mapping[str, FieldSpec] = {
    "start_date": DATE, "end_date": DATE, "due_date": DATE,
    "status": FieldSpec("enum", BILLING_PERIOD_STATUSES),
}
BILLING_PERIOD_KEYS = ("id", "created_at", "due_date", "end_date", "position", "project_id",
                       "start_date", "status", "updated_at")
_BASE = r"/rest/v1\.0/projects/(?P<project>\d+)/billing_periods"


def _stamp(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


class BillingPeriodsMixin(ResourceBase):
    """``/rest/v1.0/projects/{p}/billing_periods`` and ``create_billing_period``."""

    ROUTES: ClassVar[tuple[Route, ...]] = (
        ("GET", _BASE, "_h_list_billing_periods", True),
        ("POST", _BASE, "_h_create_billing_period", True),
    )

    def _billing_period_answer(self, record: Mapping[str, Any]) -> dict[str, Any]:
        periods = sorted((p for p in self.state.billing_periods.values()
                          if p["project_id"] == record["project_id"]),
                         key=lambda p: (p["start_date"], p["id"]))
        answer = {key: copy.deepcopy(record.get(key)) for key in BILLING_PERIOD_KEYS}
        answer["position"] = 1 + [p["id"] for p in periods].index(record["id"])
        return answer

    def _create_period(self, project_id: int, fields: Mapping[str, Any]) -> dict[str, Any]:
        self._project(project_id)
        changes: dict[str, Any] = {}
        errors: dict[str, list[str]] = {}
        _schema_changes(fields, BILLING_PERIOD_FIELDS, changes, errors)
        for name in BILLING_PERIOD_FIELDS:
            if changes.get(name) is None and name not in errors:
                errors[name] = ["can't be blank"]
        if not errors:
            start, end = changes["start_date"], changes["end_date"]
            if start > end:
                errors["end_date"] = ["must be on or after the start date"]
            elif any(p["project_id"] == project_id and p["start_date"] <= end
                     and start <= p["end_date"] for p in self.state.billing_periods.values()):
                errors["base"] = ["Billing periods of a project can't overlap"]
        if errors:
            raise SandboxError(422, errors)
        now = _now_iso()
        record = {"id": self.state.next_id(), "project_id": project_id,
                  "created_at": now, "updated_at": now, **changes}
        self.state.billing_periods[record["id"]] = record
        return record

    def _h_list_billing_periods(self, req: _Request, m: re.Match[str]) -> _Response:
        pid = self._path_scope(None, m["project"])  # BudgetsMixin
        records = {i: p for i, p in self.state.billing_periods.items() if p["project_id"] == pid}
        ids = req.query.get("filters[id][]", []) + req.query.get("filters[id]", [])
        wanted = {part for raw in ids for part in raw.split(",") if part}
        if wanted:
            records = {i: p for i, p in records.items() if str(i) in wanted}
        status = req.param("filters[status]")
        if status not in (None, ""):
            if status not in BILLING_PERIOD_STATUSES:
                raise SandboxError(400, "filters[status] must be one of open, closed")
            records = {i: p for i, p in records.items() if p["status"] == status}
        for stamp in ("created_at", "updated_at"):
            raw = req.param(f"filters[{stamp}]")
            if raw not in (None, ""):
                assert raw is not None
                low, high = self._updated_at_range(raw)  # CommitmentsMixin
                records = {i: p for i, p in records.items()
                           if low <= _stamp(p[stamp]) <= high}
        answer = self._page(req, records, origin_filter=False)
        answer.body = [self._billing_period_answer(p) for p in answer.body]
        return answer

    def _h_create_billing_period(self, req: _Request, m: re.Match[str]) -> _Response:
        pid = self._path_scope(None, m["project"])
        body = _json_body(req)
        extra = sorted(set(body) - {"billing_period"})
        if extra:
            raise SandboxError(422, {key: ["is not a permitted attribute"] for key in extra})
        record = self._create_period(pid, _wrapped(body, "billing_period"))
        return _Response(201, self._billing_period_answer(record))

    # --- Python helper (the web UI) ----------------------------------------------------------
    def create_billing_period(
        self, project_id: int, start: str | date, end: str | date, due: str | date,
        status: str = "open",
    ) -> dict[str, Any]:
        """A billing period made in the web UI; its answer."""
        fields = {"start_date": str(start), "end_date": str(end), "due_date": str(due),
                  "status": status}
        with self.state.lock:
            return self._billing_period_answer(self._create_period(project_id, fields))

    def close_billing_period(self, project_id: int, period_id: int) -> dict[str, Any]:
        """Close a period in the web UI (the API has no update)."""
        with self.state.lock:
            record = self._billing_period(project_id, period_id)
            record.update(status="closed", updated_at=_now_iso())
            return self._billing_period_answer(record)

    def _billing_period(self, project_id: int, raw: object) -> dict[str, Any]:
        record = self.state.billing_periods.get(int(str(raw)))
        if record is None or record["project_id"] != project_id:
            raise SandboxError(404, f"Billing period {raw} not found")
        return record
