"""Cost codes: project (and sub job) cost codes, standard cost code lists and codes, line
item types (cost types). None of them fires a webhook.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any, ClassVar

from devstack.procore_sandbox.resources.common import (
    ORIGIN_ID_DATA,
    ResourceBase,
    _require_text,
    _sync_id,
    _sync_updates,
    _taken,
    _text_changes,
)
from devstack.procore_sandbox.state import (
    Route,
    SandboxError,
    Validator,
    _json_body,
    _now_iso,
    _Request,
    _required_param,
    _Response,
    _wrapped,
)

LINE_ITEM_BASE_TYPES = (
    "labor",
    "equipment",
    "materials",
    "commitment",
    "owner_cost",
    "professional_services",
    "other",
)
COST_CODE_DELIMITER = "-"  # full_code = parent full_code + "-" + code


def _ancestor_ids(records: Mapping[int, dict[str, Any]], start: dict[str, Any]) -> set[int]:
    """``start`` and its parents up the ``parent_id`` chain (cycle safe)."""
    seen: set[int] = set()
    node: dict[str, Any] | None = start
    while node is not None and node["id"] not in seen:
        seen.add(node["id"])
        parent = node.get("parent_id")
        node = records.get(parent) if parent is not None else None
    return seen


def _parent_change(
    codes: Mapping[int, dict[str, Any]],
    raw: object,
    record: dict[str, Any] | None,
    changes: dict[str, Any],
    errors: dict[str, list[str]],
) -> None:
    """``parent_id``: ``None`` detaches; else a code of the same biller/list, not a cycle."""
    if raw is None or raw == "":
        changes["parent_id"] = None
        return
    parent_id = _sync_id(raw)
    parent = codes.get(parent_id) if parent_id is not None else None
    if parent is None:
        errors["parent"] = ["must exist"]
    elif record is not None and record["id"] in _ancestor_ids(codes, parent):
        errors["parent"] = ["is invalid"]  # itself or one of its own descendants
    else:
        changes["parent_id"] = parent["id"]


class CostCodesMixin(ResourceBase):
    """Project cost codes, standard cost code lists and codes, line item types."""

    ROUTES: ClassVar[tuple[Route, ...]] = (
        ("GET", r"/rest/v1\.0/cost_codes", "_h_list_cost_codes", True),
        ("POST", r"/rest/v1\.0/cost_codes", "_h_create_cost_code", True),
        ("PATCH", r"/rest/v1\.0/cost_codes/sync", "_h_sync_cost_codes", True),
        (
            "GET",
            r"/rest/v1\.0/standard_cost_code_lists",
            "_h_list_standard_cost_code_lists",
            True,
        ),
        ("GET", r"/rest/v1\.0/standard_cost_codes", "_h_list_standard_cost_codes", True),
        (
            "PATCH",
            r"/rest/v1\.0/standard_cost_codes/sync",
            "_h_sync_standard_cost_codes",
            True,
        ),
        ("GET", r"/rest/v1\.0/line_item_types", "_h_list_line_item_types", True),
        ("POST", r"/rest/v1\.0/line_item_types", "_h_create_line_item_type", True),
        ("PATCH", r"/rest/v1\.0/line_item_types/sync", "_h_sync_line_item_types", True),
    )

    # --- blank records (registered now, filled by the caller under the same lock) ----------
    def _new_cost_code(self, project_id: int, sub_job_id: int | None) -> dict[str, Any]:
        ccid = self.state.next_id()
        now = _now_iso()
        record: dict[str, Any] = {
            "id": ccid,
            "code": "",
            "full_code": "",
            "name": "",
            "parent_id": None,
            "project_id": project_id,
            "sub_job_id": sub_job_id,
            "biller_type": "Project" if sub_job_id is None else "SubJob",
            "biller_id": project_id if sub_job_id is None else sub_job_id,
            "budgeted": False,
            "origin_id": None,
            "origin_data": None,
            "created_at": now,
            "updated_at": now,
        }
        self.state.cost_codes.setdefault(project_id, {})[ccid] = record
        return record

    def _new_standard_cost_code(self, list_id: int) -> dict[str, Any]:
        scid = self.state.next_id()
        now = _now_iso()
        record: dict[str, Any] = {
            "id": scid,
            "code": "",
            "full_code": "",
            "name": "",
            "parent_id": None,
            "standard_cost_code_list_id": list_id,
            "origin_id": None,
            "origin_data": None,
            "created_at": now,
            "updated_at": now,
        }
        self.state.standard_cost_codes[scid] = record
        return record

    def _new_line_item_type(self) -> dict[str, Any]:
        lid = self.state.next_id()
        record: dict[str, Any] = {
            "id": lid,
            "name": "",
            "code": "",
            "base_type": "other",
            "origin_id": None,
            "origin_data": None,
        }
        self.state.line_item_types[lid] = record
        return record

    # --- project cost codes ----------------------------------------------------------------
    def _h_list_cost_codes(self, req: _Request, _: re.Match[str]) -> _Response:
        """A project's cost codes; ``sub_job_id`` narrows them to that sub job's."""
        pid = self._project_param(req)
        codes = self.state.cost_codes.get(pid, {})
        if req.param("sub_job_id"):
            sid = self._sub_job_in(pid, req.param("sub_job_id"))
            codes = {cid: c for cid, c in codes.items() if c.get("sub_job_id") == sid}
        return self._page(req, codes)

    def _biller_codes(self, project_id: int, sub_job_id: int | None) -> dict[int, dict[str, Any]]:
        """The cost codes of one biller: the project itself or one of its sub jobs."""
        codes = self.state.cost_codes.setdefault(project_id, {})
        return {cid: c for cid, c in codes.items() if c.get("sub_job_id") == sub_job_id}

    def _cost_code_validator(self, project_id: int, sub_job_id: int | None) -> Validator:
        """``code`` is one segment; ``full_code`` = parent's full code + "-" + ``code``."""

        def validate(
            fields: Mapping[str, Any], record: dict[str, Any] | None
        ) -> tuple[dict[str, Any], dict[str, list[str]]]:
            changes: dict[str, Any] = {}
            errors: dict[str, list[str]] = {}
            _text_changes(fields, ("code", "name"), changes, errors)
            _require_text(changes, ("code", "name"), record is None, errors)
            codes = self._biller_codes(project_id, sub_job_id)
            if "parent_id" in fields:
                _parent_change(codes, fields["parent_id"], record, changes, errors)
            if errors or ("code" not in changes and "parent_id" not in changes):
                return changes, errors
            current = record or {}
            parent_id = changes.get("parent_id", current.get("parent_id"))
            code = changes.get("code", current.get("code"))
            prefix = codes[parent_id]["full_code"] + COST_CODE_DELIMITER if parent_id else ""
            changes["full_code"] = f"{prefix}{code}"
            own_id = None if record is None else record["id"]
            if _taken(codes, "full_code", changes["full_code"], own_id):
                errors["code"] = ["has already been taken"]
            return changes, errors

        return validate

    def _refresh_full_codes(self, record: dict[str, Any]) -> None:
        """After a code or parent change, children's full codes follow their parent's."""
        codes = self.state.cost_codes.get(record["project_id"], {})
        pending = [record]
        while pending:
            parent = pending.pop()
            for child in codes.values():
                if child.get("parent_id") == parent["id"] and child is not parent:
                    full = parent["full_code"] + COST_CODE_DELIMITER + child["code"]
                    if child["full_code"] != full:
                        child["full_code"] = full
                        child["updated_at"] = _now_iso()
                        pending.append(child)

    def _h_create_cost_code(self, req: _Request, _: re.Match[str]) -> _Response:
        body = _json_body(req)
        pid = self._body_project(req, body)
        raw_sub_job = body.get("sub_job_id", req.param("sub_job_id"))
        sid: int | None = None
        if raw_sub_job is not None and raw_sub_job != "":
            try:
                sid = self._sub_job_in(pid, raw_sub_job)
            except SandboxError:
                raise SandboxError(422, {"sub_job": ["must exist"]}) from None
        fields = _wrapped(body, "cost_code")
        record = self._write_record(
            fields,
            None,
            validate=self._cost_code_validator(pid, sid),
            pool=self._biller_codes(pid, sid),
            create=lambda: self._new_cost_code(pid, sid),
            origin_fields=ORIGIN_ID_DATA,
        )
        return _Response(201, copy.deepcopy(record))

    def _h_sync_cost_codes(self, req: _Request, _: re.Match[str]) -> _Response:
        body = _json_body(req)
        pid = self._body_project(req, body)
        raw_sub_job = body.get("sub_job_id", req.param("sub_job_id"))
        sid = None if raw_sub_job in (None, "") else self._sub_job_in(pid, raw_sub_job)
        updates = _sync_updates(body)
        codes = self._biller_codes(pid, sid)
        return self._sync(
            updates,
            codes,
            codes,
            create=lambda _item: self._new_cost_code(pid, sid),
            on_change=self._refresh_full_codes,
            validate=self._cost_code_validator(pid, sid),
            origin_fields=ORIGIN_ID_DATA,
        )

    # --- standard cost codes (company level) -------------------------------------------------
    def _standard_list(self, raw: object) -> int:
        lid = _sync_id(raw)
        if lid is None or lid not in self.state.standard_cost_code_lists:
            raise SandboxError(404, f"Standard cost code list {raw} not found")
        return lid

    def _list_codes(self, list_id: int) -> dict[int, dict[str, Any]]:
        return {
            i: c
            for i, c in self.state.standard_cost_codes.items()
            if c["standard_cost_code_list_id"] == list_id
        }

    def _standard_code_validator(self, list_id: int) -> Validator:
        """``code`` is sent whole (with the parent's prefix): ``full_code`` = ``code``."""

        def validate(
            fields: Mapping[str, Any], record: dict[str, Any] | None
        ) -> tuple[dict[str, Any], dict[str, list[str]]]:
            changes: dict[str, Any] = {}
            errors: dict[str, list[str]] = {}
            _text_changes(fields, ("code", "name"), changes, errors)
            _require_text(changes, ("code", "name"), record is None, errors)
            codes = self._list_codes(list_id)
            if "parent_id" in fields:
                _parent_change(codes, fields["parent_id"], record, changes, errors)
            if "code" in changes and "code" not in errors:
                own_id = None if record is None else record["id"]
                if _taken(codes, "code", changes["code"], own_id):
                    errors["code"] = ["has already been taken"]
                changes["full_code"] = changes["code"]
            return changes, errors

        return validate

    def _h_list_standard_cost_code_lists(self, req: _Request, _: re.Match[str]) -> _Response:
        self._check_company_param(req)
        return self._page(req, self.state.standard_cost_code_lists)

    def _h_list_standard_cost_codes(self, req: _Request, _: re.Match[str]) -> _Response:
        if req.param("company_id") is not None:
            self._check_company_param(req)
        lid = self._standard_list(_required_param(req, "standard_cost_code_list_id"))
        return self._page(req, self._list_codes(lid))

    def _h_sync_standard_cost_codes(self, req: _Request, _: re.Match[str]) -> _Response:
        body = _json_body(req)
        self._check_company_body(req, body)
        raw = body.get("standard_cost_code_list_id", req.param("standard_cost_code_list_id"))
        if raw is None or raw == "":
            raise SandboxError(422, {"standard_cost_code_list_id": ["can't be blank"]})
        lid = self._standard_list(raw)
        updates = _sync_updates(body)
        return self._sync(
            updates,
            self._list_codes(lid),
            self.state.standard_cost_codes,
            create=lambda _item: self._new_standard_cost_code(lid),
            on_change=None,
            validate=self._standard_code_validator(lid),
            origin_fields=ORIGIN_ID_DATA,
        )

    # --- line item types (cost types) ------------------------------------------------------
    def _h_list_line_item_types(self, req: _Request, _: re.Match[str]) -> _Response:
        if req.param("project_id"):
            self._project_param(req)
        else:
            self._check_company_param(req)
        return self._page(req, self.state.line_item_types)

    def _validate_line_item_type(
        self, fields: Mapping[str, Any], record: dict[str, Any] | None
    ) -> tuple[dict[str, Any], dict[str, list[str]]]:
        """``csv_import_code`` (or ``code``) is stored and shown as ``code``."""
        changes: dict[str, Any] = {}
        errors: dict[str, list[str]] = {}
        code_key = "csv_import_code" if "csv_import_code" in fields else "code"
        _text_changes(fields, ("name", code_key), changes, errors)
        if code_key in errors and code_key != "csv_import_code":
            errors["csv_import_code"] = errors.pop(code_key)
        if code_key in changes:
            changes["csv_import_code"] = changes.pop(code_key)
        _require_text(changes, ("name", "csv_import_code"), record is None, errors)
        if "csv_import_code" in changes:
            code = changes.pop("csv_import_code")
            if "csv_import_code" not in errors:
                own_id = None if record is None else record["id"]
                if _taken(self.state.line_item_types, "code", code, own_id):
                    errors["csv_import_code"] = ["has already been taken"]
                changes["code"] = code
        if "base_type" in fields:
            if fields["base_type"] not in LINE_ITEM_BASE_TYPES:
                errors["base_type"] = ["is not included in the list"]
            else:
                changes["base_type"] = fields["base_type"]
        return changes, errors

    def _h_create_line_item_type(self, req: _Request, _: re.Match[str]) -> _Response:
        body = _json_body(req)
        self._check_company_body(req, body)
        fields = _wrapped(body, "line_item_type")
        record = self._write_record(
            fields,
            None,
            validate=self._validate_line_item_type,
            pool=self.state.line_item_types,
            create=self._new_line_item_type,
            origin_fields=ORIGIN_ID_DATA,
        )
        return _Response(201, copy.deepcopy(record))

    def _h_sync_line_item_types(self, req: _Request, _: re.Match[str]) -> _Response:
        body = _json_body(req)
        self._check_company_body(req, body)
        updates = _sync_updates(body)
        types = self.state.line_item_types
        return self._sync(
            updates,
            types,
            types,
            create=lambda _item: self._new_line_item_type(),
            on_change=None,
            validate=self._validate_line_item_type,
            origin_fields=ORIGIN_ID_DATA,
        )
