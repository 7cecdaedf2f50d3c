"""The company's connector settings (admin): sync schedule, direct exports, advanced.

Each change keeps who and when in a short history inside the settings record.

Settings are versioned. Every change is a read, a change and a write conditional on the
version read, so two admins saving at once never silently revert each other: the second
write is refused (409) and names who changed the settings meanwhile. A client may also
send the version it showed the admin; a different stored version is refused the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chalicelib.adapters.store import ItemStore
from chalicelib.domain.models import utc_now
from chalicelib.domain.permissions import Permission, User, require
from chalicelib.services.erp_lists import DEFAULT_SCHEDULE_MINUTES, ErpLists
from chalicelib.services.job_cost_sync import (
    DEFAULT_SCHEDULE_MINUTES as JOB_COST_SCHEDULE_MINUTES,
)

HISTORY_KEEP = 50


class CompanySettingsService:
    def __init__(self, store: ItemStore, lists: ErpLists,
                 clock: Callable[[], str] = utc_now) -> None:
        self.store = store
        self.lists = lists
        self.clock = clock

    def get(self, user: User) -> dict[str, Any]:
        require(user, Permission.READ_INBOX)
        return {**self.get_for(user.company_id), "pulls": self.lists.states(user.company_id)}

    def set_schedule(self, user: User, minutes: dict[str, int],
                     version: int | None = None) -> dict[str, Any]:
        require(user, Permission.CONFIGURE_SYNC_SCHEDULE)
        return self._update(user, "sync_schedule", minutes, version, merge=True)

    def set_direct_exports(self, user: User, enabled: bool,
                           version: int | None = None) -> dict[str, Any]:
        require(user, Permission.TOGGLE_DIRECT_EXPORTS)
        return self._update(user, "direct_exports", enabled, version)

    def set_advanced(self, user: User, values: dict[str, Any],
                     version: int | None = None) -> dict[str, Any]:
        require(user, Permission.CONFIGURE_ADVANCED_SETTINGS)
        return self._update(user, "advanced", values, version, merge=True)

    def _update(self, user: User, key: str, value: Any, version: int | None,
                merge: bool = False) -> dict[str, Any]:
        """``version``: what the admin edited (None: what is read here). Either way the
        write is conditional on it; the store raises Conflict (409) when it moved on."""
        saved = self.store.get_company_settings(user.company_id)
        new_value = {**saved.get(key, {}), **value} if merge else value
        now = self.clock()
        entry = {"at": now, "by": user.subject, "setting": key, "value": new_value}
        history = [*saved.get("history", []), entry][-HISTORY_KEEP:]
        self.store.put_company_settings(
            user.company_id, {**saved, key: new_value, "history": history},
            expected_version=saved["version"] if version is None else version,
            updated_by=user.subject, updated_at=now)
        return self.get_for(user.company_id)

    def get_for(self, company_id: int) -> dict[str, Any]:
        saved = self.store.get_company_settings(company_id)
        return {"direct_exports": bool(saved.get("direct_exports")),
                "sync_schedule": {**DEFAULT_SCHEDULE_MINUTES,
                                  "job_costs": JOB_COST_SCHEDULE_MINUTES,
                                  **saved.get("sync_schedule", {})},
                "advanced": saved.get("advanced", {}),
                "default_cost_types": saved.get("default_cost_types", {}),
                "history": saved.get("history", []),
                "version": saved["version"]}
