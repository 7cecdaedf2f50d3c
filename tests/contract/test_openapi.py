"""The OpenAPI document: valid OpenAPI 3.1, every route in it with its rule, served at
/openapi.json, and every answer it documents produced by a test.

"Every documented answer produced": a module-scoped recorder collects the (method, path
template, status) of every answer the calls below get: a sweep without a token and as a
persona with no levels (401/403), targeted calls that provoke each documented status
(TARGETED), and a short schemathesis run. The last test lists the documented pairs never
produced. The module runs on one worker (xdist_group), its tests in order.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest

from chalicelib.route_catalog import OPERATIONS, PUBLIC, Operation
from tests.fixtures_sandbox import demo_fixture, sandbox_fixture  # noqa: F401
from tests.integration.test_route_rules import url_of
from tests.openapi_harness import NO_TOKEN, Recorder, World, fuzz, operations_of

pytestmark = pytest.mark.xdist_group("openapi")
FED_BY = ("sweep", "targeted", "fuzz")


@dataclass
class Fed:
    recorder: Recorder = field(default_factory=Recorder)
    by: set[str] = field(default_factory=set)


@pytest.fixture(scope="module")
def fed() -> Fed:
    return Fed()


def _document() -> dict[str, Any]:
    from app import app
    from chalicelib.openapi import build

    return build(app.routes)


def test_the_document_is_valid_openapi_3_1() -> None:
    from openapi_spec_validator import validate
    from openapi_spec_validator.validation import OpenAPIV31SpecValidator

    document = _document()
    assert document["openapi"] == "3.1.0"
    validate(document, cls=OpenAPIV31SpecValidator)


def test_every_route_and_method_is_in_it_with_its_rule_and_security() -> None:
    from app import app

    paths = _document()["paths"]
    for path, methods in app.routes.items():
        for method in methods:
            entry = paths.get(path, {}).get(method.lower())
            assert entry is not None, f"{method} {path} is not in the document"
            assert entry["x-permission"] != "undeclared", f"{method} {path}"
            assert entry["tags"] and entry["summary"]
    for op in OPERATIONS:
        entry = paths[op.path][op.method.lower()]
        declared = op.rule if isinstance(op.rule, str) else op.rule.value
        assert entry["x-permission"] == declared
        if op.rule == PUBLIC:
            assert entry["security"] in ([], [{"webhookToken": []}])
        else:
            assert entry["security"] == [{"bearerAuth": []}]
            assert "401" in entry["responses"]
        for name in (p["name"] for p in entry["parameters"] if p["in"] == "path"):
            assert "{" + name + "}" in op.path


def test_request_bodies_come_from_the_request_models() -> None:
    from chalicelib.requests import RejectBody, UserBody

    document = _document()
    schemas = document["components"]["schemas"]
    reject = document["paths"]["/items/{item_id}/reject"]["post"]["requestBody"]
    assert reject["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/RejectBody"}
    assert schemas["RejectBody"]["properties"]["reason"]["maxLength"] == 2000
    assert set(schemas["UserBody"]["properties"]) == set(UserBody.model_fields)
    assert schemas["RejectBody"]["additionalProperties"] is False
    assert RejectBody.model_config["extra"] == "forbid"


def test_served_without_a_token_and_cacheable(aws: Any, chalice_client: Any) -> None:
    response = chalice_client.http.get("/openapi.json")
    assert response.status_code == 200
    assert response.headers["Cache-Control"].startswith("public")
    assert json.loads(response.body) == json.loads(json.dumps(_document()))


# ---- every documented answer produced -------------------------------------------------------
@pytest.fixture
def world(aws: Any, sandbox: Any, demo: dict[str, Any], chalice_client: Any, mint: Any,
          monkeypatch: pytest.MonkeyPatch, fed: Fed, signing_keys: tuple[str, str]) -> Any:
    world = World(aws, sandbox, demo, chalice_client, mint, monkeypatch, fed.recorder)
    world.private_key = signing_keys[0]
    return world


def test_sweep_without_a_token_and_without_levels(world: World, fed: Fed) -> None:
    for op in OPERATIONS:
        body = op.body
        status, answer = world.call(op.method, url_of(op), NO_TOKEN, body)
        assert status < 500 or str(status) in _responses(op), (op.path, status, answer)
        if op.rule != PUBLIC:
            world.call(op.method, url_of(op), "nobody", body)
    fed.by.add("sweep")


# (method, url, who, body, the status it must get), in order (earlier calls set up later
# ones). {main}, {second}, {spare}, {concrete}, {steel} and {q}: the demo's projects and
# companies, a project of no job, and the quarantined delivery; 424242 a project linked to
# nothing; commitment-50x: tests/openapi_harness.SEEDED_ITEMS.
TARGETED: tuple[tuple[str, str, str, Any, int], ...] = (
    ("GET", "/items", "viewer", None, 200),
    ("GET", "/items?status=bogus", "viewer", None, 400),
    ("GET", "/items/commitment-501", "viewer", None, 200),
    ("GET", "/items/commitment-501/preview", "viewer", None, 200),
    ("POST", "/items/commitment-501/accept", "approver", {"bogus": 1}, 400),
    ("POST", "/items/commitment-502/accept", "approver", {}, 409),
    ("POST", "/items/commitment-501/accept", "approver", {}, 200),
    ("POST", "/items/commitment-506/reject", "approver", {}, 400),
    ("POST", "/items/commitment-506/reject", "approver", {"reason": "wrong code"}, 200),
    ("POST", "/items/commitment-502/reject", "approver", {"reason": "late"}, 409),
    ("POST", "/items/commitment-999/retrieve", "pm", None, 404),
    ("POST", "/items/commitment-507/retrieve", "pm", None, 200),
    ("POST", "/items/commitment-502/retrieve", "pm", None, 409),
    ("POST", "/items/commitment-999/resend", "pm", None, 404),
    ("POST", "/items/commitment-504/resend", "pm", None, 200),
    ("POST", "/items/commitment-502/resend", "pm", None, 409),
    ("POST", "/items/commitment-505/unlink", "standard", None, 409),
    ("POST", "/items/commitment-502/unlink", "standard", None, 200),
    ("POST", "/items/send", "admin", {"kind": "bogus"}, 400),
    ("POST", "/items/send", "admin", {"kind": "project", "procore_id": "{second}"}, 200),
    ("POST", "/items/send", "admin", {"kind": "project", "procore_id": 99999999}, 404),
    ("POST", "/items/send", "admin", {"kind": "project", "procore_id": "{main}"}, 409),
    ("POST", "/erp/lists/bogus/refresh", "admin", None, 404),
    ("POST", "/erp/jobs/abc/add-to-procore", "admin", None, 400),
    ("POST", "/erp/jobs/99999/add-to-procore", "admin", None, 404),
    ("POST", "/erp/jobs/24005/add-to-procore", "admin", None, 201),
    ("POST", "/erp/jobs/24005/add-to-procore", "admin", None, 409),
    ("POST", "/erp/vendors/abc/import", "admin", None, 400),
    ("POST", "/erp/vendors/3020/import", "admin", None, 201),
    ("POST", "/erp/vendors/3001/import", "admin", None, 409),
    ("POST", "/erp/vendors/abc/archive", "standard", None, 400),
    ("POST", "/erp/vendors/3010/archive", "standard", None, 200),
    ("POST", "/erp/vendors/3001/archive", "standard", None, 409),
    ("POST", "/erp/vendors/99999/archive", "standard", None, 404),
    ("POST", "/erp/vendors/abc/unarchive", "standard", None, 400),
    ("POST", "/erp/vendors/3010/unarchive", "standard", None, 200),
    ("POST", "/erp/vendors/99999/unarchive", "standard", None, 404),
    ("PUT", "/erp/cost-codes/3300.000/default-cost-types", "standard", {"cost_types": [1]}, 200),
    ("PUT", "/erp/cost-codes/9999.000/default-cost-types", "standard", {"cost_types": [1]}, 404),
    ("PUT", "/erp/cost-codes/3300.000/default-cost-types", "standard",
     {"cost_types": [1], "version": 0}, 409),
    ("POST", "/links/projects", "admin", {}, 400),
    ("POST", "/links/projects", "admin",
     {"procore_id": "{second}", "sage_key": 2024002, "preview": True}, 200),
    ("POST", "/links/projects", "admin", {"procore_id": "{second}", "sage_key": 2024002}, 201),
    ("POST", "/links/projects", "admin", {"procore_id": "{second}", "sage_key": 2024002}, 409),
    ("POST", "/links/vendors", "admin", {}, 400),
    ("POST", "/links/vendors", "admin",
     {"procore_id": "{steel}", "sage_key": 3010, "preview": True}, 200),
    ("POST", "/links/vendors", "admin", {"procore_id": "{steel}", "sage_key": 3010}, 201),
    ("POST", "/links/vendors", "admin", {"procore_id": "{steel}", "sage_key": 3010}, 409),
    ("GET", "/links", "viewer", None, 400),
    ("DELETE", "/links/vendors/abc", "standard", None, 400),
    ("DELETE", "/links/vendors/{steel}", "standard", None, 200),
    ("DELETE", "/links/vendors/{steel}", "standard", None, 404),
    ("DELETE", "/links/projects/777", "standard", None, 409),
    ("POST", "/projects/abc/cost-codes/refresh", "admin", None, 400),
    ("POST", "/projects/424242/cost-codes/refresh", "admin", None, 409),
    ("POST", "/projects/{main}/cost-codes/refresh", "admin", None, 200),
    ("POST", "/projects/abc/sub-jobs", "standard", {"phase": 1}, 400),
    ("POST", "/projects/{main}/sub-jobs", "standard", {"phase": 99}, 404),
    ("POST", "/projects/{main}/sub-jobs", "standard", {"phase": 1}, 201),
    ("POST", "/projects/{main}/sub-jobs", "standard", {"phase": 1}, 409),
    ("GET", "/projects/abc/sub-jobs", "directory_admin", None, 400),
    ("GET", "/projects/{main}/sub-jobs", "directory_admin", None, 200),
    # Procore knows no such project: its 404 comes back as 502 upstream_not_found.
    ("GET", "/projects/424242/sub-jobs", "directory_admin", None, 502),
    ("POST", "/projects/abc/budget/import", "standard", None, 400),
    ("POST", "/projects/424242/budget/import", "standard", None, 409),
    ("POST", "/projects/{main}/budget/import", "standard", None, 202),
    ("GET", "/projects/abc/budget/import", "standard", None, 400),
    ("POST", "/projects/abc/prime-contract/import", "standard", None, 400),
    ("POST", "/projects/424242/prime-contract/import", "standard", None, 409),
    ("POST", "/projects/{main}/prime-contract/import", "standard", None, 202),
    ("GET", "/projects/abc/prime-contract/import", "standard", None, 400),
    ("PUT", "/projects/abc/job-cost-sync", "admin", {"enabled": False}, 400),
    ("PUT", "/projects/424242/job-cost-sync", "admin", {"enabled": True}, 409),
    ("GET", "/projects/abc/job-cost-sync", "admin", None, 400),
    ("POST", "/sync/job-costs", "admin", {"project_id": 0}, 400),
    ("POST", "/sync/job-costs", "admin", {"project_id": 424242}, 409),
    ("PUT", "/settings/sync-schedule", "admin", {"vendors": -1}, 400),
    ("PUT", "/settings/sync-schedule", "admin", {"vendors": 60, "version": 0}, 409),
    ("PUT", "/settings/direct-exports", "admin", {}, 400),
    ("PUT", "/settings/direct-exports", "admin", {"enabled": False, "version": 0}, 409),
    ("PUT", "/settings/advanced", "admin", {"vendor_name_max": 0}, 400),
    ("PUT", "/settings/advanced", "admin", {"vendor_name_max": 30, "version": 0}, 409),
    ("GET", "/reports/accountant?format=xml", "admin", None, 400),
    ("GET", "/reports/job-costs?format=xml", "admin", None, 400),
    ("GET", "/reports/job-costs?project_id=424242", "report_admin", None, 404),
    ("GET", "/reports/unsyncable-direct-costs", "reports_budget", None, 400),
    ("GET", "/reports/unsyncable-direct-costs?project_id=424242", "reports_budget", None, 404),
    ("GET", "/reports/unsyncable-direct-costs?project_id={main}", "reports_budget", None, 200),
    ("GET", "/reports/reconciliation", "admin", None, 400),
    ("GET", "/reports/reconciliation?project_id=424242", "admin", None, 404),
    ("GET", "/reports/reconciliation?project_id={main}", "admin", None, 200),
    ("GET", "/ops/quarantine?limit=0", "admin", None, 400),
    ("GET", "/ops/quarantine/{q}", "admin", None, 200),
    ("POST", "/ops/quarantine/{q}/replay", "admin", None, 409),
    ("PUT", "/users/someone", "admin", {"erp_level": "owner"}, 400),
)
# Procore refuses (the sandbox answers 403 to the connector): each of these answers 502.
PROCORE_REFUSES: tuple[tuple[str, str, str, Any], ...] = (
    ("GET", "/erp/vendors/suggestions", "admin", None),
    ("POST", "/erp/jobs/24009/add-to-procore", "admin", None),
    ("POST", "/items/send", "admin", {"kind": "project", "procore_id": "{spare}"}),
    ("POST", "/erp/vendors/3021/import", "admin", None),
    ("POST", "/links/projects", "admin", {"procore_id": "{main}", "sage_key": 24005,
                                          "preview": True}),
    ("POST", "/links/vendors", "admin", {"procore_id": "{concrete}", "sage_key": 3020,
                                         "preview": True}),
    ("POST", "/projects/{main}/cost-codes/refresh", "admin", None),
    ("POST", "/projects/{main}/sub-jobs", "standard", {"phase": 2}),
    ("GET", "/projects/{main}/sub-jobs", "directory_admin", None),
    ("GET", "/reports/job-costs?project_id={main}", "report_admin", None),
    ("GET", "/reports/reconciliation?project_id={main}", "admin", None),
)


def test_targeted_calls_get_their_status(world: World, fed: Fed,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    wrong = []

    def expect(method: str, url: str, who: str, body: Any, expected: int) -> None:
        status, answer = world.call(method, url, who, body)
        if status != expected:
            wrong.append(f"{method} {url} as {who}: {status} (not {expected}) {answer}")

    for call in TARGETED:
        expect(*call)
    for method, url, who, body in PROCORE_REFUSES:
        world.sandbox.inject_fault(403, count=50)
        expect(method, url, who, body, 502)
        world.sandbox.clear_faults()
    world.ready_agent()
    expect("GET", "/health/ready", "viewer", None, 200)
    expect("POST", f"/ops/quarantine/{world.replayable_delivery(monkeypatch)}/replay",
           "admin", None, 200)
    world.local_sign_in(monkeypatch)
    expect("POST", "/auth/local-token", NO_TOKEN, {"subject": "admin"}, 200)
    expect("POST", "/auth/local-token", NO_TOKEN, {}, 400)
    expect("POST", "/auth/local-token", NO_TOKEN, {"subject": "ghost"}, 404)
    assert not wrong, "\n".join(wrong)
    fed.by.add("targeted")


def test_a_short_fuzz_feeds_the_recorder(world: World, fed: Fed) -> None:
    failures = fuzz(operations_of(_document()), world.wsgi, world.aws, world.mint,
                    max_examples=1, callers=(NO_TOKEN, "admin_approver"))
    assert not failures, "\n".join(failures)
    fed.by.add("fuzz")


def _responses(op: Operation) -> dict[str, Any]:
    return _document()["paths"][op.path][op.method.lower()]["responses"]


def test_every_documented_answer_was_produced(fed: Fed) -> None:
    assert fed.by == set(FED_BY), "run the whole module: the tests above feed this one"
    documented = {(method.upper(), path, int(status))
                  for path, methods in _document()["paths"].items()
                  for method, entry in methods.items() for status in entry["responses"]}
    missing = sorted(documented - fed.recorder.seen)
    assert not missing, "documented but never answered:\n" + "\n".join(
        f"{m} {p} {s}" for m, p, s in missing)
