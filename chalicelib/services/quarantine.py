"""Webhook deliveries the receiver could not read: kept, listed, replayed after a fix.

Keeping one costs a single table write; the delivery is answered 202 either way, so
Procore never pauses the endpoint for it. Replaying parses the kept body with the code
deployed now and routes it exactly as the receiver would (intake's processed-event
marker makes a replay of something already handled a no-op).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from chalicelib.adapters.quarantine import QUARANTINED, REPLAYED, QuarantineStore
from chalicelib.adapters.queues import FifoQueue
from chalicelib.adapters.store import StaleItem
from chalicelib.domain.models import utc_now
from chalicelib.domain.permissions import Permission, User, require
from chalicelib.domain.webhooks import parse_webhook
from chalicelib.errors import BadRequest, Conflict, NotFound
from chalicelib.observability import count, logger
from chalicelib.settings import Settings


class QuarantineService:
    def __init__(self, store: QuarantineStore, settings: Settings, queue: FifoQueue,
                 clock: Callable[[], str] = utc_now) -> None:
        self.store = store
        self.settings = settings
        self.queue = queue
        self.clock = clock

    @property
    def company_id(self) -> int:
        # An unreadable body names no company we can trust: the deployment's own.
        return self.settings.procore_company_id

    def keep(self, body: bytes, reason: str, *, field: object = None) -> dict[str, Any]:
        """Quarantine one delivery; the receiver's answer for it."""
        now = self.clock()
        digest = hashlib.sha256(body).hexdigest()
        limit = self.settings.quarantine_body_max_bytes
        too_large = len(body) > self.settings.max_webhook_bytes
        # Sortable by time and safe in a URL path (no '#', ':' or '.').
        stamp = now.replace("-", "").replace(":", "").replace(".", "")
        entry_id = f"{stamp}-{digest[:16]}"
        doc = {"status": QUARANTINED, "received_at": now, "reason": reason,
               "field": field, "size": len(body), "sha256": digest,
               "truncated": len(body) > limit, "replayable": not too_large and len(body) <= limit}
        self.store.put(self.company_id, entry_id, body[:limit], doc)
        count("WebhooksQuarantined")
        # The body itself is not logged: it is kept for an ERP admin to read.
        logger.error("webhook quarantined", quarantine_id=entry_id, reason=reason,
                     size=len(body), sha256=digest)
        return {"status": "quarantined", "id": entry_id, "reason": reason}

    def list(self, user: User, *, limit: int, cursor: str | None) -> dict[str, Any]:
        require(user, Permission.MANAGE_QUARANTINE)
        entries, next_cursor = self.store.list(self.company_id, limit=limit, cursor=cursor)
        return {"entries": entries, "next_cursor": next_cursor}

    def show(self, user: User, entry_id: str) -> dict[str, Any]:
        require(user, Permission.MANAGE_QUARANTINE)
        doc, body = self._get(entry_id)
        return {**doc, "body": body.decode("utf-8", errors="replace")}

    def replay(self, user: User, entry_id: str,
               route: Callable[[Settings, FifoQueue, Any], dict[str, Any]]) -> dict[str, Any]:
        """Parse the kept body again and route it; 409 when it still cannot be read."""
        require(user, Permission.MANAGE_QUARANTINE)
        doc, body = self._get(entry_id)
        if doc["status"] != QUARANTINED:
            raise Conflict(f"quarantined delivery {entry_id} is {doc['status']} already "
                           f"(by {doc.get('replayed_by')} at {doc.get('replayed_at')})",
                           status=doc["status"])
        if not doc.get("replayable", True):
            raise Conflict(f"quarantined delivery {entry_id} was kept cut short "
                           f"({doc['size']} bytes); it cannot be replayed. The "
                           "reconciliation poll reads the commitments it may concern.",
                           status=doc["status"])
        try:
            event = parse_webhook(body)
        except BadRequest as exc:
            self._record(entry_id, {**doc, "last_replay_error": exc.message,
                                    "last_replay_at": self.clock()})
            raise Conflict(f"quarantined delivery {entry_id} still cannot be read: "
                           f"{exc.message}", status=doc["status"]) from exc
        outcome = route(self.settings, self.queue, event)
        self._record(entry_id, {**doc, "status": REPLAYED, "replayed_by": user.subject,
                                "replayed_at": self.clock(), "outcome": outcome})
        count("WebhooksReplayed")
        logger.info("quarantined webhook replayed", quarantine_id=entry_id,
                    outcome=outcome.get("status"))
        return {"id": entry_id, "status": REPLAYED, "outcome": outcome}

    def _get(self, entry_id: str) -> tuple[dict[str, Any], bytes]:
        found = self.store.get(self.company_id, entry_id)
        if found is None:
            raise NotFound(f"no quarantined delivery {entry_id!r}")
        return found

    def _record(self, entry_id: str, doc: dict[str, Any]) -> None:
        doc = {k: v for k, v in doc.items() if k != "id"}
        try:
            self.store.update(self.company_id, entry_id, doc, expected_status=QUARANTINED)
        except StaleItem as exc:
            raise Conflict(f"quarantined delivery {entry_id} was replayed by someone else "
                           "meanwhile", status=REPLAYED) from exc

