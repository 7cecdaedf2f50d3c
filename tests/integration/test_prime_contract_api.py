"""POST/GET /projects/{P}/prime-contract/import through chalice.test.Client: permissions,
refusals with their reasons, the agent's read answered, the prime contract and its
schedule of values in the sandbox with origin ids and exact amounts, and no second prime
contract for a redelivered answer, a crash after the POST or a second request."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from chalicelib.domain.models import Link
from chalicelib.relay_protocol import Result, SageFailure
from chalicelib.wiring import get_procore, get_store
from tests.fixtures_sandbox import sandbox_fixture  # noqa: F401 - the fixture
from tests.helpers import COMPANY_ID
from tests.integration.test_setup_api import SetupApi, make_setup_api

PATH = "/projects/{}/prime-contract/import"
CONTRACT = {"job": 24001, "name": "Riverside Medical Office Building", "status": 4,
            "contract": "100000.00", "retention_rate": "10.00", "contract_number": "",
            "client_po": "", "lines": [
                {"phase": None, "line": 1, "cost_code": "3300.000", "name": "Concrete",
                 "phase_name": "", "total": "15200.50"},
                {"phase": 2, "line": 1, "cost_code": "5120.000", "name": "Steel",
                 "phase_name": "Structure", "total": "60000.25"}]}


@pytest.fixture(name="api")
def api_fixture(aws: Any, sandbox: Any, chalice_client: Any, mint: Any,
                monkeypatch: pytest.MonkeyPatch) -> SetupApi:
    return make_setup_api(aws, sandbox, chalice_client, mint, monkeypatch)


def link_main(api: SetupApi) -> None:
    get_store().put_link(Link(company_id=COMPANY_ID, kind="project", procore_id=api.main,
                              sage_key="24001"))


def request(api: SetupApi) -> dict[str, Any]:
    status, answer = api.call("POST", PATH.format(api.main), "standard")
    assert (status, answer["status"]) == (202, "waiting_for_sage"), answer
    [command] = api.relay_commands()
    assert (command["type"], command["payload"]) == ("read_job_contract", {"job": 24001})
    return command


def result(command: dict[str, Any], contract: dict[str, Any] | None = None, *,
           error: SageFailure | None = None) -> Result:
    return Result(command_id=command["command_id"], company_id=COMPANY_ID,
                  item_id=command["item_id"], export_version=0, ok=error is None, error=error,
                  data_zlib=None if error else Result.pack_rows([contract or CONTRACT]),
                  page=1, agent_id="agent", finished_at="2026-11-30T00:00:00Z")


def state(api: SetupApi) -> dict[str, Any]:
    status, answer = api.call("GET", PATH.format(api.main), "standard")
    assert status == 200, answer
    return answer


def procore_contracts(api: SetupApi) -> list[dict[str, Any]]:
    return [c for c in api.sandbox.state.prime_contracts.values() if not c.get("deleted_at")]


def test_permissions_and_refusals_before_sage_is_asked(api: SetupApi) -> None:
    status, answer = api.call("POST", PATH.format(api.main), "viewer")
    assert status == 403 and "import a prime contract from the ERP" in answer["message"]
    status, answer = api.call("GET", PATH.format(api.main), "read_only")
    assert status == 403
    status, answer = api.call("POST", PATH.format(api.main), "standard")
    assert status == 409 and "not linked to a Sage job" in answer["message"]
    assert state(api) == {"project_id": api.main, "status": "never_imported"}
    status, answer = api.call("POST", PATH.format("abc"), "standard")
    assert status == 400 and answer["details"]["field"] == "project_id"

    # A prime contract made in Procore: set up in one system, never in both.
    link_main(api)
    made = get_procore(COMPANY_ID).post("/rest/v1.0/prime_contract", {
        "project_id": api.main, "prime_contract": {"title": "Owner agreement"}})
    status, answer = api.call("POST", PATH.format(api.main), "admin")
    assert status == 409, answer
    assert f'prime contract {made["id"]} #1 "Owner agreement"' in answer["message"]
    assert "not imported from Sage" in answer["message"]
    assert api.relay_commands() == []


def test_the_import_creates_one_prime_contract_with_its_schedule(api: SetupApi) -> None:
    link_main(api)
    command = request(api)
    assert api.answer(result(command)) is not None
    done = state(api)
    assert (done["status"], done["contract_amount"], done["retention_rate"], done["lines"]) == (
        "imported", "100000.00", "10.00", 3), done
    [contract] = procore_contracts(api)
    assert (contract["id"], contract["origin_id"], contract["retainage_percent"],
            contract["status"]) == (done["prime_contract_id"], "24001", "10.00", "Draft")
    lines = api.sandbox.state.prime_lines[contract["id"]].values()
    assert sorted((line["origin_id"], line["amount"]) for line in lines) == [
        ("actrec:24001:cntrct", Decimal("24799.25")),
        ("bdglin:24001:0:3300.000", Decimal("15200.50")),
        ("bdglin:24001:2:5120.000", Decimal("60000.25"))]
    link = get_store().get_link(COMPANY_ID, "prime_contract", contract["id"])
    assert link is not None and (link.sage_key, link.origin) == ("24001", "sage")

    # The answer delivered again: nothing more.
    api.answer(result(command))
    assert len(procore_contracts(api)) == 1
    assert len(api.sandbox.state.prime_lines[contract["id"]]) == 3
    # A second import: refused, naming the prime contract.
    status, answer = api.call("POST", PATH.format(api.main), "standard")
    assert status == 409, answer
    assert f"Procore prime contract {contract['id']}" in answer["message"]
    assert "imported already" in answer["message"]


def test_a_crash_after_the_post_finds_the_prime_contract_by_origin_id(api: SetupApi) -> None:
    link_main(api)
    command = request(api)
    # The earlier delivery POSTed the contract and one line, then stopped.
    made = get_procore(COMPANY_ID).post("/rest/v1.0/prime_contract", {
        "project_id": api.main, "prime_contract": {"title": "Riverside", "origin_id": "24001"}})
    get_procore(COMPANY_ID).patch(
        f"/rest/v1.0/prime_contracts/{made['id']}/line_items/sync",
        {"updates": [{"origin_id": "bdglin:24001:0:3300.000", "amount": "15200.50"}]},
        {"project_id": api.main})
    api.answer(result(command))
    done = state(api)
    assert (done["status"], done["prime_contract_id"], done["lines_written"]) == (
        "imported", made["id"], 2), done
    assert len(procore_contracts(api)) == 1
    assert len(api.sandbox.state.prime_lines[made["id"]]) == 3


def test_a_job_without_a_contract_amount_fails_with_sages_values(api: SetupApi) -> None:
    link_main(api)
    command = request(api)
    api.answer(result(command, {**CONTRACT, "contract": "0.00"}))
    failed = state(api)
    assert failed["status"] == "failed"
    assert "Sage job 24001 (Riverside Medical Office Building) has no contract amount: its " \
           "Contract (actrec.cntrct) is 0.00" in failed["reason"]
    assert procore_contracts(api) == []
    # Fixed in Sage: asked again, imported.
    command = request(api)
    api.answer(result(command))
    assert state(api)["status"] == "imported"


def test_sages_refusal_and_a_superseded_answer(api: SetupApi) -> None:
    link_main(api)
    first = request(api)
    second = request(api)  # asked again while waiting: a new read
    assert api.answer(result(first)) is not None
    assert state(api)["status"] == "waiting_for_sage"  # the older read's answer is ignored
    api.answer(result(second, error=SageFailure(
        code=12802, message="Job 24001 does not exist (actrec.recnum)")))
    failed = state(api)
    assert failed["status"] == "failed"
    assert failed["reason"] == ("Sage refused the read: 12802 Job 24001 does not exist "
                                "(actrec.recnum)")
    assert procore_contracts(api) == []
