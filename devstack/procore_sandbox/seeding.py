"""Python helpers that fill the sandbox, and the demo data set.

The ``add_*`` helpers write records directly and fire no webhooks (Procore does not notify
these to our hook). The commitment helpers (``create_commitment`` ... ``delete_line_item``)
act like a user in Procore's web UI: they fire webhooks, attributed to ``as_application``.
``seed_demo`` (also ``ProcoreSandbox.seed`` and ``POST /_sandbox/seed``) loads a small,
realistic company.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from devstack.procore_sandbox.resources.cost_codes import COST_CODE_DELIMITER
from devstack.procore_sandbox.state import (
    Actor,
    Route,
    SandboxError,
    SandboxState,
    _json_body,
    _now_iso,
    _Request,
    _Response,
)
from devstack.procore_sandbox.webhook_payloads import WEB_APPLICATION_ID, WEB_USER_ID, _Outgoing

if TYPE_CHECKING:
    from devstack.procore_sandbox.server import ProcoreSandbox


class SeedingMixin:
    """The Python seeding and commitment helpers of ``ProcoreSandbox``."""

    CONTROL_ROUTES: ClassVar[tuple[Route, ...]] = (("POST", r"/_sandbox/seed", "_c_seed", False),)

    # set by ProcoreSandbox.__init__
    state: SandboxState
    company_id: int
    company_name: str

    def seed(self, demo: bool = True, *, matching_vendors: bool = False,
             owner_side: bool = False) -> dict[str, Any]:
        """Load the demo dataset (see ``seed_demo``); returns its ids."""
        if not demo:
            return {}
        return seed_demo(self, matching_vendors=matching_vendors, owner_side=owner_side)

    # --- seeding helpers (no webhooks: Procore does not notify these to our hook) ---------
    def add_project(
        self,
        name: str,
        *,
        project_number: str | None = None,
        origin_id: str | None = None,
        origin_code: str | None = None,
        active: bool = True,
        **extra: Any,
    ) -> dict[str, Any]:
        with self.state.lock:
            pid = self.state.next_id()
            now = _now_iso()
            record: dict[str, Any] = {
                "id": pid,
                "name": name,
                "display_name": f"{project_number} - {name}" if project_number else name,
                "project_number": project_number,
                "active": active,
                "address": None,
                "city": None,
                "state_code": None,
                "zip": None,
                "country_code": "US",
                "company": {"id": self.company_id, "name": self.company_name},
                "origin_id": origin_id,
                "origin_code": origin_code,
                "origin_data": None,
                "is_erp_integrated": False,
                "created_at": now,
                "updated_at": now,
            }
            record.update(extra)
            self.state.projects[pid] = record
            self.state.cost_codes.setdefault(pid, {})
            return copy.deepcopy(record)

    def add_vendor(
        self,
        name: str,
        *,
        abbreviated_name: str | None = None,
        origin_id: str | None = None,
        origin_code: str | None = None,
        is_active: bool = True,
        **extra: Any,
    ) -> dict[str, Any]:
        with self.state.lock:
            vid = self.state.next_id()
            now = _now_iso()
            record: dict[str, Any] = {
                "id": vid,
                "name": name,
                "abbreviated_name": abbreviated_name,
                "address": None,
                "city": None,
                "state_code": None,
                "zip": None,
                "country_code": "US",
                "business_phone": None,
                "email_address": None,
                "is_active": is_active,
                "license_number": None,
                "business_register": None,
                "origin_id": origin_id,
                "origin_code": origin_code,
                "origin_data": None,
                "synced_to_erp": False,
                "created_at": now,
                "updated_at": now,
            }
            record.update(extra)
            self.state.vendors[vid] = record
            return copy.deepcopy(record)

    def add_cost_code(
        self,
        project_id: int,
        code: str,
        name: str,
        *,
        origin_id: str | None = None,
        sub_job_id: int | None = None,
    ) -> dict[str, Any]:
        """``code`` may be a full code ("03-300"): ``code`` keeps the last segment ("300")."""
        with self.state.lock:
            if project_id not in self.state.projects:
                raise SandboxError(404, f"Project {project_id} not found")
            if sub_job_id is not None:
                sub_job = self.state.sub_jobs.get(sub_job_id)
                if sub_job is None or sub_job["project_id"] != project_id:
                    raise SandboxError(404, f"Sub job {sub_job_id} not found")
            record = self._new_cost_code(project_id, sub_job_id)
            record.update(
                code=code.rsplit(COST_CODE_DELIMITER, 1)[-1],
                full_code=code,
                name=name,
                origin_id=origin_id,
            )
            return self._cost_code_answer(record)  # as POST /cost_codes answers

    def add_line_item_type(
        self, name: str, code: str, base_type: str = "other", *, origin_id: str | None = None
    ) -> dict[str, Any]:
        with self.state.lock:
            record = self._new_line_item_type()
            record.update(name=name, code=code, base_type=base_type, origin_id=origin_id)
            return self._line_item_type_answer(record)

    def add_sub_job(
        self,
        project_id: int,
        name: str,
        *,
        code: str | None = None,
        origin_id: str | None = None,
    ) -> dict[str, Any]:
        with self.state.lock:
            self._project(project_id)
            record = self._new_sub_job(project_id)
            record.update(name=name, code=code, origin_id=origin_id)
            return copy.deepcopy(record)

    def add_standard_cost_code_list(
        self, name: str, *, is_erp_list: bool = False
    ) -> dict[str, Any]:
        with self.state.lock:
            lid = self.state.next_id()
            record = {  # openapi/RestV10StandardCostCodeListsGet.json
                "id": lid,
                "name": name,
                "is_erp_list": is_erp_list,
                "available_to_use_on_new_projects": True,
            }
            self.state.standard_cost_code_lists[lid] = record
            return copy.deepcopy(record)

    # --- commitment helpers (fire webhooks, like a user in Procore's web UI) --------------
    def create_commitment(
        self,
        kind: str,
        project_id: int,
        *,
        as_application: str = WEB_APPLICATION_ID,
        as_user_id: int = WEB_USER_ID,
        **fields: Any,
    ) -> dict[str, Any]:
        actor = Actor(as_application, as_user_id)
        return self._helper(lambda ev: self._create_commitment(kind, project_id, fields, actor, ev))

    def update_commitment(
        self,
        kind: str,
        commitment_id: int,
        *,
        as_application: str = WEB_APPLICATION_ID,
        as_user_id: int = WEB_USER_ID,
        **fields: Any,
    ) -> dict[str, Any]:
        actor = Actor(as_application, as_user_id)
        return self._helper(
            lambda ev: self._update_commitment(kind, commitment_id, None, fields, actor, ev)
        )

    def delete_commitment(
        self,
        kind: str,
        commitment_id: int,
        *,
        as_application: str = WEB_APPLICATION_ID,
        as_user_id: int = WEB_USER_ID,
    ) -> None:
        actor = Actor(as_application, as_user_id)
        self._helper(lambda ev: self._delete_commitment(kind, commitment_id, None, actor, ev))

    def add_line_item(
        self,
        kind: str,
        commitment_id: int,
        *,
        as_application: str = WEB_APPLICATION_ID,
        as_user_id: int = WEB_USER_ID,
        **fields: Any,
    ) -> dict[str, Any]:
        actor = Actor(as_application, as_user_id)
        return self._helper(
            lambda ev: self._create_line(kind, commitment_id, None, fields, actor, ev)
        )

    def update_line_item(
        self,
        kind: str,
        commitment_id: int,
        line_item_id: int,
        *,
        as_application: str = WEB_APPLICATION_ID,
        as_user_id: int = WEB_USER_ID,
        **fields: Any,
    ) -> dict[str, Any]:
        actor = Actor(as_application, as_user_id)
        return self._helper(
            lambda ev: self._update_line(kind, commitment_id, line_item_id, None, fields, actor, ev)
        )

    def delete_line_item(
        self,
        kind: str,
        commitment_id: int,
        line_item_id: int,
        *,
        as_application: str = WEB_APPLICATION_ID,
        as_user_id: int = WEB_USER_ID,
    ) -> None:
        actor = Actor(as_application, as_user_id)
        self._helper(
            lambda ev: self._delete_line(kind, commitment_id, line_item_id, None, actor, ev)
        )

    def get_commitment(self, kind: str, commitment_id: int) -> dict[str, Any]:
        """The commitment as ``GET .../{id}`` answers it (with its line items)."""
        with self.state.lock:
            found = self._kind(kind)
            record = self._commitment(found, commitment_id, None)
            return self._commitment_answer(found, record, full=True)

    def list_line_items(self, kind: str, commitment_id: int) -> list[dict[str, Any]]:
        """Its line items as ``GET .../line_items`` answers them."""
        with self.state.lock:
            found = self._kind(kind)
            record = self._commitment(found, commitment_id, None)
            lines = self.state.line_items.get(commitment_id, {})
            return [self._line_answer(found, record, lines[i]) for i in sorted(lines)]

    def _helper(self, mutate: Callable[[list[_Outgoing]], Any]) -> Any:
        """Run a mutation under the lock, then deliver its webhooks after releasing it."""
        events: list[_Outgoing] = []
        with self.state.lock:
            result = mutate(events)
        self._deliver(events)
        return result

    # --- control endpoint -----------------------------------------------------------------
    def _c_seed(self, req: _Request, _: re.Match[str]) -> _Response:
        body = _json_body(req)
        if body.get("reset"):
            self.reset()
        seeded = self.seed(
            demo=bool(body.get("demo", True)),
            matching_vendors=bool(body.get("matching_vendors", False)),
            owner_side=bool(body.get("owner_side", False)),
        )
        return _Response(201, seeded)


def seed_demo(sandbox: ProcoreSandbox, *, matching_vendors: bool = False,
              owner_side: bool = False) -> dict[str, Any]:
    """A small, realistic company: 2 projects, 3 vendors, cost codes, 5 cost types, and an
    empty ERP standard cost code list ("Sage 100 Contractor").

    Includes the awkward cases the connector must handle: a vendor name over Sage's 30
    characters and cost codes starting with 0 (which Sage cannot take as-is). "Granite Bay
    Concrete" carries an EIN (``business_register``) for tax id matching.

    ``matching_vendors`` adds two more directory companies for name matching ("Valley
    Plumbing & Heating LLC", "Acme Drywall Co."; ``vendor_ids`` keys ``plumbing`` and
    ``drywall``). Opt-in because existing tests pin the default directory at 3 vendors.
    ``owner_side`` adds the main project's prime contract, an approved PCCO and an owner
    invoice (``owner_seeding``; ids under ``owner``), opt-in for the same reason.
    """
    main = sandbox.add_project(
        "Riverside Medical Office Building",
        project_number="2024-001",
        city="Sacramento",
        state_code="CA",
    )
    second = sandbox.add_project(
        "Oak Street Warehouse Renovation", project_number="2024-002", city="Fresno"
    )
    vendors = {
        "concrete": sandbox.add_vendor(
            "Granite Bay Concrete",
            abbreviated_name="GBC",
            business_register={"type": "ein", "identifier": "94-1234567"},
        ),
        "electrical": sandbox.add_vendor(
            "Northern California Electrical Contractors Incorporated",
            abbreviated_name="NCEC",
        ),
        "steel": sandbox.add_vendor("Summit Steel Supply", abbreviated_name="SSS"),
    }
    if matching_vendors:
        vendors["plumbing"] = sandbox.add_vendor(
            "Valley Plumbing & Heating LLC", abbreviated_name="VPH", city="Modesto"
        )
        vendors["drywall"] = sandbox.add_vendor("Acme Drywall Co.", abbreviated_name="ACME")
    main_codes = [
        ("01-100", "General Conditions"),
        ("03-300", "Cast-in-Place Concrete"),
        ("05-120", "Structural Steel"),
        ("09-900", "Painting"),
        ("26-000", "Electrical"),
    ]
    second_codes = [
        ("01-100", "General Conditions"),
        ("02-200", "Site Work"),
        ("03-300", "Cast-in-Place Concrete"),
    ]
    cost_codes: dict[str, dict[str, int]] = {"main": {}, "second": {}}
    for key, project, codes in (("main", main, main_codes), ("second", second, second_codes)):
        for code, name in codes:
            cost_codes[key][code] = sandbox.add_cost_code(project["id"], code, name)["id"]
    types = [
        ("Labor", "L", "labor"),
        ("Material", "M", "materials"),
        ("Equipment", "E", "equipment"),
        ("Subcontract", "S", "commitment"),
        ("Other", "O", "other"),
    ]
    line_item_types = {
        code: sandbox.add_line_item_type(name, code, base)["id"] for name, code, base in types
    }
    erp_list = sandbox.add_standard_cost_code_list("Sage 100 Contractor", is_erp_list=True)
    seeded = {
        "company_id": sandbox.company_id,
        "project_ids": {"main": main["id"], "second": second["id"]},
        "vendor_ids": {key: vendor["id"] for key, vendor in vendors.items()},
        "cost_code_ids": cost_codes,
        "line_item_type_ids": line_item_types,
        "standard_cost_code_list_id": erp_list["id"],
    }
    if owner_side:
        from devstack.procore_sandbox.owner_seeding import seed_owner_side

        seeded["owner"] = seed_owner_side(sandbox, seeded)
    return seeded
