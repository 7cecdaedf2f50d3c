"""Which Sage job cost rows become Procore direct costs, and how (domain/job_costs)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from chalicelib.domain import job_costs
from chalicelib.domain.job_costs import CodeMap

CODES = CodeMap(cost_codes={("3300.000", None): 501, ("3300.000", 2): 502},
                cost_types={1: 11, 2: 12}, vendors={3001: 9001})


def row(**fields: Any) -> dict[str, Any]:
    base = {"record": 88, "job": 24001, "phase": None, "cost_code": "3300.000",
            "cost_type": 1, "amount": "1250.10", "hours": "0.00", "date": "2026-11-02",
            "description": "Rebar delivery", "transaction": "JE-17", "source": 1,
            "journal": "General Journal", "vendor": None, "employee": None,
            "equipment": None, "status": 1, "commitment": None}
    return {**base, **fields}


@pytest.mark.parametrize(("journal", "kind"), [("General Journal", "expense"),
                                                ("Payroll", "payroll"),
                                                ("ACCOUNTS PAYABLE", "invoice")])
def test_the_three_journals_procore_imports_become_their_direct_cost_types(
        journal: str, kind: str) -> None:
    decision = job_costs.decide(row(journal=journal, vendor=3001), CODES, known=False)
    assert decision.synced
    assert decision.header is not None and decision.line is not None
    assert decision.header["direct_cost_type"] == kind
    assert decision.header["origin_id"] == "jobcst:88"
    assert decision.line == {"origin_id": "jobcst:88:line", "cost_code_id": 501,
                             "line_item_type_id": 11, "amount": Decimal("1250.10"),
                             "description": "Rebar delivery"}
    if kind == "invoice":
        assert (decision.header["vendor_id"], decision.header["invoice_number"]) == (
            9001, "JE-17")


def test_a_known_direct_cost_is_updated_without_its_create_only_type() -> None:
    decision = job_costs.decide(row(), CODES, known=True)
    assert decision.header is not None and "direct_cost_type" not in decision.header


def test_an_ap_row_of_a_commitment_is_the_commitments_cost_not_a_direct_cost() -> None:
    decision = job_costs.decide(row(journal="Accounts Payable", vendor=3001,
                                    commitment="SC-001", transaction="GB-1001"),
                                CODES, known=False)
    assert not decision.synced
    assert decision.code == job_costs.COMMITMENT_COST
    assert "SC-001" in (decision.reason or "") and "GB-1001" in (decision.reason or "")


@pytest.mark.parametrize(("fields", "code", "words"), [
    ({"journal": "Equipment"}, job_costs.JOURNAL_NOT_SYNCED, "Equipment journal"),
    ({"journal": ""}, job_costs.JOURNAL_NOT_SYNCED, "journal 1"),
    ({"cost_code": "9999.000"}, job_costs.NO_COST_CODE, "cost code 9999.000"),
    ({"phase": 7}, job_costs.NO_COST_CODE, "(phase 7)"),
    ({"cost_type": 5}, job_costs.NO_COST_TYPE, "cost type 5"),
    ({"journal": "Accounts Payable", "vendor": 4444}, job_costs.VENDOR_NOT_LINKED,
     "vendor 4444"),
    ({"date": None}, job_costs.NO_DATE, "no transaction date"),
])
def test_a_row_without_an_exact_counterpart_is_unsyncable_naming_it(
        fields: dict[str, Any], code: str, words: str) -> None:
    decision = job_costs.decide(row(**fields), CODES, known=False)
    assert (decision.synced, decision.code) == (False, code)
    assert words in (decision.reason or "") and "88" in (decision.reason or "")


def test_a_phase_row_maps_through_its_sub_job_cost_code() -> None:
    decision = job_costs.decide(row(phase=2), CODES, known=False)
    assert decision.line is not None and decision.line["cost_code_id"] == 502


def test_a_void_row_zeroes_its_line_and_says_so() -> None:
    decision = job_costs.decide(row(status=2), CODES, known=True)
    assert decision.line is not None and decision.header is not None
    assert decision.line["amount"] == Decimal("0.00")
    assert decision.header["description"].startswith(job_costs.VOID_MARK)


def test_a_void_of_a_row_never_sent_sends_nothing() -> None:
    decision = job_costs.decide(row(status=2), CODES, known=False)
    assert (decision.synced, decision.code) == (False, "void_never_sent")


def test_amounts_stay_exact_and_floats_are_refused() -> None:
    decision = job_costs.decide(row(amount="0.10"), CODES, known=False)
    assert decision.line is not None and decision.line["amount"] == Decimal("0.10")
    for bad in (0.1, "12.345", "NaN", "twelve", None, True):
        refused = job_costs.decide(row(amount=bad), CODES, known=False)
        assert (refused.synced, refused.code) == (False, job_costs.INVALID_AMOUNT), bad


def test_origin_ids_name_the_sage_record() -> None:
    assert job_costs.record_of("jobcst:88") == 88
    assert job_costs.record_of("jobcst:88:line") == 88
    assert job_costs.record_of("acpinv:7") is None
    assert job_costs.record_of(None) is None


def test_the_ledger_keeps_what_the_reports_need() -> None:
    synced = job_costs.decide(row(), CODES, known=False)
    assert job_costs.ledger_entry(synced, 7001)["direct_cost_id"] == 7001
    refused = job_costs.decide(row(cost_type=5), CODES, known=False)
    entry = job_costs.ledger_entry(refused, None)
    assert entry["unsyncable"] == job_costs.NO_COST_TYPE
    assert (entry["amount"], entry["cost_code"], entry["cost_type"]) == ("1250.10",
                                                                        "3300.000", 5)
