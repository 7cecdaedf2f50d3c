"""What an observation of a Procore record does to its item (pure).

An observation is what intake (a webhook, the reconciliation, a tool admin's "send") read
from Procore: the snapshot, its readiness reasons and Procore's ``updated_at``. The rules,
in order:

1. Withdrawn and unlinked items ignore Procore; an unlinked one is evaluated again only
   when a person sends it (it then exports as a new Sage record).
2. A read older than the content already held is never applied (snapshots never go
   backwards): a "send" racing a webhook, or an old delivery evaluated late.
3. Accepted or exporting: the accepted snapshot exports, untouched; the new content waits
   as the pending change (a change back to the accepted content clears it).
4. Synced once: the new content is compared with what Sage holds. Changes Sage takes in
   place (header fields) make the item ready again, to export a modify; changes it does
   not (line amounts: a change order's job) keep it synced with the reason and the drift;
   content that again matches Sage puts it back in sync.
5. Otherwise the snapshot is replaced and the status follows the readiness reasons.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from chalicelib.domain.models import Item, content_hash
from chalicelib.domain.state_machine import Action, Status


@dataclass(frozen=True)
class Observation:
    snapshot: dict[str, Any]
    reasons: list[str] = field(default_factory=list)
    source_updated_at: str | None = None  # Procore's updated_at of what was read

    @property
    def digest(self) -> str:
        return content_hash(self.snapshot)


@dataclass(frozen=True)
class SyncDiff:
    """A synced record's new content compared with what Sage holds."""

    changes: list[str] = field(default_factory=list)  # fields a modify command carries
    reasons: list[str] = field(default_factory=list)  # why it cannot be exported as it is
    drift: dict[str, Any] | None = None  # what differs that only another record can carry


AfterSyncRule = Callable[[dict[str, Any], dict[str, Any]], SyncDiff]


def not_modifiable(kind: str) -> AfterSyncRule:
    """Kinds without modify commands: any change after sync is recorded, never exported."""

    def rule(synced: dict[str, Any], new: dict[str, Any]) -> SyncDiff:
        if content_hash(synced) == content_hash(new):
            return SyncDiff()
        return SyncDiff(reasons=[f"This {kind} is already in Sage 100 Contractor; the "
                                 "connector does not change it there. Make the change in "
                                 "Sage as well."], drift={"changed": True})

    return rule


@dataclass(frozen=True)
class Plan:
    action: Action
    mutate: Callable[[Item], None]
    note: str | None


COMMITTED = (Status.ACCEPTED, Status.EXPORTING)
WITH_SENDER = (Status.RETRIEVED, Status.REJECTED, Status.FAILED)
IGNORED_AFTER = (Status.WITHDRAWN, Status.UNLINKED)


def is_older(observed: str | None, held: str | None) -> bool:
    """True when ``observed`` is strictly before ``held`` (unknown times never are)."""
    if not observed or not held:
        return False
    return _parse(observed) < _parse(held)


def is_tie(item: Item, obs: Observation) -> bool:
    """Same Procore updated_at as the content held, but other content.

    Procore's updated_at has one-second resolution, so two reads a moment apart can carry
    the same time and different content, and neither can be called newer. The caller then
    reads Procore again: that read is newer than both, whichever came first.
    """
    committed = item.status in COMMITTED
    held_at = (item.pending_updated_at or item.source_updated_at) if committed \
        else item.source_updated_at
    held_hash = (item.pending_hash or item.snapshot_hash) if committed else item.snapshot_hash
    if not obs.source_updated_at or not held_at:
        return False
    return _parse(obs.source_updated_at) == _parse(held_at) and obs.digest != held_hash


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def plan(item: Item, obs: Observation, after_sync: AfterSyncRule, *,
         sent: bool = False) -> Plan | None:
    """The transition ``obs`` makes on ``item``, or None when it changes nothing.

    ``sent``: a person sent the record (not a webhook or the reconciliation poll).
    """
    if item.status is Status.UNLINKED and sent:
        action = Action.OBSERVE_NOT_READY if obs.reasons else Action.OBSERVE_READY
        return Plan(action, _replace(item, obs, list(obs.reasons), None),
                    "sent again after it was unlinked; it exports as a new Sage record")
    if item.status in IGNORED_AFTER:
        return None
    if item.status in COMMITTED:
        return _plan_pending(item, obs)
    if is_older(obs.source_updated_at, item.source_updated_at):
        return None
    reasons, drift, in_sync = list(obs.reasons), None, False
    if item.synced_snapshot is not None:
        diff = after_sync(item.synced_snapshot, obs.snapshot)
        reasons += [r for r in diff.reasons if r not in reasons]
        drift = diff.drift
        in_sync = not reasons and not diff.changes
    digest = obs.digest
    if in_sync:
        if item.status is Status.SYNCED and digest == item.snapshot_hash and not item.reasons:
            return None
        return Plan(Action.OBSERVE_IN_SYNC, _replace(item, obs, [], None),
                    "matches what Sage holds again; nothing to export")
    if digest == item.snapshot_hash and reasons == item.reasons and drift == item.drift:
        return None
    action = Action.OBSERVE_NOT_READY if reasons else Action.OBSERVE_READY
    return Plan(action, _replace(item, obs, reasons, drift), _note(item, reasons))


def _plan_pending(item: Item, obs: Observation) -> Plan | None:
    """Accepted/exporting: the new content waits; the accepted snapshot exports."""
    if is_older(obs.source_updated_at, item.pending_updated_at or item.source_updated_at):
        return None
    digest = obs.digest
    pending = None if digest == item.snapshot_hash else obs
    if item.pending_hash == (digest if pending else None) and item.reasons == obs.reasons:
        return None

    def keep_pending(new: Item) -> None:
        new.pending_snapshot = dict(pending.snapshot) if pending else None
        new.pending_hash = digest if pending else None
        new.pending_updated_at = obs.source_updated_at if pending else None
        new.reasons = list(obs.reasons)  # about the latest content, shown with the item

    action = Action.OBSERVE_NOT_READY if obs.reasons else Action.OBSERVE_READY
    note = ("changed in Procore after acceptance; the accepted version exports and the "
            "change waits for its own acceptance" if pending else
            "changed back in Procore to the accepted content")
    return Plan(action, keep_pending, note)


def _replace(item: Item, obs: Observation, reasons: list[str],
             drift: dict[str, Any] | None) -> Callable[[Item], None]:
    digest = obs.digest

    def replace(new: Item) -> None:
        if digest != item.snapshot_hash:
            new.snapshot, new.snapshot_hash = dict(obs.snapshot), digest
            new.snapshot_version = item.snapshot_version + 1
            new.title = str(obs.snapshot.get("title") or "")
            new.number = str(obs.snapshot.get("number") or "")
        if obs.source_updated_at and not is_older(obs.source_updated_at,
                                                  item.source_updated_at):
            new.source_updated_at = obs.source_updated_at
        new.reasons = list(reasons)
        new.drift = drift
        new.deleted_in_procore = False
        new.pending_snapshot = new.pending_hash = new.pending_updated_at = None

    return replace


def _note(item: Item, reasons: list[str]) -> str | None:
    if item.status in WITH_SENDER:
        return "changed in Procore; resend to put it in front of an approver"
    if item.status is Status.SYNCED and not reasons:
        return "changed in Procore after sync; the change goes to Sage once accepted"
    return "; ".join(reasons) if reasons else None


def promote_pending(item: Item) -> Observation | None:
    """The change that waited during an export, as an observation to apply after it."""
    if item.pending_snapshot is None:
        return None
    return Observation(snapshot=item.pending_snapshot, reasons=list(item.reasons),
                       source_updated_at=item.pending_updated_at)
