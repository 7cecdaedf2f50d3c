"""The reconciliation poll's owner side: owner invoices and PCCOs whose webhook was lost.

Called by ``ReconcileService.poll`` for each project it scans (services.reconcile, whose
window, cursor and event ids this follows):

- owner invoices (Procore payment applications): the list has no ``filters[updated_at]``
  and its ``updated_at`` is a date, so the project's whole list is read each poll (one a
  month per prime contract: few) with ``GET /rest/v1.0/payment_applications?project_id=``;
  as a date cannot tell two changes of one day apart, a held invoice whose status or
  amount differs from the listed one is queued too;
- PCCOs: ``GET /rest/v1.0/projects/{p}/prime_change_orders`` with the poll's
  ``filters[updated_at]`` window.

A record is queued (a "Payment Applications" / "Change Order Packages" event, as Procore's
webhooks are routed by services.intake) when it is approved or its item is held, and the
item does not already hold it (``_holds_as_new``); a withdrawn or unlinked item is left
alone. A draft never held is not queued: it cannot be ready, its approval lists it again.
A project whose prime contract tools answer 403/404 is skipped with a warning.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from chalicelib.domain.observations import IGNORED_AFTER
from chalicelib.domain.webhooks import WebhookEvent, to_message
from chalicelib.errors import FatalUpstreamError
from chalicelib.observability import logger
from chalicelib.services.receiver import fifo_group

if TYPE_CHECKING:
    from chalicelib.domain.models import Item
    from chalicelib.services.reconcile import ReconcileReport, ReconcileService

PAYMENT_APPLICATIONS = "Payment Applications"
CHANGE_ORDER_PACKAGES = "Change Order Packages"
_PROJECT_GONE = (403, 404)


def queue_owner_side(service: ReconcileService, company_id: int, project_id: int,
                     lower: datetime, upper: datetime, report: ReconcileReport) -> int:
    """Queue the events the project's owner invoices and PCCOs call for; returns how many."""
    procore = service.procore_for(company_id)
    queued = 0
    for kind, resource, listing in (
            ("owner_invoice", PAYMENT_APPLICATIONS,
             lambda: procore.get_all("/rest/v1.0/payment_applications",
                                     {"project_id": project_id})),
            ("pcco", CHANGE_ORDER_PACKAGES,
             lambda: procore.list_updated(
                 f"/rest/v1.0/projects/{int(project_id)}/prime_change_orders", project_id,
                 lower, upper))):
        try:
            records = [r for r in listing() if isinstance(r, dict)]
        except FatalUpstreamError as exc:
            if exc.details.get("status") not in _PROJECT_GONE:
                raise  # fails the poll: the cursor stays, the next poll repeats the window
            logger.warning("reconcile: owner side not readable; skipped", kind=kind,
                           project_id=project_id, problem=exc.message)
            continue
        report.records_seen += len(records)
        for record in records:
            queued += _queue_if_new(service, company_id, project_id, kind, resource, record,
                                    upper)
    return queued


def _queue_if_new(service: ReconcileService, company_id: int, project_id: int, kind: str,
                  resource: str, record: dict[str, Any], upper: datetime) -> int:
    from chalicelib.services.reconcile import _format, _holds_as_new  # it imports this

    procore_id = int(record["id"])
    status = str(record.get("status") or "")
    updated_at = str(record.get("updated_at") or _format(upper))
    held = service.store.get_item(company_id, kind, procore_id)
    if held is None and status != "approved":
        return 0  # cannot be ready; its approval changes updated_at and lists it again
    stamp = updated_at
    if held is not None:
        if held.status in IGNORED_AFTER:
            return 0  # withdrawn or unlinked: intake ignores Procore for it
        if "T" not in updated_at:  # a date only: same day, other content is newer
            fingerprint = _fingerprint(record)
            stamp = f"{updated_at}:{status}:{fingerprint}"
            if _holds_as_new(held, updated_at) and _same(held, status, fingerprint):
                return 0
        elif _holds_as_new(held, updated_at):
            return 0
    event = WebhookEvent(
        event_id=f"reconcile:{kind}:{procore_id}:{stamp}", payload_version="v3.0",
        company_id=company_id, project_id=project_id, action="update",
        resource_name=resource, resource_id=procore_id, timestamp=updated_at)
    service.inbound_queue.send(to_message(event), deduplication_id=event.event_id,
                               group_id=fifo_group(event))
    logger.info("reconcile: event queued", event_id=event.event_id,
                held_updated_at=held.source_updated_at if held else None)
    return 1


def _fingerprint(record: dict[str, Any]) -> str:
    """An owner invoice's amount this period, normalised (the list shows it)."""
    raw = record.get("total_amount_accrued_this_period")
    try:
        return str(Decimal(str(raw)).quantize(Decimal("0.01"))) if raw is not None else ""
    except InvalidOperation:
        return str(raw)


def _same(held: Item, status: str, fingerprint: str) -> bool:
    snapshot = held.snapshot or {}
    amount = snapshot.get("amount")
    try:
        held_amount = str(Decimal(str(amount)).quantize(Decimal("0.01"))) if amount else ""
    except InvalidOperation:
        held_amount = str(amount)
    return snapshot.get("status") == status and held_amount == fingerprint
