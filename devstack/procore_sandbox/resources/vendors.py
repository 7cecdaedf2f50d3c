"""The company directory (vendors): list, get, create, update, sync, business register.

Field for field as Procore documents them:

* Requests: ``vendor`` of create and update (procore-spec
  ``openapi/RestV10VendorsPost.json``, ``openapi/RestV10VendorsIdPatch.json``: the same
  list) and one sync update (``openapi/RestV10VendorsSyncPatch.json``: the same plus
  ``id``, ``business_register_attributes`` and ``origin_custom_fields``). A key the
  endpoint does not document is refused; create and update take no business register
  (the tax id is written through ``/business_register`` or a sync).
* Answers (Procore's OpenAPI text gives none; the SDK's models do): list, create, update
  and sync entities ``VENDOR_KEYS`` (``sdk/RestV10VendorsGet.json``, ``...Post.json``,
  ``...IdPatch.json``, ``...SyncPatch.json``), show ``VENDOR_SHOW_KEYS``
  (``sdk/RestV10VendorsIdGet.json``). Only the default (``extended``) view is modelled.
* Business register (``openapi/RestV10VendorsIdBusinessRegisterPost.json`` /
  ``...Patch.json``): ``{id, type, identifier, verified_at, verification_status}``. POST
  creates it (201) and answers **409** when the vendor has one; PATCH changes it (200) and
  answers **404** when the vendor has none. ``company_id`` is a required query parameter.
* Validation refusals answer **400**: create and update document 400 and no 422.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar

from devstack.procore_sandbox.resources.common import (
    BOOL,
    MUST_EXIST,
    NOT_PERMITTED,
    REF,
    REFS,
    SYNC_FIELDS,
    TEXT,
    FieldSpec,
    ResourceBase,
    _require_text,
    _schema_changes,
    _sync_updates,
    _view,
)
from devstack.procore_sandbox.state import (
    Route,
    SandboxError,
    Validator,
    _json_body,
    _now_iso,
    _Request,
    _Response,
)

VENDOR_TEXT_FIELDS = (
    "name",
    "abbreviated_name",
    "address",
    "city",
    "state_code",
    "zip",
    "country_code",
    "business_phone",
    "mobile_phone",
    "fax_number",
    "email_address",
    "license_number",
    "labor_union",
    "website",
    "notes",
    "trade_name",
)
BUSINESS_REGISTER_TYPES = ("ein", "abn")
COMPANY_VENDORS_RESOURCE = "Company Vendors"
#: openapi/RestV10VendorsIdBusinessRegisterPost.json 409
REGISTER_TAKEN = "A Business Register is already associated with the Vendor."
#: openapi/RestV10VendorsIdBusinessRegisterPatch.json 404
NO_REGISTER = (
    "Not Found. The Vendor ID was invalid, or the Vendor does not have a Business Register."
)

_BIDDING_FLAGS = (
    "affirmative_action",
    "small_business",
    "african_american_business",
    "hispanic_business",
    "womens_business",
    "historically_underutilized_business",
    "sdvo_business",
    "certified_business_enterprise",
    "asian_american_business",
    "native_american_business",
    "disadvantaged_business",
    "minority_business_enterprise",
    "eight_a_business",
)
#: ``vendor`` of POST /rest/v1.0/vendors and PATCH /rest/v1.0/vendors/{id} (origin fields
#: aside): openapi/RestV10VendorsPost.json, openapi/RestV10VendorsIdPatch.json
VENDOR_WRITE_FIELDS: Mapping[str, FieldSpec] = {
    **{name: TEXT for name in VENDOR_TEXT_FIELDS},
    "is_active": BOOL,
    "authorized_bidder": BOOL,
    "prequalified": BOOL,
    "union_member": BOOL,
    "non_union_prevailing_wage": BOOL,
    "vendor_group_id": REF,
    "parent_id": FieldSpec("int"),  # another vendor of the company
    "primary_contact_id": REF,
    "trade_ids": REFS,
    "bidding_distribution_ids": REFS,
    "standard_cost_code_ids": FieldSpec("ids"),  # the company's standard cost codes
    "bidding": FieldSpec("object", nested=dict.fromkeys(_BIDDING_FLAGS, BOOL)),
}
#: one update of PATCH /rest/v1.0/vendors/sync (``id`` and origin fields aside):
#: openapi/RestV10VendorsSyncPatch.json
VENDOR_SYNC_FIELDS: Mapping[str, FieldSpec] = {
    **VENDOR_WRITE_FIELDS,
    "business_register_attributes": FieldSpec("custom"),  # {type, identifier}
    "origin_custom_fields": FieldSpec("custom"),  # refused: not modelled
}

#: list, create (201), update (200) and sync entities: sdk/RestV10VendorsGet.json
#: (RestV10VendorsGet200ResponseInner; the same model answers Post, IdPatch and SyncPatch)
VENDOR_KEYS = (
    "id", "name", "abbreviated_name", "address", "attachments", "authorized_bidder",
    "business_id", "business_phone", "business_register", "city", "contact_count", "company",
    "country_code", "created_at", "email_address", "fax_number", "is_active", "is_connected",
    "labor_union", "license_number", "logo", "mobile_phone", "non_union_prevailing_wage",
    "notes", "origin_code", "origin_data", "origin_id", "prequalified", "primary_contact",
    "state_code", "synced_to_erp", "trade_name", "union_member", "updated_at", "vendor_group",
    "website", "zip", "bidding", "bidding_distribution", "children_count", "company_vendor",
    "legal_name", "parent", "project_ids", "standard_cost_codes", "trades",
)  # fmt: skip
#: show: sdk/RestV10VendorsIdGet.json
VENDOR_SHOW_KEYS = (
    *VENDOR_KEYS,
    "origin_custom_fields", "erp_custom_fields", "business", "contract_signer",
    "country_name", "state_name", "invoice_contacts", "active_users_count", "bids_count",
    "open_bids_count", "projects_count",
)  # fmt: skip
#: the register as answered and as shown inside a vendor (openapi ...BusinessRegisterPost.json)
REGISTER_KEYS = ("id", "type", "identifier", "verified_at", "verification_status")
#: what a register write takes (the request schema of both operations)
REGISTER_INPUT = ("type", "identifier")
_VENDOR_DEFAULTS: Mapping[str, Any] = {
    "attachments": [],
    "authorized_bidder": False,
    "contact_count": 0,
    "is_connected": False,
    "non_union_prevailing_wage": False,
    "prequalified": False,
    "synced_to_erp": False,
    "union_member": False,
    "bidding_distribution": [],
    "company_vendor": True,
    "project_ids": [],
    "trades": [],
    "origin_custom_fields": [],
    "erp_custom_fields": [],
    "invoice_contacts": [],
    "active_users_count": 0,
    "bids_count": 0,
    "open_bids_count": 0,
    "projects_count": 0,
}
_DEFAULT_VIEW = "extended"  # "The default view is extended."


def _register_values(
    raw: object, current: Mapping[str, Any] | None, prefix: str = ""
) -> tuple[dict[str, Any] | None, dict[str, list[str]]]:
    """A register write (``{type, identifier}``) merged onto ``current``, or the problems
    (keyed ``prefix`` + field: ``business_register_attributes.`` inside a sync update).

    Strict, like every write here: ``type`` exactly ``abn`` or ``ein`` (the enum), the
    identifier a non-blank string, no other key; the identifier's format is not checked
    (Procore verifies ABNs afterwards: ``verification_status``).
    """
    if not isinstance(raw, dict):
        return None, {prefix.rstrip(".") or "business_register": ["can't be blank"]}
    problems = {f"{prefix}{key}": [NOT_PERMITTED] for key in raw if key not in REGISTER_INPUT}
    merged = {**(current or {}), **raw}
    kind = merged.get("type")
    if kind not in BUSINESS_REGISTER_TYPES:
        problems[f"{prefix}type"] = ["is not included in the list"]
    identifier = merged.get("identifier")
    if not isinstance(identifier, str) or not identifier.strip():
        problems[f"{prefix}identifier"] = ["can't be blank"]
    if problems:
        return None, problems
    assert isinstance(identifier, str)
    return {"type": kind, "identifier": identifier.strip()}, {}


class VendorsMixin(ResourceBase):
    """``/rest/v1.0/vendors``; a vendor write fires ``Company Vendors`` (HTTP writes only)."""

    ROUTES: ClassVar[tuple[Route, ...]] = (
        ("GET", r"/rest/v1\.0/vendors", "_h_list_vendors", True),
        ("GET", r"/rest/v1\.0/vendors/(?P<id>\d+)", "_h_get_vendor", True),
        ("PATCH", r"/rest/v1\.0/vendors/sync", "_h_sync_vendors", True),
        ("POST", r"/rest/v1\.0/vendors", "_h_create_vendor", True),
        ("PATCH", r"/rest/v1\.0/vendors/(?P<id>\d+)", "_h_update_vendor", True),
        (
            "POST",
            r"/rest/v1\.0/vendors/(?P<id>\d+)/business_register",
            "_h_create_business_register",
            True,
        ),
        (
            "PATCH",
            r"/rest/v1\.0/vendors/(?P<id>\d+)/business_register",
            "_h_update_business_register",
            True,
        ),
    )

    def _vendor(self, vendor_id: int | str) -> dict[str, Any]:
        record = self.state.vendors.get(int(vendor_id))
        if record is None:
            raise SandboxError(404, f"Vendor {vendor_id} not found")
        return record

    # --- views -----------------------------------------------------------------------------
    def _vendor_view(self, record: dict[str, Any], keys: tuple[str, ...] = VENDOR_KEYS) -> Any:
        shown = _view(record, keys, _VENDOR_DEFAULTS)
        register = self._stored_register(record)
        shown["business_register"] = None if register is None else _view(register, REGISTER_KEYS)
        shown["bidding"] = {flag: False for flag in _BIDDING_FLAGS} | (record.get("bidding") or {})
        parent = self.state.vendors.get(record.get("parent_id") or 0)
        shown["parent"] = None if parent is None else {"id": parent["id"], "name": parent["name"]}
        shown["children_count"] = sum(
            1 for v in self.state.vendors.values() if v.get("parent_id") == record["id"]
        )
        shown["standard_cost_codes"] = [
            _view(
                self.state.standard_cost_codes[i],
                ("id", "standard_cost_code_list_id", "parent_id", "code", "full_code", "name",
                 "origin_data", "origin_id"),
            )
            for i in record.get("standard_cost_code_ids") or ()
            if i in self.state.standard_cost_codes
        ]  # fmt: skip
        return shown

    def _stored_register(self, record: dict[str, Any]) -> dict[str, Any] | None:
        """The vendor's register, complete: one seeded as ``{type, identifier}`` (the
        seeding helpers write it so) gets its id the first time it is read."""
        register = record.get("business_register")
        if register is not None and register.get("id") is None:
            register = self._register(register, {k: register.get(k) for k in REGISTER_INPUT})
            record["business_register"] = register
        return register

    def _vendor_show_view(self, record: dict[str, Any]) -> Any:
        return self._vendor_view(record, VENDOR_SHOW_KEYS)

    @staticmethod
    def _check_view(req: _Request) -> None:
        view = req.param("view")
        if view is not None and view != _DEFAULT_VIEW:
            raise SandboxError(400, f"view {view!r} is not modelled by the sandbox")

    # --- handlers --------------------------------------------------------------------------
    def _h_list_vendors(self, req: _Request, _: re.Match[str]) -> _Response:
        self._check_company_param(req)
        self._check_view(req)
        return self._page(req, self.state.vendors, view=self._vendor_view)

    def _h_get_vendor(self, req: _Request, m: re.Match[str]) -> _Response:
        self._check_company_param(req)
        self._check_view(req)
        return _Response(200, self._vendor_show_view(self._vendor(m["id"])))

    def _h_sync_vendors(self, req: _Request, _: re.Match[str]) -> _Response:
        body = _json_body(req)
        self._company_scope(req, body, query=False)  # the schema has no company_id query
        updates = _sync_updates(body, status=400)
        vendors = self.state.vendors
        return self._sync(
            updates,
            vendors,
            vendors,
            create=lambda _item: self._blank_vendor(),
            on_change=None,
            validate=self._vendor_validator(VENDOR_SYNC_FIELDS, ("id", *SYNC_FIELDS)),
            view=self._vendor_view,
            strict=True,
        )

    def _vendor_validator(
        self, schema: Mapping[str, FieldSpec], handled: tuple[str, ...]
    ) -> Validator:
        """Checks a vendor body or sync update against ``schema``; ``handled`` keys (id,
        origin fields) are checked by the caller."""

        def validate(
            fields: Mapping[str, Any], record: dict[str, Any] | None
        ) -> tuple[dict[str, Any], dict[str, list[str]]]:
            changes: dict[str, Any] = {}
            errors: dict[str, list[str]] = {}
            _schema_changes(fields, schema, changes, errors, handled=handled)
            _require_text(changes, ("name",), record is None, errors)
            current = record or {}
            if changes.get("bidding") is not None:  # flags sent are merged; null resets all
                changes["bidding"] = {**(current.get("bidding") or {}), **changes["bidding"]}
            self._check_parent(changes, record, errors)
            codes = changes.get("standard_cost_code_ids") or []
            if any(i not in self.state.standard_cost_codes for i in codes):
                errors["standard_cost_codes"] = [MUST_EXIST]
            for name in sorted(_CUSTOM & set(fields) & set(schema)):
                if name == "origin_custom_fields":
                    # free-form, merged, and shown as a list of strings in the SDK's model:
                    # the sandbox cannot keep it faithfully, so it refuses it
                    errors[name] = ["is not modelled by the sandbox"]
                else:
                    register, problems = _register_values(
                        fields[name], current.get("business_register"), f"{name}."
                    )
                    errors.update(problems)
                    if register is not None:
                        changes["business_register"] = self._register(
                            current.get("business_register"), register
                        )
            return changes, errors

        return validate

    def _check_parent(
        self, changes: dict[str, Any], record: dict[str, Any] | None, errors: dict[str, list[str]]
    ) -> None:
        """``parent_id``: another vendor of the company. "Cannot be the same as ID. Only two
        levels of hierarchy are supported (parent/child)." (RestV10VendorsSyncPatch.json)"""
        parent_id = changes.get("parent_id")
        if parent_id is None:
            return
        own_id = None if record is None else record["id"]
        parent = self.state.vendors.get(int(parent_id))
        has_children = own_id is not None and any(
            v.get("parent_id") == own_id for v in self.state.vendors.values()
        )
        if parent is None:
            errors["parent"] = [MUST_EXIST]
        elif parent["id"] == own_id:
            errors["parent_id"] = ["cannot be the same as id"]
        elif parent.get("parent_id") is not None or has_children:
            errors["parent_id"] = ["only two levels of hierarchy are supported"]

    def _register(
        self, current: Mapping[str, Any] | None, values: dict[str, Any]
    ) -> dict[str, Any]:
        """The stored register after a write: the same id when it changes, a new one when
        made; ``verified_at``/``verification_status`` stay null (nothing verifies here)."""
        register_id = (current or {}).get("id") or self.state.next_id()
        return {
            "id": register_id,
            **values,
            "verified_at": None,
            "verification_status": None,
        }

    def _blank_vendor(self) -> dict[str, Any]:
        return self.state.vendors[self.add_vendor("")["id"]]

    def _vendor_body(self, req: _Request) -> dict[str, Any]:
        """The ``vendor`` object of a create or update body (company in the body only)."""
        self._check_view(req)
        body = _json_body(req)
        self._company_scope(req, body, query=False)
        fields = body.get("vendor")
        if not isinstance(fields, dict):
            raise SandboxError(400, "param is missing or the value is empty: vendor")
        return fields

    def _h_create_vendor(self, req: _Request, _: re.Match[str]) -> _Response:
        fields = self._vendor_body(req)
        record = self._write_record(
            fields,
            None,
            validate=self._vendor_validator(VENDOR_WRITE_FIELDS, SYNC_FIELDS),
            pool=self.state.vendors,
            create=self._blank_vendor,
            status=400,
            strict=True,
        )
        actor = self._actor(req)
        self._event("create", COMPANY_VENDORS_RESOURCE, record["id"], None, actor, req.events)
        return _Response(201, self._vendor_view(record))

    def _h_update_vendor(self, req: _Request, m: re.Match[str]) -> _Response:
        fields = self._vendor_body(req)
        record = self._vendor(m["id"])
        self._write_record(
            fields,
            record,
            validate=self._vendor_validator(VENDOR_WRITE_FIELDS, SYNC_FIELDS),
            pool=self.state.vendors,
            create=self._blank_vendor,
            status=400,
            strict=True,
        )
        actor = self._actor(req)
        self._event("update", COMPANY_VENDORS_RESOURCE, record["id"], None, actor, req.events)
        return _Response(200, self._vendor_view(record))

    # --- business register -----------------------------------------------------------------
    def _register_write(self, req: _Request, m: re.Match[str], *, create: bool) -> _Response:
        self._check_company_param(req)  # a required query parameter of both operations
        record = self._vendor(m["id"])
        current = self._stored_register(record)
        if create and current is not None:
            raise SandboxError(409, REGISTER_TAKEN)
        if not create and current is None:
            raise SandboxError(404, NO_REGISTER)
        body = _json_body(req)
        raw = body.get("business_register")
        if not isinstance(raw, dict):
            raise SandboxError(400, "param is missing or the value is empty: business_register")
        values, problems = _register_values(raw, None if create else current)
        if problems:
            raise SandboxError(422, problems)
        assert values is not None
        register = self._register(current, values)
        record["business_register"] = register
        record["updated_at"] = _now_iso()
        actor = self._actor(req)
        self._event("update", COMPANY_VENDORS_RESOURCE, record["id"], None, actor, req.events)
        return _Response(201 if create else 200, _view(register, REGISTER_KEYS))

    def _h_create_business_register(self, req: _Request, m: re.Match[str]) -> _Response:
        """POST: the vendor's first tax id; 409 when it has one (change it with PATCH)."""
        return self._register_write(req, m, create=True)

    def _h_update_business_register(self, req: _Request, m: re.Match[str]) -> _Response:
        """PATCH: change the vendor's tax id; 404 when it has none (create it with POST)."""
        return self._register_write(req, m, create=False)


#: sync keys checked by the validator itself (``custom`` fields), not by ``_schema_changes``
_CUSTOM = frozenset({"business_register_attributes", "origin_custom_fields"})
