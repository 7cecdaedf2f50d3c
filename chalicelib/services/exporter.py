"""Exporter: an accepted item becomes one command on the company's relay queue.

Timeline (each step can be retried without doubling anything):

    read item (accepted, version v)  ->  build + validate the Sage command
    send command (dedup id = command id, derived from item and v)
    write exporting (conditional on v)   <- a crash before this: SQS redelivers the export
                                            message, the same command id is sent again
                                            and deduplicated, then this write happens.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from chalicelib.adapters.queues import FifoQueue
from chalicelib.adapters.store import ItemStore
from chalicelib.domain import setup
from chalicelib.domain.models import SYSTEM_EXPORTER, Item, utc_now
from chalicelib.domain.sage_mapping import MappingError, build_command, command_id
from chalicelib.domain.state_machine import Action, Status
from chalicelib.observability import count, logger
from chalicelib.relay_protocol import Command, CommandType
from chalicelib.services.items import ItemService


class ExporterService:
    def __init__(self, store: ItemStore, items: ItemService, commands: FifoQueue,
                 cost_types: Mapping[str, int], clock: Callable[[], str] = utc_now) -> None:
        self.store = store
        self.items = items
        self.commands = commands
        self.cost_types = cost_types
        self.clock = clock

    def handle(self, message: Mapping[str, Any]) -> str:
        company_id, kind = int(message["company_id"]), str(message["kind"])
        procore_id, version = int(message["procore_id"]), int(message["version"])
        item = self.store.get_item(company_id, kind, procore_id)
        if item is None:
            logger.error("export message for an unknown item", message=dict(message))
            return "missing"
        expected = command_id(item, version)
        if item.status is not Status.ACCEPTED or item.version != version:
            # Already handed off (a redelivery), or superseded by a later transition.
            outcome = "duplicate" if item.command_id == expected else "stale"
            logger.info("export message not applicable", outcome=outcome,
                        status=item.status.value, item_version=item.version, version=version)
            return outcome
        try:
            command = self._build(item, version)
        except MappingError as exc:
            self._refuse(item, str(exc))
            return "refused"
        # Commands of one Sage job run in order; new vendors have no job.
        group = (f"{company_id}:job:{command.payload['job']}" if "job" in command.payload
                 else f"{company_id}:vendors")
        self.commands.send(command.model_dump(mode="json"), deduplication_id=command.command_id,
                           group_id=group)
        now = self.clock()

        def exporting(new: Item) -> None:
            new.command_id = command.command_id
            new.exporting_since = now
            new.last_error = None

        self.items.apply(item, Action.BEGIN_EXPORT, actor=SYSTEM_EXPORTER, reason=None,
                         correlation_id=item.item_id, mutate=exporting)
        count("CommandsSent")
        return "sent"

    def _build(self, item: Item, version: int) -> Command:
        issued_at = self.clock()
        if item.kind == "project":
            payload: Any = setup.build_job_payload(
                item.snapshot, int(item.accept_params.get("sage_job_number") or 0))
            command_type = CommandType.ADD_JOB
        elif item.kind == "vendor":
            advanced = self.store.get_company_settings(item.company_id).get("advanced", {})
            payload = setup.build_vendor_payload(
                item.snapshot, item.accept_params.get("sage_vendor_number"),
                name_max=int(advanced.get("vendor_name_max", 30)))
            command_type = CommandType.ADD_VENDOR
        else:
            return build_command(
                item, version=version, cost_types=self.cost_types_for(item.company_id),
                issued_at=issued_at,
                project_link=self.store.get_link(item.company_id, "project",
                                                 item.project_id or 0),
                vendor_link=self._vendor_link(item))
        return Command(command_id=command_id(item, version), company_id=item.company_id,
                       type=command_type, item_id=item.item_id, export_version=version,
                       payload=payload.model_dump(mode="json"), issued_at=issued_at)

    def cost_types_for(self, company_id: int) -> Mapping[str, int]:
        """The company's own mapping (advanced settings) over the deployment default."""
        advanced = self.store.get_company_settings(company_id).get("advanced", {})
        return {**self.cost_types, **(advanced.get("cost_type_map") or {})}

    def _vendor_link(self, item: Item) -> Any:
        vendor = item.snapshot.get("vendor") or {}
        if vendor.get("id") is None:
            return None
        return self.store.get_link(item.company_id, "vendor", int(vendor["id"]))

    def _refuse(self, item: Item, message: str) -> None:
        reason = f"Not sent to Sage: {message}"

        def failed(new: Item) -> None:
            new.last_error = {"code": "validation", "message": message, "retryable": False}

        self.items.apply(item, Action.EXPORT_FAILED, actor=SYSTEM_EXPORTER, reason=reason,
                         correlation_id=item.item_id, mutate=failed, status_reason=reason)
        count("ExportsRefused")
