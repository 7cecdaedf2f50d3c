"""The sandbox's contract payments over real loopback HTTP: the documented shape, the
``Contract Payments`` webhook and the ERP origin lock.

Shapes: ``procore-spec/openapi/RestV10ContractPayments*.json``. Choices: docs/decisions.md
("Sandbox subcontractor invoices ...").
"""

from __future__ import annotations

from typing import Any

from devstack.procore_sandbox import CONTRACT_PAYMENTS_RESOURCE, ProcoreSandbox
from tests.contract.shapes import (  # noqa: F401 - token_fixture registers the fixture
    DATE,
    DATETIME,
    DECIMAL,
    INT,
    OBJECT,
    STR,
    assert_shape,
    call,
    token_fixture,
)
from tests.contract.test_sandbox_budgets import _events
from tests.contract.test_sandbox_requisitions import setup
from tests.fixtures_sandbox import (  # noqa: F401 - the *_fixture imports register fixtures
    demo_fixture,
    sandbox_fixture,
)

# openapi/RestV10ContractPayments{Get,IdGet,Post,IdPatch}.json
PAYMENT = {
    "id": INT, "amount": DECIMAL, "check_number": STR, "contract_id": INT,
    "created_at": DATETIME, "updated_at": DATETIME, "date": DATE,
    "date_payment_settled": DATETIME, "date_payment_initiated": DATETIME,
    "draw_request_number": INT, "external_payment_id": STR, "invoice_number": STR,
    "notes": STR, "payment_number": INT, "attachments": [OBJECT], "project_id": INT,
    "requisition_id": INT, "origin_id": STR, "origin_code": STR, "origin_data": STR,
    "status": STR,
}
NEVER_NULL = frozenset({"id", "amount", "contract_id", "project_id", "date", "payment_number"})


def _invoice(sandbox: ProcoreSandbox, demo: dict[str, Any]) -> tuple[int, int, int]:
    pid, wo, lines, period = setup(sandbox, demo)
    invoice = sandbox.create_requisition(pid, wo["id"], period_id=period, invoice_number="7",
                                         billing_date="2026-01-31",
                                         items={lines[0]["id"]: ("4000", "400")})
    return pid, wo["id"], invoice["id"]


def test_payments_answer_the_documented_shape_and_fire_webhooks(
    sandbox: ProcoreSandbox, demo: dict[str, Any], token: str
) -> None:
    pid, cid, rid = _invoice(sandbox, demo)
    made = call(sandbox, token, "POST", "/rest/v1.0/contract_payments", {
        "project_id": pid, "contract_id": cid, "contract_payment": {
            "date": "2026-02-15", "amount": "3600.00", "check_number": "10442",
            "payment_method": "check", "requisition_id": rid}})
    assert made.status == 201, made.body
    assert_shape(made.body, PAYMENT, "POST contract_payments", never_null=NEVER_NULL)
    assert (made.body["amount"], made.body["payment_number"], made.body["requisition_id"]) == (
        "3600.00", 1, rid)
    pay = made.body["id"]
    one = f"/rest/v1.0/contract_payments/{pay}?project_id={pid}&contract_id={cid}"
    shown = call(sandbox, token, "GET", one)
    assert shown.status == 200 and shown.body == made.body
    listed = call(sandbox, token, "GET",
                  f"/rest/v1.0/contract_payments?project_id={pid}&contract_id={cid}")
    assert_shape(listed.body, [PAYMENT], "GET contract_payments", never_null=NEVER_NULL)
    assert listed.headers["Total"] == "1"
    patched = call(sandbox, token, "PATCH", f"/rest/v1.0/contract_payments/{pay}", {
        "project_id": pid, "contract_id": cid, "contract_payment": {"amount": 3599.5}})
    assert patched.status == 200 and patched.body["amount"] == "3599.50"
    gone = call(sandbox, token, "DELETE", one)
    assert (gone.status, gone.body) == (200, None)
    assert _events(sandbox, CONTRACT_PAYMENTS_RESOURCE) == [
        ("create", pay, pid), ("update", pay, pid), ("delete", pay, pid)]
    assert call(sandbox, token, "GET", one).status == 404


def test_payment_refusals(sandbox: ProcoreSandbox, demo: dict[str, Any], token: str) -> None:
    pid, cid, _ = _invoice(sandbox, demo)

    def post(contract: Any = cid, **fields: Any) -> Any:
        return call(sandbox, token, "POST", "/rest/v1.0/contract_payments", {
            "project_id": pid, "contract_id": contract, "contract_payment": fields})

    assert set(post().body["errors"]) == {"amount", "date"}
    assert "amount" in post(date="2026-02-15", amount="0").body["errors"]
    assert "amount" in post(date="2026-02-15", amount="1.001").body["errors"]
    assert "payment_method" in post(date="2026-02-15", amount="1",
                                    payment_method="cash").body["errors"]
    assert "contract" in post(contract=999999, date="2026-02-15", amount="1").body["errors"]
    assert "requisition" in post(date="2026-02-15", amount="1",
                                 requisition_id=999999).body["errors"]
    assert "status" in post(date="2026-02-15", amount="1", status="paid").body["errors"]
    assert post(date="2026-02-15", amount="1").status == 201
    assert "payment_number" in post(date="2026-02-15", amount="1",
                                    payment_number=1).body["errors"]
    assert call(sandbox, token, "GET",
                f"/rest/v1.0/contract_payments?project_id={pid}").status == 400


def test_origin_id_locks_the_payment(sandbox: ProcoreSandbox, demo: dict[str, Any],
                                     token: str) -> None:
    pid, cid, rid = _invoice(sandbox, demo)
    pay = call(sandbox, token, "POST", "/rest/v1.0/contract_payments", {
        "project_id": pid, "contract_id": cid, "contract_payment": {
            "date": "2026-02-15", "amount": "100", "requisition_id": rid,
            "origin_id": "CHK-1"}}).body["id"]
    path = f"/rest/v1.0/contract_payments/{pay}"
    locked = call(sandbox, token, "PATCH", path, {
        "project_id": pid, "contract_id": cid, "contract_payment": {"amount": "200"}})
    assert locked.status == 422 and "base" in locked.body["errors"]
    origin = call(sandbox, token, "PATCH", path, {
        "project_id": pid, "contract_id": cid,
        "contract_payment": {"origin_id": "CHK-1b", "origin_data": "sage"}})
    assert origin.status == 200 and origin.body["origin_id"] == "CHK-1b"
    assert call(sandbox, token, "DELETE",
                f"{path}?project_id={pid}&contract_id={cid}").status == 400
    # the invoice a payment names can't be deleted
    assert call(sandbox, token, "DELETE",
                f"/rest/v1.0/requisitions/{rid}?project_id={pid}").status == 422
