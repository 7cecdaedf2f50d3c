"""Unlinking a Procore record from its Sage record, whole.

An unlink undoes every tie the connector made: Procore's origin_id / origin_code (so
Procore no longer shows the record as synced and a later export is not refused as
"has already been taken"), the link in both directions, and the item's synced state (so
a person may send it again; it then exports as a new Sage record). Nothing changes in
Sage: Procore's connector never deletes there either.

Order: Procore first. If Procore is away, nothing has changed here and the person tries
again; if our writes fail after Procore took the change, trying again clears an origin
already clear (a no-op) and finishes the rest.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from chalicelib.adapters.store import ItemStore
from chalicelib.domain.models import Item, utc_now
from chalicelib.domain.permissions import Permission, User, require
from chalicelib.domain.state_machine import Action, Status, TransitionNotAllowed, next_status
from chalicelib.errors import Conflict, FatalUpstreamError, NotFound
from chalicelib.kinds import kind_module
from chalicelib.observability import count, logger
from chalicelib.services.items import ItemService
from chalicelib.services.origins import ORIGIN_WRITERS, entity_errors

if TYPE_CHECKING:
    from chalicelib.adapters.procore import ProcoreClient


class UnlinkService:
    def __init__(self, store: ItemStore, items: ItemService,
                 procore_for: Callable[[int], ProcoreClient],
                 clock: Callable[[], str] = utc_now) -> None:
        self.store = store
        self.items = items
        self.procore_for = procore_for
        self.clock = clock

    def unlink_item(self, user: User, item_id: str) -> Item:
        """POST /items/{id}/unlink: a synced item (409 naming any other status)."""
        item = self.items.load_for(user, item_id, Permission.UNLINK)
        try:
            next_status(item.status, Action.UNLINK)
        except TransitionNotAllowed as exc:
            raise Conflict(f"{exc} (item {item_id})", status=item.status.value) from exc
        self._unlink(user, item.kind, item.procore_id, item)
        return self.items.get(user.company_id, item_id)

    def unlink_record(self, user: User, kind: str, procore_id: int) -> dict[str, Any]:
        """DELETE /links/{kind}/{id}: a linked project, company or sub job (and its item)."""
        require(user, Permission.UNLINK, kind)
        item = self.store.get_item(user.company_id, kind, procore_id)
        if item is not None and item.status in (Status.ACCEPTED, Status.EXPORTING):
            raise Conflict(f"{kind} {procore_id} is {item.status.value}; unlink it once its "
                           "export has finished", status=item.status.value)
        link = self.store.get_link(user.company_id, kind, procore_id)
        if link is None and (item is None or item.status is not Status.SYNCED):
            raise NotFound(f"{kind} {procore_id} is not linked to Sage")
        answer = self._unlink(user, kind, procore_id, item)
        return {**answer, "history": self.store.link_history(user.company_id, kind, procore_id)}

    def _unlink(self, user: User, kind: str, procore_id: int,
                item: Item | None) -> dict[str, Any]:
        link = self.store.get_link(user.company_id, kind, procore_id)
        origin = self._clear_origin(user.company_id, kind, procore_id, item)
        if link is not None:
            self.store.delete_link(link)
        sage_key = link.sage_key if link else (item.erp_keys.get("origin_id") if item else None)
        self.store.add_link_event(user.company_id, kind, procore_id, {
            "action": "unlink", "sage_key": sage_key, "actor": user.subject,
            "at": self.clock(), "procore_origin": origin})
        if item is not None and item.status is Status.SYNCED:
            self._forget_sync(user, item, sage_key, origin)
        count("Unlinked")
        logger.info("unlinked", kind=kind, procore_id=procore_id, sage_key=sage_key,
                    procore_origin=origin)
        return {"unlinked": True, "kind": kind, "procore_id": procore_id,
                "sage_key": sage_key, "procore_origin": origin}

    def _clear_origin(self, company_id: int, kind: str, procore_id: int,
                      item: Item | None) -> str:
        """Clear origin_id/origin_code in Procore; says what happened. A refusal (the
        record is gone from Procore, say) does not stop the unlink; Procore being away
        does (RetriableUpstreamError: nothing has changed yet)."""
        module = kind_module(kind)
        if module is not None and item is not None:
            try:
                refused = module.clear_origins(self.procore_for(company_id), item)
            except FatalUpstreamError as exc:
                return f"not cleared: {exc.message}"
            return f"not cleared: {refused}" if refused else "cleared"
        writer = ORIGIN_WRITERS.get(kind)
        if writer is None:
            return "not applicable"  # sub jobs: their origin id names the Sage phase
        project_id = item.project_id if item is not None else None
        subtype = item.subtype if item is not None else None
        try:
            outcome = writer(self.procore_for(company_id), subtype, project_id, procore_id,
                             None, None)
        except FatalUpstreamError as exc:
            return f"not cleared: {exc.message}"
        refused = entity_errors(outcome)
        return f"not cleared: {refused}" if refused else "cleared"

    def _forget_sync(self, user: User, item: Item, sage_key: str | None,
                     origin: str) -> None:
        def forget(new: Item) -> None:
            new.synced_snapshot = None
            new.synced_hash = None
            new.drift = None
            new.reasons = []
            new.erp_keys = {}
            new.writeback_error = None

        note = (f"unlinked from Sage {sage_key}; Procore origin id {origin}. The Sage record "
                "is unchanged; sending the item again exports it as a new record")
        self.items.act(user, item, Action.UNLINK, reason=note, mutate=forget)

