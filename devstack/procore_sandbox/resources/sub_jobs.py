"""Sub jobs of a project: list, create and sync; ``code`` is unique within the project."""

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
    _Response,
    _wrapped,
)


class SubJobsMixin(ResourceBase):
    """``/rest/v1.0/sub_jobs``; sub job writes fire no webhook."""

    ROUTES: ClassVar[tuple[Route, ...]] = (
        ("GET", r"/rest/v1\.0/sub_jobs", "_h_list_sub_jobs", True),
        ("POST", r"/rest/v1\.0/sub_jobs", "_h_create_sub_job", True),
        ("PATCH", r"/rest/v1\.0/sub_jobs/sync", "_h_sync_sub_jobs", True),
    )

    def _new_sub_job(self, project_id: int) -> dict[str, Any]:
        sid = self.state.next_id()
        now = _now_iso()
        record: dict[str, Any] = {
            "id": sid,
            "name": "",
            "code": None,
            "project_id": project_id,
            "origin_id": None,
            "origin_data": None,
            "created_at": now,
            "updated_at": now,
        }
        self.state.sub_jobs[sid] = record
        return record

    def _sub_job_in(self, project_id: int, raw: object) -> int:
        """A sub job id of ``project_id`` from a query or body value; 404 otherwise."""
        sid = _sync_id(raw)
        record = self.state.sub_jobs.get(sid) if sid is not None else None
        if record is None or record["project_id"] != project_id:
            raise SandboxError(404, f"Sub job {raw} not found")
        return record["id"]

    def _sub_job_validator(self, project_id: int) -> Validator:
        def validate(
            fields: Mapping[str, Any], record: dict[str, Any] | None
        ) -> tuple[dict[str, Any], dict[str, list[str]]]:
            changes: dict[str, Any] = {}
            errors: dict[str, list[str]] = {}
            _text_changes(fields, ("name", "code"), changes, errors)
            _require_text(changes, ("name",), record is None, errors)
            code = changes.get("code")
            if code is not None:
                siblings = {
                    i: s for i, s in self.state.sub_jobs.items() if s["project_id"] == project_id
                }
                if _taken(siblings, "code", code, None if record is None else record["id"]):
                    errors["code"] = ["has already been taken"]
            return changes, errors

        return validate

    def _project_sub_jobs(self, project_id: int) -> dict[int, dict[str, Any]]:
        return {i: s for i, s in self.state.sub_jobs.items() if s["project_id"] == project_id}

    def _h_list_sub_jobs(self, req: _Request, _: re.Match[str]) -> _Response:
        pid = self._project_param(req)
        return self._page(req, self._project_sub_jobs(pid))

    def _h_create_sub_job(self, req: _Request, _: re.Match[str]) -> _Response:
        body = _json_body(req)
        pid = self._body_project(req, body)
        fields = _wrapped(body, "sub_job")
        record = self._write_record(
            fields,
            None,
            validate=self._sub_job_validator(pid),
            pool=self.state.sub_jobs,
            create=lambda: self._new_sub_job(pid),
            origin_fields=ORIGIN_ID_DATA,
        )
        return _Response(201, copy.deepcopy(record))

    def _h_sync_sub_jobs(self, req: _Request, _: re.Match[str]) -> _Response:
        body = _json_body(req)
        pid = self._body_project(req, body)
        updates = _sync_updates(body)
        return self._sync(
            updates,
            self._project_sub_jobs(pid),
            self.state.sub_jobs,
            create=lambda _item: self._new_sub_job(pid),
            on_change=None,
            validate=self._sub_job_validator(pid),
            origin_fields=ORIGIN_ID_DATA,
        )
