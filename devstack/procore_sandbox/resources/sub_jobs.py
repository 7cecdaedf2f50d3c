"""Sub jobs of a project: list, get, create, update and sync; ``code`` unique per project.

Field for field as Procore documents them (procore-spec ``openapi/RestV10SubJobs*.json``;
the answers' keys from ``sdk/RestV10SubJobs*.json``, the OpenAPI text has none):

* Requests: ``sub_job`` of create and update ``{name, code, origin_id, origin_data}``
  (``RestV10SubJobsPost.json``, ``RestV10SubJobsIdPatch.json``), one sync update the same
  plus ``id`` (``RestV10SubJobsSyncPatch.json``). No ``origin_code``; any key not listed is
  refused. ``project_id`` is required in the body of create, update and sync, and in the
  query of list, show and sync (the sync documents both).
* Answers: ``SUB_JOB_KEYS`` everywhere (list, show, create 201, update 200, sync
  entities); the record's ``project_id`` is internal.
* Refusals of a create or update answer **400** ("Can not create Sub Job due to errors.";
  no 422 is documented).
* ``DELETE /rest/v1.0/sub_jobs/{id}?project_id=`` answers 200, empty
  (``RestV10SubJobsIdDelete.json``); the sub job's cost codes go with it (no event for them).
* Writes fire ``Sub Jobs`` (procore-spec ``docs/webhook_resources.json``): create (POST, a
  sync creating one), update (PATCH, a sync changing one; an unchanged update fires
  nothing), delete. ``update_sub_job`` / ``delete_sub_job`` act as a user of the web UI.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar

from devstack.procore_sandbox.resources.common import (
    ORIGIN_ID_DATA,
    TEXT,
    FieldSpec,
    ResourceBase,
    _require_text,
    _schema_changes,
    _sync_id,
    _sync_updates,
    _taken,
    _view,
)
from devstack.procore_sandbox.state import (
    Actor,
    Route,
    SandboxError,
    Validator,
    _json_body,
    _now_iso,
    _Request,
    _Response,
)
from devstack.procore_sandbox.webhook_payloads import WEB_APPLICATION_ID, WEB_USER_ID, _Outgoing

SUB_JOBS_RESOURCE = "Sub Jobs"

#: ``sub_job`` of POST /rest/v1.0/sub_jobs and PATCH /rest/v1.0/sub_jobs/{id}, one update of
#: PATCH /rest/v1.0/sub_jobs/sync (``id`` and origin_id/origin_data aside)
SUB_JOB_FIELDS: Mapping[str, FieldSpec] = {"name": TEXT, "code": TEXT}
#: every answer: sdk/RestV10SubJobsGet.json (RestV10SubJobsGet200ResponseInner)
SUB_JOB_KEYS = ("origin_id", "origin_data", "created_at", "updated_at", "id", "name", "code")


def _sub_job_view(record: dict[str, Any]) -> dict[str, Any]:
    return _view(record, SUB_JOB_KEYS)


class SubJobsMixin(ResourceBase):
    """``/rest/v1.0/sub_jobs``; sub job writes fire ``Sub Jobs``."""

    ROUTES: ClassVar[tuple[Route, ...]] = (
        ("GET", r"/rest/v1\.0/sub_jobs", "_h_list_sub_jobs", True),
        ("POST", r"/rest/v1\.0/sub_jobs", "_h_create_sub_job", True),
        ("PATCH", r"/rest/v1\.0/sub_jobs/sync", "_h_sync_sub_jobs", True),
        ("GET", r"/rest/v1\.0/sub_jobs/(?P<id>\d+)", "_h_get_sub_job", True),
        ("PATCH", r"/rest/v1\.0/sub_jobs/(?P<id>\d+)", "_h_update_sub_job", True),
        ("DELETE", r"/rest/v1\.0/sub_jobs/(?P<id>\d+)", "_h_delete_sub_job", True),
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

    def _sub_job_validator(self, project_id: int, handled: tuple[str, ...]) -> Validator:
        def validate(
            fields: Mapping[str, Any], record: dict[str, Any] | None
        ) -> tuple[dict[str, Any], dict[str, list[str]]]:
            changes: dict[str, Any] = {}
            errors: dict[str, list[str]] = {}
            _schema_changes(fields, SUB_JOB_FIELDS, changes, errors, handled=handled)
            _require_text(changes, ("name",), record is None, errors)
            code = changes.get("code")
            if code is not None:
                siblings = self._project_sub_jobs(project_id)
                if _taken(siblings, "code", code, None if record is None else record["id"]):
                    errors["code"] = ["has already been taken"]
            return changes, errors

        return validate

    def _project_sub_jobs(self, project_id: int) -> dict[int, dict[str, Any]]:
        return {i: s for i, s in self.state.sub_jobs.items() if s["project_id"] == project_id}

    def _sub_job_body_project(self, req: _Request, body: Mapping[str, Any]) -> int:
        """``project_id`` of a body: required (400), an integer, an existing project (404)."""
        raw = body.get("project_id")
        if raw is None or raw == "":
            raise SandboxError(400, "param is missing or the value is empty: project_id")
        pid = _sync_id(raw)
        if pid is None:
            raise SandboxError(400, "project_id must be an integer")
        self._project(pid)
        return pid

    def _sub_job_fields(self, body: Mapping[str, Any]) -> dict[str, Any]:
        fields = body.get("sub_job")
        if not isinstance(fields, dict):
            raise SandboxError(400, "param is missing or the value is empty: sub_job")
        return fields

    # --- writes that fire Sub Jobs ----------------------------------------------------------
    def _sub_job_event(
        self, action: str, record: Mapping[str, Any], actor: Actor, out: list[_Outgoing]
    ) -> None:
        self._event(action, SUB_JOBS_RESOURCE, record["id"], record["project_id"], actor, out)

    def _update_sub_job(
        self, record: dict[str, Any], fields: Mapping[str, Any], actor: Actor,
        out: list[_Outgoing],
    ) -> dict[str, Any]:
        pid = record["project_id"]
        self._write_record(
            fields,
            record,
            validate=self._sub_job_validator(pid, ORIGIN_ID_DATA),
            pool=self.state.sub_jobs,
            create=lambda: record,
            origin_fields=ORIGIN_ID_DATA,
            status=400,
            strict=True,
        )
        self._sub_job_event("update", record, actor, out)
        return record

    def _delete_sub_job(self, record: dict[str, Any], actor: Actor, out: list[_Outgoing]) -> None:
        del self.state.sub_jobs[record["id"]]
        codes = self.state.cost_codes.get(record["project_id"], {})
        for code_id in [i for i, c in codes.items() if c.get("sub_job_id") == record["id"]]:
            del codes[code_id]
        self._sub_job_event("delete", record, actor, out)

    def update_sub_job(
        self, sub_job_id: int, *, as_application: str = WEB_APPLICATION_ID,
        as_user_id: int = WEB_USER_ID, **fields: Any,
    ) -> dict[str, Any]:
        """Change a sub job's ``name``, ``code``... as a user of the web UI (fires)."""
        actor = Actor(as_application, as_user_id)
        return dict(self._helper(lambda out: _sub_job_view(
            self._update_sub_job(self._any_sub_job(sub_job_id), fields, actor, out))))

    def delete_sub_job(
        self, sub_job_id: int, *, as_application: str = WEB_APPLICATION_ID,
        as_user_id: int = WEB_USER_ID,
    ) -> None:
        actor = Actor(as_application, as_user_id)
        self._helper(lambda out: self._delete_sub_job(self._any_sub_job(sub_job_id), actor, out))

    def _any_sub_job(self, sub_job_id: int) -> dict[str, Any]:
        record = self.state.sub_jobs.get(sub_job_id)
        if record is None:
            raise SandboxError(404, f"Sub job {sub_job_id} not found")
        return record

    # --- handlers --------------------------------------------------------------------------
    def _h_list_sub_jobs(self, req: _Request, _: re.Match[str]) -> _Response:
        pid = self._project_param(req)
        # the list documents no filters: filters[origin_id] is ignored, as Procore would
        return self._page(
            req, self._project_sub_jobs(pid), view=_sub_job_view, origin_filter=False
        )

    def _h_get_sub_job(self, req: _Request, m: re.Match[str]) -> _Response:
        pid = self._project_param(req)
        return _Response(200, _sub_job_view(self.state.sub_jobs[self._sub_job_in(pid, m["id"])]))

    def _h_create_sub_job(self, req: _Request, _: re.Match[str]) -> _Response:
        body = _json_body(req)
        pid = self._sub_job_body_project(req, body)
        fields = self._sub_job_fields(body)
        record = self._write_record(
            fields,
            None,
            validate=self._sub_job_validator(pid, ORIGIN_ID_DATA),
            pool=self.state.sub_jobs,
            create=lambda: self._new_sub_job(pid),
            origin_fields=ORIGIN_ID_DATA,
            status=400,
            strict=True,
        )
        self._sub_job_event("create", record, self._actor(req), req.events)
        return _Response(201, _sub_job_view(record))

    def _h_update_sub_job(self, req: _Request, m: re.Match[str]) -> _Response:
        body = _json_body(req)
        pid = self._sub_job_body_project(req, body)
        fields = self._sub_job_fields(body)
        record = self.state.sub_jobs[self._sub_job_in(pid, m["id"])]
        self._update_sub_job(record, fields, self._actor(req), req.events)
        return _Response(200, _sub_job_view(record))

    def _h_delete_sub_job(self, req: _Request, m: re.Match[str]) -> _Response:
        pid = self._project_param(req)
        record = self.state.sub_jobs[self._sub_job_in(pid, m["id"])]
        self._delete_sub_job(record, self._actor(req), req.events)
        return _Response(200)

    def _h_sync_sub_jobs(self, req: _Request, _: re.Match[str]) -> _Response:
        body = _json_body(req)
        pid = self._project_param(req)  # a required query parameter
        if self._sub_job_body_project(req, body) != pid:  # and required in the body
            raise SandboxError(400, {"project_id": ["does not match the query's project_id"]})
        updates = _sync_updates(body, status=400)
        actor, created = self._actor(req), set()

        def create(_item: Mapping[str, Any]) -> dict[str, Any]:
            record = self._new_sub_job(pid)
            created.add(record["id"])
            return record

        def on_change(record: dict[str, Any]) -> None:
            action = "create" if record["id"] in created else "update"
            self._sub_job_event(action, record, actor, req.events)

        return self._sync(
            updates,
            self._project_sub_jobs(pid),
            self.state.sub_jobs,
            create=create,
            on_change=on_change,
            validate=self._sub_job_validator(pid, ("id", *ORIGIN_ID_DATA)),
            origin_fields=ORIGIN_ID_DATA,
            view=_sub_job_view,
            strict=True,
        )
