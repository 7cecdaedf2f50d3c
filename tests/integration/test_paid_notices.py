"""Paid invoice notices: once per payment, even when the marker was lost after the POST."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from chalicelib.domain.models import Link
from chalicelib.services.paid_notices import PaidInvoiceNotices
from chalicelib.wiring import get_item_service, get_store
from tests.helpers import COMPANY_ID

PAYMENT = {"payment": "0E984725-C51C-4BF4-9960-E1C80E27ABA0", "invoice": 7,
           "invoice_number": "GB-1001", "vendor": 3001, "job": 24001, "check_number": "10452",
           "date": "2026-12-04", "amount": "11250.45", "invoice_status": 4,
           "invoice_balance": "0.00"}


class FakeProcore:
    def __init__(self) -> None:
        self.payments: list[dict[str, Any]] = []
        self.posts = 0

    def get_all(self, path: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        assert path == "/rest/v1.0/contract_payments"
        return [p for p in self.payments if p["contract_id"] == params["contract_id"]]

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        self.posts += 1
        record = {**body["contract_payment"], "contract_id": body["contract_id"]}
        self.payments.append(record)
        return record


def exported_invoice() -> None:
    get_item_service().observe(company_id=COMPANY_ID, kind="subcontractor_invoice",
                               procore_id=77, project_id=5, subtype=None,
                               snapshot={"commitment_id": 900, "invoice_number": "GB-1001"},
                               reasons=[], actor="seed")
    get_store().put_link(Link(company_id=COMPANY_ID, kind="subcontractor_invoice",
                              procore_id=77, sage_key="acpinv:7"))


def test_a_payment_reaches_procore_once_even_when_its_marker_was_lost(aws: Any) -> None:
    exported_invoice()
    store = get_store()
    store.put_erp_rows(COMPANY_ID, "payments", [PAYMENT, {**PAYMENT, "payment": "other",
                                                          "invoice": 8}], "run1")
    procore = FakeProcore()
    notices = PaidInvoiceNotices(store, lambda _: procore)
    first = notices.report(COMPANY_ID)
    assert (first.reported, first.not_ours) == (1, 1)
    assert procore.payments == [{"date": "2026-12-04", "amount": Decimal("11250.45"),
                                 "check_number": "10452", "payment_method": "check",
                                 "requisition_id": 77, "origin_id": f"acppmt:{PAYMENT['payment']}",
                                 "contract_id": 900}]
    assert notices.report(COMPANY_ID).already == 2  # the markers: no Procore call at all

    # A crash after the POST, before the marker: Procore's list says it is there already.
    marker = f"paid:{PAYMENT['payment']}"
    store._call("delete_item", TableName=store.table_name, Key={  # the marker never written
        "PK": {"S": f"EVENT#{COMPANY_ID}#{marker}"}, "SK": {"S": "EVENT"}})
    again = notices.report(COMPANY_ID)
    assert (again.already, procore.posts) == (2, 1)
