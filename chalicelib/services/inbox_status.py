"""What the inbox page shows above the list: items per status, whether the relay agent is
heard from, and how many accepted items wait longer than they should (the sweeper's
rules, read without changing anything)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chalicelib.adapters.store import ItemStore
from chalicelib.domain.models import seconds_between, utc_now
from chalicelib.domain.permissions import Permission, User, can, require
from chalicelib.domain.state_machine import Status

SHOWN = (Status.READY_TO_EXPORT, Status.FAILED, Status.NOT_READY, Status.ACCEPTED,
         Status.EXPORTING, Status.SYNCED, Status.REJECTED, Status.RETRIEVED,
         Status.UNLINKED, Status.WITHDRAWN)


class InboxStatus:
    def __init__(self, store: ItemStore, *, agent_silent_seconds: int,
                 stuck_after_seconds: int, clock: Callable[[], str] = utc_now) -> None:
        self.store = store
        self.agent_silent_seconds = agent_silent_seconds
        self.stuck_after_seconds = stuck_after_seconds
        self.clock = clock

    def status(self, user: User) -> dict[str, Any]:
        require(user, Permission.READ_INBOX)
        company_id = user.company_id
        now = self.clock()
        counts = {status.value: self.store.count_items(company_id, status) for status in SHOWN}
        beat = self.store.latest_heartbeat(company_id)
        silent_for = None if beat is None else seconds_between(beat["at"], now)
        silent = silent_for is None or silent_for > self.agent_silent_seconds
        stuck = self._stuck(company_id, now)
        return {
            "counts": counts,
            "agent": {"last_seen": None if beat is None else beat["at"], "silent": silent,
                      "message": _agent_message(beat, silent)},
            "stuck": stuck,
            "stuck_message": (f"{stuck} accepted item(s) have waited more than "
                              f"{self.stuck_after_seconds // 60} minutes to reach Sage"
                              if stuck else None),
            "me": {"subject": user.subject,
                   "can_accept": can(user, Permission.ACCEPT_OR_REJECT)},
        }

    def _stuck(self, company_id: int, now: str) -> int:
        stuck = 0
        for status in (Status.ACCEPTED, Status.EXPORTING):
            cursor = None
            while True:
                items, cursor = self.store.list_items(company_id, status=status, limit=100,
                                                      cursor=cursor)
                for item in items:
                    since = item.exporting_since or (item.export.accepted_at
                                                     if item.export else item.updated_at)
                    if since and seconds_between(since, now) > self.stuck_after_seconds:
                        stuck += 1
                if cursor is None:
                    break
        return stuck


def _agent_message(beat: dict[str, Any] | None, silent: bool) -> str | None:
    if not silent:
        return None
    if beat is None:
        return ("The relay agent beside Sage has never been heard from: accepted items "
                "wait until it runs (docs/relay-agent.md).")
    return (f"The relay agent beside Sage has not been heard from since {beat['at']}: "
            "accepted items wait until it is back. Check the agent's service on the Sage "
            "server.")
