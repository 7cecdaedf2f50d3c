"""The store and what every part of the sandbox shares.

``SandboxState`` holds every record and the id counter behind one lock. ``SandboxError`` is
an HTTP error answer (the Python helpers raise it for the same validation failures).
``_Request``/``_Response`` are one call and its answer as a handler sees them; they live
here, not in ``server``, so the resource modules can use them without importing the module
that assembles them. The helpers read query parameters and JSON bodies the same way for
every resource family.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from devstack.procore_sandbox.faults import Fault
    from devstack.procore_sandbox.webhook_payloads import _Outgoing

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


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
    #: budget line item id -> record (``project_id`` inside; soft deleted: ``deleted_at``)
    budget_line_items: dict[int, dict[str, Any]] = field(default_factory=dict)
    #: budget view id -> record (company level: every project has the standard view)
    budget_views: dict[int, dict[str, Any]] = field(default_factory=dict)
    #: ids of projects whose budget is locked
    locked_budgets: set[int] = field(default_factory=set)
    #: ids of projects with the Budget Changes feature on (legacy modifications then 405)
    budget_changes_enabled: set[int] = field(default_factory=set)
    #: budget modification id -> record (``project_id`` inside)
    budget_modifications: dict[int, dict[str, Any]] = field(default_factory=dict)
    #: budget change id -> record (``project_id`` and its ``adjustments`` inside)
    budget_changes: dict[int, dict[str, Any]] = field(default_factory=dict)
    #: commitment change order (= its legacy change order package) id -> record
    #: (``project_id``, ``contract_id``, ``pco_id`` inside; soft deleted: ``deleted_at``)
    change_orders: dict[int, dict[str, Any]] = field(default_factory=dict)
    #: change order id -> line item id -> record (held by the change order's PCO)
    change_order_lines: dict[int, dict[int, dict[str, Any]]] = field(default_factory=dict)
    #: potential change order id -> the id of the change order whose lines it holds
    potential_change_orders: dict[int, int] = field(default_factory=dict)
    #: ids of projects with the Change Events tool on
    change_events_enabled: set[int] = field(default_factory=set)
    #: change event id -> record (``project_id`` and its ``line_items`` inside)
    change_events: dict[int, dict[str, Any]] = field(default_factory=dict)
    #: billing period id -> record (``project_id`` inside)
    billing_periods: dict[int, dict[str, Any]] = field(default_factory=dict)
    #: requisition (subcontractor invoice) id -> record (``project_id``, ``commitment_id``)
    requisitions: dict[int, dict[str, Any]] = field(default_factory=dict)
    #: requisition id -> item id -> record (one per SOV line / approved CCO line)
    requisition_items: dict[int, dict[int, dict[str, Any]]] = field(default_factory=dict)
    #: contract payment id -> record (``project_id``, ``contract_id`` inside)
    contract_payments: dict[int, dict[str, Any]] = field(default_factory=dict)
    #: direct cost id -> record (``project_id`` inside)
    direct_costs: dict[int, dict[str, Any]] = field(default_factory=dict)
    #: direct cost id -> line item id -> record
    direct_cost_lines: dict[int, dict[int, dict[str, Any]]] = field(default_factory=dict)
    #: prime contract id -> record (``project_id`` inside; soft deleted: ``deleted_at``)
    prime_contracts: dict[int, dict[str, Any]] = field(default_factory=dict)
    #: prime contract id -> line item id -> record (its schedule of values)
    prime_lines: dict[int, dict[int, dict[str, Any]]] = field(default_factory=dict)
    #: prime change order (PCCO) id -> record (``project_id``, ``contract_id`` inside)
    prime_change_orders: dict[int, dict[str, Any]] = field(default_factory=dict)
    #: PCCO id -> line item id -> record
    pcco_lines: dict[int, dict[int, dict[str, Any]]] = field(default_factory=dict)
    #: payment application (owner invoice) id -> record (``project_id``, ``contract_id``)
    payment_applications: dict[int, dict[str, Any]] = field(default_factory=dict)
    #: webhooks hook id -> record (``owned_by_company_id`` or ``owned_by_project_id``)
    hooks: dict[int, dict[str, Any]] = field(default_factory=dict)
    #: webhooks hook id -> trigger id -> record
    hook_triggers: dict[int, dict[int, dict[str, Any]]] = field(default_factory=dict)
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


Handler = Callable[[_Request, "re.Match[str]"], _Response]
#: ``(fields, record or None when creating) -> (changes, errors)``: a resource's own fields
Validator = Callable[
    [Mapping[str, Any], "dict[str, Any] | None"], tuple[dict[str, Any], dict[str, list[str]]]
]
#: ``(method, path pattern, handler method name, needs auth)``: one entry of a route table
Route = tuple[str, str, str, bool]


def _now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


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
