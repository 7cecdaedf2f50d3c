"""The sandbox's commitments, line items and cost codes against Procore's documented shapes.

Every answer of the endpoints in ``devstack/procore_sandbox/resources/commitments.py`` and
``resources/cost_codes.py`` is checked over real loopback HTTP: exactly the documented keys,
each value of the documented type (or null: Procore's schemas mark nothing nullable, yet
it sends null for what is not set), nested objects and arrays alike. The connector's
request bodies for these endpoints are checked against the documented request schemas:
only documented keys, documented types, required keys present.

The expected shapes are written here, copied from the Procore API reference excerpts kept
outside the repository (``procore-spec/``: ``openapi/<operation>.json`` is Procore's
OpenAPI as published by TylerIlunga/procore-mcp-server@eed7a84 ``data/endpoint-details``,
``sdk/<operation>.json`` the schema of weigandconstruction/procore_python_sdk@d9fc38a's
docs; provenance in its SOURCES.md). Where the OpenAPI file has no schema (cut nesting,
dropped ``allOf``), the SDK's is used; each shape names its files. Choices where the two
disagree are in docs/decisions.md, "Sandbox commitments and cost codes follow Procore's
schemas".
"""

from __future__ import annotations

from functools import partial
from typing import Any

import pytest

from chalicelib.domain.commitments import build_snapshot
from devstack.procore_sandbox import ProcoreSandbox
from tests.contract import shapes
from tests.contract.shapes import (  # noqa: F401 - token_fixture registers the fixture
    BOOL,
    DATE,
    DATETIME,
    DECIMAL,
    INT,
    OBJECT,
    STR,
    SYNC_ERROR,
    Recorder,
    Shape,
    assert_shape,
    call,
    client_for,
    shape_problems,
    sync_answer,
    token_fixture,
)
from tests.fixtures_sandbox import (  # noqa: F401 - the *_fixture imports register fixtures
    COMPANY_ID,
    demo_fixture,
    sandbox_fixture,
)

#: a null array item where a scalar is documented passes in these bodies
request_problems = partial(shapes.request_problems, null_scalars=True)


# --- documented shapes: line item types, cost codes ----------------------------------------
# openapi/RestV10LineItemTypesGet.json (items), ...IdGet.json, ...Post.json (201),
# ...SyncPatch.json (entities); sdk model LineItemType inside cost codes and line items.
LINE_ITEM_TYPE = {
    "id": INT,
    "name": STR,
    "code": STR,
    "base_type": STR,
    "origin_data": STR,
    "origin_id": STR,
}

# openapi/RestV10CostCodesPost.json (201) = ...IdGet.json = ...IdPatch.json (200); the same
# as a line item's cost_code (sdk model "Extended").
COST_CODE = {
    "id": INT,
    "biller": STR,
    "biller_id": INT,
    "biller_type": STR,
    "budgeted": BOOL,
    "code": STR,
    "created_at": DATETIME,
    "deleted_at": DATETIME,
    "full_code": STR,
    "name": STR,
    "origin_data": STR,
    "origin_id": STR,
    "parent": {"id": INT},
    "position": INT,
    "sortable_code": STR,
    "standard_cost_code_id": INT,
    "standard_cost_code_list_id": INT,
    "updated_at": DATETIME,
    "line_item_types": [LINE_ITEM_TYPE],
}

# sdk/RestV10CostCodesGet.json (items; openapi's are empty) and
# sdk/RestV10CostCodesSyncPatch.json (entities): model ...ScopedCostCodesGet200ResponseInner,
# with biller_origin_id and without standard_cost_code_list_id.
SCOPED_COST_CODE = {
    "id": INT,
    "biller": STR,
    "biller_id": INT,
    "biller_type": STR,
    "biller_origin_id": STR,
    "budgeted": BOOL,
    "code": STR,
    "created_at": DATETIME,
    "deleted_at": DATETIME,
    "full_code": STR,
    "name": STR,
    "origin_data": STR,
    "origin_id": STR,
    "parent": {"id": INT},
    "position": INT,
    "sortable_code": STR,
    "standard_cost_code_id": INT,
    "updated_at": DATETIME,
    "line_item_types": [LINE_ITEM_TYPE],
}

# openapi/RestV10StandardCostCodeListsGet.json (items)
STANDARD_COST_CODE_LIST = {
    "available_to_use_on_new_projects": BOOL,
    "id": INT,
    "is_erp_list": BOOL,
    "name": STR,
}

# openapi/RestV10StandardCostCodesGet.json: items, and the ``view`` parameter: "The
# 'default' view only returns id and standard_cost_code_list_id. The 'compact' view also
# includes origin_id. The 'extended' view includes the more complete list of attributes".
STANDARD_COST_CODE = {
    "id": INT,
    "standard_cost_code_list_id": INT,
    "parent_id": INT,
    "code": STR,
    "full_code": STR,
    "name": STR,
    "origin_data": STR,
    "origin_id": STR,
}
STANDARD_COST_CODE_VIEWS = {
    "default": {"id": INT, "standard_cost_code_list_id": INT},
    "compact": {"id": INT, "standard_cost_code_list_id": INT, "origin_id": STR},
    "extended": STANDARD_COST_CODE,
}

# --- documented shapes: line items ---------------------------------------------------------
# sdk/RestV10WorkOrderContractsWorkOrderContractIdLineItemsGet.json (items; openapi's are
# empty), ...LineItemsIdGet.json; openapi/...LineItemsPost.json (201), ...IdPatch.json (200)
# and the commitment's line_items[] (openapi/RestV10WorkOrderContractsIdGet.json) agree on
# the keys. Amount-like numbers: openapi "string"/"float", sdk "number" (decisions.md).
LINE_ITEM = {
    "id": INT,
    "amount": STR,
    "company": {"id": INT, "name": STR},
    "cost_code": COST_CODE,
    "created_at": DATETIME,
    "description": STR,
    "extended_type": STR,
    "holder": {"id": INT, "holder_type": STR},
    "line_item_type": LINE_ITEM_TYPE,
    "origin_data": STR,
    "origin_id": STR,
    "position": INT,
    "project": {"id": INT, "name": STR},
    "quantity": DECIMAL,
    "tax_code_id": INT,
    "total_amount": DECIMAL,
    "extended_amount": DECIMAL,
    "unit_cost": DECIMAL,
    "uom": STR,
    "wbs_code": {"id": INT, "flat_code": STR, "description": STR},
    "updated_at": DATETIME,
    "change_event_line_item": {
        "id": INT,
        "cost_rom": DECIMAL,
        "revenue_rom": DECIMAL,
        "event_id": INT,
        "cost_code": COST_CODE,  # sdk: the same keys as a cost code (another model name)
        "line_item_type": LINE_ITEM_TYPE,
        "currency_configuration": {"currency_iso_code": STR},
    },
    "currency_configuration": {"currency_iso_code": STR},
}

# --- documented shapes: commitments --------------------------------------------------------
_CURRENCY = {"currency_iso_code": STR}  # sdk (the OpenAPI files cut it to "object")
# keys both kinds' compact views have (sdk/RestV10WorkOrderContractsGet.json,
# openapi/RestV10PurchaseOrderContractsGet.json)
_COMMITMENT_COMMON = {
    "accounting_method": STR,
    "approval_letter_date": STR,
    "approved_change_orders": STR,
    "contract_date": DATE,
    "created_at": DATETIME,
    "deleted_at": DATETIME,
    "description": STR,
    "draft_change_orders_amount": STR,
    "executed": BOOL,
    "execution_date": DATE,
    "grand_total": STR,
    "id": INT,
    "issued_on_date": DATE,
    "letter_of_intent_date": DATE,
    "number": STR,
    "origin_data": STR,
    "origin_code": STR,
    "origin_id": STR,
    "pending_change_orders": STR,
    "pending_revised_contract": STR,
    "percentage_paid": STR,
    "private": BOOL,
    "project": {"id": INT, "name": STR},
    "remaining_balance_outstanding": STR,
    "requisitions_are_enabled": BOOL,
    "retainage_percent": STR,
    "returned_date": DATE,
    "revised_contract": STR,
    "signed_contract_received_date": DATE,
    "show_line_items_to_non_admins": BOOL,
    "status": STR,
    "title": STR,
    "total_draw_requests_amount": STR,
    "total_payments": STR,
    "total_requisitions_amount": STR,
    "updated_at": DATETIME,
    "vendor": {"id": INT, "company": STR},
    "currency_configuration": _CURRENCY,
}
# sdk/RestV10WorkOrderContractsGet.json (items) = the entities of
# sdk/RestV10WorkOrderContractsSyncPatch.json
WORK_ORDER_COMPACT = {
    **_COMMITMENT_COMMON,
    "actual_completion_date": DATE,
    "contract_start_date": DATE,
    "contract_estimated_completion_date": DATE,
    "exclusions": STR,
    "inclusions": STR,
}
# openapi/RestV10PurchaseOrderContractsGet.json (items) = the entities of
# openapi/RestV10PurchaseOrderContractsSyncPatch.json
PURCHASE_ORDER_COMPACT = {
    **_COMMITMENT_COMMON,
    "assignee": {"id": INT},
    "bill_to_address": STR,
    "billing_schedule_of_values_status": STR,
    "delivery_date": DATE,
    "payment_terms": STR,
    "ship_to_address": STR,
    "ship_via": STR,
}
# What the show adds (openapi/RestV10{WorkOrder,PurchaseOrder}ContractsIdGet.json = their
# Post.json 201 and IdPatch.json 200). The sandbox never fills the collections other than
# line_items (no attachments, change orders, contacts or payments): their item schemas are
# in those files and not repeated here.
_SHOW = {
    "change_order_packages": [OBJECT],
    "change_order_requests": [OBJECT],
    "created_by_id": INT,
    "invoice_contacts": [OBJECT],
    "line_items": [LINE_ITEM],
    "payments_issued": [OBJECT],
    "potential_change_orders": [OBJECT],
    "vendor": {"id": INT, "company": STR, "origin_data": STR, "origin_id": STR},
}
WORK_ORDER = {**WORK_ORDER_COMPACT, **_SHOW, "attachments": [OBJECT]}
PURCHASE_ORDER = {
    **{k: v for k, v in PURCHASE_ORDER_COMPACT.items() if k != "billing_schedule_of_values_status"},
    **_SHOW,
    # the PO file types attachments as one object {id, url, filename}, the WO file an array
    "attachments": {"id": INT, "url": STR, "filename": STR},
}
COMMITMENTS = {
    "work_order_contracts": ("work_order_contract", WORK_ORDER_COMPACT, WORK_ORDER),
    "purchase_order_contracts": ("purchase_order_contract", PURCHASE_ORDER_COMPACT, PURCHASE_ORDER),
}
# documented statuses (openapi/RestV10WorkOrderContractsPost.json,
# openapi/RestV10PurchaseOrderContractsPost.json, request and answer enums)
STATUSES = {
    "work_order_contracts": {
        "Draft",
        "Out For Bid",
        "Out For Signature",
        "Approved",
        "Complete",
        "Terminated",
        "Void",
    },
    "purchase_order_contracts": {
        "Draft",
        "Processing",
        "Submitted",
        "Partially Received",
        "Received",
        "Approved",
        "Closed",
    },
}


# The status of a refused body, from each operation's documented ``responses``: work
# order create/update list 422 (openapi/RestV10WorkOrderContractsPost.json, ...IdPatch.json);
# purchase orders, line items, cost codes, line item types and the syncs list 400 and no
# 422; the standard cost codes sync lists only 413 (Payload Too Large) among refusals.
REFUSAL_STATUS = {"work_order_contracts": 422, "purchase_order_contracts": 400}


# --- documented request schemas --------------------------------------------------------------
# openapi/RestV10WorkOrderContractsSyncPatch.json, request body
WORK_ORDER_SYNC_REQUEST = {
    "project_id": INT,
    "updates": [
        {
            "id": INT,
            "accounting_method": STR,
            "actual_completion_date": DATE,
            "approval_letter_date": STR,
            "contract_date": DATE,
            "contract_estimated_completion_date": DATE,
            "contract_start_date": DATE,
            "description": STR,
            "exclusions": STR,
            "executed": BOOL,
            "execution_date": DATE,
            "inclusions": STR,
            "issued_on_date": DATE,
            "letter_of_intent_date": DATE,
            "origin_code": STR,
            "origin_data": STR,
            "origin_id": STR,
            "number": STR,
            "private": BOOL,
            "retainage_percent": STR,
            "returned_date": DATE,
            "signed_contract_received_date": DATE,
            "status": STR,
            "title": STR,
            "vendor_id": INT,
        }
    ],
}
# openapi/RestV10PurchaseOrderContractsSyncPatch.json, request body. It lists no ``id`` in
# updates; Procore's sync actions guide (procore-spec/docs/conventions.json, sync: "ID |
# Yes | Resource is updated ... this is the only way to update an origin_id") documents it
# for every sync action, so ``id`` is allowed here (decisions.md).
PURCHASE_ORDER_SYNC_REQUEST = {
    "project_id": INT,
    "updates": [
        {
            "id": INT,
            "accounting_method": STR,
            "approval_letter_date": STR,
            "assignee_id": INT,
            "bill_to_address": STR,
            "contract_date": DATE,
            "delivery_date": DATE,
            "description": STR,
            "executed": BOOL,
            "execution_date": DATE,
            "issued_on_date": DATE,
            "letter_of_intent_date": DATE,
            "origin_code": STR,
            "origin_data": STR,
            "origin_id": STR,
            "number": STR,
            "payment_terms": STR,
            "private": BOOL,
            "retainage_percent": STR,
            "returned_date": DATE,
            "ship_to_address": STR,
            "ship_via": STR,
            "status": STR,
            "title": STR,
            "vendor_id": INT,
        }
    ],
}
COMMITMENT_SYNC_REQUIRED = {"project_id": None, "updates": None}
# openapi/RestV10CostCodesSyncPatch.json: body {updates} (required), project_id (required)
# and sub_job_id in the query. (sdk/RestV10CostCodesSyncPatch.json shows line item fields
# for these updates: a mix-up of the SDK's docs, not followed.)
COST_CODE_SYNC_REQUEST = {
    "updates": [
        {
            "id": INT,
            "position": INT,
            "code": STR,
            "name": STR,
            "origin_data": STR,
            "origin_id": STR,
            "parent_id": INT,
            "standard_cost_code_id": INT,
        }
    ],
}
COST_CODE_SYNC_QUERY = {"project_id": INT, "sub_job_id": INT}
# openapi/RestV10CostCodesPost.json, request body (required: project_id, cost_code)
COST_CODE_CREATE_REQUEST = {
    "project_id": INT,
    "sub_job_id": INT,
    "cost_code": {
        "position": INT,
        "code": STR,
        "name": STR,
        "origin_data": STR,
        "origin_id": STR,
        "parent_id": INT,
        "standard_cost_code_id": INT,
    },
}
# openapi/RestV10StandardCostCodesSyncPatch.json, request body (all three required) and
# its query parameter ``view``
STANDARD_COST_CODE_SYNC_REQUEST = {
    "company_id": INT,
    "standard_cost_code_list_id": INT,
    "updates": [
        {
            "name": STR,
            "id": INT,
            "code": STR,
            "parent_id": INT,
            "origin_id": STR,
            "origin_data": STR,
        }
    ],
}
# openapi/RestV10StandardCostCodesGet.json, query parameters (company_id and
# standard_cost_code_list_id required)
STANDARD_COST_CODES_QUERY = {
    "company_id": INT,
    "standard_cost_code_list_id": INT,
    "page": INT,
    "per_page": INT,
    "filters[origin_id]": STR,
    "view": STR,
}
# openapi/RestV10LineItemTypesSyncPatch.json, request body (company_id, updates required)
LINE_ITEM_TYPE_SYNC_REQUEST = {
    "company_id": INT,
    "updates": [
        {
            "id": INT,
            "name": STR,
            "csv_import_code": STR,
            "base_type": STR,
            "origin_data": STR,
            "origin_id": STR,
        }
    ],
}


# --- commitments and line items ------------------------------------------------------------
@pytest.mark.parametrize("segment", sorted(COMMITMENTS))
def test_commitment_and_line_item_endpoints_answer_the_documented_shapes(
    sandbox: ProcoreSandbox, demo: dict[str, Any], token: str, segment: str
) -> None:
    singular, compact, full = COMMITMENTS[segment]
    main_id = demo["project_ids"]["main"]
    base = f"/rest/v1.0/{segment}"
    q = f"?project_id={main_id}"

    created = call(
        sandbox,
        token,
        "POST",
        base,
        {
            "project_id": main_id,
            singular: {
                "number": "C-1",
                "title": "Shell",
                "vendor_id": demo["vendor_ids"]["steel"],
                "retainage_percent": "10",
                "contract_date": "2025-03-01",
            },
        },
    )
    assert created.status == 201, created.body
    assert_shape(created.body, full, f"POST {base} (201)")
    assert created.body["status"] in STATUSES[segment]
    one = f"{base}/{created.body['id']}"

    line = call(
        sandbox,
        token,
        "POST",
        f"{one}/line_items",
        {
            "project_id": main_id,
            "line_item": {
                "description": "Steel",
                "quantity": "4",
                "unit_cost": "25.5",
                "uom": "ea",
                "cost_code_id": demo["cost_code_ids"]["main"]["05-120"],
                "line_item_type_id": demo["line_item_type_ids"]["S"],
            },
        },
    )
    assert line.status == 201, line.body
    assert_shape(line.body, LINE_ITEM, f"POST {one}/line_items (201)")
    # the nested objects are there (a null would pass the shape check)
    for key in ("cost_code", "line_item_type", "wbs_code", "holder", "project", "company"):
        assert line.body[key] is not None, key
    assert line.body["cost_code"]["full_code"] == "05-120"
    assert (line.body["quantity"], line.body["unit_cost"], line.body["amount"]) == (
        "4.0",
        "25.50",
        "102.00",
    )
    line_path = f"{one}/line_items/{line.body['id']}"

    patched_line = call(
        sandbox,
        token,
        "PATCH",
        line_path,
        {"project_id": main_id, "line_item": {"description": "Steel beams"}},
    )
    assert patched_line.status == 200
    assert_shape(patched_line.body, LINE_ITEM, f"PATCH {line_path} (200)")
    got_line = call(sandbox, token, "GET", line_path + q)
    assert got_line.status == 200
    assert_shape(got_line.body, LINE_ITEM, f"GET {line_path}")
    lines = call(sandbox, token, "GET", f"{one}/line_items{q}")
    assert lines.status == 200 and len(lines.body) == 1
    assert_shape(lines.body, [LINE_ITEM], f"GET {one}/line_items")

    status = "Approved"
    patched = call(
        sandbox, token, "PATCH", one, {"project_id": main_id, singular: {"status": status}}
    )
    assert patched.status == 200, patched.body
    assert_shape(patched.body, full, f"PATCH {one} (200)")
    got = call(sandbox, token, "GET", one + q)
    assert got.status == 200
    assert_shape(got.body, full, f"GET {one}")
    assert [li["id"] for li in got.body["line_items"]] == [line.body["id"]]
    assert got.body["vendor"]["company"] == "Summit Steel Supply"
    listed = call(sandbox, token, "GET", base + q)
    assert listed.status == 200 and len(listed.body) == 1
    assert_shape(listed.body, [compact], f"GET {base}")

    synced = call(
        sandbox,
        token,
        "PATCH",
        f"{base}/sync",
        {
            "project_id": main_id,
            "updates": [
                {"id": created.body["id"], "origin_id": "X-1", "origin_code": "X1"},
                {"id": 999999, "origin_id": "ghost"},
            ],
        },
    )
    assert synced.status == 200
    assert_shape(synced.body, sync_answer(compact), f"PATCH {base}/sync")
    assert_shape(synced.body["errors"], [SYNC_ERROR], f"PATCH {base}/sync errors")
    assert len(synced.body["entities"]) == 1 and len(synced.body["errors"]) == 1

    # DELETE: documented 200 (openapi/...IdDelete.json, ...LineItemsIdDelete.json), the
    # SDK's return type "void (empty response body)"
    deleted_line = call(sandbox, token, "DELETE", line_path + q)
    assert (deleted_line.status, deleted_line.body) == (200, None)
    deleted = call(sandbox, token, "DELETE", one + q)
    assert (deleted.status, deleted.body) == (200, None)


@pytest.mark.parametrize("segment", sorted(COMMITMENTS))
def test_each_kind_takes_its_documented_statuses(
    sandbox: ProcoreSandbox, demo: dict[str, Any], token: str, segment: str
) -> None:
    singular = COMMITMENTS[segment][0]
    main_id = demo["project_ids"]["main"]
    for status in sorted(STATUSES[segment]):
        answer = call(
            sandbox,
            token,
            "POST",
            f"/rest/v1.0/{segment}",
            {"project_id": main_id, singular: {"status": status}},
        )
        assert answer.status == 201 and answer.body["status"] == status


def _refuses_other_kinds_statuses(
    box: ProcoreSandbox, token: str, main_id: int, segment: str
) -> None:
    singular = COMMITMENTS[segment][0]
    for status in sorted(set().union(*STATUSES.values()) - STATUSES[segment]):
        refused = call(
            box,
            token,
            "POST",
            f"/rest/v1.0/{segment}",
            {"project_id": main_id, singular: {"status": status}},
        )
        assert refused.status == REFUSAL_STATUS[segment], status
        assert refused.body == {"errors": {"status": ["is not included in the list"]}}


def test_a_work_order_refuses_purchase_order_statuses(
    sandbox: ProcoreSandbox, demo: dict[str, Any], token: str
) -> None:
    _refuses_other_kinds_statuses(
        sandbox, token, demo["project_ids"]["main"], "work_order_contracts"
    )


def test_a_purchase_order_refuses_work_order_statuses(
    sandbox: ProcoreSandbox, demo: dict[str, Any], token: str
) -> None:
    _refuses_other_kinds_statuses(
        sandbox, token, demo["project_ids"]["main"], "purchase_order_contracts"
    )


def test_line_items_never_carry_flat_ids_and_the_connector_reads_the_objects(
    sandbox: ProcoreSandbox, demo: dict[str, Any]
) -> None:
    """Procore sends ``cost_code``/``line_item_type`` objects only; the snapshot reads them."""
    recorder = Recorder()
    client = client_for(sandbox, recorder)
    main_id = demo["project_ids"]["main"]
    contract = sandbox.create_commitment("work_order_contract", main_id, number="SC-9")
    sandbox.add_line_item(
        "work_order_contract",
        contract["id"],
        amount="10",
        cost_code_id=demo["cost_code_ids"]["main"]["03-300"],
        line_item_type_id=demo["line_item_type_ids"]["S"],
    )
    record = client.get_commitment("work_order_contract", main_id, contract["id"])
    lines = client.list_commitment_line_items("work_order_contract", main_id, contract["id"])
    for line in (*lines, *record["line_items"]):
        assert not {"cost_code_id", "line_item_type_id", "wbs_code_id"} & set(line)
    snapshot = build_snapshot("work_order_contract", record, lines)
    (snap_line,) = snapshot["lines"]
    assert snap_line["cost_code"] == {
        "id": demo["cost_code_ids"]["main"]["03-300"],
        "full_code": "03-300",
        "name": "Cast-in-Place Concrete",
        "origin_id": None,
    }
    assert snap_line["line_item_type"]["code"] == "S"
    # a line naming its cost code only by a flat id names none (Procore never sends that)
    flat = {
        **lines[0],
        "cost_code": None,
        "cost_code_id": 7,
        "line_item_type": None,
        "line_item_type_id": 8,
    }
    (bare,) = build_snapshot("work_order_contract", record, [flat])["lines"]
    assert (bare["cost_code"], bare["line_item_type"]) == (None, None)


# --- cost codes, standard cost codes, line item types ----------------------------------------
def test_cost_code_endpoints_answer_the_documented_shapes(
    sandbox: ProcoreSandbox, demo: dict[str, Any], token: str
) -> None:
    main_id = demo["project_ids"]["main"]
    sub_job = sandbox.add_sub_job(main_id, "Phase 1", code="1", origin_id="24001-1")
    division = call(
        sandbox,
        token,
        "POST",
        "/rest/v1.0/cost_codes",
        {"project_id": main_id, "cost_code": {"code": "31", "name": "Earthwork"}},
    )
    assert division.status == 201, division.body
    assert_shape(division.body, COST_CODE, "POST /rest/v1.0/cost_codes (201)")
    child = call(
        sandbox,
        token,
        "POST",
        "/rest/v1.0/cost_codes",
        {
            "project_id": main_id,
            "sub_job_id": None,
            "cost_code": {
                "code": "200",
                "name": "Excavation",
                "parent_id": division.body["id"],
                "origin_id": "31-200",
                "position": 3,
            },
        },
    )
    assert_shape(child.body, COST_CODE, "POST /rest/v1.0/cost_codes (201, with a parent)")
    assert child.body["parent"] == {"id": division.body["id"]}
    assert (child.body["full_code"], child.body["position"]) == ("31-200", 3)
    assert (child.body["biller_type"], child.body["biller_id"]) == ("Project", main_id)
    on_sub_job = call(
        sandbox,
        token,
        "POST",
        "/rest/v1.0/cost_codes",
        {
            "project_id": main_id,
            "sub_job_id": sub_job["id"],
            "cost_code": {"code": "31", "name": "Earthwork"},
        },
    )
    assert (
        on_sub_job.body["biller_type"],
        on_sub_job.body["biller_id"],
        on_sub_job.body["biller"],
    ) == ("SubJob", sub_job["id"], "Phase 1")

    listed = call(sandbox, token, "GET", f"/rest/v1.0/cost_codes?project_id={main_id}")
    assert listed.status == 200 and len(listed.body) == 8
    assert_shape(listed.body, [SCOPED_COST_CODE], "GET /rest/v1.0/cost_codes")
    scoped = {c["id"]: c for c in listed.body}
    assert scoped[on_sub_job.body["id"]]["biller_origin_id"] == "24001-1"
    assert all(c["line_item_types"] for c in listed.body)

    synced = call(
        sandbox,
        token,
        "PATCH",
        f"/rest/v1.0/cost_codes/sync?project_id={main_id}",
        {
            "updates": [
                {"origin_id": "32", "code": "32", "name": "Paving"},
                {"origin_id": "33", "name": "no code"},
            ]
        },
    )
    assert synced.status == 200
    assert_shape(synced.body, sync_answer(SCOPED_COST_CODE), "PATCH /rest/v1.0/cost_codes/sync")
    assert_shape(synced.body["errors"], [SYNC_ERROR], "cost code sync errors")


def test_standard_cost_codes_answer_the_view_asked(
    sandbox: ProcoreSandbox, demo: dict[str, Any], token: str
) -> None:
    lists = call(
        sandbox, token, "GET", f"/rest/v1.0/standard_cost_code_lists?company_id={COMPANY_ID}"
    )
    assert lists.status == 200
    assert_shape(lists.body, [STANDARD_COST_CODE_LIST], "GET /rest/v1.0/standard_cost_code_lists")
    list_id = demo["standard_cost_code_list_id"]
    sync = "/rest/v1.0/standard_cost_codes/sync"
    body = {"company_id": COMPANY_ID, "standard_cost_code_list_id": list_id}
    made = call(
        sandbox,
        token,
        "PATCH",
        sync,
        {**body, "updates": [{"origin_id": "01", "code": "01", "name": "General Requirements"}]},
    )
    assert made.status == 200
    assert_shape(made.body, sync_answer(STANDARD_COST_CODE_VIEWS["default"]), f"PATCH {sync}")
    parent_id = made.body["entities"][0]["id"]
    for view, shape in STANDARD_COST_CODE_VIEWS.items():
        answer = call(
            sandbox,
            token,
            "PATCH",
            f"{sync}?view={view}",
            {
                **body,
                "updates": [
                    {
                        "origin_id": "01-100",
                        "code": "100",
                        "name": "Supervision",
                        "parent_id": parent_id,
                    }
                ],
            },
        )
        assert_shape(answer.body, sync_answer(shape), f"PATCH {sync}?view={view}")
        listed = call(
            sandbox,
            token,
            "GET",
            f"/rest/v1.0/standard_cost_codes?company_id="
            f"{COMPANY_ID}&standard_cost_code_list_id={list_id}&view={view}",
        )
        assert listed.status == 200 and len(listed.body) == 2
        assert_shape(listed.body, [shape], f"GET /rest/v1.0/standard_cost_codes?view={view}")
    whole = call(
        sandbox,
        token,
        "GET",
        f"/rest/v1.0/standard_cost_codes?company_id="
        f"{COMPANY_ID}&standard_cost_code_list_id={list_id}&view=extended",
    ).body
    # "code": "Cost code, not including parent prefix"; "full_code": "... including parent
    # prefixes" (openapi/RestV10StandardCostCodesGet.json)
    assert [(c["code"], c["full_code"], c["parent_id"]) for c in whole] == [
        ("01", "01", None),
        ("100", "01-100", parent_id),
    ]


def test_line_item_type_endpoints_answer_the_documented_shapes(
    sandbox: ProcoreSandbox, demo: dict[str, Any], token: str
) -> None:
    listed = call(sandbox, token, "GET", f"/rest/v1.0/line_item_types?company_id={COMPANY_ID}")
    assert listed.status == 200
    assert_shape(listed.body, [LINE_ITEM_TYPE], "GET /rest/v1.0/line_item_types")
    by_project = call(
        sandbox,
        token,
        "GET",
        f"/rest/v1.0/line_item_types?project_id={demo['project_ids']['main']}",
    )
    assert_shape(by_project.body, [LINE_ITEM_TYPE], "GET /rest/v1.0/line_item_types?project_id")
    created = call(
        sandbox,
        token,
        "POST",
        "/rest/v1.0/line_item_types",
        {
            "company_id": COMPANY_ID,
            "line_item_type": {"name": "Permits", "csv_import_code": "P", "base_type": "other"},
        },
    )
    assert created.status == 201
    assert_shape(created.body, LINE_ITEM_TYPE, "POST /rest/v1.0/line_item_types (201)")
    synced = call(
        sandbox,
        token,
        "PATCH",
        "/rest/v1.0/line_item_types/sync",
        {
            "company_id": COMPANY_ID,
            "updates": [
                {"origin_id": "9", "name": "Fees", "csv_import_code": "F"},
                {"origin_id": "10", "name": "Crew", "csv_import_code": "C", "base_type": "labor"},
            ],
        },
    )
    assert_shape(synced.body, sync_answer(LINE_ITEM_TYPE), "PATCH /rest/v1.0/line_item_types/sync")
    # the sync's base_type enum leaves out "labor" (openapi/RestV10LineItemTypesSyncPatch.json)
    assert [e["errors"] for e in synced.body["errors"]] == [
        {"base_type": ["is not included in the list"]}
    ]


def test_refusals_answer_each_endpoints_documented_status(
    sandbox: ProcoreSandbox, demo: dict[str, Any], token: str
) -> None:
    main_id = demo["project_ids"]["main"]
    for segment, (singular, _, _) in COMMITMENTS.items():
        base = f"/rest/v1.0/{segment}"
        bad = {"project_id": main_id, singular: {"contract_date": "soon"}}
        refused = call(sandbox, token, "POST", base, bad)
        assert (refused.status, refused.body) == (
            REFUSAL_STATUS[segment],
            {"errors": {"contract_date": ["is not a valid date"]}},
        )
        made = call(sandbox, token, "POST", base, {"project_id": main_id, singular: {}})
        one = f"{base}/{made.body['id']}"
        assert call(sandbox, token, "PATCH", one, bad).status == REFUSAL_STATUS[segment]
        no_amount = {"project_id": main_id, "line_item": {"description": "x"}}
        assert call(sandbox, token, "POST", f"{one}/line_items", no_amount).status == 400
        line = call(
            sandbox,
            token,
            "POST",
            f"{one}/line_items",
            {"project_id": main_id, "line_item": {"amount": "1"}},
        )
        bad_line = {"project_id": main_id, "line_item": {"amount": "lots"}}
        line_path = f"{one}/line_items/{line.body['id']}"
        assert call(sandbox, token, "PATCH", line_path, bad_line).status == 400
        too_many = {"project_id": main_id, "updates": [{"id": 1}] * 1001}
        assert call(sandbox, token, "PATCH", f"{base}/sync", too_many).status == 400
    cost_code = {"project_id": main_id, "cost_code": {"name": "no code"}}
    assert call(sandbox, token, "POST", "/rest/v1.0/cost_codes", cost_code).status == 400
    sync = f"/rest/v1.0/cost_codes/sync?project_id={main_id}"
    assert call(sandbox, token, "PATCH", sync, {"updates": "all"}).status == 400
    types = {"company_id": COMPANY_ID, "line_item_type": {"name": "no code"}}
    assert call(sandbox, token, "POST", "/rest/v1.0/line_item_types", types).status == 400
    assert (
        call(
            sandbox, token, "PATCH", "/rest/v1.0/line_item_types/sync", {"company_id": COMPANY_ID}
        ).status
        == 400
    )
    standard = {
        "company_id": COMPANY_ID,
        "standard_cost_code_list_id": demo["standard_cost_code_list_id"],
        "updates": [{"origin_id": "1"}] * 1001,
    }
    assert (
        call(sandbox, token, "PATCH", "/rest/v1.0/standard_cost_codes/sync", standard).status == 413
    )


# --- strict request bodies (the documented request schemas, as for projects and vendors) ------
NOT_PERMITTED = "is not a permitted attribute"
#: a key of the other kind's schema (openapi/RestV10{WorkOrder,PurchaseOrder}ContractsPost.json)
OTHER_KINDS_KEY = {"work_order_contracts": "ship_via", "purchase_order_contracts": "exclusions"}


@pytest.mark.parametrize("segment", sorted(COMMITMENTS))
def test_commitment_bodies_take_only_documented_keys_of_documented_types(
    sandbox: ProcoreSandbox, demo: dict[str, Any], token: str, segment: str
) -> None:
    singular = COMMITMENTS[segment][0]
    main_id = demo["project_ids"]["main"]
    base = f"/rest/v1.0/{segment}"
    bad = {
        "bogus": 1,
        OTHER_KINDS_KEY[segment]: "x",
        "title": 5,
        "executed": "yes",
        "contract_date": "2025-13-01",
        "vendor_id": str(demo["vendor_ids"]["steel"]),
        "accounting_method": "lump",
        "retainage_percent": True,
        "invoice_contact_user_ids": [1],
        "origin_id": 17,
    }
    expected = {
        "bogus": [NOT_PERMITTED],
        OTHER_KINDS_KEY[segment]: [NOT_PERMITTED],
        "title": ["is invalid"],
        "executed": ["must be true or false"],
        "contract_date": ["is not a valid date"],
        "vendor_id": ["is not a number"],
        "accounting_method": ["is not included in the list"],
        "retainage_percent": ["is invalid"],
        "invoice_contact_users": ["must exist"],
        "origin_id": ["is invalid"],
    }
    refused = call(sandbox, token, "POST", base, {"project_id": main_id, singular: bad})
    assert (refused.status, refused.body) == (REFUSAL_STATUS[segment], {"errors": expected})
    listed = call(sandbox, token, "GET", f"{base}?project_id={main_id}")
    assert listed.body == []  # nothing written

    made = call(sandbox, token, "POST", base, {"project_id": main_id, singular: {"title": "T"}})
    assert made.status == 201, made.body
    one = f"{base}/{made.body['id']}"
    refused = call(sandbox, token, "PATCH", one, {"project_id": main_id, singular: bad})
    assert (refused.status, refused.body) == (REFUSAL_STATUS[segment], {"errors": expected})
    custom = {"project_id": main_id, singular: {"custom_field_12": "x"}}
    refused = call(sandbox, token, "PATCH", one, custom)
    assert (refused.status, refused.body) == (
        REFUSAL_STATUS[segment], {"errors": {"custom_field_12": ["must exist"]}})
    got = call(sandbox, token, "GET", f"{one}?project_id={main_id}")
    assert (got.body["title"], got.body["executed"]) == ("T", False)  # untouched

    good = {
        "title": "Shell",
        "executed": True,
        "contract_date": "2025-03-01",
        "retainage_percent": 5,  # typed string; a JSON number is the same decimal
        "vendor_id": demo["vendor_ids"]["steel"],
        "invoice_contact_user_ids": [],
        "currency_iso_code": "USD",
        "origin_id": None,
    }
    patched = call(sandbox, token, "PATCH", one, {"project_id": main_id, singular: good})
    assert patched.status == 200, patched.body
    assert (patched.body["title"], patched.body["retainage_percent"]) == ("Shell", "5.00")


@pytest.mark.parametrize("segment", sorted(COMMITMENTS))
def test_line_item_bodies_take_only_documented_keys_of_documented_types(
    sandbox: ProcoreSandbox, demo: dict[str, Any], token: str, segment: str
) -> None:
    main_id = demo["project_ids"]["main"]
    made = call(sandbox, token, "POST", f"/rest/v1.0/{segment}",
                {"project_id": main_id, COMMITMENTS[segment][0]: {}})
    lines = f"/rest/v1.0/{segment}/{made.body['id']}/line_items"
    bad = {
        "amount": [100],
        "quantity": "many",
        "cost_code_id": str(demo["cost_code_ids"]["main"]["05-120"]),
        "extended_type": "auto",
        "uom": 3,
        "description": ["x"],
        "cost_code": {"id": 1},
        "total_amount": "100",
    }
    expected = {
        "amount": ["is invalid"],
        "quantity": ["is not a number"],
        "cost_code_id": ["is not a number"],
        "extended_type": ["is not included in the list"],
        "uom": ["is invalid"],
        "description": ["is invalid"],
        "cost_code": [NOT_PERMITTED],
        "total_amount": [NOT_PERMITTED],
    }
    refused = call(sandbox, token, "POST", lines, {"project_id": main_id, "line_item": bad})
    assert (refused.status, refused.body) == (400, {"errors": expected})
    assert call(sandbox, token, "GET", f"{lines}?project_id={main_id}").body == []
    line = call(sandbox, token, "POST", lines,
                {"project_id": main_id, "line_item": {"amount": "10", "description": "D"}})
    assert line.status == 201, line.body
    one = f"{lines}/{line.body['id']}"
    refused = call(sandbox, token, "PATCH", one, {"project_id": main_id, "line_item": bad})
    assert (refused.status, refused.body) == (400, {"errors": expected})
    got = call(sandbox, token, "GET", f"{one}?project_id={main_id}")
    assert (got.body["amount"], got.body["description"]) == ("10.00", "D")


def test_cost_code_and_line_item_type_bodies_take_only_documented_keys(
    sandbox: ProcoreSandbox, demo: dict[str, Any], token: str
) -> None:
    main_id = demo["project_ids"]["main"]
    codes = "/rest/v1.0/cost_codes"
    bad_code = {"code": 31, "name": "E", "parent_id": "3", "position": "1", "full_code": "31",
                "origin_id": 31}
    refused = call(sandbox, token, "POST", codes, {"project_id": main_id, "cost_code": bad_code})
    assert (refused.status, refused.body) == (400, {"errors": {
        "code": ["is invalid"],
        "parent_id": ["is not a number"],
        "position": ["is not a number"],
        "full_code": [NOT_PERMITTED],
        "origin_id": ["is invalid"],
    }})
    made = call(sandbox, token, "POST", codes, {"project_id": main_id, "cost_code": {
        "code": "31", "name": "E", "position": 2, "origin_id": "31"}})
    assert made.status == 201, made.body
    assert (made.body["full_code"], made.body["position"]) == ("31", 2)

    types = "/rest/v1.0/line_item_types"
    bad_type = {"name": "Permits", "code": "P", "base_type": "fees", "origin_data": {"a": 1}}
    refused = call(sandbox, token, "POST", types,
                   {"company_id": COMPANY_ID, "line_item_type": bad_type})
    assert (refused.status, refused.body) == (400, {"errors": {
        "code": [NOT_PERMITTED],
        "base_type": ["is not included in the list"],
        "origin_data": ["is invalid"],
    }})
    numeric = {"name": "Permits", "csv_import_code": 7}
    refused = call(sandbox, token, "POST", types,
                   {"company_id": COMPANY_ID, "line_item_type": numeric})
    assert (refused.status, refused.body) == (400, {"errors": {"csv_import_code": ["is invalid"]}})


# --- soft delete (filters[include_deleted] on the commitment lists) --------------------------
@pytest.mark.parametrize("segment", sorted(COMMITMENTS))
def test_a_deleted_commitment_is_kept_and_listed_only_when_asked(
    sandbox: ProcoreSandbox, demo: dict[str, Any], token: str, segment: str
) -> None:
    singular, compact, _ = COMMITMENTS[segment]
    main_id = demo["project_ids"]["main"]
    base = f"/rest/v1.0/{segment}"
    q = f"?project_id={main_id}"
    kept, gone = (
        call(sandbox, token, "POST", base, {"project_id": main_id, singular: {"title": t}}).body
        for t in ("Kept", "Gone")
    )
    one = f"{base}/{gone['id']}"
    line = call(sandbox, token, "POST", f"{one}/line_items",
                {"project_id": main_id, "line_item": {"amount": "5"}})
    assert line.status == 201
    assert call(sandbox, token, "DELETE", one + q).status == 200

    def ids(query: str) -> list[int]:
        answer = call(sandbox, token, "GET", base + q + query)
        assert answer.status == 200, answer.body
        assert_shape(answer.body, [compact], f"GET {base}{query}")
        return [c["id"] for c in answer.body]

    assert ids("") == [kept["id"]]
    assert ids("&filters[include_deleted]=only") == [gone["id"]]
    assert ids("&filters[include_deleted]=with") == [kept["id"], gone["id"]]
    listed = call(sandbox, token, "GET", base + q + "&filters[include_deleted]=with").body
    stamps = {c["id"]: c["deleted_at"] for c in listed}
    assert stamps[kept["id"]] is None and DATETIME.check(stamps[gone["id"]])
    assert call(sandbox, token, "GET", base + q + "&filters[include_deleted]=all").status == 400

    # the show, update, delete and line item endpoints document no include_deleted: 404
    assert call(sandbox, token, "GET", one + q).status == 404
    assert call(sandbox, token, "PATCH", one, {"project_id": main_id, singular: {}}).status == 404
    assert call(sandbox, token, "DELETE", one + q).status == 404
    assert call(sandbox, token, "GET", f"{one}/line_items{q}").status == 404
    synced = call(sandbox, token, "PATCH", f"{base}/sync",
                  {"project_id": main_id, "updates": [{"id": gone["id"], "origin_id": "G"}]})
    assert synced.body["entities"] == []
    assert synced.body["errors"][0]["errors"] == {"id": ["Entity with this ID not found"]}


# --- the connector's requests ----------------------------------------------------------------
def test_connector_request_bodies_match_the_documented_request_schemas(
    sandbox: ProcoreSandbox, demo: dict[str, Any]
) -> None:
    recorder = Recorder()
    client = client_for(sandbox, recorder)
    main_id = demo["project_ids"]["main"]
    for kind, schema in (
        ("work_order_contract", WORK_ORDER_SYNC_REQUEST),
        ("purchase_order_contract", PURCHASE_ORDER_SYNC_REQUEST),
    ):
        record = sandbox.create_commitment(kind, main_id)
        outcome = client.sync_commitment_origin(kind, main_id, record["id"], "subcon:17", "17")
        assert outcome.ok and outcome.entities[0]["origin_id"] == "subcon:17"
        cleared = client.sync_commitment_origin(kind, main_id, record["id"], None, None)
        assert cleared.ok
        path = f"/rest/v1.0/{kind}s/sync"
        calls = recorder.only("PATCH", path)
        assert len(calls) == 2
        for _, body in calls:
            problems = request_problems(body, schema, COMMITMENT_SYNC_REQUIRED)
            assert not problems, f"PATCH {path}: {problems}"

    phase = sandbox.add_sub_job(main_id, "Phase 1", code="1")
    client.sync_cost_codes(main_id, [{"origin_id": "3300.000", "code": "3300", "name": "C"}])
    client.sync_cost_codes(
        main_id, [{"origin_id": "31", "code": "31", "name": "E"}], sub_job_id=phase["id"]
    )
    for query, body in recorder.only("PATCH", "/rest/v1.0/cost_codes/sync"):
        assert not request_problems(body, COST_CODE_SYNC_REQUEST, {"updates": None})
        assert not request_problems(query, COST_CODE_SYNC_QUERY, {"project_id": None})
        assert query["project_id"] == main_id

    client.create_cost_code(main_id, {"code": "99", "name": "Other"})
    client.create_cost_code(
        main_id, {"code": "98", "name": "Phase code", "origin_id": "98"}, sub_job_id=phase["id"]
    )
    for _, body in recorder.only("POST", "/rest/v1.0/cost_codes"):
        assert not request_problems(
            body, COST_CODE_CREATE_REQUEST, {"project_id": None, "cost_code": None}
        )

    list_id = demo["standard_cost_code_list_id"]
    outcome = client.sync_standard_cost_codes(
        list_id, [{"origin_id": "01", "code": "01", "name": "General Requirements"}]
    )
    # the connector asks for the whole record (the default view has only the ids)
    assert set(outcome.entities[0]) == set(STANDARD_COST_CODE)
    listed = client.list_standard_cost_codes(list_id)
    assert [(c["code"], c["full_code"], c["name"]) for c in listed] == [
        ("01", "01", "General Requirements")
    ]
    ((sync_query, sync_body),) = recorder.only("PATCH", "/rest/v1.0/standard_cost_codes/sync")
    assert not request_problems(
        sync_body,
        STANDARD_COST_CODE_SYNC_REQUEST,
        dict.fromkeys(("company_id", "standard_cost_code_list_id", "updates")),
    )
    assert sync_query == {"view": "extended"}
    ((list_query, _),) = recorder.only("GET", "/rest/v1.0/standard_cost_codes")
    assert not request_problems(
        list_query,
        STANDARD_COST_CODES_QUERY,
        dict.fromkeys(("company_id", "standard_cost_code_list_id")),
    )
    assert list_query["view"] == "extended"

    client.sync_line_item_types(
        [{"origin_id": "6", "name": "Permits", "csv_import_code": "P", "base_type": "other"}]
    )
    ((_, types_body),) = recorder.only("PATCH", "/rest/v1.0/line_item_types/sync")
    assert not request_problems(
        types_body, LINE_ITEM_TYPE_SYNC_REQUEST, {"company_id": None, "updates": None}
    )


def test_the_request_checker_catches_undocumented_keys_and_wrong_types() -> None:
    """The checkers themselves: what they must refuse."""
    assert request_problems(
        {"project_id": 1, "updates": [{"id": 1, "bogus": 2}]},
        WORK_ORDER_SYNC_REQUEST,
        COMMITMENT_SYNC_REQUIRED,
    ) == ["$.updates[0]: undocumented key 'bogus'"]
    assert request_problems(
        {"updates": [{"id": "1"}]}, WORK_ORDER_SYNC_REQUEST, COMMITMENT_SYNC_REQUIRED
    ) == ["$: required key 'project_id' missing", "$.updates[0].id: '1' is not integer"]
    assert shape_problems({"id": 1, "cost_code_id": 2}, {"id": INT, "cost_code": COST_CODE}) == [
        "$: undocumented key 'cost_code_id'",
        "$: missing key 'cost_code'",
    ]
    assert shape_problems({"quantity": 2.5}, {"quantity": DECIMAL}) == [
        "$.quantity: 2.5 is not string/float"
    ]
    assert shape_problems({"at": "2025-01-01"}, {"at": DATETIME}) == [
        "$.at: '2025-01-01' is not string/date-time"
    ]
