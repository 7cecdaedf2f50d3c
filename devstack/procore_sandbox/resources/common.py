"""What every resource family shares: list pages, the sync rules, validated writes.

``ResourceBase`` is the base of every family's mixin: ``_page`` answers a v1.0 list page,
``_sync`` applies a ``PATCH .../sync`` body (its docstring has the rules),
``_write_record`` validates and writes one POST or PATCH of a setup record. The functions
check and convert the fields of an update or a body; ``FieldSpec`` and ``_schema_changes``
check a body against a field list copied from Procore's request schema (keys it does not
document are refused), ``_view`` shapes a stored record into a documented response.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
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
#: a sync update whose ``id`` matches nothing (procore-spec docs/conventions.json, ``sync``:
#: the example answer of Procore's "Using Sync Actions" guide)
SYNC_ID_NOT_FOUND = "Entity with this ID not found"
#: a key the endpoint's request schema does not document (the sandbox refuses it)
NOT_PERMITTED = "is not a permitted attribute"
#: what the sandbox cannot model (a reference to a record kind it does not keep)
MUST_EXIST = "must exist"


@dataclass(frozen=True)
class FieldSpec:
    """One documented request field: its kind and where the record keeps it.

    Kinds: ``text`` (a JSON string), ``bool``, ``int``, ``number`` (kept as a number),
    ``decimal`` (a number, kept and shown as text, as Procore shows money),
    ``numeric_text`` (money and quantities the request schema types ``string``: a JSON
    string holding a number, or the JSON number itself; kept as sent, the resource
    converts it), ``date``
    (``YYYY-MM-DD``), ``enum`` (one of ``choices``), ``ref`` (the id of a record kind the
    sandbox does not keep: only ``null`` is accepted), ``refs`` (a list of such ids: only
    ``[]``), ``ids`` (a list of integer ids the resource checks itself), ``object`` (a JSON
    object of ``nested`` fields), ``custom`` (documented, checked by the resource itself:
    ``_schema_changes`` passes over it). ``null`` clears the value, except for ``bool`` (only
    ``true``/``false``) and an ``enum`` whose ``choices`` lack ``None``; blank text clears
    too. ``stored``: the record keys written (``None`` = the field's own name; ``()`` =
    accepted, has no visible effect).
    """

    kind: str
    choices: tuple[Any, ...] = ()
    stored: tuple[str, ...] | None = None
    nested: Mapping[str, FieldSpec] | None = None


TEXT = FieldSpec("text")
BOOL = FieldSpec("bool")
INT = FieldSpec("int")
NUMBER = FieldSpec("number")
DECIMAL = FieldSpec("decimal")
DATE = FieldSpec("date")
REF = FieldSpec("ref")
REFS = FieldSpec("refs")
WRITE_ONLY_BOOL = FieldSpec("bool", stored=())
WRITE_ONLY_DATE = FieldSpec("date", stored=())
NUMERIC_TEXT = FieldSpec("numeric_text")


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


def _field_value(spec: FieldSpec, value: object, name: str) -> tuple[Any, dict[str, list[str]]]:
    """``value`` checked against ``spec``: ``(converted, {})`` or ``(None, {key: [why]})``."""
    kind = spec.kind
    if kind == "text":
        if value is None or (isinstance(value, str) and not value.strip()):
            return None, {}
        if isinstance(value, str):
            return value, {}
        return None, {name: ["is invalid"]}
    if kind == "bool":
        if isinstance(value, bool):
            return value, {}
        return None, {name: ["must be true or false"]}
    if value is None and kind != "enum":
        return None, {}
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "int":
        return (value, {}) if isinstance(value, int) and number else (
            None, {name: ["is not a number"]})
    if kind in ("number", "decimal"):
        if not number:
            return None, {name: ["is not a number"]}
        assert isinstance(value, int | float)
        return (str(float(value)) if kind == "decimal" else value), {}
    if kind == "numeric_text":
        if number:
            return value, {}
        if not isinstance(value, str):
            return None, {name: ["is invalid"]}
        try:
            float(value.strip() or "nan")
        except ValueError:
            return None, {name: ["is not a number"]}
        return (value if value.strip() else None), {}
    if kind == "date":
        try:
            if isinstance(value, str) and len(value) == 10:
                return date.fromisoformat(value).isoformat(), {}
        except ValueError:
            pass
        return None, {name: ["is not a valid date"]}
    if kind == "enum":
        if value in spec.choices:
            return value, {}
        return None, {name: ["is not included in the list"]}
    if kind == "ref":
        return None, {name.removesuffix("_id"): [MUST_EXIST]}
    if kind == "ids":
        if isinstance(value, list) and all(
            isinstance(i, int) and not isinstance(i, bool) for i in value
        ):
            return list(value), {}
        return None, {name: ["is invalid"]}
    if kind == "refs":
        if value == []:
            return [], {}
        if isinstance(value, list):
            return None, {name.removesuffix("_ids") + "s": [MUST_EXIST]}
        return None, {name: ["is invalid"]}
    if kind == "object":
        if not isinstance(value, dict):
            return None, {name: ["is invalid"]}
        nested: dict[str, Any] = {}
        problems: dict[str, list[str]] = {}
        for key, item in value.items():
            inner = (spec.nested or {}).get(key)
            if inner is None:
                problems[f"{name}.{key}"] = [NOT_PERMITTED]
                continue
            converted, more = _field_value(inner, item, f"{name}.{key}")
            problems.update(more)
            if not more:
                nested[key] = converted
        return (None, problems) if problems else (nested, {})
    raise ValueError(f"unknown field kind {kind!r}")


def _schema_changes(
    fields: Mapping[str, Any],
    schema: Mapping[str, FieldSpec],
    changes: dict[str, Any],
    errors: dict[str, list[str]],
    *,
    handled: Iterable[str] = (),
) -> None:
    """Check every key of ``fields`` against ``schema`` (a request schema's field list).

    A key neither in ``schema`` nor in ``handled`` (checked by the caller: ``id``, the
    origin fields) is refused with ``NOT_PERMITTED``: the sandbox never drops a value
    silently, so a client sending what Procore does not document finds out here.
    """
    skip = set(handled)
    for name, value in fields.items():
        if name in skip:
            continue
        spec = schema.get(name)
        if spec is None:
            errors[name] = [NOT_PERMITTED]
            continue
        if spec.kind == "custom":
            continue
        converted, problems = _field_value(spec, value, name)
        if problems:
            for key, messages in problems.items():
                errors.setdefault(key, messages)
            continue
        for key in (name,) if spec.stored is None else spec.stored:
            changes[key] = converted


def _check_body(
    fields: Mapping[str, Any],
    schema: Mapping[str, FieldSpec],
    *,
    handled: Iterable[str] = (),
    errors: dict[str, list[str]] | None = None,
) -> None:
    """Refuse a request body's object (422; the handler answers the endpoint's documented
    status) unless every key is in ``schema`` (or ``handled``) with a value of its kind.

    For resources whose writes convert values themselves (commitments, line items) or
    share their validator with a sync (cost codes, line item types): this gate runs first,
    so nothing is written when it refuses. ``errors``: problems the caller found already.
    """
    problems = dict(errors or {})
    _schema_changes(fields, schema, {}, problems, handled=handled)
    if problems:
        raise SandboxError(422, problems)


def _view(
    record: Mapping[str, Any], keys: Iterable[str], defaults: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The documented keys of a response, in order: the record's value, else the default
    (``None`` unless ``defaults`` says otherwise). Internal keys never leak out."""
    defaults = defaults or {}
    return {
        key: copy.deepcopy(record[key] if key in record else defaults.get(key)) for key in keys
    }


def _taken(
    records: Mapping[int, dict[str, Any]], key: str, value: object, own_id: int | None
) -> bool:
    """Another record (not ``own_id``) already holds ``value`` in ``key``."""
    return any(r.get(key) == value and r["id"] != own_id for r in records.values())


def _sync_updates(body: Mapping[str, Any], *, status: int = 422) -> list[Any]:
    """The ``updates`` list of a sync body; whole-request problems answer ``status``.

    Projects, vendors and sub jobs pass 400: their sync schemas document 400 (Bad Request)
    and no 422 (procore-spec openapi/RestV10{Projects,Vendors,SubJobs}SyncPatch.json).
    """
    updates = body.get("updates")
    if updates is None:
        raise SandboxError(status, {"updates": ["can't be blank"]})
    if not isinstance(updates, list):
        raise SandboxError(status, {"updates": ["must be an array"]})
    if len(updates) > SYNC_LIMIT:
        raise SandboxError(
            status,
            {"updates": [f"is too long (maximum is {SYNC_LIMIT} items, got {len(updates)})"]},
        )
    return updates


def _sync_values(
    item: Mapping[str, Any], names: tuple[str, ...] = SYNC_FIELDS, *, strict: bool = False
) -> tuple[dict[str, str | None], dict[str, list[str]]]:
    """The origin fields an update sets (``None`` clears) and any per-field problems.

    ``strict``: only JSON strings (the schemas' type); otherwise numbers become text.
    """
    values: dict[str, str | None] = {}
    problems: dict[str, list[str]] = {}
    for name in names:
        if name not in item:
            continue
        value = item[name]
        if value is None or value == "":
            values[name] = None
        elif isinstance(value, str):
            values[name] = value
        elif strict or isinstance(value, bool) or not isinstance(value, int | float):
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

    def _page(
        self,
        req: _Request,
        records: Mapping[int, dict[str, Any]],
        *,
        view: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
        origin_filter: bool = True,
        default_per_page: int = DEFAULT_PER_PAGE,
        max_per_page: int = MAX_PER_PAGE,
    ) -> _Response:
        """A v1.0 list page: bare array plus ``Total``/``Per-Page``/``Link`` headers.

        ``view`` shapes each record (default: the record as stored). ``origin_filter``:
        the list documents ``filters[origin_id]``; when it does not, the parameter is
        ignored, as an unknown query parameter is. ``default_per_page``/``max_per_page``:
        a v2.0 list's 10 and 100 (its caller wraps the page in ``{"data": ...}``).
        """
        items = [records[key] for key in sorted(records)]
        origin_id = req.param("filters[origin_id]") if origin_filter else None
        if origin_id is not None:
            wanted = set(origin_id.split(","))
            items = [r for r in items if r.get("origin_id") in wanted]
        per_page = min(max(_int_param(req, "per_page", default_per_page), 1), max_per_page)
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
        body = [view(r) for r in chunk] if view is not None else copy.deepcopy(chunk)
        return _Response(200, body, headers)

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
        view: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
        strict: bool = False,
    ) -> _Response:
        """Apply ``updates`` one by one; see the package docstring for the rules.

        ``scope``: records an update may match (one project's commitments); ``pool``: every
        record the ``origin_id`` must be unique among. ``create(update)`` registers a new
        record (the update's values are written next); without it nothing is created (an
        update matching nothing is refused). ``validate`` checks and converts the
        resource's own fields (setup resources); without it only origin fields are written
        and creating needs a ``name``. ``view`` shapes each entity (default: the record as
        stored); ``strict``: origin fields must be strings.

        Matching follows Procore's "Using Sync Actions" table (procore-spec
        docs/conventions.json, ``sync``): ``id`` first (unknown: ``SYNC_ID_NOT_FOUND``),
        else ``origin_id`` (unknown: created), and an update with neither is created
        without an origin id.
        """
        holders = {r["origin_id"]: r["id"] for r in pool.values() if r.get("origin_id")}
        entities: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        for item in updates:
            if not isinstance(item, dict):
                errors.append({"update": item, "errors": {"base": ["must be a JSON object"]}})
                continue
            values, problems = _sync_values(item, origin_fields, strict=strict)
            origin_id = values.get("origin_id")
            record: dict[str, Any] | None = None
            creating = False
            if item.get("id") is not None:
                sync_id = _sync_id(item["id"])
                record = None if sync_id is None else scope.get(sync_id)
                if record is None:
                    problems["id"] = [SYNC_ID_NOT_FOUND]
            elif origin_id is not None and origin_id in holders:
                record = scope.get(holders[origin_id])
                if record is None:  # held by a record outside the scope (another project)
                    problems["origin_id"] = ["has already been taken"]
            elif create is None:
                problems["id"] = ["can't be blank"]
            elif "origin_id" not in problems:
                creating = True  # unknown origin_id, or neither key: a new record
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
            entities.append(view(record) if view is not None else copy.deepcopy(record))
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
        status: int = 422,
        strict: bool = False,
    ) -> dict[str, Any]:
        """POST (``record`` None) or PATCH one setup record: validate everything, then write.

        A refusal (``status``: the code the endpoint documents for it) leaves the store
        untouched. ``origin_id`` must be unique within ``pool``; ``strict``: origin fields
        must be strings.
        """
        changes, errors = validate(fields, record)
        origin, problems = _sync_values(fields, origin_fields, strict=strict)
        for name, messages in problems.items():
            errors.setdefault(name, messages)
        origin_id = origin.get("origin_id")
        own_id = None if record is None else record["id"]
        if origin_id is not None and _taken(pool, "origin_id", origin_id, own_id):
            errors.setdefault("origin_id", ["has already been taken"])
        if errors:
            raise SandboxError(status, errors)
        if record is None:
            record = create()
        record.update(changes)
        record.update(origin)
        record["updated_at"] = _now_iso()
        return record

    def _company_scope(self, req: _Request, body: Mapping[str, Any], *, query: bool) -> None:
        """``company_id`` of a setup body (``query``: the query may carry it instead).

        Missing answers 400 like any missing required parameter; another company 403.
        """
        raw = body.get("company_id")
        if (raw is None or raw == "") and query:
            raw = req.param("company_id")
        if raw is None or raw == "":
            raise SandboxError(400, "param is missing or the value is empty: company_id")
        if isinstance(raw, bool) or str(raw).strip() != str(self.company_id):
            raise SandboxError(403, f"No access to company {raw}")

    @staticmethod
    def _actor(req: _Request) -> Actor:
        assert req.actor is not None  # every /rest/ route authenticates
        return req.actor
