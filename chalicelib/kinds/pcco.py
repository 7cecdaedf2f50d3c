"""The prime contract change order kind: item ``pcco-{Procore id}``.

An approved PCCO becomes prime change lines (pmcgln) of a Sage change order (prmchg).
Sage keeps prime and subcontract changes in one change order, so the PCCO meets the CCOs
of its Procore change event there: when a CCO made from one of the PCCO's change events
(``change_event_ccos``, read at intake) is synced, its change order is the command's
``join`` (the lowest such change order) and the agent adds the prime lines to it while
Sage still takes them (relay/sage/embedded/prime_changes.py); otherwise the PCCO gets a
change order of its own. A CCO exported after its PCCO joins the PCCO's change order
by the mirror rule (chalicelib/kinds/cco.py; docs/decisions.md, "PCCOs in Sage's change
orders"). The origin written back to the PCCO is its prime lines in that change order
(``pmcgln:{prmchg recnum}:{first}-{last}``, code the change order's chgnum).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from chalicelib.adapters import procore_pccos
from chalicelib.domain import pccos
from chalicelib.domain.budgets import money
from chalicelib.domain.cost_codes import DEFAULT_RULE
from chalicelib.domain.models import Item
from chalicelib.domain.observations import not_modifiable
from chalicelib.domain.sage_mapping import (
    MappingError,
    first_error,
    packed_command,
    sage_cost_code,
    sage_cost_type,
)
from chalicelib.domain.state_machine import Status
from chalicelib.kinds import ExportContext
from chalicelib.relay_protocol import (
    Command,
    CommandType,
    PrimeChangeLine,
    PrimeChangeOrderPayload,
)

if TYPE_CHECKING:
    from chalicelib.adapters.procore import ProcoreClient
    from chalicelib.adapters.store import ItemStore

def change_order_to_join(store: ItemStore | None, item: Item) -> int | None:
    """The lowest prmchg recnum among the synced CCOs of the PCCO's change events (the
    snapshot's ``change_event_ccos``, read from Procore at intake), or None."""
    if store is None:
        return None
    found = []
    for cco_id in item.snapshot.get("change_event_ccos") or []:
        cco = store.get_item(item.company_id, "cco", int(cco_id))
        recnum = str((cco.erp_keys.get("prmchg") if cco is not None else "") or "")
        if cco is not None and cco.status is Status.SYNCED and recnum.isdigit():
            found.append(int(recnum))
    return min(found, default=None)


class PrimeChangeOrderKind:
    name = "pcco"
    link_kind = "pcco"
    after_sync = staticmethod(not_modifiable("prime contract change order"))

    def build_command(self, item: Item, *, version: int, issued_at: str,
                      ctx: ExportContext) -> Command:
        snap = item.snapshot
        if ctx.project_link is None:
            raise MappingError(f"project {item.project_id} is no longer linked to a Sage job")
        rule = str(ctx.advanced.get("cost_code_rule") or DEFAULT_RULE)
        ref = pccos.reference(item.procore_id)
        try:
            payload = PrimeChangeOrderPayload(
                job=int(ctx.project_link.sage_key), reference=ref,
                description=f"{ref} {snap.get('title') or ''}".strip(),
                change_date=date.fromisoformat(issued_at[:10]),
                join=change_order_to_join(ctx.store, item),
                lines=[self._line(item.procore_id, line, rule, ctx)
                       for line in snap.get("lines") or []])
        except ValidationError as exc:
            raise first_error(exc) from exc
        return packed_command(item.command_id or "", item,
                              CommandType.ADD_PRIME_CHANGE_ORDER, version, payload, issued_at)

    @staticmethod
    def _line(pcco_id: int, line: Mapping[str, Any], rule: str,
              ctx: ExportContext) -> PrimeChangeLine:
        amount = money(line.get("amount"))
        if amount is None:
            raise MappingError(f"line '{line.get('description')}': amount is not a number")
        return PrimeChangeLine(
            description=pccos.line_description(pcco_id, line),
            cost_code=sage_cost_code(line.get("cost_code"), rule),
            cost_type=sage_cost_type(line.get("line_item_type"), ctx.cost_types),
            amount=amount)

    def sage_identity(self, item: Item, keys: Mapping[str, str]) -> tuple[str, str]:
        # The PCCO is the prime lines of that change order: a joined PCCO's origin id never
        # equals its CCO's ("prmchg:{recnum}") on another change order package.
        return (f"pmcgln:{keys['prmchg']}:{keys.get('lines') or ''}",
                str(keys.get("chgnum") or ""))

    def write_origins(self, procore: ProcoreClient, item: Item, keys: Mapping[str, str],
                      ctx: ExportContext) -> str | None:
        origin_id, origin_code = self.sage_identity(item, keys)
        procore_pccos.update_prime_change_order_origin(
            procore, int(item.project_id or 0), item.procore_id,
            {"origin_id": origin_id, "origin_code": origin_code})
        return None

    def clear_origins(self, procore: ProcoreClient, item: Item) -> str | None:
        procore_pccos.update_prime_change_order_origin(
            procore, int(item.project_id or 0), item.procore_id,
            {"origin_id": None, "origin_code": None})
        return None


KIND = PrimeChangeOrderKind()
