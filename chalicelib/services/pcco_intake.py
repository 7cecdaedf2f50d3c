"""PCCO intake: read a prime contract change order from Procore and record item
``pcco-{id}``.

Procore announces PCCOs with the resource it announces CCOs with, "Change Order Packages"
(its webhook resource names have no "Prime Change Orders"; a PCCO, like a CCO, is its
change order package, same id). ``owns`` tells the two apart: an id the connector holds
as a PCCO or CCO item is that; an id it has never seen is a PCCO when Procore shows it as
one. A change orders admin's "send" (``POST /items/send`` kind ``pcco``) comes to
``evaluate`` directly. An approved PCCO that passes the rules becomes ready without a
send, as CCOs do.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from chalicelib.adapters import procore_pccos
from chalicelib.adapters.procore import ProcoreAuthError, ProcoreClient
from chalicelib.adapters.store import ItemStore
from chalicelib.domain import cost_codes, pccos
from chalicelib.domain.models import SYSTEM_INTAKE, Item
from chalicelib.domain.observations import Observation
from chalicelib.domain.sage_mapping import cost_type_map
from chalicelib.errors import FatalUpstreamError, UpstreamNotFound
from chalicelib.observability import logger
from chalicelib.services.items import ItemService
from chalicelib.services.record_events import handle_record_event

KIND = "pcco"


class PccoIntake:
    def __init__(self, store: ItemStore, items: ItemService,
                 procore_for: Callable[[int], ProcoreClient], cost_types: Mapping[str, int],
                 direct_export: Callable[[Item | None], Item | None] = lambda item: item,
                 ) -> None:
        self.store = store
        self.items = items
        self.procore_for = procore_for
        self.cost_types = cost_types
        self.direct_export = direct_export

    def owns(self, company_id: int, project_id: int, package_id: int) -> bool:
        """Whether a "Change Order Packages" event names a PCCO (else it is a CCO's)."""
        if self.store.get_item(company_id, KIND, package_id) is not None:
            return True
        if self.store.get_item(company_id, "cco", package_id) is not None:
            return False
        try:
            procore_pccos.get_prime_change_order(self.procore_for(company_id), project_id,
                                                 package_id)
        except ProcoreAuthError:
            raise
        except FatalUpstreamError:  # 404 (a CCO, or gone) or no access: the CCO path says
            return False
        return True

    def handle_event(self, company_id: int, project_id: int, pcco_id: int, *, action: str,
                     correlation_id: str) -> str:
        return handle_record_event(
            self.items, company_id=company_id, kind=KIND, procore_id=pcco_id,
            project_id=project_id, action=action, correlation_id=correlation_id,
            evaluate=lambda: self.evaluate(company_id, project_id, pcco_id, actor=SYSTEM_INTAKE,
                                           correlation_id=correlation_id),
            noun="prime change order", tools="Prime Contract and Change Orders tools")

    def evaluate(self, company_id: int, project_id: int, pcco_id: int, *, actor: str,
                 correlation_id: str | None = None) -> Item | None:
        try:
            obs = self.read(company_id, project_id, pcco_id)
        except UpstreamNotFound:
            return self.items.observe_deleted(company_id=company_id, kind=KIND,
                                              procore_id=pcco_id, actor=actor,
                                              correlation_id=correlation_id)
        logger.info("pcco evaluated", pcco_id=pcco_id, reasons=len(obs.reasons))
        return self.direct_export(self.items.observe(
            company_id=company_id, kind=KIND, procore_id=pcco_id, project_id=project_id,
            subtype=None, snapshot=obs.snapshot, reasons=obs.reasons, actor=actor,
            correlation_id=correlation_id, source_updated_at=obs.source_updated_at,
            sent=actor != SYSTEM_INTAKE))

    def read(self, company_id: int, project_id: int, pcco_id: int) -> Observation:
        procore = self.procore_for(company_id)
        record = procore_pccos.get_prime_change_order(procore, project_id, pcco_id)
        lines = procore_pccos.list_prime_change_order_lines(procore, project_id, pcco_id)
        codes = ({str(c.get("full_code")): c for c in procore.list_cost_codes(project_id)}
                 if lines else {})
        types = ({str(t.get("code")): t for t in procore.list_line_item_types()}
                 if lines else {})
        snapshot = pccos.build_snapshot({**record, "project_id": project_id}, lines,
                                        codes_by_full=codes, types_by_code=types)
        events = set(snapshot["change_events"])  # the CCOs it may meet in Sage
        snapshot["change_event_ccos"] = (procore_pccos.commitment_change_orders_of_events(
            procore, project_id, events) if events else [])
        reasons = pccos.readiness_reasons(snapshot, self.context(
            company_id, project_id, record.get("contract_id")))
        return Observation(snapshot=snapshot, reasons=reasons,
                           source_updated_at=record.get("updated_at"))

    def context(self, company_id: int, project_id: int,
                contract_id: object) -> pccos.ReadinessContext:
        advanced = self.store.get_company_settings(company_id).get("advanced", {})
        rows = self.store.list_erp_rows(company_id, "cost_codes")
        contract = int(str(contract_id)) if str(contract_id or "").isdigit() else 0
        return pccos.ReadinessContext(
            project_link=self.store.get_link(company_id, "project", project_id),
            prime_contract_link=(self.store.get_link(company_id, "prime_contract", contract)
                                 if contract else None),
            cost_code_rule=str(advanced.get("cost_code_rule") or cost_codes.DEFAULT_RULE),
            known_cost_codes=cost_codes.active_codes(rows),
            cost_types=cost_type_map(self.cost_types, advanced))
