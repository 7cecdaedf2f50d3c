"""Unlink undoes every tie: the link, Procore's origin id, the synced state; the item can be
sent again and then exports as a new Sage record (an add, never a modify)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chalicelib.wiring import get_store
from tests.fixtures_sandbox import demo_fixture, sandbox_fixture  # noqa: F401
from tests.helpers import COMPANY_ID, body
from tests.integration.test_results import WOC, Flow, flow  # noqa: F401


def _call(flow: Flow, mint: Any, method: str, path: str, who: str,  # noqa: F811
          payload: Any = None) -> Any:
    return getattr(flow.client.http, method)(
        path, body=json.dumps(payload) if payload is not None else None,
        headers={"Authorization": mint(who), "Content-Type": "application/json"})


def _synced(flow: Flow) -> Any:  # noqa: F811
    item = flow.exporting()
    assert flow.deliver(flow.result(item)) == {"batchItemFailures": []}
    return get_store().get_item(COMPANY_ID, "commitment", item.procore_id)


def test_unlink_clears_link_and_origin_and_the_item_can_be_sent_again(
        flow: Flow, mint: Any) -> None:  # noqa: F811
    item = _synced(flow)
    assert flow.sandbox.get_commitment(WOC, item.procore_id)["origin_id"] == "subcon:17"

    answer = _call(flow, mint, "post", f"/items/{item.item_id}/unlink", "standard")

    assert answer.status_code == 200, body(answer)
    unlinked = body(answer)
    assert unlinked["status"] == "unlinked"
    assert unlinked["sage_keys"] == {}
    stored = get_store().get_item(COMPANY_ID, "commitment", item.procore_id)
    assert stored is not None and stored.synced_snapshot is None
    assert get_store().get_link(COMPANY_ID, "commitment", item.procore_id) is None
    assert get_store().get_link_by_sage(COMPANY_ID, "commitment", "subcon:17") is None
    procore = flow.sandbox.get_commitment(WOC, item.procore_id)
    assert (procore["origin_id"], procore["origin_code"]) == (None, None)
    trail = get_store().audit_trail(COMPANY_ID, "commitment", item.procore_id)
    assert trail[-1].action == "unlink" and trail[-1].actor == "standard"
    assert "subcon:17" in trail[-1].reason and "cleared" in trail[-1].reason
    history = get_store().link_history(COMPANY_ID, "commitment", item.procore_id)
    assert history[-1]["action"] == "unlink" and history[-1]["procore_origin"] == "cleared"

    # A webhook about it is ignored; a person's send puts it in front of an approver.
    flow.sandbox.update_commitment(WOC, item.procore_id, title="Concrete again")
    from chalicelib.wiring import get_intake

    assert get_intake().evaluate_commitment(COMPANY_ID, WOC, item.procore_id, flow.project,
                                            actor="system:intake") is None
    sent = _call(flow, mint, "post", "/items/send", "pm",
                 {"kind": "commitment", "commitment_type": "subcontract",
                  "procore_id": item.procore_id, "project_id": flow.project})
    assert sent.status_code == 200, body(sent)
    assert body(sent)["status"] == "ready_to_export"
    accepted = _call(flow, mint, "post", f"/items/{item.item_id}/accept", "approver")
    assert accepted.status_code == 200, body(accepted)
    assert body(accepted)["export"]["operation"] == "add"  # a new Sage record


@pytest.mark.parametrize("status_code", [200])
def test_unlink_twice_is_409_naming_the_status(flow: Flow, mint: Any,  # noqa: F811
                                               status_code: int) -> None:
    item = _synced(flow)
    first = _call(flow, mint, "post", f"/items/{item.item_id}/unlink", "admin")
    assert first.status_code == status_code
    again = _call(flow, mint, "post", f"/items/{item.item_id}/unlink", "admin")
    assert again.status_code == 409 and "unlinked" in body(again)["message"]


def test_procore_away_during_unlink_changes_nothing(flow: Flow, mint: Any) -> None:  # noqa: F811
    item = _synced(flow)
    before = flow.aws.table_snapshot()
    flow.sandbox.inject_fault(503, count=20, retry_after=0)
    answer = _call(flow, mint, "post", f"/items/{item.item_id}/unlink", "standard")
    assert answer.status_code == 502, body(answer)
    assert body(answer)["error"] == "upstream_unavailable"
    assert flow.aws.table_snapshot() == before
    flow.sandbox.clear_faults()
    assert flow.sandbox.get_commitment(WOC, item.procore_id)["origin_id"] == "subcon:17"
    assert _call(flow, mint, "post", f"/items/{item.item_id}/unlink",
                 "standard").status_code == 200


def test_unlink_of_an_item_not_synced_is_409_and_changes_nothing(
        flow: Flow, mint: Any) -> None:  # noqa: F811
    item = flow.exporting()
    before = flow.aws.table_snapshot()
    answer = _call(flow, mint, "post", f"/items/{item.item_id}/unlink", "standard")
    assert answer.status_code == 409 and "exporting" in body(answer)["message"]
    assert flow.aws.table_snapshot() == before
