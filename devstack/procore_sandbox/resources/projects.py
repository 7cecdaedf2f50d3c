"""Projects: list, get, create, update and sync; the project lookups other families use.

Field for field as Procore documents them (procore-spec ``openapi/RestV10Projects*.json``,
Procore's own OpenAPI text; the SDK excerpts in ``sdk/`` are older and a subset):

* Requests: the fields of the create (``RestV10ProjectsPost.json``), update
  (``RestV10ProjectsIdPatch.json``) and sync (``RestV10ProjectsSyncPatch.json``) schemas,
  each its own list. A key the endpoint does not document is refused (``NOT_PERMITTED``):
  notably ``origin_code`` in a sync update, which only create and update take.
* Answers: show, create and update answer the show view (``PROJECT_KEYS``), the list the
  list view (``PROJECT_LIST_KEYS``; ``serializer_view=compact`` only id, name and
  display name), the sync entities the sync view (``PROJECT_SYNC_KEYS``). Keys the sandbox
  keeps no value for are ``null`` (lists ``[]``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar

from devstack.procore_sandbox.resources.common import (
    BOOL,
    DATE,
    INT,
    MUST_EXIST,
    NUMBER,
    ORIGIN_ID_DATA,
    REF,
    REFS,
    SYNC_FIELDS,
    TEXT,
    WRITE_ONLY_BOOL,
    WRITE_ONLY_DATE,
    FieldSpec,
    ResourceBase,
    _require_text,
    _schema_changes,
    _sync_updates,
    _view,
)
from devstack.procore_sandbox.state import (
    Route,
    SandboxError,
    Validator,
    _as_int,
    _json_body,
    _Request,
    _required_param,
    _Response,
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

# --- request schemas (openapi/RestV10ProjectsPost.json, ...IdPatch.json, ...SyncPatch.json) --
_WORK_SCOPES = ("new_construction", "renovation_alteration", "maintenance_service", None)
_DELIVERY_METHODS = (
    "construction_management_at_risk_cmar",
    "construction_manager_as_agent_owners_rep",
    "design_bid_build_dbb",
    "design_build_db",
    "indefinite_delivery_indefinite_quantity_idiq",
    "integrated_project_delivery",
    "multi_prime",
    "public_private_partnership_p3",
    "other",
    None,
)
#: the fields all three schemas share. Deprecated names mirror their replacements both ways
#: ("this field is a replacement to estimated_value and will mirror its value").
_COMMON_FIELDS: Mapping[str, FieldSpec] = {
    "active": BOOL,
    "address": TEXT,
    "city": TEXT,
    "country_code": TEXT,
    "description": TEXT,
    "start_date": FieldSpec("date", stored=("start_date", "estimated_start_date")),
    "completion_date": FieldSpec("date", stored=("completion_date", "estimated_completion_date")),
    "total_value": FieldSpec("decimal", stored=("total_value", "estimated_value")),
    "warranty_start_date": DATE,
    "warranty_end_date": DATE,
    "flag": FieldSpec("enum", ("Red", "Yellow", "Green")),
    "image_id": REF,
    "name": TEXT,
    "office_id": REF,
    "phone": TEXT,
    "project_number": TEXT,
    "public_notes": TEXT,
    "project_stage_id": REF,
    "square_feet": INT,
    "state_code": TEXT,
    "time_zone": TEXT,
    "zip": TEXT,
    "program_id": REF,
    "project_bid_type_id": REF,
    "project_type_id": REF,
    "project_owner_type_id": REF,
    "project_region_id": REF,
    "project_template_id": REF,
    "department_ids": REFS,
    "estimated_value": FieldSpec("decimal", stored=("estimated_value", "total_value")),
    "estimated_start_date": FieldSpec("date", stored=("estimated_start_date", "start_date")),
    "estimated_completion_date": FieldSpec(
        "date", stored=("estimated_completion_date", "completion_date")
    ),
    "store_number": TEXT,
    "accounting_project_number": TEXT,
    "designated_market_area": TEXT,
    "sector": TEXT,  # 164 values in Procore's list; the excerpt does not carry them
    "work_scope": FieldSpec("enum", _WORK_SCOPES),
    "delivery_method": FieldSpec("enum", _DELIVERY_METHODS),
    "project_sector_id": REF,
}
_PRIORITY = FieldSpec("enum", ("low", "medium", "high"))
_ERP_INTEGRATED = FieldSpec("bool", stored=("is_erp_integrated",))
#: ``project`` of ``POST /rest/v1.0/projects`` (origin_id/origin_code/origin_data aside)
PROJECT_CREATE_FIELDS: Mapping[str, FieldSpec] = {
    **_COMMON_FIELDS,
    "code": TEXT,
    "locale": TEXT,
    "parent_job_id": REF,
    "override_start_date": WRITE_ONLY_DATE,
    "override_start_date_check": WRITE_ONLY_BOOL,
    "override_end_date": WRITE_ONLY_DATE,
    "override_end_date_check": WRITE_ONLY_BOOL,
    "erp_integrated": _ERP_INTEGRATED,
    "latitude": NUMBER,
    "longitude": NUMBER,
    "enable_copy_of_standard_cost_codes": WRITE_ONLY_BOOL,
    "estimated_budget": NUMBER,
    "priority": _PRIORITY,
    "currency_configuration": FieldSpec(
        "object",
        stored=(),
        nested={"currency_iso_code": TEXT, "exchange_rate_override": NUMBER},
    ),
}
#: ``project`` of ``PATCH /rest/v1.0/projects/{id}`` (origin fields aside)
PROJECT_UPDATE_FIELDS: Mapping[str, FieldSpec] = {
    **_COMMON_FIELDS,
    "county": TEXT,
    "erp_integrated": _ERP_INTEGRATED,
    "standard_cost_code_list_id": INT,  # must name one of the company's lists
    "fax": TEXT,
    "locale": TEXT,
    "parent_job_id": REF,
}
#: one update of ``PATCH /rest/v1.0/projects/sync`` (``id``, origin_id/origin_data aside;
#: no ``origin_code``: the sync schema has none)
PROJECT_SYNC_FIELDS: Mapping[str, FieldSpec] = {
    **_COMMON_FIELDS,
    "enable_copy_of_standard_cost_codes": WRITE_ONLY_BOOL,
    "estimated_budget": NUMBER,
    "priority": _PRIORITY,
}

# --- answers ---------------------------------------------------------------------------------
#: show, create (201) and update (200): openapi/RestV10ProjectsIdGet.json (the same keys as
#: RestV10ProjectsPost.json 201 and RestV10ProjectsIdPatch.json 200)
PROJECT_KEYS = (
    "id", "logo_id", "logo_url", "name", "is_demo", "template", "display_name",
    "project_number", "address", "city", "state_code", "country_code", "zip", "time_zone",
    "tz_name", "latitude", "longitude", "county", "parent_job_id", "parent_job",
    "from_project_template_id", "description", "square_feet", "start_date", "completion_date",
    "total_value", "store_number", "accounting_project_number", "designated_market_area",
    "warranty_start_date", "warranty_end_date", "active", "flag", "locale", "phone",
    "public_notes", "actual_start_date", "projected_finish_date", "created_at", "updated_at",
    "origin_id", "origin_data", "origin_code", "standard_cost_code_list_id",
    "is_erp_integrated", "owners_project_id", "photo_id", "photo_url", "inbound_email",
    "inbound_email_address", "estimated_start_date", "estimated_completion_date",
    "estimated_value", "code", "sector", "work_scope", "delivery_method", "created_by",
    "persistent_message", "office", "project_bid_type_id", "project_bid_type",
    "project_owner_type_id", "project_owner_type", "project_region_id", "project_region",
    "project_stage_id", "project_stage", "project_type", "program", "departments", "company",
    "dictionary_type", "custom_fields", "project_sector_id",
)  # fmt: skip
#: one item of the list: openapi/RestV10ProjectsGet.json
PROJECT_LIST_KEYS = (
    "id", "name", "is_demo", "parent_job_id", "parent_job", "display_name", "project_number",
    "address", "city", "state_code", "country_code", "zip", "county", "time_zone", "latitude",
    "longitude", "stage", "project_stage", "project_template", "phone", "created_at",
    "updated_at", "active", "origin_id", "origin_data", "origin_code", "owners_project_id",
    "total_value", "store_number", "accounting_project_number", "designated_market_area",
    "project_region_id", "project_bid_type_id", "project_owner_type_id", "photo_id",
    "start_date", "completion_date", "projected_finish_date", "estimated_value", "fax",
    "sector", "work_scope", "delivery_method", "estimated_budget", "priority", "company",
    "created_by", "custom_fields", "project_sector_id",
)  # fmt: skip
#: ``serializer_view=compact``: "only returns id, name and display_name"
PROJECT_COMPACT_KEYS = ("id", "name", "display_name")
#: one entity of a sync answer: openapi/RestV10ProjectsSyncPatch.json 200 ``entities``
PROJECT_SYNC_KEYS = (
    "id", "logo_url", "name", "display_name", "project_number", "address", "city",
    "state_code", "country_code", "zip", "time_zone", "latitude", "longitude", "description",
    "square_feet", "start_date", "completion_date", "total_value", "store_number",
    "accounting_project_number", "designated_market_area", "warranty_start_date",
    "warranty_end_date", "active", "flag", "phone", "public_notes", "actual_start_date",
    "projected_finish_date", "created_at", "updated_at", "origin_id", "origin_data",
    "origin_code", "estimated_start_date", "estimated_completion_date", "estimated_value",
    "office", "project_bid_type_id", "project_owner_type_id", "project_region_id",
    "project_stage", "project_type", "program", "departments", "sector", "work_scope",
    "delivery_method", "estimated_budget", "priority", "project_sector_id",
)  # fmt: skip
_PROJECT_DEFAULTS: Mapping[str, Any] = {
    "is_demo": False,
    "template": False,
    "is_erp_integrated": False,
    "departments": [],
    "custom_fields": {},
}


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

    def _body_project(
        self, req: _Request, body: Mapping[str, Any], *, missing_status: int = 422
    ) -> int:
        """project_id from the body, else the query; required; must exist."""
        raw = body.get("project_id", req.param("project_id"))
        if raw is None or raw == "":
            raise SandboxError(missing_status, {"project_id": ["can't be blank"]})
        pid = _as_int(raw, "project_id")
        self._project(pid)
        return pid

    # --- views -----------------------------------------------------------------------------
    def _project_view(self, record: dict[str, Any]) -> dict[str, Any]:
        return _view(record, PROJECT_KEYS, _PROJECT_DEFAULTS)

    def _project_list_view(self, record: dict[str, Any]) -> dict[str, Any]:
        return _view(record, PROJECT_LIST_KEYS, _PROJECT_DEFAULTS)

    def _project_sync_view(self, record: dict[str, Any]) -> dict[str, Any]:
        return _view(record, PROJECT_SYNC_KEYS, _PROJECT_DEFAULTS)

    # --- handlers --------------------------------------------------------------------------
    def _h_list_projects(self, req: _Request, _: re.Match[str]) -> _Response:
        self._check_company_param(req)
        if req.param("serializer_view") == "compact":
            return self._page(req, self.state.projects, view=_compact_project)
        return self._page(req, self.state.projects, view=self._project_list_view)

    def _h_get_project(self, req: _Request, m: re.Match[str]) -> _Response:
        self._check_company_param(req)
        view = req.param("view")
        if view is not None:
            # "minimal" is documented only as "a subset of project fields including ...":
            # the sandbox cannot answer it faithfully, so it says so instead of guessing.
            raise SandboxError(400, f"view {view!r} is not modelled by the sandbox")
        return _Response(200, self._project_view(self._project(m["id"])))

    def _h_sync_projects(self, req: _Request, _: re.Match[str]) -> _Response:
        body = _json_body(req)
        self._company_scope(req, body, query=True)  # "Required only if ... not in the query"
        updates = _sync_updates(body, status=400)
        projects = self.state.projects
        return self._sync(
            updates,
            projects,
            projects,
            create=lambda _item: self._blank_project(),
            on_change=None,
            validate=self._project_validator(PROJECT_SYNC_FIELDS, ("id", *ORIGIN_ID_DATA)),
            origin_fields=ORIGIN_ID_DATA,
            view=self._project_sync_view,
            strict=True,
        )

    def _project_validator(
        self, schema: Mapping[str, FieldSpec], handled: tuple[str, ...]
    ) -> Validator:
        """Checks a project body or sync update against ``schema``; ``handled`` keys (id,
        origin fields) are checked by the caller."""

        def validate(
            fields: Mapping[str, Any], record: dict[str, Any] | None
        ) -> tuple[dict[str, Any], dict[str, list[str]]]:
            changes: dict[str, Any] = {}
            errors: dict[str, list[str]] = {}
            _schema_changes(fields, schema, changes, errors, handled=handled)
            _require_text(changes, ("name",), record is None, errors)
            list_id = changes.get("standard_cost_code_list_id")
            if list_id is not None and int(list_id) not in self.state.standard_cost_code_lists:
                errors["standard_cost_code_list"] = [MUST_EXIST]
            if not errors and ("name" in changes or "project_number" in changes):
                current = record or {}
                name = changes.get("name", current.get("name"))
                number = changes.get("project_number", current.get("project_number"))
                changes["display_name"] = f"{number} - {name}" if number else name
            return changes, errors

        return validate

    def _blank_project(self) -> dict[str, Any]:
        return self.state.projects[self.add_project("")["id"]]

    def _project_body(self, req: _Request) -> dict[str, Any]:
        """The ``project`` object of a create or update body (company in the body only)."""
        body = _json_body(req)
        self._company_scope(req, body, query=False)
        fields = body.get("project")
        if not isinstance(fields, dict):
            raise SandboxError(400, "param is missing or the value is empty: project")
        return fields

    def _h_create_project(self, req: _Request, _: re.Match[str]) -> _Response:
        fields = self._project_body(req)
        record = self._write_record(
            fields,
            None,
            validate=self._project_validator(PROJECT_CREATE_FIELDS, SYNC_FIELDS),
            pool=self.state.projects,
            create=self._blank_project,
            strict=True,
        )
        actor = self._actor(req)
        self._event("create", PROJECTS_RESOURCE, record["id"], record["id"], actor, req.events)
        return _Response(201, self._project_view(record))

    def _h_update_project(self, req: _Request, m: re.Match[str]) -> _Response:
        fields = self._project_body(req)
        record = self._project(m["id"])
        self._write_record(
            fields,
            record,
            validate=self._project_validator(PROJECT_UPDATE_FIELDS, SYNC_FIELDS),
            pool=self.state.projects,
            create=self._blank_project,
            strict=True,
        )
        actor = self._actor(req)
        self._event("update", PROJECTS_RESOURCE, record["id"], record["id"], actor, req.events)
        return _Response(200, self._project_view(record))


def _compact_project(record: dict[str, Any]) -> dict[str, Any]:
    return _view(record, PROJECT_COMPACT_KEYS)
