"""Company settings are versioned: two admins saving at once never silently revert each
other (one wins, the other is answered 409 and reloads), against moto and through the API."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from chalicelib.adapters.store import ItemStore
from chalicelib.domain.permissions import Level, User
from chalicelib.errors import Conflict
from chalicelib.services.company_settings import CompanySettingsService
from chalicelib.services.erp_lists import ErpLists
from chalicelib.services.setup import SetupService
from tests.helpers import COMPANY_ID, body, seed_personas

ANN = User(subject="ann", company_id=COMPANY_ID, erp_level=Level.ADMIN)
BOB = User(subject="bob", company_id=COMPANY_ID, erp_level=Level.ADMIN)


@pytest.fixture
def store(aws: Any) -> ItemStore:
    return ItemStore(aws.table_name, aws.dynamodb)


# ---- the store ---------------------------------------------------------------------------
def test_settings_carry_a_version_and_a_stale_write_is_refused(store: ItemStore,
                                                               aws: Any) -> None:
    assert store.get_company_settings(COMPANY_ID)["version"] == 0
    assert store.put_company_settings(COMPANY_ID, {"advanced": {"vendor_name_max": 40}},
                                      expected_version=0, updated_by="ann",
                                      updated_at="2026-11-26T10:00:00.000Z") == 1
    saved = store.get_company_settings(COMPANY_ID)
    assert saved["version"] == 1 and saved["advanced"] == {"vendor_name_max": 40}
    before = aws.table_snapshot()
    with pytest.raises(Conflict) as refused:  # written against version 0, now 1
        store.put_company_settings(COMPANY_ID, {"advanced": {}}, expected_version=0,
                                   updated_by="bob", updated_at="2026-11-26T10:01:00.000Z")
    assert refused.value.message == (
        "the company settings were changed by ann at 2026-11-26T10:00:00.000Z (version 1) "
        "while you edited them; reload and apply your change again")
    assert refused.value.details["current_version"] == 1
    assert aws.table_snapshot() == before
    # What a reader got back (version included) can be written back as it is.
    assert store.put_company_settings(COMPANY_ID, {**saved, "direct_exports": True},
                                      expected_version=1, updated_by="bob") == 2
    again = store.get_company_settings(COMPANY_ID)
    assert again["version"] == 2 and again["updated_by"] == "bob"
    assert again["advanced"] == {"vendor_name_max": 40} and again["direct_exports"] is True


def test_settings_written_before_versions_count_as_version_0(store: ItemStore,
                                                              aws: Any) -> None:
    aws.dynamodb.put_item(TableName=aws.table_name, Item={
        "PK": {"S": f"COMPANY#{COMPANY_ID}"}, "SK": {"S": "SETTINGS"},
        "doc": {"S": json.dumps({"direct_exports": True})}})
    saved = store.get_company_settings(COMPANY_ID)
    assert saved["version"] == 0 and saved["direct_exports"] is True
    assert store.put_company_settings(COMPANY_ID, {**saved, "advanced": {}},
                                      expected_version=0) == 1
    with pytest.raises(Conflict):
        store.put_company_settings(COMPANY_ID, saved, expected_version=0)


# ---- two admins at once (services) ----------------------------------------------------------
class PausingStore:
    """The real store, except that ``meanwhile`` runs once just before the first settings
    write: both admins have read the same version before either writes."""

    def __init__(self, store: ItemStore, meanwhile: Callable[[], Any]) -> None:
        self._store = store
        self._meanwhile: Callable[[], Any] | None = meanwhile

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def put_company_settings(self, *args: Any, **kwargs: Any) -> int:
        if self._meanwhile is not None:
            meanwhile, self._meanwhile = self._meanwhile, None
            meanwhile()
        return self._store.put_company_settings(*args, **kwargs)


def settings_service(store: Any) -> CompanySettingsService:
    return CompanySettingsService(store, ErpLists(store, commands=None),  # type: ignore[arg-type]
                                  clock=lambda: "2026-11-26T10:00:00.000Z")


def test_two_admins_saving_at_once_one_wins_the_other_gets_409(store: ItemStore) -> None:
    bob = settings_service(store)
    ann = settings_service(PausingStore(store, lambda: bob.set_advanced(
        BOB, {"vendor_name_max": 30})))
    with pytest.raises(Conflict) as refused:
        ann.set_advanced(ANN, {"vendor_name_max": 40})
    assert refused.value.http_status == 409
    assert "changed by bob at 2026-11-26T10:00:00.000Z (version 1)" in refused.value.message
    kept = bob.get_for(COMPANY_ID)
    assert kept["advanced"] == {"vendor_name_max": 30} and kept["version"] == 1
    assert [h["by"] for h in kept["history"]] == ["bob"]


def test_default_cost_types_do_not_revert_a_concurrent_settings_save(store: ItemStore) -> None:
    store.put_erp_rows(COMPANY_ID, "cost_codes", [{"code": "3300.000", "name": "Concrete"}],
                       "run")
    bob = settings_service(store)

    def no_procore(_: int) -> Any:
        raise AssertionError("not needed")

    racing = PausingStore(store, lambda: bob.set_direct_exports(BOB, True))
    ann = SetupService(racing, ErpLists(racing, commands=None),  # type: ignore[arg-type]
                       no_procore)
    with pytest.raises(Conflict, match="changed by bob"):
        ann.set_default_cost_types(ANN, "3300.000", [1])
    kept = bob.get_for(COMPANY_ID)
    assert kept["direct_exports"] is True and kept["default_cost_types"] == {}
    # Reloaded, the change applies on top of bob's.
    answer = SetupService(store, ErpLists(store, commands=None),  # type: ignore[arg-type]
                          no_procore).set_default_cost_types(ANN, "3300.000", [1])
    assert answer["version"] == 2
    kept = bob.get_for(COMPANY_ID)
    assert kept["direct_exports"] is True and kept["default_cost_types"] == {"3300.000": [1]}


# ---- through the API -----------------------------------------------------------------------
@pytest.fixture
def call(aws: Any, chalice_client: Any, mint: Any) -> Callable[..., tuple[int, Any]]:
    seed_personas()

    def _call(method: str, path: str, who: str = "admin",
              payload: Any = None) -> tuple[int, Any]:
        response = getattr(chalice_client.http, method.lower())(
            path, body=json.dumps(payload) if payload is not None else None,
            headers={"Authorization": mint(who), "Content-Type": "application/json"})
        return response.status_code, body(response)

    return _call


def test_a_stale_version_answers_409_and_changes_nothing(call: Callable[..., Any],
                                                         aws: Any) -> None:
    status, settings = call("GET", "/settings", "viewer")
    assert status == 200 and settings["version"] == 0
    status, saved = call("PUT", "/settings/advanced", "admin",
                         {"vendor_name_max": 40, "version": 0})
    assert status == 200 and saved["version"] == 1
    assert saved["advanced"] == {"vendor_name_max": 40}  # the version is not a setting
    before = aws.table_snapshot()
    for path, payload in (("/settings/advanced", {"vendor_name_max": 30}),
                          ("/settings/sync-schedule", {"vendors": 15}),
                          ("/settings/direct-exports", {"enabled": True})):
        status, answer = call("PUT", path, "admin", {**payload, "version": 0})
        assert status == 409, (path, answer)
        assert answer["error"] == "conflict"
        assert "changed by admin" in answer["message"] and "(version 1)" in answer["message"]
        assert answer["details"]["current_version"] == 1
    assert aws.table_snapshot() == before
    _, settings = call("GET", "/settings", "viewer")
    assert settings["advanced"] == {"vendor_name_max": 40} and settings["version"] == 1
    assert settings["direct_exports"] is False


def test_saves_without_a_version_still_apply_and_count(call: Callable[..., Any]) -> None:
    status, saved = call("PUT", "/settings/sync-schedule", "admin", {"vendors": 15})
    assert status == 200 and saved["version"] == 1
    assert saved["sync_schedule"]["vendors"] == 15 and "version" not in saved["sync_schedule"]
    status, saved = call("PUT", "/settings/direct-exports", "admin",
                         {"enabled": True, "version": 1})
    assert status == 200 and saved["version"] == 2
    status, answer = call("PUT", "/settings/advanced", "admin", {"version": -1})
    assert status == 400 and "version" in answer["message"]


def test_default_cost_types_take_the_version_too(call: Callable[..., Any], aws: Any) -> None:
    ItemStore(aws.table_name, aws.dynamodb).put_erp_rows(
        COMPANY_ID, "cost_codes", [{"code": "3300.000", "name": "Concrete"}], "run")
    call("PUT", "/settings/direct-exports", "admin", {"enabled": True})
    before = aws.table_snapshot()
    status, answer = call("PUT", "/erp/cost-codes/3300.000/default-cost-types", "standard",
                          {"cost_types": [1], "version": 0})
    assert status == 409 and "(version 1)" in answer["message"]
    assert aws.table_snapshot() == before
    status, answer = call("PUT", "/erp/cost-codes/3300.000/default-cost-types", "standard",
                          {"cost_types": [1], "version": 1})
    assert status == 200 and answer == {"code": "3300.000", "cost_types": [1], "version": 2}
