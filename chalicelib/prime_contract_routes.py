"""Routes of the prime contract import from Sage ("Import a Prime Contract from the ERP").

Thin handlers like budget_routes': parse, call the service, answer. The import is
asynchronous (the relay agent reads the job's contract): POST answers 202 with the
import's state, GET the state since.
"""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.api import caller, http_errors, json_response, project_path

prime_contract_routes = Blueprint(__name__)


@prime_contract_routes.route("/projects/{project_id}/prime-contract/import", methods=["POST"])
@http_errors
def import_prime_contract(project_id: str) -> Any:
    from chalicelib.wiring import get_prime_contract_import

    user = caller(prime_contract_routes.current_request)
    return json_response(202, get_prime_contract_import().request(user,
                                                                  project_path(project_id)))


@prime_contract_routes.route("/projects/{project_id}/prime-contract/import", methods=["GET"])
@http_errors
def prime_contract_import_status(project_id: str) -> Any:
    from chalicelib.wiring import get_prime_contract_import

    user = caller(prime_contract_routes.current_request)
    return json_response(200, get_prime_contract_import().status(user,
                                                                 project_path(project_id)))
