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
  project or record answers **404**; body validation answers the endpoint's documented
  status (422 or 400) ``{"errors": {field: [message]}}``; an undecodable JSON body
  answers **400**.
* Rate limit: one window (``rate_limit`` calls per ``rate_window`` seconds) for ``/rest/``
  calls; every answer (token and control endpoints too) carries the headers, only
  ``/rest/`` calls consume quota. An exhausted window answers a real 429.
* Commitments and line items (HTTP bodies): each object takes only the keys its create or
  update schema documents, each of its documented kind (text a JSON string; dates, enums,
  integers, booleans checked; money and quantities, typed ``string``, a number as text or
  a JSON number); refusals answer the endpoint's documented status (work orders 422,
  purchase orders and line items 400) and write nothing. The Python helpers skip this
  gate. ``DELETE`` of a commitment soft deletes it (``deleted_at`` set, record kept): lists
  show it only with ``filters[include_deleted]=only|with``; show, update, delete, its line
  items and sync by ``id`` answer as for an unknown record (404). Line item ``DELETE``
  removes the line.
* Webhooks fire for commitment and commitment line item writes (HTTP or the Python
  helpers) and for the HTTP project and company directory writes described below.
  ``metadata.source_application_id`` is the OAuth client id of the caller (or
  ``as_application`` for helpers, default ``"procore-web"``); ``user_id`` is the service
  account user (``SERVICE_ACCOUNT_USER_ID``) for API clients, the web user otherwise.
  v4.0 has no metadata, so a receiver can only recognise its own echoes by ``user_id``.
  Delivery follows Procore's policy (a queue per endpoint, every attempt recorded in
  ``deliveries``; a failure pauses the endpoint and is retried with exponential backoff;
  after ``discard_after`` of failing the queue is flushed into ``discarded``): see
  ``webhook_delivery``.
* ``/_sandbox/*`` control endpoints need no auth and consume no quota.
* Sync (``PATCH /rest/v1.0/{resource}/sync`` with ``{scope, "updates"}``) follows
  Procore's sync table (procore-spec/docs/conventions.json): each update is applied in
  full with the keys its resource's SyncPatch schema lists (other keys are refused, e.g.
  ``origin_code`` on projects); matched on ``id`` (unknown: ``"Entity with this ID not
  found"``), else on ``origin_id`` (unknown: created from the update); neither: created
  without an origin id, except commitments, which are never created through sync here
  (Procore would make a blank Draft). ``origin_id`` is unique per company per resource
  type. Whole-request problems (missing ``updates``, more than ``SYNC_LIMIT`` (1000),
  missing scope) are refused as the schema documents; otherwise **200** ``{"entities",
  "errors"}``, each error the sent update plus ``"errors": {field: [message]}``. Each
  commitment whose origin fields changed fires one ``update`` webhook; project and vendor
  syncs fire none. Details and every choice: docs/decisions.md ("Sandbox projects,
  vendors and syncs follow Procore's schemas").
* Company setup (HTTP only; seeding helpers never notify):

  - ``POST /rest/v1.0/projects`` / ``PATCH /rest/v1.0/projects/{id}`` with
    ``{"company_id", "project": {...}}`` and ``POST /rest/v1.0/vendors`` / ``PATCH
    /rest/v1.0/vendors/{id}`` with ``{"company_id", "vendor": {...}}`` (201 / 200). The
    company may be in the body or the query (missing: **422**, another: **403**). ``name``
    is required to create and can never be blanked; text fields must be JSON strings,
    dates, enums, integers and booleans are checked; unknown keys are refused; answers
    are exactly the documented views; ``origin_id`` unique per company. ``origin_code``
    of a project is written through ``PATCH /projects/{id}``.
  - ``POST /rest/v1.0/vendors/{id}/business_register?company_id=`` with
    ``{"business_register": {"type": "ein"|"abn", "identifier"}}`` answers **201** with
    ``{id, type, identifier, verified_at, verification_status}``; a second POST answers
    **409** ("A Business Register is already associated with the Vendor."); ``PATCH`` the
    same path changes it (**404** when the vendor has none).
  - Webhooks: each project create/update fires ``Projects`` with ``project_id`` = the
    project's own id (the resource is company scoped; Procore payloads are seen both ways,
    this one lets a receiver GET the project straight away); each vendor create/update and
    business register write fires ``Company Vendors`` with ``project_id`` ``null`` (v4.0:
    ``""``, the schema's required string). Both are
    attributed to the calling OAuth application, like commitment writes, and fire on every
    write (also a PATCH that changes nothing). Sub jobs, cost codes, standard cost codes and
    line item types fire none.
  - Sub jobs: ``GET|POST /rest/v1.0/sub_jobs`` (``{project_id, sub_job: {name*, code,
    origin_id, origin_data}}``); ``code`` unique within the project.
  - Cost codes: ``POST /rest/v1.0/cost_codes`` ``{project_id, sub_job_id?, cost_code:
    {code*, name*, parent_id, position, standard_cost_code_id, origin_id, origin_data}}``;
    ``code`` is one segment and ``full_code`` is the parent's full code + ``-`` + ``code``
    (just ``code`` without a parent); ``full_code`` unique per biller (the project, or one
    sub job); the parent must be a code of the same biller (``{"parent": ["must
    exist"]}``), and an unknown ``sub_job_id`` answers ``{"sub_job": ["must exist"]}``.
    Answers name the parent ``parent: {id}`` and the biller ``biller``/``biller_id``/
    ``biller_type`` (lists and sync entities add ``biller_origin_id``); ``sub_job_id``
    filters ``GET``.
  - ``GET /rest/v1.0/standard_cost_code_lists?company_id=`` ``[{id, name, is_erp_list,
    available_to_use_on_new_projects}]``; ``GET /rest/v1.0/standard_cost_codes?
    standard_cost_code_list_id=`` (unknown list 404): codes answer ``{id,
    standard_cost_code_list_id}`` unless ``view=compact`` (adds ``origin_id``) or
    ``view=extended`` (the whole record); ``code`` is one segment and ``full_code`` has the
    parents' prefixes, unique per list.
  - ``POST /rest/v1.0/line_item_types`` ``{company_id, line_item_type: {name*,
    csv_import_code*, base_type, origin_id, origin_data}}`` (no ``code`` key):
    ``csv_import_code`` is shown as ``code`` and is unique per company; ``base_type`` one of
    ``LINE_ITEM_BASE_TYPES`` (default ``other``).
  - Syncs of these (``PATCH .../sub_jobs/sync?project_id=``, ``.../cost_codes/sync?
    project_id=[&sub_job_id=]``, ``.../standard_cost_codes/sync`` with ``{company_id,
    standard_cost_code_list_id, updates}``, ``.../line_item_types/sync`` with ``{company_id,
    updates}``) follow the sync rules above, with two differences: they also write the
    resource's own fields (the POST's value checks, a refused field refusing the whole
    update; unlike the cost code and line item type POSTs, whose bodies are checked key by
    key against their request schemas, these sync updates still take numbers as text and a
    line item type's ``code`` for ``csv_import_code``), and an unmatched ``origin_id``
    creates when the required fields are there (sub job: ``name``; cost codes: ``code`` and
    ``name``; line item types: ``name`` and ``csv_import_code``). They write
    ``origin_id``/``origin_data`` (no ``origin_code``). Scope ids may be in the body or the
    query; an unknown sub job or list answers 404, a missing list id 400. ``origin_id`` is
    unique per company for sub jobs, standard cost codes and line item types, but **per
    biller** for project cost codes (each project carries its own copy of the company's
    codes, so the same ERP code appears once per project and sub job). Creating through a
    sync is retry safe: a resent update matches what the first attempt made by its
    ``origin_id``.

Modules. ``ProcoreSandbox`` (``server``) is assembled from mixins, one per concern and one
per resource family; each mixin lists its own routes.

* ``server``: the loopback HTTP server, the request pipeline (faults, quota, routing),
  the route tables, ``ProcoreSandbox`` and ``main`` (the command line; ``__main__`` runs it).
* ``state``: ``SandboxState`` (every record and the id counter, behind one lock),
  ``SandboxError``, the request and answer types, the parameter and body helpers.
* ``auth``: OAuth clients and tokens, the bearer and company checks, the rate-limit window
  and its headers.
* ``faults``: ``Fault``, ``inject_fault`` and ``/_sandbox/faults``.
* ``webhook_payloads``: the payload Procore would send, per version (v2.0/v3.0/v4.0), its
  ids and ULIDs.
* ``webhook_delivery``: Procore's delivery policy (a queue per endpoint, pause, backoff,
  discard), sync or async delivery, the delivery thread and log.
* ``webhooks``: ``WebhooksMixin`` (payloads plus delivery): configuration, inspection and
  the control endpoints; re-exports the names of the two above.
* ``seeding``: the Python helpers (``add_project``, ``add_vendor``, ``create_commitment``,
  ...) and ``seed_demo``.
* ``resources/``: one module per resource family: ``projects``, ``vendors`` (with the
  business register), ``commitments`` (with their sync), ``line_items`` (a commitment's
  schedule of values), ``cost_codes``
  (project cost codes, standard cost code lists and codes, line item types), ``sub_jobs``,
  ``budgets`` (budget line items, their amounts, the lock, ``seed_budget``,
  ``set_budget_changes``), ``budget_views`` (the standard view, detail rows),
  ``budget_sync`` (``POST budget_line_items/sync``, ``external_data/sync``),
  ``budget_modifications`` (legacy), ``budget_changes``, ``change_orders`` (commitment
  change orders and their legacy packages), ``change_order_lines`` (their v2.0 line items,
  the PCOs holding them), ``change_events``, ``billing_periods``, ``requisitions``
  (subcontractor invoices, v1.0 and v1.1), ``requisition_items`` (their items, summary
  figures and ``bulk_item_update``), ``contract_payments``, ``direct_costs`` (v1.0 and
  v1.1, their sync), ``direct_cost_lines`` (their line items and line item sync), ``hooks``
  (Procore's webhooks API: hooks, triggers, resources; ``hook_fields``); ``common``
  holds what they share (list pages, the sync rules, validated writes). Budget choices:
  docs/decisions.md ("Sandbox budgets follow Procore's budget endpoints"); change orders
  and change events: ("Sandbox commitment change orders ..." and "Sandbox change events
  ..."); invoices and payments: ("Sandbox subcontractor invoices ..."); direct costs:
  ("Sandbox direct costs ...").

A new resource family is a new module under ``resources/``: a mixin with its handlers and
``ROUTES``, added to ``ProcoreSandbox``'s bases and to ``API_ROUTES`` in ``server``. This
module re-exports the public names, so ``from devstack.procore_sandbox import ...`` works
as it did when the sandbox was one module.

Run in the foreground: ``python -m devstack.procore_sandbox --port 8010``.
"""

from __future__ import annotations

from devstack.procore_sandbox.auth import SERVICE_ACCOUNT_USER_ID
from devstack.procore_sandbox.faults import Fault
from devstack.procore_sandbox.resources.billing_periods import BILLING_PERIOD_STATUSES
from devstack.procore_sandbox.resources.budget_changes import BUDGET_CHANGES_RESOURCE
from devstack.procore_sandbox.resources.budget_modifications import (
    BUDGET_MODIFICATIONS_RESOURCE,
)
from devstack.procore_sandbox.resources.budgets import BUDGET_LINE_ITEMS_RESOURCE
from devstack.procore_sandbox.resources.change_events import (
    CHANGE_EVENT_STATUSES,
    CHANGE_EVENTS_RESOURCE,
)
from devstack.procore_sandbox.resources.change_order_lines import PCO_LINE_ITEMS_RESOURCE
from devstack.procore_sandbox.resources.change_orders import (
    CCO_STATUSES,
    CHANGE_ORDER_PACKAGES_RESOURCE,
    POTENTIAL_CHANGE_ORDERS_RESOURCE,
)
from devstack.procore_sandbox.resources.commitments import COMMITMENT_STATUSES
from devstack.procore_sandbox.resources.common import (
    DEFAULT_PER_PAGE,
    MAX_PER_PAGE,
    ORIGIN_ID_DATA,
    SYNC_FIELDS,
    SYNC_LIMIT,
)
from devstack.procore_sandbox.resources.contract_payments import (
    CONTRACT_PAYMENTS_RESOURCE,
    PAYMENT_METHODS,
)
from devstack.procore_sandbox.resources.cost_codes import COST_CODE_DELIMITER, LINE_ITEM_BASE_TYPES
from devstack.procore_sandbox.resources.direct_cost_lines import (
    DIRECT_COST_LINE_ITEMS_RESOURCE,
    DIRECT_COSTS_RESOURCE,
)
from devstack.procore_sandbox.resources.direct_costs import (
    DIRECT_COST_STATUSES,
    DIRECT_COST_TYPES,
)
from devstack.procore_sandbox.resources.projects import PROJECT_TEXT_FIELDS, PROJECTS_RESOURCE
from devstack.procore_sandbox.resources.requisitions import REQUISITION_STATUSES
from devstack.procore_sandbox.resources.vendors import (
    BUSINESS_REGISTER_TYPES,
    COMPANY_VENDORS_RESOURCE,
    VENDOR_TEXT_FIELDS,
)
from devstack.procore_sandbox.seeding import seed_demo
from devstack.procore_sandbox.server import ProcoreSandbox, main
from devstack.procore_sandbox.state import (
    KINDS,
    LOOPBACK_HOSTS,
    Actor,
    CommitmentKind,
    Handler,
    SandboxError,
    SandboxState,
    Validator,
)
from devstack.procore_sandbox.webhook_delivery import DELIVERY_MODES, WEBHOOK_TIMEOUT
from devstack.procore_sandbox.webhook_payloads import (
    PAYLOAD_VERSIONS,
    WEB_APPLICATION_ID,
    WEB_USER_ID,
    new_ulid,
)

__all__ = [
    "BILLING_PERIOD_STATUSES",
    "BUDGET_CHANGES_RESOURCE",
    "BUDGET_LINE_ITEMS_RESOURCE",
    "BUDGET_MODIFICATIONS_RESOURCE",
    "BUSINESS_REGISTER_TYPES",
    "CCO_STATUSES",
    "CHANGE_EVENTS_RESOURCE",
    "CHANGE_EVENT_STATUSES",
    "CHANGE_ORDER_PACKAGES_RESOURCE",
    "COMMITMENT_STATUSES",
    "COMPANY_VENDORS_RESOURCE",
    "CONTRACT_PAYMENTS_RESOURCE",
    "COST_CODE_DELIMITER",
    "DEFAULT_PER_PAGE",
    "DELIVERY_MODES",
    "DIRECT_COSTS_RESOURCE",
    "DIRECT_COST_LINE_ITEMS_RESOURCE",
    "DIRECT_COST_STATUSES",
    "DIRECT_COST_TYPES",
    "KINDS",
    "LINE_ITEM_BASE_TYPES",
    "LOOPBACK_HOSTS",
    "MAX_PER_PAGE",
    "ORIGIN_ID_DATA",
    "PAYLOAD_VERSIONS",
    "PAYMENT_METHODS",
    "PCO_LINE_ITEMS_RESOURCE",
    "POTENTIAL_CHANGE_ORDERS_RESOURCE",
    "PROJECTS_RESOURCE",
    "PROJECT_TEXT_FIELDS",
    "REQUISITION_STATUSES",
    "SERVICE_ACCOUNT_USER_ID",
    "SYNC_FIELDS",
    "SYNC_LIMIT",
    "VENDOR_TEXT_FIELDS",
    "WEBHOOK_TIMEOUT",
    "WEB_APPLICATION_ID",
    "WEB_USER_ID",
    "Actor",
    "CommitmentKind",
    "Fault",
    "Handler",
    "ProcoreSandbox",
    "SandboxError",
    "SandboxState",
    "Validator",
    "main",
    "new_ulid",
    "seed_demo",
]
