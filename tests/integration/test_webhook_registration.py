"""Acceptance: ``admin_cli register-webhooks`` against the sandbox over real HTTP.

Run twice it leaves exactly one hook of the connector's namespace with the expected
triggers, and the second run writes nothing (the sandbox's write requests are counted);
hooks of other namespaces are untouched; a hook of ours with a wrong URL or token, extra
triggers or a duplicate is corrected; the token never reaches the output or the logs; a
403 names the permission Procore wants.

The expected triggers are computed here from Procore's published lists (procore-spec
``docs/webhook_resources.json``) and the receiver's own ``route``, not from the service,
and ``routed`` is checked against ``route`` over every resource name Procore publishes:
the registered triggers cannot drift from what intake consumes.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from chalicelib import admin_cli, wiring
from chalicelib.adapters.procore_hooks import Hook, ProcoreHooks, Trigger
from chalicelib.domain.webhooks import WebhookEvent
from chalicelib.errors import ConfigurationError
from chalicelib.services import receiver
from chalicelib.services.webhook_registration import (
    DesiredHook,
    make_plan,
    namespace_for,
    routed,
    webhook_url_from_stack,
)
from chalicelib.settings import Settings
from devstack.procore_sandbox import ProcoreSandbox
from tests.fixtures_sandbox import (  # noqa: F401 - registers the fixture
    CLIENT_ID,
    CLIENT_SECRET,
    COMPANY_ID,
    fetch_token,
    http_call,
    sandbox_fixture,
)

CAPTURE = Path("/work/shared/reference/procore-spec/docs/webhook_resources.json")
HOOKS = "/rest/v1.0/webhooks/hooks"
URL = "https://abc123.execute-api.us-east-1.amazonaws.com/api/webhooks/procore"
TOKEN = "Bearer wh-9c1f3e7a-never-printed-Zq81x"
NAMESPACE = namespace_for("test")
WRITES = ("POST", "PATCH", "DELETE")


class _Queue:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def send(self, message: dict[str, Any], **_: Any) -> None:
        self.sent.append(message)


def _queued_by_receiver(name: str) -> bool:
    """Does ``receiver.route`` queue an event of ``name`` (in a project of our company)?"""
    event = WebhookEvent(event_id=f"e-{name}", payload_version="v2.0", company_id=COMPANY_ID,
                         project_id=77, action="update", resource_name=name, resource_id=5,
                         timestamp=datetime.now(UTC).isoformat())
    queue = _Queue()
    settings = Settings(procore_company_id=COMPANY_ID, connector_application_id="",
                        connector_procore_user_id=None)
    answer = receiver.route(settings, queue, event)  # type: ignore[arg-type]
    return answer["status"] == "queued" and len(queue.sent) == 1


def _expected() -> set[tuple[str, str]]:
    scopes = json.loads(CAPTURE.read_text())["events_by_scope"]["scopes"]
    offered = {**scopes["project"], **scopes["company"]}
    return {(name, event) for name, events in offered.items() if _queued_by_receiver(name)
            for event in events}


@pytest.fixture(name="env")
def env_fixture(monkeypatch: pytest.MonkeyPatch, sandbox: ProcoreSandbox) -> Any:
    for key, value in {"STAGE": "test", "PROCORE_BASE_URL": sandbox.url,
                       "PROCORE_AUTH_URL": sandbox.url, "PROCORE_CLIENT_ID": CLIENT_ID,
                       "PROCORE_CLIENT_SECRET": CLIENT_SECRET, "WEBHOOK_TOKEN": TOKEN,
                       "PROCORE_COMPANY_ID": str(COMPANY_ID)}.items():
        monkeypatch.setenv(key, value)
    wiring.reset()
    yield sandbox
    wiring.reset()


def _api(box: ProcoreSandbox, method: str, path: str, body: Any = None) -> Any:
    answer = http_call(box.url, method, path, token=fetch_token(box.url), json_body=body)
    assert answer.status < 300, (method, path, answer.status, answer.body)
    return answer.body


def _hooks(box: ProcoreSandbox) -> list[dict[str, Any]]:
    return list(_api(box, "GET", f"{HOOKS}?company_id={COMPANY_ID}"))


def _triggers(box: ProcoreSandbox, hook_id: int) -> list[dict[str, Any]]:
    return list(_api(box, "GET", f"{HOOKS}/{hook_id}/triggers?company_id={COMPANY_ID}"))


def _keys(triggers: list[dict[str, Any]]) -> set[tuple[str, str]]:
    return {(t["resource_name"], t["event_type"].lower()) for t in triggers}


def _make_hook(box: ProcoreSandbox, namespace: str, url: str, token: str,
               triggers: list[tuple[str, str]]) -> dict[str, Any]:
    hook = _api(box, "POST", HOOKS, {"company_id": COMPANY_ID, "hook": {
        "api_version": "v2", "namespace": namespace, "destination_url": url,
        "destination_headers": {"Authorization": token}}})
    if triggers:
        _api(box, "POST", f"{HOOKS}/{hook['id']}/triggers/bulk", {
            "company_id": COMPANY_ID, "api_version": "v2",
            "triggers": [{"resource_name": n, "event_type": e} for n, e in triggers]})
    return dict(hook)


def _writes(box: ProcoreSandbox) -> list[tuple[str, str]]:
    return [(r["method"], r["path"]) for r in list(box.requests)
            if r["method"] in WRITES and r["path"].startswith("/rest/v1.0/webhooks")]


def _run(*extra: str) -> int:
    return admin_cli.main(["register-webhooks", "--url", URL, *extra])


# --- the triggers come from the connector's routing -----------------------------------------
def test_routed_agrees_with_the_receiver_over_every_resource_procore_publishes() -> None:
    capture = json.loads(CAPTURE.read_text())
    names = set(capture["resource_names"]["names"])
    for scope in capture["events_by_scope"]["scopes"].values():
        names |= set(scope)
    names |= {"Requisitions"}  # the connector's own name for invoices (no Procore webhook)
    disagree = {n for n in names if routed(n) != _queued_by_receiver(n)}
    assert not disagree, f"routed() and receiver.route disagree on {sorted(disagree)}"
    assert {"Work Order Contracts", "Budget Line Items", "Change Order Packages"} <= {
        n for n in names if routed(n)}


# --- acceptance -------------------------------------------------------------------------------
def test_twice_leaves_one_hook_and_the_second_run_writes_nothing(
        env: ProcoreSandbox, capfd: pytest.CaptureFixture[str]) -> None:
    other = _make_hook(env, "someone-else", "https://other.example.com/hook", "Bearer other",
                       [("Projects", "create"), ("Work Order Contracts", "update")])
    other_triggers = _triggers(env, other["id"])

    assert _run() == 0
    first_writes = _writes(env)
    assert first_writes, "the first run must create the hook and its triggers"
    ours = [h for h in _hooks(env) if h["namespace"] == NAMESPACE]
    assert len(ours) == 1
    hook = ours[0]
    assert hook["destination_url"] == URL and hook["api_version"] == "v2"
    assert hook["destination_headers"]["Authorization"].endswith(TOKEN[-5:])
    expected = _expected()
    triggers = _triggers(env, hook["id"])
    assert _keys(triggers) == expected and len(triggers) == len(expected)
    assert capfd.readouterr().out.strip().endswith(f"applied: hook {hook['id']}")

    assert _run() == 0
    assert _writes(env) == first_writes, "the second run wrote to Procore"
    assert "up to date" in capfd.readouterr().out
    assert [h for h in _hooks(env) if h["namespace"] == NAMESPACE] == [hook]
    assert _triggers(env, hook["id"]) == triggers
    assert [h for h in _hooks(env) if h["id"] == other["id"]] == [other]
    assert _triggers(env, other["id"]) == other_triggers


def test_a_wrong_hook_of_ours_is_corrected_and_a_duplicate_removed(
        env: ProcoreSandbox, capfd: pytest.CaptureFixture[str]) -> None:
    expected = sorted(_expected())
    stale = _make_hook(env, NAMESPACE, "https://old.example.com/api/webhooks/procore",
                       "Bearer an-old-token", [expected[0], ("Projects", "create")])
    duplicate = _make_hook(env, NAMESPACE, "https://old.example.com/x", "Bearer x", [])
    other = _make_hook(env, "someone-else", URL, "Bearer other", [("Projects", "update")])

    before = len(_writes(env))
    assert _run("--dry-run") == 0
    assert len(_writes(env)) == before
    plan = capfd.readouterr().out
    assert "update hook: destination_url, Authorization" in plan
    assert "delete trigger" in plan and "Projects / create" in plan
    assert f"delete duplicate hook {duplicate['id']}" in plan and "dry run" in plan

    assert _run() == 0
    ours = [h for h in _hooks(env) if h["namespace"] == NAMESPACE]
    assert [h["id"] for h in ours] == [stale["id"]]
    assert ours[0]["destination_url"] == URL
    assert ours[0]["destination_headers"]["Authorization"].endswith(TOKEN[-5:])
    triggers = _triggers(env, stale["id"])
    assert _keys(triggers) == set(expected) and len(triggers) == len(expected)
    made = len(_writes(env)) - before
    assert made == 1 + 1 + 1 + 1  # PATCH hook, bulk POST, DELETE trigger, DELETE duplicate
    assert [h for h in _hooks(env) if h["id"] == other["id"]] == [other]
    assert _keys(_triggers(env, other["id"])) == {("Projects", "update")}

    capfd.readouterr()
    assert _run() == 0
    assert len(_writes(env)) - before == made
    assert "up to date" in capfd.readouterr().out


def test_dry_run_prints_the_plan_and_writes_nothing(
        env: ProcoreSandbox, capfd: pytest.CaptureFixture[str]) -> None:
    assert _run("--dry-run") == 0
    out = capfd.readouterr().out
    assert f"create hook (company {COMPANY_ID}, namespace {NAMESPACE})" in out
    assert "add trigger Work Order Contracts / create" in out and "dry run" in out
    assert _writes(env) == [] and _hooks(env) == []


def test_the_token_is_in_no_output_and_no_log(
        env: ProcoreSandbox, capfd: pytest.CaptureFixture[str],
        caplog: pytest.LogCaptureFixture) -> None:
    _make_hook(env, NAMESPACE, "https://old.example.com/hook", "Bearer old", [])
    caplog.set_level(logging.DEBUG)
    for extra in (("--dry-run",), (), ()):
        assert _run(*extra) == 0
    captured = capfd.readouterr()
    seen = captured.out + captured.err + caplog.text + "".join(
        json.dumps(vars(r), default=str) for r in caplog.records)
    assert "up to date" in captured.out  # the runs did happen, print and log
    assert "webhook registration applied" in seen
    assert TOKEN not in seen and TOKEN[:-5] not in seen and "never-printed" not in seen
    # The sandbox did receive it: the test looks where it could leak.
    hook = next(h for h in env.state.hooks.values() if h["namespace"] == NAMESPACE)
    assert hook["authorization"] == TOKEN


def test_a_refusal_names_the_permission_procore_wants(
        env: ProcoreSandbox, capfd: pytest.CaptureFixture[str]) -> None:
    env.inject_fault(403, count=10, path_prefix="/rest/v1.0/webhooks")
    assert _run() == 1
    err = capfd.readouterr().err
    assert "HTTP 403" in err and "Admin on the company's Webhooks tool" in err
    assert str(COMPANY_ID) in err and TOKEN not in err


def test_no_url_is_a_clear_error(env: ProcoreSandbox,
                                 capfd: pytest.CaptureFixture[str]) -> None:
    assert admin_cli.main(["register-webhooks"]) == 1
    assert "--url" in capfd.readouterr().err
    assert _writes(env) == []


def test_the_url_can_come_from_the_stacks_webhook_url_output() -> None:
    import boto3
    from botocore.stub import Stubber

    cloudformation = boto3.client("cloudformation", region_name="us-east-1")
    created = datetime(2026, 11, 30, tzinfo=UTC)
    with Stubber(cloudformation) as stub:
        stub.add_response("describe_stacks", {"Stacks": [{
            "StackName": "procore-sage-test", "CreationTime": created,
            "StackStatus": "CREATE_COMPLETE",
            "Outputs": [{"OutputKey": "InboxUrl", "OutputValue": "https://x/inbox"},
                        {"OutputKey": "WebhookUrl", "OutputValue": URL}]}]},
            {"StackName": "procore-sage-test"})
        stub.add_client_error("describe_stacks", "ValidationError",
                              "Stack with id no-such-stack does not exist")
        stub.add_response("describe_stacks", {"Stacks": [{
            "StackName": "bare", "CreationTime": created, "StackStatus": "CREATE_COMPLETE"}]})
        assert webhook_url_from_stack(cloudformation, "procore-sage-test") == URL
        with pytest.raises(ConfigurationError, match="pass --url"):
            webhook_url_from_stack(cloudformation, "no-such-stack")
        with pytest.raises(ConfigurationError, match="no WebhookUrl output"):
            webhook_url_from_stack(cloudformation, "bare")


# --- the plan, pure ---------------------------------------------------------------------------
def test_the_plan_drops_record_triggers_and_repeats_and_notices_a_new_payload_version() -> None:
    desired = DesiredHook(NAMESPACE, URL, "v2", TOKEN)
    hooks = [Hook(7, NAMESPACE, URL, "v3.0", "********" + TOKEN[-5:]),
             Hook(3, "someone-else", URL, "v2", None)]
    triggers = [Trigger(10, "Sub Jobs", "create"), Trigger(11, "Sub Jobs", "create"),
                Trigger(12, "Sub Jobs", "update", resource_id=99)]
    asked: list[int] = []

    def triggers_of(hook_id: int) -> list[Trigger]:
        asked.append(hook_id)
        return triggers

    plan = make_plan(COMPANY_ID, desired, hooks, triggers_of,
                     {("Sub Jobs", "create"), ("Sub Jobs", "update")})
    assert asked == [7]  # the other namespace's triggers are never read
    assert plan.hook_id == 7 and plan.hook_changes == ("api_version",)
    assert [t.id for t in plan.remove] == [11, 12] and plan.add == (("Sub Jobs", "update"),)
    assert plan.delete_hooks == () and plan.keep == 1 and not plan.up_to_date
    assert TOKEN not in repr(desired) and TOKEN not in "\n".join(plan.lines())


def test_nothing_is_changed_when_procore_offers_nothing_the_connector_consumes(
        env: ProcoreSandbox, monkeypatch: pytest.MonkeyPatch,
        capfd: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(ProcoreHooks, "list_resources",
                        lambda self: {"Projects": frozenset({"create"})})
    _make_hook(env, NAMESPACE, URL, TOKEN, [("Projects", "create")])
    before = len(_writes(env))
    assert _run() == 1
    assert "none of the webhook resources" in capfd.readouterr().err
    assert len(_writes(env)) == before
