"""Routes for budgets beyond the generic item routes: the import from Sage, and the preview
of what an item's export will write to Sage (every kind; budgets add Sage's amounts now).

Thin handlers like app.py's: parse, call the service, answer.
"""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.api import caller, http_errors, json_response, project_path

budget_routes = Blueprint(__name__)


@budget_routes.route("/projects/{project_id}/budget/import", methods=["POST"])
@http_errors
def import_budget(project_id: str) -> Any:
    from chalicelib.wiring import get_budget_import

    user = caller(budget_routes.current_request)
    return json_response(202, get_budget_import().request(user, project_path(project_id)))


@budget_routes.route("/projects/{project_id}/budget/import", methods=["GET"])
@http_errors
def budget_import_status(project_id: str) -> Any:
    from chalicelib.wiring import get_budget_import

    user = caller(budget_routes.current_request)
    return json_response(200, get_budget_import().status(user, project_path(project_id)))


@budget_routes.route("/items/{item_id}/preview", methods=["GET"])
@http_errors
def preview_item(item_id: str) -> Any:
    from chalicelib.wiring import get_export_preview

    user = caller(budget_routes.current_request)
    return json_response(200, get_export_preview().preview(user, item_id))
