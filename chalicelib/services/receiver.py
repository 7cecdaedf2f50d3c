"""The webhook receiver: check, parse, enqueue. No Procore call and no table access here:
Procore pauses every delivery to the endpoint after one slow or failed answer."""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from typing import Any

from chalicelib.adapters.queues import FifoQueue
from chalicelib.domain.webhooks import commitment_target, parse_webhook, to_message
from chalicelib.errors import PayloadTooLarge, Unauthorized
from chalicelib.observability import count, logger
from chalicelib.settings import Settings


def check_token(expected: str, provided: str | None) -> None:
    """Constant-time comparison of the static Authorization value Procore sends."""
    if not provided:
        raise Unauthorized("the Authorization header is missing")
    if not hmac.compare_digest(provided.encode(), expected.encode()):
        raise Unauthorized("the Authorization header does not match this endpoint's token")


def receive(settings: Settings, token: str, queue: FifoQueue,
            headers: Mapping[str, str], body: bytes) -> dict[str, Any]:
    check_token(token, headers.get("authorization"))
    if len(body) > settings.max_webhook_bytes:
        raise PayloadTooLarge(f"body is {len(body)} bytes; the limit is "
                              f"{settings.max_webhook_bytes}")
    event = parse_webhook(body)
    logger.set_correlation_id(event.event_id)
    logger.append_keys(event_id=event.event_id, resource=event.resource_name,
                       resource_id=event.resource_id, action=event.action)
    if event.is_from_application(settings.connector_application_id or None):
        count("WebhooksSkipped")
        logger.info("skipped: caused by this connector's own write")
        return {"status": "skipped", "reason": "caused by this connector", "id": event.event_id}
    if settings.procore_company_id and event.company_id != settings.procore_company_id:
        count("WebhooksSkipped")
        logger.warning("skipped: company not served here", company_id=event.company_id)
        return {"status": "skipped", "reason": "company not served by this connector",
                "id": event.event_id}
    if commitment_target(event) is None:
        count("WebhooksSkipped")
        return {"status": "skipped", "reason": f"resource {event.resource_name!r} not synced",
                "id": event.event_id}
    queue.send(to_message(event), deduplication_id=event.event_id, group_id=event.group_key)
    count("WebhooksReceived")
    logger.info("queued")
    return {"status": "queued", "id": event.event_id}
