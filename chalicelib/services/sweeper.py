"""The sweeper: no accepted or exporting item waits unseen.

Runs on a schedule. For every item accepted or exporting:

- accepted, export message never sent (SQS was away at acceptance): sent now;
- accepted or exporting for longer than ``stuck_after_seconds`` (since acceptance, the
  exporting write or the last re-drive): re-driven with the same command id. The exporter
  sends the same command again; the agent's journal applies it at most once and replays
  its result, which the results consumer matches on the export record;
- re-drives are bounded (``max_redrives``); past that the item keeps counting as stuck.

Every run publishes ``StuckItems`` (the alarm in infra/ fires while it is above 0) and
``AgentSilent`` (1 while items export and the agent's newest heartbeat is older than
``agent_silent_seconds``), so a stalled export always reaches a person.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

from chalicelib.adapters.store import ItemStore, StaleItem
from chalicelib.domain.models import Item, seconds_between, utc_now
from chalicelib.domain.state_machine import Status
from chalicelib.observability import count, logger
from chalicelib.services.items import ItemService


@dataclass
class SweepReport:
    requeued: int = 0  # export messages that had never been sent
    stuck: int = 0  # accepted/exporting past the threshold (re-driven or given up on)
    redriven: int = 0
    given_up: int = 0  # stuck, but re-driven max_redrives times already
    agent_silent: bool = False

    def as_dict(self) -> dict[str, int | bool]:
        return asdict(self)


class SweeperService:
    def __init__(self, store: ItemStore, items: ItemService, *, stuck_after_seconds: int,
                 max_redrives: int, agent_silent_seconds: int,
                 clock: Callable[[], str] = utc_now) -> None:
        self.store = store
        self.items = items
        self.stuck_after_seconds = stuck_after_seconds
        self.max_redrives = max_redrives
        self.agent_silent_seconds = agent_silent_seconds
        self.clock = clock

    def sweep(self, company_id: int) -> SweepReport:
        report = SweepReport()
        now = self.clock()
        waiting = self._all(company_id, Status.ACCEPTED) + self._all(company_id,
                                                                     Status.EXPORTING)
        if any(item.status is Status.EXPORTING for item in waiting):
            beat = self.store.latest_heartbeat(company_id)
            report.agent_silent = beat is None or seconds_between(beat["at"], now) > \
                self.agent_silent_seconds
        for item in waiting:
            self._sweep_one(item, now, report)
        count("StuckItems", report.stuck)
        count("AgentSilent", int(report.agent_silent))
        if report.stuck or report.requeued:
            logger.warning("sweep found waiting exports", **report.as_dict())
        return report

    def _sweep_one(self, item: Item, now: str, report: SweepReport) -> None:
        export = item.export
        if export is None:  # every acceptance makes one; without it nothing can re-drive
            report.stuck += 1
            logger.error("accepted item has no export record", item_id=item.item_id,
                         status=item.status.value)
            return
        if item.status is Status.ACCEPTED and not item.export_enqueued:
            report.requeued += int(self.items.enqueue_export(item).export_enqueued)
            return
        started = item.exporting_since if item.status is Status.EXPORTING else \
            export.accepted_at
        since = max((t for t in (started, export.last_redrive_at) if t), default=None)
        waited = seconds_between(since, now) if since else 0.0
        # Exporting while the agent is silent is stuck as soon as the item says it waits.
        agent_away = (report.agent_silent and item.status is Status.EXPORTING
                      and waited >= self.agent_silent_seconds)
        if waited < self.stuck_after_seconds and not agent_away:
            return
        report.stuck += 1
        if waited < self.stuck_after_seconds:
            return  # counted (the alarm tells a person); re-driving waits for its time
        if export.redrives >= self.max_redrives:
            report.given_up += 1
            logger.error("export stuck; re-drives exhausted", item_id=item.item_id,
                         status=item.status.value, command_id=export.command_id,
                         redrives=export.redrives, since=since)
            return
        redrive = export.redrives + 1
        marked = item.model_copy(deep=True, update={"export": export.model_copy(
            update={"redrives": redrive, "last_redrive_at": now})})
        try:
            self.store.save_fields(marked)
        except StaleItem:
            return  # it moved meanwhile; the next sweep looks again
        self.items.enqueue_export(marked, redrive=redrive)
        report.redriven += 1
        logger.warning("export re-driven", item_id=item.item_id, status=item.status.value,
                       command_id=export.command_id, redrive=redrive, since=since)

    def _all(self, company_id: int, status: Status) -> list[Item]:
        found: list[Item] = []
        cursor: str | None = None
        while True:
            items, cursor = self.store.list_items(company_id, status=status, limit=100,
                                                  cursor=cursor)
            found += items
            if cursor is None:
                return found
