"""The webhook receiver: check, parse, enqueue. No Procore call here, and the table only for
a body that cannot be read (quarantined): Procore pauses every delivery to the endpoint
after one slow or failed answer."""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from chalicelib.adapters.queues import FifoQueue
from chalicelib.domain.owner_invoices import owner_invoice_target
from chalicelib.domain.webhooks import (
    WebhookEvent,
    budget_target,
    cco_target,
    commitment_target,
    invoice_target,
    parse_webhook,
    to_message,
)
from chalicelib.errors import BadRequest, Unauthorized
from chalicelib.observability import count, logger
from chalicelib.services.setup_export_intake import setup_export_target
from chalicelib.settings import Settings

if TYPE_CHECKING:
    from chalicelib.services.quarantine import QuarantineService


def check_token(expected: str, provided: str | None) -> None:
    """Constant-time comparison of the static Authorization value Procore sends."""
    if not provided:
        raise Unauthorized("the Authorization header is missing")
    if not hmac.compare_digest(provided.encode(), expected.encode()):
        raise Unauthorized("the Authorization header does not match this endpoint's token")


def fifo_group(event: WebhookEvent) -> str:
    """The FIFO group an event is processed in.

    All commitment events of a project share one group: a line item event often does not
    name its commitment (payload v2.0/v4.0), and intake reads the commitment's current
    state from Procore, so two evaluations of one commitment must never run at once or
    finish out of order (an older read would overwrite a newer one).
    """
    if (commitment_target(event) is not None or cco_target(event) is not None
            or invoice_target(event) is not None) and event.project_id is not None:
        # A CCO is read against its commitment's item: the same group keeps them in order.
        return f"{event.company_id}:commitments:{event.project_id}"
    return event.group_key


def is_own_echo(settings: Settings, event: WebhookEvent) -> bool:
    """Caused by this connector's own write (v2/v3 name the application; v4 only the user)."""
    if event.is_from_application(settings.connector_application_id or None):
        return True
    own_user = settings.connector_procore_user_id
    return own_user is not None and event.user_id == own_user


def receive(settings: Settings, token: str, queue: FifoQueue,
            headers: Mapping[str, str], body: bytes,
            quarantine: QuarantineService) -> dict[str, Any]:
    """Answer a delivery. With a valid token the answer is always 2xx: a body the connector
    cannot read is quarantined (202), never refused, since one refusal makes Procore pause
    every delivery to this endpoint."""
    check_token(token, headers.get("authorization"))
    if len(body) > settings.max_webhook_bytes:
        return quarantine.keep(body, f"body is {len(body)} bytes; the limit is "
                                     f"{settings.max_webhook_bytes}")
    try:
        event = parse_webhook(body)
    except BadRequest as exc:
        return quarantine.keep(body, exc.message, field=exc.details.get("field"))
    return route(settings, queue, event)


def route(settings: Settings, queue: FifoQueue, event: WebhookEvent) -> dict[str, Any]:
    """Skip what this connector does not sync; queue the rest for intake."""
    logger.set_correlation_id(event.event_id)
    logger.append_keys(event_id=event.event_id, resource=event.resource_name,
                       resource_id=event.resource_id, action=event.action)
    if is_own_echo(settings, event):
        count("WebhooksSkipped")
        logger.info("skipped: caused by this connector's own write")
        return {"status": "skipped", "reason": "caused by this connector", "id": event.event_id}
    if settings.procore_company_id and event.company_id != settings.procore_company_id:
        count("WebhooksSkipped")
        logger.warning("skipped: company not served here", company_id=event.company_id)
        return {"status": "skipped", "reason": "company not served by this connector",
                "id": event.event_id}
    if (commitment_target(event) is None and budget_target(event) is None
            and cco_target(event) is None and invoice_target(event) is None
            and owner_invoice_target(event) is None and setup_export_target(event) is None):
        count("WebhooksSkipped")
        return {"status": "skipped", "reason": f"resource {event.resource_name!r} not synced",
                "id": event.event_id}
    queue.send(to_message(event), deduplication_id=event.event_id, group_id=fifo_group(event))
    count("WebhooksReceived")
    logger.info("queued", project_id=event.project_id)
    return {"status": "queued", "id": event.event_id}
