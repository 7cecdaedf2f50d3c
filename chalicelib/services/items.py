"""Moving items through their lifecycle: observations from intake, people's actions.

Each change reads the item, asks the state machine, and writes the new version plus its
audit event in one conditional transaction. Timeline of a race between two approvers:

    A: read v3 (ready_to_export)     B: read v3 (ready_to_export)
    A: write v4 accepted if v == 3   -> ok
                                     B: write v4 accepted if v == 3 -> condition fails
                                     B: read v4 (accepted) -> 409 "... that is accepted"
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chalicelib.adapters.queues import FifoQueue
from chalicelib.adapters.store import ItemStore, StaleItem
from chalicelib.domain import commitments
from chalicelib.domain.item_views import four_eyes_refusal
from chalicelib.domain.models import (
    SYSTEM_DIRECT_EXPORT,
    AuditEvent,
    ExportRecord,
    Item,
    parse_item_id,
    seconds_between,
    utc_now,
)
from chalicelib.domain.observations import (
    AfterSyncRule,
    Observation,
    is_tie,
    not_modifiable,
    plan,
    promote_pending,
)
from chalicelib.domain.permissions import Permission, User, require
from chalicelib.domain.state_machine import (
    Action,
    Status,
    TransitionNotAllowed,
    transition,
)
from chalicelib.errors import BadRequest, Conflict, Forbidden, NotFound, ServiceUnavailable
from chalicelib.kinds import kind_module
from chalicelib.observability import count, logger

OBSERVE_ATTEMPTS = 3
# Kinds whose synced records take changes in place (modify commands), and how.
AFTER_SYNC_RULES: dict[str, AfterSyncRule] = {"commitment": commitments.change_after_sync}
_COMMITTED = (Status.ACCEPTED, Status.EXPORTING)
_WITH_SENDER = (Status.RETRIEVED, Status.REJECTED, Status.FAILED)
_IGNORED_AFTER = (Status.WITHDRAWN, Status.UNLINKED)


class ItemService:
    def __init__(self, store: ItemStore, export_queue: FifoQueue,
                 clock: Callable[[], str] = utc_now, *, stale_after_seconds: int = 300,
                 four_eyes: bool = False,
                 on_ready: Callable[[Item], None] | None = None) -> None:
        self.store = store
        # Told of every item that has just entered ready_to_export (approver e-mails).
        self.on_ready = on_ready
        self.four_eyes = four_eyes
        self.export_queue = export_queue
        self.clock = clock
        self.stale_after_seconds = stale_after_seconds

    # ---- reads -----------------------------------------------------------------------
    def get(self, company_id: int, item_id: str) -> Item:
        try:
            kind, procore_id = parse_item_id(item_id)
        except ValueError as exc:
            raise NotFound(f"no item {item_id!r}: {exc}") from exc
        item = self.store.get_item(company_id, kind, procore_id)
        if item is None:
            raise NotFound(f"no item {item_id!r} in company {company_id}")
        return item

    def detail(self, user: User, item_id: str) -> dict[str, Any]:
        """The item as the caller sees it (``item_views``), its history and, while it
        exports, what it waits for."""
        from chalicelib.domain.item_views import item_detail

        company_id = user.company_id
        item = self.get(company_id, item_id)
        body = item_detail(item, user, four_eyes=self.four_eyes)
        body["history"] = [e.model_dump(mode="json") for e in self.store.audit_trail(
            company_id, item.kind, item.procore_id)]
        if item.status is Status.EXPORTING:
            body["waiting"] = waiting_note(item, self.store.latest_heartbeat(company_id),
                                           now=self.clock(),
                                           stale_after_seconds=self.stale_after_seconds)
        return body

    # ---- observations (intake, send) ---------------------------------------------------
    def observe(self, *, company_id: int, kind: str, procore_id: int, project_id: int | None,
                subtype: str | None, snapshot: dict[str, Any], reasons: list[str],
                actor: str, correlation_id: str | None = None,
                source_updated_at: str | None = None,
                reread: Callable[[], Observation] | None = None,
                sent: bool = False) -> Item | None:
        """Record what Procore says the item is now. None when nothing changed.

        Intake and "send" both come here, so both follow one rule (observations.plan):
        a read older than the content held is dropped; a read as old but different is
        settled by ``reread`` (Procore read again, now). Retries a lost race a few times:
        the new content must land on whatever version is current, and SQS retries the
        whole event if it still cannot.
        """
        obs = Observation(snapshot=snapshot, reasons=list(reasons),
                          source_updated_at=source_updated_at)
        for _ in range(OBSERVE_ATTEMPTS):
            item = self.store.get_item(company_id, kind, procore_id)
            if item is None:
                item = Item(company_id=company_id, kind=kind, procore_id=procore_id,
                            project_id=project_id, subtype=subtype, status=Status.NEW,
                            created_at=self.clock())
            if reread is not None and is_tie(item, obs):
                count("ObservationTies")
                obs, reread = reread(), None  # the fresh read is newer than both
            step = plan(item, obs, after_sync_rule(kind), sent=sent)
            if step is None:
                return None
            try:
                return self.apply(item, step.action, actor=actor, correlation_id=correlation_id,
                                  reason=step.note, mutate=step.mutate)
            except StaleItem:
                continue
        raise ServiceUnavailable(f"item {kind}-{procore_id} kept changing; will retry")

    def observe_refused(self, *, company_id: int, kind: str, procore_id: int,
                        project_id: int | None, subtype: str | None, reason: str, actor: str,
                        correlation_id: str | None = None) -> Item | None:
        """Procore refused to show the record (403, 422...): the item says why.

        The content held stays as it was (nothing was read); the refusal is its only
        readiness reason, so an open item is not_ready, a committed or synced one keeps
        its status and shows the reason. A later read that succeeds replaces it.
        """
        held = self.store.get_item(company_id, kind, procore_id)
        snapshot = held.snapshot if held is not None else {
            "id": procore_id, "project_id": project_id, "commitment_type": subtype}
        return self.observe(company_id=company_id, kind=kind, procore_id=procore_id,
                            project_id=project_id, subtype=subtype, snapshot=snapshot,
                            reasons=[reason], actor=actor, correlation_id=correlation_id)

    def observe_deleted(self, *, company_id: int, kind: str, procore_id: int, actor: str,
                        correlation_id: str | None = None) -> Item | None:
        for _ in range(OBSERVE_ATTEMPTS):
            item = self.store.get_item(company_id, kind, procore_id)
            if item is None or item.status in _IGNORED_AFTER or item.deleted_in_procore:
                return None

            def mark(new: Item) -> None:
                new.deleted_in_procore = True

            note = ("deleted in Procore" if item.status not in (*_COMMITTED, Status.SYNCED)
                    else "deleted in Procore after acceptance; the Sage record is unchanged")
            try:
                return self.apply(item, Action.OBSERVE_DELETED, actor=actor, reason=note,
                                  correlation_id=correlation_id, mutate=mark)
            except StaleItem:
                continue
        raise ServiceUnavailable(f"item {kind}-{procore_id} kept changing; will retry")

    # ---- people's actions --------------------------------------------------------------
    def accept(self, user: User, item_id: str, params: dict[str, Any] | None = None) -> Item:
        """Accept for export. A project needs its Sage job number (Procore's project number
        is proposed); a company may get its Sage vendor number (else Sage's next one)."""
        item = self.load_for(user, item_id, Permission.ACCEPT_OR_REJECT)
        refusal = four_eyes_refusal(item, user) if self.four_eyes else None
        if refusal:
            raise Forbidden(refusal, action="accept_or_reject",
                            required="an accounting approver other than the sender")
        accepted = _accepted(self._accept_params(item, params or {}))
        return self.enqueue_export(self._act(user, item, Action.ACCEPT, mutate=accepted))

    def accept_direct(self, item: Item) -> Item:
        """Direct exports on: a ready item is accepted without an approver (audited)."""
        try:
            accepted = _accepted(self._accept_params(item, {}))
        except (BadRequest, Conflict) as exc:
            logger.info("direct export skipped; an approver must accept", item_id=item.item_id,
                        reason=exc.message)
            return item
        reason = "direct exports are on: accepted without an approver"
        done = self.apply(item, Action.ACCEPT, actor=SYSTEM_DIRECT_EXPORT, reason=reason,
                          mutate=accepted, status_reason=reason)
        return self.enqueue_export(done)

    def _accept_params(self, item: Item, params: dict[str, Any]) -> dict[str, Any]:
        if item.kind == "project":
            number = params.get("sage_job_number") or item.snapshot.get("proposed_job_number")
            if not number:
                raise BadRequest("field 'sage_job_number' is required: the project number "
                                 "gives nothing to propose", field="sage_job_number")
            existing = self.store.get_erp_row(item.company_id, "jobs", str(number))
            if existing is not None:
                raise Conflict(f"Sage already has job {number} ('{existing.get('name')}'); "
                               "link the project to it instead of creating the job twice, or "
                               "choose another number", sage_job=number)
            return {"sage_job_number": int(number)}
        if item.kind == "vendor":
            number = params.get("sage_vendor_number")
            if number and self.store.get_erp_row(item.company_id, "vendors", str(number)):
                raise Conflict(f"Sage already has vendor {number}; link the company to it "
                               "or choose another number", sage_vendor=number)
            return {"sage_vendor_number": number} if number else {}
        if params.get("sage_job_number") or params.get("sage_vendor_number"):
            raise BadRequest(f"a {item.kind} is accepted without Sage numbers")
        return {}

    def reject(self, user: User, item_id: str, reason: str) -> Item:
        item = self.load_for(user, item_id, Permission.ACCEPT_OR_REJECT)
        return self._act(user, item, Action.REJECT, reason=reason)

    def retrieve(self, user: User, item_id: str) -> Item:
        item = self.load_for(user, item_id, Permission.SEND_RETRIEVE_RESEND)
        return self._act(user, item, Action.RETRIEVE)

    def resend(self, user: User, item_id: str) -> Item:
        item = self.load_for(user, item_id, Permission.SEND_RETRIEVE_RESEND)
        if item.status in _WITH_SENDER and item.reasons:
            raise Conflict(f"cannot resend item {item_id}: it is not ready: "
                           + " ".join(item.reasons), status=item.status.value,
                           reasons=item.reasons)
        return self._act(user, item, Action.RESEND)

    def load_for(self, user: User, item_id: str, permission: Permission) -> Item:
        """The item, once the caller may act on its kind (403 before 404: a denied
        caller learns nothing about which items exist)."""
        try:
            kind, _ = parse_item_id(item_id)
        except ValueError as exc:
            raise NotFound(f"no item {item_id!r}: {exc}") from exc
        require(user, permission, kind)
        return self.get(user.company_id, item_id)

    # ---- export hand-off ---------------------------------------------------------------
    def enqueue_export(self, item: Item, *, redrive: int = 0) -> Item:
        """Put the item's export record on the export queue.

        The acceptance (with its command id) is already durable. If SQS is away,
        export_enqueued stays False and the sweeper sends it on its next run. The
        deduplication id is the command id (plus the re-drive number), so a repeat within
        SQS's window is dropped, and the exporter matches the export record anyway.
        """
        export = item.export
        if export is None:
            return item
        message = {"company_id": item.company_id, "item_id": item.item_id, "kind": item.kind,
                   "procore_id": item.procore_id, "version": export.version,
                   "command_id": export.command_id, "redrive": redrive}
        try:
            self.export_queue.send(
                message, deduplication_id=export.command_id + (f":r{redrive}" if redrive else ""),
                group_id=f"{item.company_id}:project:{item.project_id}")
        except ServiceUnavailable as exc:
            logger.error("export hand-off failed; the sweeper retries it",
                         item_id=item.item_id, error=str(exc))
            count("ExportEnqueueFailed")
            return item
        if item.export_enqueued:
            return item
        sent = item.model_copy(update={"export_enqueued": True})
        try:
            self.store.save_fields(sent)
        except StaleItem:
            # Moved on meanwhile (exported, or a change was observed); the message is sent
            # and the exporter matches the export record, so the flag no longer matters.
            return self.store.get_item(item.company_id, item.kind, item.procore_id) or sent
        return sent

    # ---- the end of an export -----------------------------------------------------------
    def finish_export(self, item: Item, action: Action, *, mutate: Callable[[Item], None],
                      reason: str | None, actor: str, correlation_id: str | None) -> Item:
        """Synced or failed, and the change that waited (if any) applied after it, in one
        transaction: the pending change can never be dropped between the two."""
        waiting = promote_pending(item)

        def finished(new: Item) -> None:
            mutate(new)
            new.pending_snapshot = new.pending_hash = new.pending_updated_at = None
            if action is Action.EXPORT_SUCCEEDED:
                new.synced_snapshot, new.synced_hash = dict(new.snapshot), new.snapshot_hash
                new.reasons, new.drift = [], None

        done, event = self._step(item, action, actor=actor, reason=reason, mutate=finished,
                                 correlation_id=correlation_id, status_reason=reason)
        events = [event]
        then = plan(done, waiting, after_sync_rule(item.kind)) if waiting else None
        if then is not None:
            done, event = self._step(done, then.action, actor=actor, reason=then.note,
                                     mutate=then.mutate, correlation_id=correlation_id,
                                     status_reason=then.note)
            events.append(event)
        return self._save(item, done, events, actor)

    # ---- plumbing --------------------------------------------------------------------
    def act(self, user: User, item: Item, action: Action, *, reason: str | None = None,
            mutate: Callable[[Item], None] | None = None) -> Item:
        """A person's action on an item already loaded and permitted (409 when the status
        does not allow it or someone else changed the item first)."""
        return self._act(user, item, action, reason=reason, mutate=mutate)

    def _act(self, user: User, item: Item, action: Action, *, reason: str | None = None,
             mutate: Callable[[Item], None] | None = None) -> Item:
        try:
            return self.apply(item, action, actor=user.subject, reason=reason, mutate=mutate,
                               status_reason=reason)
        except TransitionNotAllowed as exc:
            raise Conflict(f"{exc} (item {item.item_id})", status=item.status.value) from exc
        except StaleItem as exc:
            current = self.store.get_item(item.company_id, item.kind, item.procore_id)
            status = current.status if current else item.status
            raise Conflict(
                f"item {item.item_id} was changed by someone else and is now {status.value}; "
                f"cannot {action.value.replace('_', ' ')} it", status=status.value) from exc
        except ValueError as exc:  # a reason the action needs is missing
            raise BadRequest(str(exc)) from exc

    def apply(self, item: Item, action: Action, *, actor: str, reason: str | None,
              correlation_id: str | None = None,
              mutate: Callable[[Item], None] | None = None,
              status_reason: str | None = None) -> Item:
        """One transition: the new version and its audit event, one conditional write
        (StaleItem when someone wrote first)."""
        new, event = self._step(item, action, actor=actor, reason=reason, mutate=mutate,
                                correlation_id=correlation_id, status_reason=status_reason)
        return self._save(item, new, [event], actor)

    def _save(self, read: Item, new: Item, events: list[AuditEvent], actor: str) -> Item:
        self.store.save_transition(new, events, expected_version=read.version)
        for event in events:
            logger.info("item transition", item_id=new.item_id, action=event.action,
                        from_status=event.from_status, to_status=event.to_status,
                        version=event.version, actor=actor, number=new.number,
                        reason=event.reason)
        entered = any(e.to_status == Status.READY_TO_EXPORT.value != e.from_status
                      for e in events)
        if entered and self.on_ready is not None:
            self.on_ready(new)  # every kind, every path (intake, send, resend) passes here
        return new

    def _step(self, item: Item, action: Action, *, actor: str, reason: str | None,
              mutate: Callable[[Item], None] | None, correlation_id: str | None,
              status_reason: str | None) -> tuple[Item, AuditEvent]:
        step = transition(item.status, action, reason)
        now = self.clock()
        new = item.model_copy(deep=True)
        new.status = step.to_status
        new.version = item.version + 1
        new.updated_at = now
        if step.to_status != step.from_status:
            new.status_reason = status_reason
            new.status_by = actor
            if step.to_status is Status.READY_TO_EXPORT:
                new.sent_by, new.sent_at = actor, now
        if action is Action.ACCEPT:
            _export_record(new, actor, now)
        if mutate is not None:
            mutate(new)
        event = AuditEvent(item_id=new.item_id, version=new.version, at=now, actor=actor,
                           action=action.value, from_status=step.from_status.value,
                           to_status=step.to_status.value, reason=reason,
                           snapshot_version=new.snapshot_version,
                           correlation_id=correlation_id or logger.get_correlation_id())
        return new, event


def after_sync_rule(kind: str) -> AfterSyncRule:
    """How a kind's changes after sync reach Sage (kinds without modifies: never)."""
    module = kind_module(kind)
    if module is not None:
        return module.after_sync
    return AFTER_SYNC_RULES.get(kind) or not_modifiable(kind)


def _accepted(accept_params: dict[str, Any]) -> Callable[[Item], None]:
    """The Sage numbers an approver gave (the export record is made by the transition)."""

    def accepted(new: Item) -> None:
        new.accept_params = accept_params

    return accepted


def _export_record(new: Item, actor: str, at: str) -> None:
    """Every acceptance creates one export record, fixed now: the snapshot it froze, the
    command id (known before anything is sent) and whether Sage gets an add or a modify."""
    command = f"{new.company_id}:{new.item_id}:v{new.version}"
    new.export = ExportRecord(
        version=new.version, command_id=command,
        operation="modify" if new.synced_snapshot is not None else "add",
        snapshot_version=new.snapshot_version, snapshot_hash=new.snapshot_hash,
        accepted_at=at, accepted_by=actor)
    new.command_id = command
    new.accepted_snapshot_version = new.snapshot_version
    new.export_enqueued = False
    new.exporting_since = None


def waiting_note(item: Item, heartbeat: dict[str, Any] | None, *, now: str,
                 stale_after_seconds: int) -> str | None:
    """Why an export is taking long, once it is (None while it is still young)."""
    if not item.exporting_since:
        return None
    waited = seconds_between(item.exporting_since, now)
    if waited < stale_after_seconds:
        return None
    minutes = int(waited // 60)
    seen = (f"last seen at {heartbeat['at']} (agent {heartbeat['agent_id']})" if heartbeat
            else "which has never been seen; is it installed and running?")
    return (f"waiting for the relay agent, {seen}; the command has waited {minutes} "
            "minutes and will be applied when the agent picks it up")
