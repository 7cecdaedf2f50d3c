"""Import a Sage job's contract into Procore's Prime Contracts tool ("Import a Prime
Contract from the ERP"), standard/admin on the ERP tool.

Timeline (each step can be repeated without doubling anything):

    request: checks (linked job; no prime contract linked to the job; no prime contract
             in the Procore project that we did not make), record {status
             waiting_for_sage, command_id}, READ_JOB_CONTRACT sent to the agent -> 202
    the agent's Result (the results consumer, item id ``import:prime_contract:{P}``):
        Sage's refusal (12802 no such job) or no contract amount -> {status failed, reason}
        the prime contract found by its origin id (the job number), else POSTed (Draft,
        retainage from Sage) -> the schedule of values synced by origin id (only the
        lines Procore lacks) -> link prime_contract <-> job (origin "sage") -> record
        {status imported, prime_contract_id, amounts}

A redelivered Result, or one of an earlier request, changes nothing: only the Result of
the record's command id while it waits is applied. A crash after the POST is healed by
the next delivery, which finds the prime contract by its origin id and POSTs nothing.
Refusals only Sage can tell (no contract amount, no such job) arrive with the read, so
they end the import as failed with the reason (read by ``GET``), as the budget import's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chalicelib.adapters.procore import ProcoreClient
from chalicelib.adapters.procore_prime_contracts import (
    create_prime_contract,
    list_prime_contract_lines,
    list_prime_contracts,
    sync_prime_contract_lines,
)
from chalicelib.adapters.queues import FifoQueue
from chalicelib.adapters.store import ItemStore, StaleItem
from chalicelib.adapters.store_prime_contracts import PrimeContractImports
from chalicelib.domain import prime_contracts
from chalicelib.domain.models import Link, utc_now
from chalicelib.domain.permissions import Permission, User, require
from chalicelib.errors import Conflict, FatalUpstreamError, ServiceUnavailable
from chalicelib.observability import count, logger
from chalicelib.relay_protocol import Command, CommandType, JobContractPayload, Result

WAITING, IMPORTED, FAILED = "waiting_for_sage", "imported", "failed"
LINK_KIND = "prime_contract"
ITEM_PREFIX = "import:prime_contract:"
WRITE_ATTEMPTS = 3
MAX_ATTEMPTS = 5  # deliveries of one Result that Procore or AWS cut short before it fails


class ImportRefused(Exception):
    """Procore holds what makes the import impossible; the message says why."""


def item_id(project_id: int) -> str:
    return f"{ITEM_PREFIX}{project_id}"


class PrimeContractImportService:
    def __init__(self, store: ItemStore, imports: PrimeContractImports, commands: FifoQueue,
                 procore_for: Callable[[int], ProcoreClient],
                 clock: Callable[[], str] = utc_now) -> None:
        self.store = store
        self.imports = imports
        self.commands = commands
        self.procore_for = procore_for
        self.clock = clock

    # ---- people ----------------------------------------------------------------------------
    def request(self, user: User, project_id: int) -> dict[str, Any]:
        require(user, Permission.IMPORT_PRIME_CONTRACT)
        company = user.company_id
        link = self.store.get_link(company, "project", project_id)
        if link is None:
            raise Conflict(f"project {project_id} is not linked to a Sage job; link it to its "
                           "job (or add it to Sage) before importing the job's contract")
        job = prime_contracts.contract_origin(link.sage_key)
        before = self.imports.get(company, project_id)
        linked = self.store.get_link_by_sage(company, LINK_KIND, job)
        if linked is not None:
            raise Conflict(
                f"the contract of Sage job {job} was imported already: Procore prime "
                f"contract {linked.procore_id}"
                + (f" #{before['number']}" if before.get("number") else "")
                + " is linked to it; change it through prime contract change orders",
                prime_contract_id=linked.procore_id, sage_job=job)
        foreign = [c for c in list_prime_contracts(self.procore_for(company), project_id)
                   if str(c.get("origin_id") or "") != job]
        if foreign:
            raise Conflict(
                f"project {project_id} already has a {prime_contracts.describe(foreign[0])} "
                "in Procore that was not imported from Sage; a prime contract is set up in "
                "one system, never in both: delete it in Procore or keep it",
                prime_contract_id=foreign[0].get("id"))
        now = self.clock()
        run = now.replace("-", "").replace(":", "").replace(".", "")
        command = Command(command_id=f"{company}:prime_contract:{project_id}:{run}",
                          company_id=company, type=CommandType.READ_JOB_CONTRACT,
                          item_id=item_id(project_id), export_version=0,
                          payload=JobContractPayload(job=int(job)).model_dump(mode="json"),
                          issued_at=now)
        # The record first, so a fast Result finds its command id; a send that fails leaves
        # it waiting, and asking again sends a new read (a Result of the old one is ignored).
        self._write(company, project_id, lambda _: {
            "project_id": project_id, "job": job, "status": WAITING, "requested_at": now,
            "requested_by": user.subject, "command_id": command.command_id})
        self.commands.send(command.model_dump(mode="json"),
                           deduplication_id=command.command_id, group_id=f"{company}:pulls")
        count("PrimeContractImportsRequested")
        return self.status(user, project_id)

    def status(self, user: User, project_id: int) -> dict[str, Any]:
        require(user, Permission.IMPORT_PRIME_CONTRACT)
        doc = self.imports.get(user.company_id, project_id)
        doc.pop("version", None)
        doc.pop("command_id", None)
        return doc or {"project_id": project_id, "status": "never_imported"}

    # ---- the agent's answer ------------------------------------------------------------------
    def handle_result(self, result: Result) -> str:
        company = result.company_id
        project_id = int(result.item_id.removeprefix(ITEM_PREFIX))
        doc = self.imports.get(company, project_id)
        if doc.get("command_id") != result.command_id or doc.get("status") != WAITING:
            logger.info("prime contract read not applicable (done or superseded)",
                        command_id=result.command_id, status=doc.get("status"))
            count("ResultsIgnored")
            return "ignored"
        if not result.ok:
            error = result.error
            words = f"{error.code} {error.message}" if error else "the relay agent failed"
            return self._fail(company, project_id, f"Sage refused the read: {words}")
        try:
            plan = prime_contracts.plan(result.rows()[0])
            contract, written = self._import(company, project_id, plan)
        except (prime_contracts.ContractRefused, ImportRefused) as exc:
            return self._fail(company, project_id, str(exc))
        except FatalUpstreamError as exc:  # Procore refused a write: retrying cannot help
            return self._fail(company, project_id,
                              f"Procore refused the import: {exc.message[:300]}")
        except Exception:
            # Procore or AWS away: the Result is delivered again (SQS), a bounded number
            # of times before the import fails.
            tries = int(doc.get("attempts", 0)) + 1
            if tries >= MAX_ATTEMPTS:
                return self._fail(company, project_id, f"the import failed {tries} times "
                                  "(Procore or AWS unavailable); request it again")
            self._write(company, project_id, lambda d: {**d, "attempts": tries})
            raise
        try:
            self.store.put_link(Link(company_id=company, kind=LINK_KIND,
                                     procore_id=int(contract["id"]), sage_key=plan.origin_id,
                                     origin="sage", created_at=self.clock(),
                                     created_by="system:import"))
        except Conflict:
            pass  # linked by an earlier delivery of this Result
        count("PrimeContractImportsDone")
        logger.info("prime contract imported", project_id=project_id, job=plan.job,
                    prime_contract_id=contract["id"], lines=len(plan.lines))
        self._write(company, project_id, lambda d: {
            **d, "status": IMPORTED, "reason": None, "finished_at": self.clock(),
            "prime_contract_id": int(contract["id"]), "number": contract.get("number"),
            "title": contract.get("title"), "contract_amount": f"{plan.contract:.2f}",
            "retention_rate": f"{plan.retention_rate:.2f}", "lines": len(plan.lines),
            "lines_written": written, "note": plan.note})
        return "imported"

    def _import(self, company_id: int, project_id: int,
                plan: prime_contracts.PrimeContractPlan) -> tuple[dict[str, Any], int]:
        """The prime contract (found by origin id, else created) with every line of the
        plan; (the contract, how many lines this run wrote)."""
        procore = self.procore_for(company_id)
        contracts = list_prime_contracts(procore, project_id)
        ours = [c for c in contracts if str(c.get("origin_id") or "") == plan.origin_id]
        others = [c for c in contracts if c not in ours]
        if not ours and others:
            raise ImportRefused(
                f"project {project_id} has a {prime_contracts.describe(others[0])} in Procore "
                "now that was not imported from Sage; nothing was imported")
        contract = ours[0] if ours else create_prime_contract(procore, project_id,
                                                              plan.fields())
        existing = list_prime_contract_lines(procore, project_id, int(contract["id"]))
        missing = prime_contracts.missing_lines(plan, existing)
        if missing:
            outcome = sync_prime_contract_lines(procore, project_id, int(contract["id"]),
                                                [line.update() for line in missing])
            if outcome.errors:
                named = prime_contracts.describe(contract)
                raise ImportRefused(f"Procore refused line items of {named}: "
                                    f"{str(outcome.errors)[:300]}")
        return contract, len(missing)

    def _fail(self, company_id: int, project_id: int, reason: str) -> str:
        logger.warning("prime contract import refused", project_id=project_id, reason=reason)
        count("PrimeContractImportsRefused")
        self._write(company_id, project_id, lambda d: {
            **d, "status": FAILED, "reason": reason, "finished_at": self.clock()})
        return "failed"

    def _write(self, company_id: int, project_id: int,
               change: Callable[[dict[str, Any]], dict[str, Any]]) -> dict[str, Any]:
        for _ in range(WRITE_ATTEMPTS):
            doc = self.imports.get(company_id, project_id)
            version = doc.pop("version", 0)
            new = change(doc)
            try:
                self.imports.put(company_id, project_id, new, expected_version=version)
            except StaleItem:
                continue
            return new
        raise ServiceUnavailable(f"the prime contract import of project {project_id} kept "
                                 "changing")
