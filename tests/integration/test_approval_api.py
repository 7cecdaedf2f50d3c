"""The approval API through chalice.test.Client, against moto and the Procore sandbox."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest

from chalicelib.domain.state_machine import Status
from chalicelib.wiring import get_item_service, get_store
from tests.fixtures_sandbox import demo_fixture, sandbox_fixture  # noqa: F401
from tests.helpers import COMPANY_ID, PERSONAS, body, seed_item, seed_personas


@pytest.fixture
def api(aws: Any, sandbox: Any, demo: dict[str, Any], chalice_client: Any,
        monkeypatch: pytest.MonkeyPatch, mint: Any) -> Any:
    from chalicelib import wiring

    monkeypatch.setenv("PROCORE_BASE_URL", sandbox.url)
    monkeypatch.setenv("PROCORE_AUTH_URL", sandbox.url)
    wiring.reset()
    seed_personas()

    class Api:
        client = chalice_client

        def call(self, method: str, path: str, who: str | None = "approver",
                 payload: Any = None, headers: dict[str, str] | None = None) -> Any:
            sent = {"Content-Type": "application/json", **(headers or {})}
            if who is not None:
                sent["Authorization"] = mint(who)
            data = json.dumps(payload) if payload is not None else None
            return getattr(chalice_client.http, method.lower())(path, headers=sent, body=data)

    api = Api()
    api.aws = aws
    api.sandbox = sandbox
    api.demo = demo
    return api


# action -> (method, path template, item status it needs, body, personas allowed)
ACTIONS: dict[str, tuple[str, str, Status | None, Any, set[str]]] = {
    "list": ("GET", "/items", None, None,
             {"viewer", "standard", "approver", "admin", "admin_approver", "pm"}),
    "get": ("GET", "/items/{id}", Status.READY_TO_EXPORT, None,
            {"viewer", "standard", "approver", "admin", "admin_approver", "pm"}),
    "accept": ("POST", "/items/{id}/accept", Status.READY_TO_EXPORT, None,
               {"approver", "admin_approver"}),
    "reject": ("POST", "/items/{id}/reject", Status.READY_TO_EXPORT,
               {"reason": "wrong cost code on line 2"}, {"approver", "admin_approver"}),
    "retrieve": ("POST", "/items/{id}/retrieve", Status.READY_TO_EXPORT, None, {"pm"}),
    "resend": ("POST", "/items/{id}/resend", Status.REJECTED, None, {"pm"}),
    "unlink": ("POST", "/items/{id}/unlink", Status.SYNCED, None,
               {"standard", "approver", "admin", "admin_approver"}),
    "send": ("POST", "/items/send", None, "SEND", {"pm"}),
}
NEEDS = {
    "list": "read the inbox requires ERP Integrations read_only or above",
    "get": "read the inbox requires ERP Integrations read_only or above",
    "accept": "accept or reject items for export requires ERP Integrations standard or admin "
              "with the Can Push to Accounting privilege",
    "reject": "accept or reject items for export requires ERP Integrations standard or admin "
              "with the Can Push to Accounting privilege",
    "retrieve": "requires admin on the Procore commitments tool",
    "resend": "requires admin on the Procore commitments tool",
    "unlink": "unlink items synced with the ERP requires ERP Integrations standard or admin",
    "send": "requires admin on the Procore commitments tool",
}


def _send_body(api: Any) -> dict[str, Any]:
    project = api.demo["project_ids"]["main"]
    commitment = api.sandbox.create_commitment(
        "work_order_contract", project, number="SC-7", title="Framing", status="Approved",
        vendor_id=api.demo["vendor_ids"]["concrete"])
    return {"kind": "commitment", "commitment_type": "subcontract",
            "procore_id": commitment["id"], "project_id": project}


@pytest.mark.parametrize("persona", sorted(PERSONAS))
@pytest.mark.parametrize("action", sorted(ACTIONS))
def test_every_action_at_every_permission_level(api: Any, action: str, persona: str) -> None:
    method, template, status, payload, allowed = ACTIONS[action]
    item = seed_item(status) if status is not None else None
    if payload == "SEND":
        payload = _send_body(api)
    path = template.format(id=item.item_id if item else "")
    before = api.aws.table_snapshot()
    exports_before = api.aws.queue_depth(api.aws.export_url)
    response = api.call(method, path, who=persona, payload=payload)
    if persona in allowed:
        assert response.status_code == 200, body(response)
        return
    assert response.status_code == 403, body(response)
    answer = body(response)
    assert NEEDS[action] in answer["message"]
    assert answer["details"]["required"]
    assert api.aws.table_snapshot() == before  # a denied call changes nothing
    assert api.aws.queue_depth(api.aws.export_url) == exports_before


def test_accept_puts_exactly_one_message_on_the_export_queue(api: Any) -> None:
    item = seed_item(Status.READY_TO_EXPORT)
    response = api.call("POST", f"/items/{item.item_id}/accept")
    assert response.status_code == 200
    answer = body(response)
    assert answer["status"] == "accepted" and answer["export_queued"] is True
    assert "command_id" not in answer and "snapshot_hash" not in answer  # bookkeeping
    assert answer["status_by"] == "approver"
    messages = api.aws.receive_all(api.aws.export_url)
    assert len(messages) == 1
    message = json.loads(messages[0]["Body"])
    version = item.version + 1
    assert message == {"company_id": COMPANY_ID, "item_id": item.item_id, "kind": "commitment",
                       "procore_id": item.procore_id, "version": version,
                       "command_id": f"{COMPANY_ID}:{item.item_id}:v{version}", "redrive": 0}
    # The export record, fixed at acceptance: what exports and under which command id.
    export = answer["export"]
    assert export["version"] == version and export["operation"] == "add"
    assert export["accepted_by"] == "approver" and "command_id" not in export
    stored = get_store().get_item(COMPANY_ID, item.kind, item.procore_id)
    assert stored is not None and stored.export is not None
    assert stored.export.command_id == message["command_id"]
    assert stored.export.snapshot_hash == item.snapshot_hash
    # A second accept is refused and sends nothing more.
    again = api.call("POST", f"/items/{item.item_id}/accept", who="admin_approver")
    assert again.status_code == 409
    assert "accepted" in body(again)["message"] and body(again)["details"]["status"] == "accepted"
    assert api.aws.queue_depth(api.aws.export_url) == 1


class _OneCallAtATime:
    """A DynamoDB client whose calls never overlap. DynamoDB applies each call atomically;
    moto does not (a cancelled TransactWriteItems restores a copy of the table taken before
    it, dropping the other thread's committed write), so the race under test is ours."""

    def __init__(self, client: Any) -> None:
        self._client, self._lock = client, threading.Lock()

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._client, name)
        if not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                return attr(*args, **kwargs)
        return call


def test_two_approvers_accepting_at_once_one_wins(api: Any,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    item = seed_item(Status.READY_TO_EXPORT)
    store = get_store()
    monkeypatch.setattr(store, "client", _OneCallAtATime(store.client))
    real_get = store.get_item
    both_read = threading.Barrier(2, timeout=10)

    waited: set[str] = set()

    def get_then_wait(*args: Any, **kwargs: Any) -> Any:
        found = real_get(*args, **kwargs)
        name = threading.current_thread().name
        if name.startswith("approver") and name not in waited:
            waited.add(name)
            both_read.wait()  # both have read version N before either writes
        return found

    store.get_item = get_then_wait  # type: ignore[method-assign]
    service = get_item_service()
    users = {name: store.get_user(COMPANY_ID, name) for name in ("approver", "admin_approver")}
    outcomes: dict[str, Any] = {}

    def accept(name: str) -> None:
        try:
            outcomes[name] = service.accept(users[name], item.item_id).status.value
        except Exception as exc:
            outcomes[name] = exc

    threads = [threading.Thread(target=accept, args=(n,), name=f"approver-{n}") for n in users]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=15)
    store.get_item = real_get  # type: ignore[method-assign]
    results = list(outcomes.values())
    assert sorted(type(r).__name__ for r in results) == ["Conflict", "str"]
    loser = next(r for r in results if not isinstance(r, str))
    assert loser.http_status == 409 and "now accepted" in loser.message
    assert len(api.aws.receive_all(api.aws.export_url)) == 1
    trail = store.audit_trail(COMPANY_ID, "commitment", item.procore_id)
    assert [e.action for e in trail].count("accept") == 1


@pytest.mark.parametrize(("status", "action"), [
    (Status.ACCEPTED, "reject"), (Status.NOT_READY, "accept"), (Status.SYNCED, "accept"),
    (Status.READY_TO_EXPORT, "unlink"), (Status.EXPORTING, "retrieve"),
    (Status.READY_TO_EXPORT, "resend"),
])
def test_action_not_allowed_in_status_is_409_naming_it(api: Any, status: Status,
                                                        action: str) -> None:
    item = seed_item(status)
    who = {"reject": "approver", "accept": "approver", "unlink": "admin",
           "retrieve": "pm", "resend": "pm"}[action]
    payload = {"reason": "no"} if action == "reject" else None
    before = api.aws.table_snapshot()
    response = api.call("POST", f"/items/{item.item_id}/{action}", who=who, payload=payload)
    assert response.status_code == 409
    assert f"is {status.value}" in body(response)["message"]
    assert api.aws.table_snapshot() == before


def test_reject_needs_a_reason_and_keeps_it(api: Any, mint: Any) -> None:
    item = seed_item(Status.READY_TO_EXPORT)
    before = api.aws.table_snapshot()
    for payload in (None, {}, {"reason": "   "}, {"reason": 5}, {"reason": "x", "extra": 1}):
        response = api.call("POST", f"/items/{item.item_id}/reject", payload=payload)
        assert response.status_code == 400, payload
    assert "'reason'" in body(api.call("POST", f"/items/{item.item_id}/reject",
                                       payload={}))["message"]
    garbled = api.client.http.post(f"/items/{item.item_id}/reject", body="{nope",
                                   headers={"Authorization": mint("approver"),
                                            "Content-Type": "application/json"})
    assert garbled.status_code == 400 and "not valid JSON" in body(garbled)["message"]
    assert api.aws.table_snapshot() == before
    response = api.call("POST", f"/items/{item.item_id}/reject",
                        payload={"reason": "Line 2 should be 03-300"})
    assert response.status_code == 200
    detail = body(api.call("GET", f"/items/{item.item_id}"))
    assert detail["status"] == "rejected"
    assert detail["status_reason"] == "Line 2 should be 03-300"
    assert detail["history"][-1]["reason"] == "Line 2 should be 03-300"
    assert detail["history"][-1]["actor"] == "approver"


def test_resend_after_reject_and_retrieve(api: Any) -> None:
    item = seed_item(Status.READY_TO_EXPORT)
    assert api.call("POST", f"/items/{item.item_id}/retrieve", who="pm").status_code == 200
    assert api.call("POST", f"/items/{item.item_id}/resend", who="pm").status_code == 200
    assert api.call("POST", f"/items/{item.item_id}/reject",
                    payload={"reason": "fix it"}).status_code == 200
    assert body(api.call("POST", f"/items/{item.item_id}/resend", who="pm"))["status"] == \
        "ready_to_export"
    history = body(api.call("GET", f"/items/{item.item_id}"))["history"]
    assert [h["action"] for h in history] == ["observe_ready", "retrieve", "resend", "reject",
                                              "resend"]
    assert [h["version"] for h in history] == [1, 2, 3, 4, 5]
    # "Sent by": whoever last put it before the approvers; a rejection does not change it.
    answer = body(api.call("GET", f"/items/{item.item_id}"))
    assert answer["sent_by"] == "pm" and answer["sent_at"] == history[-1]["at"]
    assert answer["status_by"] == "pm"
    assert api.call("POST", f"/items/{item.item_id}/reject",
                    payload={"reason": "again"}).status_code == 200
    answer = body(api.call("GET", f"/items/{item.item_id}"))
    assert (answer["sent_by"], answer["status_by"]) == ("pm", "approver")


def test_resend_of_an_item_that_is_still_not_ready_is_refused(api: Any) -> None:
    item = seed_item(Status.REJECTED)
    get_item_service().observe(company_id=COMPANY_ID, kind="commitment",
                               procore_id=item.procore_id, project_id=11, subtype="subcontract",
                               snapshot={"changed": True}, reasons=["Line 1 has no cost code"],
                               actor="test")
    response = api.call("POST", f"/items/{item.item_id}/resend", who="pm")
    assert response.status_code == 409
    assert "Line 1 has no cost code" in body(response)["message"]


def test_unknown_and_malformed_items_are_404(api: Any) -> None:
    for item_id in ("commitment-999999", "nonsense", "commitment-abc"):
        for method, suffix in (("GET", ""), ("POST", "/accept")):
            response = api.call(method, f"/items/{item_id}{suffix}")
            assert response.status_code == 404, (item_id, suffix)
            assert item_id in body(response)["message"]


def test_bad_or_missing_bearer_token_is_401(api: Any, mint: Any) -> None:
    for headers in ({}, {"Authorization": "Basic abc"}, {"Authorization": "Bearer not.a.jwt"},
                    {"Authorization": mint("approver", ttl_seconds=-120)}):
        response = api.client.http.get("/items", headers=headers)
        assert response.status_code == 401, headers
        assert body(response)["error"] == "unauthorized"


def test_list_filters_and_paginates_with_an_opaque_cursor(api: Any) -> None:
    for n in range(5):
        seed_item(Status.READY_TO_EXPORT, procore_id=600 + n, project_id=11 + n % 2)
    seed_item(Status.NOT_READY, procore_id=700)
    first = body(api.call("GET", "/items?status=ready_to_export&limit=2", who="viewer"))
    assert len(first["items"]) == 2 and first["next_cursor"]
    seen = [i["id"] for i in first["items"]]
    cursor = first["next_cursor"]
    while cursor:
        page = body(api.call("GET", f"/items?status=ready_to_export&limit=2&cursor={cursor}",
                             who="viewer"))
        seen += [i["id"] for i in page["items"]]
        cursor = page["next_cursor"]
    assert sorted(seen) == [f"commitment-{600 + n}" for n in range(5)]
    by_project = body(api.call("GET", "/items?project_id=12&kind=commitment", who="viewer"))
    assert {i["id"] for i in by_project["items"]} == {"commitment-601", "commitment-603"}
    for query, field in (("status=bogus", "status"), ("limit=0", "limit"),
                         ("project_id=x", "project_id"), ("cursor=%%%", "cursor")):
        response = api.call("GET", f"/items?{query}", who="viewer")
        assert response.status_code == 400 and field in body(response)["message"]


def test_item_detail_has_snapshot_reasons_and_history(api: Any) -> None:
    item = seed_item(Status.NOT_READY, reasons=["The subcontract is Draft."])
    detail = body(api.call("GET", f"/items/{item.item_id}", who="viewer"))
    assert detail["id"] == item.item_id
    assert detail["snapshot"]["number"] == "SC-1"
    assert detail["reasons"] == ["The subcontract is Draft."]
    assert detail["history"][0]["to_status"] == "not_ready"


def test_send_evaluates_the_commitment_now(api: Any) -> None:
    payload = _send_body(api)
    response = api.call("POST", "/items/send", who="pm", payload=payload)
    assert response.status_code == 200
    answer = body(response)
    # The demo project and vendor are not linked to Sage yet: not ready, with reasons.
    assert answer["status"] == "not_ready"
    assert any("not linked to a Sage 100 Contractor job" in r for r in answer["reasons"])
    assert answer["status_by"] == "pm"
    bad = api.call("POST", "/items/send", who="pm", payload={**payload, "procore_id": "x"})
    assert bad.status_code == 400 and "procore_id" in body(bad)["message"]


def test_health(api: Any) -> None:
    response = api.client.http.get("/health")
    assert response.status_code == 200
    assert body(response) == {"status": "ok"}  # liveness; readiness: test_health.py


def test_accept_while_the_export_queue_is_down_is_sent_later(
        api: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from chalicelib import wiring

    item = seed_item(Status.READY_TO_EXPORT)
    real_url = api.aws.export_url
    monkeypatch.setenv("EXPORT_QUEUE_URL", real_url.replace("Exports", "Missing"))
    wiring.reset()
    response = api.call("POST", f"/items/{item.item_id}/accept")
    assert response.status_code == 200  # the acceptance is durable...
    assert body(response)["status"] == "accepted"
    assert body(response)["export_queued"] is False  # ...and visibly not yet handed off
    assert api.aws.queue_depth(real_url) == 0
    monkeypatch.setenv("EXPORT_QUEUE_URL", real_url)
    wiring.reset()
    event = api.client.events.generate_cw_event(
        source="aws.events", detail_type="Scheduled Event", detail={},
        resources=["arn:aws:events:us-east-1:123456789012:rule/requeue"])
    answer = api.client.lambda_.invoke("sweep-exports", event).payload
    assert answer["requeued"] == 1 and answer["stuck"] == 0
    assert api.aws.queue_depth(real_url) == 1
    assert get_store().get_item(COMPANY_ID, "commitment", item.procore_id).export_enqueued
    # Nothing left to send: the schedule sends nothing twice.
    assert api.client.lambda_.invoke("sweep-exports", event).payload["requeued"] == 0
