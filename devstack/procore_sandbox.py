"""Procore sandbox stand-in: a real HTTP server on loopback speaking Procore REST v1.0.

Why: the connector must be exercised over real HTTP (OAuth, headers, pagination, rate
limits, 429/503, webhooks) without a Procore account or the internet. Everything lives in
memory behind one lock; nothing leaves 127.0.0.1 (webhook URLs must be loopback too).

Choices where Procore's exact behaviour is not documented (keep tests honest about them):

* Auth: ``/rest/`` calls need ``Authorization: Bearer <token>`` from ``/oauth/token``
  (401 otherwise). A missing ``Procore-Company-Id`` header answers **400**; a header or
  ``company_id`` query parameter naming another company answers **403**.
* A missing required query parameter (``company_id``, ``project_id``) answers **400**
  ``{"errors": "param is missing or the value is empty: project_id"}``; an unknown
  project or record answers **404**; body validation answers **422**
  ``{"errors": {field: [message]}}``; an undecodable JSON body answers **400**.
* Rate limit: one window (``rate_limit`` calls per ``rate_window`` seconds) for ``/rest/``
  calls; every answer (token and control endpoints too) carries the headers, only
  ``/rest/`` calls consume quota. An exhausted window answers a real 429.
* Webhooks fire for commitment and commitment line item writes (HTTP or the Python
  helpers) and for the HTTP project and company directory writes described below.
  ``metadata.source_application_id`` is the OAuth client id of the caller (or
  ``as_application`` for helpers, default ``"procore-web"``); ``user_id`` is the service
  account user (``SERVICE_ACCOUNT_USER_ID``) for API clients, the web user otherwise.
  v4.0 has no metadata, so a receiver can only recognise its own echoes by ``user_id``.
  No redelivery: each event is POSTed once and the outcome recorded in ``deliveries``.
* ``/_sandbox/*`` control endpoints need no auth and consume no quota.
* Sync (``PATCH /rest/v1.0/{work_order_contracts|purchase_order_contracts}/sync`` with
  ``{"project_id", "updates"}``; ``PATCH /rest/v1.0/{vendors|projects}/sync`` with
  ``{"company_id", "updates"}``). Request-level problems are real errors: missing or
  non-list ``updates`` or more than ``SYNC_LIMIT`` (1000) items answer **422** for the
  whole request, a missing ``project_id``/``company_id`` **422**, an unknown project
  **404**, another company **403**. Otherwise always **200** ``{"entities": [...],
  "errors": [...]}``, updates applied one by one in order, each error being the sent
  update plus ``"errors": {field: [message]}`` (a non-object update is reported as
  ``{"update": <it>, "errors": {"base": [...]}}``). Matching: on ``id`` (commitments:
  within ``project_id``; unknown -> ``{"id": ["not found"]}``), else on ``origin_id``.
  Only ``origin_id``/``origin_code``/``origin_data`` are written (``null`` or ``""``
  clears; other keys are ignored). ``origin_id`` is unique per company per resource
  type (the two commitment kinds are separate types): taking one another record holds,
  earlier updates of the same call included, answers ``{"origin_id": ["has already been
  taken"]}``. An unmatched ``origin_id`` without ``id`` means create in Procore: vendors
  and projects are created when the update has a ``name`` (else ``{"name": ["can't be
  blank"]}``); commitments are **never** created through sync here (Procore would make a
  blank Draft commitment): they answer ``{"id": ["can't be blank"]}``, as does any update
  with neither ``id`` nor ``origin_id``. Each commitment whose origin fields actually
  changed fires one ``update`` webhook attributed to the calling application; a sync
  that changes nothing (e.g. a retried one) fires none. Vendor and project syncs fire no
  webhooks. Faults, quota and rate-limit headers apply as on every ``/rest/`` path.
* Company setup (HTTP only; seeding helpers never notify):

  - ``POST /rest/v1.0/projects`` / ``PATCH /rest/v1.0/projects/{id}`` with
    ``{"company_id", "project": {...}}`` and ``POST /rest/v1.0/vendors`` / ``PATCH
    /rest/v1.0/vendors/{id}`` with ``{"company_id", "vendor": {...}}`` (201 / 200). The
    company may be in the body or the query (missing: **422**, another: **403**). ``name``
    is required to create and can never be blanked; text fields take strings (numbers are
    turned to text, ``null``/blank clears, anything else ``is invalid``); ``active`` /
    ``is_active`` must be booleans; unknown keys are ignored; ``origin_id`` unique per
    company. Vendors also take ``business_register_attributes: {type, identifier}``.
  - ``POST /rest/v1.0/vendors/{id}/business_register?company_id=`` with
    ``{"business_register": {"type": "ein"|"abn", "identifier"}}`` answers **201** with the
    register and sets (or replaces) the vendor's ``business_register`` (``null`` until set).
    The identifier's format is not checked.
  - Webhooks: each project create/update fires ``Projects`` with ``project_id`` = the
    project's own id (the resource is company scoped; Procore payloads are seen both ways,
    this one lets a receiver GET the project straight away); each vendor create/update and
    business register write fires ``Company Vendors`` with ``project_id`` ``null``. Both are
    attributed to the calling OAuth application, like commitment writes, and fire on every
    write (also a PATCH that changes nothing). Sub jobs, cost codes, standard cost codes and
    line item types fire none.
  - Sub jobs: ``GET|POST /rest/v1.0/sub_jobs`` (``{project_id, sub_job: {name*, code,
    origin_id, origin_data}}``); ``code`` unique within the project.
  - Cost codes: ``POST /rest/v1.0/cost_codes`` ``{project_id, sub_job_id?, cost_code:
    {code*, name*, parent_id, origin_id, origin_data}}``; ``code`` is one segment and
    ``full_code`` is the parent's full code + ``-`` + ``code`` (just ``code`` without a
    parent); ``full_code`` unique per biller (the project, or one sub job); the parent must
    be a code of the same biller (``{"parent": ["must exist"]}``), and an unknown
    ``sub_job_id`` answers ``{"sub_job": ["must exist"]}``. ``GET`` lists show
    ``origin_id``, ``parent_id`` and ``sub_job_id`` (``sub_job_id`` filters).
  - ``GET /rest/v1.0/standard_cost_code_lists?company_id=`` ``[{id, name, is_erp_list}]``;
    ``GET /rest/v1.0/standard_cost_codes?standard_cost_code_list_id=`` (unknown list 404);
    their ``code`` is sent whole (with the parent's prefix), unique per list.
  - ``POST /rest/v1.0/line_item_types`` ``{company_id, line_item_type: {name*,
    csv_import_code*, base_type, origin_id}}``: ``csv_import_code`` is shown as ``code``
    and is unique per company; ``base_type`` one of ``LINE_ITEM_BASE_TYPES`` (default
    ``other``).
  - Syncs of these (``PATCH .../sub_jobs/sync?project_id=``, ``.../cost_codes/sync?
    project_id=[&sub_job_id=]``, ``.../standard_cost_codes/sync`` with ``{company_id,
    standard_cost_code_list_id, updates}``, ``.../line_item_types/sync`` with
    ``{company_id, updates}``) follow the sync rules above, with two differences: they
    also write the resource's own fields (same validation as the POST; a refused field
    refuses the whole update), and an unmatched ``origin_id`` creates when the required
    fields are there (sub job: ``name``; cost codes: ``code`` and ``name``; line item
    types: ``name`` and ``csv_import_code``). They write ``origin_id``/``origin_data``
    (no ``origin_code``). Scope ids may be in the body or the query; an unknown sub job or
    list answers 404, a missing list id 422. ``origin_id`` is unique per company for sub
    jobs, standard cost codes and line item types, but **per biller** for project cost
    codes (each project carries its own copy of the company's codes, so the same ERP code
    appears once per project and sub job). Creating through a sync is retry safe: a resent
    update matches what the first attempt made by its ``origin_id``.

Run in the foreground: ``python -m devstack.procore_sandbox --port 8010``.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import http.client
import itertools
import json
import logging
import math
import os
import queue
import re
import secrets
import signal
import socket
import threading
import time
import urllib.error
import urllib.request
from collections import Counter, deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

logger = logging.getLogger(__name__)

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
WEB_APPLICATION_ID = "procore-web"
WEB_USER_ID = 10001
SERVICE_ACCOUNT_USER_ID = 90001
PAYLOAD_VERSIONS = ("v2.0", "v3.0", "v4.0")
DELIVERY_MODES = ("sync", "async")
COMMITMENT_STATUSES = (
    "Draft",
    "Out For Bid",
    "Out For Signature",
    "Approved",
    "Complete",
    "Terminated",
    "Void",
)
DEFAULT_PER_PAGE = 100
MAX_PER_PAGE = 2000
SYNC_LIMIT = 1000  # Procore's documented maximum of updates per sync call
SYNC_FIELDS = ("origin_id", "origin_code", "origin_data")
#: origin fields of the setup resources without a visible ``origin_code``
ORIGIN_ID_DATA = ("origin_id", "origin_data")
PROJECT_TEXT_FIELDS = (
    "name",
    "project_number",
    "address",
    "city",
    "state_code",
    "zip",
    "country_code",
)
VENDOR_TEXT_FIELDS = (
    "name",
    "abbreviated_name",
    "address",
    "city",
    "state_code",
    "zip",
    "country_code",
    "business_phone",
    "email_address",
    "license_number",
)
BUSINESS_REGISTER_TYPES = ("ein", "abn")
LINE_ITEM_BASE_TYPES = (
    "labor",
    "equipment",
    "materials",
    "commitment",
    "owner_cost",
    "professional_services",
    "other",
)
PROJECTS_RESOURCE = "Projects"
COMPANY_VENDORS_RESOURCE = "Company Vendors"
COST_CODE_DELIMITER = "-"  # full_code = parent full_code + "-" + code
WEBHOOK_TIMEOUT = 5.0  # Procore gives a receiver 5 s
_CENT = Decimal("0.01")
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


@dataclass(frozen=True)
class CommitmentKind:
    """Names of one commitment type in paths, bodies and webhook payloads."""

    segment: str
    singular: str
    resource_name: str
    line_resource_name: str


KINDS: Mapping[str, CommitmentKind] = {
    kind.segment: kind
    for kind in (
        CommitmentKind(
            "work_order_contracts",
            "work_order_contract",
            "Work Order Contracts",
            "Work Order Contract Line Items",
        ),
        CommitmentKind(
            "purchase_order_contracts",
            "purchase_order_contract",
            "Purchase Order Contracts",
            "Purchase Order Contract Line Items",
        ),
    )
}


class SandboxError(ValueError):
    """An HTTP error answer; Python helpers raise it for the same validation failures."""

    def __init__(
        self, status: int, errors: object, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(f"HTTP {status}: {errors}")
        self.status = status
        self.errors = errors
        self.headers = dict(headers or {})


@dataclass(frozen=True)
class Actor:
    """Who made a change: drives the webhook's user id and source application id."""

    application_id: str
    user_id: int


@dataclass
class Fault:
    """An injected failure answered instead of the real response, ``count`` times.

    ``after_handling``: the request is handled first (a POST creates its record, webhooks
    fire) and the fault is answered in place of the real response, like a gateway's 502
    after the origin acted: the answer is lost, the effect is not. A call the rate limit
    refuses is not handled; its 429 stands (the fault is used up all the same).
    """

    status: int
    count: int = 1
    path_prefix: str | None = None
    retry_after: int | None = None
    reset_in: int = 1
    method: str | None = None
    after_handling: bool = False

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method.upper() != method:
            return False
        if self.path_prefix is None:
            return path.startswith("/rest/")
        return path.startswith(self.path_prefix)


@dataclass
class SandboxState:
    """Everything the sandbox knows; guard every access with ``lock``."""

    lock: threading.RLock = field(default_factory=threading.RLock)
    projects: dict[int, dict[str, Any]] = field(default_factory=dict)
    vendors: dict[int, dict[str, Any]] = field(default_factory=dict)
    #: project id -> cost code id -> record (project-level and sub job codes alike)
    cost_codes: dict[int, dict[int, dict[str, Any]]] = field(default_factory=dict)
    line_item_types: dict[int, dict[str, Any]] = field(default_factory=dict)
    #: sub job id -> record (``project_id`` inside)
    sub_jobs: dict[int, dict[str, Any]] = field(default_factory=dict)
    standard_cost_code_lists: dict[int, dict[str, Any]] = field(default_factory=dict)
    #: standard cost code id -> record (``standard_cost_code_list_id`` inside)
    standard_cost_codes: dict[int, dict[str, Any]] = field(default_factory=dict)
    #: path segment (e.g. "work_order_contracts") -> commitment id -> record
    commitments: dict[str, dict[int, dict[str, Any]]] = field(
        default_factory=lambda: {segment: {} for segment in KINDS}
    )
    #: commitment id -> line item id -> record
    line_items: dict[int, dict[int, dict[str, Any]]] = field(default_factory=dict)
    #: access token -> {"client_id", "expires_at"}
    tokens: dict[str, dict[str, Any]] = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)
    ids: Iterator[int] = field(default_factory=lambda: itertools.count(1001))

    def next_id(self) -> int:
        return next(self.ids)


@dataclass
class _Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    actor: Actor | None = None
    events: list[_Outgoing] = field(default_factory=list)

    def param(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None


@dataclass
class _Response:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class _Outgoing:
    payload: dict[str, Any]
    url: str
    authorization: str | None


Handler = Callable[[_Request, "re.Match[str]"], _Response]
#: ``(fields, record or None when creating) -> (changes, errors)``: a resource's own fields
Validator = Callable[
    [Mapping[str, Any], "dict[str, Any] | None"], tuple[dict[str, Any], dict[str, list[str]]]
]


# --- small helpers ----------------------------------------------------------------------
def new_ulid(now: float | None = None) -> str:
    """A 26-character ULID (48-bit millisecond time + 80 random bits, Crockford base32)."""
    millis = int((time.time() if now is None else now) * 1000)
    value = (millis << 80) | int.from_bytes(os.urandom(10), "big")
    chars = []
    for _ in range(26):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def _now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _now_iso_micro() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _check_loopback_url(url: str) -> str:
    """Webhooks may only go to loopback: the sandbox must never reach beyond the machine."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or parts.hostname not in LOOPBACK_HOSTS:
        raise ValueError(f"webhook URL must be http(s) on a loopback host, got {url!r}")
    return url


def _decimal(value: object, name: str) -> Decimal:
    if isinstance(value, bool):
        raise SandboxError(422, {name: ["is not a number"]})
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise SandboxError(422, {name: ["is not a number"]}) from None
    if not number.is_finite():
        raise SandboxError(422, {name: ["is not a number"]})
    return number


def _money(value: Decimal) -> str:
    return str(value.quantize(_CENT))


def _plain(value: Decimal) -> str:
    """Quantities like Procore shows them: "10.0", "2.5"."""
    text = format(value.normalize(), "f")
    return text if "." in text else text + ".0"


def _as_int(value: object, name: str) -> int:
    if isinstance(value, bool):
        raise SandboxError(422, {name: ["is not a number"]})
    try:
        return int(str(value))
    except (TypeError, ValueError):
        raise SandboxError(422, {name: ["is not a number"]}) from None


def _required_param(req: _Request, name: str) -> str:
    value = req.param(name)
    if value is None or value == "":
        raise SandboxError(400, f"param is missing or the value is empty: {name}")
    return value


def _int_param(req: _Request, name: str, default: int) -> int:
    raw = req.param(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise SandboxError(400, f"{name} must be an integer") from None


def _json_body(req: _Request) -> dict[str, Any]:
    if not req.body.strip():
        return {}
    try:
        parsed = json.loads(req.body)
    except ValueError:
        raise SandboxError(400, "Request body is not valid JSON") from None
    if not isinstance(parsed, dict):
        raise SandboxError(400, "Request body must be a JSON object")
    return parsed


def _wrapped(body: Mapping[str, Any], key: str) -> dict[str, Any]:
    inner = body.get(key)
    if not isinstance(inner, dict):
        raise SandboxError(422, {key: ["can't be blank"]})
    return inner


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


def _business_register(raw: object) -> tuple[dict[str, str] | None, dict[str, list[str]]]:
    """``{type: ein|abn, identifier}`` as the vendor record shows it, or the problems."""
    if not isinstance(raw, dict):
        return None, {"business_register": ["can't be blank"]}
    problems: dict[str, list[str]] = {}
    kind = raw.get("type")
    if not isinstance(kind, str) or kind.strip().lower() not in BUSINESS_REGISTER_TYPES:
        problems["type"] = ["is not included in the list"]
    identifier = raw.get("identifier")
    if (
        isinstance(identifier, bool)
        or not isinstance(identifier, str | int)
        or not str(identifier).strip()
    ):
        problems["identifier"] = ["can't be blank"]
    if problems:
        return None, problems
    assert isinstance(kind, str)
    return {"type": kind.strip().lower(), "identifier": str(identifier).strip()}, {}


def _taken(
    records: Mapping[int, dict[str, Any]], key: str, value: object, own_id: int | None
) -> bool:
    """Another record (not ``own_id``) already holds ``value`` in ``key``."""
    return any(r.get(key) == value and r["id"] != own_id for r in records.values())


def _ancestor_ids(records: Mapping[int, dict[str, Any]], start: dict[str, Any]) -> set[int]:
    """``start`` and its parents up the ``parent_id`` chain (cycle safe)."""
    seen: set[int] = set()
    node: dict[str, Any] | None = start
    while node is not None and node["id"] not in seen:
        seen.add(node["id"])
        parent = node.get("parent_id")
        node = records.get(parent) if parent is not None else None
    return seen


# --- the sandbox --------------------------------------------------------------------------
class ProcoreSandbox:
    """In-memory Procore on a loopback ``ThreadingHTTPServer``; see the module docstring."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        client_id: str = "connector-client",
        client_secret: str = "connector-secret",
        company_id: int = 4264,
        company_name: str = "Sandbox Builders Inc",
        webhook_url: str | None = None,
        webhook_authorization: str | None = None,
        payload_version: str = "v2.0",
        webhook_delivery: str = "sync",
        rate_limit: int = 3600,
        rate_window: int = 3600,
        token_ttl: int = 5400,
    ) -> None:
        if host not in LOOPBACK_HOSTS:
            raise ValueError(f"the sandbox listens on loopback only, not {host!r}")
        self._host = "127.0.0.1" if host == "localhost" else host
        self._port = port
        self.company_id = int(company_id)
        self.company_name = company_name
        self.client_id = client_id
        self.service_account_user_id = SERVICE_ACCOUNT_USER_ID
        self._clients: dict[str, tuple[str, int]] = {
            client_id: (client_secret, SERVICE_ACCOUNT_USER_ID)
        }
        self.token_ttl = token_ttl
        self.state = SandboxState()
        self.request_counts: Counter[str] = Counter()
        self.requests: deque[dict[str, Any]] = deque(maxlen=10_000)
        self.events: list[dict[str, Any]] = []
        self.deliveries: list[dict[str, Any]] = []
        self._deliveries_cond = threading.Condition()
        self._event_ids = itertools.count(50_000_001)
        self._webhook_url: str | None = None
        self._webhook_authorization: str | None = None
        self._payload_version = "v2.0"
        self._delivery_mode = "sync"
        self.set_webhook(webhook_url, webhook_authorization, payload_version, webhook_delivery)
        self._rl_limit = rate_limit
        self._rl_window = rate_window
        self._rl_start = time.time()
        self._rl_used = 0
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._queue: queue.Queue[_Outgoing | None] = queue.Queue()
        self._worker: threading.Thread | None = None
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        self._api_routes = self._compile(self._api_route_table())
        self._control_routes = self._compile(self._control_route_table())

    # --- lifecycle ------------------------------------------------------------------------
    def start(self) -> ProcoreSandbox:
        """Bind and serve in a daemon thread; idempotent."""
        if self._server is not None:
            return self
        server = _Server((self._host, self._port), _RequestHandler, self)
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="procore-sandbox",
            daemon=True,
        )
        self._thread.start()
        logger.info("procore sandbox listening on %s", self.url)
        return self

    def stop(self) -> None:
        """Stop serving, flush queued async webhooks, release the port; idempotent."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        worker, self._worker = self._worker, None
        if worker is not None:
            self._queue.put(None)
            worker.join(timeout=WEBHOOK_TIMEOUT + 1)

    def __enter__(self) -> ProcoreSandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("sandbox is not started")
        port = self._server.server_address[1]
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{port}"

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("sandbox is not started")
        return int(self._server.server_address[1])

    # --- configuration --------------------------------------------------------------------
    def set_webhook(
        self,
        url: str | None,
        authorization: str | None = None,
        payload_version: str | None = None,
        delivery: str | None = None,
    ) -> None:
        """Point webhooks somewhere (loopback only) or turn them off with ``url=None``."""
        if url is not None:
            _check_loopback_url(url)
        if payload_version is not None and payload_version not in PAYLOAD_VERSIONS:
            raise ValueError(f"payload_version must be one of {PAYLOAD_VERSIONS}")
        if delivery is not None and delivery not in DELIVERY_MODES:
            raise ValueError(f"webhook_delivery must be one of {DELIVERY_MODES}")
        with self.state.lock:
            self._webhook_url = url
            self._webhook_authorization = authorization
            if payload_version is not None:
                self._payload_version = payload_version
            if delivery is not None:
                self._delivery_mode = delivery

    def add_client(self, client_id: str, client_secret: str, user_id: int) -> None:
        """Another OAuth application (e.g. a second integration) allowed to call the API."""
        with self.state.lock:
            self._clients[client_id] = (client_secret, user_id)

    def revoke_tokens(self) -> None:
        """Invalidate every issued token (the next API call answers 401)."""
        with self.state.lock:
            self.state.tokens.clear()

    def set_rate_limit(
        self,
        *,
        limit: int | None = None,
        remaining: int | None = None,
        window_seconds: int | None = None,
    ) -> None:
        """Change the quota; ``window_seconds`` also restarts the window now."""
        with self.state.lock:
            if limit is not None:
                self._rl_limit = limit
            if window_seconds is not None:
                self._rl_window = window_seconds
                self._rl_start = time.time()
                self._rl_used = 0
            if remaining is not None:
                self._rl_used = max(0, self._rl_limit - remaining)

    def inject_fault(
        self,
        status: int,
        count: int = 1,
        path_prefix: str | None = None,
        retry_after: int | None = None,
        *,
        reset_in: int = 1,
        method: str | None = None,
        after_handling: bool = False,
    ) -> Fault:
        """Answer ``status`` for the next ``count`` matching calls (``/rest/`` by default).

        A 429 carries ``X-Rate-Limit-Remaining: 0`` and ``Reset = now + reset_in``; a 503
        carries ``Retry-After`` (``retry_after``, default 1). ``after_handling``: handle
        the call first, then answer the fault instead (a lost answer; see ``Fault``).
        """
        if not 400 <= int(status) <= 599:
            raise ValueError("fault status must be 4xx or 5xx")
        if int(count) < 1:
            raise ValueError("fault count must be at least 1")
        fault = Fault(
            int(status),
            int(count),
            path_prefix,
            None if retry_after is None else int(retry_after),
            int(reset_in),
            method.upper() if method else None,
            bool(after_handling),
        )
        with self.state.lock:
            self.state.faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        with self.state.lock:
            self.state.faults.clear()

    def reset(self) -> None:
        """Forget all data, faults, events and counters; keep clients, tokens and webhook."""
        with self.state.lock:
            tokens = self.state.tokens
            self.state = SandboxState(lock=self.state.lock, tokens=tokens)
            self.request_counts.clear()
            self.requests.clear()
            self.events.clear()
            self._rl_start, self._rl_used = time.time(), 0
        with self._deliveries_cond:
            self.deliveries.clear()

    def seed(self, demo: bool = True, *, matching_vendors: bool = False) -> dict[str, Any]:
        """Load the demo dataset (see ``seed_demo``); returns its ids."""
        return seed_demo(self, matching_vendors=matching_vendors) if demo else {}

    # --- seeding helpers (no webhooks: Procore does not notify these to our hook) ---------
    def add_project(
        self,
        name: str,
        *,
        project_number: str | None = None,
        origin_id: str | None = None,
        origin_code: str | None = None,
        active: bool = True,
        **extra: Any,
    ) -> dict[str, Any]:
        with self.state.lock:
            pid = self.state.next_id()
            now = _now_iso()
            record: dict[str, Any] = {
                "id": pid,
                "name": name,
                "display_name": f"{project_number} - {name}" if project_number else name,
                "project_number": project_number,
                "active": active,
                "address": None,
                "city": None,
                "state_code": None,
                "zip": None,
                "country_code": "US",
                "company": {"id": self.company_id, "name": self.company_name},
                "origin_id": origin_id,
                "origin_code": origin_code,
                "origin_data": None,
                "is_erp_integrated": False,
                "created_at": now,
                "updated_at": now,
            }
            record.update(extra)
            self.state.projects[pid] = record
            self.state.cost_codes.setdefault(pid, {})
            return copy.deepcopy(record)

    def add_vendor(
        self,
        name: str,
        *,
        abbreviated_name: str | None = None,
        origin_id: str | None = None,
        origin_code: str | None = None,
        is_active: bool = True,
        **extra: Any,
    ) -> dict[str, Any]:
        with self.state.lock:
            vid = self.state.next_id()
            now = _now_iso()
            record: dict[str, Any] = {
                "id": vid,
                "name": name,
                "abbreviated_name": abbreviated_name,
                "address": None,
                "city": None,
                "state_code": None,
                "zip": None,
                "country_code": "US",
                "business_phone": None,
                "email_address": None,
                "is_active": is_active,
                "license_number": None,
                "business_register": None,
                "origin_id": origin_id,
                "origin_code": origin_code,
                "origin_data": None,
                "synced_to_erp": False,
                "created_at": now,
                "updated_at": now,
            }
            record.update(extra)
            self.state.vendors[vid] = record
            return copy.deepcopy(record)

    def add_cost_code(
        self,
        project_id: int,
        code: str,
        name: str,
        *,
        origin_id: str | None = None,
        sub_job_id: int | None = None,
    ) -> dict[str, Any]:
        """``code`` may be a full code ("03-300"): ``code`` keeps the last segment ("300")."""
        with self.state.lock:
            if project_id not in self.state.projects:
                raise SandboxError(404, f"Project {project_id} not found")
            if sub_job_id is not None:
                sub_job = self.state.sub_jobs.get(sub_job_id)
                if sub_job is None or sub_job["project_id"] != project_id:
                    raise SandboxError(404, f"Sub job {sub_job_id} not found")
            record = self._new_cost_code(project_id, sub_job_id)
            record.update(
                code=code.rsplit(COST_CODE_DELIMITER, 1)[-1],
                full_code=code,
                name=name,
                origin_id=origin_id,
            )
            return copy.deepcopy(record)

    def add_line_item_type(
        self, name: str, code: str, base_type: str = "other", *, origin_id: str | None = None
    ) -> dict[str, Any]:
        with self.state.lock:
            record = self._new_line_item_type()
            record.update(name=name, code=code, base_type=base_type, origin_id=origin_id)
            return copy.deepcopy(record)

    def add_sub_job(
        self,
        project_id: int,
        name: str,
        *,
        code: str | None = None,
        origin_id: str | None = None,
    ) -> dict[str, Any]:
        with self.state.lock:
            self._project(project_id)
            record = self._new_sub_job(project_id)
            record.update(name=name, code=code, origin_id=origin_id)
            return copy.deepcopy(record)

    def add_standard_cost_code_list(
        self, name: str, *, is_erp_list: bool = False
    ) -> dict[str, Any]:
        with self.state.lock:
            lid = self.state.next_id()
            record = {"id": lid, "name": name, "is_erp_list": is_erp_list}
            self.state.standard_cost_code_lists[lid] = record
            return copy.deepcopy(record)

    # --- blank records (registered now, filled by the caller under the same lock) ----------
    def _new_cost_code(self, project_id: int, sub_job_id: int | None) -> dict[str, Any]:
        ccid = self.state.next_id()
        now = _now_iso()
        record: dict[str, Any] = {
            "id": ccid,
            "code": "",
            "full_code": "",
            "name": "",
            "parent_id": None,
            "project_id": project_id,
            "sub_job_id": sub_job_id,
            "biller_type": "Project" if sub_job_id is None else "SubJob",
            "biller_id": project_id if sub_job_id is None else sub_job_id,
            "budgeted": False,
            "origin_id": None,
            "origin_data": None,
            "created_at": now,
            "updated_at": now,
        }
        self.state.cost_codes.setdefault(project_id, {})[ccid] = record
        return record

    def _new_line_item_type(self) -> dict[str, Any]:
        lid = self.state.next_id()
        record: dict[str, Any] = {
            "id": lid,
            "name": "",
            "code": "",
            "base_type": "other",
            "origin_id": None,
            "origin_data": None,
        }
        self.state.line_item_types[lid] = record
        return record

    def _new_sub_job(self, project_id: int) -> dict[str, Any]:
        sid = self.state.next_id()
        now = _now_iso()
        record: dict[str, Any] = {
            "id": sid,
            "name": "",
            "code": None,
            "project_id": project_id,
            "origin_id": None,
            "origin_data": None,
            "created_at": now,
            "updated_at": now,
        }
        self.state.sub_jobs[sid] = record
        return record

    def _new_standard_cost_code(self, list_id: int) -> dict[str, Any]:
        scid = self.state.next_id()
        now = _now_iso()
        record: dict[str, Any] = {
            "id": scid,
            "code": "",
            "full_code": "",
            "name": "",
            "parent_id": None,
            "standard_cost_code_list_id": list_id,
            "origin_id": None,
            "origin_data": None,
            "created_at": now,
            "updated_at": now,
        }
        self.state.standard_cost_codes[scid] = record
        return record

    # --- commitment helpers (fire webhooks, like a user in Procore's web UI) --------------
    def create_commitment(
        self,
        kind: str,
        project_id: int,
        *,
        as_application: str = WEB_APPLICATION_ID,
        as_user_id: int = WEB_USER_ID,
        **fields: Any,
    ) -> dict[str, Any]:
        actor = Actor(as_application, as_user_id)
        return self._helper(lambda ev: self._create_commitment(kind, project_id, fields, actor, ev))

    def update_commitment(
        self,
        kind: str,
        commitment_id: int,
        *,
        as_application: str = WEB_APPLICATION_ID,
        as_user_id: int = WEB_USER_ID,
        **fields: Any,
    ) -> dict[str, Any]:
        actor = Actor(as_application, as_user_id)
        return self._helper(
            lambda ev: self._update_commitment(kind, commitment_id, None, fields, actor, ev)
        )

    def delete_commitment(
        self,
        kind: str,
        commitment_id: int,
        *,
        as_application: str = WEB_APPLICATION_ID,
        as_user_id: int = WEB_USER_ID,
    ) -> None:
        actor = Actor(as_application, as_user_id)
        self._helper(lambda ev: self._delete_commitment(kind, commitment_id, None, actor, ev))

    def add_line_item(
        self,
        kind: str,
        commitment_id: int,
        *,
        as_application: str = WEB_APPLICATION_ID,
        as_user_id: int = WEB_USER_ID,
        **fields: Any,
    ) -> dict[str, Any]:
        actor = Actor(as_application, as_user_id)
        return self._helper(
            lambda ev: self._create_line(kind, commitment_id, None, fields, actor, ev)
        )

    def update_line_item(
        self,
        kind: str,
        commitment_id: int,
        line_item_id: int,
        *,
        as_application: str = WEB_APPLICATION_ID,
        as_user_id: int = WEB_USER_ID,
        **fields: Any,
    ) -> dict[str, Any]:
        actor = Actor(as_application, as_user_id)
        return self._helper(
            lambda ev: self._update_line(kind, commitment_id, line_item_id, None, fields, actor, ev)
        )

    def delete_line_item(
        self,
        kind: str,
        commitment_id: int,
        line_item_id: int,
        *,
        as_application: str = WEB_APPLICATION_ID,
        as_user_id: int = WEB_USER_ID,
    ) -> None:
        actor = Actor(as_application, as_user_id)
        self._helper(
            lambda ev: self._delete_line(kind, commitment_id, line_item_id, None, actor, ev)
        )

    def get_commitment(self, kind: str, commitment_id: int) -> dict[str, Any]:
        with self.state.lock:
            return copy.deepcopy(self._commitment(self._kind(kind), commitment_id, None))

    def list_line_items(self, kind: str, commitment_id: int) -> list[dict[str, Any]]:
        with self.state.lock:
            self._commitment(self._kind(kind), commitment_id, None)
            lines = self.state.line_items.get(commitment_id, {})
            return [copy.deepcopy(lines[i]) for i in sorted(lines)]

    def _helper(self, mutate: Callable[[list[_Outgoing]], Any]) -> Any:
        """Run a mutation under the lock, then deliver its webhooks after releasing it."""
        events: list[_Outgoing] = []
        with self.state.lock:
            result = mutate(events)
        self._deliver(events)
        return result

    # --- webhook delivery -----------------------------------------------------------------
    def wait_for_deliveries(self, count: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        """Block until ``count`` deliveries are recorded (async mode); returns a copy."""
        deadline = time.monotonic() + timeout
        with self._deliveries_cond:
            while len(self.deliveries) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(
                        f"{len(self.deliveries)} of {count} webhook deliveries after {timeout}s"
                    )
                self._deliveries_cond.wait(left)
            return list(self.deliveries)

    def _event(
        self,
        action: str,
        resource_name: str,
        resource_id: int,
        project_id: int | None,
        actor: Actor,
        out: list[_Outgoing],
        related: list[dict[str, Any]] | None = None,
    ) -> None:
        """Build the payload Procore would send now; queue it for delivery after the lock.

        ``project_id`` is None for company-level resources (Company Vendors).
        """
        now = time.time()
        timestamp = _now_iso_micro()
        version = self._payload_version
        payload: dict[str, Any]
        if version == "v4.0":
            payload = {
                "id": new_ulid(now),
                "timestamp": timestamp,
                "reason": action,
                "company_id": str(self.company_id),
                "project_id": None if project_id is None else str(project_id),
                "user_id": str(actor.user_id),
                "resource_type": resource_name,
                "resource_id": str(resource_id),
                "api_version": "v4.0",
            }
        else:
            payload = {
                "id": next(self._event_ids),
                "ulid": new_ulid(now),
                "timestamp": timestamp,
                "metadata": {
                    "source_user_id": actor.user_id,
                    "source_project_id": project_id,
                    "source_operation_id": None,
                    "source_company_id": self.company_id,
                    "source_application_id": actor.application_id,
                },
                "user_id": actor.user_id,
                "company_id": self.company_id,
                "project_id": project_id,
                "api_version": version,
                "event_type": action,
                "resource_name": resource_name,
                "resource_id": resource_id,
            }
            if version == "v3.0":
                payload["related_resources"] = list(related or [])
        self.events.append(payload)
        if self._webhook_url is not None:
            out.append(_Outgoing(payload, self._webhook_url, self._webhook_authorization))

    def _deliver(self, events: list[_Outgoing]) -> None:
        if not events:
            return
        if self._delivery_mode == "sync":
            for event in events:
                self._post_webhook(event)
            return
        with self.state.lock:
            if self._worker is None or not self._worker.is_alive():
                self._worker = threading.Thread(
                    target=self._delivery_loop, name="procore-sandbox-webhooks", daemon=True
                )
                self._worker.start()
        for event in events:
            self._queue.put(event)

    def _delivery_loop(self) -> None:
        while True:
            event = self._queue.get()
            if event is None:
                return
            self._post_webhook(event)

    def _post_webhook(self, event: _Outgoing) -> None:
        """POST one payload; any failure is recorded, never raised (the server keeps going)."""
        headers = {"Content-Type": "application/json", "User-Agent": "ProcoreSandbox-Webhooks"}
        if event.authorization is not None:
            headers["Authorization"] = event.authorization
        request = urllib.request.Request(
            event.url, data=json.dumps(event.payload).encode(), headers=headers, method="POST"
        )
        record: dict[str, Any] = {
            "url": event.url,
            "payload": event.payload,
            "status": None,
            "error": None,
            "authorization_sent": event.authorization is not None,
            "delivered_at": _now_iso_micro(),
        }
        started = time.monotonic()
        try:
            with self._opener.open(request, timeout=WEBHOOK_TIMEOUT) as response:
                record["status"] = response.status
        except urllib.error.HTTPError as exc:
            record["status"] = exc.code
            record["error"] = f"HTTP {exc.code}"
            with contextlib.suppress(Exception):
                exc.close()
        except (OSError, http.client.HTTPException) as exc:
            record["error"] = f"{type(exc).__name__}: {exc}"
        except Exception as exc:  # a delivery must never kill the server
            logger.exception("webhook delivery crashed")
            record["error"] = f"{type(exc).__name__}: {exc}"
        record["duration_ms"] = round((time.monotonic() - started) * 1000, 1)
        if record["error"]:
            logger.warning("webhook delivery to %s failed: %s", event.url, record["error"])
        with self._deliveries_cond:
            self.deliveries.append(record)
            self._deliveries_cond.notify_all()

    # --- request pipeline -----------------------------------------------------------------
    def handle(
        self, method: str, target: str, headers: Mapping[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        """Answer one HTTP request: ``(status, headers, body)``. Used by the HTTP handler."""
        parts = urlsplit(target)
        path = parts.path.rstrip("/") or "/"
        req = _Request(
            method=method.upper(),
            path=path,
            query=parse_qs(parts.query, keep_blank_values=True),
            headers={k.lower(): v for k, v in headers.items()},
            body=body,
        )
        with self.state.lock:
            self.request_counts[path] += 1
        rate_headers: dict[str, str] = {}
        try:
            if path.startswith("/_sandbox/"):
                rate_headers = self._quota_headers(consume=False)[1]
                response = self._route(self._control_routes, req)
            else:
                response, rate_headers = self._api(req)
        except SandboxError as exc:
            response = _Response(exc.status, {"errors": exc.errors}, exc.headers)
        except Exception:  # answer 500, keep serving
            logger.exception("sandbox handler failed for %s %s", method, path)
            response = _Response(500, {"errors": "internal sandbox error"})
        self._deliver(req.events)
        out_headers = {**rate_headers, **response.headers}
        payload = b""
        if response.status != 204 and response.body is not None:
            payload = json.dumps(response.body).encode()
            out_headers["Content-Type"] = "application/json; charset=utf-8"
        with self.state.lock:
            self.requests.append(
                {
                    "method": req.method,
                    "path": path,
                    "query": parts.query,
                    "status": response.status,
                    "company_header": req.headers.get("procore-company-id"),
                    "client_id": req.actor.application_id if req.actor else None,
                }
            )
        return response.status, out_headers, payload

    def _api(self, req: _Request) -> tuple[_Response, dict[str, str]]:
        counted = req.path.startswith("/rest/")
        with self.state.lock:
            fault = self._take_fault(req.method, req.path)
            allowed, rate_headers = self._quota_headers(consume=counted)
        if fault is not None and not fault.after_handling:
            return self._fault_response(fault, rate_headers)
        if not allowed:
            return _Response(429, {"errors": "Rate limit exceeded"}), rate_headers
        if fault is None:
            return self._route(self._api_routes, req), rate_headers
        with contextlib.suppress(SandboxError):  # its answer, even a refusal, is lost
            self._route(self._api_routes, req)
        return self._fault_response(fault, rate_headers)

    def _take_fault(self, method: str, path: str) -> Fault | None:
        for fault in self.state.faults:
            if fault.matches(method, path):
                fault.count -= 1
                if fault.count <= 0:
                    self.state.faults.remove(fault)
                return fault
        return None

    def _fault_response(
        self, fault: Fault, rate_headers: dict[str, str]
    ) -> tuple[_Response, dict[str, str]]:
        headers = dict(rate_headers)
        if fault.status == 429:
            headers["X-Rate-Limit-Remaining"] = "0"
            headers["X-Rate-Limit-Reset"] = str(int(time.time()) + fault.reset_in)
            return _Response(429, {"errors": "Rate limit exceeded"}), headers
        extra: dict[str, str] = {}
        if fault.status == 503:
            extra["Retry-After"] = str(1 if fault.retry_after is None else fault.retry_after)
            return _Response(503, {"errors": "Service Unavailable"}, extra), headers
        if fault.retry_after is not None:
            extra["Retry-After"] = str(fault.retry_after)
        body = {"errors": f"injected fault (HTTP {fault.status})"}
        return _Response(fault.status, body, extra), headers

    def _quota_headers(self, *, consume: bool) -> tuple[bool, dict[str, str]]:
        """Advance the rate-limit window; ``consume`` spends one call of the quota."""
        with self.state.lock:
            now = time.time()
            if now >= self._rl_start + self._rl_window:
                self._rl_start, self._rl_used = now, 0
            allowed = self._rl_used < self._rl_limit
            if consume and allowed:
                self._rl_used += 1
            headers = {
                "X-Rate-Limit-Limit": str(self._rl_limit),
                "X-Rate-Limit-Remaining": str(max(0, self._rl_limit - self._rl_used)),
                "X-Rate-Limit-Reset": str(math.ceil(self._rl_start + self._rl_window)),
            }
            return allowed or not consume, headers

    @staticmethod
    def _compile(
        table: list[tuple[str, str, Handler, bool]],
    ) -> list[tuple[str, re.Pattern[str], Handler, bool]]:
        return [(m, re.compile(p + r"\Z"), h, auth) for m, p, h, auth in table]

    def _route(
        self, routes: list[tuple[str, re.Pattern[str], Handler, bool]], req: _Request
    ) -> _Response:
        path_known = False
        for method, pattern, handler, needs_auth in routes:
            match = pattern.match(req.path)
            if match is None:
                continue
            path_known = True
            if method != req.method:
                continue
            if needs_auth:
                self._authenticate(req)
            with self.state.lock:
                return handler(req, match)
        if path_known:
            return _Response(405, {"errors": f"{req.method} is not allowed on {req.path}"})
        return _Response(404, {"errors": f"No route matches {req.method} {req.path}"})

    def _authenticate(self, req: _Request) -> None:
        auth = req.headers.get("authorization", "")
        scheme, _, token = auth.partition(" ")
        with self.state.lock:
            grant = self.state.tokens.get(token.strip()) if scheme.lower() == "bearer" else None
            if grant is None or grant["expires_at"] <= time.time():
                raise SandboxError(
                    401,
                    "The access token is missing, invalid or expired",
                    {"WWW-Authenticate": 'Bearer error="invalid_token"'},
                )
            client_id = grant["client_id"]
            req.actor = Actor(client_id, self._clients[client_id][1])
        company = req.headers.get("procore-company-id")
        if company is None or not company.strip():
            raise SandboxError(400, "Procore-Company-Id header is required")
        if company.strip() != str(self.company_id):
            raise SandboxError(403, f"No access to company {company.strip()}")

    # --- route tables ---------------------------------------------------------------------
    def _api_route_table(self) -> list[tuple[str, str, Handler, bool]]:
        kinds = "(?P<kind>work_order_contracts|purchase_order_contracts)"
        one = rf"/rest/v1\.0/{kinds}/(?P<id>\d+)"
        return [
            ("POST", r"/oauth/token", self._h_token, False),
            ("GET", r"/rest/v1\.0/projects", self._h_list_projects, True),
            ("GET", r"/rest/v1\.0/projects/(?P<id>\d+)", self._h_get_project, True),
            ("GET", r"/rest/v1\.0/vendors", self._h_list_vendors, True),
            ("GET", r"/rest/v1\.0/vendors/(?P<id>\d+)", self._h_get_vendor, True),
            ("GET", r"/rest/v1\.0/cost_codes", self._h_list_cost_codes, True),
            ("GET", r"/rest/v1\.0/line_item_types", self._h_list_line_item_types, True),
            ("GET", rf"/rest/v1\.0/{kinds}", self._h_list_commitments, True),
            ("POST", rf"/rest/v1\.0/{kinds}", self._h_create_commitment, True),
            ("GET", one, self._h_get_commitment, True),
            ("PATCH", one, self._h_update_commitment, True),
            ("DELETE", one, self._h_delete_commitment, True),
            ("PATCH", rf"/rest/v1\.0/{kinds}/sync", self._h_sync_commitments, True),
            ("PATCH", r"/rest/v1\.0/vendors/sync", self._h_sync_vendors, True),
            ("PATCH", r"/rest/v1\.0/projects/sync", self._h_sync_projects, True),
            # company setup: projects, the company directory, sub jobs, cost codes, cost types
            ("POST", r"/rest/v1\.0/projects", self._h_create_project, True),
            ("PATCH", r"/rest/v1\.0/projects/(?P<id>\d+)", self._h_update_project, True),
            ("POST", r"/rest/v1\.0/vendors", self._h_create_vendor, True),
            ("PATCH", r"/rest/v1\.0/vendors/(?P<id>\d+)", self._h_update_vendor, True),
            (
                "POST",
                r"/rest/v1\.0/vendors/(?P<id>\d+)/business_register",
                self._h_vendor_business_register,
                True,
            ),
            ("GET", r"/rest/v1\.0/sub_jobs", self._h_list_sub_jobs, True),
            ("POST", r"/rest/v1\.0/sub_jobs", self._h_create_sub_job, True),
            ("PATCH", r"/rest/v1\.0/sub_jobs/sync", self._h_sync_sub_jobs, True),
            ("POST", r"/rest/v1\.0/cost_codes", self._h_create_cost_code, True),
            ("PATCH", r"/rest/v1\.0/cost_codes/sync", self._h_sync_cost_codes, True),
            (
                "GET",
                r"/rest/v1\.0/standard_cost_code_lists",
                self._h_list_standard_cost_code_lists,
                True,
            ),
            ("GET", r"/rest/v1\.0/standard_cost_codes", self._h_list_standard_cost_codes, True),
            (
                "PATCH",
                r"/rest/v1\.0/standard_cost_codes/sync",
                self._h_sync_standard_cost_codes,
                True,
            ),
            ("POST", r"/rest/v1\.0/line_item_types", self._h_create_line_item_type, True),
            ("PATCH", r"/rest/v1\.0/line_item_types/sync", self._h_sync_line_item_types, True),
            ("GET", one + "/line_items", self._h_list_lines, True),
            ("POST", one + "/line_items", self._h_create_line, True),
            ("GET", one + r"/line_items/(?P<line_id>\d+)", self._h_get_line, True),
            ("PATCH", one + r"/line_items/(?P<line_id>\d+)", self._h_update_line, True),
            ("DELETE", one + r"/line_items/(?P<line_id>\d+)", self._h_delete_line, True),
        ]

    def _control_route_table(self) -> list[tuple[str, str, Handler, bool]]:
        return [
            ("GET", r"/_sandbox/faults", self._c_list_faults, False),
            ("POST", r"/_sandbox/faults", self._c_add_fault, False),
            ("DELETE", r"/_sandbox/faults", self._c_clear_faults, False),
            ("POST", r"/_sandbox/seed", self._c_seed, False),
            ("POST", r"/_sandbox/reset", self._c_reset, False),
            ("GET", r"/_sandbox/deliveries", self._c_deliveries, False),
            ("GET", r"/_sandbox/events", self._c_events, False),
            ("POST", r"/_sandbox/webhook", self._c_webhook, False),
            ("GET", r"/_sandbox/request_counts", self._c_request_counts, False),
            ("POST", r"/_sandbox/rate_limit", self._c_rate_limit, False),
            ("POST", r"/_sandbox/tokens/revoke", self._c_revoke_tokens, False),
        ]

    # --- OAuth ----------------------------------------------------------------------------
    def _h_token(self, req: _Request, _: re.Match[str]) -> _Response:
        content_type = req.headers.get("content-type", "")
        if "json" in content_type:
            form = {k: str(v) for k, v in _json_body(req).items()}
        else:
            parsed = parse_qs(req.body.decode("utf-8", "replace"), keep_blank_values=True)
            form = {k: v[0] for k, v in parsed.items()}
        if form.get("grant_type") != "client_credentials":
            return _Response(400, {"error": "unsupported_grant_type"})
        client = self._clients.get(form.get("client_id", ""))
        secret = form.get("client_secret", "")
        if client is None or not secrets.compare_digest(client[0], secret):
            return _Response(
                401,
                {
                    "error": "invalid_client",
                    "error_description": "Client authentication failed.",
                },
            )
        token = secrets.token_urlsafe(32)
        created = int(time.time())
        self.state.tokens[token] = {
            "client_id": form["client_id"],
            "expires_at": created + self.token_ttl,
        }
        return _Response(
            200,
            {
                "access_token": token,
                "token_type": "bearer",
                "expires_in": self.token_ttl,
                "created_at": created,
            },
        )

    # --- company and project records ------------------------------------------------------
    def _check_company_param(self, req: _Request) -> None:
        company = _required_param(req, "company_id")
        if company != str(self.company_id):
            raise SandboxError(403, f"No access to company {company}")

    def _project(self, project_id: int | str) -> dict[str, Any]:
        record = self.state.projects.get(int(project_id))
        if record is None:
            raise SandboxError(404, f"Project {project_id} not found")
        return record

    def _project_param(self, req: _Request) -> int:
        raw = _required_param(req, "project_id")
        try:
            pid = int(raw)
        except ValueError:
            raise SandboxError(400, "project_id must be an integer") from None
        self._project(pid)
        return pid

    def _h_list_projects(self, req: _Request, _: re.Match[str]) -> _Response:
        self._check_company_param(req)
        return self._page(req, self.state.projects)

    def _h_get_project(self, req: _Request, m: re.Match[str]) -> _Response:
        self._check_company_param(req)
        return _Response(200, copy.deepcopy(self._project(m["id"])))

    def _h_list_vendors(self, req: _Request, _: re.Match[str]) -> _Response:
        self._check_company_param(req)
        return self._page(req, self.state.vendors)

    def _h_get_vendor(self, req: _Request, m: re.Match[str]) -> _Response:
        self._check_company_param(req)
        record = self.state.vendors.get(int(m["id"]))
        if record is None:
            raise SandboxError(404, f"Vendor {m['id']} not found")
        return _Response(200, copy.deepcopy(record))

    def _h_list_cost_codes(self, req: _Request, _: re.Match[str]) -> _Response:
        """A project's cost codes; ``sub_job_id`` narrows them to that sub job's."""
        pid = self._project_param(req)
        codes = self.state.cost_codes.get(pid, {})
        if req.param("sub_job_id"):
            sid = self._sub_job_in(pid, req.param("sub_job_id"))
            codes = {cid: c for cid, c in codes.items() if c.get("sub_job_id") == sid}
        return self._page(req, codes)

    def _h_list_line_item_types(self, req: _Request, _: re.Match[str]) -> _Response:
        if req.param("project_id"):
            self._project_param(req)
        else:
            self._check_company_param(req)
        return self._page(req, self.state.line_item_types)

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

    # --- commitments ----------------------------------------------------------------------
    @staticmethod
    def _kind(name: str) -> CommitmentKind:
        for kind in KINDS.values():
            if name in (kind.segment, kind.singular):
                return kind
        raise ValueError(f"unknown commitment kind {name!r}")

    def _commitment(
        self, kind: CommitmentKind, commitment_id: int | str, project_id: int | None
    ) -> dict[str, Any]:
        record = self.state.commitments[kind.segment].get(int(commitment_id))
        if record is None or (project_id is not None and record["project"]["id"] != project_id):
            raise SandboxError(404, f"{kind.resource_name[:-1]} {commitment_id} not found")
        return record

    def _body_project(self, req: _Request, body: Mapping[str, Any]) -> int:
        """project_id from the body, else the query; required; must exist."""
        raw = body.get("project_id", req.param("project_id"))
        if raw is None or raw == "":
            raise SandboxError(422, {"project_id": ["can't be blank"]})
        pid = _as_int(raw, "project_id")
        self._project(pid)
        return pid

    def _apply_commitment_fields(
        self, kind: CommitmentKind, record: dict[str, Any], fields: Mapping[str, Any]
    ) -> None:
        """Validate everything first, then write: a 422 leaves the record untouched."""
        changes: dict[str, Any] = {}
        errors: dict[str, list[str]] = {}
        if "status" in fields:
            if fields["status"] not in COMMITMENT_STATUSES:
                errors["status"] = ["is not included in the list"]
            changes["status"] = fields["status"]
        if "vendor_id" in fields:
            vendor_id = fields["vendor_id"]
            if vendor_id is None:
                changes["vendor"] = None
            else:
                vendor = self.state.vendors.get(_as_int(vendor_id, "vendor_id"))
                if vendor is None:
                    errors["vendor"] = ["must exist"]
                else:
                    changes["vendor"] = {"id": vendor["id"], "company": vendor["name"]}
        if "number" in fields and fields["number"] is not None:
            number = str(fields["number"])
            taken = any(
                other["number"] == number
                and other["project"]["id"] == record["project"]["id"]
                and other["id"] != record.get("id")
                for other in self.state.commitments[kind.segment].values()
            )
            if taken:
                errors["number"] = ["has already been taken"]
            changes["number"] = number
        if "retainage_percent" in fields and fields["retainage_percent"] is not None:
            try:
                percent = _decimal(fields["retainage_percent"], "retainage_percent")
            except SandboxError:
                errors["retainage_percent"] = ["is not a number"]
            else:
                if not Decimal(0) <= percent <= Decimal(100):
                    errors["retainage_percent"] = ["must be between 0 and 100"]
                changes["retainage_percent"] = _money(percent)
        elif "retainage_percent" in fields:
            changes["retainage_percent"] = None
        if "executed" in fields:
            if not isinstance(fields["executed"], bool):
                errors["executed"] = ["must be true or false"]
            changes["executed"] = fields["executed"]
        if "contract_date" in fields:  # Procore: a date (YYYY-MM-DD) or null
            value = fields["contract_date"]
            try:
                changes["contract_date"] = (None if value in (None, "")
                                            else date.fromisoformat(str(value)).isoformat())
            except ValueError:
                errors["contract_date"] = ["is not a date"]
        for name in ("title", "description", "origin_id", "origin_code", "origin_data"):
            if name in fields:
                value = fields[name]
                changes[name] = None if value is None else str(value)
        if errors:
            raise SandboxError(422, errors)
        record.update(changes)

    def _create_commitment(
        self,
        kind_name: str,
        project_id: int,
        fields: Mapping[str, Any],
        actor: Actor,
        out: list[_Outgoing],
    ) -> dict[str, Any]:
        kind = self._kind(kind_name)
        project = self._project(project_id)
        now = _now_iso()
        cid = self.state.next_id()
        existing = [
            c
            for c in self.state.commitments[kind.segment].values()
            if c["project"]["id"] == project["id"]
        ]
        record: dict[str, Any] = {
            "id": cid,
            "number": str(len(existing) + 1),
            "title": None,
            "status": "Draft",
            "executed": False,
            "vendor": None,
            "project": {"id": project["id"], "name": project["name"]},
            "retainage_percent": None,
            "contract_date": None,
            "description": None,
            "grand_total": "0.00",
            "origin_id": None,
            "origin_code": None,
            "origin_data": None,
            "created_at": now,
            "updated_at": now,
        }
        while any(c["number"] == record["number"] for c in existing):
            record["number"] = str(int(record["number"]) + 1)
        self._apply_commitment_fields(kind, record, fields)
        self.state.commitments[kind.segment][cid] = record
        self.state.line_items[cid] = {}
        self._event("create", kind.resource_name, cid, project["id"], actor, out)
        return copy.deepcopy(record)

    def _update_commitment(
        self,
        kind_name: str,
        commitment_id: int,
        project_id: int | None,
        fields: Mapping[str, Any],
        actor: Actor,
        out: list[_Outgoing],
    ) -> dict[str, Any]:
        kind = self._kind(kind_name)
        record = self._commitment(kind, commitment_id, project_id)
        self._apply_commitment_fields(kind, record, fields)
        record["updated_at"] = _now_iso()
        self._event("update", kind.resource_name, record["id"], record["project"]["id"], actor, out)
        return copy.deepcopy(record)

    def _delete_commitment(
        self,
        kind_name: str,
        commitment_id: int,
        project_id: int | None,
        actor: Actor,
        out: list[_Outgoing],
    ) -> None:
        kind = self._kind(kind_name)
        record = self._commitment(kind, commitment_id, project_id)
        del self.state.commitments[kind.segment][record["id"]]
        self.state.line_items.pop(record["id"], None)
        self._event("delete", kind.resource_name, record["id"], record["project"]["id"], actor, out)

    def _h_list_commitments(self, req: _Request, m: re.Match[str]) -> _Response:
        """A project's commitments; ``filters[updated_at]`` narrows them like Procore."""
        pid = self._project_param(req)
        raw = req.param("filters[updated_at]")
        low, high = self._updated_at_range(raw) if raw is not None else (None, None)

        def updated_within(record: dict[str, Any]) -> bool:
            if low is None or high is None:
                return True
            stamp = datetime.fromisoformat(str(record["updated_at"]).replace("Z", "+00:00"))
            return low <= stamp <= high

        records = {
            cid: c
            for cid, c in self.state.commitments[m["kind"]].items()
            if c["project"]["id"] == pid and updated_within(c)
        }
        return self._page(req, records)

    @staticmethod
    def _updated_at_range(raw: str) -> tuple[datetime, datetime]:
        """``a...b``, inclusive: each end a date (``YYYY-MM-DD``, the whole day) or a
        datetime with ``Z`` or an offset (``YYYY-MM-DDTHH:MM:SSZ``, ``...+HH:MM``).
        Anything else answers 400 naming the filter."""
        problem = (
            "filters[updated_at] must be an ISO 8601 range 'start...end' of dates "
            "(YYYY-MM-DD) or datetimes (YYYY-MM-DDTHH:MM:SSZ or with a UTC offset)"
        )
        ends = raw.split("...")
        if len(ends) != 2:
            raise SandboxError(400, problem)
        bounds: list[datetime] = []
        for n, end in enumerate(ends):
            try:
                if re.fullmatch(r"\d{4}-\d{2}-\d{2}", end):
                    day = date.fromisoformat(end)
                    bounds.append(
                        datetime(day.year, day.month, day.day, tzinfo=UTC)
                        if n == 0
                        else datetime(day.year, day.month, day.day, 23, 59, 59, 999999, UTC)
                    )
                elif re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(Z|[+-]\d{2}:\d{2})", end):
                    bounds.append(datetime.fromisoformat(end.replace("Z", "+00:00")))
                else:
                    raise ValueError(end)
            except ValueError:
                raise SandboxError(400, f"{problem}; got {raw!r}") from None
        return bounds[0], bounds[1]

    def _h_get_commitment(self, req: _Request, m: re.Match[str]) -> _Response:
        pid = self._project_param(req)
        return _Response(200, copy.deepcopy(self._commitment(KINDS[m["kind"]], m["id"], pid)))

    def _h_create_commitment(self, req: _Request, m: re.Match[str]) -> _Response:
        kind = KINDS[m["kind"]]
        body = _json_body(req)
        pid = self._body_project(req, body)
        fields = _wrapped(body, kind.singular)
        assert req.actor is not None
        return _Response(
            201, self._create_commitment(kind.segment, pid, fields, req.actor, req.events)
        )

    def _h_update_commitment(self, req: _Request, m: re.Match[str]) -> _Response:
        kind = KINDS[m["kind"]]
        body = _json_body(req)
        pid = self._body_project(req, body)
        fields = _wrapped(body, kind.singular)
        assert req.actor is not None
        record = self._update_commitment(
            kind.segment, int(m["id"]), pid, fields, req.actor, req.events
        )
        return _Response(200, record)

    def _h_delete_commitment(self, req: _Request, m: re.Match[str]) -> _Response:
        pid = self._project_param(req)
        assert req.actor is not None
        self._delete_commitment(m["kind"], int(m["id"]), pid, req.actor, req.events)
        return _Response(204)

    # --- commitment line items ------------------------------------------------------------
    def _line(self, commitment_id: int, line_id: int | str) -> dict[str, Any]:
        record = self.state.line_items.get(commitment_id, {}).get(int(line_id))
        if record is None:
            raise SandboxError(404, f"Line item {line_id} not found")
        return record

    def _apply_line_fields(
        self, project_id: int, record: dict[str, Any], fields: Mapping[str, Any]
    ) -> None:
        """Validate then write; amount defaults to quantity x unit_cost when not given."""
        changes: dict[str, Any] = {}
        errors: dict[str, list[str]] = {}
        numbers: dict[str, Decimal | None] = {}
        for name in ("amount", "quantity", "unit_cost"):
            if name in fields:
                if fields[name] is None or fields[name] == "":
                    numbers[name] = None
                    continue
                try:
                    numbers[name] = _decimal(fields[name], name)
                except SandboxError:
                    errors[name] = ["is not a number"]
        if "cost_code_id" in fields:
            ccid = fields["cost_code_id"]
            if ccid is None:
                changes["cost_code"] = None
                changes["cost_code_id"] = None
            else:
                code = self.state.cost_codes.get(project_id, {}).get(_as_int(ccid, "cost_code_id"))
                if code is None:
                    errors["cost_code"] = ["must exist"]
                else:
                    changes["cost_code"] = {  # as Procore's line item schema names them
                        "id": code["id"],
                        "full_code": code["full_code"],
                        "name": code["name"],
                        "origin_id": code.get("origin_id"),
                    }
                    changes["cost_code_id"] = code["id"]
        if "line_item_type_id" in fields:
            ltid = fields["line_item_type_id"]
            if ltid is None:
                changes["line_item_type"] = None
                changes["line_item_type_id"] = None
            else:
                lit = self.state.line_item_types.get(_as_int(ltid, "line_item_type_id"))
                if lit is None:
                    errors["line_item_type"] = ["must exist"]
                else:
                    changes["line_item_type"] = {
                        "id": lit["id"],
                        "name": lit["name"],
                        "code": lit["code"],
                    }
                    changes["line_item_type_id"] = lit["id"]
        for name in ("description", "uom", "origin_id"):
            if name in fields:
                changes[name] = None if fields[name] is None else str(fields[name])
        if "quantity" in numbers:
            q = numbers["quantity"]
            changes["quantity"] = None if q is None else _plain(q)
        if "unit_cost" in numbers:
            u = numbers["unit_cost"]
            changes["unit_cost"] = None if u is None else _money(u)
        amount = numbers.get("amount")
        if amount is not None:
            changes["amount"] = _money(amount)
        elif "amount" not in errors:
            q = numbers.get("quantity", _maybe_decimal(record.get("quantity")))
            u = numbers.get("unit_cost", _maybe_decimal(record.get("unit_cost")))
            if q is not None and u is not None and ("quantity" in fields or "unit_cost" in fields):
                changes["amount"] = _money(q * u)
            elif record.get("amount") is None or ("amount" in fields):
                errors["amount"] = ["can't be blank"]
        if errors:
            raise SandboxError(422, errors)
        record.update(changes)

    def _recompute_total(self, commitment: dict[str, Any]) -> None:
        lines = self.state.line_items.get(commitment["id"], {}).values()
        total = sum((Decimal(line["amount"]) for line in lines), Decimal(0))
        commitment["grand_total"] = _money(total)
        commitment["updated_at"] = _now_iso()

    def _line_event(
        self,
        action: str,
        kind: CommitmentKind,
        commitment: dict[str, Any],
        line_id: int,
        actor: Actor,
        out: list[_Outgoing],
    ) -> None:
        related = [{"id": commitment["id"], "name": kind.resource_name}]
        project_id = commitment["project"]["id"]
        self._event(action, kind.line_resource_name, line_id, project_id, actor, out, related)

    def _create_line(
        self,
        kind_name: str,
        commitment_id: int,
        project_id: int | None,
        fields: Mapping[str, Any],
        actor: Actor,
        out: list[_Outgoing],
    ) -> dict[str, Any]:
        kind = self._kind(kind_name)
        commitment = self._commitment(kind, commitment_id, project_id)
        lines = self.state.line_items.setdefault(commitment["id"], {})
        now = _now_iso()
        record: dict[str, Any] = {
            "id": 0,
            "position": len(lines) + 1,
            "description": None,
            "amount": None,
            "quantity": None,
            "unit_cost": None,
            "uom": None,
            "cost_code": None,
            "cost_code_id": None,
            "line_item_type": None,
            "line_item_type_id": None,
            "origin_id": None,
            "created_at": now,
            "updated_at": now,
        }
        self._apply_line_fields(commitment["project"]["id"], record, fields)
        record["id"] = self.state.next_id()
        lines[record["id"]] = record
        self._recompute_total(commitment)
        self._line_event("create", kind, commitment, record["id"], actor, out)
        return copy.deepcopy(record)

    def _update_line(
        self,
        kind_name: str,
        commitment_id: int,
        line_id: int,
        project_id: int | None,
        fields: Mapping[str, Any],
        actor: Actor,
        out: list[_Outgoing],
    ) -> dict[str, Any]:
        kind = self._kind(kind_name)
        commitment = self._commitment(kind, commitment_id, project_id)
        record = self._line(commitment["id"], line_id)
        self._apply_line_fields(commitment["project"]["id"], record, fields)
        record["updated_at"] = _now_iso()
        self._recompute_total(commitment)
        self._line_event("update", kind, commitment, record["id"], actor, out)
        return copy.deepcopy(record)

    def _delete_line(
        self,
        kind_name: str,
        commitment_id: int,
        line_id: int,
        project_id: int | None,
        actor: Actor,
        out: list[_Outgoing],
    ) -> None:
        kind = self._kind(kind_name)
        commitment = self._commitment(kind, commitment_id, project_id)
        record = self._line(commitment["id"], line_id)
        del self.state.line_items[commitment["id"]][record["id"]]
        self._recompute_total(commitment)
        self._line_event("delete", kind, commitment, record["id"], actor, out)

    def _h_list_lines(self, req: _Request, m: re.Match[str]) -> _Response:
        pid = self._project_param(req)
        commitment = self._commitment(KINDS[m["kind"]], m["id"], pid)
        return self._page(req, self.state.line_items.get(commitment["id"], {}))

    def _h_get_line(self, req: _Request, m: re.Match[str]) -> _Response:
        pid = self._project_param(req)
        commitment = self._commitment(KINDS[m["kind"]], m["id"], pid)
        return _Response(200, copy.deepcopy(self._line(commitment["id"], m["line_id"])))

    def _h_create_line(self, req: _Request, m: re.Match[str]) -> _Response:
        body = _json_body(req)
        pid = self._body_project(req, body)
        fields = _wrapped(body, "line_item")
        assert req.actor is not None
        record = self._create_line(m["kind"], int(m["id"]), pid, fields, req.actor, req.events)
        return _Response(201, record)

    def _h_update_line(self, req: _Request, m: re.Match[str]) -> _Response:
        body = _json_body(req)
        pid = self._body_project(req, body)
        fields = _wrapped(body, "line_item")
        assert req.actor is not None
        record = self._update_line(
            m["kind"], int(m["id"]), int(m["line_id"]), pid, fields, req.actor, req.events
        )
        return _Response(200, record)

    def _h_delete_line(self, req: _Request, m: re.Match[str]) -> _Response:
        pid = self._project_param(req)
        assert req.actor is not None
        self._delete_line(m["kind"], int(m["id"]), int(m["line_id"]), pid, req.actor, req.events)
        return _Response(204)

    # --- sync (origin_id / origin_code / origin_data) ---------------------------------------
    def _h_sync_commitments(self, req: _Request, m: re.Match[str]) -> _Response:
        kind = KINDS[m["kind"]]
        body = _json_body(req)
        pid = self._body_project(req, body)
        updates = _sync_updates(body)
        pool = self.state.commitments[kind.segment]
        in_project = {cid: c for cid, c in pool.items() if c["project"]["id"] == pid}
        actor = req.actor
        assert actor is not None

        def changed(record: dict[str, Any]) -> None:
            self._event("update", kind.resource_name, record["id"], pid, actor, req.events)

        return self._sync(updates, in_project, pool, create=None, on_change=changed)

    def _h_sync_vendors(self, req: _Request, _: re.Match[str]) -> _Response:
        body = _json_body(req)
        self._check_company_body(req, body)
        updates = _sync_updates(body)

        def create(item: Mapping[str, Any]) -> dict[str, Any]:
            return self.state.vendors[self.add_vendor(str(item["name"]).strip())["id"]]

        vendors = self.state.vendors
        return self._sync(updates, vendors, vendors, create=create, on_change=None)

    def _h_sync_projects(self, req: _Request, _: re.Match[str]) -> _Response:
        body = _json_body(req)
        self._check_company_body(req, body)
        updates = _sync_updates(body)

        def create(item: Mapping[str, Any]) -> dict[str, Any]:
            return self.state.projects[self.add_project(str(item["name"]).strip())["id"]]

        projects = self.state.projects
        return self._sync(updates, projects, projects, create=create, on_change=None)

    def _check_company_body(self, req: _Request, body: Mapping[str, Any]) -> None:
        raw = body.get("company_id", req.param("company_id"))
        if raw is None or raw == "":
            raise SandboxError(422, {"company_id": ["can't be blank"]})
        if str(raw).strip() != str(self.company_id):
            raise SandboxError(403, f"No access to company {raw}")

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

    # --- projects and the company directory ------------------------------------------------
    def _validate_project(
        self, fields: Mapping[str, Any], record: dict[str, Any] | None
    ) -> tuple[dict[str, Any], dict[str, list[str]]]:
        changes: dict[str, Any] = {}
        errors: dict[str, list[str]] = {}
        _text_changes(fields, PROJECT_TEXT_FIELDS, changes, errors)
        _bool_changes(fields, ("active",), changes, errors)
        _require_text(changes, ("name",), record is None, errors)
        if not errors and ("name" in changes or "project_number" in changes):
            current = record or {}
            name = changes.get("name", current.get("name"))
            number = changes.get("project_number", current.get("project_number"))
            changes["display_name"] = f"{number} - {name}" if number else name
        return changes, errors

    def _validate_vendor(
        self, fields: Mapping[str, Any], record: dict[str, Any] | None
    ) -> tuple[dict[str, Any], dict[str, list[str]]]:
        changes: dict[str, Any] = {}
        errors: dict[str, list[str]] = {}
        _text_changes(fields, VENDOR_TEXT_FIELDS, changes, errors)
        _bool_changes(fields, ("is_active",), changes, errors)
        _require_text(changes, ("name",), record is None, errors)
        if "business_register_attributes" in fields:
            raw = fields["business_register_attributes"]
            register, problems = (None, {}) if raw is None else _business_register(raw)
            for name, messages in problems.items():
                errors[f"business_register.{name}"] = messages
            changes["business_register"] = register
        return changes, errors

    def _blank_project(self) -> dict[str, Any]:
        return self.state.projects[self.add_project("")["id"]]

    def _blank_vendor(self) -> dict[str, Any]:
        return self.state.vendors[self.add_vendor("")["id"]]

    def _vendor(self, vendor_id: int | str) -> dict[str, Any]:
        record = self.state.vendors.get(int(vendor_id))
        if record is None:
            raise SandboxError(404, f"Vendor {vendor_id} not found")
        return record

    def _h_create_project(self, req: _Request, _: re.Match[str]) -> _Response:
        body = _json_body(req)
        self._check_company_body(req, body)
        fields = _wrapped(body, "project")
        record = self._write_record(
            fields,
            None,
            validate=self._validate_project,
            pool=self.state.projects,
            create=self._blank_project,
        )
        actor = self._actor(req)
        self._event("create", PROJECTS_RESOURCE, record["id"], record["id"], actor, req.events)
        return _Response(201, copy.deepcopy(record))

    def _h_update_project(self, req: _Request, m: re.Match[str]) -> _Response:
        body = _json_body(req)
        self._check_company_body(req, body)
        record = self._project(m["id"])
        fields = _wrapped(body, "project")
        self._write_record(
            fields,
            record,
            validate=self._validate_project,
            pool=self.state.projects,
            create=self._blank_project,
        )
        actor = self._actor(req)
        self._event("update", PROJECTS_RESOURCE, record["id"], record["id"], actor, req.events)
        return _Response(200, copy.deepcopy(record))

    def _h_create_vendor(self, req: _Request, _: re.Match[str]) -> _Response:
        body = _json_body(req)
        self._check_company_body(req, body)
        fields = _wrapped(body, "vendor")
        record = self._write_record(
            fields,
            None,
            validate=self._validate_vendor,
            pool=self.state.vendors,
            create=self._blank_vendor,
        )
        actor = self._actor(req)
        self._event("create", COMPANY_VENDORS_RESOURCE, record["id"], None, actor, req.events)
        return _Response(201, copy.deepcopy(record))

    def _h_update_vendor(self, req: _Request, m: re.Match[str]) -> _Response:
        body = _json_body(req)
        self._check_company_body(req, body)
        record = self._vendor(m["id"])
        fields = _wrapped(body, "vendor")
        self._write_record(
            fields,
            record,
            validate=self._validate_vendor,
            pool=self.state.vendors,
            create=self._blank_vendor,
        )
        actor = self._actor(req)
        self._event("update", COMPANY_VENDORS_RESOURCE, record["id"], None, actor, req.events)
        return _Response(200, copy.deepcopy(record))

    def _h_vendor_business_register(self, req: _Request, m: re.Match[str]) -> _Response:
        """Set (or replace) the vendor's tax id; the vendor then shows it."""
        body = _json_body(req)
        self._check_company_body(req, body)
        record = self._vendor(m["id"])
        register, problems = _business_register(body.get("business_register"))
        if problems:
            raise SandboxError(422, problems)
        record["business_register"] = register
        record["updated_at"] = _now_iso()
        actor = self._actor(req)
        self._event("update", COMPANY_VENDORS_RESOURCE, record["id"], None, actor, req.events)
        return _Response(201, copy.deepcopy(register))

    # --- sub jobs ----------------------------------------------------------------------------
    def _sub_job_in(self, project_id: int, raw: object) -> int:
        """A sub job id of ``project_id`` from a query or body value; 404 otherwise."""
        sid = _sync_id(raw)
        record = self.state.sub_jobs.get(sid) if sid is not None else None
        if record is None or record["project_id"] != project_id:
            raise SandboxError(404, f"Sub job {raw} not found")
        return record["id"]

    def _sub_job_validator(self, project_id: int) -> Validator:
        def validate(
            fields: Mapping[str, Any], record: dict[str, Any] | None
        ) -> tuple[dict[str, Any], dict[str, list[str]]]:
            changes: dict[str, Any] = {}
            errors: dict[str, list[str]] = {}
            _text_changes(fields, ("name", "code"), changes, errors)
            _require_text(changes, ("name",), record is None, errors)
            code = changes.get("code")
            if code is not None:
                siblings = {
                    i: s for i, s in self.state.sub_jobs.items() if s["project_id"] == project_id
                }
                if _taken(siblings, "code", code, None if record is None else record["id"]):
                    errors["code"] = ["has already been taken"]
            return changes, errors

        return validate

    def _project_sub_jobs(self, project_id: int) -> dict[int, dict[str, Any]]:
        return {i: s for i, s in self.state.sub_jobs.items() if s["project_id"] == project_id}

    def _h_list_sub_jobs(self, req: _Request, _: re.Match[str]) -> _Response:
        pid = self._project_param(req)
        return self._page(req, self._project_sub_jobs(pid))

    def _h_create_sub_job(self, req: _Request, _: re.Match[str]) -> _Response:
        body = _json_body(req)
        pid = self._body_project(req, body)
        fields = _wrapped(body, "sub_job")
        record = self._write_record(
            fields,
            None,
            validate=self._sub_job_validator(pid),
            pool=self.state.sub_jobs,
            create=lambda: self._new_sub_job(pid),
            origin_fields=ORIGIN_ID_DATA,
        )
        return _Response(201, copy.deepcopy(record))

    def _h_sync_sub_jobs(self, req: _Request, _: re.Match[str]) -> _Response:
        body = _json_body(req)
        pid = self._body_project(req, body)
        updates = _sync_updates(body)
        return self._sync(
            updates,
            self._project_sub_jobs(pid),
            self.state.sub_jobs,
            create=lambda _item: self._new_sub_job(pid),
            on_change=None,
            validate=self._sub_job_validator(pid),
            origin_fields=ORIGIN_ID_DATA,
        )

    # --- project cost codes ----------------------------------------------------------------
    def _biller_codes(self, project_id: int, sub_job_id: int | None) -> dict[int, dict[str, Any]]:
        """The cost codes of one biller: the project itself or one of its sub jobs."""
        codes = self.state.cost_codes.setdefault(project_id, {})
        return {cid: c for cid, c in codes.items() if c.get("sub_job_id") == sub_job_id}

    def _cost_code_validator(self, project_id: int, sub_job_id: int | None) -> Validator:
        """``code`` is one segment; ``full_code`` = parent's full code + "-" + ``code``."""

        def validate(
            fields: Mapping[str, Any], record: dict[str, Any] | None
        ) -> tuple[dict[str, Any], dict[str, list[str]]]:
            changes: dict[str, Any] = {}
            errors: dict[str, list[str]] = {}
            _text_changes(fields, ("code", "name"), changes, errors)
            _require_text(changes, ("code", "name"), record is None, errors)
            codes = self._biller_codes(project_id, sub_job_id)
            if "parent_id" in fields:
                _parent_change(codes, fields["parent_id"], record, changes, errors)
            if errors or ("code" not in changes and "parent_id" not in changes):
                return changes, errors
            current = record or {}
            parent_id = changes.get("parent_id", current.get("parent_id"))
            code = changes.get("code", current.get("code"))
            prefix = codes[parent_id]["full_code"] + COST_CODE_DELIMITER if parent_id else ""
            changes["full_code"] = f"{prefix}{code}"
            own_id = None if record is None else record["id"]
            if _taken(codes, "full_code", changes["full_code"], own_id):
                errors["code"] = ["has already been taken"]
            return changes, errors

        return validate

    def _refresh_full_codes(self, record: dict[str, Any]) -> None:
        """After a code or parent change, children's full codes follow their parent's."""
        codes = self.state.cost_codes.get(record["project_id"], {})
        pending = [record]
        while pending:
            parent = pending.pop()
            for child in codes.values():
                if child.get("parent_id") == parent["id"] and child is not parent:
                    full = parent["full_code"] + COST_CODE_DELIMITER + child["code"]
                    if child["full_code"] != full:
                        child["full_code"] = full
                        child["updated_at"] = _now_iso()
                        pending.append(child)

    def _h_create_cost_code(self, req: _Request, _: re.Match[str]) -> _Response:
        body = _json_body(req)
        pid = self._body_project(req, body)
        raw_sub_job = body.get("sub_job_id", req.param("sub_job_id"))
        sid: int | None = None
        if raw_sub_job is not None and raw_sub_job != "":
            try:
                sid = self._sub_job_in(pid, raw_sub_job)
            except SandboxError:
                raise SandboxError(422, {"sub_job": ["must exist"]}) from None
        fields = _wrapped(body, "cost_code")
        record = self._write_record(
            fields,
            None,
            validate=self._cost_code_validator(pid, sid),
            pool=self._biller_codes(pid, sid),
            create=lambda: self._new_cost_code(pid, sid),
            origin_fields=ORIGIN_ID_DATA,
        )
        return _Response(201, copy.deepcopy(record))

    def _h_sync_cost_codes(self, req: _Request, _: re.Match[str]) -> _Response:
        body = _json_body(req)
        pid = self._body_project(req, body)
        raw_sub_job = body.get("sub_job_id", req.param("sub_job_id"))
        sid = None if raw_sub_job in (None, "") else self._sub_job_in(pid, raw_sub_job)
        updates = _sync_updates(body)
        codes = self._biller_codes(pid, sid)
        return self._sync(
            updates,
            codes,
            codes,
            create=lambda _item: self._new_cost_code(pid, sid),
            on_change=self._refresh_full_codes,
            validate=self._cost_code_validator(pid, sid),
            origin_fields=ORIGIN_ID_DATA,
        )

    # --- standard cost codes (company level) -------------------------------------------------
    def _standard_list(self, raw: object) -> int:
        lid = _sync_id(raw)
        if lid is None or lid not in self.state.standard_cost_code_lists:
            raise SandboxError(404, f"Standard cost code list {raw} not found")
        return lid

    def _list_codes(self, list_id: int) -> dict[int, dict[str, Any]]:
        return {
            i: c
            for i, c in self.state.standard_cost_codes.items()
            if c["standard_cost_code_list_id"] == list_id
        }

    def _standard_code_validator(self, list_id: int) -> Validator:
        """``code`` is sent whole (with the parent's prefix): ``full_code`` = ``code``."""

        def validate(
            fields: Mapping[str, Any], record: dict[str, Any] | None
        ) -> tuple[dict[str, Any], dict[str, list[str]]]:
            changes: dict[str, Any] = {}
            errors: dict[str, list[str]] = {}
            _text_changes(fields, ("code", "name"), changes, errors)
            _require_text(changes, ("code", "name"), record is None, errors)
            codes = self._list_codes(list_id)
            if "parent_id" in fields:
                _parent_change(codes, fields["parent_id"], record, changes, errors)
            if "code" in changes and "code" not in errors:
                own_id = None if record is None else record["id"]
                if _taken(codes, "code", changes["code"], own_id):
                    errors["code"] = ["has already been taken"]
                changes["full_code"] = changes["code"]
            return changes, errors

        return validate

    def _h_list_standard_cost_code_lists(self, req: _Request, _: re.Match[str]) -> _Response:
        self._check_company_param(req)
        return self._page(req, self.state.standard_cost_code_lists)

    def _h_list_standard_cost_codes(self, req: _Request, _: re.Match[str]) -> _Response:
        if req.param("company_id") is not None:
            self._check_company_param(req)
        lid = self._standard_list(_required_param(req, "standard_cost_code_list_id"))
        return self._page(req, self._list_codes(lid))

    def _h_sync_standard_cost_codes(self, req: _Request, _: re.Match[str]) -> _Response:
        body = _json_body(req)
        self._check_company_body(req, body)
        raw = body.get("standard_cost_code_list_id", req.param("standard_cost_code_list_id"))
        if raw is None or raw == "":
            raise SandboxError(422, {"standard_cost_code_list_id": ["can't be blank"]})
        lid = self._standard_list(raw)
        updates = _sync_updates(body)
        return self._sync(
            updates,
            self._list_codes(lid),
            self.state.standard_cost_codes,
            create=lambda _item: self._new_standard_cost_code(lid),
            on_change=None,
            validate=self._standard_code_validator(lid),
            origin_fields=ORIGIN_ID_DATA,
        )

    # --- line item types (cost types) ------------------------------------------------------
    def _validate_line_item_type(
        self, fields: Mapping[str, Any], record: dict[str, Any] | None
    ) -> tuple[dict[str, Any], dict[str, list[str]]]:
        """``csv_import_code`` (or ``code``) is stored and shown as ``code``."""
        changes: dict[str, Any] = {}
        errors: dict[str, list[str]] = {}
        code_key = "csv_import_code" if "csv_import_code" in fields else "code"
        _text_changes(fields, ("name", code_key), changes, errors)
        if code_key in errors and code_key != "csv_import_code":
            errors["csv_import_code"] = errors.pop(code_key)
        if code_key in changes:
            changes["csv_import_code"] = changes.pop(code_key)
        _require_text(changes, ("name", "csv_import_code"), record is None, errors)
        if "csv_import_code" in changes:
            code = changes.pop("csv_import_code")
            if "csv_import_code" not in errors:
                own_id = None if record is None else record["id"]
                if _taken(self.state.line_item_types, "code", code, own_id):
                    errors["csv_import_code"] = ["has already been taken"]
                changes["code"] = code
        if "base_type" in fields:
            if fields["base_type"] not in LINE_ITEM_BASE_TYPES:
                errors["base_type"] = ["is not included in the list"]
            else:
                changes["base_type"] = fields["base_type"]
        return changes, errors

    def _h_create_line_item_type(self, req: _Request, _: re.Match[str]) -> _Response:
        body = _json_body(req)
        self._check_company_body(req, body)
        fields = _wrapped(body, "line_item_type")
        record = self._write_record(
            fields,
            None,
            validate=self._validate_line_item_type,
            pool=self.state.line_item_types,
            create=self._new_line_item_type,
            origin_fields=ORIGIN_ID_DATA,
        )
        return _Response(201, copy.deepcopy(record))

    def _h_sync_line_item_types(self, req: _Request, _: re.Match[str]) -> _Response:
        body = _json_body(req)
        self._check_company_body(req, body)
        updates = _sync_updates(body)
        types = self.state.line_item_types
        return self._sync(
            updates,
            types,
            types,
            create=lambda _item: self._new_line_item_type(),
            on_change=None,
            validate=self._validate_line_item_type,
            origin_fields=ORIGIN_ID_DATA,
        )

    # --- control plane --------------------------------------------------------------------
    def _c_list_faults(self, req: _Request, _: re.Match[str]) -> _Response:
        return _Response(200, [vars(f).copy() for f in self.state.faults])

    def _c_add_fault(self, req: _Request, _: re.Match[str]) -> _Response:
        body = _json_body(req)
        if "status" not in body:
            raise SandboxError(422, {"status": ["can't be blank"]})
        try:
            fault = self.inject_fault(
                _as_int(body["status"], "status"),
                _as_int(body.get("count", 1), "count"),
                body.get("path_prefix"),
                None
                if body.get("retry_after") is None
                else _as_int(body["retry_after"], "retry_after"),
                reset_in=_as_int(body.get("reset_in", 1), "reset_in"),
                method=body.get("method"),
                after_handling=body.get("after_handling") is True,
            )
        except ValueError as exc:
            if isinstance(exc, SandboxError):
                raise
            raise SandboxError(422, {"status": [str(exc)]}) from None
        return _Response(201, vars(fault).copy())

    def _c_clear_faults(self, req: _Request, _: re.Match[str]) -> _Response:
        self.clear_faults()
        return _Response(204)

    def _c_seed(self, req: _Request, _: re.Match[str]) -> _Response:
        body = _json_body(req)
        if body.get("reset"):
            self.reset()
        seeded = self.seed(
            demo=bool(body.get("demo", True)),
            matching_vendors=bool(body.get("matching_vendors", False)),
        )
        return _Response(201, seeded)

    def _c_reset(self, req: _Request, _: re.Match[str]) -> _Response:
        self.reset()
        return _Response(204)

    def _c_deliveries(self, req: _Request, _: re.Match[str]) -> _Response:
        with self._deliveries_cond:
            return _Response(200, copy.deepcopy(self.deliveries))

    def _c_events(self, req: _Request, _: re.Match[str]) -> _Response:
        return _Response(200, copy.deepcopy(self.events))

    def _c_webhook(self, req: _Request, _: re.Match[str]) -> _Response:
        body = _json_body(req)
        try:
            self.set_webhook(
                body.get("url"),
                body.get("authorization"),
                body.get("payload_version"),
                body.get("delivery"),
            )
        except ValueError as exc:
            raise SandboxError(422, {"webhook": [str(exc)]}) from None
        return _Response(
            200,
            {
                "url": self._webhook_url,
                "payload_version": self._payload_version,
                "delivery": self._delivery_mode,
            },
        )

    def _c_request_counts(self, req: _Request, _: re.Match[str]) -> _Response:
        return _Response(200, dict(self.request_counts))

    def _c_rate_limit(self, req: _Request, _: re.Match[str]) -> _Response:
        body = _json_body(req)
        self.set_rate_limit(
            limit=body.get("limit"),
            remaining=body.get("remaining"),
            window_seconds=body.get("window_seconds"),
        )
        return _Response(200, self._quota_headers(consume=False)[1])

    def _c_revoke_tokens(self, req: _Request, _: re.Match[str]) -> _Response:
        self.revoke_tokens()
        return _Response(204)


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


def _parent_change(
    codes: Mapping[int, dict[str, Any]],
    raw: object,
    record: dict[str, Any] | None,
    changes: dict[str, Any],
    errors: dict[str, list[str]],
) -> None:
    """``parent_id``: ``None`` detaches; else a code of the same biller/list, not a cycle."""
    if raw is None or raw == "":
        changes["parent_id"] = None
        return
    parent_id = _sync_id(raw)
    parent = codes.get(parent_id) if parent_id is not None else None
    if parent is None:
        errors["parent"] = ["must exist"]
    elif record is not None and record["id"] in _ancestor_ids(codes, parent):
        errors["parent"] = ["is invalid"]  # itself or one of its own descendants
    else:
        changes["parent_id"] = parent["id"]


def _maybe_decimal(value: object) -> Decimal | None:
    return None if value is None else Decimal(str(value))


# --- HTTP plumbing ------------------------------------------------------------------------
class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client hanging up mid-request is routine here: log it, no stderr traceback."""
        logger.debug("request from %s failed", client_address, exc_info=True)

    def __init__(
        self,
        address: tuple[str, int],
        handler: type[BaseHTTPRequestHandler],
        sandbox: ProcoreSandbox,
    ) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.sandbox = sandbox
        super().__init__(address, handler)


class _RequestHandler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "ProcoreSandbox/1.0"

    def _serve(self) -> None:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0:
            self.send_error(400, "bad Content-Length")
            return
        body = self.rfile.read(length) if length else b""
        status, headers, payload = self.server.sandbox.handle(
            self.command, self.path, dict(self.headers.items()), body
        )
        try:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if payload:
                self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            logger.debug("client went away before the answer to %s %s", self.command, self.path)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s %s", self.address_string(), format % args)


# --- demo data ----------------------------------------------------------------------------
def seed_demo(sandbox: ProcoreSandbox, *, matching_vendors: bool = False) -> dict[str, Any]:
    """A small, realistic company: 2 projects, 3 vendors, cost codes, 5 cost types, and an
    empty ERP standard cost code list ("Sage 100 Contractor").

    Includes the awkward cases the connector must handle: a vendor name over Sage's 30
    characters and cost codes starting with 0 (which Sage cannot take as-is). "Granite Bay
    Concrete" carries an EIN (``business_register``) for tax id matching.

    ``matching_vendors`` adds two more directory companies for name matching ("Valley
    Plumbing & Heating LLC", "Acme Drywall Co."; ``vendor_ids`` keys ``plumbing`` and
    ``drywall``). Opt-in because existing tests pin the default directory at 3 vendors.
    """
    main = sandbox.add_project(
        "Riverside Medical Office Building",
        project_number="2024-001",
        city="Sacramento",
        state_code="CA",
    )
    second = sandbox.add_project(
        "Oak Street Warehouse Renovation", project_number="2024-002", city="Fresno"
    )
    vendors = {
        "concrete": sandbox.add_vendor(
            "Granite Bay Concrete",
            abbreviated_name="GBC",
            business_register={"type": "ein", "identifier": "94-1234567"},
        ),
        "electrical": sandbox.add_vendor(
            "Northern California Electrical Contractors Incorporated",
            abbreviated_name="NCEC",
        ),
        "steel": sandbox.add_vendor("Summit Steel Supply", abbreviated_name="SSS"),
    }
    if matching_vendors:
        vendors["plumbing"] = sandbox.add_vendor(
            "Valley Plumbing & Heating LLC", abbreviated_name="VPH", city="Modesto"
        )
        vendors["drywall"] = sandbox.add_vendor("Acme Drywall Co.", abbreviated_name="ACME")
    main_codes = [
        ("01-100", "General Conditions"),
        ("03-300", "Cast-in-Place Concrete"),
        ("05-120", "Structural Steel"),
        ("09-900", "Painting"),
        ("26-000", "Electrical"),
    ]
    second_codes = [
        ("01-100", "General Conditions"),
        ("02-200", "Site Work"),
        ("03-300", "Cast-in-Place Concrete"),
    ]
    cost_codes: dict[str, dict[str, int]] = {"main": {}, "second": {}}
    for key, project, codes in (("main", main, main_codes), ("second", second, second_codes)):
        for code, name in codes:
            cost_codes[key][code] = sandbox.add_cost_code(project["id"], code, name)["id"]
    types = [
        ("Labor", "L", "labor"),
        ("Material", "M", "materials"),
        ("Equipment", "E", "equipment"),
        ("Subcontract", "S", "commitment"),
        ("Other", "O", "other"),
    ]
    line_item_types = {
        code: sandbox.add_line_item_type(name, code, base)["id"] for name, code, base in types
    }
    erp_list = sandbox.add_standard_cost_code_list("Sage 100 Contractor", is_erp_list=True)
    return {
        "company_id": sandbox.company_id,
        "project_ids": {"main": main["id"], "second": second["id"]},
        "vendor_ids": {key: vendor["id"] for key, vendor in vendors.items()},
        "cost_code_ids": cost_codes,
        "line_item_type_ids": line_item_types,
        "standard_cost_code_list_id": erp_list["id"],
    }


# --- command line -------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    """Run the sandbox in the foreground until SIGINT/SIGTERM."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1", choices=sorted(LOOPBACK_HOSTS))
    parser.add_argument("--port", type=int, default=8010)
    parser.add_argument("--client-id", default="connector-client")
    parser.add_argument("--client-secret", default="connector-secret")
    parser.add_argument("--company-id", type=int, default=4264)
    parser.add_argument("--webhook-url")
    parser.add_argument("--webhook-authorization")
    parser.add_argument("--payload-version", default="v2.0", choices=PAYLOAD_VERSIONS)
    parser.add_argument("--webhook-delivery", default="async", choices=DELIVERY_MODES)
    parser.add_argument("--rate-limit", type=int, default=3600)
    parser.add_argument("--seed", default="demo", choices=("demo", "none"))
    parser.add_argument(
        "--matching-vendors",
        action="store_true",
        help="seed two more directory companies for vendor name matching",
    )
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        sandbox = ProcoreSandbox(
            args.host,
            args.port,
            client_id=args.client_id,
            client_secret=args.client_secret,
            company_id=args.company_id,
            webhook_url=args.webhook_url,
            webhook_authorization=args.webhook_authorization,
            payload_version=args.payload_version,
            webhook_delivery=args.webhook_delivery,
            rate_limit=args.rate_limit,
        )
    except ValueError as exc:
        parser.error(str(exc))
    stopping = threading.Event()

    def _stop(signum: int, _frame: object) -> None:
        logger.info("signal %s received; stopping", signum)
        stopping.set()

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    sandbox.start()
    if args.seed == "demo":
        seeded = sandbox.seed(demo=True, matching_vendors=args.matching_vendors)
        logger.info("seeded demo data: %s", json.dumps(seeded))
    logger.info("ready: %s (company %s)", sandbox.url, sandbox.company_id)
    try:
        while not stopping.wait(0.5):
            pass
    finally:
        sandbox.stop()
    logger.info("stopped")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
