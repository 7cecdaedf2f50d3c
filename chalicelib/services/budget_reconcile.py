"""Budgets whose webhooks were lost: read again once an hour.

Procore's budget detail rows carry no ``updated_at``, so the commitment poll's "updated
since" cannot find a changed budget. Instead, every budget item still in play (not
withdrawn or unlinked) gets one synthetic budget event per hour, queued in the project's
budget group so it runs in order with real deliveries; intake reads the budget whole and
the content hash makes an unchanged budget a no-op. The event id names the hour, so the
five-minute polls of one hour queue it once (intake's processed-event marker is checked
before sending).
"""

from __future__ import annotations

from collections.abc import Callable

from chalicelib.adapters.queues import FifoQueue
from chalicelib.adapters.store import ItemStore
from chalicelib.domain.models import utc_now
from chalicelib.domain.state_machine import Status
from chalicelib.domain.webhooks import WebhookEvent, to_message
from chalicelib.observability import count, logger
from chalicelib.services.receiver import fifo_group

RESOURCE = "Budget Line Items"
PAGE = 200


class BudgetReconcile:
    def __init__(self, store: ItemStore, inbound_queue: FifoQueue,
                 clock: Callable[[], str] = utc_now) -> None:
        self.store = store
        self.inbound_queue = inbound_queue
        self.clock = clock

    def queue_rereads(self, company_id: int) -> int:
        now = self.clock()
        hour = now[:13]  # 2026-11-30T14
        queued, cursor = 0, None
        while True:
            items, cursor = self.store.list_items(company_id, kind="budget", limit=PAGE,
                                                  cursor=cursor)
            for item in items:
                if item.status in (Status.WITHDRAWN, Status.UNLINKED):
                    continue
                event_id = f"reconcile:budget:{item.procore_id}:{hour}"
                if self.store.event_seen(company_id, event_id):
                    continue
                event = WebhookEvent(
                    event_id=event_id, payload_version="v3.0", company_id=company_id,
                    project_id=item.procore_id, action="update", resource_name=RESOURCE,
                    resource_id=item.procore_id, timestamp=now)
                self.inbound_queue.send(to_message(event), deduplication_id=event_id,
                                        group_id=fifo_group(event))
                queued += 1
            if cursor is None:
                break
        if queued:
            count("BudgetRereadsQueued", queued)
            logger.info("reconcile: budget re-reads queued", budgets=queued)
        return queued
