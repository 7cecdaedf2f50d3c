"""Vendors' tax ids never in clear: not in any API answer, the table, or the logs.

Three SSN-shaped tax ids walk the vendor paths end to end (chalice.test.Client, moto, the
Procore sandbox over HTTP, rows read from an embedded Sage 100 Contractor):

* Lone Star Masonry: in Sage (pulled) and in Procore -> suggested by the same tax id,
  previewed and linked;
* Brazos Drywall Supply: in Sage only -> imported into Procore's Directory, its tax id
  set there from Sage's row read again;
* Pecos Tile Works: in Procore only -> sent, accepted, exported as a new Sage vendor
  (the command carries the clear value, read from Procore at export time).

Then every GET route is walked as a read-only user and as an ERP admin, the whole table
is scanned, and the captured logs are read: the clear digits never appear; the admin
sees the last four, masked; the read-only user not even that.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from app import app as chalice_app
from chalicelib.domain.state_machine import Status
from chalicelib.relay_protocol import Result
from chalicelib.wiring import get_store
from devstack.pump import drain
from relay.sage.embedded import EmbeddedSage
from tests.conftest import WEBHOOK_TOKEN
from tests.fixtures_sandbox import sandbox_fixture  # noqa: F401
from tests.helpers import COMPANY_ID
from tests.integration.test_setup_api import SetupApi, make_setup_api

LONE_STAR = "521-87-3964"  # Sage 3040 and a Procore company: same tax id
BRAZOS = "748-36-2951"  # Sage 3041 only: imported into Procore
PECOS = "634-29-1857"  # Procore only: exported to Sage
SECRETS = (LONE_STAR, BRAZOS, PECOS)


def clear_forms(ssn: str) -> tuple[str, ...]:
    """How a clear tax id could show: as written, digits only, or its first five digits
    (which no masked form shows)."""
    digits = ssn.replace("-", "")
    return ssn, digits, digits[:5], ssn[:6]


def assert_no_clear(text: str, where: str) -> None:
    for ssn in SECRETS:
        for form in clear_forms(ssn):
            assert form not in text, f"{form!r} (tax id {ssn[-4:]}) in clear in {where}"


def masked(ssn: str) -> str:
    return "•••••" + ssn[-4:]


@pytest.fixture
def sage(tmp_path: Path) -> EmbeddedSage:
    db = EmbeddedSage(tmp_path / "sage.db")
    db.init()
    db.seed_demo()
    db.seed_vendor(3040, "Lone Star Masonry", short_name="Lone Star", tax_id=LONE_STAR)
    db.seed_vendor(3041, "Brazos Drywall Supply", short_name="Brazos", tax_id=BRAZOS)
    return db


def sage_vendor_rows(sage: EmbeddedSage) -> list[dict[str, Any]]:
    """Sage's vendor list as the agent's pull sends it (clear tax ids: SQS only)."""
    rows, cursor = sage.read("vendors", after=None, limit=1000)
    assert cursor is None
    assert {r["vendor"]: r["tax_id"] for r in rows}.get(3040) == LONE_STAR
    return rows


@pytest.fixture
def api(aws: Any, sandbox: Any, chalice_client: Any, mint: Any,
        monkeypatch: pytest.MonkeyPatch) -> SetupApi:
    return make_setup_api(aws, sandbox, chalice_client, mint, monkeypatch)


def answer_tax_id_reads(api: SetupApi, rows: list[dict[str, Any]]) -> None:
    """The agent's answer to an import's read of the vendor list (one page)."""
    for command in api.relay_commands():
        assert command["item_id"].startswith("import:vendor_tax_id:"), command
        api.answer(Result(command_id=command["command_id"], company_id=COMPANY_ID,
                          item_id=command["item_id"], export_version=0, ok=True, data=rows,
                          page=1, more=False, agent_id="agent",
                          finished_at="2026-11-26T00:00:00Z"))


def quarantine_a_company_body(api: SetupApi) -> None:
    """A delivery the receiver cannot read, carrying a company's business register."""
    body = json.dumps({"resource_name": "Vendors", "business_register": {
        "type": "ein", "identifier": LONE_STAR}, "note": f"ssn {PECOS}"})
    response = api.client.http.post("/webhooks/procore", body=body, headers={
        "Content-Type": "application/json", "Authorization": WEBHOOK_TOKEN})
    assert response.status_code == 202, response.body


def get_paths(ids: dict[str, Any]) -> list[str]:
    """Every GET route of the app with the flow's ids filled in, plus the query variants
    that show vendors."""
    paths = []
    for path, methods in sorted(chalice_app.routes.items()):
        if "GET" not in methods:
            continue
        filled = path
        for name, value in ids.items():
            filled = filled.replace("{" + name + "}", str(value))
        assert "{" not in filled, f"no id for {path}"
        paths.append(filled)
    return [*paths, "/erp/vendors?archived=true", "/erp/vendors?format=csv",
            "/links?kind=vendors", "/items?kind=vendor", "/items?status=synced",
            "/reports/accountant?format=csv"]


def walk(api: SetupApi, who: str, paths: list[str]) -> dict[str, str]:
    answers = {}
    for path in paths:
        response = api.client.http.get(path, headers={"Authorization": api.mint(who)})
        text = response.body.decode() if isinstance(response.body, bytes) else response.body
        try:  # JSON as its characters ("\u2022" as the bullet it is)
            text = json.dumps(json.loads(text), ensure_ascii=False)
        except ValueError:
            pass
        answers[path] = text or ""
        assert_no_clear(answers[path], f"GET {path} as {who} ({response.status_code})")
    return answers


def scan_table(aws: Any) -> str:
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"TableName": aws.resources.environment["TABLE_NAME"]}
    while True:
        page = aws.dynamodb.scan(**kwargs)
        items += page["Items"]
        if "LastEvaluatedKey" not in page:
            break
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    # binary attributes (a quarantined body) as text too
    return json.dumps(items, default=lambda v: bytes(v).decode("utf-8", "replace"))


def test_tax_ids_are_never_in_clear(api: SetupApi, sage: EmbeddedSage, aws: Any,
                                    caplog: pytest.LogCaptureFixture,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    caplog.set_level("INFO")  # as deployed (botocore's DEBUG would print request bodies)
    caplog.set_level("DEBUG", logger="connector")
    rows = sage_vendor_rows(sage)
    lone_star = api.sandbox.add_vendor("Lone Star Masonry LLC", business_register={
        "type": "ein", "identifier": LONE_STAR})
    pecos = api.sandbox.add_vendor("Pecos Tile Works", business_register={
        "type": "ein", "identifier": PECOS})

    # the pull: cached without the clear value
    api.pull("vendors", rows)
    status, listing = api.call("GET", "/erp/vendors", "admin")
    assert status == 200
    shown = {v["vendor"]: v for v in listing["vendors"]}
    assert shown[3040]["tax_id"] == masked(LONE_STAR)
    assert "tax_id_fingerprint" not in shown[3040]
    _, viewer_listing = api.call("GET", "/erp/vendors", "viewer")
    assert all("tax_id" not in v for v in viewer_listing["vendors"])

    # matching: the same tax id still suggests the link
    status, suggestions = api.call("GET", "/erp/vendors/suggestions", "admin")
    assert status == 200, suggestions
    [found] = [s for s in suggestions["suggestions"] if s["sage_vendor"] == 3040]
    assert found["procore_company"] == lone_star["id"] and "same tax id" in found["reasons"]
    link = {"procore_id": lone_star["id"], "sage_key": 3040}
    status, preview = api.call("POST", "/links/vendors", "admin", {**link, "preview": True})
    assert status == 200, preview
    assert "tax_id" not in {d["field"] for d in preview["differences"]}
    status, linked = api.call("POST", "/links/vendors", "admin", link)
    assert status == 201, linked

    # import: Procore gets Sage's clear value, read again from Sage (not from the cache)
    status, imported = api.call("POST", "/erp/vendors/3041/import", "standard")
    assert status == 201 and imported["tax_id_requested"] is True, imported
    answer_tax_id_reads(api, rows)
    register = api.sandbox.state.vendors[imported["company"]["id"]]["business_register"]
    assert register["identifier"] == BRAZOS

    # export: Sage gets Procore's clear value, read from Procore when the command is built
    status, item = api.call("POST", "/items/send", "dir_admin",
                            {"kind": "vendor", "procore_id": pecos["id"]})
    assert status == 200 and item["status"] == "ready_to_export", item
    status, previewed = api.call("GET", f"/items/{item['id']}/preview", "approver")
    assert status == 200 and previewed["payload"]["tax_id"] == masked(PECOS), previewed
    assert api.call("POST", f"/items/{item['id']}/accept", "approver")[0] == 200
    command = api.export(item["id"], {"actpay": "3050"})
    assert command["type"] == "add_vendor" and command["payload"]["tax_id"] == PECOS
    assert get_store().get_item(COMPANY_ID, "vendor", pecos["id"]).status is Status.SYNCED

    quarantine_a_company_body(api)
    _, entries = api.call("GET", "/ops/quarantine", "admin")
    entry_id = entries["entries"][0]["id"]

    # every GET route, as a read-only user and as an ERP admin
    paths = get_paths({"item_id": item["id"], "asset": "app.js", "entry_id": entry_id,
                       "procore_id": api.main, "project_id": api.main})
    as_admin = walk(api, "admin", paths)
    assert masked(LONE_STAR) in as_admin["/erp/vendors"]
    assert masked(PECOS) in as_admin[f"/items/{item['id']}"]
    as_viewer = walk(api, "viewer", paths)
    for path, text in as_viewer.items():
        for ssn in SECRETS:
            assert masked(ssn) not in text, f"read-only user sees {masked(ssn)} at {path}"

    # the table, after intake, suggestion, link, import and export
    assert_no_clear(scan_table(aws), "the DynamoDB table")
    # the logs: pytest's capture and the Powertools logger's stream (stdout)
    assert_no_clear(caplog.text, "the captured log records")
    assert_no_clear(json.dumps([{k: v for k, v in vars(r).items() if k != "exc_info"}
                                for r in caplog.records], default=str),
                    "the captured log records' keys")
    out = capsys.readouterr()
    assert_no_clear(out.out + out.err, "the Powertools logger's stream")


def test_a_tax_id_changed_in_procore_after_acceptance_is_not_exported(
        api: SetupApi, aws: Any) -> None:
    """The export reads the clear value from Procore; one that is no longer the accepted
    one (by fingerprint) is refused with both masked, and nothing reaches Sage."""
    pecos = api.sandbox.add_vendor("Pecos Tile Works", business_register={
        "type": "ein", "identifier": PECOS})
    status, item = api.call("POST", "/items/send", "dir_admin",
                            {"kind": "vendor", "procore_id": pecos["id"]})
    assert status == 200 and item["status"] == "ready_to_export", item
    assert api.call("POST", f"/items/{item['id']}/accept", "approver")[0] == 200
    with api.sandbox.state.lock:
        api.sandbox.state.vendors[pecos["id"]]["business_register"]["identifier"] = BRAZOS
    drain(aws.sqs, aws.export_url, lambda e: api.client.lambda_.invoke("exporter", e).payload)
    assert api.relay_commands() == []
    stored = get_store().get_item(COMPANY_ID, "vendor", pecos["id"])
    assert stored.status is Status.FAILED
    message = stored.last_error["message"]
    assert "tax id changed in Procore" in message
    assert masked(PECOS) in message and masked(BRAZOS) in message
    assert_no_clear(message + scan_table(aws), "the refusal")
