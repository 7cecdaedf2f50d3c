"""Routes for setting up jobs, vendors, cost codes, sub jobs and the company's settings.

Thin handlers like app.py's: parse, call chalicelib.services.setup / company_settings,
answer. Every route names its permission inside the service it calls.
"""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.api import (
    caller,
    http_errors,
    json_object,
    json_response,
    parse_model,
)

setup_routes = Blueprint(__name__)
# The vendor list as CSV: no tax id column (it never leaves the connector in clear).
VENDOR_CSV_COLUMNS = ("vendor", "name", "short_name", "inactive", "address", "city", "state",
                      "zip_code")


def _request() -> Any:
    return setup_routes.current_request


def _body(model: Any) -> Any:
    return parse_model(model, json_object(_request().raw_body))


def _number(value: str, name: str) -> int:
    from chalicelib.errors import BadRequest

    if not value.isdigit():
        raise BadRequest(f"path parameter '{name}' must be a number", field=name)
    return int(value)


def _setup() -> Any:
    from chalicelib.wiring import get_setup

    return get_setup()


# ---- lists pulled from Sage -------------------------------------------------------------------
@setup_routes.route("/erp/lists", methods=["GET"])
@http_errors
def erp_lists() -> Any:
    from chalicelib.wiring import get_company_settings

    return json_response(200, {"pulls": get_company_settings().get(caller(_request()))["pulls"]})


@setup_routes.route("/erp/lists/{list_name}/refresh", methods=["POST"])
@http_errors
def refresh_list(list_name: str) -> Any:
    return json_response(202, _setup().refresh(caller(_request()), list_name))


@setup_routes.route("/erp/jobs", methods=["GET"])
@http_errors
def sage_jobs() -> Any:
    return json_response(200, {"jobs": _setup().sage_jobs(caller(_request()))})


@setup_routes.route("/erp/jobs/{job}/add-to-procore", methods=["POST"])
@http_errors
def add_job_to_procore(job: str) -> Any:
    user = caller(_request())
    return json_response(201, _setup().add_job_to_procore(user, _number(job, "job")))


@setup_routes.route("/erp/vendors", methods=["GET"])
@http_errors
def sage_vendors() -> Any:
    params = _request().query_params or {}
    archived = params.get("archived") == "true"
    vendors = _setup().sage_vendors(caller(_request()), archived=archived)
    if params.get("format") == "csv":  # "View the Archived Companies List", downloadable
        from chalice import Response

        from chalicelib.services.reports import to_csv

        name = "archived-companies" if archived else "sage-vendors"
        return Response(body=to_csv(vendors, VENDOR_CSV_COLUMNS), status_code=200, headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": f'attachment; filename="{name}.csv"'})
    return json_response(200, {"vendors": vendors})


@setup_routes.route("/erp/vendors/suggestions", methods=["GET"])
@http_errors
def vendor_suggestions() -> Any:
    return json_response(200, {"suggestions": _setup().vendor_suggestions(caller(_request()))})


@setup_routes.route("/erp/vendors/{vendor}/import", methods=["POST"])
@http_errors
def import_vendor(vendor: str) -> Any:
    user = caller(_request())
    return json_response(201, _setup().import_vendor(user, _number(vendor, "vendor")))


@setup_routes.route("/erp/vendors/{vendor}/archive", methods=["POST"])
@http_errors
def archive_vendor(vendor: str) -> Any:
    user = caller(_request())
    return json_response(200, _setup().archive_vendor(user, _number(vendor, "vendor"), True))


@setup_routes.route("/erp/vendors/{vendor}/unarchive", methods=["POST"])
@http_errors
def unarchive_vendor(vendor: str) -> Any:
    user = caller(_request())
    return json_response(200, _setup().archive_vendor(user, _number(vendor, "vendor"), False))


@setup_routes.route("/erp/cost-codes/{code}/default-cost-types", methods=["PUT"])
@http_errors
def default_cost_types(code: str) -> Any:
    from chalicelib.requests import CostTypesBody

    user = caller(_request())
    body = _body(CostTypesBody)
    return json_response(200, _setup().set_default_cost_types(user, code, body.cost_types,
                                                              version=body.version))


# ---- links ---------------------------------------------------------------------------------------
@setup_routes.route("/links/projects", methods=["POST"])
@http_errors
def link_project() -> Any:
    from chalicelib.requests import LinkBody

    user = caller(_request())
    body = _body(LinkBody)
    answer = _setup().link_project(user, body.procore_id, body.sage_key, body.preview)
    return json_response(200 if body.preview else 201, answer)


@setup_routes.route("/links/vendors", methods=["POST"])
@http_errors
def link_vendor() -> Any:
    from chalicelib.requests import LinkBody

    user = caller(_request())
    body = _body(LinkBody)
    answer = _setup().link_vendor(user, body.procore_id, body.sage_key, body.preview)
    return json_response(200 if body.preview else 201, answer)


# A query parameter, not /links/{kind}: POST /links/projects is a static resource, and
# API Gateway (like chalice's local router) would answer GET there with 405.
@setup_routes.route("/links", methods=["GET"])
@http_errors
def list_links() -> Any:
    from chalicelib.wiring import get_link_views

    request = _request()
    kind = (request.query_params or {}).get("kind", "")
    return json_response(200, get_link_views().list(caller(request), kind))


@setup_routes.route("/links/{kind}/{procore_id}", methods=["DELETE"])
@http_errors
def unlink(kind: str, procore_id: str) -> Any:
    from chalicelib.errors import NotFound
    from chalicelib.services.link_views import LINK_KINDS
    from chalicelib.wiring import get_unlinker

    user = caller(_request())  # signed in before anything about the path is said
    if kind not in LINK_KINDS:
        raise NotFound(f"no link kind {kind!r}; kinds: {', '.join(LINK_KINDS)}")
    return json_response(200, get_unlinker().unlink_record(user, LINK_KINDS[kind].kind,
                                                           _number(procore_id, "procore_id")))


# ---- per project -----------------------------------------------------------------------------
@setup_routes.route("/projects/{procore_id}/cost-codes/refresh", methods=["POST"])
@http_errors
def refresh_cost_codes(procore_id: str) -> Any:
    user = caller(_request())
    return json_response(200, _setup().refresh_project_cost_codes(
        user, _number(procore_id, "procore_id")))


@setup_routes.route("/projects/{procore_id}/sub-jobs", methods=["POST"])
@http_errors
def import_sub_job(procore_id: str) -> Any:
    from chalicelib.requests import SubJobBody

    user = caller(_request())
    body = _body(SubJobBody)
    return json_response(201, _setup().import_sub_job(user, _number(procore_id, "procore_id"),
                                                      body.phase))


@setup_routes.route("/projects/{procore_id}/sub-jobs", methods=["GET"])
@http_errors
def synced_sub_jobs(procore_id: str) -> Any:
    user = caller(_request())
    return json_response(200, {"sub_jobs": _setup().synced_sub_jobs(
        user, _number(procore_id, "procore_id"))})


# ---- settings --------------------------------------------------------------------------------
@setup_routes.route("/settings", methods=["GET"])
@http_errors
def get_settings() -> Any:
    from chalicelib.wiring import get_company_settings

    return json_response(200, get_company_settings().get(caller(_request())))


@setup_routes.route("/settings/sync-schedule", methods=["PUT"])
@http_errors
def set_sync_schedule() -> Any:
    from chalicelib.requests import ScheduleBody
    from chalicelib.wiring import get_company_settings

    user = caller(_request())
    body = _body(ScheduleBody)
    return json_response(200, get_company_settings().set_schedule(
        user, body.model_dump(exclude_none=True, exclude={"version"}), version=body.version))


@setup_routes.route("/settings/direct-exports", methods=["PUT"])
@http_errors
def set_direct_exports() -> Any:
    from chalicelib.requests import DirectExportsBody
    from chalicelib.wiring import get_company_settings

    user = caller(_request())
    body = _body(DirectExportsBody)
    return json_response(200, get_company_settings().set_direct_exports(
        user, body.enabled, version=body.version))


@setup_routes.route("/settings/advanced", methods=["PUT"])
@http_errors
def set_advanced() -> Any:
    from chalicelib.requests import AdvancedBody
    from chalicelib.wiring import get_company_settings

    user = caller(_request())
    body = _body(AdvancedBody)
    return json_response(200, get_company_settings().set_advanced(
        user, body.model_dump(exclude_none=True, exclude={"version"}), version=body.version))
