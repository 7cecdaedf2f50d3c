"""Owner invoices, pure: the snapshot from a payment application and its prime contract,
readiness reasons, and the Sage AR command the kind builds."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from chalicelib.domain import owner_invoices
from chalicelib.domain.models import Item, Link
from chalicelib.domain.sage_mapping import MappingError
from chalicelib.domain.state_machine import Status
from chalicelib.kinds import ExportContext, kind_module
from chalicelib.relay_protocol import CommandType

PROJECT = Link(company_id=1, kind="project", procore_id=7, sage_key="24001")
CONTRACT = Link(company_id=1, kind="prime_contract", procore_id=40, sage_key="24001")
RULE = "division-dash-code"
KNOWN = {"1100.000", "3300.000", "26000.000"}


def line(code: str, text: str = "Work") -> dict[str, Any]:
    return {"id": hash(code) % 1000, "description": text, "cost_code": {"full_code": code}}


def contract(*codes: str) -> dict[str, Any]:
    return {"id": 40, "title": "Owner Contract", "line_items": [line(c) for c in codes]}


def pay_app(**extra: Any) -> dict[str, Any]:
    return {"id": 90, "number": 1, "invoice_number": "OI-001", "status": "approved",
            "billing_date": "2026-11-30", "period_start": "2026-11-01",
            "period_end": "2026-11-30", "total_amount_accrued_this_period": "120000.00",
            "g702": {"current_payment_due": "108000.00",
                     "completed_work_retainage_percent": "10.00"},
            "contract": {"id": 40, "title": "Owner Contract"}, "origin_id": None, **extra}


def snap(app: dict[str, Any] | None = None, prime: dict[str, Any] | None = None,
         billing_code: str | None = None) -> dict[str, Any]:
    return owner_invoices.build_snapshot(
        app or pay_app(), prime if prime is not None else contract("03-300"),
        project_id=7, rule=RULE, billing_code=billing_code, known=KNOWN)


def reasons(s: dict[str, Any], project: Link | None = PROJECT,
            linked: Link | None = CONTRACT, found: bool = True) -> list[str]:
    return owner_invoices.readiness_reasons(s, owner_invoices.ReadinessContext(
        project_link=project, contract_link=linked, contract_found=found))


def test_amounts_are_the_g702s_this_period_exactly_and_the_code_is_the_contracts() -> None:
    s = snap(pay_app(total_amount_accrued_this_period="12500.01",
                     g702={"current_payment_due": "11250.00"}))
    assert (s["amount"], s["retention"], s["net_due"]) == ("12500.01", "1250.01", "11250.00")
    assert s["cost_code"] == "3300.000" and s["cost_code_source"] == "prime contract"
    assert reasons(s) == []


def test_ready_needs_approval_links_number_date_and_amounts() -> None:
    s = snap(pay_app(status="under_review", invoice_number="", billing_date=None,
                     total_amount_accrued_this_period="0.00",
                     g702={"current_payment_due": "0.00"}))
    found = reasons(s, project=None, linked=None)
    assert any("under_review" in r for r in found)
    assert any("Project 7 is not linked" in r for r in found)
    assert any("Prime contract 'Owner Contract' (40)" in r and "import it" in r for r in found)
    assert any("no invoice number" in r for r in found)
    assert any("no billing date" in r for r in found)
    assert any("bills 0.00" in r for r in found)


def test_an_invoice_number_longer_than_sages_column_is_named() -> None:
    found = reasons(snap(pay_app(invoice_number="OI-" + "9" * 20)))
    assert found == ["Invoice number 'OI-99999999999999999999' is 23 characters; Sage takes "
                     "at most 20 (acrinv.invnum)."]


def test_a_contract_on_several_codes_needs_the_companys_billing_code() -> None:
    several = contract("01-100", "03-300")
    found = reasons(snap(prime=several))
    assert len(found) == 1 and "1100.000, 3300.000" in found[0]
    assert "owner invoice cost code" in found[0]
    chosen = snap(prime=several, billing_code="1100")
    assert chosen["cost_code"] == "1100.000" and reasons(chosen) == []


def test_a_contract_line_that_does_not_map_is_named_never_guessed() -> None:
    found = reasons(snap(prime=contract("99-999")))
    assert len(found) == 1 and "99-999" in found[0] and "9999.000" in found[0]


def test_an_unreadable_contract_and_a_retention_above_the_amount() -> None:
    s = snap(pay_app(g702={"current_payment_due": "-5.00"}), prime={})
    found = reasons(s, found=False)
    assert any("could not be read" in r for r in found)
    assert any("retention 120005.00" in r for r in found)


def item(s: dict[str, Any]) -> Item:
    return Item(company_id=1, kind="owner_invoice", procore_id=90, project_id=7,
                status=Status.ACCEPTED, snapshot=s, command_id="cmd-1", number="OI-001")


def test_the_command_is_one_ar_line_with_procores_retention() -> None:
    module = kind_module("owner_invoice")
    assert module is not None
    command = module.build_command(item(snap()), version=3, issued_at="2026-12-01T00:00:00Z",
                                   ctx=ExportContext(project_link=PROJECT, cost_types={}))
    assert command.type is CommandType.ADD_RECEIVABLE_INVOICE
    payload = command.typed_payload()
    assert (payload.job, payload.invoice_number, str(payload.invoice_date)) == (
        24001, "OI-001", "2026-11-30")
    assert payload.description == "Owner Contract pay app 1"
    [ar] = payload.lines
    assert (ar.cost_code, ar.amount, ar.retention) == ("3300.000", Decimal("120000.00"),
                                                       Decimal("12000.00"))
    assert module.sage_identity(item(snap()), {"acrinv": "5", "invnum": "OI-001"}) == (
        "acrinv:5", "OI-001")


def test_the_command_refuses_an_unlinked_project() -> None:
    module = kind_module("owner_invoice")
    assert module is not None
    with pytest.raises(MappingError, match="no longer linked"):
        module.build_command(item(snap()), version=1, issued_at="x",
                             ctx=ExportContext(project_link=None, cost_types={}))


def test_a_prime_contract_linked_to_another_job_than_the_project_is_a_reason() -> None:
    other = Link(company_id=1, kind="prime_contract", procore_id=40, sage_key="24002")
    assert reasons(snap(), linked=other) == [
        "Prime contract 'Owner Contract' (40) is linked to Sage job 24002, but project 7 is "
        "linked to Sage job 24001: fix the links before exporting."]
