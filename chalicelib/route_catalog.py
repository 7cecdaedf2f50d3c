"""Every HTTP route of the connector, declared once: what it does, who may call it, what it
reads and what it answers.

The OpenAPI document (chalicelib/openapi.py) is generated from this table, and the
route-rule test (tests/integration/test_route_rules.py) fails on a route of ``app.routes``
missing here or an entry here with no route, so the table cannot drift from the app.

``rule`` is the Permission the route's service requires (``require(user, permission)``),
or PUBLIC (no bearer token: liveness, the inbox's files and sign-in configuration, the
document itself, and the webhook, which checks a token of its own), or SIGNED_IN (any
verified caller). Where the permission depends on the request (the item's kind, the list
refreshed), ``rule`` is the one the example asks for and ``rule_note`` says the rest.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel

from chalicelib import requests as rq
from chalicelib import responses as rs
from chalicelib.domain.permissions import Permission

PUBLIC = "public"
SIGNED_IN = "signed-in"
Rule = Permission | Literal["public", "signed-in"]
P = Permission

STATUS_VALUES = ["not_ready", "ready_to_export", "retrieved", "accepted", "rejected",
                 "exporting", "synced", "failed", "unlinked", "withdrawn"]


@dataclass(frozen=True)
class Query:
    name: str
    schema: dict[str, Any]
    description: str
    required: bool = False


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    summary: str
    tag: str
    rule: Rule
    response: type[BaseModel] | None  # None: not JSON (see content)
    success: tuple[int, ...] = (200,)
    request: type[BaseModel] | None = None
    request_schema: dict[str, Any] | None = None  # a body no model reads (JSON schema)
    body_optional: bool = False  # an empty body means {}
    errors: tuple[int, ...] = ()  # besides 401 (not public), 403 (a Permission), 400 (a body)
    query: tuple[Query, ...] = ()
    example: dict[str, Any] = field(default_factory=dict)  # path parameter values
    body: dict[str, Any] | None = None  # an example request body
    rule_note: str = ""
    content: str = "application/json"  # the success answer's media type
    csv: bool = False  # ?format=csv answers text/csv as well


FORMAT = Query("format", {"type": "string", "enum": ["json", "csv"]},
               "csv downloads the rows as a CSV file (default json)")
PROJECT_Q = Query("project_id", {"type": "integer", "minimum": 1}, "a Procore project id")
PROJECT_REQUIRED = Query("project_id", {"type": "integer", "minimum": 1},
                         "the Procore project id", required=True)
LIMIT = Query("limit", {"type": "integer", "minimum": 1, "maximum": 200},
              "page size (default 50)")
CURSOR = Query("cursor", {"type": "string"}, "next_cursor of the previous page")
ITEM = {"item_id": "commitment-501"}
PROJECT = {"project_id": 11}
BY_KIND = "per the item's kind: admin on the Procore tool that holds it"


def _item_action(action: str, summary: str, rule: Permission, request: Any = None,
                 body: dict[str, Any] | None = None, note: str = "",
                 optional: bool = False) -> Operation:
    return Operation("POST", f"/items/{{item_id}}/{action}", summary, "items", rule,
                     rs.ItemView, request=request, body=body, errors=(404, 409),
                     example=ITEM, rule_note=note, body_optional=optional)


OPERATIONS: tuple[Operation, ...] = (
    # ---- items (accounting acceptance) ------------------------------------------------------
    Operation("GET", "/items", "List items, newest first, by status, kind or project", "items",
              P.READ_INBOX, rs.ItemList, errors=(400,), query=(
                  Query("status", {"type": "string", "enum": STATUS_VALUES}, "only this status"),
                  Query("kind", {"type": "string"}, "only this item kind"),
                  PROJECT_Q, LIMIT, CURSOR)),
    Operation("GET", "/items/{item_id}", "One item with its snapshot and drift", "items",
              P.READ_INBOX, rs.ItemDetail, errors=(404,), example=ITEM),
    _item_action("accept", "Accept an item for export to Sage", P.ACCEPT_OR_REJECT,
                 rq.AcceptBody, {}, optional=True),
    _item_action("reject", "Reject an item with a reason", P.ACCEPT_OR_REJECT, rq.RejectBody,
                 {"reason": "wrong cost code"}),
    _item_action("retrieve", "Take an item back (sender)", P.SEND_RETRIEVE_RESEND,
                 note=BY_KIND),
    _item_action("resend", "Send a retrieved, rejected or failed item again",
                 P.SEND_RETRIEVE_RESEND, note=BY_KIND),
    _item_action("unlink", "Unlink an item synced with Sage", P.UNLINK),
    Operation("POST", "/items/send", "Send a Procore record for accounting acceptance",
              "items", P.SEND_RETRIEVE_RESEND, rs.ItemDetail, request=rq.SendBody,
              errors=(404, 409, 502), body={"kind": "commitment", "commitment_type": "subcontract",
                                       "procore_id": 501, "project_id": 11},
              rule_note=BY_KIND + "; a project needs add_project_to_erp"),
    Operation("GET", "/items/{item_id}/preview", "What the item's export will write to Sage",
              "items", P.READ_INBOX, rs.Preview, errors=(404,), example=ITEM),
    # ---- Sage lists and setup ------------------------------------------------------------
    Operation("GET", "/erp/lists", "The Sage lists and when each was last pulled", "setup",
              P.READ_INBOX, rs.ErpLists),
    Operation("POST", "/erp/lists/{list_name}/refresh", "Ask the agent to pull a Sage list now",
              "setup", P.REFRESH_COMPANIES, rs.PullState, success=(202,), errors=(404,),
              example={"list_name": "vendors"},
              rule_note="per list: vendors refresh_companies, cost_codes/cost_types "
                        "refresh_cost_codes, jobs add_erp_job_to_procore, phases "
                        "import_sub_job, budgets import_budget, payments/receipts "
                        "sync_paid_invoices, commitments/receivables "
                        "view_reconciliation_report"),
    Operation("GET", "/erp/jobs", "Sage jobs and the Procore projects they are linked to",
              "setup", P.READ_INBOX, rs.ErpJobs),
    Operation("POST", "/erp/jobs/{job}/add-to-procore", "Create a Procore project from a Sage "
              "job", "setup", P.ADD_ERP_JOB_TO_PROCORE, rs.ProjectAdded, success=(201,),
              errors=(400, 404, 409, 502), example={"job": 24001}),
    Operation("GET", "/erp/vendors", "Sage vendors (archived=true: the archived ones)", "setup",
              P.READ_INBOX, rs.ErpVendors, csv=True, query=(
                  Query("archived", {"type": "string", "enum": ["true", "false"]},
                        "true lists archived vendors (view_archived_companies)"),
                  Query("format", {"type": "string", "enum": ["json", "csv"]},
                        "csv downloads the list")),
              rule_note="archived=true needs view_archived_companies"),
    Operation("GET", "/erp/vendors/suggestions", "Sage vendor <-> Procore company matches",
              "setup", P.LINK_COMPANIES, rs.VendorSuggestions, errors=(502,)),
    Operation("POST", "/erp/vendors/{vendor}/import", "Add a Sage vendor to Procore's company "
              "directory", "setup", P.ADD_ERP_COMPANY_TO_DIRECTORY, rs.CompanyImported,
              success=(201,), errors=(400, 404, 409, 502), example={"vendor": 3001}),
    Operation("POST", "/erp/vendors/{vendor}/archive", "Archive a Sage vendor's company",
              "setup", P.ARCHIVE_ERP_COMPANY, rs.ErpVendor, errors=(400, 404, 409),
              example={"vendor": 3001}),
    Operation("POST", "/erp/vendors/{vendor}/unarchive", "Unarchive a Sage vendor's company",
              "setup", P.ARCHIVE_ERP_COMPANY, rs.ErpVendor, errors=(400, 404),
              example={"vendor": 3001}),
    Operation("PUT", "/erp/cost-codes/{code}/default-cost-types", "Default cost types of a "
              "Sage standard cost code", "setup", P.ASSIGN_DEFAULT_COST_TYPES, rs.DefaultCostTypes,
              request=rq.CostTypesBody, errors=(404, 409), example={"code": "3300.000"},
              body={"cost_types": [1, 2]}),
    # ---- links -----------------------------------------------------------------------------
    Operation("POST", "/links/projects", "Link a Procore project to an existing Sage job "
              "(preview: what would change)", "links", P.ADD_PROJECT_TO_ERP, rs.LinkAnswer,
              success=(200, 201), request=rq.LinkBody, errors=(404, 409, 502),
              body={"procore_id": 11, "sage_key": 24001, "preview": True}),
    Operation("POST", "/links/vendors", "Link a Procore company to an existing Sage vendor",
              "links", P.LINK_COMPANIES, rs.LinkAnswer, success=(200, 201),
              request=rq.LinkBody,
              errors=(404, 409, 502), body={"procore_id": 77, "sage_key": 3001,
                                            "preview": True}),
    Operation("GET", "/links", "Links of one kind (projects, vendors or sub-jobs)", "links",
              P.READ_INBOX, rs.LinkList, errors=(400,), query=(
                  Query("kind", {"type": "string", "enum": ["projects", "vendors", "sub-jobs"]},
                        "which links", required=True),)),
    Operation("DELETE", "/links/{kind}/{procore_id}", "Unlink a project, company or sub job",
              "links", P.UNLINK, rs.Unlinked, errors=(400, 404, 409),
              example={"kind": "vendors", "procore_id": 77}),
    # ---- per project ---------------------------------------------------------------------
    Operation("POST", "/projects/{procore_id}/cost-codes/refresh", "Refresh a project's cost "
              "codes from Sage", "projects", P.REFRESH_COST_CODES, rs.CostCodesRefreshed,
              errors=(400, 409, 502), example={"procore_id": 11}),
    Operation("POST", "/projects/{procore_id}/sub-jobs", "Import a Sage phase as a sub job",
              "projects", P.IMPORT_SUB_JOB, rs.SubJobImported, success=(201,),
              request=rq.SubJobBody,
              errors=(404, 409, 502), example={"procore_id": 11}, body={"phase": 1}),
    Operation("GET", "/projects/{procore_id}/sub-jobs", "A project's synced sub jobs",
              "projects", P.VIEW_SYNCED_SUB_JOBS, rs.SubJobs, errors=(400, 502),
              example={"procore_id": 11}),
    Operation("POST", "/projects/{project_id}/budget/import", "Import a project's budget from "
              "Sage", "projects", P.IMPORT_BUDGET, rs.ImportState, success=(202,),
              errors=(400, 409), example=PROJECT),
    Operation("GET", "/projects/{project_id}/budget/import", "The budget import's state",
              "projects", P.IMPORT_BUDGET, rs.ImportState, errors=(400,), example=PROJECT),
    Operation("POST", "/projects/{project_id}/prime-contract/import", "Import the prime "
              "contract from Sage", "projects", P.IMPORT_PRIME_CONTRACT, rs.ImportState,
              success=(202,), errors=(400, 409), example=PROJECT),
    Operation("GET", "/projects/{project_id}/prime-contract/import", "The prime contract "
              "import's state", "projects", P.IMPORT_PRIME_CONTRACT, rs.ImportState, errors=(400,),
              example=PROJECT),
    Operation("PUT", "/projects/{project_id}/job-cost-sync", "Turn a project's job cost sync "
              "on or off", "projects", P.SYNC_JOB_COSTS, rs.JobCostSync,
              request=rq.JobCostSyncBody, errors=(409,), example=PROJECT,
              body={"enabled": False}),
    Operation("GET", "/projects/{project_id}/job-cost-sync", "A project's job cost sync: runs, "
              "edits about to be overwritten", "projects", P.SYNC_JOB_COSTS, rs.JobCostSync,
              errors=(400,), example=PROJECT),
    # ---- settings --------------------------------------------------------------------------
    Operation("GET", "/settings", "The company's settings (and their version)", "settings",
              P.READ_INBOX, rs.CompanySettings),
    Operation("PUT", "/settings/sync-schedule", "Minutes between scheduled pulls", "settings",
              P.CONFIGURE_SYNC_SCHEDULE, rs.CompanySettings, request=rq.ScheduleBody,
              errors=(409,), body={"vendors": 60}),
    Operation("PUT", "/settings/direct-exports", "Turn direct exports on or off", "settings",
              P.TOGGLE_DIRECT_EXPORTS, rs.CompanySettings, request=rq.DirectExportsBody,
              errors=(409,), body={"enabled": False}),
    Operation("PUT", "/settings/advanced", "Cost type mapping and Sage limits", "settings",
              P.CONFIGURE_ADVANCED_SETTINGS, rs.CompanySettings, request=rq.AdvancedBody,
              errors=(409,), body={"vendor_name_max": 30}),
    # ---- reports and on-demand syncs -------------------------------------------------------
    Operation("GET", "/reports/accountant", "The accountant report", "reports",
              P.VIEW_ACCOUNTANT_REPORT, rs.Report, errors=(400,), query=(FORMAT,), csv=True),
    Operation("GET", "/reports/job-costs", "ERP job costs per cost code and type", "reports",
              P.VIEW_JOB_COSTS_REPORT_COMPANY, rs.Report, errors=(400, 404, 502),
              query=(PROJECT_Q, FORMAT), csv=True,
              rule_note="with project_id also view_job_costs_report_(project_level)"),
    Operation("GET", "/reports/unsyncable-direct-costs", "Sage job costs that cannot reach "
              "Procore", "reports", P.VIEW_UNSYNCABLE_DIRECT_COSTS, rs.Report,
              errors=(400, 404), query=(PROJECT_REQUIRED, FORMAT), csv=True),
    Operation("GET", "/reports/reconciliation", "Procore vs Sage totals of a project",
              "reports", P.VIEW_RECONCILIATION_REPORT, rs.Report, errors=(400, 404, 502),
              query=(PROJECT_REQUIRED, FORMAT), csv=True),
    Operation("POST", "/sync/paid-invoices", "Pull Sage's payments and receipts now", "sync",
              P.SYNC_PAID_INVOICES, rs.PaymentsQueued, success=(202,)),
    Operation("POST", "/sync/job-costs", "Sync job costs now (one project or every enabled "
              "one)", "sync", P.SYNC_JOB_COSTS, rs.JobCostsQueued, success=(202,),
              request=rq.JobCostRunBody, body_optional=True, errors=(409,), body={}),
    # ---- users -----------------------------------------------------------------------------
    Operation("GET", "/users", "Connector users and their levels", "users", P.MANAGE_USERS,
              rs.UserList),
    Operation("PUT", "/users/{subject}", "Set a user's levels", "users", P.MANAGE_USERS,
              rs.UserView, request=rq.UserBody, example={"subject": "new-approver"},
              body={"erp_level": "standard", "can_push_to_accounting": True}),
    Operation("GET", "/audit/user-levels", "Every change of a user's levels", "users",
              P.MANAGE_USERS, rs.UserChanges),
    # ---- operations ------------------------------------------------------------------------
    Operation("GET", "/health", "Liveness: the function answers (no detail, no AWS call)",
              "ops", PUBLIC, rs.Health),
    Operation("GET", "/health/ready", "Readiness: each dependency's check (503 when one "
              "fails)", "ops", SIGNED_IN, rs.Readiness, success=(200, 503)),
    Operation("GET", "/ops/quarantine", "Webhook deliveries kept because they could not be "
              "read", "ops", P.MANAGE_QUARANTINE, rs.QuarantineList, errors=(400,),
              query=(LIMIT, CURSOR)),
    Operation("GET", "/ops/quarantine/{entry_id}", "One quarantined delivery with its body",
              "ops", P.MANAGE_QUARANTINE, rs.QuarantineEntry, errors=(404,),
              example={"entry_id": "q-1"}),
    Operation("POST", "/ops/quarantine/{entry_id}/replay", "Route a quarantined delivery "
              "again", "ops", P.MANAGE_QUARANTINE, rs.Replayed, errors=(404, 409),
              example={"entry_id": "q-1"}),
    Operation("GET", "/openapi.json", "This document", "meta", PUBLIC, rs.OpenApiDocument),
    # ---- web inbox and sign-in -------------------------------------------------------------
    Operation("GET", "/inbox", "The approvers' inbox page", "web", PUBLIC, None,
              content="text/html"),
    Operation("GET", "/inbox/{asset}", "The inbox page's scripts, styles and images", "web",
              PUBLIC, None, errors=(404,), example={"asset": "app.js"}, content="*/*"),
    Operation("GET", "/auth/config", "How the page signs people in", "web", PUBLIC,
              rs.AuthConfig),
    Operation("POST", "/auth/local-token", "A token for a seeded user (local stack only)",
              "web", PUBLIC, rs.LocalToken, errors=(400, 404), body={"subject": "admin"},
              request_schema={"type": "object", "required": ["subject"], "properties": {
                  "subject": {"type": "string", "minLength": 1}}}),
    Operation("GET", "/me", "The caller, their levels and what the page may offer", "web",
              SIGNED_IN, rs.Me),
    Operation("GET", "/status", "Counts above the inbox list and the agent's heartbeat", "web",
              P.READ_INBOX, rs.InboxStatus),
    # ---- Procore --------------------------------------------------------------------------
    Operation("POST", "/webhooks/procore", "A Procore webhook delivery (answered 202 fast; a "
              "body that cannot be read is quarantined)", "webhooks", PUBLIC,
              rs.WebhookAnswer, success=(202,), errors=(401,),
              request_schema={"type": "object", "description": "Procore's delivery: id, "
                              "company_id, project_id, resource_name, resource_id, event_type, "
                              "timestamp (any body is answered 202 with a valid token)"},
              rule_note="the webhook token in the Authorization header, not a JWT"),
)


def by_route() -> dict[tuple[str, str], Operation]:
    return {(op.method, op.path): op for op in OPERATIONS}


def rule_value(rule: Rule) -> str:
    return rule.value if isinstance(rule, Permission) else rule
