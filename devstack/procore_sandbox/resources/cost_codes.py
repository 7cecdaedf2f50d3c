"""Cost codes: project (and sub job) cost codes, standard cost code lists and codes, line
item types (cost types). Project cost code writes fire ``Cost Codes`` (create, update,
delete: POST, PATCH and DELETE one code, or a sync; ``cost_code_events``); standard cost
codes and line item types fire no webhook (Procore lists none for them).

Answers have the keys and types of Procore's schemas (docs/decisions.md, "Sandbox
commitments and cost codes follow Procore's schemas"; ``procore-spec/...`` files are the
reference excerpts listed in its SOURCES.md):

* a cost code names its biller (``biller``, ``biller_id``, ``biller_type``) and its parent
  as ``parent: {id}`` (``openapi/RestV10CostCodesPost.json``); lists and sync entities
  also carry ``biller_origin_id`` and no ``standard_cost_code_list_id``
  (``sdk/RestV10CostCodesGet.json``, ``sdk/RestV10CostCodesSyncPatch.json``). Its
  ``line_item_types`` are the company's cost types (none is restricted here).
* standard cost codes answer only ``id`` and ``standard_cost_code_list_id`` unless a
  ``view`` is asked: ``compact`` adds ``origin_id``, ``extended`` is the whole record
  (``openapi/RestV10StandardCostCodesGet.json``); this holds for their sync entities too.
  Their ``code`` is one segment and ``full_code`` has the parents' prefixes, like project
  cost codes.
* line item types: ``base_type`` ``labor`` is taken by POST (its request enum lists it)
  but not by sync (``openapi/RestV10LineItemTypesSyncPatch.json`` leaves it out).
* the POST bodies of cost codes and line item types are checked key by key against their
  request schemas (``COST_CODE_REQUEST_FIELDS``, ``LINE_ITEM_TYPE_REQUEST_FIELDS``) before
  the shared validators run; the syncs use the validators alone.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, ClassVar

from devstack.procore_sandbox.resources.common import (
    INT,
    ORIGIN_ID_DATA,
    SYNC_LIMIT,
    TEXT,
    FieldSpec,
    _check_body,
    _require_text,
    _sync_id,
    _sync_updates,
    _taken,
    _text_changes,
)
from devstack.procore_sandbox.resources.cost_code_events import CostCodeEventsMixin
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
#: base types a line item type sync takes (openapi/RestV10LineItemTypesSyncPatch.json)
SYNC_BASE_TYPES = tuple(t for t in LINE_ITEM_BASE_TYPES if t != "labor")
COST_CODE_DELIMITER = "-"  # full_code = parent full_code + "-" + code
WBS_DELIMITER = "."  # a WBS code's flat code: [sub job code.]cost code full code[.cost type]
#: standard cost code keys per ``view`` (openapi/RestV10StandardCostCodesGet.json)
STANDARD_COST_CODE_VIEWS = {
    "default": ("id", "standard_cost_code_list_id"),
    "compact": ("id", "standard_cost_code_list_id", "origin_id"),
    "extended": (
        "id",
        "standard_cost_code_list_id",
        "parent_id",
        "code",
        "full_code",
        "name",
        "origin_data",
        "origin_id",
    ),
}
#: the ``cost_code`` of ``POST /rest/v1.0/cost_codes`` (openapi/RestV10CostCodesPost.json)
COST_CODE_REQUEST_FIELDS: Mapping[str, FieldSpec] = {
    "position": INT,
    "code": TEXT,
    "name": TEXT,
    "origin_data": TEXT,
    "origin_id": TEXT,
    "parent_id": INT,
    "standard_cost_code_id": INT,
}
#: the ``line_item_type`` of ``POST /rest/v1.0/line_item_types``
#: (openapi/RestV10LineItemTypesPost.json)
LINE_ITEM_TYPE_REQUEST_FIELDS: Mapping[str, FieldSpec] = {
    "name": TEXT,
    "csv_import_code": TEXT,
    "base_type": FieldSpec("enum", LINE_ITEM_BASE_TYPES),
    "origin_data": TEXT,
    "origin_id": TEXT,
}
_LINE_ITEM_TYPE_KEYS = ("id", "name", "code", "base_type", "origin_data", "origin_id")


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


@contextmanager
def refusals_as(status: int) -> Iterator[None]:
    """Body refusals (422 inside the sandbox) answered with the endpoint's documented
    status: most of these endpoints document 400 and no 422 (procore-spec/openapi/*.json
    ``responses``). Other errors (404, 403) pass unchanged."""
    try:
        yield
    except SandboxError as exc:
        if exc.status != 422 or status == 422:
            raise
        raise SandboxError(status, exc.errors, exc.headers) from None


def _full_code_changes(
    codes: Mapping[int, dict[str, Any]],
    fields: Mapping[str, Any],
    record: dict[str, Any] | None,
    changes: dict[str, Any],
    errors: dict[str, list[str]],
) -> None:
    """``parent_id`` and ``full_code`` (parent's full code + "-" + ``code``, unique among
    ``codes``: one biller's, or one standard list's)."""
    if "parent_id" in fields:
        _parent_change(codes, fields["parent_id"], record, changes, errors)
    if errors or ("code" not in changes and "parent_id" not in changes):
        return
    current = record or {}
    parent_id = changes.get("parent_id", current.get("parent_id"))
    code = changes.get("code", current.get("code"))
    prefix = codes[parent_id]["full_code"] + COST_CODE_DELIMITER if parent_id else ""
    changes["full_code"] = f"{prefix}{code}"
    own_id = None if record is None else record["id"]
    if _taken(codes, "full_code", changes["full_code"], own_id):
        errors["code"] = ["has already been taken"]


def _refresh_full_codes(codes: Mapping[int, dict[str, Any]], record: dict[str, Any]) -> None:
    """After a code or parent change, children's full codes follow their parent's."""
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


class CostCodesMixin(CostCodeEventsMixin):
    """Project cost codes, standard cost code lists and codes, line item types."""

    ROUTES: ClassVar[tuple[Route, ...]] = (
        ("GET", r"/rest/v1\.0/cost_codes", "_h_list_cost_codes", True),
        ("POST", r"/rest/v1\.0/cost_codes", "_h_create_cost_code", True),
        ("PATCH", r"/rest/v1\.0/cost_codes/sync", "_h_sync_cost_codes", True),
        ("GET", r"/rest/v1\.0/cost_codes/(?P<id>\d+)", "_h_get_cost_code", True),
        ("PATCH", r"/rest/v1\.0/cost_codes/(?P<id>\d+)", "_h_update_cost_code", True),
        ("DELETE", r"/rest/v1\.0/cost_codes/(?P<id>\d+)", "_h_delete_cost_code", True),
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
        """Stored with ``parent_id``, ``project_id`` and ``sub_job_id`` (and ``_wbs``, the
        ids of its WBS codes); ``_cost_code_answer`` shows Procore's keys."""
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
            "position": None,
            "standard_cost_code_id": None,
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

    # --- answers ---------------------------------------------------------------------------
    def _cost_code_answer(self, record: Mapping[str, Any], *, scoped: bool = False) -> dict:
        """A cost code as Procore shows it: one record (POST, a line item's ``cost_code``;
        openapi/RestV10CostCodesPost.json) or, ``scoped``, a list or sync entity
        (sdk/RestV10CostCodesGet.json: ``biller_origin_id``, no list id)."""
        project = self.state.projects.get(record["project_id"], {})
        sub_job = self.state.sub_jobs.get(record["sub_job_id"]) if record["sub_job_id"] else None
        biller = sub_job if sub_job is not None else project
        parent_id = record["parent_id"]
        types = self.state.line_item_types
        answer: dict[str, Any] = {
            "id": record["id"],
            "biller": biller.get("name"),
            "biller_id": record["biller_id"],
            "biller_type": record["biller_type"],
            "budgeted": record["budgeted"],
            "code": record["code"],
            "created_at": record["created_at"],
            "deleted_at": None,
            "full_code": record["full_code"],
            "name": record["name"],
            "origin_data": record["origin_data"],
            "origin_id": record["origin_id"],
            "parent": None if parent_id is None else {"id": parent_id},
            "position": record["position"],
            "sortable_code": record["full_code"],
            "standard_cost_code_id": record["standard_cost_code_id"],
            "updated_at": record["updated_at"],
            "line_item_types": [self._line_item_type_answer(types[i]) for i in sorted(types)],
        }
        if scoped:
            answer["biller_origin_id"] = biller.get("origin_id")
        else:
            standard = self.state.standard_cost_codes.get(record["standard_cost_code_id"])
            answer["standard_cost_code_list_id"] = (
                None if standard is None else standard["standard_cost_code_list_id"]
            )
        return answer

    @staticmethod
    def _line_item_type_answer(record: Mapping[str, Any]) -> dict[str, Any]:
        return {key: record.get(key) for key in _LINE_ITEM_TYPE_KEYS}

    def _wbs_code_id(self, code: dict[str, Any], line_item_type_id: int | None) -> int:
        """The id of the WBS (budget) code of a cost code and cost type; given once."""
        ids = code.setdefault("_wbs", {})
        key = line_item_type_id or 0
        if key not in ids:
            ids[key] = self.state.next_id()
        return int(ids[key])

    def _wbs_code_answer(
        self, code: dict[str, Any], cost_type: Mapping[str, Any] | None
    ) -> dict[str, Any]:
        """``{id, flat_code, description}``: sub job, cost code and cost type joined."""
        sub_job = self.state.sub_jobs.get(code["sub_job_id"]) if code["sub_job_id"] else None
        parts = [
            (sub_job.get("code"), sub_job.get("name")) if sub_job else (None, None),
            (code["full_code"], code["name"]),
            (cost_type["code"], cost_type["name"]) if cost_type else (None, None),
        ]
        return {
            "id": self._wbs_code_id(code, None if cost_type is None else cost_type["id"]),
            "flat_code": WBS_DELIMITER.join(str(c) for c, _ in parts if c),
            "description": WBS_DELIMITER.join(str(n) for c, n in parts if c and n),
        }

    def _wbs_pair(self, project_id: int, wbs_id: int) -> tuple[int, int | None] | None:
        """The (cost code id, cost type id) a WBS code of the project stands for."""
        for code in self.state.cost_codes.get(project_id, {}).values():
            for type_key, known in code.get("_wbs", {}).items():
                if known == wbs_id:
                    return code["id"], type_key or None
        return None

    @staticmethod
    def _standard_view(req: _Request) -> tuple[str, ...]:
        view = req.param("view") or "default"
        if view not in STANDARD_COST_CODE_VIEWS:
            raise SandboxError(400, f"view must be one of {', '.join(STANDARD_COST_CODE_VIEWS)}")
        return STANDARD_COST_CODE_VIEWS[view]

    # --- project cost codes ----------------------------------------------------------------
    def _h_list_cost_codes(self, req: _Request, _: re.Match[str]) -> _Response:
        """A project's cost codes; ``sub_job_id`` narrows them to that sub job's."""
        pid = self._project_param(req)
        if req.param("view") not in (None, "", "default"):
            raise SandboxError(400, "the sandbox models only view=default of cost codes")
        codes = self.state.cost_codes.get(pid, {})
        if req.param("sub_job_id"):
            sid = self._sub_job_in(pid, req.param("sub_job_id"))
            codes = {cid: c for cid, c in codes.items() if c.get("sub_job_id") == sid}
        answer = self._page(req, codes)  # filtered and paged as stored, then shown
        answer.body = [self._cost_code_answer(c, scoped=True) for c in answer.body]
        return answer

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
            if "position" in fields:
                position = fields["position"]
                if position is not None and (
                    isinstance(position, bool) or _sync_id(position) is None
                ):
                    errors["position"] = ["is not a number"]
                else:
                    changes["position"] = None if position is None else _sync_id(position)
            if "standard_cost_code_id" in fields:
                raw = fields["standard_cost_code_id"]
                standard_id = None if raw is None else _sync_id(raw)
                if raw is not None and standard_id not in self.state.standard_cost_codes:
                    errors["standard_cost_code"] = ["must exist"]
                changes["standard_cost_code_id"] = standard_id
            codes = self._biller_codes(project_id, sub_job_id)
            _full_code_changes(codes, fields, record, changes, errors)
            return changes, errors

        return validate

    def _h_create_cost_code(self, req: _Request, _: re.Match[str]) -> _Response:
        with refusals_as(400):
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
            _check_body(fields, COST_CODE_REQUEST_FIELDS)
            record = self._write_record(
                fields,
                None,
                validate=self._cost_code_validator(pid, sid),
                pool=self._biller_codes(pid, sid),
                create=lambda: self._new_cost_code(pid, sid),
                origin_fields=ORIGIN_ID_DATA,
            )
            self._cost_code_event("create", record, self._actor(req), req.events)
            return _Response(201, self._cost_code_answer(record))

    def _h_sync_cost_codes(self, req: _Request, _: re.Match[str]) -> _Response:
        with refusals_as(400):
            body = _json_body(req)
            pid = self._body_project(req, body)
            raw_sub_job = body.get("sub_job_id", req.param("sub_job_id"))
            sid = None if raw_sub_job in (None, "") else self._sub_job_in(pid, raw_sub_job)
            updates = _sync_updates(body)
            codes = self._biller_codes(pid, sid)
            actor, created = self._actor(req), set()

            def create(_item: Mapping[str, Any]) -> dict[str, Any]:
                record = self._new_cost_code(pid, sid)
                created.add(record["id"])
                return record

            def on_change(record: dict[str, Any]) -> None:
                _refresh_full_codes(self.state.cost_codes[pid], record)
                action = "create" if record["id"] in created else "update"
                self._cost_code_event(action, record, actor, req.events)

            answer = self._sync(
                updates,
                codes,
                codes,
                create=create,
                on_change=on_change,
                validate=self._cost_code_validator(pid, sid),
                origin_fields=ORIGIN_ID_DATA,
            )
            # entities are the records as each update left them (sdk/RestV10CostCodesSyncPatch)
            answer.body["entities"] = [
                self._cost_code_answer(entity, scoped=True) for entity in answer.body["entities"]
            ]
            return answer

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
        """As a project cost code's: ``code`` one segment, ``full_code`` with the prefixes
        ("Cost code, not including parent prefix", openapi/RestV10StandardCostCodesGet.json)."""

        def validate(
            fields: Mapping[str, Any], record: dict[str, Any] | None
        ) -> tuple[dict[str, Any], dict[str, list[str]]]:
            changes: dict[str, Any] = {}
            errors: dict[str, list[str]] = {}
            _text_changes(fields, ("code", "name"), changes, errors)
            _require_text(changes, ("code", "name"), record is None, errors)
            _full_code_changes(self._list_codes(list_id), fields, record, changes, errors)
            return changes, errors

        return validate

    def _h_list_standard_cost_code_lists(self, req: _Request, _: re.Match[str]) -> _Response:
        self._check_company_param(req)
        return self._page(req, self.state.standard_cost_code_lists)

    def _h_list_standard_cost_codes(self, req: _Request, _: re.Match[str]) -> _Response:
        if req.param("company_id") is not None:
            self._check_company_param(req)
        lid = self._standard_list(_required_param(req, "standard_cost_code_list_id"))
        keys = self._standard_view(req)
        answer = self._page(req, self._list_codes(lid))  # filtered as stored, then shown
        answer.body = [{k: c[k] for k in keys} for c in answer.body]
        return answer

    def _h_sync_standard_cost_codes(self, req: _Request, _: re.Match[str]) -> _Response:
        body = _json_body(req)
        self._check_company_body(req, body)
        keys = self._standard_view(req)
        if isinstance(body.get("updates"), list) and len(body["updates"]) > SYNC_LIMIT:
            # openapi/RestV10StandardCostCodesSyncPatch.json documents 413, not 400 or 422
            raise SandboxError(413, {"updates": [f"is too long (maximum is {SYNC_LIMIT})"]})
        raw = body.get("standard_cost_code_list_id", req.param("standard_cost_code_list_id"))
        if raw is None or raw == "":
            raise SandboxError(400, {"standard_cost_code_list_id": ["can't be blank"]})
        lid = self._standard_list(raw)
        updates = _sync_updates(body)
        answer = self._sync(
            updates,
            self._list_codes(lid),
            self.state.standard_cost_codes,
            create=lambda _item: self._new_standard_cost_code(lid),
            on_change=lambda record: _refresh_full_codes(self._list_codes(lid), record),
            validate=self._standard_code_validator(lid),
            origin_fields=ORIGIN_ID_DATA,
        )
        answer.body["entities"] = [{k: e[k] for k in keys} for e in answer.body["entities"]]
        return answer

    # --- line item types (cost types) ------------------------------------------------------
    def _h_list_line_item_types(self, req: _Request, _: re.Match[str]) -> _Response:
        if req.param("project_id"):
            self._project_param(req)
        else:
            self._check_company_param(req)
        answer = self._page(req, self.state.line_item_types)
        answer.body = [self._line_item_type_answer(t) for t in answer.body]
        return answer

    def _line_item_type_validator(self, base_types: tuple[str, ...]) -> Validator:
        """``csv_import_code`` (or ``code``) is stored and shown as ``code``."""

        def validate(
            fields: Mapping[str, Any], record: dict[str, Any] | None
        ) -> tuple[dict[str, Any], dict[str, list[str]]]:
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
                if fields["base_type"] not in base_types:
                    errors["base_type"] = ["is not included in the list"]
                else:
                    changes["base_type"] = fields["base_type"]
            return changes, errors

        return validate

    def _h_create_line_item_type(self, req: _Request, _: re.Match[str]) -> _Response:
        with refusals_as(400):
            body = _json_body(req)
            self._check_company_body(req, body)
            fields = _wrapped(body, "line_item_type")
            _check_body(fields, LINE_ITEM_TYPE_REQUEST_FIELDS)
            record = self._write_record(
                fields,
                None,
                validate=self._line_item_type_validator(LINE_ITEM_BASE_TYPES),
                pool=self.state.line_item_types,
                create=self._new_line_item_type,
                origin_fields=ORIGIN_ID_DATA,
            )
            return _Response(201, self._line_item_type_answer(record))

    def _h_sync_line_item_types(self, req: _Request, _: re.Match[str]) -> _Response:
        with refusals_as(400):
            body = _json_body(req)
            self._check_company_body(req, body)
            updates = _sync_updates(body)
            types = self.state.line_item_types
            answer = self._sync(
                updates,
                types,
                types,
                create=lambda _item: self._new_line_item_type(),
                on_change=None,
                validate=self._line_item_type_validator(SYNC_BASE_TYPES),
                origin_fields=ORIGIN_ID_DATA,
            )
            entities = answer.body["entities"]
            answer.body["entities"] = [self._line_item_type_answer(e) for e in entities]
            return answer
