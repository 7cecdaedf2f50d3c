"""What every resource family shares: list pages, the sync rules, validated writes.

``ResourceBase`` is the base of every family's mixin: ``_page`` answers a v1.0 list page,
``_sync`` applies a ``PATCH .../sync`` body (the rules are in the package docstring),
``_write_record`` validates and writes one POST or PATCH of a setup record. The functions
check and convert the fields of an update or a body.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlencode

from devstack.procore_sandbox.state import (
    Actor,
    SandboxError,
    SandboxState,
    Validator,
    _int_param,
    _now_iso,
    _Request,
    _Response,
)

DEFAULT_PER_PAGE = 100
MAX_PER_PAGE = 2000
SYNC_LIMIT = 1000  # Procore's documented maximum of updates per sync call
SYNC_FIELDS = ("origin_id", "origin_code", "origin_data")
#: origin fields of the setup resources without a visible ``origin_code``
ORIGIN_ID_DATA = ("origin_id", "origin_data")


def _text_changes(
    fields: Mapping[str, Any],
    names: tuple[str, ...],
    changes: dict[str, Any],
    errors: dict[str, list[str]],
) -> None:
    """Text fields as sent: ``None`` or blank clears, numbers become text, else invalid."""
    for name in names:
        if name not in fields:
            continue
        value = fields[name]
        if value is None or (isinstance(value, str) and not value.strip()):
            changes[name] = None
        elif isinstance(value, bool) or not isinstance(value, str | int | float):
            errors[name] = ["is invalid"]
        else:
            changes[name] = str(value)


def _bool_changes(
    fields: Mapping[str, Any],
    names: tuple[str, ...],
    changes: dict[str, Any],
    errors: dict[str, list[str]],
) -> None:
    for name in names:
        if name in fields:
            if isinstance(fields[name], bool):
                changes[name] = fields[name]
            else:
                errors[name] = ["must be true or false"]


def _require_text(
    changes: dict[str, Any],
    names: tuple[str, ...],
    creating: bool,
    errors: dict[str, list[str]],
) -> None:
    """Required text: must be sent when creating and may never be cleared; kept stripped."""
    for name in names:
        if name in errors:
            continue
        if name in changes:
            if changes[name] is None:
                errors[name] = ["can't be blank"]
            else:
                changes[name] = str(changes[name]).strip()
        elif creating:
            errors[name] = ["can't be blank"]


def _taken(
    records: Mapping[int, dict[str, Any]], key: str, value: object, own_id: int | None
) -> bool:
    """Another record (not ``own_id``) already holds ``value`` in ``key``."""
    return any(r.get(key) == value and r["id"] != own_id for r in records.values())


def _sync_updates(body: Mapping[str, Any]) -> list[Any]:
    """The ``updates`` list of a sync body; whole-request problems answer 422."""
    updates = body.get("updates")
    if updates is None:
        raise SandboxError(422, {"updates": ["can't be blank"]})
    if not isinstance(updates, list):
        raise SandboxError(422, {"updates": ["must be an array"]})
    if len(updates) > SYNC_LIMIT:
        raise SandboxError(
            422, {"updates": [f"is too long (maximum is {SYNC_LIMIT} items, got {len(updates)})"]}
        )
    return updates


def _sync_values(
    item: Mapping[str, Any], names: tuple[str, ...] = SYNC_FIELDS
) -> tuple[dict[str, str | None], dict[str, list[str]]]:
    """The origin fields an update sets (``None`` clears) and any per-field problems."""
    values: dict[str, str | None] = {}
    problems: dict[str, list[str]] = {}
    for name in names:
        if name not in item:
            continue
        value = item[name]
        if value is None or value == "":
            values[name] = None
        elif isinstance(value, bool) or not isinstance(value, str | int | float):
            problems[name] = ["is invalid"]
        else:
            values[name] = str(value)
    return values, problems


def _sync_id(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    try:
        return int(str(value))
    except ValueError:
        return None


class ResourceBase:
    """Shared by the resource mixins; the attributes come from ``ProcoreSandbox``."""

    state: SandboxState
    company_id: int
    company_name: str
    url: str

    def _page(self, req: _Request, records: Mapping[int, dict[str, Any]]) -> _Response:
        """A v1.0 list page: bare array plus ``Total``/``Per-Page``/``Link`` headers."""
        items = [records[key] for key in sorted(records)]
        origin_id = req.param("filters[origin_id]")
        if origin_id is not None:
            wanted = set(origin_id.split(","))
            items = [r for r in items if r.get("origin_id") in wanted]
        per_page = min(max(_int_param(req, "per_page", DEFAULT_PER_PAGE), 1), MAX_PER_PAGE)
        page = _int_param(req, "page", 1)
        if page < 1:
            raise SandboxError(400, "page must be at least 1")
        total = len(items)
        last_page = max(1, math.ceil(total / per_page))
        chunk = items[(page - 1) * per_page : page * per_page]
        headers = {"Total": str(total), "Per-Page": str(per_page)}
        links = []
        base = {k: v for k, v in req.query.items() if k not in ("page", "per_page")}

        def link(target: int, rel: str) -> str:
            query = urlencode({**base, "page": [target], "per_page": [per_page]}, doseq=True)
            return f'<{self.url}{req.path}?{query}>; rel="{rel}"'

        if page > 1:
            links += [link(1, "first"), link(min(page - 1, last_page), "prev")]
        if page < last_page:
            links += [link(page + 1, "next"), link(last_page, "last")]
        if links:
            headers["Link"] = ", ".join(links)
        return _Response(200, copy.deepcopy(chunk), headers)

    def _sync(
        self,
        updates: list[Any],
        scope: dict[int, dict[str, Any]],
        pool: Mapping[int, dict[str, Any]],
        *,
        create: Callable[[Mapping[str, Any]], dict[str, Any]] | None,
        on_change: Callable[[dict[str, Any]], None] | None,
        validate: Validator | None = None,
        origin_fields: tuple[str, ...] = SYNC_FIELDS,
    ) -> _Response:
        """Apply ``updates`` one by one; see the module docstring for the rules.

        ``scope``: records an update may match (one project's commitments); ``pool``: every
        record the ``origin_id`` must be unique among. ``create(update)`` registers a new
        record (the update's values are written next). ``validate`` checks and converts the
        resource's own fields (setup resources); without it only origin fields are written
        and creating needs a ``name``.
        """
        holders = {r["origin_id"]: r["id"] for r in pool.values() if r.get("origin_id")}
        entities: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        for item in updates:
            if not isinstance(item, dict):
                errors.append({"update": item, "errors": {"base": ["must be a JSON object"]}})
                continue
            values, problems = _sync_values(item, origin_fields)
            origin_id = values.get("origin_id")
            record: dict[str, Any] | None = None
            creating = False
            if item.get("id") is not None:
                sync_id = _sync_id(item["id"])
                record = None if sync_id is None else scope.get(sync_id)
                if record is None:
                    problems["id"] = ["not found"]
            elif origin_id is None:
                problems["id"] = ["can't be blank"]  # nothing to match on
            elif origin_id in holders:
                record = scope.get(holders[origin_id])
                if record is None:  # held by a record outside the scope (another project)
                    problems["origin_id"] = ["has already been taken"]
            elif create is None:
                problems["id"] = ["can't be blank"]
            else:
                creating = True
            holder = holders.get(origin_id) if origin_id is not None else None
            if record is not None and holder is not None and holder != record["id"]:
                problems["origin_id"] = ["has already been taken"]
            fields: dict[str, Any] = {}
            if record is not None or creating:
                if validate is not None:
                    fields, more = validate(item, record)
                    for name, messages in more.items():
                        problems.setdefault(name, messages)
                elif creating and not str(item.get("name") or "").strip():
                    problems["name"] = ["can't be blank"]
            if problems:
                errors.append({**item, "errors": problems})
                continue
            if record is None:
                assert create is not None
                record = create(item)  # fields and origin values applied below
                scope[record["id"]] = record
            wanted = {**fields, **values}
            changes = {k: v for k, v in wanted.items() if record.get(k) != v}
            if changes:
                if "origin_id" in changes:
                    if record.get("origin_id"):
                        holders.pop(record["origin_id"], None)
                    if changes["origin_id"] is not None:
                        holders[changes["origin_id"]] = record["id"]
                record.update(changes)
                record["updated_at"] = _now_iso()
                if on_change is not None:
                    on_change(record)
            entities.append(copy.deepcopy(record))
        return _Response(200, {"entities": entities, "errors": errors})

    def _write_record(
        self,
        fields: Mapping[str, Any],
        record: dict[str, Any] | None,
        *,
        validate: Validator,
        pool: Mapping[int, dict[str, Any]],
        create: Callable[[], dict[str, Any]],
        origin_fields: tuple[str, ...] = SYNC_FIELDS,
    ) -> dict[str, Any]:
        """POST (``record`` None) or PATCH one setup record: validate everything, then write.

        A 422 leaves the store untouched. ``origin_id`` must be unique within ``pool``.
        """
        changes, errors = validate(fields, record)
        origin, problems = _sync_values(fields, origin_fields)
        for name, messages in problems.items():
            errors.setdefault(name, messages)
        origin_id = origin.get("origin_id")
        own_id = None if record is None else record["id"]
        if origin_id is not None and _taken(pool, "origin_id", origin_id, own_id):
            errors.setdefault("origin_id", ["has already been taken"])
        if errors:
            raise SandboxError(422, errors)
        if record is None:
            record = create()
        record.update(changes)
        record.update(origin)
        record["updated_at"] = _now_iso()
        return record

    @staticmethod
    def _actor(req: _Request) -> Actor:
        assert req.actor is not None  # every /rest/ route authenticates
        return req.actor
