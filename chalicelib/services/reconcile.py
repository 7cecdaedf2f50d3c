"""The reconciliation poll: commitment changes whose webhook never arrived still reach intake.

Procore pauses deliveries to an endpoint after a failure and discards what it could not
deliver after 12 hours, so a webhook can be lost. On a schedule, this poll lists the
commitments (work order and purchase order contracts) Procore shows as updated since the
poll's cursor and queues, for each one the connector does not already hold at least that
new, a synthetic webhook event on the inbound FIFO queue: intake handles it exactly like a
delivery (reads the commitment now, records the item).

Which projects: those linked to a Sage job, plus those of the commitment items held and
not withdrawn. A commitment elsewhere cannot be ready (its project must be linked first),
and listing every project of the company would cost two Procore calls per project per
poll. That is two list calls per project polled (more only past 100 changed records).

The cursor, one per company (a timeline)::

    cursor (held)            poll starts = upper                      next poll starts
    ----|------------------------|----------------------------------------|------->
    |<-overlap->|<- read: filters[updated_at]=lower...upper ->|
                                 |<- saved while the poll runs: the next poll reads it

- the window is ``[cursor - overlap, upper]``; ``upper`` is the poll's start (to the
  second), so the cursor never passes what Procore could have shown this poll;
- the overlap (``reconcile_overlap_seconds``) covers Procore's clock and its one-second
  resolution; duplicates it brings are harmless: a record the item already holds at least
  as new is skipped, and an event's id is ``reconcile:{kind}:{id}:{updated_at}``, so the
  FIFO queue and intake's processed-event marker drop a repeat;
- the cursor moves to ``upper`` only after every event of the window is queued, by a write
  conditional on the value read: a failure mid-poll leaves it (the next poll repeats the
  window), and of two overlapping polls the one finishing last never moves it back;
- the first poll ever starts ``reconcile_lookback_minutes`` back; a cursor older than
  ``MAX_LOOKBACK`` is capped there (logged): the connector was down for longer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from chalicelib.adapters.store import ItemStore
from chalicelib.domain.models import Item, utc_now
from chalicelib.domain.observations import IGNORED_AFTER
from chalicelib.domain.webhooks import (
    PURCHASE_ORDER_CONTRACTS,
    WORK_ORDER_CONTRACTS,
    CommitmentKind,
    WebhookEvent,
    to_message,
)
from chalicelib.errors import FatalUpstreamError
from chalicelib.observability import count, logger
from chalicelib.services.receiver import fifo_group
from chalicelib.services.reconcile_owner import queue_owner_side

if TYPE_CHECKING:
    from chalicelib.adapters.procore import ProcoreClient
    from chalicelib.adapters.queues import FifoQueue

COMMITMENT = "commitment"
#: commitment kind -> the resource name its webhooks carry
RESOURCES: dict[CommitmentKind, str] = {
    "work_order_contract": WORK_ORDER_CONTRACTS,
    "purchase_order_contract": PURCHASE_ORDER_CONTRACTS,
}
MAX_LOOKBACK = timedelta(days=7)
#: Procore answers that mean "this project is gone or no longer visible to us": the
#: project is skipped (intake could not read its commitments either); anything else fails
#: the poll, which keeps the cursor.
_PROJECT_GONE = (403, 404)


@dataclass
class ReconcileReport:
    company_id: int
    cursor_before: str | None = None
    cursor_after: str | None = None  # what the table holds once the poll is done
    window_start: str = ""
    window_end: str = ""
    projects_scanned: int = 0
    projects_skipped: int = 0  # Procore answered 403/404 for the project
    records_seen: int = 0
    events_queued: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class ReconcileService:
    def __init__(self, store: ItemStore, inbound_queue: FifoQueue,
                 procore_for: Callable[[int], ProcoreClient],
                 clock: Callable[[], str] = utc_now, *, overlap_seconds: int = 120,
                 lookback_minutes: int = 60) -> None:
        self.store = store
        self.inbound_queue = inbound_queue
        self.procore_for = procore_for
        self.clock = clock
        self.overlap = timedelta(seconds=overlap_seconds)
        self.lookback = timedelta(minutes=lookback_minutes)

    def poll(self, company_id: int) -> ReconcileReport:
        """Queue an event for every commitment changed in the window and not yet held."""
        upper = _second(_parse(self.clock()))
        held = self.store.get_reconcile_cursor(company_id)
        lower = self._window_start(held, upper)
        report = ReconcileReport(company_id=company_id, cursor_before=held,
                                 window_start=_format(lower), window_end=_format(upper))
        projects = self._projects(company_id)
        procore = self.procore_for(company_id)
        for project_id in sorted(projects):
            for kind in RESOURCES:
                try:
                    records = procore.list_commitments_updated(kind, project_id, lower, upper)
                except FatalUpstreamError as exc:
                    if exc.details.get("status") not in _PROJECT_GONE:
                        raise
                    report.projects_skipped += 1
                    logger.warning("reconcile: project not readable in Procore; skipped",
                                   project_id=project_id, problem=exc.message)
                    break
                report.records_seen += len(records)
                for record in records:
                    report.events_queued += self._queue_if_new(company_id, kind, project_id,
                                                               record, upper)
            else:
                report.projects_scanned += 1
                report.events_queued += self._invoices(company_id, project_id, lower, upper,
                                                       report)
                # Owner invoices and PCCOs (services.reconcile_owner).
                report.events_queued += queue_owner_side(self, company_id, project_id, lower,
                                                         upper, report)
        report.cursor_after = self._advance(company_id, held, upper)
        count("ReconciledEvents", report.events_queued)
        logger.info("reconciliation poll done", **report.as_dict())
        return report

    # ---- the window and the cursor -------------------------------------------------------
    def _window_start(self, held: str | None, upper: datetime) -> datetime:
        since = _parse(held) if held else upper - self.lookback
        lower = since - self.overlap
        if lower < upper - MAX_LOOKBACK:
            logger.warning("reconcile: cursor older than the longest lookback; capped",
                           cursor=held, max_lookback_days=MAX_LOOKBACK.days)
            lower = upper - MAX_LOOKBACK
        return min(lower, upper)  # a cursor ahead of our clock reads an empty-ish window

    def _advance(self, company_id: int, held: str | None, upper: datetime) -> str | None:
        """Move the cursor to ``upper`` (never back); returns what the table holds."""
        if held is not None and _parse(held) >= upper:
            return held  # another poll (a clock ahead of ours) got further
        if self.store.put_reconcile_cursor(company_id, _format(upper), previous=held):
            return _format(upper)
        logger.info("reconcile: cursor moved by another poll meanwhile; left as it is",
                    company_id=company_id)
        return self.store.get_reconcile_cursor(company_id)

    def _projects(self, company_id: int) -> set[int]:
        linked = {link.procore_id for link in self.store.list_links(company_id, "project")}
        return linked | self.store.commitment_project_ids(company_id)

    def _invoices(self, company_id: int, project_id: int, lower: datetime, upper: datetime,
                  report: ReconcileReport) -> int:
        """Subcontractor invoices changed in the window: Procore fires no webhook for them,
        so this poll is how intake hears of them (a "Requisitions" event each)."""
        try:
            records = self.procore_for(company_id).list_updated(
                "/rest/v1.0/requisitions", project_id, lower, upper)
        except FatalUpstreamError as exc:  # no Invoicing access: commitments still poll
            logger.warning("reconcile: invoices not readable; skipped", project_id=project_id,
                           problem=exc.message)
            return 0
        report.records_seen += len(records)
        queued = 0
        for record in records:
            procore_id = int(record["id"])
            updated_at = str(record.get("updated_at") or _format(upper))
            held = self.store.get_item(company_id, "subcontractor_invoice", procore_id)
            if held is not None and (held.status in IGNORED_AFTER
                                     or _holds_as_new(held, updated_at)):
                continue
            event = WebhookEvent(
                event_id=f"reconcile:requisition:{procore_id}:{updated_at}",
                payload_version="v3.0", company_id=company_id, project_id=project_id,
                action="update", resource_name="Requisitions", resource_id=procore_id,
                timestamp=updated_at)
            self.inbound_queue.send(to_message(event), deduplication_id=event.event_id,
                                    group_id=fifo_group(event))
            queued += 1
        return queued

    # ---- one record ------------------------------------------------------------------------
    def _queue_if_new(self, company_id: int, kind: CommitmentKind, project_id: int,
                      record: dict[str, Any], upper: datetime) -> int:
        """Queue the event ``record`` calls for (1), or nothing when the item is as new (0)."""
        procore_id = int(record["id"])
        held = self.store.get_item(company_id, COMMITMENT, procore_id)
        updated_at = str(record.get("updated_at") or _format(upper))
        deleted_at = record.get("deleted_at")
        if held is not None and held.status in IGNORED_AFTER:
            return 0  # withdrawn or unlinked: intake ignores Procore for it
        if deleted_at:
            if held is None or held.deleted_in_procore:
                return 0  # never held, or its deletion is recorded already
            action, stamp = "delete", f"deleted:{deleted_at}"
        else:
            if held is not None and _holds_as_new(held, updated_at):
                return 0
            action, stamp = "update", updated_at
        event = WebhookEvent(
            event_id=f"reconcile:{kind}:{procore_id}:{stamp}", payload_version="v3.0",
            company_id=company_id, project_id=project_id, action=action,
            resource_name=RESOURCES[kind], resource_id=procore_id,
            timestamp=str(deleted_at or updated_at))
        self.inbound_queue.send(to_message(event), deduplication_id=event.event_id,
                                group_id=fifo_group(event))
        logger.info("reconcile: event queued", event_id=event.event_id, action=action,
                    held_updated_at=held.source_updated_at if held else None)
        return 1


def _holds_as_new(item: Item, updated_at: str) -> bool:
    """The item already holds content at least as new as ``updated_at`` (a change that
    waits during an export counts): intake would change nothing."""
    stamps = [s for s in (item.source_updated_at, item.pending_updated_at) if s]
    try:
        return any(_parse(s) >= _parse(updated_at) for s in stamps)
    except ValueError:
        return False  # unreadable: let intake read Procore and decide


def _parse(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _second(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(microsecond=0)


def _format(moment: datetime) -> str:
    return _second(moment).strftime("%Y-%m-%dT%H:%M:%SZ")
