"""The owner side of the demo data: a prime contract with its schedule of values on the main
project, an approved prime contract change order (PCCO) and an approved owner invoice.

Opt-in (``seed_demo(owner_side=True)``, ``POST /_sandbox/seed {"owner_side": true}``): the
default demo set stays as existing tests pin it. Like the ``add_*`` helpers it fires no
webhooks (the records are there before the connector's hook is): the events its writes
record are dropped again.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from devstack.procore_sandbox.webhook_payloads import WEB_APPLICATION_ID, WEB_USER_ID, _Outgoing

if TYPE_CHECKING:
    from devstack.procore_sandbox.server import ProcoreSandbox

#: (cost code, cost type code, description, amount) of the prime contract's lines
PRIME_LINES = (
    ("01-100", "O", "General Conditions", "180000.00"),
    ("03-300", "S", "Cast-in-Place Concrete", "420000.00"),
    ("26-000", "S", "Electrical", "350000.00"),
)
PRIME_RETAINAGE = "10.00"
PCCO_LINE = ("03-300", "S", "Added footing at grid C-4", "12500.00")
#: work completed this period per prime line (the first invoice)
INVOICE_WORK = ("36000.00", "84000.00", "0.00")


def seed_owner_side(sandbox: ProcoreSandbox, seeded: dict[str, Any]) -> dict[str, Any]:
    """Write the owner side on ``seeded``'s main project; returns its ids."""
    from devstack.procore_sandbox.state import Actor

    actor = Actor(WEB_APPLICATION_ID, WEB_USER_ID)
    pid = seeded["project_ids"]["main"]
    codes = seeded["cost_code_ids"]["main"]
    types = seeded["line_item_type_ids"]
    out: list[_Outgoing] = []  # never delivered
    with sandbox.state.lock:
        recorded = len(sandbox.events)
        contract = sandbox._create_prime_contract(pid, {
            "title": "Riverside Medical Office Building - Owner Contract",
            "status": "Approved", "executed": True, "retainage_percent": PRIME_RETAINAGE,
            "contract_date": "2024-03-01", "description": "Lump sum, AIA A101",
        }, actor, out)
        lines = [
            sandbox._create_prime_line(contract, {
                "cost_code_id": codes[code], "line_item_type_id": types[kind],
                "description": text, "amount": amount}, actor, out)["id"]
            for code, kind, text, amount in PRIME_LINES
        ]
        code, kind, text, amount = PCCO_LINE
        pcco = sandbox._create_pcco(pid, {"contract_id": contract["id"], "title": text,
                                          "status": "approved"}, actor, out)
        wbs = sandbox._wbs_code_id(sandbox.state.cost_codes[pid][codes[code]], types[kind])
        sandbox._write_pcco_line(pcco, {"wbs_code_id": str(wbs), "description": text,
                                        "amount": amount, "prime_line_item_id": str(lines[1])},
                                 None, actor, out, locked_ok=True)
        invoice = sandbox._create_pay_app(contract, {"payment_application": {
            "invoice_number": "OI-001", "billing_date": "2024-04-30",
            "period_start": "2024-04-01", "period_end": "2024-04-30", "status": "approved",
        }}, actor, out, {line: Decimal(work) for line, work in zip(lines, INVOICE_WORK,
                                                                     strict=True)})
        del sandbox.events[recorded:]
    return {
        "prime_contract_id": contract["id"], "prime_line_ids": lines,
        "pcco_id": pcco["id"], "payment_application_id": invoice["id"],
    }
