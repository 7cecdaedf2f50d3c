"""The four-eyes rule (FOUR_EYES; on by default in prod): nobody accepts an item they sent,
and no admin changes their own levels. Every change of a user's levels is kept and listed
(GET /audit/user-levels, ERP admin)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chalicelib.domain.permissions import Level, User
from chalicelib.settings import Settings, four_eyes_on
from chalicelib.wiring import get_item_service, get_store
from tests.helpers import COMPANY_ID, SNAPSHOT, seed_personas


@pytest.fixture
def call(aws: Any, chalice_client: Any, mint: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    from chalicelib import wiring

    monkeypatch.setenv("FOUR_EYES", "true")
    wiring.reset()
    seed_personas()

    def _call(method: str, path: str, who: str, payload: Any = None) -> tuple[int, Any]:
        response = getattr(chalice_client.http, method.lower())(
            path, body=json.dumps(payload) if payload is not None else None,
            headers={"Authorization": mint(who), "Content-Type": "application/json"})
        return response.status_code, json.loads(response.body) if response.body else None

    return _call


def sent_by(actor: str, procore_id: int) -> str:
    item = get_item_service().observe(
        company_id=COMPANY_ID, kind="commitment", procore_id=procore_id, project_id=11,
        subtype="subcontract", snapshot={**SNAPSHOT, "id": procore_id}, reasons=[], actor=actor)
    assert item is not None and item.sent_by == actor
    return item.item_id


def test_four_eyes_is_on_in_prod_unless_said_otherwise() -> None:
    assert four_eyes_on(Settings(stage="prod")) is True
    assert four_eyes_on(Settings(stage="prod", four_eyes=False)) is False
    assert four_eyes_on(Settings(stage="dev")) is False
    assert four_eyes_on(Settings(stage="test", four_eyes=True)) is True


def test_the_sender_cannot_accept_their_own_item_another_approver_can(call: Any) -> None:
    own = sent_by("approver", 801)
    # The page is told before anyone clicks: accept disabled, with the rule's reason.
    status, view = call("GET", f"/items/{own}", "approver")
    assert view["actions"]["accept"]["allowed"] is False
    assert "four-eyes" in view["actions"]["accept"]["why"]
    assert view["actions"]["reject"]["allowed"] is True
    status, view = call("GET", f"/items/{own}", "admin_approver")
    assert view["actions"]["accept"]["allowed"] is True
    status, answer = call("POST", f"/items/{own}/accept", "approver", {})
    assert status == 403, answer
    assert "four-eyes" in answer["message"] and own in answer["message"]
    assert get_store().get_item(COMPANY_ID, "commitment", 801).status.value == \
        "ready_to_export"  # nothing changed
    status, answer = call("POST", f"/items/{own}/accept", "admin_approver", {})
    assert (status, answer["status"]) == (200, "accepted"), answer
    # An item a webhook brought (sent by the intake) any approver may accept.
    status, answer = call("POST", f"/items/{sent_by('system:intake', 802)}/accept",
                          "approver", {})
    assert status == 200, answer


def test_an_admin_cannot_change_their_own_levels_and_every_change_is_listed(
        call: Any) -> None:
    body = {"erp_level": "admin", "can_push_to_accounting": True, "tool_levels": {}}
    status, answer = call("PUT", "/users/admin", "admin", body)
    assert status == 403 and "another ERP admin" in answer["message"], answer
    get_store().put_user(User(subject="admin2", company_id=COMPANY_ID, erp_level=Level.ADMIN))
    status, _ = call("PUT", "/users/admin", "admin2", body)
    assert status == 200
    status, _ = call("PUT", "/users/newcomer", "admin2", {"erp_level": "read_only"})
    assert status == 200
    status, _ = call("PUT", "/users/newcomer", "admin2", {"erp_level": "read_only"})
    assert status == 200  # the same levels again: no change to list
    status, listing = call("GET", "/audit/user-levels", "admin")
    assert status == 200
    changes = listing["changes"]
    assert [(c["subject"], c["by"]) for c in changes] == [("newcomer", "admin2"),
                                                         ("admin", "admin2")]
    assert changes[0]["before"] is None and changes[0]["after"]["erp_level"] == "read_only"
    assert changes[1]["before"]["can_push_to_accounting"] is False
    assert changes[1]["after"]["can_push_to_accounting"] is True
    assert call("GET", "/audit/user-levels", "viewer")[0] == 403
