"""Reports of the ERP Integrations tool, as rows (JSON) or CSV.

The accountant report ("View an Accountant Report", ERP admin): every item waiting on
someone, oldest first, with whom it waits for: an accounting approver (ready to export),
Sage and the relay agent (accepted, exporting), or its sender (failed, rejected,
retrieved, not ready), and how long it has waited.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from chalicelib.adapters.store import ItemStore
from chalicelib.domain.models import utc_now
from chalicelib.domain.permissions import Permission, User, require
from chalicelib.domain.state_machine import Status

WAITING_FOR: dict[Status, str] = {
    Status.READY_TO_EXPORT: "accounting approver",
    Status.ACCEPTED: "Sage (relay agent)",
    Status.EXPORTING: "Sage (relay agent)",
    Status.FAILED: "sender (fix and resend)",
    Status.REJECTED: "sender (fix and resend)",
    Status.RETRIEVED: "sender (resend)",
    Status.NOT_READY: "sender (readiness reasons)",
}
ACCOUNTANT_COLUMNS = ("item_id", "kind", "project_id", "number", "title", "status",
                      "waiting_for", "approvers", "since", "days_waiting", "by", "reason")
PAGE = 200


class Reports:
    def __init__(self, store: ItemStore, clock: Callable[[], str] = utc_now) -> None:
        self.store = store
        self.clock = clock

    def accountant(self, user: User) -> list[dict[str, Any]]:
        require(user, Permission.VIEW_ACCOUNTANT_REPORT)
        approvers = ", ".join(sorted(u.name or u.subject for u in
                                     self.store.list_users(user.company_id)
                                     if u.can_push_to_accounting))
        now = _instant(self.clock())
        rows = []
        for status, waiting_for in WAITING_FOR.items():
            for item in self._items(user.company_id, status):
                since = item.updated_at or item.created_at
                rows.append({
                    "item_id": item.item_id, "kind": item.kind, "project_id": item.project_id,
                    "number": item.number, "title": item.title, "status": status.value,
                    "waiting_for": waiting_for,
                    "approvers": approvers if status is Status.READY_TO_EXPORT else "",
                    "since": since,
                    "days_waiting": max(0, (now - _instant(since)).days) if since else None,
                    "by": item.status_by or "",
                    "reason": item.status_reason or "; ".join(item.reasons)})
        return sorted(rows, key=lambda r: (r["since"] or "", r["item_id"]))

    def _items(self, company_id: int, status: Status) -> Iterable[Any]:
        cursor = None
        while True:
            items, cursor = self.store.list_items(company_id, status=status, limit=PAGE,
                                                  cursor=cursor)
            yield from items
            if cursor is None:
                return


def to_csv(rows: list[dict[str, Any]], columns: tuple[str, ...]) -> str:
    """A header row and one row per report line (RFC 4180 quoting)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(columns), extrasaction="ignore",
                            lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
