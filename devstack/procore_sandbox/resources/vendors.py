"""The company directory (vendors): list, get, create, update, sync, business register."""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any, ClassVar

from devstack.procore_sandbox.resources.common import (
    ResourceBase,
    _bool_changes,
    _require_text,
    _sync_updates,
    _text_changes,
)
from devstack.procore_sandbox.state import (
    Route,
    SandboxError,
    _json_body,
    _now_iso,
    _Request,
    _Response,
    _wrapped,
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
    "email_address",
    "license_number",
)
BUSINESS_REGISTER_TYPES = ("ein", "abn")
COMPANY_VENDORS_RESOURCE = "Company Vendors"


def _business_register(raw: object) -> tuple[dict[str, str] | None, dict[str, list[str]]]:
    """``{type: ein|abn, identifier}`` as the vendor record shows it, or the problems."""
    if not isinstance(raw, dict):
        return None, {"business_register": ["can't be blank"]}
    problems: dict[str, list[str]] = {}
    kind = raw.get("type")
    if not isinstance(kind, str) or kind.strip().lower() not in BUSINESS_REGISTER_TYPES:
        problems["type"] = ["is not included in the list"]
    identifier = raw.get("identifier")
    if (
        isinstance(identifier, bool)
        or not isinstance(identifier, str | int)
        or not str(identifier).strip()
    ):
        problems["identifier"] = ["can't be blank"]
    if problems:
        return None, problems
    assert isinstance(kind, str)
    return {"type": kind.strip().lower(), "identifier": str(identifier).strip()}, {}


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
            "_h_vendor_business_register",
            True,
        ),
    )

    def _vendor(self, vendor_id: int | str) -> dict[str, Any]:
        record = self.state.vendors.get(int(vendor_id))
        if record is None:
            raise SandboxError(404, f"Vendor {vendor_id} not found")
        return record

    def _h_list_vendors(self, req: _Request, _: re.Match[str]) -> _Response:
        self._check_company_param(req)
        return self._page(req, self.state.vendors)

    def _h_get_vendor(self, req: _Request, m: re.Match[str]) -> _Response:
        self._check_company_param(req)
        record = self.state.vendors.get(int(m["id"]))
        if record is None:
            raise SandboxError(404, f"Vendor {m['id']} not found")
        return _Response(200, copy.deepcopy(record))

    def _h_sync_vendors(self, req: _Request, _: re.Match[str]) -> _Response:
        body = _json_body(req)
        self._check_company_body(req, body)
        updates = _sync_updates(body)

        def create(item: Mapping[str, Any]) -> dict[str, Any]:
            return self.state.vendors[self.add_vendor(str(item["name"]).strip())["id"]]

        vendors = self.state.vendors
        return self._sync(updates, vendors, vendors, create=create, on_change=None)

    def _validate_vendor(
        self, fields: Mapping[str, Any], record: dict[str, Any] | None
    ) -> tuple[dict[str, Any], dict[str, list[str]]]:
        changes: dict[str, Any] = {}
        errors: dict[str, list[str]] = {}
        _text_changes(fields, VENDOR_TEXT_FIELDS, changes, errors)
        _bool_changes(fields, ("is_active",), changes, errors)
        _require_text(changes, ("name",), record is None, errors)
        if "business_register_attributes" in fields:
            raw = fields["business_register_attributes"]
            register, problems = (None, {}) if raw is None else _business_register(raw)
            for name, messages in problems.items():
                errors[f"business_register.{name}"] = messages
            changes["business_register"] = register
        return changes, errors

    def _blank_vendor(self) -> dict[str, Any]:
        return self.state.vendors[self.add_vendor("")["id"]]

    def _h_create_vendor(self, req: _Request, _: re.Match[str]) -> _Response:
        body = _json_body(req)
        self._check_company_body(req, body)
        fields = _wrapped(body, "vendor")
        record = self._write_record(
            fields,
            None,
            validate=self._validate_vendor,
            pool=self.state.vendors,
            create=self._blank_vendor,
        )
        actor = self._actor(req)
        self._event("create", COMPANY_VENDORS_RESOURCE, record["id"], None, actor, req.events)
        return _Response(201, copy.deepcopy(record))

    def _h_update_vendor(self, req: _Request, m: re.Match[str]) -> _Response:
        body = _json_body(req)
        self._check_company_body(req, body)
        record = self._vendor(m["id"])
        fields = _wrapped(body, "vendor")
        self._write_record(
            fields,
            record,
            validate=self._validate_vendor,
            pool=self.state.vendors,
            create=self._blank_vendor,
        )
        actor = self._actor(req)
        self._event("update", COMPANY_VENDORS_RESOURCE, record["id"], None, actor, req.events)
        return _Response(200, copy.deepcopy(record))

    def _h_vendor_business_register(self, req: _Request, m: re.Match[str]) -> _Response:
        """Set (or replace) the vendor's tax id; the vendor then shows it."""
        body = _json_body(req)
        self._check_company_body(req, body)
        record = self._vendor(m["id"])
        register, problems = _business_register(body.get("business_register"))
        if problems:
            raise SandboxError(422, problems)
        record["business_register"] = register
        record["updated_at"] = _now_iso()
        actor = self._actor(req)
        self._event("update", COMPANY_VENDORS_RESOURCE, record["id"], None, actor, req.events)
        return _Response(201, copy.deepcopy(register))
