"""Projects: list, get, create, update and sync; the project lookups other families use."""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any, ClassVar

from devstack.procore_sandbox.resources.common import (
    ResourceBase,
    _bool_changes,
    _require_text,
    _sync_updates,
    _text_changes,
)
from devstack.procore_sandbox.state import (
    Route,
    SandboxError,
    _as_int,
    _json_body,
    _Request,
    _required_param,
    _Response,
    _wrapped,
)

PROJECT_TEXT_FIELDS = (
    "name",
    "project_number",
    "address",
    "city",
    "state_code",
    "zip",
    "country_code",
)
PROJECTS_RESOURCE = "Projects"


class ProjectsMixin(ResourceBase):
    """``/rest/v1.0/projects``; a project write fires ``Projects`` (HTTP writes only)."""

    ROUTES: ClassVar[tuple[Route, ...]] = (
        ("GET", r"/rest/v1\.0/projects", "_h_list_projects", True),
        ("GET", r"/rest/v1\.0/projects/(?P<id>\d+)", "_h_get_project", True),
        ("PATCH", r"/rest/v1\.0/projects/sync", "_h_sync_projects", True),
        ("POST", r"/rest/v1\.0/projects", "_h_create_project", True),
        ("PATCH", r"/rest/v1\.0/projects/(?P<id>\d+)", "_h_update_project", True),
    )

    def _project(self, project_id: int | str) -> dict[str, Any]:
        record = self.state.projects.get(int(project_id))
        if record is None:
            raise SandboxError(404, f"Project {project_id} not found")
        return record

    def _project_param(self, req: _Request) -> int:
        raw = _required_param(req, "project_id")
        try:
            pid = int(raw)
        except ValueError:
            raise SandboxError(400, "project_id must be an integer") from None
        self._project(pid)
        return pid

    def _body_project(self, req: _Request, body: Mapping[str, Any]) -> int:
        """project_id from the body, else the query; required; must exist."""
        raw = body.get("project_id", req.param("project_id"))
        if raw is None or raw == "":
            raise SandboxError(422, {"project_id": ["can't be blank"]})
        pid = _as_int(raw, "project_id")
        self._project(pid)
        return pid

    def _h_list_projects(self, req: _Request, _: re.Match[str]) -> _Response:
        self._check_company_param(req)
        return self._page(req, self.state.projects)

    def _h_get_project(self, req: _Request, m: re.Match[str]) -> _Response:
        self._check_company_param(req)
        return _Response(200, copy.deepcopy(self._project(m["id"])))

    def _h_sync_projects(self, req: _Request, _: re.Match[str]) -> _Response:
        body = _json_body(req)
        self._check_company_body(req, body)
        updates = _sync_updates(body)

        def create(item: Mapping[str, Any]) -> dict[str, Any]:
            return self.state.projects[self.add_project(str(item["name"]).strip())["id"]]

        projects = self.state.projects
        return self._sync(updates, projects, projects, create=create, on_change=None)

    def _validate_project(
        self, fields: Mapping[str, Any], record: dict[str, Any] | None
    ) -> tuple[dict[str, Any], dict[str, list[str]]]:
        changes: dict[str, Any] = {}
        errors: dict[str, list[str]] = {}
        _text_changes(fields, PROJECT_TEXT_FIELDS, changes, errors)
        _bool_changes(fields, ("active",), changes, errors)
        _require_text(changes, ("name",), record is None, errors)
        if not errors and ("name" in changes or "project_number" in changes):
            current = record or {}
            name = changes.get("name", current.get("name"))
            number = changes.get("project_number", current.get("project_number"))
            changes["display_name"] = f"{number} - {name}" if number else name
        return changes, errors

    def _blank_project(self) -> dict[str, Any]:
        return self.state.projects[self.add_project("")["id"]]

    def _h_create_project(self, req: _Request, _: re.Match[str]) -> _Response:
        body = _json_body(req)
        self._check_company_body(req, body)
        fields = _wrapped(body, "project")
        record = self._write_record(
            fields,
            None,
            validate=self._validate_project,
            pool=self.state.projects,
            create=self._blank_project,
        )
        actor = self._actor(req)
        self._event("create", PROJECTS_RESOURCE, record["id"], record["id"], actor, req.events)
        return _Response(201, copy.deepcopy(record))

    def _h_update_project(self, req: _Request, m: re.Match[str]) -> _Response:
        body = _json_body(req)
        self._check_company_body(req, body)
        record = self._project(m["id"])
        fields = _wrapped(body, "project")
        self._write_record(
            fields,
            record,
            validate=self._validate_project,
            pool=self.state.projects,
            create=self._blank_project,
        )
        actor = self._actor(req)
        self._event("update", PROJECTS_RESOURCE, record["id"], record["id"], actor, req.events)
        return _Response(200, copy.deepcopy(record))
