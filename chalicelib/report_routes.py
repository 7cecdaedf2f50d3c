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
    return json_response(202, {"queued": ["payments"], "pull": state})
