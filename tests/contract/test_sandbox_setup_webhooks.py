"""The sandbox fires ``Cost Codes`` and ``Sub Jobs`` webhooks over real loopback HTTP.

Reference: procore-spec ``docs/webhook_resources.json`` lists both resources with events
create, update and delete; the payload keys are those of ``docs/webhook_payloads.json``
(the v2.0/v3.0 examples; v4.0: exactly the JSON schema's required keys, every id a
string). Writes: ``openapi/RestV10CostCodes{Post,IdGet,IdPatch,SyncPatch}.json`` and
``RestV10SubJobs{Post,IdPatch,SyncPatch,IdDelete}.json``; the cost code DELETE is not in
the reference's excerpts (docs/decisions.md).
"""

from __future__ import annotations

from typing import Any

import pytest

from devstack.procore_sandbox import ProcoreSandbox
from tests.contract.shapes import call, token_fixture  # noqa: F401 - registers the fixture
from tests.fixtures_sandbox import (  # noqa: F401 - the *_fixture imports register fixtures
    demo_fixture,
    sandbox_fixture,
)

# docs/webhook_payloads.json: examples v2.0 / v3.0, and the v4.0 schema's ``required``
V2_KEYS = {"id", "ulid", "timestamp", "metadata", "user_id", "company_id", "project_id",
           "api_version", "event_type", "resource_name", "resource_id"}
V3_KEYS = V2_KEYS | {"related_resources"}
V4_KEYS = {"id", "timestamp", "reason", "company_id", "project_id", "user_id",
           "resource_type", "resource_id"}
METADATA_KEYS = {"source_user_id", "source_project_id", "source_operation_id",
                 "source_company_id", "source_application_id"}


def _fired(sandbox: ProcoreSandbox, name: str) -> list[tuple[str, int]]:
    out = []
    for e in sandbox.events:
        if e.get("resource_name", e.get("resource_type")) == name:
            out.append((e.get("event_type", e.get("reason")), int(e["resource_id"])))
    return out


def _check_payload(event: dict[str, Any], version: str, project_id: int) -> None:
    if version == "v4.0":
        assert set(event) == V4_KEYS
        assert all(isinstance(event[k], str) for k in V4_KEYS)
        assert event["project_id"] == str(project_id) and len(event["id"]) == 26
        return
    assert set(event) == (V3_KEYS if version == "v3.0" else V2_KEYS)
    assert set(event["metadata"]) == METADATA_KEYS
    assert event["api_version"] == version and event["project_id"] == project_id
    assert isinstance(event["id"], int) and len(str(event["id"])) == 19
    assert isinstance(event["resource_id"], int) and len(event["ulid"]) == 26
    if version == "v3.0":
        assert event["related_resources"] == []


@pytest.mark.parametrize("version", ["v2.0", "v3.0", "v4.0"])
def test_cost_code_writes_fire_cost_codes(sandbox: ProcoreSandbox, demo: dict[str, Any],
                                          token: str, version: str) -> None:
    sandbox.set_webhook(None, payload_version=version)
    pid = demo["project_ids"]["main"]
    made = call(sandbox, token, "POST", "/rest/v1.0/cost_codes", {
        "project_id": pid, "cost_code": {"code": "990", "name": "Testing"}})
    assert made.status == 201, made.body
    cid = made.body["id"]
    one = f"/rest/v1.0/cost_codes/{cid}"
    shown = call(sandbox, token, "GET", f"{one}?project_id={pid}")
    assert shown.status == 200 and shown.body["name"] == "Testing"
    patched = call(sandbox, token, "PATCH", one, {
        "project_id": pid, "cost_code": {"name": "Testing and balancing"}})
    assert patched.status == 200 and patched.body["name"] == "Testing and balancing"
    assert call(sandbox, token, "PATCH", one, {
        "project_id": pid, "cost_code": {"colour": "red"}}).status == 400
    synced = call(sandbox, token, "PATCH", "/rest/v1.0/cost_codes/sync", {
        "project_id": pid, "updates": [
            {"id": cid, "name": "Testing and balancing"},  # unchanged: nothing fires
            {"id": cid, "origin_id": "9900.000"},
            {"code": "991", "name": "Commissioning"}]})
    assert synced.status == 200 and synced.body["errors"] == [], synced.body
    new = synced.body["entities"][2]["id"]
    gone = call(sandbox, token, "DELETE", f"{one}?project_id={pid}")
    assert (gone.status, gone.body) == (200, None)
    assert call(sandbox, token, "GET", f"{one}?project_id={pid}").status == 404
    assert call(sandbox, token, "DELETE", f"{one}?project_id={pid}").status == 404
    assert _fired(sandbox, "Cost Codes") == [
        ("create", cid), ("update", cid), ("update", cid), ("create", new), ("delete", cid)]
    for event in sandbox.events:
        _check_payload(event, version, pid)


@pytest.mark.parametrize("version", ["v2.0", "v3.0", "v4.0"])
def test_sub_job_writes_fire_sub_jobs(sandbox: ProcoreSandbox, demo: dict[str, Any],
                                      token: str, version: str) -> None:
    sandbox.set_webhook(None, payload_version=version)
    pid = demo["project_ids"]["main"]
    made = call(sandbox, token, "POST", "/rest/v1.0/sub_jobs", {
        "project_id": pid, "sub_job": {"name": "Annex", "code": "7"}})
    assert made.status == 201, made.body
    sid = made.body["id"]
    one = f"/rest/v1.0/sub_jobs/{sid}"
    patched = call(sandbox, token, "PATCH", one, {"project_id": pid,
                                                  "sub_job": {"name": "North annex"}})
    assert patched.status == 200 and patched.body["name"] == "North annex"
    synced = call(sandbox, token, "PATCH", f"/rest/v1.0/sub_jobs/sync?project_id={pid}", {
        "project_id": pid, "updates": [{"id": sid, "name": "North annex"},
                                       {"name": "Garage", "code": "8"}]})
    assert synced.status == 200 and synced.body["errors"] == [], synced.body
    new = synced.body["entities"][1]["id"]
    code = call(sandbox, token, "POST", "/rest/v1.0/cost_codes", {
        "project_id": pid, "sub_job_id": sid, "cost_code": {"code": "100", "name": "Annex"}})
    assert code.status == 201
    gone = call(sandbox, token, "DELETE", f"{one}?project_id={pid}")
    assert (gone.status, gone.body) == (200, None)
    assert call(sandbox, token, "GET", f"{one}?project_id={pid}").status == 404
    assert code.body["id"] not in sandbox.state.cost_codes[pid]  # its codes go with it
    assert _fired(sandbox, "Sub Jobs") == [
        ("create", sid), ("update", sid), ("create", new), ("delete", sid)]
    for event in sandbox.events:
        _check_payload(event, version, pid)


def test_the_web_ui_helpers_fire_as_a_user(sandbox: ProcoreSandbox,
                                           demo: dict[str, Any]) -> None:
    pid = demo["project_ids"]["main"]
    code = sandbox.add_cost_code(pid, "03-990", "Testing")  # seeding fires nothing
    job = sandbox.add_sub_job(pid, "Annex", code="7")
    assert sandbox.events == []
    assert sandbox.update_cost_code(code["id"], name="Renamed")["name"] == "Renamed"
    assert sandbox.update_sub_job(job["id"], code="9")["code"] == "9"
    sandbox.delete_cost_code(code["id"])
    sandbox.delete_sub_job(job["id"])
    assert [(e["resource_name"], e["event_type"], e["user_id"]) for e in sandbox.events] == [
        ("Cost Codes", "update", 10001), ("Sub Jobs", "update", 10001),
        ("Cost Codes", "delete", 10001), ("Sub Jobs", "delete", 10001)]
    with pytest.raises(ValueError, match="not found"):
        sandbox.delete_cost_code(code["id"])
