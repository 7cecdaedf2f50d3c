"""Results consumer: what the relay agent reports becomes synced or failed.

On success the Sage keys are stored on the item and as a link, and written back to
Procore as the commitment's origin_id / origin_code (Procore's sync endpoint, which
answers 200 with per-entity errors). The write-back happens before the transition: if
Procore is down the result is retried by SQS and nothing is half-recorded; a second
write-back of the same origin values changes nothing. The synced (or failed) transition
and the change that waited during the export are one write (ItemService.finish_export).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Literal

from chalicelib.adapters.store import ItemStore, StaleItem
from chalicelib.domain.models import SYSTEM_EXPORTER, Item, Link, parse_item_id, utc_now
from chalicelib.domain.state_machine import Action, Status
from chalicelib.errors import Conflict, FatalUpstreamError, ServiceUnavailable
from chalicelib.kinds import ExportContext, kind_module
from chalicelib.observability import count, logger
from chalicelib.relay_protocol import Heartbeat, Result
from chalicelib.services.erp_lists import ErpLists
from chalicelib.services.items import ItemService
from chalicelib.services.origins import ORIGIN_WRITERS, entity_errors

if TYPE_CHECKING:
    from chalicelib.adapters.procore import ProcoreClient
    from chalicelib.services.job_cost_sync import JobCostSync

RESULT_ATTEMPTS = 3


class ResultsService:
    def __init__(self, store: ItemStore, items: ItemService,
                 procore_for: Callable[[int], ProcoreClient], lists: ErpLists,
                 clock: Callable[[], str] = utc_now, *,
                 context_for: Callable[[Item], ExportContext] | None = None,
                 job_costs: Callable[[], JobCostSync] | None = None) -> None:
        self.context_for = context_for
        self.job_costs = job_costs
        # Answers of single reads, by the item id's prefix (e.g. "import:prime_contract:").
        self.reads: dict[str, Callable[[Result], str]] = {}
        self.store = store
        self.items = items
        self.procore_for = procore_for
        self.lists = lists
        self.clock = clock

    def handle(self, message: Result | Heartbeat) -> str:
        if isinstance(message, Heartbeat):
            self.store.put_heartbeat(message.company_id, message.agent_id,
                                     message.model_dump(mode="json"))
            return "heartbeat"
        if message.item_id.startswith("pull:"):
            return self.lists.handle_page(message)
        if message.item_id.startswith("jobcost:") and self.job_costs is not None:
            return self.job_costs().handle_page(message)
        read = next((h for p, h in self.reads.items() if message.item_id.startswith(p)), None)
        if read is not None:
            return read(message)
        return self._result(message)

    def _result(self, result: Result) -> str:
        """Apply a result to the export it belongs to: the item's export record carries
        the command id from acceptance, so a result that arrives before the exporter's
        "exporting" write, or after observations bumped the version, still applies."""
        kind, procore_id = parse_item_id(result.item_id)
        for _ in range(RESULT_ATTEMPTS):
            item = self.store.get_item(result.company_id, kind, procore_id)
            if item is None or item.command_id != result.command_id or \
                    item.status not in (Status.ACCEPTED, Status.EXPORTING):
                logger.info("result not applicable (already applied or superseded)",
                            command_id=result.command_id,
                            status=item.status.value if item else None)
                count("ResultsIgnored")
                return "ignored"
            try:
                return self._failed(item, result) if not result.ok else self._synced(item, result)
            except StaleItem:
                continue  # an observation landed between our read and write: read again
        raise ServiceUnavailable(f"item {result.item_id} kept changing; result will be retried")

    def _failed(self, item: Item, result: Result) -> str:
        error = result.error
        code = error.code if error else 0
        message = error.message if error else "the relay agent reported a failure"
        tries = f" (after {result.attempts} attempts)" if result.attempts > 1 else ""
        reason = f"Sage refused the export: {code} {message}{tries}"

        def failed(new: Item) -> None:
            new.last_error = {"code": code, "message": message,
                              "retryable": bool(error and error.retryable),
                              "attempts": result.attempts, "agent_id": result.agent_id}

        self.items.finish_export(item, Action.EXPORT_FAILED, mutate=failed, reason=reason,
                                 actor=SYSTEM_EXPORTER, correlation_id=item.item_id)
        count("ExportsFailed")
        return "failed"

    def _synced(self, item: Item, result: Result) -> str:
        keys = dict(result.sage_keys)
        link_kind, sage_key, origin_code = _sage_identity(item, keys)
        writeback_error = self._write_back(item, sage_key, origin_code, keys)
        try:
            self.store.put_link(Link(company_id=item.company_id, kind=link_kind,
                                     procore_id=item.procore_id, sage_key=sage_key,
                                     origin=_link_origin(item),
                                     created_at=self.clock(), created_by=SYSTEM_EXPORTER))
        except Conflict:
            pass  # linked by an earlier delivery of this result (or by the add, for a modify)

        def synced(new: Item) -> None:
            new.erp_keys = {**new.erp_keys, **keys, "origin_id": sage_key}
            new.last_error = None
            new.writeback_error = writeback_error

        self.items.finish_export(item, Action.EXPORT_SUCCEEDED, mutate=synced, reason=None,
                                 actor=SYSTEM_EXPORTER, correlation_id=item.item_id)
        logger.info("export synced", item_id=item.item_id, number=item.number,
                    sage_key=sage_key, sage_keys=keys)
        count("ExportsSynced")
        return "synced"

    def _write_back(self, item: Item, origin_id: str, origin_code: str,
                    keys: dict[str, str]) -> str | None:
        """Procore's per-entity refusal is kept on the item; being down raises (retry)."""
        module = kind_module(item.kind)
        try:
            if module is not None and self.context_for is not None:
                return module.write_origins(self.procore_for(item.company_id), item, keys,
                                            self.context_for(item))
            writer = ORIGIN_WRITERS[item.kind]
            outcome = writer(self.procore_for(item.company_id), item.subtype, item.project_id,
                             item.procore_id, origin_id, origin_code)
        except FatalUpstreamError as exc:
            logger.error("origin write-back refused", item_id=item.item_id, error=exc.message)
            return exc.message
        refused = entity_errors(outcome)
        if refused:
            logger.error("origin write-back refused", item_id=item.item_id, errors=refused)
            return f"Procore refused the origin id: {refused}"
        return None


def _link_origin(item: Item) -> Literal["procore"] | None:
    """Records a kind module exports were created in Procore (a budget then is managed
    there); the older kinds' links do not say."""
    return "procore" if kind_module(item.kind) is not None else None


def _sage_identity(item: Item, keys: dict[str, str]) -> tuple[str, str, str]:
    """(link kind, Sage key used as Procore's origin_id, visible origin_code)."""
    module = kind_module(item.kind)
    if module is not None:
        return module.link_kind, *module.sage_identity(item, keys)
    if item.kind == "project":
        return "project", keys["actrec"], keys["actrec"]
    if item.kind == "vendor":
        return "vendor", keys["actpay"], keys["actpay"]
    record = "subcon" if "subcon" in keys else "pchord"
    code = keys.get("ctcnum") or keys.get("ordnum") or item.number
    return "commitment", f"{record}:{keys.get(record, '')}", code
