"""Company setup over real loopback HTTP: projects, the company directory (vendors and their
tax id), sub jobs, project and standard cost codes, cost types; sandbox and ProcoreClient."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.adapters.procore import (
    ProcoreClient,
    ProcoreTokenProvider,
    SyncOutcome,
    UrllibTransport,
)
from chalicelib.errors import FatalUpstreamError, RetriableUpstreamError, UpstreamNotFound
from devstack.procore_sandbox import SERVICE_ACCOUNT_USER_ID, ProcoreSandbox, seed_demo
from tests.fixtures_sandbox import (  # noqa: F401 - the *_fixture imports register fixtures
    CLIENT_ID,
    CLIENT_SECRET,
    COMPANY_ID,
    FakeTime,
    WebhookReceiver,
    demo_fixture,
    fetch_token,
    http_call,
    sandbox_fixture,
    webhook_receiver_fixture,
)

LOOPBACK = UrllibTransport(use_env_proxies=False)


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def client(sandbox: ProcoreSandbox, fake_time: FakeTime) -> ProcoreClient:
    tokens = ProcoreTokenProvider(
        sandbox.url, CLIENT_ID, CLIENT_SECRET, transport=LOOPBACK, clock=fake_time.clock
    )
    return ProcoreClient(
        sandbox.url,
        tokens,
        COMPANY_ID,
        transport=LOOPBACK,
        sleep=fake_time.sleep,
        clock=fake_time.clock,
        rng=lambda: 0.5,
    )


@pytest.fixture
def token(sandbox: ProcoreSandbox) -> str:
    return fetch_token(sandbox.url)


def _call(box: ProcoreSandbox, token: str, method: str, path: str, body: Any = None) -> Any:
    return http_call(box.url, method, path, token=token, json_body=body)


def _errors(answer: Any) -> Any:
    return answer.body["errors"]


def _calls(box: ProcoreSandbox, path: str) -> list[dict[str, Any]]:
    return [r for r in box.requests if r["path"] == path]


# --- projects -------------------------------------------------------------------------------
def test_project_create_update_shapes_filters_and_webhooks(
    sandbox: ProcoreSandbox,
    demo: dict[str, Any],
    token: str,
    webhook_receiver: WebhookReceiver,
) -> None:
    sandbox.set_webhook(webhook_receiver.url, "Bearer hook", "v2.0")
    created = _call(
        sandbox,
        token,
        "POST",
        "/rest/v1.0/projects",
        {
            "company_id": COMPANY_ID,
            "project": {
                "name": "  Harbor Point Clinic ",
                "project_number": "2025-010",
                "active": True,
                "address": "1 Harbor Way",
                "city": "Stockton",
                "state_code": "CA",
                "zip": "95202",
                "origin_id": "2025010",
                "origin_code": "2025-010",
                "origin_data": "job:2025010",
            },
        },
    )
    assert created.status == 201, created.body
    project = created.body
    assert project == {
        **project,
        "name": "Harbor Point Clinic",
        "display_name": "2025-010 - Harbor Point Clinic",
        "project_number": "2025-010",
        "active": True,
        "address": "1 Harbor Way",
        "city": "Stockton",
        "state_code": "CA",
        "zip": "95202",
        "origin_id": "2025010",
        "origin_code": "2025-010",
        "origin_data": "job:2025010",
    }
    assert isinstance(project["id"], int)
    assert created.headers["X-Rate-Limit-Limit"] == "3600"

    filtered = _call(
        sandbox,
        token,
        "GET",
        f"/rest/v1.0/projects?company_id={COMPANY_ID}&filters[origin_id]=2025010",
    )
    assert [p["id"] for p in filtered.body] == [project["id"]]
    assert filtered.headers["Total"] == "1"

    updated = _call(
        sandbox,
        token,
        "PATCH",
        f"/rest/v1.0/projects/{project['id']}",
        {"company_id": COMPANY_ID, "project": {"active": False, "city": "Lodi", "zip": None}},
    )
    assert updated.status == 200, updated.body
    assert (updated.body["active"], updated.body["city"], updated.body["zip"]) == (
        False,
        "Lodi",
        None,
    )
    assert updated.body["name"] == "Harbor Point Clinic"  # untouched fields stay
    got = _call(
        sandbox, token, "GET", f"/rest/v1.0/projects/{project['id']}?company_id={COMPANY_ID}"
    )
    assert got.body == updated.body

    payloads = [r.payload for r in webhook_receiver.received]
    assert [(p["event_type"], p["resource_name"]) for p in payloads] == [
        ("create", "Projects"),
        ("update", "Projects"),
    ]
    for payload in payloads:
        assert payload["resource_id"] == project["id"]
        assert payload["project_id"] == project["id"]  # the project's own id
        assert payload["company_id"] == COMPANY_ID
        assert payload["user_id"] == SERVICE_ACCOUNT_USER_ID
        assert payload["metadata"]["source_application_id"] == CLIENT_ID
    assert webhook_receiver.received[0].headers["authorization"] == "Bearer hook"


def test_project_writes_are_attributed_to_the_calling_application(
    sandbox: ProcoreSandbox, demo: dict[str, Any], webhook_receiver: WebhookReceiver
) -> None:
    sandbox.add_client("other-erp", "other-secret", 90002)
    sandbox.set_webhook(webhook_receiver.url, None, "v2.0")
    answer = http_call(
        sandbox.url,
        "POST",
        "/oauth/token",
        company=None,
        form={
            "grant_type": "client_credentials",
            "client_id": "other-erp",
            "client_secret": "other-secret",
        },
    )
    other_token = answer.body["access_token"]
    main_id = demo["project_ids"]["main"]
    patched = _call(
        sandbox,
        other_token,
        "PATCH",
        f"/rest/v1.0/projects/{main_id}",
        {"company_id": COMPANY_ID, "project": {"project_number": "2024-001A"}},
    )
    assert patched.body["display_name"] == "2024-001A - Riverside Medical Office Building"
    (received,) = webhook_receiver.received
    assert received.payload["metadata"]["source_application_id"] == "other-erp"
    assert received.payload["user_id"] == 90002


def test_project_validation_and_scope_errors(
    sandbox: ProcoreSandbox, demo: dict[str, Any], token: str, webhook_receiver: WebhookReceiver
) -> None:
    sandbox.set_webhook(webhook_receiver.url)
    path = "/rest/v1.0/projects"
    main_id = demo["project_ids"]["main"]
    sandbox.add_project("Linked", origin_id="J-1")

    def post(project: Any, company: Any = COMPANY_ID) -> Any:
        body: dict[str, Any] = {"project": project}
        if company is not None:
            body["company_id"] = company
        return _call(sandbox, token, "POST", path, body)

    no_name = post({"project_number": "X"})
    assert (no_name.status, _errors(no_name)) == (422, {"name": ["can't be blank"]})
    assert _errors(post({"name": "   "})) == {"name": ["can't be blank"]}
    mixed = post({"name": "A", "active": "yes", "city": {"x": 1}, "origin_id": "J-1"})
    assert _errors(mixed) == {
        "active": ["must be true or false"],
        "city": ["is invalid"],
        "origin_id": ["has already been taken"],
    }
    # missing parameters answer 400 (Rails' ParameterMissing); the company is in the body
    assert _errors(post("not an object")) == "param is missing or the value is empty: project"
    assert post({"name": "A"}, company=None).status == 400
    assert post({"name": "A"}, company=999).status == 403
    assert _errors(post({"name": "A", "zip": 95202, "is_active": True})) == {
        "zip": ["is invalid"],  # a string in the schema: numbers are refused
        "is_active": ["is not a permitted attribute"],  # a vendor field, not a project's
    }

    unknown = _call(
        sandbox, token, "PATCH", f"{path}/999999", {"company_id": COMPANY_ID, "project": {}}
    )
    assert unknown.status == 404
    blanked = _call(
        sandbox,
        token,
        "PATCH",
        f"{path}/{main_id}",
        {"company_id": COMPANY_ID, "project": {"name": None, "city": "Davis"}},
    )
    assert (blanked.status, _errors(blanked)) == (422, {"name": ["can't be blank"]})
    assert sandbox.state.projects[main_id]["city"] == "Sacramento"  # a 422 writes nothing
    assert len(sandbox.state.projects) == 3
    assert webhook_receiver.received == []  # refused writes notify nobody


# --- vendors (company directory) --------------------------------------------------------------
def test_vendor_create_update_inactive_and_webhooks(
    sandbox: ProcoreSandbox,
    demo: dict[str, Any],
    token: str,
    webhook_receiver: WebhookReceiver,
) -> None:
    sandbox.set_webhook(webhook_receiver.url, None, "v2.0")
    created = _call(
        sandbox,
        token,
        "POST",
        "/rest/v1.0/vendors",
        {
            "company_id": COMPANY_ID,
            "vendor": {
                "name": "Delta Glass & Glazing",
                "abbreviated_name": "DGG",
                "address": "9 Pane St",
                "city": "Fresno",
                "state_code": "CA",
                "zip": "93701",
                "business_phone": "559-555-0100",
                "email_address": "ap@deltaglass.example",
                "is_active": True,
                "origin_id": "4010",
                "origin_code": "4010",
                "origin_data": "vendor:4010",
            },
        },
    )
    assert created.status == 201, created.body
    vendor = created.body
    assert vendor == {
        **vendor,
        "name": "Delta Glass & Glazing",
        "abbreviated_name": "DGG",
        "business_phone": "559-555-0100",
        "email_address": "ap@deltaglass.example",
        "is_active": True,
        "origin_id": "4010",
        "origin_code": "4010",
        "business_register": None,
    }
    inactive = _call(
        sandbox,
        token,
        "PATCH",
        f"/rest/v1.0/vendors/{vendor['id']}",
        {"company_id": COMPANY_ID, "vendor": {"is_active": False}},
    )
    assert inactive.status == 200 and inactive.body["is_active"] is False
    filtered = _call(
        sandbox, token, "GET", f"/rest/v1.0/vendors?company_id={COMPANY_ID}&filters[origin_id]=4010"
    )
    assert [(v["id"], v["is_active"]) for v in filtered.body] == [(vendor["id"], False)]

    payloads = [r.payload for r in webhook_receiver.received]
    assert [(p["event_type"], p["resource_name"]) for p in payloads] == [
        ("create", "Company Vendors"),
        ("update", "Company Vendors"),
    ]
    for payload in payloads:
        assert payload["resource_id"] == vendor["id"]
        assert payload["project_id"] is None  # company level
        assert payload["metadata"]["source_project_id"] is None
        assert payload["metadata"]["source_application_id"] == CLIENT_ID


def test_vendor_webhook_v4_has_no_project(
    sandbox: ProcoreSandbox, demo: dict[str, Any], token: str, webhook_receiver: WebhookReceiver
) -> None:
    sandbox.set_webhook(webhook_receiver.url, None, "v4.0")
    created = _call(
        sandbox,
        token,
        "POST",
        "/rest/v1.0/vendors",
        {"company_id": COMPANY_ID, "vendor": {"name": "Quartz Tile"}},
    )
    (received,) = webhook_receiver.received
    assert received.payload["resource_type"] == "Company Vendors"
    assert received.payload["resource_id"] == str(created.body["id"])
    # v4.0 schema: project_id is a required string; a company-level event names none
    assert received.payload["project_id"] == ""
    assert received.payload["user_id"] == str(SERVICE_ACCOUNT_USER_ID)


def test_vendor_validation_errors(
    sandbox: ProcoreSandbox, demo: dict[str, Any], token: str
) -> None:
    def post(vendor: Any) -> Any:
        body = {"company_id": COMPANY_ID, "vendor": vendor}
        return _call(sandbox, token, "POST", "/rest/v1.0/vendors", body)

    nameless = post({"abbreviated_name": "X"})  # vendors document 400, no 422
    assert (nameless.status, _errors(nameless)) == (400, {"name": ["can't be blank"]})
    assert _errors(post({"name": "X", "is_active": 1})) == {"is_active": ["must be true or false"]}
    sandbox.add_vendor("Held", origin_id="4001")
    assert _errors(post({"name": "X", "origin_id": "4001"})) == {
        "origin_id": ["has already been taken"]
    }
    assert _errors(post({"name": "X", "origin_id": 4002})) == {"origin_id": ["is invalid"]}
    # the tax id is not part of a vendor body (only of a sync update: business register)
    with_register = post(
        {"name": "Y", "business_register_attributes": {"type": "abn", "identifier": "51824753556"}}
    )
    assert (with_register.status, _errors(with_register)) == (
        400,
        {"business_register_attributes": ["is not a permitted attribute"]},
    )
    wrong_company = _call(
        sandbox,
        token,
        "PATCH",
        f"/rest/v1.0/vendors/{demo['vendor_ids']['steel']}",
        {"company_id": 999, "vendor": {"name": "Z"}},
    )
    assert wrong_company.status == 403
    assert (
        _call(
            sandbox,
            token,
            "PATCH",
            "/rest/v1.0/vendors/999999",
            {"company_id": COMPANY_ID, "vendor": {"name": "Z"}},
        ).status
        == 404
    )


def test_business_register_round_trip(
    sandbox: ProcoreSandbox, demo: dict[str, Any], token: str, webhook_receiver: WebhookReceiver
) -> None:
    concrete, steel = demo["vendor_ids"]["concrete"], demo["vendor_ids"]["steel"]
    seeded = _call(sandbox, token, "GET", f"/rest/v1.0/vendors/{concrete}?company_id={COMPANY_ID}")
    assert seeded.body["business_register"] == {
        **seeded.body["business_register"],
        "type": "ein",
        "identifier": "94-1234567",
    }
    before = _call(sandbox, token, "GET", f"/rest/v1.0/vendors/{steel}?company_id={COMPANY_ID}")
    assert before.body["business_register"] is None

    sandbox.set_webhook(webhook_receiver.url)
    path = f"/rest/v1.0/vendors/{steel}/business_register?company_id={COMPANY_ID}"
    body = {"business_register": {"type": "ein", "identifier": "68-0000001"}}
    answer = _call(sandbox, token, "POST", path, body)
    assert answer.status == 201
    register = answer.body
    assert register == {
        "id": register["id"],
        "type": "ein",
        "identifier": "68-0000001",
        "verified_at": None,
        "verification_status": None,
    }
    after = _call(sandbox, token, "GET", f"/rest/v1.0/vendors/{steel}?company_id={COMPANY_ID}")
    assert after.body["business_register"] == register
    # a second POST is refused (409); PATCH changes the register, keeping its id
    again = _call(sandbox, token, "POST", path, body)
    assert (again.status, _errors(again)) == (
        409,
        "A Business Register is already associated with the Vendor.",
    )
    replaced = _call(
        sandbox,
        token,
        "PATCH",
        path,
        {"business_register": {"type": "abn", "identifier": "51 824 753 556"}},
    )
    assert replaced.status == 200
    assert replaced.body == {**register, "type": "abn", "identifier": "51 824 753 556"}
    assert sandbox.state.vendors[steel]["business_register"]["type"] == "abn"
    assert [
        (r.payload["event_type"], r.payload["resource_name"], r.payload["resource_id"])
        for r in webhook_receiver.received
    ] == [("update", "Company Vendors", steel)] * 2

    bad = _call(sandbox, token, "PATCH", path, {"business_register": {"type": "vat"}})
    assert (bad.status, _errors(bad)) == (422, {"type": ["is not included in the list"]})
    blank = _call(sandbox, token, "PATCH", path, {"business_register": {"identifier": " "}})
    assert (blank.status, _errors(blank)) == (422, {"identifier": ["can't be blank"]})
    missing = _call(sandbox, token, "PATCH", path, {})
    assert (missing.status, _errors(missing)) == (
        400,
        "param is missing or the value is empty: business_register",
    )
    unknown = _call(
        sandbox,
        token,
        "POST",
        f"/rest/v1.0/vendors/999999/business_register?company_id={COMPANY_ID}",
        body,
    )
    assert unknown.status == 404
    none_yet = demo["vendor_ids"]["electrical"]
    no_register = _call(
        sandbox,
        token,
        "PATCH",
        f"/rest/v1.0/vendors/{none_yet}/business_register?company_id={COMPANY_ID}",
        body,
    )
    assert no_register.status == 404  # PATCH changes a register, never makes one
    assert (
        _call(sandbox, token, "POST", f"/rest/v1.0/vendors/{steel}/business_register", body).status
        == 400  # company_id is a required query parameter
    )
    assert len(webhook_receiver.received) == 2


def test_seed_demo_keys_and_opt_in_matching_vendors(sandbox: ProcoreSandbox, token: str) -> None:
    plain = seed_demo(sandbox)
    assert set(plain["vendor_ids"]) == {"concrete", "electrical", "steel"}
    assert {
        "company_id",
        "project_ids",
        "vendor_ids",
        "cost_code_ids",
        "line_item_type_ids",
    } <= set(plain)
    lists = _call(
        sandbox, token, "GET", f"/rest/v1.0/standard_cost_code_lists?company_id={COMPANY_ID}"
    )
    assert lists.body == [
        {
            "id": plain["standard_cost_code_list_id"],
            "name": "Sage 100 Contractor",
            "is_erp_list": True,
            "available_to_use_on_new_projects": True,
        }
    ]

    sandbox.reset()
    seeded = http_call(
        sandbox.url, "POST", "/_sandbox/seed", json_body={"matching_vendors": True}
    ).body
    assert set(seeded["vendor_ids"]) == {"concrete", "electrical", "steel", "plumbing", "drywall"}
    names = {
        v["name"]
        for v in _call(sandbox, token, "GET", f"/rest/v1.0/vendors?company_id={COMPANY_ID}").body
    }
    assert names == {
        "Granite Bay Concrete",
        "Northern California Electrical Contractors Incorporated",
        "Summit Steel Supply",
        "Valley Plumbing & Heating LLC",
        "Acme Drywall Co.",
    }


# --- sub jobs ---------------------------------------------------------------------------------
def test_sub_jobs_create_list_and_validate(
    sandbox: ProcoreSandbox, demo: dict[str, Any], token: str
) -> None:
    main_id, second_id = demo["project_ids"]["main"], demo["project_ids"]["second"]

    def post(body: Any) -> Any:
        return _call(sandbox, token, "POST", "/rest/v1.0/sub_jobs", body)

    created = post(
        {
            "project_id": main_id,
            "sub_job": {"name": "Phase 1 - Shell", "code": "1", "origin_id": "24001-1"},
        }
    )
    assert created.status == 201, created.body
    assert created.body == {
        **created.body,
        "name": "Phase 1 - Shell",
        "code": "1",
        "origin_id": "24001-1",
    }
    assert "project_id" not in created.body  # not in Procore's sub job answer
    other = post({"project_id": second_id, "sub_job": {"name": "Phase 1", "code": "1"}})
    assert other.status == 201  # codes are unique per project only

    listed = _call(sandbox, token, "GET", f"/rest/v1.0/sub_jobs?project_id={main_id}")
    assert [s["id"] for s in listed.body] == [created.body["id"]]
    # the list documents no filters: filters[origin_id] is ignored (the client compares)
    filtered = _call(
        sandbox, token, "GET", f"/rest/v1.0/sub_jobs?project_id={second_id}&filters[origin_id]=x"
    )
    assert [s["id"] for s in filtered.body] == [other.body["id"]]

    nameless = post({"project_id": main_id, "sub_job": {"code": "2"}})
    assert (nameless.status, _errors(nameless)) == (400, {"name": ["can't be blank"]})
    dup = post(
        {"project_id": main_id, "sub_job": {"name": "Again", "code": "1", "origin_id": "24001-1"}}
    )
    assert _errors(dup) == {
        "code": ["has already been taken"],
        "origin_id": ["has already been taken"],
    }
    assert _errors(post({"project_id": main_id, "sub_job": {"name": "X", "code": 2}})) == {
        "code": ["is invalid"]  # a string in the schema
    }
    assert post({"sub_job": {"name": "X"}}).status == 400
    assert post({"project_id": 999999, "sub_job": {"name": "X"}}).status == 404
    assert _call(sandbox, token, "GET", "/rest/v1.0/sub_jobs").status == 400
    assert _call(sandbox, token, "GET", "/rest/v1.0/sub_jobs?project_id=999999").status == 404


def test_sub_job_sync_updates_and_creates_by_origin_id(
    sandbox: ProcoreSandbox, demo: dict[str, Any], token: str
) -> None:
    main_id, second_id = demo["project_ids"]["main"], demo["project_ids"]["second"]
    existing = sandbox.add_sub_job(main_id, "Phase 1", code="1")
    sandbox.add_sub_job(second_id, "Elsewhere", code="9", origin_id="24002-9")
    answer = _call(
        sandbox,
        token,
        "PATCH",
        f"/rest/v1.0/sub_jobs/sync?project_id={main_id}",
        {
            "project_id": main_id,
            "updates": [
                {"id": existing["id"], "name": "Phase 1 - Shell", "origin_id": "24001-1"},
                {"origin_id": "24001-2", "name": "Phase 2 - Interiors", "code": "2"},
                {"origin_id": "24001-2", "name": "Phase 2 - Interior fit-out"},  # matches it
                {"origin_id": "24001-3", "code": "3"},  # would create, needs a name
                {"id": 999999, "name": "ghost"},
                {"origin_id": "24002-9", "name": "Not mine"},  # held in another project
                {"id": existing["id"], "code": "2"},  # taken by the new sub job
                {"name": "no key"},  # neither id nor origin_id: created without an origin id
            ],
        },
    )
    assert answer.status == 200, answer.body
    entities, errors = answer.body["entities"], answer.body["errors"]
    assert [(e["name"], e["code"], e["origin_id"]) for e in entities] == [
        ("Phase 1 - Shell", "1", "24001-1"),
        ("Phase 2 - Interiors", "2", "24001-2"),
        ("Phase 2 - Interior fit-out", "2", "24001-2"),
        ("no key", None, None),
    ]
    assert entities[1]["id"] == entities[2]["id"]
    assert sandbox.state.sub_jobs[entities[1]["id"]]["project_id"] == main_id
    assert [e["errors"] for e in errors] == [
        {"name": ["can't be blank"]},
        {"id": ["Entity with this ID not found"]},
        {"origin_id": ["has already been taken"]},
        {"code": ["has already been taken"]},
    ]
    assert errors[0]["origin_id"] == "24001-3"  # the update as sent comes back
    listed = _call(sandbox, token, "GET", f"/rest/v1.0/sub_jobs?project_id={main_id}").body
    assert len(listed) == 3

    # whole-request refusals answer 400, the sync schema's only refusal
    too_many = _call(
        sandbox,
        token,
        "PATCH",
        f"/rest/v1.0/sub_jobs/sync?project_id={main_id}",
        {"project_id": main_id, "updates": [{"origin_id": str(i)} for i in range(1001)]},
    )
    assert too_many.status == 400
    no_project = _call(sandbox, token, "PATCH", "/rest/v1.0/sub_jobs/sync", {"updates": []})
    assert no_project.status == 400


# --- project cost codes -----------------------------------------------------------------------
def test_cost_code_create_with_parent_and_sub_job(
    sandbox: ProcoreSandbox, demo: dict[str, Any], token: str
) -> None:
    main_id = demo["project_ids"]["main"]
    sub_job = sandbox.add_sub_job(main_id, "Phase 1", code="1")

    def post(body: Any) -> Any:
        return _call(sandbox, token, "POST", "/rest/v1.0/cost_codes", body)

    division = post({"project_id": main_id, "cost_code": {"code": "31", "name": "Earthwork"}})
    assert division.status == 201, division.body
    assert division.body == {
        **division.body,
        "code": "31",
        "full_code": "31",
        "name": "Earthwork",
        "parent": None,  # Procore names the parent as parent: {id}, the biller as biller_*
        "origin_id": None,
        "biller": "Riverside Medical Office Building",
        "biller_type": "Project",
        "biller_id": main_id,
    }
    assert not {"parent_id", "sub_job_id", "project_id"} & set(division.body)
    child = post(
        {
            "project_id": main_id,
            "cost_code": {
                "code": "200",
                "name": "Excavation",
                "parent_id": division.body["id"],
                "origin_id": "31-200",
            },
        }
    )
    assert child.body["full_code"] == "31-200" and child.body["origin_id"] == "31-200"
    assert child.body["parent"] == {"id": division.body["id"]}
    on_sub_job = post(
        {
            "project_id": main_id,
            "sub_job_id": sub_job["id"],
            "cost_code": {"code": "31", "name": "Earthwork", "origin_id": "31"},
        }
    )
    assert on_sub_job.status == 201, on_sub_job.body  # another biller: code and origin free
    assert (on_sub_job.body["biller_type"], on_sub_job.body["biller_id"]) == (
        "SubJob",
        sub_job["id"],
    )

    listed = _call(sandbox, token, "GET", f"/rest/v1.0/cost_codes?project_id={main_id}").body
    assert all("origin_id" in c and "biller_origin_id" in c for c in listed)
    assert len(listed) == 8  # 5 seeded + 3 here
    only_sub_job = _call(
        sandbox,
        token,
        "GET",
        f"/rest/v1.0/cost_codes?project_id={main_id}&sub_job_id={sub_job['id']}",
    ).body
    assert [c["id"] for c in only_sub_job] == [on_sub_job.body["id"]]
    by_origin = _call(
        sandbox,
        token,
        "GET",
        f"/rest/v1.0/cost_codes?project_id={main_id}&filters[origin_id]=31-200",
    ).body
    assert [c["id"] for c in by_origin] == [child.body["id"]]

    code = {"project_id": main_id, "cost_code": {"code": "300", "name": "X"}}
    assert _errors(post({"project_id": main_id, "cost_code": {}})) == {
        "code": ["can't be blank"],
        "name": ["can't be blank"],
    }
    assert _errors(post({**code, "cost_code": {"code": "03-300", "name": "Dup"}})) == {
        "code": ["has already been taken"]  # the seeded full code
    }
    assert _errors(
        post(
            {**code, "cost_code": {"code": "200", "name": "Dup", "parent_id": division.body["id"]}}
        )
    ) == {"code": ["has already been taken"]}
    other_biller_parent = {"code": "9", "name": "Y", "parent_id": on_sub_job.body["id"]}
    assert _errors(post({**code, "cost_code": other_biller_parent})) == {"parent": ["must exist"]}
    assert _errors(post({**code, "sub_job_id": 999999})) == {"sub_job": ["must exist"]}
    assert post({**code, "project_id": 999999}).status == 404
    assert post({"cost_code": {"code": "1", "name": "x"}}).status == 400  # documented: 400


def test_cost_code_sync_by_origin_id_per_biller(
    sandbox: ProcoreSandbox, demo: dict[str, Any], token: str
) -> None:
    main_id, second_id = demo["project_ids"]["main"], demo["project_ids"]["second"]
    seeded = demo["cost_code_ids"]["main"]["03-300"]
    updates = [
        {"origin_id": "01-100", "id": demo["cost_code_ids"]["main"]["01-100"]},
        {"origin_id": "31", "code": "31", "name": "Earthwork"},  # creates
        {"origin_id": "31", "name": "Earthwork & Grading"},  # matches the one just made
        {"id": seeded, "name": "Concrete (cast in place)", "origin_id": "03-300"},
        {"origin_id": "32", "name": "no code"},
        {"origin_id": "33", "code": "01-100", "name": "Taken full code"},
        {"id": 999999, "name": "ghost"},
    ]
    answer = _call(
        sandbox,
        token,
        "PATCH",
        f"/rest/v1.0/cost_codes/sync?project_id={main_id}",
        {"updates": updates},
    )
    assert answer.status == 200, answer.body
    entities = answer.body["entities"]
    assert [(e["full_code"], e["name"], e["origin_id"]) for e in entities] == [
        ("01-100", "General Conditions", "01-100"),
        ("31", "Earthwork", "31"),
        ("31", "Earthwork & Grading", "31"),
        ("03-300", "Concrete (cast in place)", "03-300"),
    ]
    assert [e["errors"] for e in answer.body["errors"]] == [
        {"code": ["can't be blank"]},
        {"code": ["has already been taken"]},
        {"id": ["Entity with this ID not found"]},  # Procore's sync guide
    ]

    # the same ERP codes on another project: origin ids are unique per biller
    second = _call(
        sandbox,
        token,
        "PATCH",
        "/rest/v1.0/cost_codes/sync",
        {"project_id": second_id, "updates": [{"origin_id": "31", "code": "31", "name": "Earth"}]},
    )
    assert second.body["errors"] == [] and second.body["entities"][0]["origin_id"] == "31"

    # renaming a parent's code moves its children's full codes
    parent_id = entities[1]["id"]
    child = sandbox.state.cost_codes[main_id]
    sync_path = f"/rest/v1.0/cost_codes/sync?project_id={main_id}"
    made = _call(
        sandbox,
        token,
        "PATCH",
        sync_path,
        {
            "updates": [
                {"origin_id": "31-200", "code": "200", "name": "Exc", "parent_id": parent_id}
            ]
        },
    ).body["entities"][0]
    assert made["full_code"] == "31-200"
    _call(sandbox, token, "PATCH", sync_path, {"updates": [{"id": parent_id, "code": "310"}]})
    assert child[made["id"]]["full_code"] == "310-200"
    cycle = _call(
        sandbox,
        token,
        "PATCH",
        sync_path,
        {"updates": [{"id": parent_id, "parent_id": made["id"]}]},
    )
    assert cycle.body["errors"][0]["errors"] == {"parent": ["is invalid"]}


def test_cost_code_sync_on_a_sub_job(
    sandbox: ProcoreSandbox, demo: dict[str, Any], token: str
) -> None:
    main_id = demo["project_ids"]["main"]
    sub_job = sandbox.add_sub_job(main_id, "Phase 1", code="1")
    answer = _call(
        sandbox,
        token,
        "PATCH",
        f"/rest/v1.0/cost_codes/sync?project_id={main_id}&sub_job_id={sub_job['id']}",
        {"updates": [{"origin_id": "01-100", "code": "01-100", "name": "General Conditions"}]},
    )
    (entity,) = answer.body["entities"]
    assert (entity["biller_id"], entity["biller_type"], entity["full_code"]) == (
        sub_job["id"],
        "SubJob",
        "01-100",
    )  # the project-level 01-100 is another biller
    unknown = _call(
        sandbox,
        token,
        "PATCH",
        f"/rest/v1.0/cost_codes/sync?project_id={main_id}&sub_job_id=999999",
        {"updates": []},
    )
    assert unknown.status == 404


# --- standard cost codes and cost types ------------------------------------------------------
def test_standard_cost_code_lists_and_sync(
    sandbox: ProcoreSandbox, demo: dict[str, Any], token: str
) -> None:
    list_id = demo["standard_cost_code_list_id"]
    codes_path = f"/rest/v1.0/standard_cost_codes?standard_cost_code_list_id={list_id}"
    assert _call(sandbox, token, "GET", codes_path).body == []
    # the whole record: the default view answers only id and standard_cost_code_list_id
    sync = "/rest/v1.0/standard_cost_codes/sync?view=extended"
    body = {
        "company_id": COMPANY_ID,
        "standard_cost_code_list_id": list_id,
        "updates": [
            {"origin_id": "01", "code": "01", "name": "General Requirements"},
            {"origin_id": "01-100", "code": "100", "name": "Supervision"},
            {"origin_id": "01-200", "name": "no code"},
            {"origin_id": "dup", "code": "01", "name": "Duplicate code"},
        ],
    }
    answer = _call(sandbox, token, "PATCH", sync, body)
    assert answer.status == 200
    parent, child = answer.body["entities"]
    assert (parent["code"], parent["full_code"], parent["standard_cost_code_list_id"]) == (
        "01",
        "01",
        list_id,
    )
    assert [e["errors"] for e in answer.body["errors"]] == [
        {"code": ["can't be blank"]},
        {"code": ["has already been taken"]},
    ]
    linked = _call(
        sandbox,
        token,
        "PATCH",
        sync,
        {**body, "updates": [{"origin_id": "01-100", "parent_id": parent["id"], "name": "Supt."}]},
    )
    assert linked.body["entities"][0] == {
        **linked.body["entities"][0],
        "id": child["id"],
        "parent_id": parent["id"],
        "code": "100",
        "full_code": "01-100",  # code is one segment; full_code has the parent's prefix
        "name": "Supt.",
    }
    listed = _call(sandbox, token, "GET", codes_path + "&filters[origin_id]=01-100").body
    assert [c["id"] for c in listed] == [child["id"]]

    assert (
        _call(sandbox, token, "PATCH", sync, {**body, "standard_cost_code_list_id": 999999}).status
        == 404
    )
    missing = {"company_id": COMPANY_ID, "updates": []}
    assert _call(sandbox, token, "PATCH", sync, missing).status == 400
    assert _call(sandbox, token, "PATCH", sync, {**body, "company_id": 999}).status == 403
    assert _call(sandbox, token, "GET", "/rest/v1.0/standard_cost_codes").status == 400
    assert (
        _call(
            sandbox, token, "GET", "/rest/v1.0/standard_cost_codes?standard_cost_code_list_id=9"
        ).status
        == 404
    )
    assert _call(sandbox, token, "GET", "/rest/v1.0/standard_cost_code_lists").status == 400


def test_line_item_types_create_and_sync(
    sandbox: ProcoreSandbox, demo: dict[str, Any], token: str
) -> None:
    def post(fields: Any) -> Any:
        body = {"company_id": COMPANY_ID, "line_item_type": fields}
        return _call(sandbox, token, "POST", "/rest/v1.0/line_item_types", body)

    created = post(
        {
            "name": "Subcontract Labor",
            "csv_import_code": "SL",
            "base_type": "labor",
            "origin_id": "6",
        }
    )
    assert created.status == 201, created.body
    assert created.body == {
        **created.body,
        "name": "Subcontract Labor",
        "code": "SL",
        "base_type": "labor",
        "origin_id": "6",
    }
    assert "csv_import_code" not in created.body
    assert _errors(post({"name": "Dup", "csv_import_code": "L"})) == {
        "csv_import_code": ["has already been taken"]  # the seeded Labor
    }
    assert _errors(post({"name": "X", "csv_import_code": "X", "base_type": "food"})) == {
        "base_type": ["is not included in the list"]
    }
    assert _errors(post({})) == {
        "name": ["can't be blank"],
        "csv_import_code": ["can't be blank"],
    }

    answer = _call(
        sandbox,
        token,
        "PATCH",
        "/rest/v1.0/line_item_types/sync",
        {
            "company_id": COMPANY_ID,
            "updates": [
                {"id": demo["line_item_type_ids"]["L"], "origin_id": "1"},
                {"origin_id": "7", "name": "Permits", "csv_import_code": "P"},  # creates
                {"origin_id": "6", "name": "Sub Labor"},  # the POSTed one
                {"origin_id": "8", "name": "No code"},
            ],
        },
    )
    entities = answer.body["entities"]
    assert [(e["code"], e["name"], e["base_type"], e["origin_id"]) for e in entities] == [
        ("L", "Labor", "labor", "1"),
        ("P", "Permits", "other", "7"),
        ("SL", "Sub Labor", "labor", "6"),
    ]
    assert [e["errors"] for e in answer.body["errors"]] == [{"csv_import_code": ["can't be blank"]}]
    listed = _call(sandbox, token, "GET", f"/rest/v1.0/line_item_types?company_id={COMPANY_ID}")
    assert len(listed.body) == 7


# --- faults, quota and counting on the new paths -----------------------------------------------
def test_new_endpoints_count_requests_and_take_faults(
    sandbox: ProcoreSandbox, demo: dict[str, Any], token: str
) -> None:
    sandbox.inject_fault(503, path_prefix="/rest/v1.0/sub_jobs", retry_after=2)
    faulted = _call(
        sandbox, token, "GET", f"/rest/v1.0/sub_jobs?project_id={demo['project_ids']['main']}"
    )
    assert (faulted.status, faulted.headers["Retry-After"]) == (503, "2")
    ok = _call(
        sandbox, token, "GET", f"/rest/v1.0/sub_jobs?project_id={demo['project_ids']['main']}"
    )
    assert ok.status == 200 and "X-Rate-Limit-Remaining" in ok.headers
    assert sandbox.request_counts["/rest/v1.0/sub_jobs"] == 2
    no_auth = http_call(
        sandbox.url, "GET", f"/rest/v1.0/standard_cost_code_lists?company_id={COMPANY_ID}"
    )
    assert no_auth.status == 401
    wrong_header = http_call(
        sandbox.url,
        "POST",
        "/rest/v1.0/line_item_types",
        token=token,
        company=999,
        json_body={
            "company_id": COMPANY_ID,
            "line_item_type": {"name": "X", "csv_import_code": "X"},
        },
    )
    assert wrong_header.status == 403
    sandbox.set_rate_limit(remaining=0)
    limited = _call(
        sandbox,
        token,
        "POST",
        "/rest/v1.0/projects",
        {"company_id": COMPANY_ID, "project": {"name": "Z"}},
    )
    assert limited.status == 429
    assert len(sandbox.state.projects) == 2


# --- the client ---------------------------------------------------------------------------------
def test_client_projects_create_update_find(
    sandbox: ProcoreSandbox,
    demo: dict[str, Any],
    client: ProcoreClient,
    webhook_receiver: WebhookReceiver,
) -> None:
    sandbox.set_webhook(webhook_receiver.url)
    project = client.create_project(
        {"name": "Harbor Point Clinic", "project_number": "2025-010", "origin_id": "2025010"}
    )
    assert project["origin_id"] == "2025010" and project["active"] is True
    updated = client.update_project(project["id"], {"city": "Stockton", "active": False})
    assert (updated["city"], updated["active"]) == ("Stockton", False)

    assert [p["id"] for p in client.find_projects(origin_id="2025010")] == [project["id"]]
    assert [p["id"] for p in client.find_projects(project_number="2024-002")] == [
        demo["project_ids"]["second"]
    ]
    assert client.find_projects(origin_id="2025010", project_number="2024-002") == []
    assert client.find_projects(origin_id="nope") == []
    assert len(client.find_projects()) == 3
    queries = [r["query"] for r in _calls(sandbox, "/rest/v1.0/projects") if r["method"] == "GET"]
    assert "filters%5Borigin_id%5D=2025010" in queries[0]

    with pytest.raises(FatalUpstreamError) as caught:
        client.create_project({"project_number": "no name"})
    assert caught.value.details["status"] == 422
    assert caught.value.details["errors"] == {"name": ["can't be blank"]}
    with pytest.raises(UpstreamNotFound):
        client.update_project(999999, {"name": "X"})
    apps = {r.payload["metadata"]["source_application_id"] for r in webhook_receiver.received}
    assert apps == {CLIENT_ID} and len(webhook_receiver.received) == 2


def test_client_vendor_create_update_and_tax_id(
    sandbox: ProcoreSandbox,
    demo: dict[str, Any],
    client: ProcoreClient,
    webhook_receiver: WebhookReceiver,
) -> None:
    sandbox.set_webhook(webhook_receiver.url)
    vendor = client.create_vendor(
        {"name": "Delta Glass", "abbreviated_name": "DG", "origin_id": "4010", "is_active": True}
    )
    assert vendor["business_register"] is None
    register = client.set_vendor_tax_id(vendor["id"], "EIN", "77-7777777")
    assert register == {
        "id": register["id"],
        "type": "ein",
        "identifier": "77-7777777",
        "verified_at": None,
        "verification_status": None,
    }
    assert client.get_vendor(vendor["id"])["business_register"] == register
    (tax_call,) = _calls(sandbox, f"/rest/v1.0/vendors/{vendor['id']}/business_register")
    assert tax_call["query"] == f"company_id={COMPANY_ID}"
    inactive = client.update_vendor(vendor["id"], {"is_active": False})
    assert inactive["is_active"] is False and inactive["business_register"] == register

    with pytest.raises(ValueError, match="tax id type"):
        client.set_vendor_tax_id(vendor["id"], "ssn", "123")
    with pytest.raises(FatalUpstreamError) as caught:  # POST 409, then the PATCH refuses
        client.set_vendor_tax_id(vendor["id"], "abn", " ")
    assert caught.value.details["errors"] == {"identifier": ["can't be blank"]}
    changed = client.set_vendor_tax_id(vendor["id"], "ein", "77-7777778")  # POST 409, PATCH
    assert changed == {**register, "identifier": "77-7777778"}
    assert [
        (r.payload["event_type"], r.payload["resource_name"], r.payload["project_id"])
        for r in webhook_receiver.received
    ] == [
        ("create", "Company Vendors", None),
        ("update", "Company Vendors", None),
        ("update", "Company Vendors", None),
        ("update", "Company Vendors", None),
    ]


def test_client_creates_are_not_resent_after_a_5xx(
    sandbox: ProcoreSandbox, demo: dict[str, Any], client: ProcoreClient, fake_time: FakeTime
) -> None:
    main_id = demo["project_ids"]["main"]
    creates = [
        ("/rest/v1.0/projects", lambda: client.create_project({"name": "P"})),
        ("/rest/v1.0/vendors", lambda: client.create_vendor({"name": "V"})),
        ("/rest/v1.0/sub_jobs", lambda: client.create_sub_job(main_id, {"name": "S"})),
        (
            "/rest/v1.0/cost_codes",
            lambda: client.create_cost_code(main_id, {"code": "99", "name": "C"}),
        ),
        (
            f"/rest/v1.0/vendors/{demo['vendor_ids']['steel']}/business_register",
            lambda: client.set_vendor_tax_id(demo["vendor_ids"]["steel"], "ein", "1"),
        ),
    ]
    for path, create in creates:
        sandbox.inject_fault(500, path_prefix=path, method="POST")
        with pytest.raises(RetriableUpstreamError, match="POST not resent"):
            create()
        assert sandbox.request_counts[path] == 1, path
    assert fake_time.sleeps == []

    sandbox.inject_fault(429, method="POST", reset_in=1)  # never acted on: resent
    assert client.create_sub_job(main_id, {"name": "S"})["name"] == "S"
    assert sandbox.request_counts["/rest/v1.0/sub_jobs"] == 3

    sandbox.inject_fault(500, path_prefix="/rest/v1.0/vendors", method="PATCH")
    updated = client.update_vendor(demo["vendor_ids"]["steel"], {"city": "Reno"})  # PATCH: resent
    assert updated["city"] == "Reno"
    sandbox.inject_fault(502, path_prefix="/rest/v1.0/cost_codes/sync")
    outcome = client.sync_cost_codes(main_id, [{"origin_id": "99", "code": "99", "name": "C"}])
    assert outcome.ok and len(outcome.entities) == 1  # a resent sync matches by origin_id
    assert [c["status"] for c in _calls(sandbox, "/rest/v1.0/cost_codes/sync")] == [502, 200]


def test_client_sub_jobs_and_cost_codes(
    sandbox: ProcoreSandbox, demo: dict[str, Any], client: ProcoreClient
) -> None:
    main_id = demo["project_ids"]["main"]
    phase = client.create_sub_job(main_id, {"name": "Phase 1", "code": "1", "origin_id": "24001-1"})
    outcome = client.sync_sub_jobs(
        main_id,
        [
            {"id": phase["id"], "name": "Phase 1 - Shell"},
            {"origin_id": "24001-2", "name": "Phase 2", "code": "2"},
            {"origin_id": "24001-3"},
        ],
    )
    assert isinstance(outcome, SyncOutcome) and not outcome.ok
    assert [e["name"] for e in outcome.entities] == ["Phase 1 - Shell", "Phase 2"]
    assert outcome.errors[0]["errors"] == {"name": ["can't be blank"]}
    assert [s["code"] for s in client.list_sub_jobs(main_id)] == ["1", "2"]
    (sync_call,) = _calls(sandbox, "/rest/v1.0/sub_jobs/sync")
    assert sync_call["query"] == f"project_id={main_id}"

    division = client.create_cost_code(main_id, {"code": "31", "name": "Earthwork"})
    child = client.create_cost_code(
        main_id, {"code": "200", "name": "Excavation", "parent_id": division["id"]}
    )
    assert child["full_code"] == "31-200"
    on_phase = client.create_cost_code(
        main_id, {"code": "31", "name": "Earthwork", "origin_id": "31"}, sub_job_id=phase["id"]
    )
    assert (on_phase["biller_type"], on_phase["biller_id"]) == ("SubJob", phase["id"])
    synced = client.sync_cost_codes(
        main_id,
        [{"origin_id": "31", "name": "Earthwork (phase 1)"}, {"origin_id": "32", "code": "32"}],
        sub_job_id=phase["id"],
    )
    assert [(e["id"], e["name"]) for e in synced.entities] == [
        (on_phase["id"], "Earthwork (phase 1)")
    ]
    assert synced.errors[0]["errors"] == {"name": ["can't be blank"]}
    (code_sync,) = _calls(sandbox, "/rest/v1.0/cost_codes/sync")
    assert code_sync["query"] == f"project_id={main_id}&sub_job_id={phase['id']}"
    codes = {c["id"]: c for c in client.list_cost_codes(main_id)}
    assert codes[on_phase["id"]]["origin_id"] == "31"
    with pytest.raises(FatalUpstreamError) as caught:
        client.create_cost_code(main_id, {"code": "31", "name": "Again"})
    assert caught.value.details["errors"] == {"code": ["has already been taken"]}
    with pytest.raises(UpstreamNotFound):
        client.sync_cost_codes(main_id, [{"origin_id": "1"}], sub_job_id=999999)


def test_client_standard_cost_codes_and_cost_types(
    sandbox: ProcoreSandbox, demo: dict[str, Any], client: ProcoreClient
) -> None:
    (erp_list,) = [x for x in client.list_standard_cost_code_lists() if x["is_erp_list"]]
    assert erp_list["name"] == "Sage 100 Contractor"
    assert client.list_standard_cost_codes(erp_list["id"]) == []
    outcome = client.sync_standard_cost_codes(
        erp_list["id"],
        [
            {"origin_id": "01", "code": "01", "name": "General Requirements"},
            {"origin_id": "01-100", "code": "100", "name": "Supervision"},
        ],
    )
    assert outcome.ok
    parent_id = outcome.entities[0]["id"]
    again = client.sync_standard_cost_codes(
        erp_list["id"], [{"origin_id": "01-100", "parent_id": parent_id}]
    )
    assert again.entities[0]["id"] == outcome.entities[1]["id"]
    listed = client.list_standard_cost_codes(erp_list["id"])
    assert [(c["full_code"], c["parent_id"]) for c in listed] == [
        ("01", None),
        ("01-100", parent_id),
    ]
    with pytest.raises(UpstreamNotFound):
        client.list_standard_cost_codes(999999)

    types = client.sync_line_item_types(
        [
            {"origin_id": "1", "id": demo["line_item_type_ids"]["L"]},
            {"origin_id": "6", "name": "Permits", "csv_import_code": "P", "base_type": "other"},
            {"origin_id": "7", "name": "Bad", "csv_import_code": "B", "base_type": "food"},
        ]
    )
    assert [(t["code"], t["origin_id"]) for t in types.entities] == [("L", "1"), ("P", "6")]
    assert types.errors[0]["errors"] == {"base_type": ["is not included in the list"]}
    assert {t["code"] for t in client.list_line_item_types()} >= {"L", "P"}
    assert client.sync_line_item_types([]) == SyncOutcome()  # nothing to send, no call
    assert sandbox.request_counts["/rest/v1.0/line_item_types/sync"] == 1
