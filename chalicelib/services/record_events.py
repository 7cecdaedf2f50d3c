"""One webhook event for one Procore record an intake follows (CCOs, PCCOs, subcontractor
and owner invoices): a delete withdraws the item; otherwise the record is read again, and
Procore refusing to show it (no access, not ours) is recorded on the item with the tools
the connector's service account needs. Our own credentials failing is raised: every event
would fail alike, so the queue retries."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from chalicelib.adapters.procore import ProcoreAuthError
from chalicelib.domain.models import SYSTEM_INTAKE, Item
from chalicelib.errors import FatalUpstreamError
from chalicelib.observability import count

if TYPE_CHECKING:
    from chalicelib.services.items import ItemService


def handle_record_event(items: ItemService, *, company_id: int, kind: str, procore_id: int,
                        project_id: int, action: str, correlation_id: str,
                        evaluate: Callable[[], Item | None], noun: str, tools: str) -> str:
    """The event's outcome: "deleted", "refused", "changed" or "unchanged".

    ``noun`` names the record for people ("change order"), ``tools`` the Procore tools the
    service account needs to read it ("Commitments tool")."""
    if action == "delete":
        items.observe_deleted(company_id=company_id, kind=kind, procore_id=procore_id,
                              actor=SYSTEM_INTAKE, correlation_id=correlation_id)
        return "deleted"
    try:
        item = evaluate()
    except ProcoreAuthError:
        raise
    except FatalUpstreamError as exc:
        status = exc.details.get("status")
        reason = (f"Procore refused to show {noun} {procore_id}"
                  f"{f' (HTTP {status})' if status else ''}: {exc.message[:300]}. Give the "
                  f"connector's service account access to the {tools}, then send it again.")
        items.observe_refused(
            company_id=company_id, kind=kind, procore_id=procore_id, project_id=project_id,
            subtype=None, reason=reason, actor=SYSTEM_INTAKE, correlation_id=correlation_id)
        count("EventsRefused")
        return "refused"
    return "changed" if item is not None else "unchanged"
