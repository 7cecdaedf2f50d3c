"""Company admins manage connector users; the first admin is bootstrapped from a shell."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chalicelib.admin_cli import main as admin_cli
from chalicelib.domain.permissions import Level
from chalicelib.wiring import get_store
from tests.helpers import COMPANY_ID, body, seed_personas


@pytest.fixture
def users_api(aws: Any, chalice_client: Any, mint: Any) -> Any:
    seed_personas()

    def call(method: str, path: str, who: str, payload: Any = None) -> Any:
        return getattr(chalice_client.http, method)(
            path, body=json.dumps(payload) if payload is not None else None,
            headers={"Authorization": mint(who), "Content-Type": "application/json"})

    return call


def test_admin_grants_levels_and_they_apply(users_api: Any) -> None:
    payload = {"name": "Ann Accountant", "erp_level": "standard",
               "can_push_to_accounting": True, "tool_levels": {"commitments": "read_only"}}
    response = users_api("put", "/users/ann", "admin", payload)
    assert response.status_code == 200
    assert body(response)["accounting_approver"] is True
    ann = get_store().get_user(COMPANY_ID, "ann")
    assert ann.erp_level is Level.STANDARD and ann.tool_levels == {"commitments": Level.READ_ONLY}
    listed = {u["subject"] for u in body(users_api("get", "/users", "admin"))["users"]}
    assert {"ann", "admin", "approver", "viewer"} <= listed
    assert users_api("get", "/items", "ann").status_code == 200


@pytest.mark.parametrize("who", ["standard", "approver", "viewer", "pm", "nobody"])
def test_only_erp_admins_manage_users(users_api: Any, aws: Any, who: str) -> None:
    before = aws.table_snapshot()
    response = users_api("put", "/users/mallory", who, {"erp_level": "admin"})
    assert response.status_code == 403
    assert "manage connector users" in body(response)["message"]
    assert users_api("get", "/users", who).status_code == 403
    assert aws.table_snapshot() == before


def test_bad_levels_are_400_and_self_demotion_is_409(users_api: Any, aws: Any) -> None:
    before = aws.table_snapshot()
    for payload, field in (({"erp_level": "owner"}, "erp_level"),
                           ({"erp_level": "admin", "tool_levels": {"payroll": "admin"}},
                            "tool_levels"),
                           ({}, "erp_level")):
        response = users_api("put", "/users/bob", "admin", payload)
        assert response.status_code == 400 and field in body(response)["message"]
    response = users_api("put", "/users/admin", "admin", {"erp_level": "standard"})
    assert response.status_code == 409 and "your own admin level" in body(response)["message"]
    assert aws.table_snapshot() == before


def test_cli_bootstraps_the_first_admin(aws: Any, capsys: pytest.CaptureFixture[str]) -> None:
    assert admin_cli(["put-user", "first-admin", "--erp", "admin", "--push",
                      "--tool", "commitments=admin", "--name", "First Admin"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["accounting_approver"] is True
    user = get_store().get_user(COMPANY_ID, "first-admin")
    assert user.erp_level is Level.ADMIN and user.tool_levels == {"commitments": Level.ADMIN}
    assert admin_cli(["list-users"]) == 0
    assert [u["subject"] for u in json.loads(capsys.readouterr().out)] == ["first-admin"]
    with pytest.raises(SystemExit):
        admin_cli(["put-user", "x", "--erp", "admin", "--tool", "payroll=admin"])
