"""Test helpers: personas, items seeded in any status, the webhook-to-item pipeline."""

from __future__ import annotations

import json
from typing import Any

from chalicelib.domain.models import Item
from chalicelib.domain.permissions import Level, User
from chalicelib.domain.state_machine import Action, Status
from chalicelib.wiring import get_item_service, get_store

COMPANY_ID = 4264

# ERP Integrations level, Can Push to Accounting, and Procore tool levels per persona.
PERSONAS: dict[str, dict[str, Any]] = {
    "nobody": {},  # a valid token but no record in the connector: no permissions
    "viewer": {"erp_level": Level.READ_ONLY},
    "standard": {"erp_level": Level.STANDARD},
    "approver": {"erp_level": Level.STANDARD, "can_push_to_accounting": True},
    "admin": {"erp_level": Level.ADMIN},
    "admin_approver": {"erp_level": Level.ADMIN, "can_push_to_accounting": True},
    "pm": {"erp_level": Level.READ_ONLY,
           "tool_levels": {"commitments": Level.ADMIN, "budget": Level.ADMIN,
                           "invoicing": Level.ADMIN}},
}


def seed_personas() -> None:
    store = get_store()
    for name, levels in PERSONAS.items():
        if levels:
            store.put_user(User(subject=name, company_id=COMPANY_ID, name=name, **levels))


def use_division_dash_codes() -> None:
    """Set the company's cost code rule to 'division-dash-code' (advanced settings).

    The sandbox's demo cost codes are made in Procore, so they have no origin id (and the
    sandbox's line items carry none), and they follow NN-NNN, mapping onto the embedded
    Sage's demo codes (03-300 -> 3300.000). Without the rule none of them maps to Sage.
    """
    store = get_store()
    settings = store.get_company_settings(COMPANY_ID)
    advanced = {**settings.get("advanced", {}), "cost_code_rule": "division-dash-code"}
    store.put_company_settings(COMPANY_ID, {**settings, "advanced": advanced},
                               expected_version=int(settings.get("version", 0)))


SNAPSHOT = {"commitment_type": "subcontract", "number": "SC-1", "title": "Concrete",
            "status": "Approved", "lines": [{"id": 1, "amount": "10.00"}]}

# The shortest path of actions from nothing to each status.
PATHS: dict[Status, list[Action]] = {
    Status.READY_TO_EXPORT: [Action.OBSERVE_READY],
    Status.NOT_READY: [Action.OBSERVE_NOT_READY],
    Status.ACCEPTED: [Action.OBSERVE_READY, Action.ACCEPT],
    Status.REJECTED: [Action.OBSERVE_READY, Action.REJECT],
    Status.RETRIEVED: [Action.OBSERVE_READY, Action.RETRIEVE],
    Status.EXPORTING: [Action.OBSERVE_READY, Action.ACCEPT, Action.BEGIN_EXPORT],
    Status.SYNCED: [Action.OBSERVE_READY, Action.ACCEPT, Action.BEGIN_EXPORT,
                    Action.EXPORT_SUCCEEDED],
    Status.FAILED: [Action.OBSERVE_READY, Action.ACCEPT, Action.BEGIN_EXPORT,
                    Action.EXPORT_FAILED],
    Status.UNLINKED: [Action.OBSERVE_READY, Action.ACCEPT, Action.BEGIN_EXPORT,
                      Action.EXPORT_SUCCEEDED, Action.UNLINK],
    Status.WITHDRAWN: [Action.OBSERVE_READY, Action.OBSERVE_DELETED],
}


def seed_item(status: Status, procore_id: int = 501, project_id: int = 11,
              reasons: list[str] | None = None) -> Item:
    """An item walked through real transitions (with audit events) to ``status``."""
    service = get_item_service()
    item = service.observe(company_id=COMPANY_ID, kind="commitment", procore_id=procore_id,
                           project_id=project_id, subtype="subcontract",
                           snapshot={**SNAPSHOT, "id": procore_id},
                           reasons=reasons if reasons is not None else (
                               ["not approved"] if status is Status.NOT_READY else []),
                           actor="seed")
    assert item is not None
    for action in PATHS[status][1:]:
        item = service.apply(item, action, actor="seed",
                              reason="seeded" if action in (Action.REJECT,
                                                            Action.EXPORT_FAILED) else None)
    assert item.status is status
    return item


def body(response: Any) -> Any:
    return json.loads(response.body) if response.body else None


def connect_to_sandbox(monkeypatch: Any, sandbox: Any, demo: dict[str, Any]) -> None:
    """Point the app at the sandbox, seed the personas, link the demo's main project
    (Sage job 24001) and its concrete vendor (Sage vendor 3001), and map the demo's cost
    codes by the 'division-dash-code' rule."""
    from chalicelib import wiring
    from chalicelib.domain.models import Link

    monkeypatch.setenv("PROCORE_BASE_URL", sandbox.url)
    monkeypatch.setenv("PROCORE_AUTH_URL", sandbox.url)
    wiring.reset()
    seed_personas()
    store = get_store()
    store.put_link(Link(company_id=COMPANY_ID, kind="project",
                        procore_id=demo["project_ids"]["main"], sage_key="24001"))
    store.put_link(Link(company_id=COMPANY_ID, kind="vendor",
                        procore_id=demo["vendor_ids"]["concrete"], sage_key="3001"))
    use_division_dash_codes()
