"""Routes for reports and on-demand syncs from Sage. Thin handlers: parse, call, answer."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint, Response

from chalicelib.api import caller, http_errors, json_response

report_routes = Blueprint(__name__)


def _wants_csv() -> bool:
    from chalicelib.errors import BadRequest

    wanted = (report_routes.current_request.query_params or {}).get("format", "json")
    if wanted not in ("json", "csv"):
        raise BadRequest("query parameter 'format' must be json or csv", field="format")
    return wanted == "csv"


@report_routes.route("/reports/accountant", methods=["GET"])
@http_errors
def accountant_report() -> Any:
    from chalicelib.services.reports import ACCOUNTANT_COLUMNS, to_csv
    from chalicelib.wiring import get_reports

    rows = get_reports().accountant(caller(report_routes.current_request))
    if _wants_csv():
        return Response(body=to_csv(rows, ACCOUNTANT_COLUMNS), status_code=200, headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": 'attachment; filename="accountant-report.csv"'})
    return json_response(200, {"rows": rows, "columns": list(ACCOUNTANT_COLUMNS)})


@report_routes.route("/sync/paid-invoices", methods=["POST"])
@http_errors
def sync_paid_invoices() -> Any:
    """On demand (ERP admin): ask the agent for Sage's payments now; each payment of an
    exported invoice reaches Procore when the pull completes."""
    from chalicelib.domain.permissions import Permission, require
    from chalicelib.wiring import get_erp_lists

    user = caller(report_routes.current_request)
    require(user, Permission.SYNC_PAID_INVOICES)
    state = get_erp_lists().request(user.company_id, "payments", user.subject)
    # Receipts of owner invoices too (recorded on their items: services/owner_receipts).
    receipts = get_erp_lists().request(user.company_id, "receipts", user.subject)
    return json_response(202, {"queued": ["payments", "receipts"], "pull": state,
                               "receipts_pull": receipts})


def _csv_or_json(rows: list[dict[str, Any]], columns: tuple[str, ...], filename: str,
                 extra: dict[str, Any] | None = None) -> Any:
    from chalicelib.services.reports import to_csv

    if _wants_csv():
        return Response(body=to_csv(rows, columns), status_code=200, headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": f'attachment; filename="{filename}"'})
    return json_response(200, {**(extra or {}), "rows": rows, "columns": list(columns)})


def _project_param(required: bool) -> int | None:
    from chalicelib.api import query_int
    from chalicelib.errors import BadRequest

    project = query_int(report_routes.current_request.query_params, "project_id", minimum=1,
                        maximum=2**63 - 1)
    if required and project is None:
        raise BadRequest("query parameter 'project_id' is required", field="project_id")
    return project


@report_routes.route("/reports/job-costs", methods=["GET"])
@http_errors
def job_costs_report() -> Any:
    """Per cost code and cost type: budget, committed, Sage job cost, Procore direct
    costs (one project, or every project with job costs at company level)."""
    from chalicelib.services.job_cost_reports import JOB_COST_COLUMNS
    from chalicelib.wiring import get_job_cost_reports

    user = caller(report_routes.current_request)
    project = _project_param(required=False)
    _wants_csv()  # a bad format is refused before any work
    rows = get_job_cost_reports().job_costs(user, project)
    return _csv_or_json(rows, JOB_COST_COLUMNS, "erp-job-costs.csv")


@report_routes.route("/reports/unsyncable-direct-costs", methods=["GET"])
@http_errors
def unsyncable_direct_costs_report() -> Any:
    from chalicelib.services.job_cost_reports import UNSYNCABLE_COLUMNS
    from chalicelib.wiring import get_job_cost_reports

    user = caller(report_routes.current_request)
    project = _project_param(required=True)
    _wants_csv()
    rows = get_job_cost_reports().unsyncable(user, int(project or 0))
    return _csv_or_json(rows, UNSYNCABLE_COLUMNS, "unsyncable-direct-costs.csv")


@report_routes.route("/reports/reconciliation", methods=["GET"])
@http_errors
def reconciliation_report() -> Any:
    from chalicelib.services.job_cost_reports import RECONCILIATION_COLUMNS
    from chalicelib.wiring import get_job_cost_reports

    user = caller(report_routes.current_request)
    project = _project_param(required=True)
    _wants_csv()
    report = get_job_cost_reports().reconciliation(user, int(project or 0))
    rows = report.pop("rows")
    return _csv_or_json(rows, RECONCILIATION_COLUMNS, "reconciliation.csv", report)
