"""The reconciliation poll's owner side: an owner invoice or a PCCO whose webhook was lost
still reaches intake (services.reconcile_owner).

The sandbox's webhooks are off (``world``, tests.integration.test_reconcile): the owner
side is seeded without webhooks, and an invoice entered later fires one that is lost.
"""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.domain.models import Link
from chalicelib.domain.state_machine import Status
from chalicelib.wiring import get_item_service, get_store
from devstack.procore_sandbox.owner_seeding import seed_owner_side
from tests.fixtures_sandbox import (  # noqa: F401 - the *_fixture imports register fixtures
    demo_fixture,
    sandbox_fixture,
    webhook_receiver_fixture,
)
from tests.helpers import COMPANY_ID
from tests.integration import test_reconcile
from tests.integration.test_reconcile import World

world = test_reconcile.world  # the fixture: the sandbox's webhooks off, the project linked

PAY_APPS = "/rest/v1.0/payment_applications"


@pytest.fixture(name="owner")
def owner_fixture(world: World) -> dict[str, Any]:
    owner = seed_owner_side(world.sandbox, world.demo)  # fires no webhook
    store = get_store()
    store.put_link(Link(company_id=COMPANY_ID, kind="prime_contract", origin="sage",
                        procore_id=owner["prime_contract_id"], sage_key="24001"))
    settings = store.get_company_settings(COMPANY_ID)
    store.put_company_settings(COMPANY_ID, {**settings, "advanced": {
        **settings.get("advanced", {}), "owner_invoice_cost_code": "1100"}},
        expected_version=int(settings.get("version", 0)))
    return owner


def held(kind: str, procore_id: int) -> Any:
    return get_store().get_item(COMPANY_ID, kind, procore_id)


def test_a_lost_owner_invoice_and_pcco_are_found_by_one_poll(world: World,
                                                             owner: dict[str, Any]) -> None:
    late = world.sandbox.create_payment_application(  # its webhook is lost
        world.project, owner["prime_contract_id"], items={owner["prime_line_ids"][0]: "5000"},
        invoice_number="OI-002", billing_date="2024-05-31", status="approved")
    draft = world.sandbox.create_payment_application(
        world.project, owner["prime_contract_id"], invoice_number="OI-003")
    assert world.receiver.received == []

    report = world.poll()
    # Two approved invoices and the approved PCCO; the draft, never held, is not queued.
    assert report.events_queued == 3 and world.depth() == 3
    assert report.records_seen >= 4
    assert world.run_intake() == (3, 0)
    for kind, procore_id in (("owner_invoice", owner["payment_application_id"]),
                             ("owner_invoice", late["id"]), ("pcco", owner["pcco_id"])):
        item = held(kind, procore_id)
        assert item is not None and item.status is Status.READY_TO_EXPORT, (kind, item)
    assert held("owner_invoice", draft["id"]) is None
    assert held("cco", owner["pcco_id"]) is None  # told apart from a CCO by intake
    [event] = get_store().audit_trail(COMPANY_ID, "pcco", owner["pcco_id"])
    stamp = world.sandbox.state.prime_change_orders[owner["pcco_id"]]["updated_at"]
    assert event.correlation_id == f"reconcile:pcco:{owner['pcco_id']}:{stamp}"
    asked = [r["query"] for r in world.sandbox.requests
             if r["path"].endswith("/prime_change_orders")]
    assert "filters%5Bupdated_at%5D=" in asked[-1]  # the PCCO list is windowed

    again = world.poll()  # a second poll: everything is held at that version
    assert again.events_queued == 0 and world.depth() == 0


def test_an_unchanged_held_item_is_not_requeued_and_a_changed_one_is(
        world: World, owner: dict[str, Any]) -> None:
    world.poll()
    world.run_intake()
    app_id, pcco_id = owner["payment_application_id"], owner["pcco_id"]
    version = held("owner_invoice", app_id).version
    assert world.poll().events_queued == 0
    assert held("owner_invoice", app_id).version == version

    # Same day (the list's updated_at is a date): the status change alone tells it.
    with world.sandbox.state.lock:
        world.sandbox.state.payment_applications[app_id]["status"] = "under_review"
    report = world.poll()
    assert report.events_queued == 1
    world.run_intake()
    item = held("owner_invoice", app_id)
    assert item.snapshot["status"] == "under_review" and item.status is Status.NOT_READY
    assert world.poll().events_queued == 0  # now held as listed

    with world.sandbox.state.lock:  # a PCCO edit stamps a later updated_at
        world.sandbox.state.prime_change_orders[pcco_id]["updated_at"] = "2099-01-01T00:00:00Z"
    assert world.poll().events_queued == 0  # beyond the window: the next poll's
    with world.sandbox.state.lock:
        world.sandbox.state.prime_change_orders[pcco_id]["updated_at"] = \
            world.sandbox.state.prime_change_orders[pcco_id]["created_at"]
    assert world.poll().events_queued == 0  # held at least as new


def test_a_withdrawn_owner_invoice_is_left_alone(world: World, owner: dict[str, Any]) -> None:
    world.poll()
    world.run_intake()
    app_id = owner["payment_application_id"]
    get_item_service().observe_deleted(company_id=COMPANY_ID, kind="owner_invoice",
                                       procore_id=app_id, actor="system:intake",
                                       correlation_id="test")
    assert held("owner_invoice", app_id).status is Status.WITHDRAWN
    with world.sandbox.state.lock:
        world.sandbox.state.payment_applications[app_id]["status"] = "under_review"
    assert world.poll().events_queued == 0


def test_a_project_without_prime_contract_access_is_skipped_not_failed(
        world: World, owner: dict[str, Any]) -> None:
    world.sandbox.inject_fault(403, path_prefix=PAY_APPS)
    world.sandbox.inject_fault(404, path_prefix=f"/rest/v1.0/projects/{world.project}/prime")
    record = world.commitment()
    report = world.poll()
    assert report.projects_scanned == 1 and report.events_queued == 1  # the commitment
    assert report.cursor_after is not None
    world.run_intake()
    assert world.item(record["id"]).status is Status.READY_TO_EXPORT
    assert held("owner_invoice", owner["payment_application_id"]) is None
