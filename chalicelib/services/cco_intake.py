"""CCO intake: read a commitment change order from Procore and record item ``cco-{id}``.

A "Change Order Packages" webhook (Procore's resource for CCOs) or a change orders admin's
"send" comes here. The CCO and its v2.0 line items are read now; each line's cost code and
type come from the commitment line it changes (as the commitment's export sent it) or,
for a new line, from its WBS code. An approved CCO on a synced commitment becomes ready
without a send, as commitments do.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from chalicelib.adapters.procore import ProcoreClient
from chalicelib.adapters.store import ItemStore
from chalicelib.domain import ccos, cost_codes
from chalicelib.domain.models import SYSTEM_INTAKE, Item
from chalicelib.domain.observations import Observation
from chalicelib.domain.sage_mapping import cost_type_map
from chalicelib.errors import UpstreamNotFound
from chalicelib.services.items import ItemService
from chalicelib.services.record_events import handle_record_event

KIND = "cco"


class CcoIntake:
    def __init__(self, store: ItemStore, items: ItemService,
                 procore_for: Callable[[int], ProcoreClient], cost_types: Mapping[str, int],
                 direct_export: Callable[[Item | None], Item | None] = lambda item: item,
                 ) -> None:
        self.store = store
        self.items = items
        self.procore_for = procore_for
        self.cost_types = cost_types
        self.direct_export = direct_export

    def handle_event(self, company_id: int, project_id: int, cco_id: int, *, action: str,
                     correlation_id: str) -> str:
        return handle_record_event(
            self.items, company_id=company_id, kind=KIND, procore_id=cco_id,
            project_id=project_id, action=action, correlation_id=correlation_id,
            evaluate=lambda: self.evaluate(company_id, project_id, cco_id, actor=SYSTEM_INTAKE,
                                           correlation_id=correlation_id),
            noun="change order", tools="Commitments tool")

    def evaluate(self, company_id: int, project_id: int, cco_id: int, *, actor: str,
                 correlation_id: str | None = None) -> Item | None:
        try:
            obs, subtype = self.read(company_id, project_id, cco_id)
        except UpstreamNotFound:
            return self.items.observe_deleted(company_id=company_id, kind=KIND,
                                              procore_id=cco_id, actor=actor,
                                              correlation_id=correlation_id)
        return self.direct_export(self.items.observe(
            company_id=company_id, kind=KIND, procore_id=cco_id, project_id=project_id,
            subtype=subtype, snapshot=obs.snapshot, reasons=obs.reasons, actor=actor,
            correlation_id=correlation_id, source_updated_at=obs.source_updated_at,
            sent=actor != SYSTEM_INTAKE))

    def read(self, company_id: int, project_id: int,
             cco_id: int) -> tuple[Observation, str | None]:
        procore = self.procore_for(company_id)
        record = procore.get_commitment_change_order(project_id, cco_id)
        lines = procore.list_commitment_change_order_lines(project_id, cco_id)
        contract = record.get("contract_id")
        commitment = (self.store.get_item(company_id, "commitment", int(contract))
                      if contract is not None else None)
        needs_codes = any(line.get("commitment_line_item_id") is None for line in lines)
        codes = ({str(c.get("full_code")): c for c in procore.list_cost_codes(project_id)}
                 if needs_codes else {})
        types = ({str(t.get("code")): t for t in procore.list_line_item_types()}
                 if needs_codes else {})
        snapshot = ccos.build_snapshot({**record, "project_id": project_id}, lines,
                                       commitment=commitment, codes_by_full=codes,
                                       types_by_code=types)
        reasons = ccos.readiness_reasons(snapshot, self.context(company_id, project_id,
                                                                commitment))
        return (Observation(snapshot=snapshot, reasons=reasons,
                            source_updated_at=record.get("updated_at")),
                commitment.subtype if commitment is not None else None)

    def context(self, company_id: int, project_id: int,
                commitment: Item | None) -> ccos.ReadinessContext:
        advanced = self.store.get_company_settings(company_id).get("advanced", {})
        rows = self.store.list_erp_rows(company_id, "cost_codes")
        known = cost_codes.active_codes(rows)
        return ccos.ReadinessContext(
            commitment=commitment,
            project_link=self.store.get_link(company_id, "project", project_id),
            cost_code_rule=str(advanced.get("cost_code_rule") or cost_codes.DEFAULT_RULE),
            known_cost_codes=known,
            cost_types=cost_type_map(self.cost_types, advanced))

