"""Procore company setup and domain helpers, mixed into ``ProcoreClient``.

``ProcoreResources`` holds the resource-specific methods (projects, directory vendors and
their tax id, sub jobs, cost codes, standard cost codes, cost types, commitments); they call
the client's generic verbs (``get``, ``get_all``, ``post``, ``patch``, ``sync``), so every
retry and pacing rule of ``chalicelib.adapters.procore`` applies to them.

Company setup (projects, directory vendors and their tax id, sub jobs, cost codes,
standard cost codes, cost types) follows the same split: ``create_*`` and
``set_vendor_tax_id`` POST (never resent after a 5xx or a lost connection: look the record
up by ``origin_id`` before creating again, with ``find_projects``, ``find_vendors`` or
``find_sub_jobs``), ``update_*`` PATCH and ``sync_*`` are retried.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from chalicelib.adapters.procore_http import ProcoreConflict, _truncate
from chalicelib.errors import FatalUpstreamError

if TYPE_CHECKING:
    from chalicelib.adapters.procore import SyncOutcome

CommitmentKind = Literal["work_order_contract", "purchase_order_contract"]
#: commitment kind -> REST path segment
COMMITMENT_PATHS: Mapping[str, str] = {
    "work_order_contract": "work_order_contracts",
    "purchase_order_contract": "purchase_order_contracts",
}
TAX_ID_TYPES = ("ein", "abn")  # Procore business_register types


class ProcoreResources:
    """Company setup and domain helpers of ``ProcoreClient`` (its base class)."""

    company_id: int

    if TYPE_CHECKING:  # provided by ProcoreClient

        def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any: ...

        def get_all(
            self, path: str, params: Mapping[str, Any] | None = None, per_page: int = 100
        ) -> list[Any]: ...

        def post(
            self, path: str, json_body: Any, params: Mapping[str, Any] | None = None
        ) -> Any: ...

        def patch(
            self, path: str, json_body: Any, params: Mapping[str, Any] | None = None
        ) -> Any: ...

        def sync(
            self,
            path: str,
            updates: Sequence[Mapping[str, Any]],
            *,
            scope: Mapping[str, Any],
            params: Mapping[str, Any] | None = None,
        ) -> SyncOutcome: ...

    def sync_commitment_origin(
        self,
        kind: CommitmentKind,
        project_id: int,
        commitment_id: int,
        origin_id: str | None,
        origin_code: str | None,
    ) -> SyncOutcome:
        """Link one commitment to its Sage record (``None`` clears a value), matched by id."""
        path = f"/rest/v1.0/{_commitment_segment(kind)}/sync"
        update = {
            "id": int(commitment_id),
            "origin_id": None if origin_id is None else str(origin_id),
            "origin_code": None if origin_code is None else str(origin_code),
        }
        return self.sync(path, [update], scope={"project_id": int(project_id)})

    def sync_vendors(self, updates: Sequence[Mapping[str, Any]]) -> SyncOutcome:
        return self.sync("/rest/v1.0/vendors/sync", updates, scope={"company_id": self.company_id})

    def sync_projects(self, updates: Sequence[Mapping[str, Any]]) -> SyncOutcome:
        """Projects: each update is applied whole (not only its origin fields). The sync
        schema has no ``origin_code``: a project's origin code is written by
        ``update_project`` (``PATCH /projects/{id}``) instead."""
        return self.sync("/rest/v1.0/projects/sync", updates, scope={"company_id": self.company_id})

    def sync_sub_jobs(self, project_id: int, updates: Sequence[Mapping[str, Any]]) -> SyncOutcome:
        """Sub jobs of one project: ``{id | origin_id, name, code, origin_data}`` each (no
        ``origin_code``: the sync schema has none); an unknown ``origin_id`` with a ``name``
        creates the sub job. ``project_id`` goes in the body and the query: Procore's
        schema requires both."""
        scope = {"project_id": int(project_id)}
        return self.sync("/rest/v1.0/sub_jobs/sync", updates, scope=scope, params=scope)

    def sync_cost_codes(
        self,
        project_id: int,
        updates: Sequence[Mapping[str, Any]],
        sub_job_id: int | None = None,
    ) -> SyncOutcome:
        """Cost codes of a project (or of one of its sub jobs): ``{id | origin_id, code,
        name, parent_id, origin_id}`` each; an unknown ``origin_id`` with ``code`` and
        ``name`` creates the code. ``project_id`` and ``sub_job_id`` are query parameters
        only: the documented body is ``{updates}`` alone (Procore API reference, PATCH
        /rest/v1.0/cost_codes/sync)."""
        scope: dict[str, Any] = {"project_id": int(project_id)}
        if sub_job_id is not None:
            scope["sub_job_id"] = int(sub_job_id)
        return self.sync("/rest/v1.0/cost_codes/sync", updates, scope={}, params=scope)

    def sync_standard_cost_codes(
        self, list_id: int, updates: Sequence[Mapping[str, Any]]
    ) -> SyncOutcome:
        """A company standard cost code list: ``{id | origin_id, code (one segment: the
        parent's prefix is added by Procore), name, parent_id, origin_id}`` each; unknown
        ``origin_id`` creates. The entities come in the ``extended`` view: Procore's
        default view has only ``id`` and ``standard_cost_code_list_id``."""
        scope = {"company_id": self.company_id, "standard_cost_code_list_id": int(list_id)}
        return self.sync(
            "/rest/v1.0/standard_cost_codes/sync", updates, scope=scope, params={"view": "extended"}
        )

    def sync_line_item_types(self, updates: Sequence[Mapping[str, Any]]) -> SyncOutcome:
        """Cost types: ``{id | origin_id, name, csv_import_code, base_type, origin_id}``."""
        return self.sync(
            "/rest/v1.0/line_item_types/sync", updates, scope={"company_id": self.company_id}
        )

    # --- domain helpers ------------------------------------------------------------------
    def list_projects(self) -> list[dict[str, Any]]:
        return self.get_all("/rest/v1.0/projects", {"company_id": self.company_id})

    def get_project(self, project_id: int) -> dict[str, Any]:
        return self.get(f"/rest/v1.0/projects/{int(project_id)}", {"company_id": self.company_id})

    def get_vendor(self, vendor_id: int) -> dict[str, Any]:
        return self.get(f"/rest/v1.0/vendors/{int(vendor_id)}", {"company_id": self.company_id})

    def list_vendors(self) -> list[dict[str, Any]]:
        return self.get_all("/rest/v1.0/vendors", {"company_id": self.company_id})

    def list_cost_codes(self, project_id: int) -> list[dict[str, Any]]:
        return self.get_all("/rest/v1.0/cost_codes", {"project_id": int(project_id)})

    def list_line_item_types(self) -> list[dict[str, Any]]:
        return self.get_all("/rest/v1.0/line_item_types", {"company_id": self.company_id})

    # --- company setup -------------------------------------------------------------------
    def create_project(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        """POST a project (``name`` required; ``project_number``, ``origin_id``, ...).

        Not resent after a 5xx or a lost connection: ``find_projects(origin_id=...)``
        tells whether it was made before trying again.
        """
        body = {"company_id": self.company_id, "project": dict(fields)}
        return self._record(self.post("/rest/v1.0/projects", body), "POST", "/rest/v1.0/projects")

    def update_project(self, project_id: int, fields: Mapping[str, Any]) -> dict[str, Any]:
        path = f"/rest/v1.0/projects/{int(project_id)}"
        body = {"company_id": self.company_id, "project": dict(fields)}
        return self._record(self.patch(path, body), "PATCH", path)

    def find_projects(
        self, origin_id: str | None = None, project_number: str | None = None
    ) -> list[dict[str, Any]]:
        """Projects by ``origin_id`` (Procore's filter) and/or ``project_number`` (compared
        here: v1.0 has no such filter). Neither given: every project."""
        params: dict[str, Any] = {"company_id": self.company_id}
        if origin_id is not None:
            params["filters[origin_id]"] = str(origin_id)
        projects = self.get_all("/rest/v1.0/projects", params)
        if origin_id is not None:  # a server ignoring the filter must not fool us
            projects = [p for p in projects if p.get("origin_id") == str(origin_id)]
        if project_number is not None:
            wanted = str(project_number).strip()
            projects = [p for p in projects if str(p.get("project_number") or "").strip() == wanted]
        return projects

    def find_vendors(self, origin_id: str) -> list[dict[str, Any]]:
        """Company directory vendors carrying ``origin_id`` (Procore's filter, checked here
        too: a server ignoring the filter must not fool us)."""
        params = {"company_id": self.company_id, "filters[origin_id]": str(origin_id)}
        vendors = self.get_all("/rest/v1.0/vendors", params)
        return [v for v in vendors if v.get("origin_id") == str(origin_id)]

    def create_vendor(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        """POST a company directory vendor (``name`` required). Not resent after a 5xx:
        ``find_vendors(origin_id=...)`` tells whether it was made."""
        body = {"company_id": self.company_id, "vendor": dict(fields)}
        return self._record(self.post("/rest/v1.0/vendors", body), "POST", "/rest/v1.0/vendors")

    def update_vendor(self, vendor_id: int, fields: Mapping[str, Any]) -> dict[str, Any]:
        """PATCH a vendor; ``{"is_active": False}`` makes it inactive."""
        path = f"/rest/v1.0/vendors/{int(vendor_id)}"
        body = {"company_id": self.company_id, "vendor": dict(fields)}
        return self._record(self.patch(path, body), "PATCH", path)

    def set_vendor_tax_id(self, vendor_id: int, type: str, identifier: str) -> dict[str, Any]:
        """The vendor's tax id (``type`` ``ein`` or ``abn``); answers the register
        ``{id, type, identifier, verified_at, verification_status}``.

        POST creates the register; when the vendor has one Procore answers 409 ("A Business
        Register is already associated with the Vendor.") and PATCH changes it (PATCH alone
        would 404 on a vendor without one). Procore API reference: POST and PATCH
        /rest/v1.0/vendors/{id}/business_register.

        ``license_number`` is the licence, not the tax id: Procore keeps the tax id in the
        vendor's ``business_register``.
        """
        kind = str(type).strip().lower()
        if kind not in TAX_ID_TYPES:
            raise ValueError(f"tax id type must be one of {TAX_ID_TYPES}, got {type!r}")
        path = f"/rest/v1.0/vendors/{int(vendor_id)}/business_register"
        body = {"business_register": {"type": kind, "identifier": str(identifier)}}
        params = {"company_id": self.company_id}
        try:
            answer = self.post(path, body, params)
        except ProcoreConflict:
            # 409: the vendor has a register already; Procore changes one only by PATCH.
            return self._record(self.patch(path, body, params), "PATCH", path)
        return self._record(answer, "POST", path)

    def list_sub_jobs(self, project_id: int) -> list[dict[str, Any]]:
        return self.get_all("/rest/v1.0/sub_jobs", {"project_id": int(project_id)})

    def find_sub_jobs(self, project_id: int, origin_id: str) -> list[dict[str, Any]]:
        """The project's sub jobs carrying ``origin_id``. v1.0 documents no filter on this
        list: ``filters[origin_id]`` is sent all the same and the answer compared here."""
        params = {"project_id": int(project_id), "filters[origin_id]": str(origin_id)}
        sub_jobs = self.get_all("/rest/v1.0/sub_jobs", params)
        return [s for s in sub_jobs if s.get("origin_id") == str(origin_id)]

    def create_sub_job(self, project_id: int, fields: Mapping[str, Any]) -> dict[str, Any]:
        """POST a sub job (``name`` required; ``code``, ``origin_id``). Not resent after 5xx:
        ``find_sub_jobs(project_id, origin_id=...)`` tells whether it was made."""
        body = {"project_id": int(project_id), "sub_job": dict(fields)}
        return self._record(self.post("/rest/v1.0/sub_jobs", body), "POST", "/rest/v1.0/sub_jobs")

    def create_cost_code(
        self, project_id: int, fields: Mapping[str, Any], sub_job_id: int | None = None
    ) -> dict[str, Any]:
        """POST a cost code (``code`` = one segment, ``name``; ``parent_id``, ``origin_id``)
        on the project, or on one of its sub jobs. Not resent after a 5xx."""
        body: dict[str, Any] = {"project_id": int(project_id), "cost_code": dict(fields)}
        if sub_job_id is not None:
            body["sub_job_id"] = int(sub_job_id)
        return self._record(
            self.post("/rest/v1.0/cost_codes", body), "POST", "/rest/v1.0/cost_codes"
        )

    def list_standard_cost_code_lists(self) -> list[dict[str, Any]]:
        """``[{id, name, is_erp_list}]``: the company's standard cost code lists."""
        return self.get_all("/rest/v1.0/standard_cost_code_lists", {"company_id": self.company_id})

    def list_standard_cost_codes(self, list_id: int) -> list[dict[str, Any]]:
        """The list's codes, whole (``view=extended``: Procore's default view answers only
        ``id`` and ``standard_cost_code_list_id``; Procore API reference, GET
        /rest/v1.0/standard_cost_codes)."""
        params = {
            "company_id": self.company_id,
            "standard_cost_code_list_id": int(list_id),
            "view": "extended",
        }
        return self.get_all("/rest/v1.0/standard_cost_codes", params)

    @staticmethod
    def _record(answer: Any, method: str, path: str) -> dict[str, Any]:
        if not isinstance(answer, dict):
            raise FatalUpstreamError(
                f"Procore {method} {path} did not answer a record",
                body=_truncate(json.dumps(answer, default=str).encode()),
            )
        return answer

    def get_commitment(
        self, kind: CommitmentKind, project_id: int, commitment_id: int
    ) -> dict[str, Any]:
        """A subcontract (``work_order_contract``) or purchase order."""
        path = f"/rest/v1.0/{_commitment_segment(kind)}/{int(commitment_id)}"
        return self.get(path, {"project_id": int(project_id)})

    def list_commitments(self, kind: CommitmentKind, project_id: int) -> list[dict[str, Any]]:
        """The project's subcontracts or purchase orders (the list's compact view, with
        their amounts: approved changes, revised contract, invoiced, paid)."""
        return self.get_all(f"/rest/v1.0/{_commitment_segment(kind)}",
                            {"project_id": int(project_id)})

    def list_commitment_line_items(
        self, kind: CommitmentKind, project_id: int, commitment_id: int
    ) -> list[dict[str, Any]]:
        """The commitment's schedule of values."""
        path = f"/rest/v1.0/{_commitment_segment(kind)}/{int(commitment_id)}/line_items"
        return self.get_all(path, {"project_id": int(project_id)})

    def list_commitments_updated(
        self,
        kind: CommitmentKind,
        project_id: int,
        since: datetime,
        until: datetime,
        *,
        include_deleted: bool = True,
    ) -> list[dict[str, Any]]:
        """The project's commitments whose ``updated_at`` is in ``[since, until]``
        (``list_updated``); deleted ones come along (they carry ``deleted_at``)."""
        return self.list_updated(f"/rest/v1.0/{_commitment_segment(kind)}", project_id,
                                 since, until, include_deleted=include_deleted)

    def list_updated(
        self,
        path: str,
        project_id: int,
        since: datetime,
        until: datetime,
        *,
        include_deleted: bool = False,
    ) -> list[dict[str, Any]]:
        """The project's records at ``path`` whose ``updated_at`` is in ``[since, until]``.

        Procore's ``filters[updated_at]`` is an inclusive ISO 8601 range to the second
        (fractions are dropped from both ends; a naive datetime is UTC). With
        ``include_deleted`` deleted ones come along (``filters[include_deleted]=with``).
        Records outside the range are dropped here too, so a server ignoring the filter
        cannot fool us; a record without a readable ``updated_at`` is kept.
        """

        def second(moment: datetime) -> datetime:
            moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
            return moment.astimezone(UTC).replace(microsecond=0)

        def within(value: object) -> bool:
            try:
                moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
            except ValueError:
                return True
            return low <= second(moment) <= high

        low, high = second(since), second(until)
        params: dict[str, Any] = {
            "project_id": int(project_id),
            "filters[updated_at]": f"{low:%Y-%m-%dT%H:%M:%SZ}...{high:%Y-%m-%dT%H:%M:%SZ}",
        }
        if include_deleted:
            params["filters[include_deleted]"] = "with"
        records = self.get_all(path, params)
        return [r for r in records if within(r.get("updated_at"))]


def _commitment_segment(kind: str) -> str:
    try:
        return COMMITMENT_PATHS[kind]
    except KeyError:
        raise ValueError(
            f"unknown commitment kind {kind!r}; expected one of {sorted(COMMITMENT_PATHS)}"
        ) from None
