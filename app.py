"""Chalice app: thin handlers only (parse, call chalicelib, map the answer).

Heavy imports (boto3, pydantic models, Powertools batch) happen inside the handlers that
need them, so a cold start pays only for what its invocation uses.
"""

from __future__ import annotations

from typing import Any

from chalice import Chalice, Cron, Rate

from chalicelib.api import (
    caller,
    http_errors,
    json_object,
    json_response,
    optional_json_object,
    parse_model,
    query_int,
)
from chalicelib.budget_routes import budget_routes
from chalicelib.job_cost_routes import job_cost_routes
from chalicelib.observability import flush_metrics, logger
from chalicelib.prime_contract_routes import prime_contract_routes
from chalicelib.report_routes import report_routes
from chalicelib.setup_routes import setup_routes
from chalicelib.web_routes import web_routes

app = Chalice(app_name="procore-sage-connector")
app.experimental_feature_flags.update(["BLUEPRINTS"])
app.register_blueprint(setup_routes)
app.register_blueprint(budget_routes)
app.register_blueprint(prime_contract_routes)
app.register_blueprint(report_routes)
app.register_blueprint(job_cost_routes)
app.register_blueprint(web_routes)

WEBHOOK_CONTENT_TYPES = ["application/json", "text/plain", "application/octet-stream"]


@app.middleware("all")
def observability(event: Any, get_response: Any) -> Any:
    """Correlation id per invocation, and metrics flushed as the invocation ends.

    Every log line carries ``request_id`` (API Gateway's, else the Lambda's): a 5xx answer
    names it, and the log under it holds what AWS said."""
    context = getattr(event, "context", None)
    request_id = context.get("requestId") if isinstance(context, dict) else None
    lambda_context = getattr(event, "lambda_context", None) or (
        None if isinstance(context, dict) else context)
    logger.set_correlation_id(request_id)
    logger.append_keys(request_id=request_id or getattr(lambda_context, "aws_request_id", None))
    try:
        return get_response(event)
    finally:
        flush_metrics()
        logger.remove_keys(["event_id", "resource", "resource_id", "action", "item_id",
                            "user", "request_id"])


# ---- Procore webhooks ---------------------------------------------------------------------
@app.route("/webhooks/procore", methods=["POST"], content_types=WEBHOOK_CONTENT_TYPES)
@http_errors
def procore_webhook() -> Any:
    from chalicelib.services.receiver import receive
    from chalicelib.settings import get_settings, read_secret
    from chalicelib.wiring import get_inbound_queue, get_quarantine

    request = app.current_request
    settings = get_settings()
    answer = receive(settings, read_secret(settings, "webhook_token"), get_inbound_queue(),
                     request.headers, request.raw_body or b"", get_quarantine())
    return json_response(202, answer)


def _fifo_batch(event: dict[str, Any], context: Any, record_handler: Any) -> dict[str, Any]:
    """A FIFO queue batch with partial failures: a failed record fails the rest of its
    message group (order kept) but not other groups."""
    from aws_lambda_powertools.utilities.batch import (
        SqsFifoPartialProcessor,
        process_partial_response,
    )

    from chalicelib import deadline

    deadline.start(context)  # retries inside stop before the function's timeout
    processor = SqsFifoPartialProcessor(skip_group_on_error=True)
    return process_partial_response(event=event, record_handler=record_handler,
                                    processor=processor, context=context)


@app.lambda_function(name="intake")
def intake(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Inbound-events queue consumer."""
    return _fifo_batch(event, context, _intake_record)


def _intake_record(record: Any) -> str:
    import json

    from chalicelib.domain.webhooks import from_message
    from chalicelib.wiring import get_intake

    event = from_message(json.loads(record.body))
    logger.set_correlation_id(event.event_id)
    outcome = get_intake().handle_event(event)
    logger.info("event processed", event_id=event.event_id, outcome=outcome)
    return outcome


# ---- export to Sage ---------------------------------------------------------------------------
@app.lambda_function(name="exporter")
def exporter(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Exports queue consumer: accepted items become relay commands."""
    return _fifo_batch(event, context, _export_record)


def _export_record(record: Any) -> str:
    import json

    from chalicelib.wiring import get_exporter

    message = json.loads(record.body)
    logger.set_correlation_id(message.get("item_id"))
    outcome = get_exporter().handle(message)
    logger.info("export message handled", item_id=message.get("item_id"), outcome=outcome)
    return outcome


@app.lambda_function(name="results")
def results(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Relay results queue consumer: results and heartbeats from the agent."""
    return _fifo_batch(event, context, _result_record)


def _result_record(record: Any) -> str:
    from chalicelib.relay_protocol import RelayMessage
    from chalicelib.wiring import get_results

    message = RelayMessage.parse(record.body)
    logger.set_correlation_id(getattr(message, "item_id", None) or message.agent_id)
    outcome = get_results().handle(message)
    logger.info("relay message handled", kind=message.kind, outcome=outcome)
    return outcome


# ---- accounting acceptance ------------------------------------------------------------------
def _for_item(item_id: str) -> None:
    """Logs of an item's requests share its id as correlation id (as its audit events do)."""
    logger.set_correlation_id(item_id)
    logger.append_keys(item_id=item_id)


def _caller() -> Any:
    return caller(app.current_request)


def _four_eyes() -> bool:
    """Whether item views offer accepting an item to the person who sent it."""
    from chalicelib.settings import four_eyes_on, get_settings

    return four_eyes_on(get_settings())


@app.route("/items", methods=["GET"])
@http_errors
def list_items() -> Any:
    from chalicelib.domain.item_views import item_view
    from chalicelib.domain.permissions import Permission, require
    from chalicelib.domain.state_machine import Status
    from chalicelib.errors import BadRequest
    from chalicelib.wiring import get_store

    user = _caller()
    require(user, Permission.READ_INBOX)
    params = app.current_request.query_params or {}
    status = None
    if params.get("status"):
        try:
            status = Status(params["status"])
        except ValueError as exc:
            raise BadRequest(f"query parameter 'status' must be one of "
                             f"{', '.join(s.value for s in Status if s is not Status.NEW)}",
                             field="status") from exc
    items, cursor = get_store().list_items(
        user.company_id, status=status, kind=params.get("kind") or None,
        project_id=query_int(params, "project_id", minimum=1),
        limit=query_int(params, "limit", default=50, minimum=1, maximum=200) or 50,
        cursor=params.get("cursor"))
    four_eyes = _four_eyes()
    return json_response(200, {"items": [item_view(i, user, four_eyes=four_eyes) for i in items],
                               "next_cursor": cursor})


@app.route("/items/{item_id}", methods=["GET"])
@http_errors
def get_item(item_id: str) -> Any:
    _for_item(item_id)
    from chalicelib.domain.permissions import Permission, require
    from chalicelib.wiring import get_item_service

    user = _caller()
    require(user, Permission.READ_INBOX)
    return json_response(200, get_item_service().detail(user, item_id))


@app.route("/items/{item_id}/accept", methods=["POST"])
@http_errors
def accept_item(item_id: str) -> Any:
    from chalicelib.domain.item_views import item_view
    _for_item(item_id)
    from chalicelib.requests import AcceptBody
    from chalicelib.wiring import get_item_service

    user = _caller()
    body = parse_model(AcceptBody, optional_json_object(app.current_request.raw_body))
    item = get_item_service().accept(user, item_id, body.model_dump(exclude_none=True))
    return json_response(200, item_view(item, user, four_eyes=_four_eyes()))


@app.route("/items/{item_id}/reject", methods=["POST"])
@http_errors
def reject_item(item_id: str) -> Any:
    from chalicelib.domain.item_views import item_view
    _for_item(item_id)
    from chalicelib.requests import RejectBody
    from chalicelib.wiring import get_item_service

    user = _caller()
    body = parse_model(RejectBody, json_object(app.current_request.raw_body))
    return json_response(200, item_view(get_item_service().reject(user, item_id, body.reason),
                                        user, four_eyes=_four_eyes()))


@app.route("/items/{item_id}/retrieve", methods=["POST"])
@http_errors
def retrieve_item(item_id: str) -> Any:
    from chalicelib.domain.item_views import item_view
    _for_item(item_id)
    from chalicelib.wiring import get_item_service

    user = _caller()
    return json_response(200, item_view(get_item_service().retrieve(user, item_id), user,
                                        four_eyes=_four_eyes()))


@app.route("/items/{item_id}/resend", methods=["POST"])
@http_errors
def resend_item(item_id: str) -> Any:
    from chalicelib.domain.item_views import item_view
    _for_item(item_id)
    from chalicelib.wiring import get_item_service

    user = _caller()
    return json_response(200, item_view(get_item_service().resend(user, item_id), user,
                                        four_eyes=_four_eyes()))


@app.route("/items/{item_id}/unlink", methods=["POST"])
@http_errors
def unlink_item(item_id: str) -> Any:
    from chalicelib.domain.item_views import item_view
    _for_item(item_id)
    from chalicelib.wiring import get_unlinker

    user = _caller()
    return json_response(200, item_view(get_unlinker().unlink_item(user, item_id), user,
                                        four_eyes=_four_eyes()))


@app.route("/items/send", methods=["POST"])
@http_errors
def send_item() -> Any:
    from chalicelib.domain.item_views import item_detail
    from chalicelib.requests import SendBody
    from chalicelib.services.send import send
    from chalicelib.wiring import get_intake, get_item_service

    user = _caller()
    body = parse_model(SendBody, json_object(app.current_request.raw_body))
    item = send(user, body, get_intake(), get_item_service())
    # what was sent, to check it
    return json_response(200, item_detail(item, user, four_eyes=_four_eyes()))


# ---- connector users (company admins) ---------------------------------------------------------
@app.route("/users", methods=["GET"])
@http_errors
def list_users() -> Any:
    from chalicelib.services import users
    from chalicelib.wiring import get_store

    found = users.list_users(get_store(), _caller())
    return json_response(200, {"users": [users.public(u) for u in found]})


@app.route("/users/{subject}", methods=["PUT"])
@http_errors
def put_user(subject: str) -> Any:
    from chalicelib.requests import UserBody
    from chalicelib.services import users
    from chalicelib.settings import four_eyes_on, get_settings
    from chalicelib.wiring import get_store

    admin = _caller()
    body = parse_model(UserBody, json_object(app.current_request.raw_body))
    user = users.put_user(get_store(), admin, subject, body,
                          four_eyes=four_eyes_on(get_settings()))
    return json_response(200, users.public(user))


@app.route("/audit/user-levels", methods=["GET"])
@http_errors
def user_level_changes() -> Any:
    from chalicelib.services import users
    from chalicelib.wiring import get_store

    return json_response(200, {"changes": users.user_changes(get_store(), _caller())})


# ---- operations -----------------------------------------------------------------------------
@app.route("/health", methods=["GET"])
def health() -> Any:
    """Liveness, unauthenticated: the same answer whatever AWS does (no detail to leak)."""
    return json_response(200, {"status": "ok"})


@app.route("/health/ready", methods=["GET"])
@http_errors
def health_ready() -> Any:
    """Readiness of each dependency, for any signed-in user (a verified token; no table
    read, so it answers while the table is failing: docs/decisions.md)."""
    from chalicelib.services.health import readiness
    from chalicelib.wiring import get_verifier

    principal = get_verifier().verify(app.current_request.headers.get("authorization"))
    logger.append_keys(user=principal.subject)
    report = readiness()
    report["request_id"] = logger.get_current_keys().get("request_id")
    return json_response(200 if report["status"] == "ok" else 503, report)


@app.route("/openapi.json", methods=["GET"])
@http_errors
def openapi_document() -> Any:
    """The API's OpenAPI 3.1 document (public: it names routes and rules, no data)."""
    from chalice import Response

    from chalicelib.openapi import document

    return Response(body=document(app.routes), status_code=200, headers={
        "Content-Type": "application/json", "Cache-Control": "public, max-age=300"})


@app.route("/ops/quarantine", methods=["GET"])
@http_errors
def list_quarantine() -> Any:
    from chalicelib.wiring import get_quarantine

    params = app.current_request.query_params or {}
    return json_response(200, get_quarantine().list(
        _caller(), limit=query_int(params, "limit", default=50, minimum=1, maximum=200) or 50,
        cursor=params.get("cursor")))


@app.route("/ops/quarantine/{entry_id}", methods=["GET"])
@http_errors
def show_quarantined(entry_id: str) -> Any:
    from chalicelib.wiring import get_quarantine

    return json_response(200, get_quarantine().show(_caller(), entry_id))


@app.route("/ops/quarantine/{entry_id}/replay", methods=["POST"])
@http_errors
def replay_quarantined(entry_id: str) -> Any:
    from chalicelib.services.receiver import route
    from chalicelib.wiring import get_quarantine

    return json_response(200, get_quarantine().replay(_caller(), entry_id, route))


@app.schedule(Rate(5, unit=Rate.MINUTES), name="scheduled-pulls")
def scheduled_pulls(event: Any) -> dict[str, list[str]]:
    """Ask the relay agent for the Sage lists whose sync schedule is due."""
    from chalicelib import deadline
    from chalicelib.settings import get_settings
    from chalicelib.wiring import (
        get_budget_import,
        get_company_settings,
        get_erp_lists,
        get_job_cost_sync,
        get_paid_notices,
    )

    deadline.start(getattr(event, "context", None))  # a budget import pauses before the end
    company_id = get_settings().procore_company_id
    due = get_erp_lists().request_due(company_id)
    logger.info("scheduled pulls requested", lists=due)
    # Imports whose pull completed but whose run failed (e.g. Procore was away) go again,
    # and so do paid notices Procore did not take.
    get_budget_import().resume(company_id)
    get_paid_notices().report(company_id)
    # Job costs run per enabled project on their own schedule (and pages that never came
    # are asked for again).
    minutes = get_company_settings().get_for(company_id)["sync_schedule"]["job_costs"]
    job_costs = get_job_cost_sync().run_due(company_id, int(minutes))
    return {"requested": due, "job_cost_projects": [str(p) for p in job_costs]}


@app.schedule(Cron(0, "*", "*", "*", "?", "*"), name="notify-approvers")
def notify_approvers(event: Any) -> dict[str, int]:
    """Hourly: e-mails that failed go again (bounded), missed ones go now, and each "daily"
    approver's digest goes once, from the digest hour on (docs/decisions.md)."""
    from chalicelib.settings import get_settings
    from chalicelib.wiring import get_notifications

    return get_notifications().run(get_settings().procore_company_id)


@app.schedule(Rate(5, unit=Rate.MINUTES), name="sweep-exports")
def sweep_exports(event: Any) -> dict[str, int | bool]:
    """Send unsent export messages, re-drive stuck exports, publish the stuck-items metric."""
    from chalicelib.settings import get_settings
    from chalicelib.wiring import get_sweeper

    report = get_sweeper().sweep(get_settings().procore_company_id)
    logger.info("exports swept", **report.as_dict())
    return report.as_dict()


@app.schedule(Rate(5, unit=Rate.MINUTES), name="reconcile-commitments")
def reconcile_commitments(event: Any) -> dict[str, Any]:
    """Queue the commitment changes Procore shows that no webhook brought (lost deliveries),
    and an hourly re-read of every budget in play (budget rows carry no updated_at)."""
    from chalicelib.settings import get_settings
    from chalicelib.wiring import get_budget_reconcile, get_reconciler

    company_id = get_settings().procore_company_id
    report = get_reconciler().poll(company_id).as_dict()
    return {**report, "budget_rereads": get_budget_reconcile().queue_rereads(company_id)}
