"""Setting up jobs, vendors, cost codes and sub jobs between Procore and Sage.

The seed's rule holds throughout: a job (or vendor) is created in one system and then
added to the other, never created in both; adding something already linked, or creating
a record the other side already has, answers 409 with the reason and the way out (link
the two). Linking existing records is offered on top, with a preview of what differs;
every link and unlink is kept in the link's history.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from chalicelib.adapters.store import ItemStore
from chalicelib.domain import matching, setup
from chalicelib.domain.models import Link, utc_now
from chalicelib.domain.permissions import Permission, User, require
from chalicelib.errors import BadRequest, Conflict, NotFound
from chalicelib.observability import logger
from chalicelib.services.erp_lists import ErpLists

if TYPE_CHECKING:
    from chalicelib.adapters.procore import ProcoreClient

# Who may refresh which list (the matrix names companies and cost codes; jobs and
# phases follow the actions that use them).
REFRESH_PERMISSION = {
    "vendors": Permission.REFRESH_COMPANIES,
    "cost_codes": Permission.REFRESH_COST_CODES,
    "cost_types": Permission.REFRESH_COST_CODES,
    "jobs": Permission.ADD_ERP_JOB_TO_PROCORE,
    "phases": Permission.IMPORT_SUB_JOB,
}


@dataclass(frozen=True)
class LinkPair:
    kind: str  # "project" | "vendor"
    list_name: str  # the Sage list holding the other side
    procore_id: int
    sage_key: int
    procore_noun: str
    sage_noun: str
    answer_keys: tuple[str, str]


class SetupService:
    def __init__(self, store: ItemStore, lists: ErpLists,
                 procore_for: Callable[[int], ProcoreClient],
                 clock: Callable[[], str] = utc_now) -> None:
        self.store = store
        self.lists = lists
        self.procore_for = procore_for
        self.clock = clock

    # ---- lists ---------------------------------------------------------------------------
    def refresh(self, user: User, list_name: str) -> dict[str, Any]:
        if list_name not in REFRESH_PERMISSION:
            raise NotFound(f"no Sage list {list_name!r}; lists: "
                           f"{', '.join(sorted(REFRESH_PERMISSION))}")
        require(user, REFRESH_PERMISSION[list_name])
        return self.lists.request(user.company_id, list_name, user.subject)

    def sage_jobs(self, user: User) -> list[dict[str, Any]]:
        require(user, Permission.READ_INBOX)
        links = {link.sage_key: link.procore_id
                 for link in self.store.list_links(user.company_id, "project")}
        return [{**_public(row), "linked_project": links.get(str(row["job"]))}
                for row in self.lists.rows(user.company_id, "jobs")]

    def sage_vendors(self, user: User, *, archived: bool = False) -> list[dict[str, Any]]:
        require(user, Permission.VIEW_ARCHIVED_COMPANIES if archived else
                Permission.READ_INBOX)
        links = {link.sage_key: link.procore_id
                 for link in self.store.list_links(user.company_id, "vendor")}
        return [{**_public(row), "archived": bool(row.get("_archived")),
                 "linked_company": links.get(str(row["vendor"]))}
                for row in self.lists.rows(user.company_id, "vendors")
                if bool(row.get("_archived")) == archived]

    # ---- jobs <-> projects ---------------------------------------------------------------
    def add_job_to_procore(self, user: User, job: int) -> dict[str, Any]:
        """Sage job -> a new Procore project carrying the job as its origin id."""
        require(user, Permission.ADD_ERP_JOB_TO_PROCORE)
        row = self._sage_row(user.company_id, "jobs", str(job), "job")
        linked = self.store.get_link_by_sage(user.company_id, "project", str(job))
        if linked is not None:
            raise Conflict(f"Sage job {job} is already in Procore as project "
                           f"{linked.procore_id}; a job is added to the other system once")
        procore = self.procore_for(user.company_id)
        wanted = matching.normalize_name(row["name"])
        same = [*procore.find_projects(project_number=str(job)),
                *procore.find_projects(origin_id=str(job)),
                *(p for p in procore.find_projects()
                  if matching.normalize_name(p.get("name") or "") == wanted)]
        if same:
            raise Conflict(f"Procore already has project '{same[0].get('name')}' "
                           f"(id {same[0]['id']}) matching Sage job {job}; link the two "
                           "instead of creating the job twice",
                           procore_project=same[0]["id"])
        project = procore.create_project({
            "name": row["name"], "project_number": str(job), "origin_id": str(job),
            "origin_code": str(job), "address": row.get("address"), "city": row.get("city"),
            "state_code": row.get("state"), "zip": row.get("zip_code"), "active": True})
        self._link(user, "project", int(project["id"]), str(job), "added from Sage")
        return {"project": project, "job": job}

    def link_project(self, user: User, procore_id: int, job: int,
                     preview: bool) -> dict[str, Any]:
        require(user, Permission.ADD_PROJECT_TO_ERP)
        return self._link_existing(user, LinkPair(
            kind="project", list_name="jobs", procore_id=procore_id, sage_key=job,
            procore_noun=f"project {procore_id}", sage_noun=f"Sage job {job}",
            answer_keys=("procore_project", "sage_job")), preview)

    def unlink(self, user: User, kind: str, procore_id: int) -> dict[str, Any]:
        require(user, Permission.UNLINK, kind)
        link = self.store.get_link(user.company_id, kind, procore_id)
        if link is None:
            raise NotFound(f"{kind} {procore_id} is not linked to Sage")
        self.store.delete_link(link)
        self.store.add_link_event(user.company_id, kind, procore_id, {
            "action": "unlink", "sage_key": link.sage_key, "actor": user.subject,
            "at": self.clock()})
        logger.info("unlinked", kind=kind, procore_id=procore_id, sage_key=link.sage_key)
        return {"unlinked": True, "kind": kind, "procore_id": procore_id,
                "sage_key": link.sage_key,
                "history": self.store.link_history(user.company_id, kind, procore_id)}

    # ---- vendors <-> companies -------------------------------------------------------------
    def vendor_suggestions(self, user: User) -> list[dict[str, Any]]:
        require(user, Permission.LINK_COMPANIES)
        sage = [r for r in self.lists.rows(user.company_id, "vendors")
                if not r.get("_archived")]
        companies = self.procore_for(user.company_id).list_vendors()
        links = self.store.list_links(user.company_id, "vendor")
        found = matching.suggest(sage, companies,
                                 linked_sage={int(link.sage_key) for link in links},
                                 linked_procore={link.procore_id for link in links})
        names = {int(r["vendor"]): r["name"] for r in sage}
        company_names = {int(c["id"]): c.get("name") for c in companies}
        return [{"sage_vendor": s.sage_vendor, "sage_name": names.get(s.sage_vendor),
                 "procore_company": s.procore_id,
                 "procore_name": company_names.get(s.procore_id),
                 "score": round(s.score, 3), "reasons": list(s.reasons)} for s in found]

    def link_vendor(self, user: User, procore_id: int, vendor: int,
                    preview: bool) -> dict[str, Any]:
        require(user, Permission.LINK_COMPANIES)
        return self._link_existing(user, LinkPair(
            kind="vendor", list_name="vendors", procore_id=procore_id, sage_key=vendor,
            procore_noun=f"company {procore_id}", sage_noun=f"Sage vendor {vendor}",
            answer_keys=("procore_company", "sage_vendor")), preview)

    def import_vendor(self, user: User, vendor: int) -> dict[str, Any]:
        """Sage vendor -> a new company in Procore's company directory, linked."""
        require(user, Permission.ADD_ERP_COMPANY_TO_DIRECTORY)
        row = self._sage_row(user.company_id, "vendors", str(vendor), "vendor")
        if row.get("_archived"):
            raise Conflict(f"Sage vendor {vendor} is archived; unarchive it before importing")
        linked = self.store.get_link_by_sage(user.company_id, "vendor", str(vendor))
        if linked is not None:
            raise Conflict(f"Sage vendor {vendor} is already linked to Procore company "
                           f"{linked.procore_id}")
        procore = self.procore_for(user.company_id)
        wanted = matching.normalize_name(row["name"])
        twin = next((c for c in procore.list_vendors()
                     if matching.normalize_name(c.get("name") or "") == wanted), None)
        if twin is not None:
            raise Conflict(f"Procore already has company '{twin['name']}' (id {twin['id']}); "
                           "link it to the Sage vendor instead of adding it twice",
                           procore_company=twin["id"])
        company = procore.create_vendor({
            "name": row["name"], "abbreviated_name": row.get("short_name"),
            "origin_id": str(vendor), "origin_code": str(vendor),
            "address": row.get("address"), "city": row.get("city"),
            "state_code": row.get("state"), "zip": row.get("zip_code"), "is_active": True})
        if row.get("tax_id"):
            procore.set_vendor_tax_id(int(company["id"]), "ein", str(row["tax_id"]))
        self._link(user, "vendor", int(company["id"]), str(vendor), "imported from Sage")
        return {"company": company, "sage_vendor": vendor}

    def archive_vendor(self, user: User, vendor: int, archived: bool) -> dict[str, Any]:
        require(user, Permission.ARCHIVE_ERP_COMPANY)
        self._sage_row(user.company_id, "vendors", str(vendor), "vendor")
        linked = self.store.get_link_by_sage(user.company_id, "vendor", str(vendor))
        if archived and linked is not None:
            raise Conflict(f"Sage vendor {vendor} is linked to Procore company "
                           f"{linked.procore_id}; unlink it before archiving")
        row = self.store.set_erp_archived(user.company_id, "vendors", str(vendor), archived)
        return {**_public(row or {}), "archived": archived}

    # ---- cost codes ------------------------------------------------------------------------
    def refresh_project_cost_codes(self, user: User, procore_id: int) -> dict[str, Any]:
        """Put Sage's company-wide cost codes on a linked Procore project (origin id = the
        Sage code, so exports map them exactly)."""
        require(user, Permission.REFRESH_COST_CODES)
        if self.store.get_link(user.company_id, "project", procore_id) is None:
            raise Conflict(f"project {procore_id} is not linked to a Sage job; its cost codes "
                           "come from Sage once it is")
        codes = [r for r in self.lists.rows(user.company_id, "cost_codes")
                 if not r.get("inactive")]
        if not codes:
            raise Conflict("no Sage cost codes are known yet; refresh the cost code list")
        updates = [{"origin_id": r["code"], "code": _procore_code(r["code"]),
                    "name": r["name"]} for r in codes]
        outcome = self.procore_for(user.company_id).sync_cost_codes(procore_id, updates)
        return {"project": procore_id, "sent": len(updates), "synced": len(outcome.entities),
                "errors": outcome.errors}

    def set_default_cost_types(self, user: User, code: str, types: list[int]) -> dict[str, Any]:
        require(user, Permission.ASSIGN_DEFAULT_COST_TYPES)
        self._sage_row(user.company_id, "cost_codes", code, "cost code")
        known = {int(r["type"]) for r in self.lists.rows(user.company_id, "cost_types")}
        unknown = sorted(set(types) - (known or set(range(1, 10))))
        if unknown:
            raise BadRequest(f"field 'cost_types': {unknown} are not Sage cost types",
                             field="cost_types")
        settings = self.store.get_company_settings(user.company_id)
        defaults = {**settings.get("default_cost_types", {}), code: sorted(set(types))}
        self.store.put_company_settings(user.company_id,
                                        {**settings, "default_cost_types": defaults})
        return {"code": code, "cost_types": defaults[code]}

    # ---- sub jobs ----------------------------------------------------------------------------
    def import_sub_job(self, user: User, procore_id: int, phase: int) -> dict[str, Any]:
        require(user, Permission.IMPORT_SUB_JOB)
        link = self.store.get_link(user.company_id, "project", procore_id)
        if link is None:
            raise Conflict(f"project {procore_id} is not linked to a Sage job; its sub jobs "
                           "are the job's phases")
        job = int(link.sage_key)
        row = self._sage_row(user.company_id, "phases", f"{job}#{phase}", f"phase of job {job}")
        key = f"{job}-{phase}"
        existing = self.store.get_link_by_sage(user.company_id, "sub_job", key)
        if existing is not None:
            raise Conflict(f"phase {phase} of job {job} is already sub job "
                           f"{existing.procore_id} in Procore")
        sub_job = self.procore_for(user.company_id).create_sub_job(
            procore_id, {"name": row["name"], "code": str(phase), "origin_id": key})
        self._link(user, "sub_job", int(sub_job["id"]), key, "imported from Sage")
        return {"sub_job": sub_job, "job": job, "phase": phase}

    def synced_sub_jobs(self, user: User, procore_id: int) -> list[dict[str, Any]]:
        require(user, Permission.VIEW_SYNCED_SUB_JOBS)
        linked = {link.procore_id: link.sage_key
                  for link in self.store.list_links(user.company_id, "sub_job")}
        return [{**sub, "sage_phase": linked[int(sub["id"])]}
                for sub in self.procore_for(user.company_id).list_sub_jobs(procore_id)
                if int(sub["id"]) in linked]

    def _link_existing(self, user: User, pair: LinkPair, preview: bool) -> dict[str, Any]:
        """Link a Procore record that exists to a Sage record that exists: the differences
        first (preview), then the link, its history entry, and the origin id in Procore."""
        procore = self.procore_for(user.company_id)
        key = str(pair.sage_key)
        row = self._sage_row(user.company_id, pair.list_name, key, pair.list_name[:-1])
        if pair.kind == "project":
            differences = setup.job_differences(
                setup.project_snapshot(procore.get_project(pair.procore_id)), row)
        else:
            differences = setup.vendor_differences(
                setup.vendor_snapshot(procore.get_vendor(pair.procore_id)), row)
        self._both_unlinked(user.company_id, pair.kind, pair.procore_id, key,
                            pair.procore_noun, pair.sage_noun)
        procore_key, sage_key = pair.answer_keys
        answer = {procore_key: pair.procore_id, sage_key: pair.sage_key,
                  "differences": differences}
        if preview:
            return {"preview": True, **answer}
        self._link(user, pair.kind, pair.procore_id, key, "linked existing records",
                   differences=differences)
        update = [{"id": pair.procore_id, "origin_id": key, "origin_code": key}]
        if pair.kind == "project":
            procore.sync_projects(update)
        else:
            procore.sync_vendors(update)
        return {"linked": True, **answer}

    # ---- plumbing ----------------------------------------------------------------------------
    def _sage_row(self, company_id: int, list_name: str, key: str, noun: str) -> dict[str, Any]:
        row = self.store.get_erp_row(company_id, list_name, key)
        if row is None:
            raise NotFound(f"no {noun} {key.replace('#', ' phase ')} in the Sage {list_name} "
                           "list; refresh the list if it was added in Sage recently")
        return row

    def _both_unlinked(self, company_id: int, kind: str, procore_id: int, sage_key: str,
                       procore_noun: str, sage_noun: str) -> None:
        procore_side = self.store.get_link(company_id, kind, procore_id)
        if procore_side is not None:
            raise Conflict(f"{procore_noun} is already linked to Sage {procore_side.sage_key}; "
                           "unlink it first")
        sage_side = self.store.get_link_by_sage(company_id, kind, sage_key)
        if sage_side is not None:
            raise Conflict(f"{sage_noun} is already linked to Procore "
                           f"{sage_side.procore_id}; unlink it first")

    def _link(self, user: User, kind: str, procore_id: int, sage_key: str, how: str,
              differences: list[dict[str, Any]] | None = None) -> Link:
        link = Link(company_id=user.company_id, kind=kind,  # type: ignore[arg-type]
                    procore_id=procore_id, sage_key=sage_key, created_at=self.clock(),
                    created_by=user.subject)
        self.store.put_link(link)
        self.store.add_link_event(user.company_id, kind, procore_id, {
            "action": "link", "how": how, "sage_key": sage_key, "actor": user.subject,
            "at": link.created_at, "differences": differences or []})
        logger.info("linked", kind=kind, procore_id=procore_id, sage_key=sage_key, how=how)
        return link


def _public(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if not k.startswith("_")}


def _procore_code(sage_code: str) -> str:
    """Sage "3300.000" -> Procore code "3300" ("3300.125" keeps its decimals)."""
    whole, _, decimals = sage_code.partition(".")
    return whole if not decimals.strip("0") else sage_code
