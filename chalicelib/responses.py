"""Shapes of the API's answers, for the OpenAPI document (chalicelib/openapi.py).

The handlers build their answers as dicts (chalicelib/domain/item_views.py and the
services); these models describe them: the keys every answer of a kind has are required,
the rest are named with their types, and every model allows keys it does not name
(``extra="allow"``), so a new key is not a breaking change. The schemathesis run
(tests/integration/test_schemathesis.py) checks real answers against them.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class Error(BaseModel):
    """Every refusal: ``error`` is the code, ``message`` is for the person who sees it."""

    model_config = ConfigDict(extra="allow")

    error: str = Field(examples=["forbidden"])
    message: str
    details: dict[str, Any] | None = Field(
        default=None, description="e.g. field (400), action and required (403), status (409)")
    correlation_id: str | None = Field(default=None, description="500: find it in the logs")


class Answer(_Open):
    """A free-form object answer (a service's state, an import's progress)."""


# ---- items ------------------------------------------------------------------------------
class ActionState(_Open):
    allowed: bool
    possible: bool
    why: str | None = None


class ItemView(_Open):
    """An item as the inbox lists it, with what the caller may do now (``actions``)."""

    id: str = Field(examples=["commitment-501"])
    kind: str
    procore_id: int
    project_id: int | None = None
    subtype: str | None = None
    number: str | None = None
    title: str | None = None
    status: str
    status_label: str
    status_reason: str | None = None
    version: int
    reasons: list[str] = Field(default_factory=list)
    failure: dict[str, Any] | None = None
    sage_keys: dict[str, Any] = Field(default_factory=dict)
    export: dict[str, Any] | None = None
    actions: dict[str, ActionState]


class ItemDetail(ItemView):
    """The list's view plus what an approver reads before deciding."""

    snapshot: dict[str, Any] | None = None
    synced_snapshot: dict[str, Any] | None = None
    waiting_change: dict[str, Any] | None = None
    drift: Any = None


class ItemList(_Open):
    items: list[ItemView]
    next_cursor: str | None = None


class Preview(_Open):
    item_id: str
    status: str | None = None
    command: dict[str, Any] | None = None
    problem: str | None = None


# ---- Sage lists and setup -----------------------------------------------------------------
class PullState(_Open):
    """A pull of a Sage list asked of the relay agent."""

    run_id: str | None = None
    status: str | None = None
    requested_at: str | None = None
    requested_by: str | None = None


class ErpLists(_Open):
    pulls: dict[str, dict[str, Any]]


class ErpJobs(_Open):
    jobs: list[dict[str, Any]]


class ErpVendors(_Open):
    vendors: list[dict[str, Any]]


class VendorSuggestion(_Open):
    sage_vendor: int
    sage_name: str | None = None
    procore_company: int
    procore_name: str | None = None
    score: float
    reasons: list[str]


class VendorSuggestions(_Open):
    suggestions: list[VendorSuggestion]


class ProjectAdded(_Open):
    """A Sage job added to Procore: the new project (Procore's answer), linked."""

    project: dict[str, Any]


class CompanyImported(_Open):
    """A Sage vendor added to Procore's company directory: the company, linked."""

    company: dict[str, Any]


class ErpVendor(_Open):
    vendor: int
    name: str | None = None
    short_name: str | None = None
    inactive: bool | None = None
    archived: bool


class DefaultCostTypes(_Open):
    code: str
    cost_types: list[int]
    version: int


class LinkAnswer(_Open):
    """A link made (``linked``) or previewed (``preview``): what differs between the two
    records; procore_project/sage_job or procore_company/sage_vendor name them."""

    preview: bool | None = None
    linked: bool | None = None
    differences: list[dict[str, Any]] = Field(default_factory=list)


class Unlinked(_Open):
    unlinked: bool
    kind: str
    procore_id: int
    sage_key: str | None = None
    procore_origin: str | None = None
    history: list[dict[str, Any]] = Field(default_factory=list)


class CostCodesRefreshed(_Open):
    project: int
    sent: int
    synced: int
    errors: list[Any]


class SubJobImported(_Open):
    sub_job: dict[str, Any]
    job: int
    phase: int
    adopted: bool


class ImportState(_Open):
    """A budget or prime contract import from Sage: never_imported, waiting_for_sage, ..."""

    project_id: int
    status: str
    job: str | None = None
    requested_at: str | None = None
    requested_by: str | None = None


class JobCostSync(_Open):
    project_id: int
    enabled: bool
    running: bool
    job: str | None = None
    run: dict[str, Any] | None = None
    last_run: dict[str, Any] | None = None
    edited_in_procore: list[dict[str, Any]] = Field(default_factory=list)
    overwritten: list[dict[str, Any]] = Field(default_factory=list)


class PaymentsQueued(_Open):
    queued: list[str]
    pull: PullState
    receipts_pull: PullState


class JobCostsQueued(_Open):
    queued: list[Any]
    running: list[Any]
    projects: dict[str, Any]


class QuarantineEntry(_Open):
    id: str
    status: str
    reason: str | None = None
    size: int | None = None
    sha256: str | None = None
    received_at: str | None = None
    replayable: bool | None = None
    body: str


class Replayed(_Open):
    id: str
    status: str
    outcome: dict[str, Any]


class InboxStatus(_Open):
    counts: dict[str, int]
    agent: dict[str, Any]
    stuck: int | None = None
    stuck_message: str | None = None


class OpenApiDocument(_Open):
    openapi: str
    info: dict[str, Any]
    paths: dict[str, Any]
    components: dict[str, Any]


class LinkView(_Open):
    procore_id: int
    sage_key: str
    sage_name: str | None = None
    in_sage_list: bool | None = None
    linked_at: str | None = None
    linked_by: str | None = None


class LinkList(_Open):
    kind: str
    links: list[LinkView]


class SubJobs(_Open):
    sub_jobs: list[dict[str, Any]]


class CompanySettings(_Open):
    direct_exports: bool
    sync_schedule: dict[str, int]
    advanced: dict[str, Any]
    default_cost_types: dict[str, Any] = Field(default_factory=dict)
    history: list[dict[str, Any]] = Field(default_factory=list)
    version: int
    pulls: dict[str, dict[str, Any]] = Field(default_factory=dict)


class Report(_Open):
    """A report's rows as JSON (``?format=csv`` answers the same rows as text/csv)."""

    rows: list[dict[str, Any]]
    columns: list[str]


# ---- users -----------------------------------------------------------------------------
class UserView(_Open):
    subject: str
    name: str | None = None
    erp_level: Literal["none", "read_only", "standard", "admin"]
    can_push_to_accounting: bool
    accounting_approver: bool
    tool_levels: dict[str, str] = Field(default_factory=dict)
    privileges: list[str] = Field(default_factory=list)
    email: str | None = None
    notify: str | None = Field(default=None, examples=["immediate", "daily", "off"])


class UserList(_Open):
    users: list[UserView]


class UserChange(_Open):
    at: str
    by: str
    subject: str
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None


class UserChanges(_Open):
    changes: list[UserChange]


class Me(UserView):
    can: dict[str, bool]


# ---- operations, sign-in, webhooks -----------------------------------------------------------
class Health(_Open):
    status: str = Field(examples=["ok"])


class Readiness(_Open):
    status: Literal["ok", "degraded"]
    checks: dict[str, str] = Field(description="each dependency: ok or one fixed reason")
    relay_agent_age_seconds: int | None = None


class QuarantineList(_Open):
    entries: list[dict[str, Any]]
    next_cursor: str | None = None


class AuthConfig(_Open):
    mode: Literal["local", "cognito", "none"]
    users: list[dict[str, Any]] | None = None
    client_id: str | None = None
    authorize_url: str | None = None
    token_url: str | None = None
    message: str | None = None


class LocalToken(_Open):
    token: str
    expires_in: int


class WebhookAnswer(_Open):
    status: str = Field(examples=["queued", "skipped", "quarantined"])
    id: str | None = None
    reason: str | None = None

