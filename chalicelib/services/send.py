"""A tool admin's "send to ERP": evaluate the record now, as a webhook would."""

from __future__ import annotations

from chalicelib.domain.commitments import KIND_FOR_SUBTYPE
from chalicelib.domain.models import Item, make_item_id
from chalicelib.domain.permissions import Permission, User, require
from chalicelib.requests import SendBody
from chalicelib.services.intake import COMMITMENT, IntakeService
from chalicelib.services.items import ItemService


def send(user: User, body: SendBody, intake: IntakeService, items: ItemService) -> Item:
    """Commitments, companies and budgets are sent by admins of their Procore tool; a
    project by ERP standard or admin ("Add a Procore project to the ERP")."""
    if body.kind == "budget":
        # "Send a budget to ERP Integrations": admin on the project's Budget tool.
        require(user, Permission.SEND_RETRIEVE_RESEND, "budget")
        project_id = int(body.project_id or 0)
        item = intake.budgets.evaluate(user.company_id, project_id, actor=user.subject)
        return item or items.get(user.company_id, make_item_id("budget", project_id))
    procore_id = int(body.procore_id or 0)  # the model requires it for the other kinds
    if body.kind == "subcontractor_invoice":
        # "Send a subcontractor invoice": admin on the Invoicing tool (invoice administrator).
        require(user, Permission.SEND_RETRIEVE_RESEND, "subcontractor_invoice")
        item = intake.invoices.evaluate(user.company_id, int(body.project_id or 0),
                                        procore_id, actor=user.subject)
        return item or items.get(user.company_id,
                                 make_item_id("subcontractor_invoice", procore_id))
    if body.kind in ("cost_code", "sub_job"):
        # Admin on the Procore tool holding the record (TOOL_FOR_KIND: Projects).
        require(user, Permission.SEND_RETRIEVE_RESEND, body.kind)
        item = intake.setup_exports.evaluate(user.company_id, body.kind,
                                             int(body.project_id or 0), procore_id,
                                             actor=user.subject)
        return item or items.get(user.company_id, make_item_id(body.kind, procore_id))
    if body.kind == "owner_invoice":
        # "Send an owner invoice": admin on the Invoicing tool (TOOL_FOR_KIND).
        require(user, Permission.SEND_RETRIEVE_RESEND, "owner_invoice")
        item = intake.owner_invoices.evaluate(user.company_id, int(body.project_id or 0),
                                              procore_id, actor=user.subject)
        return item or items.get(user.company_id, make_item_id("owner_invoice", procore_id))
    if body.kind == "pcco":
        # A prime contract change order: admin on the Change Orders tool (TOOL_FOR_KIND).
        require(user, Permission.SEND_RETRIEVE_RESEND, "pcco")
        item = intake.pccos.evaluate(user.company_id, int(body.project_id or 0), procore_id,
                                     actor=user.subject)
        return item or items.get(user.company_id, make_item_id("pcco", procore_id))
    if body.kind == "cco":
        require(user, Permission.SEND_RETRIEVE_RESEND, "cco")
        item = intake.ccos.evaluate(user.company_id, int(body.project_id or 0), procore_id,
                                    actor=user.subject)
        return item or items.get(user.company_id, make_item_id("cco", procore_id))
    if body.kind == "project":
        require(user, Permission.ADD_PROJECT_TO_ERP)
        item = intake.evaluate_project(user.company_id, procore_id, actor=user.subject)
    elif body.kind == "vendor":
        require(user, Permission.SEND_RETRIEVE_RESEND, "vendor")
        item = intake.evaluate_vendor(user.company_id, procore_id, actor=user.subject)
    else:
        require(user, Permission.SEND_RETRIEVE_RESEND, body.kind)
        item = intake.evaluate_commitment(
            user.company_id, KIND_FOR_SUBTYPE[body.commitment_type],  # type: ignore[arg-type,index]
            procore_id, body.project_id, actor=user.subject)
    # None: nothing changed since the last evaluation; answer with what is stored.
    kind = COMMITMENT if body.kind == "commitment" else body.kind
    return item or items.get(user.company_id, make_item_id(kind, procore_id))
