"""The commitment change order kind: item ``cco-{Procore id}``.

A subcontract's CCO becomes a Sage change order (prmchg + sbcgln, numbered by Sage per
job) that moves the subcontract's lines and totals; a purchase order's CCO is appended to
the original PO as new pcorln lines, as Procore's connector does. The origin written back
to the CCO is the Sage change order (``prmchg:{recnum}``, code its chgnum) or the PO lines
(``pcorln:{pchord}:{first}-{last}``).

Sage keeps prime and subcontract changes in one change order, so a subcontract CCO meets
the PCCO of its Procore change event there: when a synced PCCO shares one of the CCO's
change events (``change_events``, read at intake with the extended view) or lists the CCO
among its ``change_event_ccos``, and its change order is its own (not joined to another
CCO's), the lowest such change order is the command's ``join`` and the agent adds the
CCO's lines to it while Sage still takes them (relay/sage/embedded/cost_joins.py);
otherwise the CCO gets a change order of its own (docs/decisions.md, "PCCOs in Sage's
change orders").
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from chalicelib.domain import ccos
from chalicelib.domain.cost_codes import DEFAULT_RULE
from chalicelib.domain.models import Item
from chalicelib.domain.observations import SyncDiff, not_modifiable
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
    PurchaseOrderAddedLine,
    PurchaseOrderChangePayload,
    SubcontractChangeLine,
    SubcontractChangeOrderPayload,
)

if TYPE_CHECKING:
    from chalicelib.adapters.procore import ProcoreClient
    from chalicelib.adapters.store import ItemStore


def commitment_of(item: Item, ctx: ExportContext) -> Item:
    contract = item.snapshot.get("contract_id")
    commitment = (ctx.store.get_item(item.company_id, "commitment", int(contract))
                  if ctx.store is not None and contract is not None else None)
    if commitment is None or commitment.synced_snapshot is None:
        raise MappingError(f"commitment {contract} is not in Sage; export it first")
    return commitment


def _amount(line: Mapping[str, Any]) -> Decimal:
    value = ccos.money(line.get("amount"))
    if value is None:
        raise MappingError(f"line '{line.get('description')}': amount is not a number")
    return value


def change_order_to_join(store: ItemStore | None, item: Item) -> int | None:
    """The lowest prmchg recnum among the synced PCCOs of the CCO's project that share one
    of its Procore change events (or list it in ``change_event_ccos``) and wrote a change
    order of their own, or None. Only Procore's change event ids link them, never a guess."""
    if store is None or item.project_id is None:
        return None
    events = {int(e) for e in item.snapshot.get("change_events") or [] if str(e).isdigit()}
    found: list[int] = []
    cursor: str | None = None
    while True:
        pccos, cursor = store.list_items(item.company_id, status=Status.SYNCED, kind="pcco",
                                         project_id=item.project_id, limit=100, cursor=cursor)
        for pcco in pccos:
            snap = pcco.snapshot
            shared = events & {int(e) for e in snap.get("change_events") or []
                               if str(e).isdigit()}
            listed = item.procore_id in {int(c) for c in snap.get("change_event_ccos") or []}
            recnum = str(pcco.erp_keys.get("prmchg") or "")
            if (shared or listed) and recnum.isdigit() and \
                    pcco.erp_keys.get("joined") != "true":
                found.append(int(recnum))
        if cursor is None:
            return min(found, default=None)


def _after_sync(synced: dict[str, Any], new: dict[str, Any]) -> SyncDiff:
    """Any change after sync is recorded, but the change events (read since the join rule
    came, and only the join uses them) are not a change of what went to Sage."""
    return _not_modifiable({k: v for k, v in synced.items() if k != "change_events"},
                           {k: v for k, v in new.items() if k != "change_events"})


_not_modifiable = not_modifiable("change order")


class CommitmentChangeOrderKind:
    name = "cco"
    link_kind = "cco"
    after_sync = staticmethod(_after_sync)

    def build_command(self, item: Item, *, version: int, issued_at: str,
                      ctx: ExportContext) -> Command:
        snap = item.snapshot
        commitment = commitment_of(item, ctx)
        if ctx.project_link is None:
            raise MappingError(f"project {item.project_id} is no longer linked to a Sage job")
        job = int(ctx.project_link.sage_key)
        rule = str(ctx.advanced.get("cost_code_rule") or DEFAULT_RULE)
        ref = ccos.reference(item.procore_id)
        keys = commitment.erp_keys
        try:
            if commitment.subtype == "purchase_order":
                command_type = CommandType.APPEND_PURCHASE_ORDER_LINES
                payload: Any = PurchaseOrderChangePayload(
                    job=job, order=int(keys["pchord"]),
                    number=str(keys.get("ordnum") or commitment.number), reference=ref,
                    lines=[self._po_line(ln, ref, rule, ctx) for ln in snap["lines"]])
            else:
                command_type = CommandType.ADD_SUBCONTRACT_CHANGE_ORDER
                vendor = (commitment.synced_snapshot or {}).get("vendor") or {}
                vendor_link = ctx.store.get_link(item.company_id, "vendor",
                                                 int(vendor.get("id") or 0)) if ctx.store else None
                if vendor_link is None:
                    raise MappingError("the commitment's company is no longer linked to a "
                                       "Sage vendor")
                payload = SubcontractChangeOrderPayload(
                    job=job, subcontract=int(keys["subcon"]),
                    subcontract_number=str(keys.get("ctcnum") or commitment.number),
                    vendor=int(vendor_link.sage_key), reference=ref,
                    description=f"{ref} {snap.get('title') or ''}".strip(),
                    change_date=date.fromisoformat(issued_at[:10]),
                    join=change_order_to_join(ctx.store, item),
                    lines=[self._sub_line(ln, rule, ctx) for ln in snap["lines"]])
        except MappingError:
            raise
        except ValidationError as exc:
            raise first_error(exc) from exc
        except (KeyError, ValueError) as exc:
            raise MappingError(f"the commitment's Sage record is not known ({exc})") from exc
        return packed_command(item.command_id or "", item, command_type, version, payload,
                              issued_at)

    @staticmethod
    def _sub_line(line: Mapping[str, Any], rule: str,
                  ctx: ExportContext) -> SubcontractChangeLine:
        return SubcontractChangeLine(
            subcontract_line=line.get("sage_line"),
            description=str(line.get("description") or "")[:50],
            cost_code=sage_cost_code(line.get("cost_code"), rule),
            cost_type=sage_cost_type(line.get("line_item_type"), ctx.cost_types),
            amount=_amount(line))

    @staticmethod
    def _po_line(line: Mapping[str, Any], ref: str, rule: str,
                 ctx: ExportContext) -> PurchaseOrderAddedLine:
        amount = _amount(line)
        quantity = ccos.money(line.get("quantity"))
        if quantity is None or quantity == 0:
            quantity, price = Decimal("1"), amount
        else:
            price = (amount / quantity).quantize(Decimal("0.0001"))
            if (price * quantity).quantize(Decimal("0.01")) != amount:
                quantity, price = Decimal("1"), amount  # keep the amount exact
        return PurchaseOrderAddedLine(
            description=f"{ref} {line.get('description') or ''}".strip()[:50],
            quantity=quantity, unit_price=price, amount=amount,
            cost_code=sage_cost_code(line.get("cost_code"), rule),
            cost_type=sage_cost_type(line.get("line_item_type"), ctx.cost_types))

    def sage_identity(self, item: Item, keys: Mapping[str, str]) -> tuple[str, str]:
        if "prmchg" in keys:
            return f"prmchg:{keys['prmchg']}", str(keys.get("chgnum") or "")
        lines = keys.get("lines") or ""
        return f"pcorln:{keys.get('pchord')}:{lines}", f"PO lines {lines}"

    def write_origins(self, procore: ProcoreClient, item: Item, keys: Mapping[str, str],
                      ctx: ExportContext) -> str | None:
        origin_id, origin_code = self.sage_identity(item, keys)
        procore.update_commitment_change_order(int(item.project_id or 0), item.procore_id,
                                               {"origin_id": origin_id,
                                                "origin_code": origin_code})
        return None

    def clear_origins(self, procore: ProcoreClient, item: Item) -> str | None:
        procore.update_commitment_change_order(int(item.project_id or 0), item.procore_id,
                                               {"origin_id": None, "origin_code": None})
        return None


KIND = CommitmentChangeOrderKind()
