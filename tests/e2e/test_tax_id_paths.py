"""Vendors' tax ids between the two systems with the relay agent in its own process: a
Sage vendor imported into Procore gets Sage's tax id (read again from the embedded Sage,
never cached), and a Procore company exported to Sage carries Procore's (read when the
command is built); the table and the agent's log never hold either in clear."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chalicelib.domain.permissions import Level, User
from chalicelib.wiring import get_store
from tests.e2e.conftest import ExportStack
from tests.e2e.test_setup_path import pulled
from tests.helpers import COMPANY_ID

pytestmark = pytest.mark.e2e

SAGE_SSN = "418-62-7395"  # Sage vendor 3060, imported into Procore
PROCORE_SSN = "356-71-4820"  # a Procore company, exported to Sage


def table_text(stack: ExportStack) -> str:
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"TableName": stack.aws.resources.environment["TABLE_NAME"]}
    while True:
        page = stack.aws.dynamodb.scan(**kwargs)
        items += page["Items"]
        if "LastEvaluatedKey" not in page:
            return json.dumps(items, default=lambda v: bytes(v).decode("utf-8", "replace"))
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def test_tax_ids_cross_with_the_real_agent_and_are_kept_nowhere(stack: ExportStack) -> None:
    stack.sage.seed_vendor(3060, "Llano Ironworks", short_name="Llano", tax_id=SAGE_SSN)
    stack.start_agent()
    pulled(stack, "vendors")
    status, imported = stack.call("post", "/erp/vendors/3060/import", "standard")
    assert status == 201 and imported["tax_id_requested"] is True, imported
    company_id = imported["company"]["id"]

    def register() -> Any:
        return stack.sandbox.state.vendors[company_id].get("business_register")

    assert stack.until(register)["identifier"] == SAGE_SSN

    get_store().put_user(User("dir_admin", COMPANY_ID, Level.STANDARD,
                              tool_levels={"directory": Level.ADMIN}))
    company = stack.sandbox.add_vendor("Hondo Glass", business_register={
        "type": "ein", "identifier": PROCORE_SSN})
    status, item = stack.call("post", "/items/send", "dir_admin",
                              {"kind": "vendor", "procore_id": company["id"]})
    assert status == 200 and item["status"] == "ready_to_export", item
    assert stack.call("post", f"/items/{item['id']}/accept", "approver")[0] == 200
    synced = stack.until(lambda: (lambda i: i if i.status.value == "synced" else None)(
        get_store().get_item(COMPANY_ID, "vendor", company["id"])))
    rows, _ = stack.sage.read("vendors", after=None, limit=1000)
    [row] = [r for r in rows if r["vendor"] == int(synced.erp_keys["actpay"])]
    assert row["tax_id"] == PROCORE_SSN  # actpay.fedidn, as Procore holds it

    kept = table_text(stack) + stack.agent_log.read_text()
    for ssn in (SAGE_SSN, PROCORE_SSN):
        digits = ssn.replace("-", "")
        for form in (ssn, digits, digits[:5]):
            assert form not in kept, f"{form} in clear in the table or the agent's log"
