"""Routes for job cost transactions from Sage: per-project enablement, its view (runs,
Procore edits about to be overwritten, overwrites) and the on-demand sync. Thin handlers:
parse, call the service, answer."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.api import caller, http_errors, json_response, optional_json_object, project_path

job_cost_routes = Blueprint(__name__)


@job_cost_routes.route("/projects/{project_id}/job-cost-sync", methods=["PUT"])
@http_errors
def set_job_cost_sync(project_id: str) -> Any:
    from chalicelib.api import json_object, parse_model
    from chalicelib.requests import JobCostSyncBody
    from chalicelib.wiring import get_job_cost_sync

    request = job_cost_routes.current_request
    user = caller(request)
    body = parse_model(JobCostSyncBody, json_object(request.raw_body))
    return json_response(200, get_job_cost_sync().set_enabled(user, project_path(project_id),
                                                              body.enabled))


@job_cost_routes.route("/projects/{project_id}/job-cost-sync", methods=["GET"])
@http_errors
def job_cost_sync_view(project_id: str) -> Any:
    from chalicelib.wiring import get_job_cost_sync

    user = caller(job_cost_routes.current_request)
    return json_response(200, get_job_cost_sync().view(user, project_path(project_id)))


@job_cost_routes.route("/sync/job-costs", methods=["POST"])
@http_errors
def sync_job_costs() -> Any:
    from chalicelib.api import parse_model
    from chalicelib.requests import JobCostRunBody
    from chalicelib.wiring import get_job_cost_sync

    request = job_cost_routes.current_request
    user = caller(request)
    body = parse_model(JobCostRunBody, optional_json_object(request.raw_body))
    return json_response(202, get_job_cost_sync().request(user, body.project_id))
