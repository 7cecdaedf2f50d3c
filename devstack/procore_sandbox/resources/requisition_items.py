"""The items of a subcontractor invoice (requisition) and the figures computed from them.

* An invoice gets its items when it is created: one ``contract_item`` per line of the
  commitment's schedule of values (``line_item_id`` = that commitment line item's id) and
  one ``change_order_item`` per line of each approved CCO of the commitment
  (``line_item_id`` = the CCO line's id). Lines added later appear on the next invoice.
* ``GET /rest/v1.0/requisitions/{id}/contract_items?project_id=`` (paged) and
  ``.../change_order_items`` (same item shape: the reference names the endpoint without a
  schema) answer ``openapi/RestV10RequisitionsRequisitionIdContractItemsGet.json`` items;
  the v1.1 ``items`` of ``view=extended|items`` add the keys of its extended item.
* ``PATCH /rest/v1.0/requisitions/{id}/bulk_item_update?project_id=`` ``{requisition_items:
  [{id*, item_type*, work_completed_this_period, ...}]}`` answers **200, empty body**; all
  or nothing: any refusal answers **422** ``{"errors": {"requisition_items[i].field":
  [...]}}``. Money is decimal text with at most 2 places (a JSON number is taken too).
* Every amount answers as text with 2 places (the schemas type them ``string``). Previous
  application figures are the sums over the commitment's earlier invoices (lower
  ``number``). Materials stored are per invoice (not carried forward).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar

from devstack.procore_sandbox.resources.commitments import CURRENCY, _money
from devstack.procore_sandbox.resources.common import NOT_PERMITTED, SYNC_ID_NOT_FOUND, ResourceBase
from devstack.procore_sandbox.state import (
    Route,
    SandboxError,
    _json_body,
    _now_iso,
    _Request,
    _Response,
)

ITEM_TYPES = ("contract_item", "contract_detail_item", "change_order_item")
ITEM_STATUSES = ("approved", "rejected", "no_action")
#: money keys of a bulk update item (the schema types them ``string``)
ITEM_MONEY = ("work_completed_this_period", "materials_presently_stored",
              "work_completed_retainage_retained_this_period",
              "materials_stored_retainage_currently_retained",
              "work_completed_retainage_released_this_period", "subcontractor_claimed_amount")
ITEM_KEYS = ("id", "item_type", *ITEM_MONEY, "work_completed_this_period_quantity",
             "status", "comment")
#: openapi/RestV10RequisitionsRequisitionIdContractItemsGet.json items
CONTRACT_ITEM_KEYS = (
    "id", "item_type", "cost_code_id", "line_item_id", "description_of_work", "scheduled_value",
    "work_completed_from_previous_application", "work_completed_this_period",
    "materials_presently_stored", "total_completed_and_stored_to_date",
    "total_completed_and_stored_to_date_percent",
    "work_completed_retainage_from_previous_application",
    "work_completed_retainage_retained_this_period",
    "work_completed_retainage_percent_this_period",
    "materials_stored_retainage_currently_retained",
    "materials_stored_retainage_percent_this_period",
    "work_completed_retainage_released_this_period",
    "materials_stored_retainage_released_this_period", "scheduled_quantity",
    "scheduled_unit_price", "work_completed_this_period_quantity",
    "work_completed_from_previous_application_quantity", "comment", "status", "position",
    "ssr_manual_override", "subcontractor_claimed_amount", "wbs_code", "currency_configuration",
    "materials_moved", "materials_retainage_retained_moved",
)
#: the extended requisition's ``items`` (openapi/RestV11RequisitionsIdGet.json)
EXTENDED_ITEM_KEYS = (
    "id", "item_type", "accounting_method", "cost_code_id", "currency_configuration",
    "line_item_id", "description_of_work", "net_amount", "gross_amount", "wbs_code",
    "scheduled_value", "work_completed_from_previous_application", "work_completed_this_period",
    "materials_presently_stored", "materials_presently_stored_quantity",
    "materials_presently_stored_from_previous_progress", "materials_previously_stored_quantity",
    "materials_moved", "materials_retainage_retained_moved", "total_completed_and_stored_to_date",
    "total_completed_and_stored_to_date_percent",
    "total_completed_and_stored_to_date_from_previous",
    "work_completed_retainage_from_previous_application",
    "work_completed_retainage_retained_this_period",
    "work_completed_retainage_percent_this_period",
    "materials_stored_retainage_currently_retained",
    "materials_stored_retainage_percent_this_period", "materials_stored_retainage_new_materials",
    "work_completed_retainage_released_this_period",
    "materials_stored_retainage_released_this_period", "scheduled_quantity",
    "scheduled_unit_price", "work_completed_this_period_quantity",
    "work_completed_from_previous_application_quantity", "comment", "status", "position",
    "line_number", "ssr_manual_override", "subcontractor_claimed_amount", "previous_progress_id",
    "taxes", "uom",
)
LOCKED_REQUISITION_STATUSES = ("approved", "approved_as_noted")
_ZERO = Decimal(0)
_HUNDRED = Decimal(100)
_REQ = r"/rest/v1\.0/requisitions/(?P<id>\d+)"


def _percent(part: Decimal, whole: Decimal) -> str:
    return _money(part * _HUNDRED / whole) if whole else "0.00"


def _amount(value: object, name: str, errors: dict[str, list[str]], *, places: int | None = 2
            ) -> Decimal | None:
    """A money or quantity value: decimal text or a JSON number; ``None`` clears."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        errors[name] = ["is invalid"]
        return None
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        errors[name] = ["is not a number"]
        return None
    if not number.is_finite():
        errors[name] = ["is not a number"]
        return None
    exponent = number.normalize().as_tuple().exponent
    if places is not None and isinstance(exponent, int) and -exponent > places:
        errors[name] = [f"must have at most {places} decimal places"]
        return None
    return number


class RequisitionItemsMixin(ResourceBase):
    """Invoice items, the figures of an invoice, ``contract_items`` and ``bulk_item_update``."""

    ROUTES: ClassVar[tuple[Route, ...]] = (
        ("GET", _REQ + "/contract_items", "_h_list_contract_items", True),
        ("GET", _REQ + "/change_order_items", "_h_list_change_order_items", True),
        ("PATCH", _REQ + "/bulk_item_update", "_h_bulk_item_update", True),
    )

    # --- items -------------------------------------------------------------------------------
    def _approved_cco_lines(self, commitment_id: int) -> list[tuple[dict, dict]]:
        """(CCO, line) of every live approved CCO of the commitment, in id order."""
        rows = []
        for cco in sorted(self.state.change_orders.values(), key=lambda c: c["id"]):
            if (cco["contract_id"] == commitment_id and cco["status"] == "approved"
                    and not cco.get("deleted_at")):
                lines = self.state.change_order_lines.get(cco["id"], {})
                rows += [(cco, lines[i]) for i in sorted(lines)]
        return rows

    def _make_items(self, requisition: Mapping[str, Any]) -> None:
        """One item per SOV line and per approved CCO line, as the invoice is created."""
        items: dict[int, dict[str, Any]] = {}
        sources = [("contract_item", line["id"], None, Decimal(line["amount"] or 0))
                   for _, line in sorted(self.state.line_items.get(
                       requisition["commitment_id"], {}).items())]
        sources += [("change_order_item", line["id"], cco["id"], Decimal(line["amount"]))
                    for cco, line in self._approved_cco_lines(requisition["commitment_id"])]
        for position, (item_type, source, cco_id, scheduled) in enumerate(sources, 1):
            item_id = self.state.next_id()
            items[item_id] = {
                "id": item_id, "item_type": item_type, "source_id": source,
                "change_order_id": cco_id, "position": position, "scheduled": scheduled,
                "work_completed_this_period": _ZERO, "work_completed_this_period_quantity": None,
                "materials_presently_stored": _ZERO,
                "work_completed_retainage_retained_this_period": _ZERO,
                "work_completed_retainage_released_this_period": _ZERO,
                "materials_stored_retainage_currently_retained": _ZERO,
                "subcontractor_claimed_amount": None, "status": None, "comment": None,
            }
        self.state.requisition_items[requisition["id"]] = items

    def _source_line(self, requisition: Mapping[str, Any], item: Mapping[str, Any]
                     ) -> dict[str, Any] | None:
        if item["item_type"] == "contract_item":
            return self.state.line_items.get(requisition["commitment_id"], {}).get(
                item["source_id"])
        return self.state.change_order_lines.get(item["change_order_id"], {}).get(
            item["source_id"])

    def _earlier(self, requisition: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The commitment's invoices before this one, in number order."""
        return sorted((r for r in self.state.requisitions.values()
                       if r["commitment_id"] == requisition["commitment_id"]
                       and r["number"] < requisition["number"]), key=lambda r: r["number"])

    def _figures(self, requisition: Mapping[str, Any], item: Mapping[str, Any],
                 earlier: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        """Every figure of one item (Decimals; quantities may be None)."""
        line = self._source_line(requisition, item)
        scheduled = item["scheduled"]
        if line is not None and line.get("amount") is not None:
            scheduled = Decimal(line["amount"])
        prev_work = prev_ret = _ZERO
        prev_qty: Decimal | None = None
        for other in self._earlier(requisition) if earlier is None else earlier:
            for old in self.state.requisition_items.get(other["id"], {}).values():
                if (old["item_type"], old["source_id"]) == (item["item_type"], item["source_id"]):
                    prev_work += old["work_completed_this_period"]
                    prev_ret += (old["work_completed_retainage_retained_this_period"]
                                 - old["work_completed_retainage_released_this_period"])
                    if old["work_completed_this_period_quantity"] is not None:
                        prev_qty = (prev_qty or _ZERO) + old["work_completed_this_period_quantity"]
        this = item["work_completed_this_period"]
        stored = item["materials_presently_stored"]
        quantity = unit_price = None
        if line is not None and line.get("quantity") is not None and line.get("unit_cost"):
            quantity, unit_price = Decimal(line["quantity"]), Decimal(line["unit_cost"])
        return {
            "line": line, "scheduled": scheduled, "prev_work": prev_work, "prev_ret": prev_ret,
            "prev_qty": prev_qty, "this": this, "stored": stored,
            "total": prev_work + this + stored,
            "ret_this": item["work_completed_retainage_retained_this_period"],
            "rel_this": item["work_completed_retainage_released_this_period"],
            "mat_ret": item["materials_stored_retainage_currently_retained"],
            "quantity": quantity, "unit_price": unit_price,
        }

    def _item_answer(self, requisition: Mapping[str, Any], item: Mapping[str, Any], *,
                     extended: bool = False) -> dict[str, Any]:
        f = self._figures(requisition, item)
        line = f["line"] or {}
        pid = requisition["project_id"]
        code = self.state.cost_codes.get(pid, {}).get(line.get("cost_code_id"))
        cost_type = self.state.line_item_types.get(line.get("line_item_type_id"))
        wbs = None if code is None else self._wbs_code_answer(code, cost_type)
        gross = f["this"] + f["stored"]
        qty = item["work_completed_this_period_quantity"]
        answer: dict[str, Any] = {
            "id": item["id"], "item_type": item["item_type"],
            "cost_code_id": line.get("cost_code_id"), "line_item_id": item["source_id"],
            "description_of_work": line.get("description"),
            "scheduled_value": _money(f["scheduled"]),
            "work_completed_from_previous_application": _money(f["prev_work"]),
            "work_completed_this_period": _money(f["this"]),
            "materials_presently_stored": _money(f["stored"]),
            "total_completed_and_stored_to_date": _money(f["total"]),
            "total_completed_and_stored_to_date_percent": _percent(f["total"], f["scheduled"]),
            "work_completed_retainage_from_previous_application": _money(f["prev_ret"]),
            "work_completed_retainage_retained_this_period": _money(f["ret_this"]),
            "work_completed_retainage_percent_this_period": _percent(f["ret_this"], f["this"]),
            "materials_stored_retainage_currently_retained": _money(f["mat_ret"]),
            "materials_stored_retainage_percent_this_period": _percent(f["mat_ret"], f["stored"]),
            "work_completed_retainage_released_this_period": _money(f["rel_this"]),
            "materials_stored_retainage_released_this_period": "0.00",
            "scheduled_quantity": None if f["quantity"] is None else str(f["quantity"]),
            "scheduled_unit_price": None if f["unit_price"] is None else _money(f["unit_price"]),
            "work_completed_this_period_quantity": None if qty is None else str(qty),
            "work_completed_from_previous_application_quantity":
                None if f["prev_qty"] is None else str(f["prev_qty"]),
            "comment": item["comment"], "status": item["status"], "position": item["position"],
            "ssr_manual_override": False,
            "subcontractor_claimed_amount": None if item["subcontractor_claimed_amount"] is None
            else _money(item["subcontractor_claimed_amount"]),
            "wbs_code": wbs, "currency_configuration": dict(CURRENCY),
            "materials_moved": "0.00", "materials_retainage_retained_moved": "0.00",
        }
        if not extended:
            return answer
        answer.update(
            accounting_method="unit" if f["quantity"] is not None else "amount",
            currency_configuration={**CURRENCY, "currency_exchange_rate": 1.0,
                                    "base_currency_iso_code": "USD"},
            net_amount=_money(gross - f["ret_this"] + f["rel_this"] - f["mat_ret"]),
            gross_amount=_money(gross), materials_presently_stored_quantity=None,
            materials_presently_stored_from_previous_progress="0.00",
            materials_previously_stored_quantity=None,
            total_completed_and_stored_to_date_from_previous=_money(f["prev_work"]),
            materials_stored_retainage_new_materials=_money(f["mat_ret"]),
            line_number=str(item["position"]), previous_progress_id=None, taxes=[],
            uom=line.get("uom"),
        )
        if wbs is not None:
            answer["wbs_code"] = {**wbs, "segment_items": []}
        return {key: answer[key] for key in EXTENDED_ITEM_KEYS}

    def _items_of(self, requisition: Mapping[str, Any]) -> list[dict[str, Any]]:
        items = self.state.requisition_items.get(requisition["id"], {})
        return [items[i] for i in sorted(items, key=lambda i: items[i]["position"])]

    # --- the invoice's summary ---------------------------------------------------------------
    def _totals(self, requisition: Mapping[str, Any]) -> dict[str, Decimal]:
        earlier = self._earlier(requisition)
        seen_before = {(i["item_type"], i["source_id"]) for r in earlier
                       for i in self.state.requisition_items.get(r["id"], {}).values()}
        t = dict.fromkeys(("original", "co_pos_new", "co_pos_prev", "co_neg_new", "co_neg_prev",
                           "total", "work_to_date", "work_ret", "stored", "mat_ret", "claimed"),
                          _ZERO)
        for item in self._items_of(requisition):
            f = self._figures(requisition, item, earlier)
            if item["item_type"] == "contract_item":
                t["original"] += f["scheduled"]
            else:
                when = "prev" if (item["item_type"], item["source_id"]) in seen_before else "new"
                sign = "pos" if f["scheduled"] >= 0 else "neg"
                t[f"co_{sign}_{when}"] += f["scheduled"]
            t["total"] += f["total"]
            t["work_to_date"] += f["prev_work"] + f["this"]
            t["work_ret"] += f["prev_ret"] + f["ret_this"] - f["rel_this"]
            t["stored"] += f["stored"]
            t["mat_ret"] += f["mat_ret"]
            t["claimed"] += item["subcontractor_claimed_amount"] or _ZERO
        t["net_change"] = sum((t[k] for k in ("co_pos_new", "co_pos_prev", "co_neg_new",
                                              "co_neg_prev")), _ZERO)
        t["contract_sum"] = t["original"] + t["net_change"]
        t["retainage"] = t["work_ret"] + t["mat_ret"]
        t["earned"] = t["total"] - t["retainage"]
        t["previous"] = self._totals(earlier[-1])["earned"] if earlier else _ZERO
        return t

    def _summary(self, requisition: Mapping[str, Any], *, extended: bool) -> dict[str, Any]:
        t = self._totals(requisition)
        period = self.state.billing_periods.get(requisition.get("period_id") or 0)
        formatted = None
        if period is not None:
            start, end = (p.split("-") for p in (period["start_date"], period["end_date"]))
            formatted = f"{start[1]}/{start[2]}/{start[0]} - {end[1]}/{end[2]}/{end[0]}"
        summary = {
            "balance_to_finish_including_retainage": _money(t["contract_sum"] - t["earned"]),
            "completed_work_retainage_percent": _percent(t["work_ret"], t["work_to_date"]),
            "completed_work_retainage_amount": _money(t["work_ret"]),
            "contract_sum_to_date": _money(t["contract_sum"]),
            "current_payment_due": _money(t["earned"] - t["previous"]),
            "formatted_period": formatted,
            "less_previous_certificates_for_payment": _money(t["previous"]),
            "negative_change_order_item_total": _money(t["co_neg_new"] + t["co_neg_prev"]),
            "negative_new_change_order_item_total": _money(t["co_neg_new"]),
            "negative_previous_change_order_item_total": _money(t["co_neg_prev"]),
            "net_change_by_change_orders": _money(t["net_change"]),
            "original_contract_sum": _money(t["original"]),
            "positive_change_order_item_total": _money(t["co_pos_new"] + t["co_pos_prev"]),
            "positive_new_change_order_item_total": _money(t["co_pos_new"]),
            "positive_previous_change_order_item_total": _money(t["co_pos_prev"]),
            "stored_materials_retainage_amount": _money(t["mat_ret"]),
            "stored_materials_retainage_percent": _percent(t["mat_ret"], t["stored"]),
            "tax_applicable_to_this_payment": "0.00",
            "total_completed_and_stored_to_date": _money(t["total"]),
            "total_earned_less_retainage": _money(t["earned"]),
            "total_retainage": _money(t["retainage"]),
        }
        if extended:
            summary.update(new_materials=_money(t["stored"]), new_materials_quantity=None,
                           stored_materials=_money(t["stored"]), stored_materials_quantity=None)
        return summary

    # --- writes ------------------------------------------------------------------------------
    def _item_plan(self, requisition: dict[str, Any], entries: object, *, key: str,
                   match: str = "id") -> list[tuple[dict[str, Any], dict[str, Any]]]:
        """Checked changes of bulk update entries (``match``: ``id``, or ``line_item_id`` for
        the v1.1 create's ``items``); 422 ``{key[i].field: [...]}``, nothing written."""
        if not isinstance(entries, list):
            raise SandboxError(422, {key: ["must be an array"]})
        items = self.state.requisition_items.get(requisition["id"], {})
        by_source = {(i["item_type"], i["source_id"]): i for i in items.values()}
        errors: dict[str, list[str]] = {}
        plan: list[tuple[dict[str, Any], dict[str, Any]]] = []
        claimed: dict[int, int] = {}
        for index, entry in enumerate(entries):
            prefix = f"{key}[{index}]."
            problems: dict[str, list[str]] = {}
            if not isinstance(entry, dict):
                errors[prefix + "base"] = ["must be a JSON object"]
                continue
            allowed = ({*ITEM_KEYS, "line_item_id"} if match == "id"
                       else {*ITEM_KEYS, "line_item_id"} - {"id"})
            for name in entry:
                if name not in allowed:
                    problems[name] = [NOT_PERMITTED]
            item_type = entry.get("item_type")
            if item_type not in ITEM_TYPES:
                problems["item_type"] = ["is not included in the list" if item_type is not None
                                         else "can't be blank"]
            raw = entry.get(match)
            item = None
            if isinstance(raw, int) and not isinstance(raw, bool):
                item = (items.get(raw) if match == "id" else by_source.get((item_type, raw)))
            if item is None or item["item_type"] != item_type:
                problems.setdefault(match, [SYNC_ID_NOT_FOUND if raw is not None
                                            else "can't be blank"])
            elif match == "id" and entry.get("line_item_id", item["source_id"]) != item[
                    "source_id"]:
                problems["line_item_id"] = ["can't be changed"]
            elif item["id"] in claimed:
                problems[match] = [f"names the same item as {key}[{claimed[item['id']]}]"]
            changes: dict[str, Any] = {}
            for name in (*ITEM_MONEY, "work_completed_this_period_quantity"):
                if name in entry:
                    value = _amount(entry[name], name, problems,
                                    places=None if name.endswith("quantity") else 2)
                    if name not in problems:
                        changes[name] = (value if value is not None or name in (
                            "subcontractor_claimed_amount", "work_completed_this_period_quantity")
                            else _ZERO)
            if "status" in entry and entry["status"] not in (None, *ITEM_STATUSES):
                problems["status"] = ["is not included in the list"]
            elif "status" in entry:
                changes["status"] = entry["status"]
            if "comment" in entry:
                if entry["comment"] is not None and not isinstance(entry["comment"], str):
                    problems["comment"] = ["is invalid"]
                else:
                    changes["comment"] = entry["comment"] or None
            if item is not None and not problems:
                claimed[item["id"]] = index
                problems = self._item_rules(requisition, item, changes)
            errors.update({prefix + name: messages for name, messages in problems.items()})
            if item is not None:
                plan.append((item, changes))
        if errors:
            raise SandboxError(422, errors)
        return plan

    def _item_rules(self, requisition: Mapping[str, Any], item: dict[str, Any],
                    changes: dict[str, Any]) -> dict[str, list[str]]:
        """The amounts an item would have after ``changes``: within its scheduled value, the
        retainage within the work; a quantity only on a unit-based line (sets the amount)."""
        problems: dict[str, list[str]] = {}
        f = self._figures(requisition, {**item, **changes})
        qty = changes.get("work_completed_this_period_quantity")
        if qty is not None:
            if f["quantity"] is None:
                problems["work_completed_this_period_quantity"] = [
                    "is only accepted on unit quantity SOV lines"]
            else:
                amount = (qty * f["unit_price"]).quantize(Decimal("0.01"))
                sent = changes.get("work_completed_this_period")
                if sent is not None and "work_completed_this_period" in changes and sent != amount:
                    problems["work_completed_this_period"] = [
                        "must equal work_completed_this_period_quantity x scheduled_unit_price"]
                changes["work_completed_this_period"] = amount
                f = self._figures(requisition, {**item, **changes})
        low, high = sorted((_ZERO, f["scheduled"]))
        if not low <= f["total"] <= high:
            problems["work_completed_this_period"] = [
                f"total completed and stored to date ({_money(f['total'])}) must be between "
                f"{_money(low)} and the scheduled value ({_money(f['scheduled'])})"]
        for name, value in (("work_completed_retainage_retained_this_period", f["ret_this"]),
                            ("work_completed_retainage_released_this_period", f["rel_this"]),
                            ("materials_stored_retainage_currently_retained", f["mat_ret"])):
            if value < 0:
                problems[name] = ["must be greater than or equal to 0"]
        held = f["prev_ret"] + f["ret_this"] - f["rel_this"]
        if not problems and not 0 <= held <= abs(f["prev_work"] + f["this"]):
            problems["work_completed_retainage_retained_this_period"] = [
                "retainage held must be between 0 and the work completed to date"]
        if not problems and f["mat_ret"] > abs(f["stored"]):
            problems["materials_stored_retainage_currently_retained"] = [
                "can't exceed the materials presently stored"]
        return problems

    def _items_writable(self, requisition: Mapping[str, Any]) -> None:
        """Items of an approved, ERP-synced or earlier-than-latest invoice can't change."""
        if requisition.get("origin_id"):
            raise SandboxError(422, {"base": [
                "The invoice is synced with an ERP system (origin_id): its items are locked"]})
        if requisition["status"] in LOCKED_REQUISITION_STATUSES:
            raise SandboxError(422, {"base": ["Items of an approved invoice can't be changed"]})
        if any(r["commitment_id"] == requisition["commitment_id"]
               and r["number"] > requisition["number"]
               for r in self.state.requisitions.values()):
            raise SandboxError(422, {"base": ["Only the latest invoice's items can be changed"]})

    def _apply_items(self, requisition: dict[str, Any],
                     plan: list[tuple[dict[str, Any], dict[str, Any]]]) -> None:
        for item, changes in plan:
            item.update(changes)
        requisition["updated_at"] = _now_iso()

    # --- handlers ----------------------------------------------------------------------------
    def _list_items(self, req: _Request, m: re.Match[str], item_type: str) -> _Response:
        pid = self._project_param(req)
        requisition = self._requisition(pid, m["id"])  # RequisitionsMixin
        items = {n: i for n, i in enumerate(self._items_of(requisition))
                 if i["item_type"] == item_type}
        answer = self._page(req, items, origin_filter=False)
        answer.body = [self._item_answer(requisition, i) for i in answer.body]
        return answer

    def _h_list_contract_items(self, req: _Request, m: re.Match[str]) -> _Response:
        return self._list_items(req, m, "contract_item")

    def _h_list_change_order_items(self, req: _Request, m: re.Match[str]) -> _Response:
        return self._list_items(req, m, "change_order_item")

    def _h_bulk_item_update(self, req: _Request, m: re.Match[str]) -> _Response:
        pid = self._project_param(req)
        requisition = self._requisition(pid, m["id"])
        body = _json_body(req)
        extra = sorted(set(body) - {"requisition_items", "project_id"})
        if extra:
            raise SandboxError(422, {key: [NOT_PERMITTED] for key in extra})
        if "requisition_items" not in body:
            raise SandboxError(400, "param is missing or the value is empty: requisition_items")
        self._items_writable(requisition)
        plan = self._item_plan(requisition, body["requisition_items"], key="requisition_items")
        self._apply_items(requisition, plan)
        return _Response(200)
