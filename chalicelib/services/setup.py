"""Setting up jobs, vendors, cost codes and sub jobs between Procore and Sage.

The seed's rule holds throughout: a job (or vendor) is created in one system and then
added to the other, never created in both; adding something already linked, or creating
a record the other side already has, answers 409 with the reason and the way out (link
the two). Linking existing records is offered on top, with a preview of what differs;
every link and unlink is kept in the link's history.

Creates in Procore are retry safe: a record carrying the Sage key as its origin id is the
connector's own (an earlier attempt whose answer was lost, or a record linked before) and
is adopted, not made twice nor refused; see ``_create_once``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from chalicelib.adapters.intents import CreateIntents
from chalicelib.adapters.store import ItemStore
from chalicelib.domain import matching, setup, tax_ids
from chalicelib.domain.models import Link, utc_now
from chalicelib.domain.permissions import Level, Permission, User, require
from chalicelib.errors import BadRequest, Conflict, NotFound
from chalicelib.observability import logger
from chalicelib.services.erp_lists import ErpLists
from chalicelib.services.origins import ORIGIN_WRITERS
from chalicelib.services.vendor_tax_ids import TAX_ID_READ, without_tax_id
from chalicelib.settings import tax_id_key as deployment_tax_id_key

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
    "budgets": Permission.IMPORT_BUDGET,
    "payments": Permission.SYNC_PAID_INVOICES,
    "receipts": Permission.SYNC_PAID_INVOICES,  # owner invoices reported paid
    # Sage's commitment totals serve the reconciliation report (ERP admin): its rule.
    "commitments": Permission.VIEW_RECONCILIATION_REPORT,
    "receivables": Permission.VIEW_RECONCILIATION_REPORT,  # the owner side's, likewise
}

# How the link history names a record adopted instead of created.
ADOPTED_LOST_ANSWER = "adopted the record an earlier attempt created (its answer was lost)"
ADOPTED_ORIGIN = "adopted the Procore record already carrying this Sage key as its origin id"


@dataclass(frozen=True)
class Adoption:
    """A Procore record found carrying our origin id, taken instead of creating one."""

    how: str  # ADOPTED_LOST_ANSWER | ADOPTED_ORIGIN
    attempt: dict[str, Any] | None  # the create intent of the attempt that made it


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
                 clock: Callable[[], str] = utc_now,
                 intents: CreateIntents | None = None,
                 tax_id_key: Callable[[], str] = deployment_tax_id_key) -> None:
        self.store = store
        self.lists = lists
        self.procore_for = procore_for
        self.clock = clock
        self.tax_id_key = tax_id_key
        self.intents = intents or CreateIntents(store.table_name, store.client)

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
        # Tax ids masked (last four) for ERP standard and admin; none at all for read-only.
        visible = user.erp_level >= Level.STANDARD
        return [{**tax_ids.shown(_public(row), visible=visible),
                 "archived": bool(row.get("_archived")),
                 "linked_company": links.get(str(row["vendor"]))}
                for row in self.lists.rows(user.company_id, "vendors")
                if bool(row.get("_archived")) == archived]

    # ---- jobs <-> projects ---------------------------------------------------------------
    def add_job_to_procore(self, user: User, job: int) -> dict[str, Any]:
        """Sage job -> a new Procore project carrying the job as its origin id (or the one
        an earlier attempt made, adopted)."""
        require(user, Permission.ADD_ERP_JOB_TO_PROCORE)
        key = str(job)
        row = self._sage_row(user.company_id, "jobs", key, "job")
        linked = self.store.get_link_by_sage(user.company_id, "project", key)
        if linked is not None:
            raise Conflict(f"Sage job {job} is already in Procore as project "
                           f"{linked.procore_id}; a job is added to the other system once")
        procore = self.procore_for(user.company_id)
        own = procore.find_projects(origin_id=key)
        if not own:
            wanted = matching.normalize_name(row["name"])
            same = [*procore.find_projects(project_number=key),
                    *(p for p in procore.find_projects()
                      if matching.normalize_name(p.get("name") or "") == wanted)]
            if same:
                raise Conflict(f"Procore already has project '{same[0].get('name')}' "
                               f"(id {same[0]['id']}) matching Sage job {job}; link the two "
                               "instead of creating the job twice",
                               procore_project=same[0]["id"])
        project, adopted = self._create_once(user, "project", key, own, lambda: (
            procore.create_project({
                "name": row["name"], "project_number": key, "origin_id": key,
                "origin_code": key, "address": row.get("address"), "city": row.get("city"),
                "state_code": row.get("state"), "zip": row.get("zip_code"), "active": True})))
        self._finish_create(user, "project", int(project["id"]), key, adopted,
                            "added from Sage")
        return {"project": project, "job": job, "adopted": adopted is not None}

    def link_project(self, user: User, procore_id: int, job: int,
                     preview: bool) -> dict[str, Any]:
        require(user, Permission.ADD_PROJECT_TO_ERP)
        return self._link_existing(user, LinkPair(
            kind="project", list_name="jobs", procore_id=procore_id, sage_key=job,
            procore_noun=f"project {procore_id}", sage_noun=f"Sage job {job}",
            answer_keys=("procore_project", "sage_job")), preview)

    # ---- vendors <-> companies -------------------------------------------------------------
    def vendor_suggestions(self, user: User) -> list[dict[str, Any]]:
        require(user, Permission.LINK_COMPANIES)
        sage = [r for r in self.lists.rows(user.company_id, "vendors")
                if not r.get("_archived")]
        key = self.tax_id_key()
        companies = [{**{k: v for k, v in c.items() if k != "business_register"},
                      **tax_ids.protect(setup.procore_tax_id(c), key)}
                     for c in self.procore_for(user.company_id).list_vendors()]
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
        """Sage vendor -> a new company in Procore's company directory (or the one an
        earlier attempt made, adopted), with the vendor's tax id, linked."""
        require(user, Permission.ADD_ERP_COMPANY_TO_DIRECTORY)
        row = self._sage_row(user.company_id, "vendors", str(vendor), "vendor")
        if row.get("_archived"):
            raise Conflict(f"Sage vendor {vendor} is archived; unarchive it before importing")
        linked = self.store.get_link_by_sage(user.company_id, "vendor", str(vendor))
        if linked is not None:
            raise Conflict(f"Sage vendor {vendor} is already linked to Procore company "
                           f"{linked.procore_id}")
        procore = self.procore_for(user.company_id)
        key = str(vendor)
        own = procore.find_vendors(origin_id=key)
        if not own:
            wanted = matching.normalize_name(row["name"])
            twin = next((c for c in procore.list_vendors()
                         if matching.normalize_name(c.get("name") or "") == wanted), None)
            if twin is not None:
                raise Conflict(f"Procore already has company '{twin['name']}' "
                               f"(id {twin['id']}); link it to the Sage vendor instead of "
                               "adding it twice", procore_company=twin["id"])
        company, adopted = self._create_once(user, "vendor", key, own, lambda: (
            procore.create_vendor({
                "name": row["name"], "abbreviated_name": row.get("short_name"),
                "origin_id": key, "origin_code": key, "address": row.get("address"),
                "city": row.get("city"), "state_code": row.get("state"),
                "zip": row.get("zip_code"), "is_active": True})))
        self._finish_create(user, "vendor", int(company["id"]), key, adopted,
                            "imported from Sage")
        # The tax id: the cache keeps no clear value, so Sage's vendor list is read again
        # and the row's value set in Procore when it arrives (vendor_tax_ids). Also
        # after adopting: the lost attempt may have stopped before the tax id; one that
        # is there is left alone.
        requested = tax_ids.present(row) and not setup.procore_tax_id(company)
        if requested:
            self.lists.request_vendor_row(
                user.company_id, f"{TAX_ID_READ}{int(company['id'])}:{vendor}")
        return {"company": without_tax_id(company), "sage_vendor": vendor,
                "adopted": adopted is not None, "tax_id_requested": requested}

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

    def set_default_cost_types(self, user: User, code: str, types: list[int],
                               version: int | None = None) -> dict[str, Any]:
        """``version``: the settings version the client edited (None: the one read here);
        the write is conditional on it, so a concurrent settings save is never reverted
        (the store answers Conflict, 409, naming who saved meanwhile)."""
        require(user, Permission.ASSIGN_DEFAULT_COST_TYPES)
        self._sage_row(user.company_id, "cost_codes", code, "cost code")
        known = {int(r["type"]) for r in self.lists.rows(user.company_id, "cost_types")}
        unknown = sorted(set(types) - (known or set(range(1, 10))))
        if unknown:
            raise BadRequest(f"field 'cost_types': {unknown} are not Sage cost types",
                             field="cost_types")
        settings = self.store.get_company_settings(user.company_id)
        defaults = {**settings.get("default_cost_types", {}), code: sorted(set(types))}
        saved = self.store.put_company_settings(
            user.company_id, {**settings, "default_cost_types": defaults},
            expected_version=settings["version"] if version is None else version,
            updated_by=user.subject, updated_at=self.clock())
        return {"code": code, "cost_types": defaults[code], "version": saved}

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
        procore = self.procore_for(user.company_id)
        own = procore.find_sub_jobs(procore_id, origin_id=key)
        sub_job, adopted = self._create_once(user, "sub_job", key, own, lambda: (
            procore.create_sub_job(procore_id, {"name": row["name"], "code": str(phase),
                                                "origin_id": key})))
        self._finish_create(user, "sub_job", int(sub_job["id"]), key, adopted,
                            "imported from Sage")
        return {"sub_job": sub_job, "job": job, "phase": phase, "adopted": adopted is not None}

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
            differences = setup.vendor_differences(setup.vendor_snapshot(
                procore.get_vendor(pair.procore_id), self.tax_id_key()), row)
        self._both_unlinked(user.company_id, pair.kind, pair.procore_id, key,
                            pair.procore_noun, pair.sage_noun)
        procore_key, sage_key = pair.answer_keys
        answer = {procore_key: pair.procore_id, sage_key: pair.sage_key,
                  "differences": differences}
        if preview:
            return {"preview": True, **answer}
        # Procore's origin id first: if Procore is away nothing is linked yet, and the
        # person's retry starts over (writing the same origin again changes nothing).
        ORIGIN_WRITERS[pair.kind](procore, None, None, pair.procore_id, key, key)
        self._link(user, pair.kind, pair.procore_id, key, "linked existing records",
                   differences=differences)
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

    def _create_once(self, user: User, kind: str, key: str, own: list[dict[str, Any]],
                     create: Callable[[], dict[str, Any]],
                     ) -> tuple[dict[str, Any], Adoption | None]:
        """The Procore record for Sage ``key``: the one found carrying ``key`` as its origin
        id (``own``, adopted), else one ``create`` POSTs now (no adoption).

        A POST is never resent after a 5xx or a lost connection (Procore may have acted),
        so the caller's next attempt is the retry. One attempt, and where a lost answer or
        a crash may stop it::

            intent put --> POST --> (tax id) --> link + history --> intent cleared
                              ^ stopped anywhere here: the record may exist, unlinked ^

        The next attempt finds that record by its origin id (the caller looks it up first,
        before any 409 for a look-alike) and adopts it: linked once, no second POST, no
        409. Procore keeps ``origin_id`` unique per company, so two attempts racing each
        other cannot both create: the second POST is refused. The intent, kept until the
        link is written, tells an attempt whose answer was lost from a record linked
        before and unlinked since (adopted too: it already stands for this Sage record),
        and says whose attempt it was.
        """
        if own:
            record = own[0]
            attempt = self.intents.get(user.company_id, kind, key)
            logger.info("adopting a procore record", kind=kind, procore_id=record["id"],
                        sage_key=key, attempt=attempt)
            how = ADOPTED_LOST_ANSWER if attempt is not None else ADOPTED_ORIGIN
            return record, Adoption(how, attempt)
        self.intents.put(user.company_id, kind, key, origin_id=key, actor=user.subject,
                         at=self.clock())
        return create(), None

    def _finish_create(self, user: User, kind: str, procore_id: int, key: str,
                       adopted: Adoption | None, created_how: str) -> None:
        """Link what ``_create_once`` gave, then forget the intent (the link is the outcome)."""
        if adopted is None:
            self._link(user, kind, procore_id, key, created_how)
        else:
            self._link(user, kind, procore_id, key, adopted.how, attempt=adopted.attempt)
        self.intents.clear(user.company_id, kind, key)

    def _link(self, user: User, kind: str, procore_id: int, sage_key: str, how: str,
              differences: list[dict[str, Any]] | None = None,
              attempt: dict[str, Any] | None = None) -> Link:
        link = Link(company_id=user.company_id, kind=kind,  # type: ignore[arg-type]
                    procore_id=procore_id, sage_key=sage_key, created_at=self.clock(),
                    created_by=user.subject)
        self.store.put_link(link)
        self.store.add_link_event(user.company_id, kind, procore_id, {
            "action": "link", "how": how, "sage_key": sage_key, "actor": user.subject,
            "at": link.created_at, "differences": differences or [],
            **({"attempt": {k: attempt.get(k) for k in ("actor", "at")}} if attempt else {})})
        logger.info("linked", kind=kind, procore_id=procore_id, sage_key=sage_key, how=how)
        return link


def _public(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if not k.startswith("_")}


def _procore_code(sage_code: str) -> str:
    """Sage "3300.000" -> Procore code "3300" ("3300.125" keeps its decimals)."""
    whole, _, decimals = sage_code.partition(".")
    return whole if not decimals.strip("0") else sage_code
