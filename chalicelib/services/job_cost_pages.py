"""One page of Sage job cost rows into Procore Direct Costs, and into the connector's
record of them.

Two Procore calls per page of up to 1,000 rows: the direct costs' sync (headers, by
origin id: a resync updates) and their line items' sync (by origin id, with the
direct cost ids the first call answered). Procore refusing an entity makes that row
unsyncable with Procore's words (retried next run); Procore being away raises, so the
page is not recorded and its result is retried by SQS (every call is a sync by origin
id: sending the page again changes nothing twice).

A direct cost that someone edited in Procore since the connector last wrote it (found
at the run's start, see ``job_cost_sync``) is overwritten only with a record of what
Procore held and what Sage says (``overwritten``), never silently.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from chalicelib.adapters.procore import ProcoreClient
from chalicelib.adapters.store import ItemStore, StaleItem
from chalicelib.adapters.store_job_costs import bucket_of
from chalicelib.domain import job_costs
from chalicelib.domain.job_costs import CodeMap, Decision
from chalicelib.errors import ServiceUnavailable

BUCKET_WRITE_ATTEMPTS = 5
PROCORE_REFUSED = "procore_refused"


@dataclass
class PageOutcome:
    rows: int = 0
    synced: int = 0
    voided: int = 0
    unsyncable: int = 0
    procore_calls: int = 0
    retry: set[int] = field(default_factory=set)  # rows to try again next run
    settled: set[int] = field(default_factory=set)  # rows no longer to retry
    overwritten: list[dict[str, Any]] = field(default_factory=list)
    watermark: str | None = None  # newest updated_at Procore answered for our writes

    def note_writes(self, entities: list[dict[str, Any]]) -> None:
        """Move the watermark to the newest ``updated_at`` Procore answered."""
        stamps = [str(e["updated_at"]) for e in entities if e.get("updated_at")]
        self.watermark = max([*stamps, *([self.watermark] if self.watermark else [])],
                             default=None)

    def as_dict(self) -> dict[str, int]:
        return {"rows": self.rows, "synced": self.synced, "voided": self.voided,
                "unsyncable": self.unsyncable, "procore_calls": self.procore_calls}


def sync_page(store: ItemStore, procore: ProcoreClient, company_id: int, project_id: int,
              rows: Sequence[Mapping[str, Any]], codes: CodeMap,
              procore_edits: Mapping[str, Mapping[str, Any]]) -> PageOutcome:
    outcome = PageOutcome(rows=len(rows))
    if not rows:
        return outcome
    held = _held(store, company_id, project_id, {int(r["record"]) for r in rows})
    decisions = [job_costs.decide(row, codes,
                                  known=bool(held.get(str(row["record"]), {})
                                             .get("direct_cost_id")))
                 for row in rows]
    ids, refused = _send(procore, project_id, decisions, outcome)
    entries: dict[int, dict[str, Any]] = {}
    for decision in decisions:
        record = int(decision.row["record"])
        entry = job_costs.ledger_entry(decision, ids.get(record))
        if decision.synced and ids.get(record) is None:
            entry.update(unsyncable=PROCORE_REFUSED, reason=(
                f"Sage job cost {record}: Procore refused the direct cost: "
                f"{refused.get(record, 'no answer for it')}"))
        entries[record] = entry
        _count(decision, entry, outcome, procore_edits)
    _record(store, company_id, project_id, entries)
    return outcome


def _send(procore: ProcoreClient, project_id: int, decisions: list[Decision],
          outcome: PageOutcome) -> tuple[dict[int, int], dict[int | None, str]]:
    """Headers then lines: (recnum -> direct cost id for each row Procore took whole,
    recnum -> Procore's words for each row it refused)."""
    headers = [d.header for d in decisions if d.header is not None]
    if not headers:
        return {}, {}
    base = f"/rest/v1.0/projects/{int(project_id)}/direct_costs"
    answer = procore.sync(f"{base}/sync", headers, scope={})
    outcome.procore_calls += 1
    ids: dict[int, int] = {}
    for entity in answer.entities:
        record = job_costs.record_of(entity.get("origin_id"))
        if record is not None and entity.get("id") is not None:
            ids[record] = int(entity["id"])
    outcome.note_writes(answer.entities)
    refused = {job_costs.record_of(e.get("origin_id")): _words(e) for e in answer.errors}
    lines = []
    for decision in decisions:
        record = int(decision.row["record"])
        if decision.line is not None and record in ids:
            lines.append({**decision.line, "direct_cost_id": ids[record]})
    if lines:
        line_answer = procore.sync(f"{base}/line_items/sync", lines, scope={})
        outcome.procore_calls += 1
        outcome.note_writes(line_answer.entities)  # a line's write moves its direct cost
        for error in line_answer.errors:
            record = job_costs.record_of(error.get("origin_id"))
            refused[record] = _words(error)
    for record in refused:
        ids.pop(record, None)  # type: ignore[arg-type]
    return ids, refused


def _words(error: Mapping[str, Any]) -> str:
    detail = error.get("errors")
    if isinstance(detail, Mapping):
        return "; ".join(f"{name} {' '.join(map(str, msgs if isinstance(msgs, list) else [msgs]))}"
                         for name, msgs in detail.items())
    return str(detail or error.get("message") or "refused")


def _count(decision: Decision, entry: Mapping[str, Any], outcome: PageOutcome,
           procore_edits: Mapping[str, Mapping[str, Any]]) -> None:
    record = int(entry["record"])
    if entry.get("unsyncable"):
        outcome.unsyncable += 1
        if entry["unsyncable"] in job_costs.RETRIED or entry["unsyncable"] == PROCORE_REFUSED:
            outcome.retry.add(record)
        else:
            outcome.settled.add(record)
        return
    outcome.settled.add(record)
    outcome.synced += 1
    if int(entry["status"]) == job_costs.VOID:
        outcome.voided += 1
    edit = procore_edits.get(str(entry.get("direct_cost_id")))
    if edit is not None:
        outcome.overwritten.append({
            **edit, "record": record, "sage_amount": "0.00" if int(entry["status"]) ==
            job_costs.VOID else entry["amount"], "sage_description": decision.line and
            decision.line["description"]})


def _held(store: ItemStore, company_id: int, project_id: int,
          records: set[int]) -> dict[str, dict[str, Any]]:
    held: dict[str, dict[str, Any]] = {}
    for bucket in sorted({bucket_of(r) for r in records}):
        rows, _ = store.get_job_cost_bucket(company_id, project_id, bucket)
        held.update({k: v for k, v in rows.items() if int(k) in records})
    return held


def _record(store: ItemStore, company_id: int, project_id: int,
            entries: Mapping[int, dict[str, Any]]) -> None:
    """Merge the page's rows into their buckets (conditional: read again on a race)."""
    by_bucket: dict[int, dict[str, dict[str, Any]]] = {}
    for record, entry in entries.items():
        by_bucket.setdefault(bucket_of(record), {})[str(record)] = entry
    for bucket, fresh in sorted(by_bucket.items()):
        for _ in range(BUCKET_WRITE_ATTEMPTS):
            rows, version = store.get_job_cost_bucket(company_id, project_id, bucket)
            merged = {**rows}
            for key, entry in fresh.items():
                kept = rows.get(key) or {}
                # A row refused this time keeps the Procore id an earlier run got.
                if "direct_cost_id" not in entry and kept.get("direct_cost_id"):
                    entry = {**entry, "direct_cost_id": kept["direct_cost_id"]}
                merged[key] = entry
            try:
                store.put_job_cost_bucket(company_id, project_id, bucket, merged,
                                          expected_version=version)
                break
            except StaleItem:
                continue
        else:
            raise ServiceUnavailable("job cost rows kept changing; the page will be retried")
