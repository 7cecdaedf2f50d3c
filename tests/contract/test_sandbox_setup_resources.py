"""Projects, vendors (company directory, business register), sub jobs and their syncs as
Procore documents them: the sandbox over real loopback HTTP, and the connector's bodies.

Every answer of the endpoints in ``devstack/procore_sandbox/resources/projects.py``,
``vendors.py`` and ``sub_jobs.py`` is checked: exactly the documented keys, each value of
the documented type (or null: the reference marks nothing nullable, yet Procore sends null
for what is not set), status codes and list headers. The sync rules are Procore's "Using
Sync Actions" table. The connector's request bodies (``ProcoreClient`` called directly,
and through the setup API) may use only documented keys, with the documented types, and
must carry the required ones.

The expected shapes are written here, copied from the Procore API reference excerpts kept
outside the repository (``procore-spec/``: ``openapi/<operation>.json`` is Procore's
OpenAPI as published by TylerIlunga/procore-mcp-server@eed7a84 ``data/endpoint-details``;
``sdk/<operation>.json`` the schema of weigandconstruction/procore_python_sdk@d9fc38a's
docs; ``docs/conventions.json`` quotes procore/documentation; provenance in SOURCES.md).
The reference is never read here. Where the OpenAPI file has no answer schema (vendors,
sub jobs), the SDK's is used; each shape names its file. The choices are in
docs/decisions.md, "Sandbox projects, vendors and syncs follow Procore's schemas".
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from functools import partial
from typing import Any

import pytest

from chalicelib.adapters import procore as procore_adapter
from chalicelib.adapters.procore import UrllibTransport
from chalicelib.services.origins import ORIGIN_WRITERS
from devstack.procore_sandbox import ProcoreSandbox
from tests.contract import shapes
from tests.contract.shapes import (  # noqa: F401 - token_fixture registers the fixture
    BOOL,
    DATE,
    DATETIME,
    DECIMAL,
    INT,
    NUM,
    OBJECT,
    STR,
    Recorder,
    Shape,
    call,
    client_for,
    request_problems,
    sync_answer,
    token_fixture,
)
from tests.fixtures_sandbox import (  # noqa: F401 - the *_fixture imports register fixtures
    COMPANY_ID,
    HttpAnswer,
    demo_fixture,
    sandbox_fixture,
)

#: keys never null in an answer: a record always has them
NEVER_NULL = frozenset({"id", "created_at", "updated_at"})
shape_problems = partial(shapes.shape_problems, never_null=NEVER_NULL)
assert_shape = partial(shapes.assert_shape, never_null=NEVER_NULL)


# --- documented answers ----------------------------------------------------------------------
# sdk/RestV10VendorsPost.json (request ``vendor.bidding``), the same 13 flags in every answer
BIDDING = {
    "affirmative_action": BOOL,
    "small_business": BOOL,
    "african_american_business": BOOL,
    "hispanic_business": BOOL,
    "womens_business": BOOL,
    "historically_underutilized_business": BOOL,
    "sdvo_business": BOOL,
    "certified_business_enterprise": BOOL,
    "asian_american_business": BOOL,
    "native_american_business": BOOL,
    "disadvantaged_business": BOOL,
    "minority_business_enterprise": BOOL,
    "eight_a_business": BOOL,
}

# openapi/RestV10ProjectsIdGet.json (200); the same keys answer RestV10ProjectsPost.json (201)
# and RestV10ProjectsIdPatch.json (200). ``custom_fields`` is keyed by definition id.
PROJECT = {
    "id": INT,
    "logo_id": INT,
    "logo_url": STR,
    "name": STR,
    "is_demo": BOOL,
    "template": BOOL,
    "display_name": STR,
    "project_number": STR,
    "address": STR,
    "city": STR,
    "state_code": STR,
    "country_code": STR,
    "zip": STR,
    "time_zone": STR,
    "tz_name": STR,
    "latitude": NUM,
    "longitude": NUM,
    "county": STR,
    "parent_job_id": INT,
    "parent_job": {"id": INT, "name": STR},
    "from_project_template_id": INT,
    "description": STR,
    "square_feet": INT,
    "start_date": DATE,
    "completion_date": DATE,
    "total_value": DECIMAL,
    "store_number": STR,
    "accounting_project_number": STR,
    "designated_market_area": STR,
    "warranty_start_date": DATE,
    "warranty_end_date": DATE,
    "active": BOOL,
    "flag": STR,
    "locale": STR,
    "phone": STR,
    "public_notes": STR,
    "actual_start_date": DATE,
    "projected_finish_date": DATE,
    "created_at": DATETIME,
    "updated_at": DATETIME,
    "origin_id": STR,
    "origin_data": STR,
    "origin_code": STR,
    "standard_cost_code_list_id": INT,
    "is_erp_integrated": BOOL,
    "owners_project_id": INT,
    "photo_id": INT,
    "photo_url": STR,
    "inbound_email": STR,
    "inbound_email_address": STR,
    "estimated_start_date": DATE,
    "estimated_completion_date": DATE,
    "estimated_value": DECIMAL,
    "code": STR,
    "sector": STR,
    "work_scope": STR,
    "delivery_method": STR,
    "created_by": {"id": INT, "name": STR, "login": STR},
    "persistent_message": {"title": STR, "message": STR},
    "office": {
        "id": INT,
        "name": STR,
        "address": STR,
        "city": STR,
        "state_code": STR,
        "country_code": STR,
        "zip": STR,
        "phone": STR,
        "fax": STR,
        "division": STR,
        "logo": {"id": INT, "name": STR, "url": STR},
    },
    "project_bid_type_id": INT,
    "project_bid_type": {"id": INT, "name": STR},
    "project_owner_type_id": INT,
    "project_owner_type": {"id": INT, "name": STR},
    "project_region_id": INT,
    "project_region": {"id": INT, "name": STR},
    "project_stage_id": INT,
    "project_stage": {"id": INT, "name": STR},
    "project_type": {"id": INT, "name": STR},
    "program": {"id": INT, "name": STR},
    "departments": [{"id": INT, "name": STR}],
    "company": {"id": INT, "name": STR},
    "dictionary_type": STR,
    "custom_fields": OBJECT,
    "project_sector_id": INT,
}

# openapi/RestV10ProjectsGet.json (200, items)
PROJECT_LIST_ITEM = {
    "id": INT,
    "name": STR,
    "is_demo": BOOL,
    "parent_job_id": INT,
    "parent_job": {"id": INT, "name": STR},
    "display_name": STR,
    "project_number": STR,
    "address": STR,
    "city": STR,
    "state_code": STR,
    "country_code": STR,
    "zip": STR,
    "county": STR,
    "time_zone": STR,
    "latitude": NUM,
    "longitude": NUM,
    "stage": STR,
    "project_stage": {"id": INT, "name": STR},
    "project_template": {"id": INT, "name": STR},
    "phone": STR,
    "created_at": DATETIME,
    "updated_at": DATETIME,
    "active": BOOL,
    "origin_id": STR,
    "origin_data": STR,
    "origin_code": STR,
    "owners_project_id": INT,
    "total_value": DECIMAL,
    "store_number": STR,
    "accounting_project_number": STR,
    "designated_market_area": STR,
    "project_region_id": INT,
    "project_bid_type_id": INT,
    "project_owner_type_id": INT,
    "photo_id": INT,
    "start_date": DATE,
    "completion_date": DATE,
    "projected_finish_date": DATE,
    "estimated_value": DECIMAL,
    "fax": STR,
    "sector": STR,
    "work_scope": STR,
    "delivery_method": STR,
    "estimated_budget": NUM,
    "priority": STR,
    "company": {"id": INT, "name": STR},
    "created_by": {"id": INT, "name": STR, "login": STR},
    "custom_fields": OBJECT,
    "project_sector_id": INT,
}

# openapi/RestV10ProjectsSyncPatch.json (200, ``entities`` items); its nested objects are
# cut there ("(nested object)") and taken from RestV10ProjectsIdGet.json
PROJECT_SYNC_ENTITY = {
    "id": INT,
    "logo_url": STR,
    "name": STR,
    "display_name": STR,
    "project_number": STR,
    "address": STR,
    "city": STR,
    "state_code": STR,
    "country_code": STR,
    "zip": STR,
    "time_zone": STR,
    "latitude": NUM,
    "longitude": NUM,
    "description": STR,
    "square_feet": INT,
    "start_date": DATE,
    "completion_date": DATE,
    "total_value": DECIMAL,
    "store_number": STR,
    "accounting_project_number": STR,
    "designated_market_area": STR,
    "warranty_start_date": DATE,
    "warranty_end_date": DATE,
    "active": BOOL,
    "flag": STR,
    "phone": STR,
    "public_notes": STR,
    "actual_start_date": DATE,
    "projected_finish_date": DATE,
    "created_at": DATETIME,
    "updated_at": DATETIME,
    "origin_id": STR,
    "origin_data": STR,
    "origin_code": STR,
    "estimated_start_date": DATE,
    "estimated_completion_date": DATE,
    "estimated_value": DECIMAL,
    "office": {"id": INT, "name": STR},
    "project_bid_type_id": INT,
    "project_owner_type_id": INT,
    "project_region_id": INT,
    "project_stage": {"id": INT, "name": STR},
    "project_type": {"id": INT, "name": STR},
    "program": {"id": INT, "name": STR},
    "departments": [{"id": INT, "name": STR}],
    "sector": STR,
    "work_scope": STR,
    "delivery_method": STR,
    "estimated_budget": NUM,
    "priority": STR,
    "project_sector_id": INT,
}

# openapi/RestV10VendorsIdBusinessRegisterPost.json (201) = ...Patch.json (200)
REGISTER = {
    "id": INT,
    "type": STR,
    "identifier": STR,
    "verified_at": DATETIME,
    "verification_status": STR,
}

# sdk/RestV10VendorsGet.json (items: RestV10VendorsGet200ResponseInner); the same model
# answers sdk/RestV10VendorsPost.json (201), ...IdPatch.json (200) and ...SyncPatch.json
# (entities). The OpenAPI files give no answer schema for vendors.
VENDOR = {
    "id": INT,
    "name": STR,
    "abbreviated_name": STR,
    "address": STR,
    "attachments": [{"id": INT, "url": STR, "name": STR, "filename": STR}],
    "authorized_bidder": BOOL,
    "business_id": STR,
    "business_phone": STR,
    "business_register": REGISTER,
    "city": STR,
    "contact_count": INT,
    "company": STR,
    "country_code": STR,
    "created_at": DATETIME,
    "email_address": STR,
    "fax_number": STR,
    "is_active": BOOL,
    "is_connected": BOOL,
    "labor_union": STR,
    "license_number": STR,
    "logo": STR,
    "mobile_phone": STR,
    "non_union_prevailing_wage": BOOL,
    "notes": STR,
    "origin_code": STR,
    "origin_data": STR,
    "origin_id": STR,
    "prequalified": BOOL,
    "primary_contact": {
        "id": INT,
        "first_name": STR,
        "last_name": STR,
        "business_phone": STR,
        "business_phone_extension": INT,
        "fax_number": STR,
        "mobile_phone": STR,
        "email_address": STR,
        "created_at": DATETIME,
        "updated_at": DATETIME,
    },
    "state_code": STR,
    "synced_to_erp": BOOL,
    "trade_name": STR,
    "union_member": BOOL,
    "updated_at": DATETIME,
    "vendor_group": {"id": INT, "name": STR},
    "website": STR,
    "zip": STR,
    "bidding": BIDDING,
    "bidding_distribution": [{"company_name": STR, "id": INT, "login": STR, "name": STR}],
    "children_count": INT,
    "company_vendor": BOOL,
    "legal_name": STR,
    "parent": {"id": INT, "name": STR},
    "project_ids": [INT],
    "standard_cost_codes": [{
        "id": INT,
        "standard_cost_code_list_id": INT,
        "parent_id": INT,
        "code": STR,
        "full_code": STR,
        "name": STR,
        "origin_data": STR,
        "origin_id": STR,
    }],
    "trades": [{"id": INT, "name": STR, "active": BOOL, "updated_at": DATETIME}],
}

# sdk/RestV10VendorsIdGet.json: the list's keys, but ``business_id`` an integer and a fuller
# ``bidding_distribution``, and more
VENDOR_SHOW = {
    **VENDOR,
    "business_id": INT,
    "origin_custom_fields": [STR],
    "erp_custom_fields": [STR],
    "bidding_distribution": [{
        "company_name": STR,
        "contact_id": INT,
        "login": STR,
        "id": INT,
        "is_active": BOOL,
        "name": STR,
    }],
    "business": {
        "id": STR,
        "name": STR,
        "dba": STR,
        "logo_url": STR,
        "primary_slug": STR,
        "construction_sectors": [STR],
        "business_types": [STR],
        "provided_services": [{"id": STR, "key": STR, "path": STR, "level": STR}],
        "avg_contract_size": {"start": INT, "end": INT},
        "company_size": {"start": INT, "end": INT},
    },
    "contract_signer": {
        "id": INT,
        "company_name": STR,
        "contact_id": INT,
        "is_active": BOOL,
        "login": STR,
        "name": STR,
    },
    "country_name": STR,
    "state_name": STR,
    "invoice_contacts": [{"id": INT, "name": STR}],
    "active_users_count": INT,
    "bids_count": INT,
    "open_bids_count": INT,
    "projects_count": INT,
}

# sdk/RestV10SubJobsGet.json (items); the same model answers ...IdGet.json, ...Post.json (201),
# ...IdPatch.json (200) and ...SyncPatch.json (entities)
SUB_JOB = {
    "origin_id": STR,
    "origin_data": STR,
    "created_at": STR,
    "updated_at": STR,
    "id": INT,
    "name": STR,
    "code": STR,
}


# --- documented request schemas --------------------------------------------------------------
# openapi/RestV10ProjectsPost.json, request body
PROJECT_CREATE_REQUEST = {
    "company_id": INT,
    "project": {
        "active": BOOL,
        "address": STR,
        "city": STR,
        "code": STR,
        "country_code": STR,
        "description": STR,
        "start_date": DATE,
        "completion_date": DATE,
        "total_value": NUM,
        "warranty_start_date": DATE,
        "warranty_end_date": DATE,
        "flag": STR,
        "image_id": INT,
        "locale": STR,
        "name": STR,
        "office_id": INT,
        "phone": STR,
        "project_number": STR,
        "public_notes": STR,
        "project_stage_id": INT,
        "square_feet": INT,
        "state_code": STR,
        "time_zone": STR,
        "zip": STR,
        "parent_job_id": INT,
        "program_id": INT,
        "project_bid_type_id": INT,
        "project_type_id": INT,
        "project_owner_type_id": INT,
        "project_region_id": INT,
        "project_template_id": INT,
        "origin_id": STR,
        "origin_data": STR,
        "origin_code": STR,
        "override_start_date": DATE,
        "override_start_date_check": BOOL,
        "override_end_date": DATE,
        "override_end_date_check": BOOL,
        "department_ids": [INT],
        "estimated_value": NUM,
        "estimated_start_date": DATE,
        "estimated_completion_date": DATE,
        "store_number": STR,
        "accounting_project_number": STR,
        "designated_market_area": STR,
        "erp_integrated": BOOL,
        "latitude": NUM,
        "longitude": NUM,
        "enable_copy_of_standard_cost_codes": BOOL,
        "sector": STR,
        "work_scope": STR,
        "delivery_method": STR,
        "estimated_budget": NUM,
        "priority": STR,
        "currency_configuration": {"currency_iso_code": STR, "exchange_rate_override": NUM},
        "project_sector_id": INT,
    },
}

# openapi/RestV10ProjectsIdPatch.json, request body (custom_field_%{id} keys left out: the
# company has no custom fields)
PROJECT_UPDATE_REQUEST = {
    "company_id": INT,
    "project": {
        "active": BOOL,
        "address": STR,
        "city": STR,
        "country_code": STR,
        "county": STR,
        "description": STR,
        "erp_integrated": BOOL,
        "standard_cost_code_list_id": INT,
        "start_date": DATE,
        "completion_date": DATE,
        "total_value": NUM,
        "warranty_start_date": DATE,
        "warranty_end_date": DATE,
        "fax": STR,
        "flag": STR,
        "image_id": INT,
        "locale": STR,
        "name": STR,
        "office_id": INT,
        "phone": STR,
        "project_number": STR,
        "public_notes": STR,
        "project_stage_id": INT,
        "square_feet": INT,
        "state_code": STR,
        "time_zone": STR,
        "zip": STR,
        "parent_job_id": INT,
        "program_id": INT,
        "project_bid_type_id": INT,
        "project_type_id": INT,
        "project_owner_type_id": INT,
        "project_region_id": INT,
        "project_template_id": INT,
        "origin_id": STR,
        "origin_data": STR,
        "origin_code": STR,
        "department_ids": [INT],
        "estimated_value": NUM,
        "estimated_start_date": DATE,
        "estimated_completion_date": DATE,
        "store_number": STR,
        "accounting_project_number": STR,
        "designated_market_area": STR,
        "sector": STR,
        "work_scope": STR,
        "delivery_method": STR,
        "project_sector_id": INT,
    },
}

# openapi/RestV10ProjectsSyncPatch.json, request body: no origin_code
PROJECT_SYNC_REQUEST = {
    "company_id": INT,
    "updates": [{
        "id": INT,
        "active": BOOL,
        "address": STR,
        "city": STR,
        "country_code": STR,
        "description": STR,
        "start_date": DATE,
        "completion_date": DATE,
        "total_value": NUM,
        "warranty_start_date": DATE,
        "warranty_end_date": DATE,
        "flag": STR,
        "image_id": INT,
        "name": STR,
        "office_id": INT,
        "phone": STR,
        "project_number": STR,
        "public_notes": STR,
        "project_stage_id": INT,
        "square_feet": INT,
        "state_code": STR,
        "time_zone": STR,
        "zip": STR,
        "program_id": INT,
        "project_bid_type_id": INT,
        "project_type_id": INT,
        "project_owner_type_id": INT,
        "project_region_id": INT,
        "project_template_id": INT,
        "origin_id": STR,
        "origin_data": STR,
        "department_ids": [INT],
        "estimated_value": NUM,
        "estimated_start_date": DATE,
        "estimated_completion_date": DATE,
        "store_number": STR,
        "accounting_project_number": STR,
        "designated_market_area": STR,
        "enable_copy_of_standard_cost_codes": BOOL,
        "sector": STR,
        "work_scope": STR,
        "delivery_method": STR,
        "estimated_budget": NUM,
        "priority": STR,
        "project_sector_id": INT,
    }],
}

# openapi/RestV10VendorsPost.json = RestV10VendorsIdPatch.json, request body
VENDOR_REQUEST = {
    "company_id": INT,
    "vendor": {
        "name": STR,
        "address": STR,
        "city": STR,
        "zip": STR,
        "business_phone": STR,
        "mobile_phone": STR,
        "fax_number": STR,
        "email_address": STR,
        "is_active": BOOL,
        "state_code": STR,
        "authorized_bidder": BOOL,
        "prequalified": BOOL,
        "country_code": STR,
        "labor_union": STR,
        "license_number": STR,
        "website": STR,
        "union_member": BOOL,
        "non_union_prevailing_wage": BOOL,
        "abbreviated_name": STR,
        "notes": STR,
        "vendor_group_id": INT,
        "parent_id": INT,
        "primary_contact_id": INT,
        "origin_id": STR,
        "origin_data": STR,
        "origin_code": STR,
        "trade_ids": [INT],
        "bidding_distribution_ids": [INT],
        "standard_cost_code_ids": [INT],
        "trade_name": STR,
        "bidding": BIDDING,
    },
}

# openapi/RestV10VendorsSyncPatch.json, request body (the nested types it cuts come from
# RestV10VendorsPost.json and RestV10VendorsIdBusinessRegisterPost.json)
VENDOR_SYNC_REQUEST = {
    "company_id": INT,
    "updates": [{
        "id": INT,
        "name": STR,
        "address": STR,
        "city": STR,
        "zip": STR,
        "business_phone": STR,
        "mobile_phone": STR,
        "fax_number": STR,
        "email_address": STR,
        "is_active": BOOL,
        "state_code": STR,
        "authorized_bidder": BOOL,
        "prequalified": BOOL,
        "country_code": STR,
        "labor_union": STR,
        "license_number": STR,
        "website": STR,
        "union_member": BOOL,
        "non_union_prevailing_wage": BOOL,
        "abbreviated_name": STR,
        "notes": STR,
        "vendor_group_id": INT,
        "parent_id": INT,
        "primary_contact_id": INT,
        "origin_id": STR,
        "origin_data": STR,
        "origin_code": STR,
        "trade_ids": [INT],
        "bidding_distribution_ids": [INT],
        "standard_cost_code_ids": [INT],
        "trade_name": STR,
        "bidding": BIDDING,
        "business_register_attributes": {"type": STR, "identifier": STR},
        "origin_custom_fields": OBJECT,
    }],
}

# openapi/RestV10SubJobsPost.json = RestV10SubJobsIdPatch.json, request body
SUB_JOB_REQUEST = {
    "project_id": INT,
    "sub_job": {"name": STR, "code": STR, "origin_id": STR, "origin_data": STR},
}

# openapi/RestV10SubJobsSyncPatch.json, request body (``project_id`` also a required query
# parameter)
SUB_JOB_SYNC_REQUEST = {
    "project_id": INT,
    "updates": [{"id": INT, "name": STR, "code": STR, "origin_id": STR, "origin_data": STR}],
}

# openapi/RestV10VendorsIdBusinessRegisterPost.json = ...Patch.json, request body
# (``company_id`` a required query parameter)
REGISTER_REQUEST = {"business_register": {"type": STR, "identifier": STR}}


# --- helpers -------------------------------------------------------------------------------
PROJECTS = "/rest/v1.0/projects"
VENDORS = "/rest/v1.0/vendors"
SUB_JOBS = "/rest/v1.0/sub_jobs"
#: the per-update error of an unknown id (procore-spec/docs/conventions.json, sync)
ENTITY_NOT_FOUND = "Entity with this ID not found"
#: openapi/RestV10VendorsIdBusinessRegisterPost.json, 409
REGISTER_TAKEN = "A Business Register is already associated with the Vendor."
#: Per-Page and Total on every list (sdk/RestV10ProjectsGet.json, RestV10VendorsGet.json,
#: RestV10SubJobsGet.json response headers), Link when there is another page
#: (procore-spec/docs/conventions.json, pagination)
LIST_HEADERS = ("Total", "Per-Page")


def _list(box: ProcoreSandbox, token: str, path: str) -> HttpAnswer:
    answer = call(box, token, "GET", path)
    assert answer.status == 200, answer.body
    assert isinstance(answer.body, list) and answer.body, path
    for name in LIST_HEADERS:
        assert answer.headers[name].isdigit(), (path, name)
    return answer


# What the create schemas take, of every kind (openapi/RestV10ProjectsPost.json)
FULL_PROJECT = {
    "name": "Harbor Point Clinic",
    "project_number": "2025-010",
    "code": "HPC",
    "active": True,
    "address": "1 Harbor Way",
    "city": "Stockton",
    "state_code": "CA",
    "zip": "95202",
    "country_code": "US",
    "description": "Two-storey clinic",
    "phone": "209-555-0100",
    "public_notes": "Gate code at the trailer",
    "time_zone": "Pacific Time (US & Canada)",
    "locale": "en",
    "start_date": "2025-03-01",
    "completion_date": "2026-06-30",
    "warranty_start_date": "2026-07-01",
    "warranty_end_date": "2027-06-30",
    "total_value": 1250000,
    "square_feet": 42000,
    "flag": "Green",
    "latitude": 37.95,
    "longitude": -121.29,
    "store_number": "S-17",
    "accounting_project_number": "A-2025-010",
    "designated_market_area": "Sacramento-Stockton-Modesto",
    "sector": "Healthcare",
    "work_scope": "new_construction",
    "delivery_method": "design_bid_build_dbb",
    "estimated_budget": 1100000.5,
    "priority": "high",
    "erp_integrated": True,
    "enable_copy_of_standard_cost_codes": False,
    "department_ids": [],
    "currency_configuration": {"currency_iso_code": "USD"},
    "origin_id": "2025010",
    "origin_code": "2025-010",
    "origin_data": "job:2025010",
}

# What the vendor schemas take, of every kind (openapi/RestV10VendorsPost.json)
FULL_VENDOR = {
    "name": "Delta Glass & Glazing",
    "abbreviated_name": "DGG",
    "address": "9 Pane St",
    "city": "Fresno",
    "state_code": "CA",
    "zip": "93701",
    "country_code": "US",
    "business_phone": "559-555-0100",
    "mobile_phone": "559-555-0101",
    "fax_number": "559-555-0102",
    "email_address": "ap@deltaglass.example",
    "website": "https://deltaglass.example",
    "notes": "glazing, storefronts",
    "labor_union": "Glaziers 767",
    "license_number": "C17-123456",
    "trade_name": "Delta Glass",
    "is_active": True,
    "authorized_bidder": True,
    "prequalified": False,
    "union_member": True,
    "non_union_prevailing_wage": False,
    "bidding": {"small_business": True},
    "trade_ids": [],
    "standard_cost_code_ids": [],
    "origin_id": "4010",
    "origin_code": "4010",
    "origin_data": "vendor:4010",
}


# --- projects ------------------------------------------------------------------------------
def test_project_endpoints_answer_the_documented_shapes(
    sandbox: ProcoreSandbox, demo: dict[str, Any], token: str
) -> None:
    created = call(sandbox, token, "POST", PROJECTS,
                   {"company_id": COMPANY_ID, "project": FULL_PROJECT})
    assert created.status == 201, created.body
    assert_shape(created.body, PROJECT, "POST /projects 201")
    project = created.body
    # money is text; the deprecated names mirror their replacements
    assert (project["total_value"], project["estimated_value"]) == ("1250000.0", "1250000.0")
    assert (project["start_date"], project["estimated_start_date"]) == ("2025-03-01",) * 2
    assert project["is_erp_integrated"] is True and project["company"]["id"] == COMPANY_ID
    assert (project["origin_id"], project["origin_code"]) == ("2025010", "2025-010")

    path = f"{PROJECTS}/{project['id']}"
    patched = call(sandbox, token, "PATCH", path, {"company_id": COMPANY_ID, "project": {
        "county": "San Joaquin", "fax": "209-555-0199", "origin_code": "2025-010A",
        "standard_cost_code_list_id": demo["standard_cost_code_list_id"]}})
    assert patched.status == 200, patched.body
    assert_shape(patched.body, PROJECT, "PATCH /projects/{id} 200")
    assert patched.body["origin_code"] == "2025-010A"
    shown = call(sandbox, token, "GET", f"{path}?company_id={COMPANY_ID}")
    assert shown.status == 200
    assert_shape(shown.body, PROJECT, "GET /projects/{id}")
    assert shown.body == patched.body

    listed = _list(sandbox, token, f"{PROJECTS}?company_id={COMPANY_ID}&per_page=2")
    for item in listed.body:
        assert_shape(item, PROJECT_LIST_ITEM, "GET /projects item")
    assert listed.headers["Total"] == "3" and listed.headers["Per-Page"] == "2"
    assert 'rel="next"' in listed.headers["Link"]
    compact = _list(sandbox, token, f"{PROJECTS}?company_id={COMPANY_ID}&serializer_view=compact")
    # "The 'compact' view only returns id, name and display_name."
    assert {tuple(item) for item in compact.body} == {("id", "name", "display_name")}

    synced = call(sandbox, token, "PATCH", f"{PROJECTS}/sync", {
        "company_id": COMPANY_ID,
        "updates": [{"id": project["id"], "name": "Harbor Point"}, {"id": 999_999}]})
    assert synced.status == 200, synced.body
    assert_shape(synced.body, sync_answer(PROJECT_SYNC_ENTITY), "PATCH /projects/sync")
    assert len(synced.body["entities"]) == len(synced.body["errors"]) == 1


def test_projects_sync_refuses_origin_code_which_only_patch_takes(
    sandbox: ProcoreSandbox, demo: dict[str, Any], token: str
) -> None:
    """The projects sync schema has no origin_code (create and update have): the sandbox
    refuses the update, so a connector sending it finds out instead of losing the code."""
    main = demo["project_ids"]["main"]
    update = {"id": main, "origin_id": "24001", "origin_code": "24001"}
    answer = call(sandbox, token, "PATCH", f"{PROJECTS}/sync",
                  {"company_id": COMPANY_ID, "updates": [update]})
    assert answer.status == 200
    assert answer.body == {"entities": [], "errors": [
        {**update, "errors": {"origin_code": ["is not a permitted attribute"]}}]}
    unchanged = call(sandbox, token, "GET", f"{PROJECTS}/{main}?company_id={COMPANY_ID}").body
    assert (unchanged["origin_id"], unchanged["origin_code"]) == (None, None)  # nothing written

    patched = call(sandbox, token, "PATCH", f"{PROJECTS}/{main}", {
        "company_id": COMPANY_ID, "project": {"origin_id": "24001", "origin_code": "24001"}})
    assert patched.status == 200, patched.body
    assert (patched.body["origin_id"], patched.body["origin_code"]) == ("24001", "24001")

    # the vendors sync documents origin_code
    concrete = demo["vendor_ids"]["concrete"]
    vendors = call(sandbox, token, "PATCH", f"{VENDORS}/sync", {"company_id": COMPANY_ID,
                   "updates": [{"id": concrete, "origin_id": "3001", "origin_code": "GBC"}]})
    assert [(e["id"], e["origin_code"]) for e in vendors.body["entities"]] == [(concrete, "GBC")]


# --- the sync rules, every resource --------------------------------------------------------
SYNC_CASES = {
    # resource: (sync path, scope body, list path, one field of its own beside the name)
    "projects": (f"{PROJECTS}/sync", {"company_id": COMPANY_ID},
                 f"{PROJECTS}/{{id}}?company_id={COMPANY_ID}", {"city": "Lodi"}),
    "vendors": (f"{VENDORS}/sync", {"company_id": COMPANY_ID},
                f"{VENDORS}/{{id}}?company_id={COMPANY_ID}", {"city": "Lodi"}),
    "sub_jobs": (f"{SUB_JOBS}/sync?project_id={{project}}", {"project_id": "{project}"},
                 f"{SUB_JOBS}/{{id}}?project_id={{project}}", {"code": "7"}),
}


@pytest.mark.parametrize("resource", sorted(SYNC_CASES))
def test_sync_applies_each_update_whole_and_creates_as_procore_documents(
    sandbox: ProcoreSandbox, demo: dict[str, Any], token: str, resource: str
) -> None:
    """procore-spec/docs/conventions.json, sync: "ID / Yes: Resource is updated with the
    request body"; "Origin ID / No: Resource is created with the request body"; "Neither ID
    nor Origin ID supplied: A new resource without an origin id is created"; "ID / No:
    Error is returned" ("Entity with this ID not found")."""
    main = demo["project_ids"]["main"]
    path, scope, show, own = SYNC_CASES[resource]
    path = path.format(project=main)
    scope = {k: main if v == "{project}" else v for k, v in scope.items()}
    existing = {"projects": main, "vendors": demo["vendor_ids"]["steel"],
                "sub_jobs": sandbox.add_sub_job(main, "Phase 1", code="1")["id"]}[resource]
    ghost = {"id": 999_999, "name": "ghost"}
    updates = [
        {"id": existing, "name": "Renamed by id", **own},
        {"origin_id": "S-1", "name": "Made by origin id"},
        {"origin_id": "S-1", "name": "Renamed by origin id"},
        {"name": "Made without ids"},
        ghost,
    ]
    answer = call(sandbox, token, "PATCH", path, {**scope, "updates": updates})
    assert answer.status == 200, answer.body
    entities, errors = answer.body["entities"], answer.body["errors"]
    assert [(e["name"], e["origin_id"]) for e in entities] == [
        ("Renamed by id", None),
        ("Made by origin id", "S-1"),
        ("Renamed by origin id", "S-1"),
        ("Made without ids", None),
    ]
    assert entities[0]["id"] == existing and entities[1]["id"] == entities[2]["id"]
    assert len({e["id"] for e in entities}) == 3
    assert errors == [{**ghost, "errors": {"id": [ENTITY_NOT_FOUND]}}]
    shown = call(sandbox, token, "GET", show.format(id=existing, project=main)).body
    assert {k: shown[k] for k in ("name", *own)} == {"name": "Renamed by id", **own}

    # a request without updates is refused whole, with the documented 400
    missing = call(sandbox, token, "PATCH", path, scope)
    assert missing.status == 400, missing.body


def test_undocumented_keys_and_refusals_answer_the_documented_status(
    sandbox: ProcoreSandbox, demo: dict[str, Any], token: str
) -> None:
    main = demo["project_ids"]["main"]
    project = call(sandbox, token, "POST", PROJECTS,
                   {"company_id": COMPANY_ID, "project": {"name": "X", "erp_flavour": 1}})
    # openapi/RestV10ProjectsPost.json documents 422
    assert (project.status, project.body["errors"]) == (
        422, {"erp_flavour": ["is not a permitted attribute"]})
    # openapi/RestV10VendorsPost.json documents 400 and no 422; the business register is
    # not part of the vendor body (only of a sync update)
    vendor = call(sandbox, token, "POST", VENDORS, {"company_id": COMPANY_ID, "vendor": {
        "name": "X", "business_register_attributes": {"type": "ein", "identifier": "1"}}})
    assert (vendor.status, vendor.body["errors"]) == (
        400, {"business_register_attributes": ["is not a permitted attribute"]})
    nameless = call(sandbox, token, "POST", VENDORS,
                    {"company_id": COMPANY_ID, "vendor": {"abbreviated_name": "X"}})
    assert (nameless.status, nameless.body["errors"]) == (400, {"name": ["can't be blank"]})
    # openapi/RestV10SubJobsPost.json: 400 "Can not create Sub Job due to errors."
    sub_job = call(sandbox, token, "POST", SUB_JOBS, {"project_id": main, "sub_job": {
        "name": "Phase 9", "code": 9, "origin_code": "9"}})
    assert (sub_job.status, sub_job.body["errors"]) == (
        400, {"code": ["is invalid"], "origin_code": ["is not a permitted attribute"]})
    # a sync refuses such an update alone: "code" is a create-only project field
    synced = call(sandbox, token, "PATCH", f"{PROJECTS}/sync",
                  {"company_id": COMPANY_ID, "updates": [{"id": main, "code": "X"}]})
    assert synced.body["errors"][0]["errors"] == {"code": ["is not a permitted attribute"]}
    assert len(sandbox.state.projects) == 2 and len(sandbox.state.sub_jobs) == 0


# --- vendors and the business register -----------------------------------------------------
def test_vendor_and_business_register_endpoints_answer_the_documented_shapes(
    sandbox: ProcoreSandbox, demo: dict[str, Any], token: str
) -> None:
    parent = demo["vendor_ids"]["concrete"]
    body = {"company_id": COMPANY_ID, "vendor": {**FULL_VENDOR, "parent_id": parent}}
    created = call(sandbox, token, "POST", VENDORS, body)
    assert created.status == 201, created.body
    assert_shape(created.body, VENDOR, "POST /vendors 201")
    vendor = created.body
    assert vendor["bidding"]["small_business"] is True and vendor["parent"]["id"] == parent
    assert vendor["business_register"] is None

    path = f"{VENDORS}/{vendor['id']}"
    patched = call(sandbox, token, "PATCH", path,
                   {"company_id": COMPANY_ID, "vendor": {"is_active": False, "notes": None}})
    assert patched.status == 200, patched.body
    assert_shape(patched.body, VENDOR, "PATCH /vendors/{id} 200")
    assert (patched.body["is_active"], patched.body["notes"]) == (False, None)

    register_path = f"{path}/business_register?company_id={COMPANY_ID}"
    posted = call(sandbox, token, "POST", register_path,
                  {"business_register": {"type": "ein", "identifier": "68-0000001"}})
    assert posted.status == 201, posted.body
    assert_shape(posted.body, REGISTER, "POST /vendors/{id}/business_register 201")
    changed = call(sandbox, token, "PATCH", register_path,
                   {"business_register": {"identifier": "68-0000002"}})
    assert changed.status == 200, changed.body
    assert_shape(changed.body, REGISTER, "PATCH /vendors/{id}/business_register 200")
    assert (changed.body["id"], changed.body["type"], changed.body["identifier"]) == (
        posted.body["id"], "ein", "68-0000002")

    shown = call(sandbox, token, "GET", f"{path}?company_id={COMPANY_ID}")
    assert shown.status == 200
    assert_shape(shown.body, VENDOR_SHOW, "GET /vendors/{id}")
    assert shown.body["business_register"] == changed.body
    listed = _list(sandbox, token, f"{VENDORS}?company_id={COMPANY_ID}")
    for item in listed.body:
        assert_shape(item, VENDOR, "GET /vendors item")
    assert next(v for v in listed.body if v["id"] == parent)["children_count"] == 1

    synced = call(sandbox, token, "PATCH", f"{VENDORS}/sync", {"company_id": COMPANY_ID,
                  "updates": [{"id": vendor["id"], "business_register_attributes": {
                      "type": "ein", "identifier": "68-0000003"}}, {"id": 999_999}]})
    assert synced.status == 200, synced.body
    assert_shape(synced.body, sync_answer(VENDOR), "PATCH /vendors/sync")
    (entity,) = synced.body["entities"]
    assert entity["business_register"]["id"] == posted.body["id"]  # updated, not replaced
    assert entity["business_register"]["identifier"] == "68-0000003"


def test_a_second_business_register_post_conflicts_and_patch_changes_it(
    sandbox: ProcoreSandbox, demo: dict[str, Any], token: str
) -> None:
    """openapi/RestV10VendorsIdBusinessRegisterPost.json: 409 "A Business Register is already
    associated with the Vendor."; ...Patch.json: 404 when the Vendor has none."""
    steel = demo["vendor_ids"]["steel"]
    path = f"{VENDORS}/{steel}/business_register?company_id={COMPANY_ID}"
    first = {"business_register": {"type": "ein", "identifier": "68-0000001"}}
    second = {"business_register": {"type": "ein", "identifier": "68-0000002"}}

    no_register = call(sandbox, token, "PATCH", path, second)
    assert no_register.status == 404, no_register.body
    assert call(sandbox, token, "POST", path, first).status == 201
    again = call(sandbox, token, "POST", path, second)
    assert (again.status, again.body) == (409, {"errors": REGISTER_TAKEN})
    assert sandbox.state.vendors[steel]["business_register"]["identifier"] == "68-0000001"
    changed = call(sandbox, token, "PATCH", path, second)
    assert (changed.status, changed.body["identifier"]) == (200, "68-0000002")

    no_company = call(sandbox, token, "POST", f"{VENDORS}/{steel}/business_register", first)
    assert no_company.status == 400  # company_id is a required query parameter
    bad = call(sandbox, token, "PATCH", path, {"business_register": {"type": "ssn"}})
    assert (bad.status, bad.body["errors"]) == (422, {"type": ["is not included in the list"]})


def test_the_tax_id_change_goes_post_409_patch_and_ends_with_the_new_id(
    sandbox: ProcoreSandbox, demo: dict[str, Any]
) -> None:
    recorder = Recorder()
    client = client_for(sandbox, recorder)
    concrete = demo["vendor_ids"]["concrete"]  # seeded with an EIN
    path = f"{VENDORS}/{concrete}/business_register"
    register = client.set_vendor_tax_id(concrete, "ein", "94-7654321")
    assert recorder.calls(path) == [("POST", 409), ("PATCH", 200)]
    assert_shape(register, REGISTER, "set_vendor_tax_id answer")
    assert client.get_vendor(concrete)["business_register"]["identifier"] == "94-7654321"

    steel = demo["vendor_ids"]["steel"]  # none yet: the POST alone
    client.set_vendor_tax_id(steel, "ein", "68-0000001")
    assert recorder.calls(f"{VENDORS}/{steel}/business_register") == [("POST", 201)]


# --- sub jobs --------------------------------------------------------------------------------
def test_sub_job_endpoints_answer_the_documented_shapes(
    sandbox: ProcoreSandbox, demo: dict[str, Any], token: str
) -> None:
    main = demo["project_ids"]["main"]
    created = call(sandbox, token, "POST", SUB_JOBS, {"project_id": main, "sub_job": {
        "name": "Phase 1 - Shell", "code": "1", "origin_id": "24001-1", "origin_data": "p1"}})
    assert created.status == 201, created.body
    assert_shape(created.body, SUB_JOB, "POST /sub_jobs 201")
    path = f"{SUB_JOBS}/{created.body['id']}"

    shown = call(sandbox, token, "GET", f"{path}?project_id={main}")
    assert shown.status == 200 and shown.body == created.body
    patched = call(sandbox, token, "PATCH", path,
                   {"project_id": main, "sub_job": {"name": "Phase 1 - Shell & Core"}})
    assert patched.status == 200, patched.body
    assert_shape(patched.body, SUB_JOB, "PATCH /sub_jobs/{id} 200")
    listed = _list(sandbox, token, f"{SUB_JOBS}?project_id={main}")
    for item in listed.body:
        assert_shape(item, SUB_JOB, "GET /sub_jobs item")
    synced = call(sandbox, token, "PATCH", f"{SUB_JOBS}/sync?project_id={main}", {
        "project_id": main,
        "updates": [{"origin_id": "24001-2", "name": "Phase 2", "code": "2"}, {"id": 999_999}]})
    assert synced.status == 200, synced.body
    assert_shape(synced.body, sync_answer(SUB_JOB), "PATCH /sub_jobs/sync")

    other = demo["project_ids"]["second"]
    assert call(sandbox, token, "GET", f"{path}?project_id={other}").status == 404
    # the sync documents project_id in the query and in the body, both required
    no_query = call(sandbox, token, "PATCH", f"{SUB_JOBS}/sync",
                    {"project_id": main, "updates": []})
    no_body = call(sandbox, token, "PATCH", f"{SUB_JOBS}/sync?project_id={main}",
                   {"updates": []})
    assert (no_query.status, no_body.status) == (400, 400)


# --- the connector's request bodies --------------------------------------------------------
#: (method, path pattern) -> (schema, required keys, required query parameters)
REQUEST_SCHEMAS: dict[tuple[str, str], tuple[Shape, dict[str, Any], tuple[str, ...]]] = {
    ("POST", r"/rest/v1\.0/projects"): (
        PROJECT_CREATE_REQUEST, {"company_id": None, "project": None}, ()),
    ("PATCH", r"/rest/v1\.0/projects/\d+"): (
        PROJECT_UPDATE_REQUEST, {"company_id": None, "project": None}, ()),
    ("PATCH", r"/rest/v1\.0/projects/sync"): (
        PROJECT_SYNC_REQUEST, {"company_id": None, "updates": None}, ()),
    ("POST", r"/rest/v1\.0/vendors"): (
        VENDOR_REQUEST, {"company_id": None, "vendor": None}, ()),
    ("PATCH", r"/rest/v1\.0/vendors/\d+"): (
        VENDOR_REQUEST, {"company_id": None, "vendor": None}, ()),
    ("PATCH", r"/rest/v1\.0/vendors/sync"): (
        VENDOR_SYNC_REQUEST, {"company_id": None, "updates": None}, ()),
    ("POST", r"/rest/v1\.0/vendors/\d+/business_register"): (
        REGISTER_REQUEST, {"business_register": None}, ("company_id",)),
    ("PATCH", r"/rest/v1\.0/vendors/\d+/business_register"): (
        REGISTER_REQUEST, {"business_register": None}, ("company_id",)),
    ("POST", r"/rest/v1\.0/sub_jobs"): (
        SUB_JOB_REQUEST, {"project_id": None, "sub_job": None}, ()),
    ("PATCH", r"/rest/v1\.0/sub_jobs/sync"): (
        SUB_JOB_SYNC_REQUEST, {"project_id": None, "updates": None}, ("project_id",)),
}


def body_problems(sent: list[tuple[str, str, dict[str, Any], Any, int]]) -> dict[str, list[str]]:
    """Each recorded write to these endpoints against its schema (writes to others are not
    this file's business); ``{"METHOD path": [problems]}`` for those departing from it."""
    found: dict[str, list[str]] = {}
    for method, path, query, body, _ in sent:
        for (want, pattern), (schema, required, params) in REQUEST_SCHEMAS.items():
            if method == want and re.fullmatch(pattern, path):
                problems = request_problems(body, schema, required)
                problems += [f"query: required {p!r} missing" for p in params if p not in query]
                if problems:
                    found.setdefault(f"{method} {path}", []).extend(problems)
                break
    return found


def _writes(recorder: Recorder) -> set[tuple[str, str]]:
    """The (method, pattern) of every recorded write matched by ``REQUEST_SCHEMAS``."""
    return {key for method, path, *_ in recorder.sent for key in REQUEST_SCHEMAS
            if method == key[0] and re.fullmatch(key[1], path)}


def test_connector_request_bodies_match_the_documented_request_schemas(
    sandbox: ProcoreSandbox, demo: dict[str, Any]
) -> None:
    """Every ProcoreClient write for these resources, with the fields the connector's
    services send (chalicelib/services/setup.py, origins.py)."""
    recorder = Recorder()
    client = client_for(sandbox, recorder)
    main = demo["project_ids"]["main"]
    # add_job_to_procore: a Sage job row (address and zip may be missing)
    project = client.create_project({
        "name": "New Clinic", "project_number": "24005", "origin_id": "24005",
        "origin_code": "24005", "address": None, "city": "Davis", "state_code": "CA",
        "zip": "95616", "active": True})
    ORIGIN_WRITERS["project"](client, None, None, project["id"], "24005", "24005")
    ORIGIN_WRITERS["project"](client, None, None, project["id"], None, None)  # unlink
    client.update_project(project["id"], {"active": False})
    client.sync_projects([{"id": main, "origin_id": "24001"}, {"origin_id": "24009",
                                                                "name": "Made by sync"}])
    # import_vendor, then its tax id; linking writes the vendor's origin by sync
    vendor = client.create_vendor({
        "name": "Bayside Electric", "abbreviated_name": "Bayside", "origin_id": "3020",
        "origin_code": "3020", "address": None, "city": "Oakland", "state_code": "CA",
        "zip": None, "is_active": True})
    client.set_vendor_tax_id(vendor["id"], "ein", "12-3456789")
    client.set_vendor_tax_id(vendor["id"], "ein", "12-3456780")  # POST 409, then PATCH
    ORIGIN_WRITERS["vendor"](client, None, None, demo["vendor_ids"]["steel"], "3003", "3003")
    client.update_vendor(vendor["id"], {"is_active": False})
    client.sync_vendors([{"origin_id": "3030", "name": "Acme Drywall"}])
    # import_sub_job, and the documented sync
    client.create_sub_job(main, {"name": "Structure", "code": "2", "origin_id": "24001-2"})
    outcome = client.sync_sub_jobs(main, [{"origin_id": "24001-3", "name": "Finishes",
                                           "code": "3"}])
    assert outcome.ok, outcome.errors

    assert _writes(recorder) == set(REQUEST_SCHEMAS)  # every endpoint was exercised
    assert body_problems(recorder.sent) == {}
    assert all(status < 400 or status == 409 for *_, status in recorder.sent), recorder.sent


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> Iterator[Recorder]:
    """Every ProcoreClient the connector builds sends through one recorder."""
    recorder = Recorder()

    class Recording(UrllibTransport):
        def __init__(self, *, use_env_proxies: bool = True) -> None:
            super().__init__(use_env_proxies=False)

        def __call__(self, method: str, url: str, headers: Mapping[str, str],
                     body: bytes | None, timeout: float) -> tuple[int, Mapping[str, str], bytes]:
            return recorder(method, url, headers, body, timeout)

    monkeypatch.setattr(procore_adapter, "UrllibTransport", Recording)
    yield recorder


def test_the_setup_api_sends_documented_bodies(
    aws: Any, sandbox: ProcoreSandbox, demo: dict[str, Any], chalice_client: Any, mint: Any,
    monkeypatch: pytest.MonkeyPatch, recorded: Recorder
) -> None:
    """The same check through the connector's own setup flows (chalice.test.Client, moto):
    a job added to Procore, a vendor imported with its tax id, a phase imported as a sub
    job, a project and a vendor linked (their origin written) and unlinked (cleared)."""
    from chalicelib import wiring
    from chalicelib.domain.tax_ids import protect_row
    from chalicelib.settings import get_settings, read_secret
    from chalicelib.wiring import get_store
    from tests.helpers import body, seed_personas

    monkeypatch.setenv("PROCORE_BASE_URL", sandbox.url)
    monkeypatch.setenv("PROCORE_AUTH_URL", sandbox.url)
    wiring.reset()
    seed_personas()
    store = get_store()
    store.put_erp_rows(COMPANY_ID, "jobs", [
        {"job": 24001, "name": "Riverside Medical Office Bldg", "short_name": "Riverside",
         "status": 4, "address": None, "city": "Sacramento", "state": "CA", "zip_code": None},
        {"job": 24005, "name": "New Clinic", "short_name": "New Clinic", "status": 4,
         "address": "1 Main St", "city": "Davis", "state": "CA", "zip_code": "95616"}], "seed")
    key = read_secret(get_settings(), "tax_id_key")
    store.put_erp_rows(COMPANY_ID, "vendors", [protect_row(row, key) for row in (  # as kept
        {"vendor": 3003, "name": "Summit Steel Supply", "short_name": "Summit Steel",
         "inactive": False, "tax_id": None},
        {"vendor": 3020, "name": "Bayside Electric", "short_name": "Bayside Electric",
         "inactive": False, "tax_id": "12-3456789"})], "seed")
    store.put_erp_rows(COMPANY_ID, "phases", [{"job": 24001, "phase": 2, "name": "Structure"}],
                       "seed")
    main, steel = demo["project_ids"]["main"], demo["vendor_ids"]["steel"]

    def api(method: str, path: str, payload: Any = None) -> tuple[int, Any]:
        response = getattr(chalice_client.http, method.lower())(
            path, body=json.dumps(payload) if payload is not None else None,
            headers={"Authorization": mint("admin"), "Content-Type": "application/json"})
        return response.status_code, body(response)

    for method, path, payload in (
        ("POST", "/erp/jobs/24005/add-to-procore", None),
        ("POST", "/erp/vendors/3020/import", None),
        ("POST", "/links/projects", {"procore_id": main, "sage_key": 24001}),
        ("POST", f"/projects/{main}/sub-jobs", {"phase": 2}),
        ("POST", "/links/vendors", {"procore_id": steel, "sage_key": 3003}),
        ("DELETE", f"/links/vendors/{steel}", None),
    ):
        status, answer = api(method, path, payload)
        assert status in (200, 201), (path, status, answer)
    # The import asked the agent for Sage's vendor list (the cache keeps no clear tax id);
    # its page, as the agent sends it, sets the tax id in Procore.
    _answer_tax_id_reads(aws, chalice_client, [
        {"vendor": 3020, "name": "Bayside Electric", "short_name": "Bayside Electric",
         "inactive": False, "tax_id": "12-3456789"}])

    assert {("POST", r"/rest/v1\.0/projects"), ("PATCH", r"/rest/v1\.0/projects/\d+"),
            ("POST", r"/rest/v1\.0/vendors"), ("PATCH", r"/rest/v1\.0/vendors/sync"),
            ("POST", r"/rest/v1\.0/vendors/\d+/business_register"),
            ("POST", r"/rest/v1\.0/sub_jobs")} <= _writes(recorded)
    assert body_problems(recorded.sent) == {}
    assert sandbox.state.projects[main]["origin_id"] == "24001"  # written by PATCH


def _answer_tax_id_reads(aws: Any, chalice_client: Any, rows: list[dict[str, Any]]) -> None:
    from chalicelib.relay_protocol import Result
    from devstack.pump import sqs_event

    url = aws.resources.refs["RelayCommandsQueue"]
    commands = [json.loads(m["Body"]) for m in aws.receive_all(url)]
    reads = [c for c in commands if c["item_id"].startswith("import:vendor_tax_id:")]
    assert reads, f"the vendor import asked for no tax id read: {commands}"
    for command in reads:
        result = Result(command_id=command["command_id"], company_id=COMPANY_ID,
                        item_id=command["item_id"], export_version=0, ok=True, data=rows,
                        page=1, more=False, agent_id="agent",
                        finished_at="2026-11-26T00:00:00Z")
        chalice_client.lambda_.invoke("results", sqs_event(
            [{"MessageId": "m1", "ReceiptHandle": "r", "Body": result.model_dump_json()}],
            "arn"))


def test_the_checkers_catch_what_they_are_for() -> None:
    """The helpers above would see a drift: an extra or missing key, a wrong type."""
    assert shape_problems({"id": 1, "name": "x", "extra": 1}, SUB_JOB) == [
        "$: undocumented key 'extra'",
        "$: missing key 'code'",
        "$: missing key 'created_at'",
        "$: missing key 'origin_data'",
        "$: missing key 'origin_id'",
        "$: missing key 'updated_at'",
    ]
    assert shape_problems({**dict.fromkeys(SUB_JOB), "id": "7"}, SUB_JOB) == [
        "$.created_at: null", "$.id: '7' is not integer", "$.updated_at: null"]
    sent = [("PATCH", "/rest/v1.0/projects/sync", {}, {"company_id": COMPANY_ID, "updates": [
        {"id": 1, "origin_code": "X", "name": 5}]}, 200)]
    assert body_problems(sent) == {"PATCH /rest/v1.0/projects/sync": [
        "$.updates[0]: undocumented key 'origin_code'", "$.updates[0].name: 5 is not string"]}
