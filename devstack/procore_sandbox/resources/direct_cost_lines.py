"""Direct cost line items: ``/rest/v1.0/projects/{project_id}/direct_costs/...``.

Shapes: ``procore-spec/openapi/RestV10ProjectsProjectIdDirectCosts{DirectCostIdLineItemsGet,
DirectCostIdLineItemsPost,LineItemsSyncPatch}.json`` and the ``line_items`` of the v1.1
direct cost (``RestV11ProjectsProjectIdDirectCosts{Post,IdPatch,IdGet}.json``). Choices:
docs/decisions.md ("Sandbox direct costs ...").

* ``GET .../direct_costs/{direct_cost_id}/line_items`` (paged; ``filters[id|created_at|
  updated_at|cost_code_id|line_item_type_id]``); ``POST`` the same path ``{line_item:
  {...}}`` **201**; an unknown direct cost answers 404.
* ``PATCH .../direct_costs/line_items/sync`` ``{"updates": [...]}`` (at most
  ``SYNC_LIMIT``): the sync rules of ``common`` (always 200 ``{entities, errors}``; ``id``,
  else ``origin_id``, else created). Creating needs ``direct_cost_id`` (a direct cost of the
  project) and ``wbs_code_id`` or ``cost_code_id`` + ``line_item_type_id`` (``wbs_code_id``
  wins when both are sent); ``direct_cost_id`` can't change. ``origin_id`` is unique per
  company among direct cost lines.
* A line is one WBS code of the project (cost code + cost type; the cost code names its
  biller); unknown ones: ``{"cost_code"|"line_item_type"|"wbs_code": ["must exist"]}``.
  ``amount``: decimal text or a JSON number, at most 2 places (default 0, may be negative);
  ``extended_type`` ``manual`` (default) or ``calculated`` (amount = quantity x unit cost,
  rounded half up to cents; ``amount`` may not be sent with it). Answers: ``amount``,
  ``total_amount`` and ``extended_amount`` text with 2 places (no tax: all three equal),
  ``quantity``/``unit_cost`` plain text. ``tax_code_id`` only null (tax codes are not kept).
* Refusals answer ``REFUSAL`` (400: the only refusal status these operations document).
  Each line written fires ``Direct Cost Line Items`` (create/update; v3.0 related: its
  direct cost), and each direct cost whose lines changed one ``Direct Costs`` update.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, ClassVar

from devstack.procore_sandbox.resources.commitments import CURRENCY, CommitmentsMixin, _money
from devstack.procore_sandbox.resources.common import (
    MUST_EXIST,
    NOT_PERMITTED,
    ORIGIN_ID_DATA,
    REF,
    TEXT,
    FieldSpec,
    ResourceBase,
    _schema_changes,
    _sync_updates,
    _sync_values,
    _taken,
)
from devstack.procore_sandbox.resources.line_items import _plain
from devstack.procore_sandbox.resources.requisition_items import _amount
from devstack.procore_sandbox.state import (
    Actor,
    Route,
    SandboxError,
    _json_body,
    _now_iso,
    _Request,
    _Response,
)
from devstack.procore_sandbox.webhook_payloads import _Outgoing

DIRECT_COSTS_RESOURCE = "Direct Costs"
DIRECT_COST_LINE_ITEMS_RESOURCE = "Direct Cost Line Items"
EXTENDED_TYPES = ("manual", "calculated")
#: lines one v1.1 direct cost POST or PATCH may carry (its description)
LINE_ITEMS_LIMIT = 100
#: every direct cost operation documents 400 (Bad Request) for a refusal and no 422
REFUSAL = 400
_ZERO = Decimal(0)
_CENT = Decimal("0.01")
_CUSTOM = FieldSpec("custom")
_IDS = ("wbs_code_id", "cost_code_id", "line_item_type_id", "direct_cost_id")
#: ``line_item`` of POST .../line_items = one sync update (openapi/...LineItemsSyncPatch.json)
LINE_FIELDS: Mapping[str, FieldSpec] = {
    "amount": _CUSTOM, "wbs_code_id": _CUSTOM, "cost_code_id": _CUSTOM,
    "description": TEXT, "direct_cost_id": _CUSTOM,
    "extended_type": FieldSpec("enum", EXTENDED_TYPES), "quantity": _CUSTOM,
    "line_item_type_id": _CUSTOM, "origin_data": TEXT, "origin_id": TEXT,
    "unit_cost": _CUSTOM, "uom": TEXT, "tax_code_id": REF,
}
#: one ``line_items[]`` item of the v1.1 POST (``id``: PATCH only)
V11_LINE_FIELDS = ("id", "manual_amount", "wbs_code_id", "description", "direct_cost_id",
                   "origin_data", "origin_id", "quantity", "ref", "unit_cost", "uom")
#: v1.0 line answers (list, POST, sync entities)
LINE_KEYS = (
    "id", "amount", "company", "cost_code", "created_at", "description", "extended_type",
    "holder", "line_item_type", "origin_data", "origin_id", "position", "project", "quantity",
    "tax_code_id", "total_amount", "extended_amount", "unit_cost", "uom", "updated_at",
    "change_event_line_item", "wbs_code", "currency_configuration",
)
#: a v1.1 direct cost's ``line_items[]``
V11_LINE_KEYS = (
    "id", "amount", "company", "cost_code", "created_at", "currency_configuration",
    "description", "extended_type", "line_item_type", "origin_data", "origin_id", "position",
    "quantity", "tax_code_id", "total_amount", "extended_amount", "unit_cost", "uom",
    "updated_at", "wbs_code", "ref",
)
_BASE = r"/rest/v1\.0/projects/(?P<project>\d+)/direct_costs"
#: (line or None to create, changes, ``ref``): one v1.1 ``line_items[]`` item, checked
LinePlan = tuple[dict[str, Any] | None, dict[str, Any], Any]


def _ids_filter(req: _Request, name: str) -> set[int] | None:
    """``filters[name]`` (also ``filters[name][]``): integers, repeated or comma separated."""
    raw = req.query.get(f"filters[{name}][]", []) + req.query.get(f"filters[{name}]", [])
    parts = [part for value in raw for part in value.split(",") if part]
    if not parts:
        return None
    if not all(part.isdigit() for part in parts):
        raise SandboxError(400, f"filters[{name}] must be integers")
    return {int(part) for part in parts}


def _filtered(req: _Request, records: Mapping[int, dict[str, Any]],
              stamps: Iterable[str]) -> dict[int, dict[str, Any]]:
    """``filters[id]`` and the ISO 8601 range filters ``stamps`` (``a...b``, inclusive; a
    date field matches at its midnight UTC)."""
    kept = dict(records)
    ids = _ids_filter(req, "id")
    if ids is not None:
        kept = {i: r for i, r in kept.items() if i in ids}
    for stamp in stamps:
        raw = req.param(f"filters[{stamp}]")
        if raw in (None, ""):
            continue
        assert raw is not None
        try:
            low, high = CommitmentsMixin._updated_at_range(raw)
        except SandboxError as exc:  # its words, naming this filter
            raise SandboxError(400, str(exc.errors).replace("updated_at", stamp)) from None
        kept = {i: r for i, r in kept.items() if r.get(stamp) and low <= _when(r[stamp]) <= high}
    return kept


def _when(value: str) -> datetime:
    text = value if "T" in value else value + "T00:00:00Z"
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


class DirectCostLinesMixin(ResourceBase):
    """Direct cost line items: list, POST, the line item sync and the v1.1 nested lines."""

    ROUTES: ClassVar[tuple[Route, ...]] = (
        ("PATCH", _BASE + r"/line_items/sync", "_h_sync_direct_cost_lines", True),
        ("GET", _BASE + r"/(?P<dc>\d+)/line_items", "_h_list_direct_cost_lines", True),
        ("POST", _BASE + r"/(?P<dc>\d+)/line_items", "_h_create_direct_cost_line", True),
    )

    # --- lookups and answers -----------------------------------------------------------------
    def _all_dc_lines(self) -> dict[int, dict[str, Any]]:
        return {i: line for lines in self.state.direct_cost_lines.values()
                for i, line in lines.items()}

    def _dc_line_answer(self, line: Mapping[str, Any], *, embedded: bool = False,
                        ref: Any = None) -> dict[str, Any]:
        """v1.0 (``LINE_KEYS``) or, ``embedded`` in a v1.1 direct cost, ``V11_LINE_KEYS``."""
        pid = line["project_id"]
        code = self.state.cost_codes[pid][line["cost_code_id"]]
        cost_type = self.state.line_item_types.get(line["line_item_type_id"])
        amount = _money(line["amount"])
        values: dict[str, Any] = {
            **{key: line.get(key) for key in (
                "id", "created_at", "description", "extended_type", "origin_data",
                "origin_id", "position", "tax_code_id", "uom", "updated_at")},
            "amount": amount, "total_amount": amount, "extended_amount": amount,
            "company": {"id": self.company_id, "name": self.company_name},
            "cost_code": {key: code[key] for key in ("id", "name", "code", "full_code")},
            "holder": {"id": line["direct_cost_id"], "holder_type": "DirectCost"},
            "line_item_type": None if cost_type is None
            else self._line_item_type_answer(cost_type),  # CostCodesMixin
            "project": {"id": pid, "name": self.state.projects[pid]["name"]},
            "quantity": None if line["quantity"] is None else _plain(line["quantity"] + 0),
            "unit_cost": None if line["unit_cost"] is None else _plain(line["unit_cost"] + 0),
            "change_event_line_item": None,
            "wbs_code": self._wbs_code_answer(code, cost_type),
            "currency_configuration": dict(CURRENCY), "ref": ref,
        }
        return {key: copy.deepcopy(values[key])
                for key in (V11_LINE_KEYS if embedded else LINE_KEYS)}

    # --- validation --------------------------------------------------------------------------
    def _dc_line_changes(
        self, pid: int, fields: Mapping[str, Any], line: dict[str, Any] | None, *,
        handled: Iterable[str] = (), nested: bool = False,
    ) -> tuple[dict[str, Any], dict[str, list[str]]]:
        """Changes of a create (``line`` None) or update; nothing is written. ``nested``:
        a v1.1 direct cost's line, whose direct cost is the caller's (``direct_cost_id``
        neither needed nor read)."""
        changes: dict[str, Any] = {}
        errors: dict[str, list[str]] = {}
        _schema_changes(fields, LINE_FIELDS, changes, errors, handled=handled)
        ids: dict[str, int] = {}
        for name in _IDS:
            value = fields.get(name)
            if name not in fields or (nested and name == "direct_cost_id"):
                continue
            if value is None:
                errors[name] = ["can't be blank"]
            elif isinstance(value, bool) or not isinstance(value, int):
                errors[name] = ["is not a number"]
            else:
                ids[name] = value
        if line is None and not nested and "direct_cost_id" not in fields:
            errors["direct_cost_id"] = ["can't be blank"]
        if "direct_cost_id" in ids:
            parent = self.state.direct_costs.get(ids["direct_cost_id"])
            if line is not None:
                if ids["direct_cost_id"] != line["direct_cost_id"]:
                    errors["direct_cost_id"] = ["can't be changed"]
            elif parent is None or parent["project_id"] != pid:
                errors["direct_cost"] = [MUST_EXIST]
            else:
                changes["direct_cost_id"] = parent["id"]
        self._dc_line_code(pid, fields, ids, line, changes, errors)
        self._dc_line_amounts(fields, line, changes, errors)
        return changes, errors

    def _dc_line_code(self, pid: int, fields: Mapping[str, Any], ids: Mapping[str, int],
                      line: Mapping[str, Any] | None, changes: dict[str, Any],
                      errors: dict[str, list[str]]) -> None:
        """The WBS code: ``wbs_code_id`` if sent, else the cost code and cost type."""
        codes = self.state.cost_codes.get(pid, {})
        code_id = None if line is None else line["cost_code_id"]
        type_id = None if line is None else line["line_item_type_id"]
        if "wbs_code_id" in fields:
            pair = None if "wbs_code_id" not in ids else self._wbs_pair(pid, ids["wbs_code_id"])
            if "wbs_code_id" in errors:
                return
            if pair is None:
                errors["wbs_code"] = [MUST_EXIST]
                return
            if pair[1] is None:  # a WBS code without a cost type (a commitment line's)
                errors["line_item_type"] = [MUST_EXIST]
                return
            code_id, type_id = pair
        else:
            if "cost_code_id" in ids:
                code_id = ids["cost_code_id"]
                if code_id not in codes:
                    errors["cost_code"] = [MUST_EXIST]
            if "line_item_type_id" in ids:
                type_id = ids["line_item_type_id"]
                if type_id not in self.state.line_item_types:
                    errors["line_item_type"] = [MUST_EXIST]
            for name, value in (("cost_code_id", code_id), ("line_item_type_id", type_id)):
                if value is None and name not in errors:
                    errors[name] = ["can't be blank (or send wbs_code_id)"]
        if code_id in codes and type_id in self.state.line_item_types and not any(
                key in errors for key in ("cost_code", "line_item_type", *_IDS[:3])):
            assert code_id is not None and type_id is not None
            changes.update(cost_code_id=code_id, line_item_type_id=type_id,
                           wbs_code_id=self._wbs_code_id(codes[code_id], type_id))

    @staticmethod
    def _dc_line_amounts(fields: Mapping[str, Any], line: Mapping[str, Any] | None,
                         changes: dict[str, Any], errors: dict[str, list[str]]) -> None:
        """``amount`` (2 places), ``quantity``, ``unit_cost`` as Decimal; ``calculated``."""
        for name, places in (("amount", 2), ("quantity", None), ("unit_cost", None)):
            if name not in fields:
                continue
            if fields[name] is None and name == "amount":
                errors["amount"] = ["can't be blank"]
                continue
            value = _amount(fields[name], name, errors, places=places)
            if name not in errors:
                changes[name] = value
        current = line or {}
        if changes.get("extended_type", current.get("extended_type")) != "calculated":
            return
        if "amount" in fields:
            errors.setdefault("amount", ["can't be set when extended_type is calculated"])
        quantity = changes.get("quantity", current.get("quantity"))
        unit_cost = changes.get("unit_cost", current.get("unit_cost"))
        for name, value in (("quantity", quantity), ("unit_cost", unit_cost)):
            if value is None:
                errors.setdefault(name, ["can't be blank when extended_type is calculated"])
        if quantity is not None and unit_cost is not None:
            changes["amount"] = (quantity * unit_cost).quantize(_CENT, ROUND_HALF_UP)

    def _dc_nested_lines(self, pid: int, parent: dict[str, Any] | None, items: object,
                         errors: dict[str, list[str]]) -> list[LinePlan]:
        """A v1.1 ``line_items`` array (at most ``LINE_ITEMS_LIMIT``): an item with ``id``
        updates that line of ``parent``, one without creates; errors keyed
        ``line_items[i].field``."""
        if not isinstance(items, list):
            errors["line_items"] = ["must be an array"]
            return []
        if len(items) > LINE_ITEMS_LIMIT:
            raise SandboxError(REFUSAL, {"line_items": [
                f"is too long (maximum is {LINE_ITEMS_LIMIT} items, got {len(items)})"]})
        own = {} if parent is None else self.state.direct_cost_lines.get(parent["id"], {})
        pool, claimed = self._all_dc_lines(), set()
        plans: list[LinePlan] = []
        for index, item in enumerate(items):
            prefix, problems = f"line_items[{index}].", {}
            if not isinstance(item, dict):
                errors[prefix + "base"] = ["must be a JSON object"]
                continue
            line = None
            allowed = V11_LINE_FIELDS if parent is not None else V11_LINE_FIELDS[1:]
            fields: dict[str, Any] = {
                {"manual_amount": "amount"}.get(key, key): value
                for key, value in item.items() if key not in ("id", "ref", "direct_cost_id")}
            problems.update({key: [NOT_PERMITTED] for key in item if key not in allowed})
            if item.get("id") is not None and parent is not None:
                line = own.get(item["id"]) if isinstance(item["id"], int) else None
                if line is None:
                    problems["id"] = ["Entity with this ID not found"]
            elif item.get("wbs_code_id") is None:
                problems["wbs_code_id"] = ["can't be blank"]
            if item.get("direct_cost_id") not in (None, None if parent is None else parent["id"]):
                problems["direct_cost_id"] = ["must be the direct cost's own id"]
            if "manual_amount" in item:
                fields["extended_type"] = "manual"
            elif "quantity" in item and "unit_cost" in item:
                fields["extended_type"] = "calculated"
            if not problems:
                changes, more = self._dc_line_changes(pid, fields, line, nested=True)
                problems.update({"manual_amount" if k == "amount" else k: v
                                 for k, v in more.items()})
                origin = changes.get("origin_id")
                if origin is not None and (origin in claimed or _taken(
                        pool, "origin_id", origin, None if line is None else line["id"])):
                    problems["origin_id"] = ["has already been taken"]
                claimed.add(origin)
                plans.append((line, changes, item.get("ref")))
            errors.update({prefix + key: value for key, value in problems.items()})
        return plans

    # --- writes ------------------------------------------------------------------------------
    def _new_dc_line(self, parent: Mapping[str, Any], changes: Mapping[str, Any]
                     ) -> dict[str, Any]:
        lines = self.state.direct_cost_lines.setdefault(parent["id"], {})
        now = _now_iso()
        line: dict[str, Any] = {
            "id": self.state.next_id(), "direct_cost_id": parent["id"],
            "project_id": parent["project_id"], "cost_code_id": None, "line_item_type_id": None,
            "wbs_code_id": None, "amount": _ZERO, "description": None, "extended_type": "manual",
            "quantity": None, "unit_cost": None, "uom": None, "tax_code_id": None,
            "origin_id": None, "origin_data": None,
            "position": 1 + max((other["position"] for other in lines.values()), default=0),
            "created_at": now, "updated_at": now,
        }
        line.update(changes)
        lines[line["id"]] = line
        return line

    def _apply_dc_lines(self, parent: Mapping[str, Any], plans: list[LinePlan], actor: Actor,
                        out: list[_Outgoing]) -> dict[int, Any]:
        """Write checked v1.1 lines (events fired); their ``ref`` by line id."""
        refs: dict[int, Any] = {}
        for line, changes, ref in plans:
            if line is None:
                line = self._new_dc_line(parent, changes)
                self._dc_line_event("create", line, actor, out)
            else:
                line.update(changes, updated_at=_now_iso())
                self._dc_line_event("update", line, actor, out)
            refs[line["id"]] = ref
        return refs

    def _dc_line_event(self, action: str, line: Mapping[str, Any], actor: Actor,
                       out: list[_Outgoing]) -> None:
        related = [{"id": line["direct_cost_id"], "name": DIRECT_COSTS_RESOURCE}]
        self._event(action, DIRECT_COST_LINE_ITEMS_RESOURCE, line["id"], line["project_id"],
                    actor, out, related)

    def _touch_direct_costs(self, ids: Iterable[int], actor: Actor, out: list[_Outgoing]
                            ) -> None:
        """Direct costs whose lines changed: ``updated_at`` and one ``update`` each."""
        for dc_id in dict.fromkeys(ids):
            record = self.state.direct_costs[dc_id]
            record["updated_at"] = _now_iso()
            self._event("update", DIRECT_COSTS_RESOURCE, dc_id, record["project_id"], actor, out)

    # --- handlers ----------------------------------------------------------------------------
    def _h_list_direct_cost_lines(self, req: _Request, m: re.Match[str]) -> _Response:
        pid = int(self._project(m["project"])["id"])
        parent = self._direct_cost(pid, m["dc"])  # DirectCostsMixin
        records = _filtered(req, self.state.direct_cost_lines.get(parent["id"], {}),
                            ("created_at", "updated_at"))
        for name in ("cost_code_id", "line_item_type_id"):
            wanted = _ids_filter(req, name)
            if wanted is not None:
                records = {i: line for i, line in records.items() if line[name] in wanted}
        answer = self._page(req, records, origin_filter=False)
        answer.body = [self._dc_line_answer(line) for line in answer.body]
        return answer

    def _h_create_direct_cost_line(self, req: _Request, m: re.Match[str]) -> _Response:
        pid = int(self._project(m["project"])["id"])
        parent = self._direct_cost(pid, m["dc"])
        body = _json_body(req)
        errors = {key: [NOT_PERMITTED] for key in body if key != "line_item"}
        fields = body.get("line_item")
        if not isinstance(fields, dict):
            raise SandboxError(REFUSAL, {**errors, "line_item": ["can't be blank"]})
        if fields.get("direct_cost_id", parent["id"]) != parent["id"]:
            errors["direct_cost_id"] = ["must be the direct cost of the path"]
        changes, more = self._dc_line_changes(pid, {**fields, "direct_cost_id": parent["id"]},
                                              None)
        origin, invalid = _sync_values(fields, ORIGIN_ID_DATA, strict=True)
        for problems in (more, invalid):
            errors.update({k: v for k, v in problems.items() if k not in errors})
        if origin.get("origin_id") is not None and _taken(
                self._all_dc_lines(), "origin_id", origin["origin_id"], None):
            errors["origin_id"] = ["has already been taken"]
        if errors:
            raise SandboxError(REFUSAL, errors)
        line = self._new_dc_line(parent, {**changes, **origin})
        actor = self._actor(req)
        self._dc_line_event("create", line, actor, req.events)
        self._touch_direct_costs([parent["id"]], actor, req.events)
        return _Response(201, self._dc_line_answer(line))

    def _h_sync_direct_cost_lines(self, req: _Request, m: re.Match[str]) -> _Response:
        pid = int(self._project(m["project"])["id"])
        updates = _sync_updates(_json_body(req), status=REFUSAL)
        parents = {i for i, dc in self.state.direct_costs.items() if dc["project_id"] == pid}
        pool = self._all_dc_lines()
        scope = {i: line for i, line in pool.items() if line["direct_cost_id"] in parents}
        actor, created, touched = self._actor(req), set(), []

        def create(item: Mapping[str, Any]) -> dict[str, Any]:
            line = self._new_dc_line(self.state.direct_costs[item["direct_cost_id"]], {})
            created.add(line["id"])
            return line

        def on_change(line: dict[str, Any]) -> None:
            action = "create" if line["id"] in created else "update"
            self._dc_line_event(action, line, actor, req.events)
            touched.append(line["direct_cost_id"])

        answer = self._sync(
            updates, scope, pool, create=create, on_change=on_change,
            validate=lambda item, line: self._dc_line_changes(
                pid, item, line, handled=("id", *ORIGIN_ID_DATA)),
            origin_fields=ORIGIN_ID_DATA, view=self._dc_line_answer, strict=True)
        self._touch_direct_costs(touched, actor, req.events)
        return answer
