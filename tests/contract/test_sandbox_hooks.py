"""Contract: the sandbox serves Procore's webhooks API (hooks, triggers, resources) as the
reference documents it, and the connector's hooks adapter sends only documented bodies.

Sources (public, outside this repository; provenance in procore-spec/SOURCES.md):
- ``openapi/RestV10WebhooksHooks*.json``, ``RestV10WebhooksResourcesGet.json``: paths,
  parameters, statuses and the answers' keys and types (read here, not copied).
- ``sdk/`` files of the same names: the request bodies (the OpenAPI text has none). The
  SDK spells ``destination_headers.authorization`` as a Python attribute; the docs' body
  example and the answers say ``Authorization``, which is what is checked.
- ``docs/webhook_resources.json``: the events per resource and scope (the capture of
  ``GET /rest/v1.0/webhooks/resources``); ``docs/webhook_payloads.json``
  ``hooks_api_examples``: the hook and trigger bodies Procore's guide shows.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from chalicelib.adapters.procore_hooks import ProcoreHooks
from devstack.procore_sandbox import ProcoreSandbox
from devstack.procore_sandbox.resources.hooks import RESOURCE_EVENTS
from tests.contract.shapes import (  # noqa: F401 - registers the fixture
    INT,
    STR,
    Recorder,
    assert_shape,
    call,
    client_for,
    request_problems,
    token_fixture,
)
from tests.fixtures_sandbox import (  # noqa: F401 - the *_fixture imports register fixtures
    COMPANY_ID,
    WebhookReceiver,
    demo_fixture,
    sandbox_fixture,
    webhook_receiver_fixture,
)

SPEC = Path("/work/shared/reference/procore-spec")
HOOKS = "/rest/v1.0/webhooks/hooks"
URL = "https://connector.example.com/api/webhooks/procore"
TOKEN = "Bearer hooks-contract-token-7Qx2z"


def _openapi(op: str) -> dict[str, Any]:
    return json.loads((SPEC / "openapi" / f"{op}.json").read_text())


def _sdk(op: str) -> dict[str, Any]:
    return json.loads((SPEC / "sdk" / f"{op}.json").read_text())


def _shape(schema: dict[str, Any]) -> Any:
    """A reference schema as a ``shapes`` shape: objects by their properties."""
    if schema.get("type") == "array":
        return [_shape(schema["items"])]
    if schema.get("type") == "object" or "properties" in schema:
        return {k: _shape(v) for k, v in schema.get("properties", {}).items()}
    return {"integer": INT, "string": STR}[schema["type"]]


def _answer_shape(op: str, status: str) -> Any:
    return _shape(_openapi(op)["responses"][status]["schema"])


def _enum(op: str, status: str, *path: str) -> list[str]:
    schema = _openapi(op)["responses"][status]["schema"]
    for key in path:
        schema = schema["items"] if key == "[]" else schema["properties"][key]
    return list(schema["enum"])


def _request(op: str) -> tuple[Any, dict[str, Any]]:
    """The SDK's request body as (shape, required map); scope keys are either-or."""
    schema = json.loads(json.dumps(_sdk(op)["request_body"]["schema"])
                        .replace('"authorization"', '"Authorization"'))

    def required(node: dict[str, Any]) -> dict[str, Any]:
        if node.get("type") == "array":
            return required(node["items"])
        props = node.get("properties", {})
        return {k: required(props[k]) if props[k].get("type") in ("object", "array")
                else None for k in node.get("required", ()) if k not in ("project_id",)}

    return _shape(schema), required(schema)


def _hook_body(**hook: Any) -> dict[str, Any]:
    return {"company_id": COMPANY_ID, "hook": {"api_version": "v2", "namespace": "contract",
                                               "destination_url": URL,
                                               "destination_headers": {"Authorization": TOKEN},
                                               **hook}}


def _make_hook(box: ProcoreSandbox, token: str, **hook: Any) -> dict[str, Any]:
    made = call(box, token, "POST", HOOKS, _hook_body(**hook))
    assert made.status == 201, made.body
    return dict(made.body)


# --- hooks ----------------------------------------------------------------------------------
def test_hook_create_list_update_delete_answer_the_documented_shapes(
        sandbox: ProcoreSandbox, token: str) -> None:
    made = _make_hook(sandbox, token)
    assert_shape(made, _answer_shape("RestV10WebhooksHooksPost", "201"), "POST hooks")
    assert made["namespace"] == "contract" and made["destination_url"] == URL
    assert made["owned_by_company_id"] == COMPANY_ID and made["owned_by_project_id"] is None
    # "Authorization header that is masked to only show the last 5 characters"
    shown = made["destination_headers"]["Authorization"]
    assert shown.endswith(TOKEN[-5:]) and TOKEN[:-5] not in shown and TOKEN not in shown

    listed = call(sandbox, token, "GET", f"{HOOKS}?company_id={COMPANY_ID}")
    assert listed.status == 200
    assert_shape(listed.body, _answer_shape("RestV10WebhooksHooksGet", "200"), "GET hooks")
    assert [h["id"] for h in listed.body] == [made["id"]]

    one = f"{HOOKS}/{made['id']}"
    patched = call(sandbox, token, "PATCH", one, {
        "company_id": COMPANY_ID, "hook": {"destination_url": URL + "/v2"}})
    assert patched.status == 200, patched.body
    assert_shape(patched.body, _answer_shape("RestV10WebhooksHooksIdPatch", "200"), "PATCH")
    assert patched.body["destination_url"] == URL + "/v2"
    assert patched.body["destination_headers"] == made["destination_headers"]  # untouched

    gone = call(sandbox, token, "DELETE", f"{one}?company_id={COMPANY_ID}")
    assert gone.status == 200 and gone.body is None  # documented 200, no body
    assert call(sandbox, token, "DELETE", f"{one}?company_id={COMPANY_ID}").status == 404
    assert call(sandbox, token, "GET", f"{HOOKS}?company_id={COMPANY_ID}").body == []


def test_hook_list_filters_on_namespace_and_api_version(sandbox: ProcoreSandbox,
                                                        token: str) -> None:
    params = {p["name"] for p in _openapi("RestV10WebhooksHooksGet")["parameters"]}
    assert {"namespace", "api_version"} <= params
    first = _make_hook(sandbox, token)
    second = _make_hook(sandbox, token, namespace="other", api_version="v3.0")
    base = f"{HOOKS}?company_id={COMPANY_ID}"
    assert [h["id"] for h in call(sandbox, token, "GET", f"{base}&namespace=other").body] == [
        second["id"]]
    assert [h["id"] for h in call(sandbox, token, "GET", f"{base}&api_version=v2").body] == [
        first["id"]]


@pytest.mark.parametrize(("hook", "field"), [
    ({"destination_url": None}, "destination_url"),
    ({"destination_url": ""}, "destination_url"),
    ({"destination_url": "ftp://connector.example.com/x"}, "destination_url"),
    ({"destination_url": "http://connector.example.com/x"}, "destination_url"),
    ({"destination_url": "/api/webhooks/procore"}, "destination_url"),
    ({"api_version": None}, "api_version"),
    ({"api_version": "v9"}, "api_version"),
    ({"destination_headers": {"X-Other": "1"}}, "destination_headers.X-Other"),
    ({"destination_headers": "Bearer x"}, "destination_headers"),
    ({"colour": "red"}, "colour"),
])
def test_a_bad_hook_is_refused_422_naming_the_field(sandbox: ProcoreSandbox, token: str,
                                                    hook: dict[str, Any], field: str) -> None:
    refused = call(sandbox, token, "POST", HOOKS, _hook_body(**hook))
    assert refused.status == 422 and field in refused.body["errors"], refused.body
    assert call(sandbox, token, "GET", f"{HOOKS}?company_id={COMPANY_ID}").body == []


def test_scope_is_required_and_checked(sandbox: ProcoreSandbox, token: str) -> None:
    made = _make_hook(sandbox, token)
    no_scope = {"hook": _hook_body()["hook"]}
    assert call(sandbox, token, "POST", HOOKS, no_scope).status == 400
    assert call(sandbox, token, "GET", HOOKS).status == 400
    assert call(sandbox, token, "GET", f"{HOOKS}?company_id=999").status == 403
    assert call(sandbox, token, "GET", f"{HOOKS}?project_id=424242").status == 404
    assert call(sandbox, token, "PATCH", f"{HOOKS}/987654", {
        "company_id": COMPANY_ID, "hook": {"namespace": "x"}}).status == 404
    assert call(sandbox, token, "GET", f"{HOOKS}/{made['id']}/triggers").status == 400
    assert call(sandbox, token, "GET",
                f"{HOOKS}/987654/triggers?company_id={COMPANY_ID}").status == 404


def test_a_project_hook_lives_in_its_project_only(sandbox: ProcoreSandbox, token: str,
                                                  demo: dict[str, Any]) -> None:
    pid = demo["project_ids"]["main"]
    body = _hook_body()
    del body["company_id"]
    made = call(sandbox, token, "POST", HOOKS, {"project_id": pid, **body})
    assert made.status == 201, made.body
    assert made.body["owned_by_project_id"] == pid and made.body["owned_by_company_id"] is None
    assert call(sandbox, token, "GET", f"{HOOKS}?company_id={COMPANY_ID}").body == []
    assert [h["id"] for h in call(sandbox, token, "GET", f"{HOOKS}?project_id={pid}").body] == [
        made.body["id"]]
    triggers = f"{HOOKS}/{made.body['id']}/triggers"
    assert call(sandbox, token, "GET", f"{triggers}?company_id={COMPANY_ID}").status == 404
    company_only = call(sandbox, token, "POST", triggers, {
        "project_id": pid, "api_version": "v2",
        "trigger": {"resource_name": "Projects", "event_type": "create"}})
    assert company_only.status == 422, company_only.body  # a company resource
    project = call(sandbox, token, "POST", triggers, {
        "project_id": pid, "api_version": "v2",
        "trigger": {"resource_name": "Cost Codes", "event_type": "create"}})
    assert project.status == 201 and project.body["project_id"] == pid, project.body
    listed = call(sandbox, token, "GET", f"/rest/v1.0/webhooks/resources?project_id={pid}")
    assert {r["resource_name"] for r in listed.body} == set(RESOURCE_EVENTS["project"])


# --- triggers -------------------------------------------------------------------------------
def test_triggers_create_list_delete_answer_the_documented_shapes(
        sandbox: ProcoreSandbox, token: str) -> None:
    hook = _make_hook(sandbox, token)
    triggers = f"{HOOKS}/{hook['id']}/triggers"
    made = call(sandbox, token, "POST", triggers, {
        "company_id": COMPANY_ID, "api_version": "v2",
        "trigger": {"resource_name": "Work Order Contracts", "event_type": "update"}})
    assert made.status == 201, made.body
    assert_shape(made.body, _answer_shape("RestV10WebhooksHooksHookIdTriggersPost", "201"),
                 "POST trigger")
    assert made.body["event_type"] in _enum("RestV10WebhooksHooksHookIdTriggersPost", "201",
                                            "event_type")
    assert made.body["webhook_hook_id"] == hook["id"]
    assert made.body["company_id"] == COMPANY_ID and made.body["project_id"] is None

    listed = call(sandbox, token, "GET", f"{triggers}?company_id={COMPANY_ID}")
    assert_shape(listed.body, _answer_shape("RestV10WebhooksHooksHookIdTriggersGet", "200"),
                 "GET triggers")
    assert listed.body == [made.body]

    one = f"{triggers}/{made.body['id']}?company_id={COMPANY_ID}"
    assert call(sandbox, token, "DELETE", one).status == 200
    assert call(sandbox, token, "DELETE", one).status == 404
    assert call(sandbox, token, "GET", f"{triggers}?company_id={COMPANY_ID}").body == []


@pytest.mark.parametrize(("trigger", "field"), [
    ({"resource_name": "Requisitions", "event_type": "create"}, "resource_name"),
    ({"resource_name": "", "event_type": "create"}, "resource_name"),
    ({"resource_name": "Projects", "event_type": "delete"}, "event_type"),  # not offered
    ({"resource_name": "Projects", "event_type": "archive"}, "event_type"),
    ({"resource_name": "Projects", "event_type": "create", "resource_id": 5}, "resource_id"),
])
def test_a_bad_trigger_is_refused_422(sandbox: ProcoreSandbox, token: str,
                                      trigger: dict[str, Any], field: str) -> None:
    hook = _make_hook(sandbox, token)
    refused = call(sandbox, token, "POST", f"{HOOKS}/{hook['id']}/triggers", {
        "company_id": COMPANY_ID, "api_version": "v2", "trigger": trigger})
    assert refused.status == 422 and field in refused.body["errors"], refused.body


def test_a_repeated_trigger_and_a_missing_api_version_are_refused(
        sandbox: ProcoreSandbox, token: str) -> None:
    hook = _make_hook(sandbox, token)
    path = f"{HOOKS}/{hook['id']}/triggers"
    body = {"company_id": COMPANY_ID, "api_version": "v2",
            "trigger": {"resource_name": "Projects", "event_type": "CREATE"}}
    assert call(sandbox, token, "POST", path, body).status == 201
    again = call(sandbox, token, "POST", path, {**body, "trigger": {
        "resource_name": "Projects", "event_type": "create"}})  # the same, in the other case
    assert again.status == 422, again.body
    assert call(sandbox, token, "POST", path, {**body, "api_version": None}).status == 422


def test_bulk_create_and_delete(sandbox: ProcoreSandbox, token: str) -> None:
    hook = _make_hook(sandbox, token)
    bulk = f"{HOOKS}/{hook['id']}/triggers/bulk"
    wanted = [{"resource_name": "Budget Line Items", "event_type": e}
              for e in ("create", "update", "delete")]
    made = call(sandbox, token, "POST", bulk, {
        "company_id": COMPANY_ID, "api_version": "v2", "triggers": wanted})
    assert made.status == 200, made.body
    assert_shape(made.body, _answer_shape("RestV10WebhooksHooksHookIdTriggersBulkPost", "200"),
                 "bulk POST")
    ids = [t["id"] for t in made.body["success"]]
    assert len(ids) == 3

    partly = call(sandbox, token, "POST", bulk, {
        "company_id": COMPANY_ID, "api_version": "v2", "triggers": [
            {"resource_name": "Sub Jobs", "event_type": "create"},
            {"resource_name": "Requisitions", "event_type": "create"}]})
    assert partly.status == 207, partly.body  # documented Multi-Status: the good one is made
    assert [t["resource_name"] for t in partly.body["success"]] == ["Sub Jobs"]
    assert partly.body["errors"][0]["trigger"]["resource_name"] == "Requisitions"

    too_many = call(sandbox, token, "POST", bulk, {
        "company_id": COMPANY_ID, "api_version": "v2", "triggers": wanted * 167})  # 501
    assert too_many.status == 413  # "Max 500 triggers."

    removed = call(sandbox, token, "DELETE", bulk, {"company_id": COMPANY_ID,
                                                   "triggers": ids[:2]})
    assert removed.status == 200, removed.body
    assert_shape(removed.body,
                 _answer_shape("RestV10WebhooksHooksHookIdTriggersBulkDelete", "200"),
                 "bulk DELETE")
    assert removed.body == {"success": ids[:2]}
    some = call(sandbox, token, "DELETE", bulk, {"company_id": COMPANY_ID,
                                                "triggers": [ids[2], 987654]})
    assert some.status == 207 and some.body["success"] == [ids[2]]
    left = call(sandbox, token, "GET", f"{HOOKS}/{hook['id']}/triggers?company_id={COMPANY_ID}")
    assert [t["resource_name"] for t in left.body] == ["Sub Jobs"]


def test_deleting_a_hook_takes_its_triggers(sandbox: ProcoreSandbox, token: str) -> None:
    hook = _make_hook(sandbox, token)
    call(sandbox, token, "POST", f"{HOOKS}/{hook['id']}/triggers", {
        "company_id": COMPANY_ID, "api_version": "v2",
        "trigger": {"resource_name": "Projects", "event_type": "create"}})
    assert call(sandbox, token, "DELETE", f"{HOOKS}/{hook['id']}?company_id={COMPANY_ID}"
                ).status == 200
    assert sandbox.state.hook_triggers == {}


# --- resources ------------------------------------------------------------------------------
def test_resources_answer_the_documented_keys_and_the_captured_events(
        sandbox: ProcoreSandbox, token: str) -> None:
    listed = call(sandbox, token, "GET", f"/rest/v1.0/webhooks/resources?company_id={COMPANY_ID}")
    assert listed.status == 200
    shape = _answer_shape("RestV10WebhooksResourcesGet", "200")
    shape[0]["resource_name"] = STR  # added by the sandbox: docs/decisions.md
    shape[0]["except"] = [STR]
    assert_shape(listed.body, shape, "GET webhooks/resources")
    capture = json.loads((SPEC / "docs" / "webhook_resources.json").read_text())
    scopes = capture["events_by_scope"]["scopes"]
    assert {s: dict(v) for s, v in RESOURCE_EVENTS.items()} == {
        s: {n: tuple(e) for n, e in v.items()} for s, v in scopes.items()}
    offered = {r["resource_name"]: r for r in listed.body}
    assert set(offered) == set(scopes["company"]) | set(scopes["project"])
    projects = offered["Projects"]
    assert (projects["create"], projects["update"], projects["delete"]) == (
        "create", "update", None)
    assert projects["except"] == ["delete"]
    by_project = call(sandbox, token, "GET", "/rest/v1.0/webhooks/resources?project_id=1")
    assert by_project.status == 404  # no such project; the scope is checked


# --- delivery -------------------------------------------------------------------------------
def test_events_reach_hooks_whose_triggers_match(sandbox: ProcoreSandbox, token: str,
                                                 demo: dict[str, Any],
                                                 webhook_receiver: WebhookReceiver) -> None:
    sandbox.set_webhook(webhook_receiver.url, "constructor-auth", "v2.0")
    hook = _make_hook(sandbox, token, destination_url=webhook_receiver.url, api_version="v4.0",
                      destination_headers={"Authorization": "hook-auth-12345"})
    elsewhere = _make_hook(sandbox, token, destination_url=URL)  # not loopback: never POSTed
    for made in (hook, elsewhere):
        assert call(sandbox, token, "POST", f"{HOOKS}/{made['id']}/triggers", {
            "company_id": COMPANY_ID, "api_version": "v2",
            "trigger": {"resource_name": "Sub Jobs", "event_type": "create"}}).status == 201
    pid = demo["project_ids"]["main"]
    events_before = len(sandbox.events)
    assert call(sandbox, token, "POST", "/rest/v1.0/sub_jobs", {
        "project_id": pid, "sub_job": {"name": "Phase 9", "code": "09"}}).status == 201
    assert call(sandbox, token, "POST", "/rest/v1.0/cost_codes", {
        "project_id": pid, "cost_code": {"code": "991", "name": "Other"}}).status == 201
    got = webhook_receiver.wait_for(3)
    assert len(sandbox.events) == events_before + 2  # one event per write, however many hooks
    by_auth = {}
    for received in got:
        by_auth.setdefault(received.headers["authorization"], []).append(received.payload)
    assert [p["resource_name"] for p in by_auth["constructor-auth"]] == ["Sub Jobs",
                                                                       "Cost Codes"]
    [v4] = by_auth["hook-auth-12345"]  # the hook's trigger names Sub Jobs only, in v4.0
    assert v4["resource_type"] == "Sub Jobs" and v4["reason"] == "create"
    assert v4["project_id"] == str(pid) and "api_version" not in v4
    call(sandbox, token, "DELETE", f"{HOOKS}/{hook['id']}?company_id={COMPANY_ID}")
    assert call(sandbox, token, "POST", "/rest/v1.0/sub_jobs", {
        "project_id": pid, "sub_job": {"name": "Phase 10", "code": "10"}}).status == 201
    assert len(webhook_receiver.wait_for(4)) == 4  # the constructor's only
    assert [r.headers["authorization"] for r in webhook_receiver.received][3:] == [
        "constructor-auth"]


# --- the connector's requests ---------------------------------------------------------------
def test_the_adapter_sends_only_documented_bodies(sandbox: ProcoreSandbox) -> None:
    recorder = Recorder()
    hooks = ProcoreHooks(client_for(sandbox, recorder))
    made = hooks.create_hook("contract", URL, "v2", TOKEN)
    hooks.update_hook(made.id, "contract", URL + "/v2", "v2", TOKEN)
    added = hooks.add_triggers(made.id, "v2", [("Projects", "create"), ("Sub Jobs", "update")])
    assert {t.key for t in hooks.list_triggers(made.id)} == {
        ("Projects", "create"), ("Sub Jobs", "update")}
    hooks.delete_trigger(made.id, added[0].id)
    assert hooks.list_resources()["Projects"] == frozenset({"create", "update"})
    assert [h.id for h in hooks.list_hooks("contract")] == [made.id]
    hooks.delete_hook(made.id)
    checks = {
        ("POST", HOOKS): "RestV10WebhooksHooksPost",
        ("PATCH", f"{HOOKS}/{made.id}"): "RestV10WebhooksHooksIdPatch",
        ("POST", f"{HOOKS}/{made.id}/triggers/bulk"): "RestV10WebhooksHooksHookIdTriggersBulkPost",
    }
    for (method, path), op in checks.items():
        [(query, body)] = recorder.only(method, path)
        shape, required = _request(op)
        assert not request_problems(body, shape, required), (op, body)
    documented_query = {
        op: {p["name"] for p in _openapi(op)["parameters"] if p["in"] == "query"}
        for op in ("RestV10WebhooksHooksGet", "RestV10WebhooksHooksIdDelete",
                   "RestV10WebhooksHooksHookIdTriggersGet",
                   "RestV10WebhooksHooksHookIdTriggersIdDelete")}
    for method, path, query, _body, status in recorder.sent:
        assert status < 300, (method, path, status)
        if method in ("GET", "DELETE") and path != "/rest/v1.0/webhooks/resources":
            allowed = set().union(*documented_query.values())
            assert set(query) <= allowed and query.get("company_id") == COMPANY_ID, query
