"""Every action row of the seed's permission matrix, walked through the API.

Each row names the route(s) that implement it. Every route is called as every persona (a
level of the ERP Integrations tool, the approver privilege, Procore tool levels): a persona
the matrix excludes gets 403 naming the action, one it admits never gets 403 (it may get
a 400/404/409 about the request itself), and nobody gets a 5xx. A row without a route
fails, unless it is listed in PENDING with what is still to be built; a pending row that
gains its route fails too, so the list only shrinks.

The rows are the matrix's own (../shared/reference/permissions.md, read from Procore's
documentation); when the reference is beside the checkout they are compared with it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from chalicelib.domain.permissions import Level, Permission, User, can
from chalicelib.wiring import get_item_service, get_store
from tests.fixtures_sandbox import demo_fixture, sandbox_fixture  # noqa: F401
from tests.helpers import COMPANY_ID, PERSONAS, connect_to_sandbox

P = Permission
REFERENCE = Path(__file__).resolve().parents[3] / "shared" / "reference" / "permissions.md"

# Beyond tests/helpers.PERSONAS: the tool levels some rows turn on.
EXTRA_PERSONAS: dict[str, dict[str, Any]] = {
    "reports_budget": {"erp_level": Level.READ_ONLY,
                       "tool_levels": {"reports": Level.READ_ONLY, "budget": Level.ADMIN}},
    "reports_only": {"erp_level": Level.ADMIN, "tool_levels": {"reports": Level.READ_ONLY}},
    "directory_admin": {"erp_level": Level.STANDARD,
                        "tool_levels": {"directory": Level.ADMIN}},
    "directory_creator": {"erp_level": Level.STANDARD, "privileges": ["create_new_project"],
                          "tool_levels": {"directory": Level.STANDARD}},
    "change_orders_admin": {"erp_level": Level.NONE,
                            "tool_levels": {"change_orders": Level.ADMIN}},
    "projects_admin": {"erp_level": Level.NONE, "tool_levels": {"projects": Level.ADMIN}},
}
WHO = [*PERSONAS, *EXTRA_PERSONAS]


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # {P} the demo's linked project, {item:kind} a seeded item of that kind
    body: dict[str, Any] | None = None
    kind: str | None = None  # the item kind a kind-dependent rule is checked for
    also: Permission | None = None  # a second permission the route needs besides the row's


@dataclass(frozen=True)
class Row:
    action: str  # as the matrix writes it
    permission: Permission
    routes: tuple[Route, ...] = field(default_factory=tuple)


ITEM_KINDS = ("commitment", "cco", "budget", "subcontractor_invoice", "vendor", "project",
              "cost_code", "sub_job", "pcco", "owner_invoice")

ROWS: tuple[Row, ...] = (
    Row("Accept or reject for export: cost codes, owner invoices, subcontractor invoices, "
        "budget, CCO, commitment, company, PCCO, project, sub job", P.ACCEPT_OR_REJECT,
        tuple(Route("POST", f"/items/{{item:{kind}}}/{action}",
                    {"reason": "walk"} if action == "reject" else {})
              for kind in ITEM_KINDS for action in ("accept", "reject"))),
    Row("Add a Procore project to the ERP", P.ADD_PROJECT_TO_ERP, (
        Route("POST", "/items/send", {"kind": "project", "procore_id": "{second}"}),
        Route("POST", "/links/projects",
              {"procore_id": "{second}", "sage_key": 24002, "preview": True}))),
    Row("Add an ERP company to the Procore company directory",
        P.ADD_ERP_COMPANY_TO_DIRECTORY, (Route("POST", "/erp/vendors/3999/import"),)),
    Row("Add an ERP job to Procore", P.ADD_ERP_JOB_TO_PROCORE,
        (Route("POST", "/erp/jobs/24999/add-to-procore"),)),
    Row("Archive an ERP company in Procore", P.ARCHIVE_ERP_COMPANY, (
        Route("POST", "/erp/vendors/3999/archive"),
        Route("POST", "/erp/vendors/3999/unarchive"))),
    Row("Assign default cost types to ERP standard cost codes", P.ASSIGN_DEFAULT_COST_TYPES,
        (Route("PUT", "/erp/cost-codes/3300.000/default-cost-types", {"cost_types": [1]}),)),
    Row("Configure advanced settings", P.CONFIGURE_ADVANCED_SETTINGS,
        (Route("PUT", "/settings/advanced", {"vendor_name_max": 30}),)),
    Row("Configure the sync schedule", P.CONFIGURE_SYNC_SCHEDULE,
        (Route("PUT", "/settings/sync-schedule", {"vendors": 60}),)),
    Row("Enable or disable ERP direct exports", P.TOGGLE_DIRECT_EXPORTS,
        (Route("PUT", "/settings/direct-exports", {"enabled": False}),)),
    Row("Import a budget from the ERP", P.IMPORT_BUDGET,
        (Route("POST", "/projects/{P}/budget/import", {}),)),
    Row("Import a prime contract from the ERP", P.IMPORT_PRIME_CONTRACT, (
        Route("POST", "/projects/{P}/prime-contract/import", {}),
        Route("GET", "/projects/{P}/prime-contract/import"))),
    Row("Import an ERP sub job to a Procore project", P.IMPORT_SUB_JOB,
        (Route("POST", "/projects/{P}/sub-jobs", {"phase": 99}),)),
    Row("Link ERP companies to Procore companies", P.LINK_COMPANIES, (
        Route("GET", "/erp/vendors/suggestions"),
        Route("POST", "/links/vendors",
              {"procore_id": "{steel}", "sage_key": 3999, "preview": True}))),
    Row("Refresh the companies list", P.REFRESH_COMPANIES,
        (Route("POST", "/erp/lists/vendors/refresh"),)),
    Row("Refresh the cost codes on an ERP-integrated project", P.REFRESH_COST_CODES, (
        Route("POST", "/projects/{P}/cost-codes/refresh"),
        Route("POST", "/erp/lists/cost_codes/refresh"))),
    Row("Send, retrieve or resend items to ERP for accounting acceptance",
        P.SEND_RETRIEVE_RESEND, tuple(
            Route("POST", f"/items/{{item:{kind}}}/{action}", kind=kind)
            for kind in ITEM_KINDS for action in ("retrieve", "resend"))),
    Row("Sync job cost transactions from the ERP", P.SYNC_JOB_COSTS, (
        Route("POST", "/sync/job-costs", {}),
        Route("PUT", "/projects/{P}/job-cost-sync", {"enabled": False}))),
    Row("Sync paid invoice notifications from the ERP", P.SYNC_PAID_INVOICES,
        (Route("POST", "/sync/paid-invoices", {}),)),
    Row("Unlink CCOs, commitments, owner invoices, PCCOs, subcontractor invoices, a company",
        P.UNLINK, (*(Route("POST", f"/items/{{item:{kind}}}/unlink", {})
                     for kind in ("cco", "commitment", "subcontractor_invoice", "pcco",
                                  "owner_invoice")),
                   Route("DELETE", "/links/vendors/{concrete}"))),
    Row("View the list of synced sub jobs", P.VIEW_SYNCED_SUB_JOBS,
        (Route("GET", "/projects/{P}/sub-jobs"),)),
    Row("View the accountant report", P.VIEW_ACCOUNTANT_REPORT,
        (Route("GET", "/reports/accountant"),)),
    Row("View the ERP job costs report", P.VIEW_JOB_COSTS_REPORT_COMPANY, (
        Route("GET", "/reports/job-costs"),
        # one project's: the stricter reading, ERP admin AND Reports with Budget/Prime admin
        Route("GET", "/reports/job-costs?project_id={P}",
              also=P.VIEW_JOB_COSTS_REPORT_PROJECT))),
    Row("View the ERP unsyncable direct costs report", P.VIEW_UNSYNCABLE_DIRECT_COSTS,
        (Route("GET", "/reports/unsyncable-direct-costs?project_id={P}"),)),
    Row("View the archived companies list", P.VIEW_ARCHIVED_COMPANIES,
        (Route("GET", "/erp/vendors?archived=true"),)),
)

# What the matrix names and the connector does not do yet (issue 15, the owner side):
# action -> what is missing. Each entry is checked to be still missing.
PENDING: dict[str, str] = {
}
# Item kinds the matrix names for accept/reject and unlink that cannot be sent yet.
PENDING_KINDS: tuple[str, ...] = ()


def _row_actions(text: str) -> list[str]:
    return [line.split("|")[1].strip() for line in text.splitlines()
            if line.startswith("| ") and not line.startswith("| action")]


def test_the_rows_are_the_matrixs_rows() -> None:
    ours = [row.action for row in ROWS]
    assert len(set(ours)) == len(ours)
    if REFERENCE.is_file():  # beside the checkout; CI clones the repository alone
        theirs = _row_actions(REFERENCE.read_text(encoding="utf-8"))
        assert [a.lower() for a in ours] == [a.lower() for a in theirs]
    assert len(ours) == 24


@pytest.fixture
def walk(aws: Any, sandbox: Any, demo: dict[str, Any], chalice_client: Any, mint: Any,
         monkeypatch: pytest.MonkeyPatch) -> Any:
    connect_to_sandbox(monkeypatch, sandbox, demo)
    store = get_store()
    for name, levels in EXTRA_PERSONAS.items():
        store.put_user(User(subject=name, company_id=COMPANY_ID, name=name, **levels))
    items = {}
    for n, kind in enumerate(ITEM_KINDS):
        item = get_item_service().observe(
            company_id=COMPANY_ID, kind=kind, procore_id=9100 + n,
            project_id=demo["project_ids"]["main"], subtype=None,
            snapshot={"id": 9100 + n, "number": f"W-{n}", "title": "walk"}, reasons=[],
            actor="seed")
        items[kind] = item.item_id
    names = {"{P}": str(demo["project_ids"]["main"]),
             "{second}": str(demo["project_ids"]["second"]),
             "{steel}": str(demo["vendor_ids"]["steel"]),
             "{concrete}": str(demo["vendor_ids"]["concrete"]),
             **{f"{{item:{k}}}": v for k, v in items.items()}}

    def fill(text: str) -> str:
        for name, value in names.items():
            text = text.replace(name, value)
        return text

    def call(route: Route, who: str) -> tuple[int, Any]:
        body = None
        if route.body is not None:
            body = json.loads(fill(json.dumps(route.body)))
            body = {k: int(v) if isinstance(v, str) and v.isdigit() else v
                    for k, v in body.items()}
        response = getattr(chalice_client.http, route.method.lower())(
            fill(route.path), body=json.dumps(body) if body is not None else None,
            headers={"Authorization": mint(who), "Content-Type": "application/json"})
        return response.status_code, json.loads(response.body) if response.body else None

    return call


def _routed(path: str, method: str) -> bool:
    from app import app

    concrete = re.sub(r"\{[^}]+\}", "1", path.split("?")[0])
    return any(re.fullmatch(re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(known)), concrete)
               and method in entry for known, entry in app.routes.items())


@pytest.mark.parametrize("row", ROWS, ids=lambda row: row.action[:40])
def test_each_row_is_routed_and_each_level_gets_what_the_matrix_says(
        walk: Any, row: Row) -> None:
    if row.action in PENDING:
        assert not row.routes, f"{row.action}: routed now; drop it from PENDING"
        method, path = PENDING[row.action].split(" ", 1)
        assert not _routed(path, method), f"{PENDING[row.action]} exists: walk it"
        return
    assert row.routes, f"{row.action}: no route implements it"
    for route in row.routes:
        assert _routed(route.path, route.method), f"{route.method} {route.path} is no route"
        needed = [row.permission, *([route.also] if route.also else [])]
        for who in WHO:
            user = get_store().get_user(COMPANY_ID, who)
            missing = [p for p in needed if user is None or not can(user, p, route.kind)]
            status, answer = walk(route, who)
            where = f"{route.method} {route.path} as {who}: {status} {answer}"
            assert status < 500, where
            if not missing:
                assert status != 403, where
            else:
                assert status == 403, where
                assert any(p.value in answer["message"] for p in missing), where


@pytest.mark.parametrize("kind", PENDING_KINDS)
def test_kinds_the_matrix_names_that_cannot_be_sent_yet(walk: Any, kind: str) -> None:
    status, answer = walk(Route("POST", "/items/send",
                                {"kind": kind, "procore_id": 1, "project_id": "{P}"}), "admin")
    assert status == 400, f"{kind} can be sent now: walk its accept/reject/unlink"
    assert "kind" in json.dumps(answer)
