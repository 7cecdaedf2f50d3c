"""Exporter: an accepted item's export record becomes one command on the relay queue.

Timeline (each step can be retried without doubling anything):

    accept: export record {version v, command id c} written with the acceptance
    read item; its export record must be the message's (v)  ->  build + validate command
    send command (dedup id = c)
    write exporting (conditional on the version read)  <- lost to an observation: read
        again and write again while the export record is still c; a crash before this:
        SQS (or the sweeper) redelivers, the same c is sent again and deduplicated (the
        agent's journal replays its result), then this write happens.

The item's version may move on meanwhile (a change observed in Procore waits as the
pending change): the export record, not the version, says what to send.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from chalicelib.adapters.queues import FifoQueue
from chalicelib.adapters.store import ItemStore, StaleItem
from chalicelib.domain import setup, tax_ids
from chalicelib.domain.cost_codes import DEFAULT_RULE
from chalicelib.domain.models import SYSTEM_EXPORTER, Item, utc_now
from chalicelib.domain.sage_mapping import (
    MappingError,
    build_command,
    build_modify_command,
    cost_type_map,
)
from chalicelib.domain.state_machine import Action, Status
from chalicelib.errors import ConfigurationError, ServiceUnavailable, UpstreamNotFound
from chalicelib.kinds import ExportContext, kind_module
from chalicelib.observability import count, logger
from chalicelib.relay_protocol import Command, CommandType, PayloadTooLarge
from chalicelib.services.items import ItemService
from chalicelib.settings import tax_id_key as deployment_tax_id_key

if TYPE_CHECKING:
    from chalicelib.adapters.procore import ProcoreClient

WRITE_ATTEMPTS = 3


class ExporterService:
    def __init__(self, store: ItemStore, items: ItemService, commands: FifoQueue,
                 cost_types: Mapping[str, int], clock: Callable[[], str] = utc_now, *,
                 procore_for: Callable[[int], ProcoreClient] | None = None,
                 tax_id_key: Callable[[], str] = deployment_tax_id_key) -> None:
        self.store = store
        self.items = items
        self.commands = commands
        self.cost_types = cost_types
        self.clock = clock
        # A new vendor's tax id is re-read from Procore when its command is built.
        self.procore_for = procore_for
        self.tax_id_key = tax_id_key

    def handle(self, message: Mapping[str, Any]) -> str:
        company_id, kind = int(message["company_id"]), str(message["kind"])
        procore_id, version = int(message["procore_id"]), int(message["version"])
        item = self.store.get_item(company_id, kind, procore_id)
        if item is None:
            logger.error("export message for an unknown item", message=dict(message))
            return "missing"
        export = item.export
        if export is None or export.version != version:
            # A message of an earlier acceptance; the current one has its own message.
            logger.info("export message of a superseded acceptance", status=item.status.value,
                        version=version, export_version=export.version if export else None)
            return "stale"
        if item.status is Status.EXPORTING and item.command_id == export.command_id:
            if not message.get("redrive"):
                logger.info("export already handed off", command_id=export.command_id)
                return "duplicate"
        elif item.status is not Status.ACCEPTED:
            logger.info("export already finished", status=item.status.value,
                        command_id=export.command_id)
            return "finished"
        try:
            command = self._build(item, version)
        except MappingError as exc:
            self._refuse(item, str(exc))
            return "refused"
        data = command.payload_data()
        # Commands of one Sage job run in order; new vendors have no job.
        group = (f"{company_id}:job:{data['job']}" if "job" in data
                 else f"{company_id}:vendors")
        self.commands.send(command.model_dump(mode="json"),
                           deduplication_id=command.command_id, group_id=group)
        count("CommandsSent")
        if item.status is Status.EXPORTING:
            logger.info("command sent again (re-drive)", command_id=command.command_id)
            return "resent"
        self._mark_exporting(item)
        return "sent"

    def _mark_exporting(self, item: Item) -> None:
        """accepted -> exporting, however many observations land meanwhile."""
        command_id = item.command_id
        now = self.clock()

        def exporting(new: Item) -> None:
            new.exporting_since = now
            new.last_error = None

        for _ in range(WRITE_ATTEMPTS):
            try:
                self.items.apply(item, Action.BEGIN_EXPORT, actor=SYSTEM_EXPORTER, reason=None,
                                 correlation_id=item.item_id, mutate=exporting)
                return
            except StaleItem:
                current = self.store.get_item(item.company_id, item.kind, item.procore_id)
                if (current is None or current.status is not Status.ACCEPTED
                        or current.command_id != command_id):
                    return  # the result overtook us, or the export is no longer this one
                item = current
        raise ServiceUnavailable(f"item {item.item_id} kept changing; exporting not recorded")

    def _build(self, item: Item, version: int) -> Command:
        issued_at = self.clock()
        export = item.export
        if export is not None and export.snapshot_hash != item.snapshot_hash:
            raise MappingError("the snapshot is not the one accepted; resend it for a new "
                               "acceptance")
        try:
            return self._command(item, version, issued_at)
        except PayloadTooLarge as exc:
            raise MappingError(str(exc)) from exc

    def _command(self, item: Item, version: int, issued_at: str) -> Command:
        module = kind_module(item.kind)
        if module is not None:
            return module.build_command(item, version=version, issued_at=issued_at,
                                        ctx=self.export_context(item))
        if export_operation(item) == "modify":
            return build_modify_command(
                item, version=version, command_id=item.command_id or "", issued_at=issued_at,
                project_link=self.store.get_link(item.company_id, "project",
                                                 item.project_id or 0))
        if item.kind == "project":
            payload: Any = setup.build_job_payload(
                item.snapshot, int(item.accept_params.get("sage_job_number") or 0))
            command_type = CommandType.ADD_JOB
        elif item.kind == "vendor":
            advanced = self.store.get_company_settings(item.company_id).get("advanced", {})
            payload = setup.build_vendor_payload(
                item.snapshot, item.accept_params.get("sage_vendor_number"),
                tax_id=self._vendor_tax_id(item),
                name_max=int(advanced.get("vendor_name_max", 30)))
            command_type = CommandType.ADD_VENDOR
        else:
            advanced = self.store.get_company_settings(item.company_id).get("advanced", {})
            return build_command(
                item, version=version, cost_types=self.cost_types_for(item.company_id),
                issued_at=issued_at, command_id=item.command_id or "",
                project_link=self.store.get_link(item.company_id, "project",
                                                 item.project_id or 0),
                vendor_link=self._vendor_link(item),
                cost_code_rule=str(advanced.get("cost_code_rule") or DEFAULT_RULE))
        return Command.packed(command_id=item.command_id or "", company_id=item.company_id,
                              type=command_type, item_id=item.item_id, export_version=version,
                              payload=payload.model_dump(mode="json"), issued_at=issued_at)

    def _vendor_tax_id(self, item: Item) -> str | None:
        """The company's clear tax id, read from Procore now (the snapshot keeps only its
        last four and fingerprint); MappingError when it is no longer the one accepted."""
        kept = {key: item.snapshot.get(key) for key in tax_ids.KEPT}
        legacy = item.snapshot.get("tax_id")  # a snapshot taken before tax ids were kept so
        if not tax_ids.present(kept) and not legacy:
            return None
        if self.procore_for is None:
            raise ConfigurationError("the exporter has no Procore client to read tax ids")
        try:
            company = self.procore_for(item.company_id).get_vendor(item.procore_id)
        except UpstreamNotFound as exc:
            raise MappingError(f"Procore has no company {item.procore_id} any more") from exc
        clear = setup.procore_tax_id(company)
        if (tax_ids.digits_of(clear) != tax_ids.digits_of(legacy) if legacy
                else tax_ids.protect(clear, self.tax_id_key()) != kept):
            now = tax_ids.mask_value(clear) if clear else "none"
            accepted = tax_ids.mask_value(legacy) if legacy else tax_ids.mask(kept[tax_ids.LAST4])
            raise MappingError(
                f"The company's tax id changed in Procore since it was accepted (accepted "
                f"{accepted}, now {now}); send the company again for a new acceptance.")
        return clear

    def export_context(self, item: Item) -> ExportContext:
        """What a kind module reads to build the item's command (or its origin ids)."""
        advanced = self.store.get_company_settings(item.company_id).get("advanced", {})
        return ExportContext(
            project_link=(self.store.get_link(item.company_id, "project", item.project_id)
                          if item.project_id else None),
            cost_types=self.cost_types_for(item.company_id), advanced=advanced,
            store=self.store)

    def preview(self, item: Item) -> Command:
        """The command the item's export would send now (nothing is sent or written)."""
        return self._command(item, item.version, self.clock())

    def cost_types_for(self, company_id: int) -> Mapping[str, int]:
        """The company's own mapping (advanced settings) over the deployment default."""
        advanced = self.store.get_company_settings(company_id).get("advanced", {})
        return cost_type_map(self.cost_types, advanced)

    def _vendor_link(self, item: Item) -> Any:
        vendor = item.snapshot.get("vendor") or {}
        if vendor.get("id") is None:
            return None
        return self.store.get_link(item.company_id, "vendor", int(vendor["id"]))

    def _refuse(self, item: Item, message: str) -> None:
        reason = f"Not sent to Sage: {message}"

        def failed(new: Item) -> None:
            new.last_error = {"code": "validation", "message": message, "retryable": False}

        for _ in range(WRITE_ATTEMPTS):
            try:
                self.items.finish_export(item, Action.EXPORT_FAILED, mutate=failed,
                                         reason=reason, actor=SYSTEM_EXPORTER,
                                         correlation_id=item.item_id)
                count("ExportsRefused")
                return
            except StaleItem:
                current = self.store.get_item(item.company_id, item.kind, item.procore_id)
                if (current is None or current.status is not Status.ACCEPTED
                        or current.command_id != item.command_id):
                    return
                item = current
        raise ServiceUnavailable(f"item {item.item_id} kept changing; refusal not recorded")


def export_operation(item: Item) -> str:
    return item.export.operation if item.export is not None else "add"
