"""Jobs, vendors, cost codes, sub jobs and settings through the API (chalice.test.Client),
against moto and the Procore sandbox over HTTP. The relay agent's answers to pulls and
exports are delivered to the results handler as the agent would send them."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chalicelib.domain.permissions import Level, User
from chalicelib.domain.state_machine import Status
from chalicelib.relay_protocol import Result
from chalicelib.wiring import get_store
from devstack.procore_sandbox import seed_demo
from devstack.pump import drain, sqs_event
from tests.fixtures_sandbox import sandbox_fixture  # noqa: F401
from tests.helpers import COMPANY_ID, body, seed_personas, use_division_dash_codes

SAGE_JOBS = [
    {"job": 24001, "name": "Riverside Medical Office Bldg", "short_name": "Riverside MOB",
     "status": 4, "address": None, "city": "Sacramento", "state": "CA", "zip_code": None},
    {"job": 24005, "name": "New Clinic", "short_name": "New Clinic", "status": 4,
     "address": "1 Main St", "city": "Davis", "state": "CA", "zip_code": "95616"},
    {"job": 2024002, "name": "Taken Number", "short_name": "Taken", "status": 4,
     "address": None, "city": None, "state": None, "zip_code": None},
]
SAGE_VENDORS = [
    {"vendor": 3001, "name": "Granite Bay Concrete", "short_name": "Granite Bay",
     "inactive": False, "tax_id": "94-1234567"},
    {"vendor": 3003, "name": "Summit Steel Supply", "short_name": "Summit Steel",
     "inactive": False, "tax_id": None},
    {"vendor": 3010, "name": "Valley Plumbing and Heating", "short_name": "Valley Plumbing",
     "inactive": False, "tax_id": None},
    {"vendor": 3020, "name": "Bayside Electric", "short_name": "Bayside Electric",
     "inactive": False, "tax_id": "12-3456789"},
    {"vendor": 3021, "name": "Dormant Supply Co", "short_name": "Dormant", "inactive": True,
     "tax_id": None},
]
SAGE_CODES = [{"code": "3300.000", "name": "Cast-in-Place Concrete", "unit": None,
               "inactive": False},
              {"code": "5120.000", "name": "Structural Steel", "unit": None, "inactive": False},
              {"code": "9800.000", "name": "Old Code", "unit": None, "inactive": True}]
SAGE_TYPES = [{"type": n, "name": name} for n, name in enumerate(
    ["Material", "Labor", "Equipment", "Subcontract", "Other"], start=1)]
SAGE_PHASES = [{"job": 24001, "phase": 1, "name": "Site and Foundations"},
               {"job": 24001, "phase": 2, "name": "Structure"}]
EXTRA_PERSONAS = {
    "dir_admin": {"erp_level": Level.STANDARD, "tool_levels": {"directory": Level.ADMIN}},
    "dir_std": {"erp_level": Level.STANDARD, "tool_levels": {"directory": Level.STANDARD}},
}


class SetupApi:
    def __init__(self, aws: Any, sandbox: Any, demo: dict[str, Any], client: Any,
                 mint: Any) -> None:
        self.aws, self.sandbox, self.demo, self.client, self.mint = (aws, sandbox, demo,
                                                                     client, mint)
        self.main = demo["project_ids"]["main"]
        self.second = demo["project_ids"]["second"]

    def call(self, method: str, path: str, who: str = "admin", payload: Any = None) -> Any:
        response = getattr(self.client.http, method.lower())(
            path, body=json.dumps(payload) if payload is not None else None,
            headers={"Authorization": self.mint(who), "Content-Type": "application/json"})
        return response.status_code, body(response)

    def relay_commands(self) -> list[dict[str, Any]]:
        """Take the commands off the relay queue, as the agent does."""
        url = self.aws.resources.refs["RelayCommandsQueue"]
        messages = self.aws.receive_all(url)
        for message in messages:
            self.aws.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return [json.loads(m["Body"]) for m in messages]

    def answer(self, *results: Result) -> Any:
        event = sqs_event([{"MessageId": f"m{n}", "ReceiptHandle": "r",
                            "Body": r.model_dump_json()} for n, r in enumerate(results)], "arn")
        return self.client.lambda_.invoke("results", event).payload

    def pull(self, list_name: str, rows: list[dict[str, Any]], page_size: int = 2) -> None:
        """What the agent does for a pull: the command, then its pages as results."""
        status, state = self.call("POST", f"/erp/lists/{list_name}/refresh", "admin")
        assert status == 202, state
        [command] = [c for c in self.relay_commands() if c["item_id"] == f"pull:{list_name}"]
        pages = [rows[i:i + page_size] for i in range(0, len(rows), page_size)] or [[]]
        self.answer(*[Result(command_id=command["command_id"], company_id=COMPANY_ID,
                             item_id=command["item_id"], export_version=0, ok=True, data=page,
                             page=n, more=n < len(pages), agent_id="agent",
                             finished_at="2026-11-26T00:00:00Z")
                      for n, page in enumerate(pages, start=1)])

    def export(self, item_id: str, keys: dict[str, str]) -> dict[str, Any]:
        """Run the exporter, then answer its command as Sage would (ok with keys)."""
        drain(self.aws.sqs, self.aws.export_url,
              lambda e: self.client.lambda_.invoke("exporter", e).payload)
        [command] = [c for c in self.relay_commands() if c["item_id"] == item_id]
        self.answer(Result(command_id=command["command_id"], company_id=COMPANY_ID,
                           item_id=item_id, export_version=command["export_version"], ok=True,
                           sage_keys=keys, agent_id="agent",
                           finished_at="2026-11-26T00:00:00Z"))
        return command


@pytest.fixture
def api(aws: Any, sandbox: Any, chalice_client: Any, mint: Any,
        monkeypatch: pytest.MonkeyPatch) -> SetupApi:
    return make_setup_api(aws, sandbox, chalice_client, mint, monkeypatch)


def make_setup_api(aws: Any, sandbox: Any, chalice_client: Any, mint: Any,
                   monkeypatch: pytest.MonkeyPatch) -> SetupApi:
    """The demo company in the sandbox, the app pointed at it, personas seeded."""
    from chalicelib import wiring

    demo = seed_demo(sandbox, matching_vendors=True)
    monkeypatch.setenv("PROCORE_BASE_URL", sandbox.url)
    monkeypatch.setenv("PROCORE_AUTH_URL", sandbox.url)
    wiring.reset()
    seed_personas()
    for name, levels in EXTRA_PERSONAS.items():
        get_store().put_user(User(subject=name, company_id=COMPANY_ID, **levels))
    return SetupApi(aws, sandbox, demo, chalice_client, mint)


# ---- pulls ----------------------------------------------------------
def test_pulls_arrive_in_pages_and_a_complete_pull_drops_what_sage_deleted(api: SetupApi) -> None:
    api.pull("vendors", SAGE_VENDORS)
    status, listing = api.call("GET", "/erp/vendors", "viewer")
    assert status == 200
    assert {v["vendor"] for v in listing["vendors"]} == {3001, 3003, 3010, 3020, 3021}
    api.pull("vendors", SAGE_VENDORS[:3])  # 3020 and 3021 were deleted in Sage
    _, listing = api.call("GET", "/erp/vendors", "viewer")
    assert {v["vendor"] for v in listing["vendors"]} == {3001, 3003, 3010}
    _, lists = api.call("GET", "/erp/lists", "viewer")
    assert lists["pulls"]["vendors"]["status"] == "complete"
    assert lists["pulls"]["vendors"]["rows"] == 3 and lists["pulls"]["vendors"]["removed"] == 2


@pytest.mark.parametrize(("list_name", "who", "needs"), [
    ("vendors", "standard", "refresh the companies list requires ERP Integrations admin"),
    ("cost_codes", "standard", "refresh the cost codes"),
    ("jobs", "standard", "add an ERP job to Procore requires ERP Integrations admin"),
    ("phases", "viewer", "import an ERP sub job"),
])
def test_refresh_permissions(api: SetupApi, list_name: str, who: str, needs: str) -> None:
    status, answer = api.call("POST", f"/erp/lists/{list_name}/refresh", who)
    assert status == 403 and needs in answer["message"]
    assert api.relay_commands() == []


def test_scheduled_pulls_follow_the_schedule(api: SetupApi) -> None:
    status, _ = api.call("PUT", "/settings/sync-schedule", "admin", {"cost_types": 0})
    assert status == 200
    event = api.client.events.generate_cw_event(
        source="aws.events", detail_type="Scheduled Event", detail={},
        resources=["arn:aws:events:us-east-1:123456789012:rule/pulls"])
    first = api.client.lambda_.invoke("scheduled-pulls", event).payload
    assert sorted(first["requested"]) == ["budgets", "commitments", "cost_codes", "jobs",
                                          "payments", "phases", "receipts", "receivables",
                                          "vendors"]
    assert api.client.lambda_.invoke("scheduled-pulls", event).payload == {
        "requested": [], "job_cost_projects": []}
    assert len(api.relay_commands()) == 9


# ---- jobs <-> projects ----------------------------------------------------------
def test_add_a_sage_job_to_procore_once(api: SetupApi) -> None:
    api.pull("jobs", SAGE_JOBS)
    status, answer = api.call("POST", "/erp/jobs/24005/add-to-procore", "standard")
    assert status == 403 and "requires ERP Integrations admin" in answer["message"]
    status, answer = api.call("POST", "/erp/jobs/24005/add-to-procore", "admin")
    assert status == 201, answer
    project = answer["project"]
    assert (project["name"], project["project_number"], project["origin_id"]) == (
        "New Clinic", "24005", "24005")
    assert get_store().get_link(COMPANY_ID, "project", project["id"]).sage_key == "24005"
    status, answer = api.call("POST", "/erp/jobs/24005/add-to-procore", "admin")
    assert status == 409 and "already in Procore" in answer["message"]
    status, answer = api.call("POST", "/erp/jobs/99999/add-to-procore", "admin")
    assert status == 404 and "refresh the list" in answer["message"]


def test_a_job_created_on_both_sides_is_refused_with_the_way_out(api: SetupApi) -> None:
    api.pull("jobs", SAGE_JOBS)
    twin = api.sandbox.add_project("New Clinic (Procore)", project_number="24005")
    status, answer = api.call("POST", "/erp/jobs/24005/add-to-procore", "admin")
    assert status == 409 and "link the two" in answer["message"]
    assert answer["details"]["procore_project"] == twin["id"]
    assert get_store().get_link_by_sage(COMPANY_ID, "project", "24005") is None


def test_link_existing_project_and_job_with_preview_history_and_unlink(api: SetupApi) -> None:
    api.pull("jobs", SAGE_JOBS)
    link = {"procore_id": api.main, "sage_key": 24001}
    status, preview = api.call("POST", "/links/projects", "standard", {**link, "preview": True})
    assert status == 200 and preview["preview"] is True
    fields = {d["field"] for d in preview["differences"]}
    assert "name" in fields
    assert get_store().get_link(COMPANY_ID, "project", api.main) is None  # preview only
    status, linked = api.call("POST", "/links/projects", "standard", link)
    assert status == 201 and linked["linked"] is True
    assert api.sandbox.state.projects[api.main]["origin_id"] == "24001"
    status, again = api.call("POST", "/links/projects", "admin",
                             {"procore_id": api.second, "sage_key": 24001})
    assert status == 409 and "Sage job 24001 is already linked" in again["message"]
    status, answer = api.call("DELETE", f"/links/projects/{api.main}", "viewer")
    assert status == 403
    status, answer = api.call("DELETE", f"/links/projects/{api.main}", "standard")
    assert status == 200
    assert [h["action"] for h in answer["history"]] == ["link", "unlink"]
    assert answer["procore_origin"] == "cleared"
    assert get_store().get_link(COMPANY_ID, "project", api.main) is None
    project = api.sandbox.state.projects[api.main]
    assert (project["origin_id"], project.get("origin_code")) == (None, None)
    assert api.call("DELETE", f"/links/projects/{api.main}", "standard")[0] == 404


def test_the_links_list_names_the_sage_side_and_who_linked_it(api: SetupApi) -> None:
    api.pull("jobs", SAGE_JOBS)
    assert api.call("GET", "/links?kind=projects", "viewer")[1]["links"] == []
    assert api.call("POST", "/links/projects", "standard",
                    {"procore_id": api.main, "sage_key": 24001})[0] == 201
    assert api.call("POST", "/links/projects", "admin",
                    {"procore_id": api.second, "sage_key": 24005})[0] == 201
    status, listing = api.call("GET", "/links?kind=projects", "viewer")
    assert status == 200 and listing["sage_noun"] == "job"
    rows = {row["procore_id"]: row for row in listing["links"]}
    assert rows[api.main]["sage_key"] == "24001"
    assert rows[api.main]["sage_name"] == "Riverside Medical Office Bldg"
    assert rows[api.main]["linked_by"] == "standard" and rows[api.main]["in_sage_list"]
    assert rows[api.second]["linked_by"] == "admin"
    # A job gone from Sage's list since (deleted or renumbered there) is flagged, not hidden.
    api.pull("jobs", [j for j in SAGE_JOBS if j["job"] != 24005])
    listing = api.call("GET", "/links?kind=projects", "viewer")[1]
    rows = {r["procore_id"]: r for r in listing["links"]}
    assert rows[api.second]["in_sage_list"] is False and rows[api.second]["sage_name"] is None
    # POST /links/projects is still the link action, not a list.
    assert api.call("POST", "/links/projects", "viewer",
                    {"procore_id": api.main, "sage_key": 24001})[0] == 403
    status, answer = api.call("GET", "/links?kind=jobs", "viewer")
    assert status == 400 and answer["details"] == {"field": "kind"}
    assert "projects, vendors, sub-jobs" in answer["message"]
    assert api.call("GET", "/links", "viewer")[0] == 400
    assert api.call("GET", "/links?kind=vendors", "nobody")[0] == 403
    assert api.call("GET", "/links?kind=sub-jobs", "viewer")[1]["links"] == []


def test_project_exported_as_a_sage_job_through_acceptance(api: SetupApi) -> None:
    api.pull("jobs", SAGE_JOBS)
    send = {"kind": "project", "procore_id": api.second}
    assert api.call("POST", "/items/send", "viewer", send)[0] == 403
    status, item = api.call("POST", "/items/send", "standard", send)
    assert status == 200 and item["status"] == "ready_to_export", item
    assert item["snapshot"]["proposed_job_number"] == 2024002
    # The proposal is taken in Sage already: the approver must choose another number.
    status, answer = api.call("POST", f"/items/{item['id']}/accept", "approver")
    assert status == 409 and "Sage already has job 2024002" in answer["message"]
    status, accepted = api.call("POST", f"/items/{item['id']}/accept", "approver",
                                {"sage_job_number": 24002})
    assert status == 200 and accepted["accepted_with"] == {"sage_job_number": 24002}
    command = api.export(item["id"], {"actrec": "24002"})
    assert command["type"] == "add_job" and command["payload"]["job"] == 24002
    synced = get_store().get_item(COMPANY_ID, "project", api.second)
    assert synced.status is Status.SYNCED
    assert get_store().get_link(COMPANY_ID, "project", api.second).sage_key == "24002"
    exported = api.sandbox.state.projects[api.second]
    # The job number reaches Procore as origin_code too (PATCH /projects/{id}: the
    # projects sync schema has no origin_code).
    assert (exported["origin_id"], exported.get("origin_code")) == ("24002", "24002")
    patches = [r for r in api.sandbox.requests
               if r["method"] == "PATCH" and r["path"] == f"/rest/v1.0/projects/{api.second}"]
    assert patches
    status, answer = api.call("POST", "/items/send", "standard", send)
    assert status == 409 and "already linked to Sage job 24002" in answer["message"]


# ---- vendors <-> companies ----------------------------------------------------------
def test_ranked_vendor_suggestions_and_linking_from_one(api: SetupApi) -> None:
    api.pull("vendors", SAGE_VENDORS)
    assert api.call("GET", "/erp/vendors/suggestions", "standard")[0] == 403
    status, answer = api.call("GET", "/erp/vendors/suggestions", "admin")
    assert status == 200
    pairs = {(s["sage_vendor"], s["procore_name"]): s for s in answer["suggestions"]}
    granite = pairs[(3001, "Granite Bay Concrete")]
    assert granite["score"] >= 0.95 and "same tax id" in " ".join(granite["reasons"])
    plumbing = pairs[(3010, "Valley Plumbing & Heating LLC")]
    assert any("'&' vs 'and'" in r for r in plumbing["reasons"])
    suggestion = plumbing
    status, linked = api.call("POST", "/links/vendors", "standard",
                              {"procore_id": suggestion["procore_company"], "sage_key": 3010})
    assert status == 403 and "link ERP companies" in linked["message"]
    status, linked = api.call("POST", "/links/vendors", "admin",
                              {"procore_id": suggestion["procore_company"], "sage_key": 3010})
    assert status == 201
    _, after = api.call("GET", "/erp/vendors/suggestions", "admin")
    assert all(s["sage_vendor"] != 3010 for s in after["suggestions"])
    vendor = api.sandbox.state.vendors[suggestion["procore_company"]]
    assert vendor["origin_id"] == "3010"
    status, answer = api.call("DELETE", f"/links/vendors/{suggestion['procore_company']}",
                              "standard")
    assert status == 200 and answer["procore_origin"] == "cleared"
    assert (vendor["origin_id"], vendor.get("origin_code")) == (None, None)
    assert get_store().get_link(COMPANY_ID, "vendor", suggestion["procore_company"]) is None


def test_import_a_sage_vendor_into_the_directory(api: SetupApi) -> None:
    api.pull("vendors", SAGE_VENDORS)
    assert api.call("POST", "/erp/vendors/3020/import", "viewer")[0] == 403
    status, answer = api.call("POST", "/erp/vendors/3020/import", "standard")
    assert status == 201, answer
    company = answer["company"]
    assert company["name"] == "Bayside Electric" and company["origin_id"] == "3020"
    assert get_store().get_link(COMPANY_ID, "vendor", company["id"]).sage_key == "3020"
    status, answer = api.call("POST", "/erp/vendors/3020/import", "standard")
    assert status == 409 and "already linked" in answer["message"]
    status, answer = api.call("POST", "/erp/vendors/3001/import", "standard")
    assert status == 409 and "link it to the Sage vendor instead" in answer["message"]


def test_archive_and_the_archived_list(api: SetupApi) -> None:
    api.pull("vendors", SAGE_VENDORS)
    assert api.call("POST", "/erp/vendors/3021/archive", "viewer")[0] == 403
    status, _ = api.call("POST", "/erp/vendors/3021/archive", "standard")
    assert status == 200
    _, active = api.call("GET", "/erp/vendors", "viewer")
    assert 3021 not in {v["vendor"] for v in active["vendors"]}
    assert api.call("GET", "/erp/vendors?archived=true", "viewer")[0] == 403
    _, archived = api.call("GET", "/erp/vendors?archived=true", "standard")
    assert [v["vendor"] for v in archived["vendors"]] == [3021]
    download = api.client.http.get("/erp/vendors?archived=true&format=csv",
                                   headers={"Authorization": api.mint("standard")})
    assert download.status_code == 200
    assert download.headers["Content-Type"].startswith("text/csv")
    text = download.body.decode() if isinstance(download.body, bytes) else download.body
    header, *lines = text.splitlines()
    assert header.split(",")[:2] == ["vendor", "name"] and "tax_id" not in header
    assert [line.split(",")[0] for line in lines] == ["3021"]
    status, answer = api.call("POST", "/erp/vendors/3021/import", "standard")
    assert status == 409 and "archived" in answer["message"]
    api.pull("vendors", SAGE_VENDORS)  # a refresh keeps what people archived
    _, archived = api.call("GET", "/erp/vendors?archived=true", "standard")
    assert [v["vendor"] for v in archived["vendors"]] == [3021]
    assert api.call("POST", "/erp/vendors/3021/unarchive", "standard")[0] == 200


def test_company_exported_to_sage_through_acceptance(api: SetupApi) -> None:
    api.pull("vendors", SAGE_VENDORS)
    electrical = api.demo["vendor_ids"]["electrical"]
    send = {"kind": "vendor", "procore_id": electrical}
    assert api.call("POST", "/items/send", "standard", send)[0] == 403  # not directory admin
    status, item = api.call("POST", "/items/send", "dir_admin", send)
    assert status == 200 and item["status"] == "not_ready"
    assert any("55 characters" in r and "at most 30" in r for r in item["reasons"])
    status, answer = api.call("POST", "/items/send", "dir_admin",
                              {"kind": "vendor", "procore_id": api.demo["vendor_ids"]["concrete"]})
    assert status == 409 and "Sage already has vendor 3001" in answer["message"]
    drywall = api.demo["vendor_ids"]["drywall"]
    status, item = api.call("POST", "/items/send", "dir_admin",
                            {"kind": "vendor", "procore_id": drywall})
    assert status == 200 and item["status"] == "ready_to_export", item
    assert api.call("POST", f"/items/{item['id']}/accept", "approver")[0] == 200
    command = api.export(item["id"], {"actpay": "3030"})
    assert command["type"] == "add_vendor" and command["payload"]["vendor"] is None
    assert get_store().get_item(COMPANY_ID, "vendor", drywall).status is Status.SYNCED
    assert get_store().get_link(COMPANY_ID, "vendor", drywall).sage_key == "3030"
    assert api.sandbox.state.vendors[drywall]["origin_id"] == "3030"


# ---- cost codes and sub jobs ----------------------------------------------------------
def test_cost_codes_onto_a_linked_project_and_default_cost_types(api: SetupApi) -> None:
    api.pull("jobs", SAGE_JOBS)
    api.pull("cost_codes", SAGE_CODES)
    api.pull("cost_types", SAGE_TYPES)
    status, answer = api.call("POST", f"/projects/{api.main}/cost-codes/refresh", "admin")
    assert status == 409 and "not linked" in answer["message"]
    api.call("POST", "/links/projects", "admin", {"procore_id": api.main, "sage_key": 24001})
    assert api.call("POST", f"/projects/{api.main}/cost-codes/refresh", "standard")[0] == 403
    status, answer = api.call("POST", f"/projects/{api.main}/cost-codes/refresh", "admin")
    assert status == 200 and answer["sent"] == 2 and answer["errors"] == []
    origins = {c.get("origin_id") for c in api.sandbox.state.cost_codes[api.main].values()}
    assert {"3300.000", "5120.000"} <= origins and "9800.000" not in origins
    status, answer = api.call("PUT", "/erp/cost-codes/3300.000/default-cost-types", "standard",
                              {"cost_types": [4, 1, 4]})
    assert status == 200 and answer["cost_types"] == [1, 4]
    assert api.call("PUT", "/erp/cost-codes/3300.000/default-cost-types", "viewer",
                    {"cost_types": [1]})[0] == 403
    assert api.call("PUT", "/erp/cost-codes/4400.000/default-cost-types", "standard",
                    {"cost_types": [1]})[0] == 404
    status, answer = api.call("PUT", "/erp/cost-codes/3300.000/default-cost-types", "standard",
                              {"cost_types": [10]})
    assert status == 400 and "cost_types" in answer["message"]
    _, settings = api.call("GET", "/settings", "viewer")
    assert settings["default_cost_types"] == {"3300.000": [1, 4]}


def test_import_a_phase_as_a_sub_job_and_who_sees_synced_sub_jobs(api: SetupApi) -> None:
    api.pull("jobs", SAGE_JOBS)
    api.pull("phases", SAGE_PHASES)
    status, answer = api.call("POST", f"/projects/{api.main}/sub-jobs", "standard",
                              {"phase": 2})
    assert status == 409 and "not linked to a Sage job" in answer["message"]
    api.call("POST", "/links/projects", "admin", {"procore_id": api.main, "sage_key": 24001})
    assert api.call("POST", f"/projects/{api.main}/sub-jobs", "viewer", {"phase": 2})[0] == 403
    status, answer = api.call("POST", f"/projects/{api.main}/sub-jobs", "standard",
                              {"phase": 2})
    assert status == 201, answer
    assert answer["sub_job"]["name"] == "Structure" and answer["sub_job"]["origin_id"] == \
        "24001-2"
    status, answer = api.call("POST", f"/projects/{api.main}/sub-jobs", "standard",
                              {"phase": 2})
    assert status == 409 and "already sub job" in answer["message"]
    assert api.call("POST", f"/projects/{api.main}/sub-jobs", "standard",
                    {"phase": 7})[0] == 404
    status, listing = api.call("GET", f"/projects/{api.main}/sub-jobs", "dir_admin")
    assert status == 200 and [s["sage_phase"] for s in listing["sub_jobs"]] == ["24001-2"]
    status, answer = api.call("GET", f"/projects/{api.main}/sub-jobs", "dir_std")
    assert status == 403 and "Create New Project" in answer["message"]
    assert api.call("GET", f"/projects/{api.main}/sub-jobs", "standard")[0] == 403


# ---- settings ----------------------------------------------------------
@pytest.mark.parametrize(("path", "payload", "needs", "shown"), [
    ("/settings/sync-schedule", {"vendors": 15}, "configure the sync schedule",
     ("sync_schedule", {"vendors": 15})),
    ("/settings/direct-exports", {"enabled": True}, "enable or disable ERP direct exports",
     ("direct_exports", True)),
    ("/settings/advanced", {"vendor_name_max": 40}, "configure advanced settings",
     ("advanced", {"vendor_name_max": 40})),
])
def test_settings_are_admin_only(api: SetupApi, path: str, payload: dict[str, Any],
                                 needs: str, shown: tuple[str, Any]) -> None:
    before = api.aws.table_snapshot()
    status, answer = api.call("PUT", path, "standard", payload)
    assert status == 403 and needs in answer["message"]
    assert api.aws.table_snapshot() == before
    status, answer = api.call("PUT", path, "admin", payload)
    assert status == 200
    key, value = shown
    _, settings = api.call("GET", "/settings", "viewer")
    if isinstance(value, dict):
        assert value.items() <= settings[key].items()
    else:
        assert settings[key] == value
    assert settings["history"][-1]["by"] == "admin"


def test_settings_validation_and_history(api: SetupApi) -> None:
    for path, payload, field in (("/settings/sync-schedule", {"vendors": -1}, "vendors"),
                                 ("/settings/advanced", {"cost_type_map": {"P": 12}},
                                  "cost_type_map"),
                                 ("/settings/direct-exports", {}, "enabled")):
        status, answer = api.call("PUT", path, "admin", payload)
        assert status == 400 and field in answer["message"]
    api.call("PUT", "/settings/sync-schedule", "admin", {"vendors": 15})
    _, settings = api.call("GET", "/settings", "viewer")
    assert settings["sync_schedule"]["vendors"] == 15
    assert settings["history"][-1]["by"] == "admin"


def test_direct_exports_accept_without_an_approver(api: SetupApi) -> None:
    from chalicelib.domain.models import Link

    store = get_store()
    store.put_link(Link(company_id=COMPANY_ID, kind="project", procore_id=api.main,
                        sage_key="24001"))
    store.put_link(Link(company_id=COMPANY_ID, kind="vendor",
                        procore_id=api.demo["vendor_ids"]["concrete"], sage_key="3001"))
    api.call("PUT", "/settings/direct-exports", "admin", {"enabled": True})
    use_division_dash_codes()
    record = api.sandbox.create_commitment(
        "work_order_contract", api.main, number="SC-DX", title="Direct", status="Approved",
        vendor_id=api.demo["vendor_ids"]["concrete"])
    api.sandbox.add_line_item("work_order_contract", record["id"], description="Work",
                              amount="100", cost_code_id=api.demo["cost_code_ids"]["main"][
                                  "03-300"], line_item_type_id=api.demo["line_item_type_ids"][
                                  "S"])
    status, item = api.call("POST", "/items/send", "pm", {
        "kind": "commitment", "commitment_type": "subcontract", "procore_id": record["id"],
        "project_id": api.main})
    assert status == 200 and item["status"] == "accepted"
    assert item["status_by"] == "system:direct-export"
    trail = store.audit_trail(COMPANY_ID, "commitment", record["id"])
    assert trail[-1].reason == "direct exports are on: accepted without an approver"
    assert api.aws.queue_depth(api.aws.export_url) == 1
