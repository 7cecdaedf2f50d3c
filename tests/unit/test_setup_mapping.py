"""Procore projects and companies as Sage jobs and vendors: snapshots, reasons, payloads."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.domain.sage_mapping import MappingError
from chalicelib.domain.setup import (
    build_job_payload,
    build_vendor_payload,
    job_differences,
    project_reasons,
    project_snapshot,
    proposed_job_number,
    vendor_differences,
    vendor_reasons,
)
from chalicelib.domain.setup import vendor_snapshot as keyed_vendor_snapshot
from chalicelib.domain.tax_ids import fingerprint, protect_row
from chalicelib.relay_protocol import JobPayload, VendorPayload

LONG_COMPANY = "Northern California Electrical Contractors Incorporated"
KEY = "unit-test-tax-id-key"


def vendor_snapshot(vendor: dict[str, Any]) -> dict[str, Any]:
    return keyed_vendor_snapshot(vendor, KEY)


def project(**changes: Any) -> dict[str, Any]:
    base = {"id": 10, "name": "Riverside Medical Office Building", "project_number": "2024-001",
            "address": "100 Main St", "city": "Sacramento", "state_code": "CA", "zip": "95814",
            "active": True, "origin_id": None, "created_at": "2024-01-01T00:00:00Z",
            "updated_at": "2024-02-01T00:00:00Z", "company": {"id": 1}}
    base.update(changes)
    return base


def company(**changes: Any) -> dict[str, Any]:
    base = {"id": 20, "name": "Granite Bay Concrete", "abbreviated_name": "GBC",
            "address": "5 Quarry Rd", "city": "Granite Bay", "state_code": "CA", "zip": "95746",
            "is_active": True, "business_register": {"identifier": "12-3456789"},
            "origin_id": None, "updated_at": "2024-02-01T00:00:00Z"}
    base.update(changes)
    return base


# ---- proposed_job_number -------------------------------------------------------------------
@pytest.mark.parametrize(("number", "expected"), [
    ("2024-001", 2024001),
    ("24001", 24001),
    ("PRJ 17", 17),
    ("0042", 42),
    ("9999999999", 9_999_999_999),
    ("12345678901", None),  # 11 digits: beyond Sage's job numbers
    ("00012345678", 12345678),  # leading zeros are not digits of the number
    ("ABC", None),
    ("000", None),
    ("", None),
    (None, None),
])
def test_proposed_job_number(number: str | None, expected: int | None) -> None:
    assert proposed_job_number(number) == expected


@given(st.text())
def test_proposed_job_number_is_always_a_valid_job_or_none(number: str) -> None:
    proposed = proposed_job_number(number)
    assert proposed is None or 1 <= proposed <= 9_999_999_999


# ---- project_snapshot ----------------------------------------------------------------------
def test_project_snapshot_keeps_only_what_makes_the_job() -> None:
    assert project_snapshot(project()) == {
        "id": 10, "name": "Riverside Medical Office Building", "project_number": "2024-001",
        "address": "100 Main St", "city": "Sacramento", "state_code": "CA", "zip": "95814",
        "active": True, "origin_id": None, "proposed_job_number": 2024001,
    }


def test_project_snapshot_is_stable_across_timestamps_and_blank_values() -> None:
    first = project_snapshot(project(address="", city=None))
    second = project_snapshot(project(address="  ", city="", updated_at="2025-01-01T00:00:00Z"))
    assert first == second
    assert first["address"] is None and first["city"] is None


def test_project_snapshot_of_a_sparse_project() -> None:
    snap = project_snapshot({"id": 11, "active": False, "origin_id": 24001})
    assert snap["name"] == "" and snap["project_number"] is None
    assert snap["active"] is False and snap["origin_id"] == "24001"
    assert snap["proposed_job_number"] is None


# ---- project_reasons -----------------------------------------------------------------------
def test_a_complete_unlinked_project_is_ready() -> None:
    assert project_reasons(project_snapshot(project()), linked_job=None) == []


def test_already_linked_project() -> None:
    assert project_reasons(project_snapshot(project()), linked_job=24001) == [
        "Project is already linked to Sage job 24001; a job is created in one system and then "
        "added to the other, never twice."]


def test_project_without_a_name() -> None:
    (reason,) = project_reasons(project_snapshot(project(name="  ")), linked_job=None)
    assert reason == "The project has no name; Sage jobs need one (up to 75 characters)."


def test_project_name_too_long() -> None:
    name = "R" * 76
    (reason,) = project_reasons(project_snapshot(project(name=name)), linked_job=None)
    assert reason.startswith(f"Project name '{name}' is 76 characters; Sage 100 Contractor "
                             "jobs take at most 75.")
    assert project_reasons(project_snapshot(project(name="R" * 75)), linked_job=None) == []


@pytest.mark.parametrize(("field", "value", "start"), [
    ("state_code", "Calif", "State 'Calif' is 5 characters; Sage 100 Contractor takes a "
                            "2-letter state code."),
    ("zip", "95814-12345", "ZIP code '95814-12345' is 11 characters; Sage 100 Contractor "
                           "takes at most 10."),
    ("address", "A" * 51, f"Address '{'A' * 51}' is 51 characters; Sage 100 Contractor takes "
                          "at most 50."),
    ("city", "C" * 51, f"City '{'C' * 51}' is 51 characters; Sage 100 Contractor takes at "
                       "most 50."),
])
def test_project_address_beyond_sage_widths(field: str, value: str, start: str) -> None:
    (reason,) = project_reasons(project_snapshot(project(**{field: value})), linked_job=None)
    assert reason.startswith(start)
    assert reason.endswith("the project's address.")


def test_project_reasons_are_all_listed_together() -> None:
    snap = project_snapshot(project(name="", state_code="Calif", zip="1" * 11))
    assert len(project_reasons(snap, linked_job=24001)) == 4


# ---- build_job_payload ---------------------------------------------------------------------
def test_build_job_payload() -> None:
    payload = build_job_payload(project_snapshot(project()), 24001)
    assert payload == JobPayload(job=24001, name="Riverside Medical Office Building",
                                 short_name="Riverside Medical Office Build", address="100 Main St",
                                 city="Sacramento", state="CA", zip_code="95814")
    assert len(payload.short_name or "") == 30


def test_build_job_payload_short_name_is_the_whole_short_name() -> None:
    payload = build_job_payload(project_snapshot(project(name="Depot", address=None)), 1)
    assert (payload.short_name, payload.address, payload.status) == ("Depot", None, 4)


def test_short_name_does_not_end_in_a_space() -> None:
    payload = build_job_payload(project_snapshot(project(name="A" * 29 + " Tower")), 7)
    assert payload.short_name == "A" * 29


@pytest.mark.parametrize("number", [0, -1, 10_000_000_000, True, "24001", 2.5, None])
def test_build_job_payload_refuses_a_bad_job_number(number: Any) -> None:
    with pytest.raises(MappingError, match="Sage job numbers are whole numbers from 1 to "
                                           "9999999999"):
        build_job_payload(project_snapshot(project()), number)


def test_build_job_payload_accepts_the_largest_job_number() -> None:
    assert build_job_payload(project_snapshot(project()), 9_999_999_999).job == 9_999_999_999


def test_build_job_payload_refuses_what_sage_would_refuse() -> None:
    with pytest.raises(MappingError, match="is 76 characters"):
        build_job_payload(project_snapshot(project(name="R" * 76)), 24001)
    with pytest.raises(MappingError, match="no name"):
        build_job_payload(project_snapshot(project(name=None)), 24001)


# ---- vendor_snapshot -----------------------------------------------------------------------
def test_vendor_snapshot() -> None:
    assert vendor_snapshot(company()) == {
        "id": 20, "name": "Granite Bay Concrete", "abbreviated_name": "GBC",
        "address": "5 Quarry Rd", "city": "Granite Bay", "state_code": "CA", "zip": "95746",
        "is_active": True, "tax_id_last4": "6789",
        "tax_id_fingerprint": fingerprint("123456789", KEY), "tax_id_length": 10,
        "origin_id": None,
    }


def test_vendor_snapshot_keeps_no_clear_tax_id() -> None:
    snap = vendor_snapshot(company())
    assert "tax_id" not in snap and "3456789" not in repr(snap).replace("6789", "")
    # the fingerprint is keyed: another deployment's key gives another one
    assert keyed_vendor_snapshot(company(), "another key")["tax_id_fingerprint"] != \
        snap["tax_id_fingerprint"]


def test_vendor_snapshot_without_a_business_register() -> None:
    for register in (None, {"identifier": " "}):
        snap = vendor_snapshot(company(business_register=register))
        assert (snap["tax_id_last4"], snap["tax_id_fingerprint"], snap["tax_id_length"]) == (
            None, None, 0)


# ---- vendor_reasons ------------------------------------------------------------------------
def test_a_complete_unlinked_company_is_ready() -> None:
    assert vendor_reasons(vendor_snapshot(company()), linked_vendor=None) == []


def test_already_linked_company() -> None:
    (reason,) = vendor_reasons(vendor_snapshot(company()), linked_vendor=3001)
    assert reason.startswith("Company 'Granite Bay Concrete' is already linked to Sage vendor "
                             "3001;")


def test_company_without_a_name() -> None:
    (reason,) = vendor_reasons(vendor_snapshot(company(name="")), linked_vendor=None)
    assert reason == "The company has no name in the Directory; Sage vendors need one."


def test_company_name_too_long_for_procores_connector() -> None:
    (reason,) = vendor_reasons(vendor_snapshot(company(name=LONG_COMPANY)), linked_vendor=None)
    assert reason == (
        "Company name 'Northern California Electrical Contractors Incorporated' is 55 "
        "characters; Sage 100 Contractor vendors take at most 30 (Procore's connector refuses "
        "it too). Shorten it in the Directory or link it to an existing Sage vendor.")


def test_company_name_limit_can_be_raised() -> None:
    snap = vendor_snapshot(company(name=LONG_COMPANY))
    assert vendor_reasons(snap, linked_vendor=None, name_max=75) == []
    assert vendor_reasons(vendor_snapshot(company(name="N" * 30)), linked_vendor=None) == []


def test_inactive_company() -> None:
    (reason,) = vendor_reasons(vendor_snapshot(company(is_active=False)), linked_vendor=None)
    assert reason == ("Company 'Granite Bay Concrete' is inactive in the Directory; make it "
                      "active before sending it to Sage.")


@pytest.mark.parametrize(("field", "value", "start"), [
    ("state_code", "Calif", "State 'Calif' is 5 characters"),
    ("zip", "1" * 11, "ZIP code '11111111111' is 11 characters"),
    ("address", "A" * 51, "Address"),
    ("city", "C" * 51, "City"),
])
def test_company_address_beyond_sage_widths(field: str, value: str, start: str) -> None:
    (reason,) = vendor_reasons(vendor_snapshot(company(**{field: value})), linked_vendor=None)
    assert reason.startswith(start)
    assert reason.endswith("the company's Directory entry.")


def test_company_tax_id_too_long() -> None:
    snap = vendor_snapshot(company(business_register={"identifier": "1" * 21}))
    (reason,) = vendor_reasons(snap, linked_vendor=None)
    assert reason.startswith("Tax id •••••1111 is 21 characters")
    assert "1" * 5 not in reason


# ---- build_vendor_payload ------------------------------------------------------------------
def test_build_vendor_payload() -> None:
    payload = build_vendor_payload(vendor_snapshot(company()), 3001, tax_id="12-3456789")
    assert payload == VendorPayload(vendor=3001, name="Granite Bay Concrete", short_name="GBC",
                                    address="5 Quarry Rd", city="Granite Bay", state="CA",
                                    zip_code="95746", tax_id="12-3456789")


def test_build_vendor_payload_lets_sage_number_it() -> None:
    assert build_vendor_payload(vendor_snapshot(company()), None).vendor is None


def test_vendor_short_name_falls_back_to_the_name() -> None:
    snap = vendor_snapshot(company(name="Granite Bay Concrete Pumping", abbreviated_name=None))
    assert build_vendor_payload(snap, None).short_name == "Granite Bay Concrete Pumping"
    long_snap = vendor_snapshot(company(name=LONG_COMPANY, abbreviated_name=None))
    payload = build_vendor_payload(long_snap, None)
    assert payload.short_name == LONG_COMPANY[:30]


def test_vendor_short_name_is_cut_to_sage_width() -> None:
    snap = vendor_snapshot(company(abbreviated_name="G" * 40))
    assert build_vendor_payload(snap, None).short_name == "G" * 30


@pytest.mark.parametrize("number", [0, -3, True, "3001", 1.5])
def test_build_vendor_payload_refuses_a_bad_vendor_number(number: Any) -> None:
    with pytest.raises(MappingError, match="Sage vendor numbers are whole numbers"):
        build_vendor_payload(vendor_snapshot(company()), number)


def test_build_vendor_payload_refuses_what_sage_would_refuse() -> None:
    with pytest.raises(MappingError, match="is 76 characters; Sage 100 Contractor vendors "
                                           "take at most 75"):
        build_vendor_payload(vendor_snapshot(company(name="N" * 76)), None)
    with pytest.raises(MappingError, match="is 55 characters"):
        build_vendor_payload(vendor_snapshot(company(name=LONG_COMPANY)), None, name_max=30)
    with pytest.raises(MappingError, match="no name"):
        build_vendor_payload(vendor_snapshot(company(name=None)), None)
    with pytest.raises(MappingError, match="ZIP code"):
        build_vendor_payload(vendor_snapshot(company(zip="1" * 11)), None)


def test_the_30_character_policy_is_a_readiness_matter() -> None:
    snap = vendor_snapshot(company(name=LONG_COMPANY))
    assert vendor_reasons(snap, linked_vendor=None)
    assert build_vendor_payload(snap, 3001).name == LONG_COMPANY


def test_inactive_is_a_readiness_matter_not_a_payload_one() -> None:
    assert build_vendor_payload(vendor_snapshot(company(is_active=False)), 3001).vendor == 3001


# ---- link previews -------------------------------------------------------------------------
def sage_job(**changes: Any) -> dict[str, Any]:
    base = {"job": 2024001, "name": "Riverside Medical Office Building",
            "short_name": "Riverside Medical Office Build", "status": 4,
            "address": "100 Main St", "city": "Sacramento", "state": "CA", "zip_code": "95814"}
    base.update(changes)
    return base


def test_job_differences_none_when_they_agree() -> None:
    snap = project_snapshot(project())
    assert job_differences(snap, sage_job()) == []
    assert job_differences(snap, sage_job(name="RIVERSIDE  medical office building ",
                                          city="sacramento")) == []


def test_job_differences_report_originals() -> None:
    snap = project_snapshot(project(city=None))
    differences = job_differences(snap, sage_job(name="Riverside MOB", job=24001,
                                                 address="100 Main Street", city="Sacto",
                                                 state="NV", zip_code="95814-0001"))
    assert differences == [
        {"field": "name", "procore": "Riverside Medical Office Building",
         "sage": "Riverside MOB"},
        {"field": "number", "procore": "2024-001", "sage": 24001},
        {"field": "address", "procore": "100 Main St", "sage": "100 Main Street"},
        {"field": "city", "procore": None, "sage": "Sacto"},
        {"field": "state", "procore": "CA", "sage": "NV"},
        {"field": "zip", "procore": "95814", "sage": "95814-0001"},
    ]


def test_job_number_matches_by_digits_or_text() -> None:
    assert job_differences(project_snapshot(project(project_number="24001")),
                           sage_job(job=24001)) == []
    assert job_differences(project_snapshot(project(project_number=None)),
                           sage_job(job=None)) == []
    assert job_differences(project_snapshot(project(project_number=None)),
                           sage_job(job=24001)) == [
        {"field": "number", "procore": None, "sage": 24001}]


def test_blank_and_missing_are_the_same() -> None:
    snap = project_snapshot(project(address=None))
    assert job_differences(snap, sage_job(address="")) == []


def sage_vendor(**changes: Any) -> dict[str, Any]:
    """A Sage row as the list cache keeps it (the tax id protected)."""
    base = {"vendor": 3001, "name": "GRANITE BAY CONCRETE", "short_name": "gbc",
            "inactive": False, "tax_id": "123456789", "address": "5 Quarry Rd",
            "city": "Granite Bay", "state": "CA", "zip_code": "95746"}
    base.update(changes)
    return protect_row(base, KEY)


def test_vendor_differences_none_when_they_agree() -> None:
    assert vendor_differences(vendor_snapshot(company()), sage_vendor()) == []


def test_vendor_differences_report_originals() -> None:
    differences = vendor_differences(
        vendor_snapshot(company()),
        sage_vendor(name="Granite Bay Concrete Inc", short_name="GRANITE", tax_id="98-7654321",
                    address="PO Box 5", city="Roseville", state="NV", zip_code="95661",
                    inactive=True))
    assert differences == [
        {"field": "name", "procore": "Granite Bay Concrete", "sage": "Granite Bay Concrete Inc"},
        {"field": "short_name", "procore": "GBC", "sage": "GRANITE"},
        {"field": "tax_id", "procore": "•••••6789", "sage": "•••••4321"},
        {"field": "address", "procore": "5 Quarry Rd", "sage": "PO Box 5"},
        {"field": "city", "procore": "Granite Bay", "sage": "Roseville"},
        {"field": "state", "procore": "CA", "sage": "NV"},
        {"field": "zip", "procore": "95746", "sage": "95661"},
        {"field": "active", "procore": True, "sage": False},
    ]


def test_vendor_tax_id_missing_on_one_side_is_a_difference() -> None:
    snap = vendor_snapshot(company(business_register=None))
    assert vendor_differences(snap, sage_vendor()) == [
        {"field": "tax_id", "procore": None, "sage": "•••••6789"}]


def test_vendor_short_name_compared_only_when_procore_has_one() -> None:
    snap = vendor_snapshot(company(abbreviated_name=None))
    assert vendor_differences(snap, sage_vendor(short_name="ANYTHING")) == []


def test_vendor_active_compared_only_when_sage_says() -> None:
    row = sage_vendor()
    del row["inactive"]
    assert vendor_differences(vendor_snapshot(company(is_active=False)), row) == []
