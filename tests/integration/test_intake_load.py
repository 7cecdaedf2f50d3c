"""The intake load run (bench/intake_load.py) at a small size: webhook deliveries, 30 % of
them repeats of an earlier delivery, shuffled, interleaved with changes in the Procore
sandbox (127.0.0.1), through the Chalice webhook route and the intake Lambda handler fed
from the inbound FIFO queue, on moto made from infra/.

The checks here read the stored items back (list_items, get_item, audit_trail) while the
run's table and sandbox are still up, and compare them with what the sandbox holds at the
end, with the readiness rules worked out here from the sandbox's records and the links.
"""

from __future__ import annotations

import socket
from typing import Any

import pytest

from bench.intake_load import COMPANY, LoadConfig, PlannedCommitment, run
from chalicelib.domain.commitments import build_snapshot
from chalicelib.domain.state_machine import Status

KINDS = {"work_order_contracts": "work_order_contract",
         "purchase_order_contracts": "purchase_order_contract"}


class StoredCheck:
    """What the table holds at the end of a run, against the sandbox."""

    def __init__(self) -> None:
        self.lost: list[str] = []
        self.doubled: list[str] = []
        self.commitments = 0
        self.items = 0
        self.statuses: dict[str, int] = {}
        self.sandbox_url = ""

    def __call__(self, store: Any, sandbox: Any,
                 planned: list[PlannedCommitment]) -> None:
        self.sandbox_url = sandbox.url
        with sandbox.state.lock:
            in_procore = [(KINDS[segment], cid) for segment, pool in
                          sandbox.state.commitments.items() for cid in pool]
        self.commitments = len(in_procore)
        items, cursor = [], None
        while True:
            page, cursor = store.list_items(COMPANY, limit=100, cursor=cursor)
            items += page
            if cursor is None:
                break
        self.items = len(items)
        if sorted(i.procore_id for i in items) != sorted(cid for _, cid in in_procore):
            self.doubled.append("the items are not one per commitment")
        states = {c.procore_id: c.content_states for c in planned}
        for kind, cid in in_procore:
            self._check_one(store, sandbox, kind, cid, states.get(cid, 0))

    def _check_one(self, store: Any, sandbox: Any, kind: str, cid: int,
                   content_states: int) -> None:
        record = sandbox.get_commitment(kind, cid)
        lines = sandbox.list_line_items(kind, cid)
        item = store.get_item(COMPANY, "commitment", cid)
        if item is None:
            self.lost.append(f"{cid}: no item")
            return
        self.statuses[item.status.value] = self.statuses.get(item.status.value, 0) + 1
        if item.snapshot != build_snapshot(kind, record, lines):  # type: ignore[arg-type]
            self.lost.append(f"{cid}: snapshot is not what Procore holds")
        ready = _ready(store, record, lines)
        if ready and (item.status is not Status.READY_TO_EXPORT or item.reasons):
            self.lost.append(f"{cid}: ready in Procore, stored {item.status.value} "
                             f"{item.reasons}")
        if not ready and (item.status is not Status.NOT_READY or not item.reasons):
            self.lost.append(f"{cid}: not ready in Procore, stored {item.status.value}")
        trail = store.audit_trail(COMPANY, "commitment", cid)
        if len(trail) != item.version or [e.version for e in trail] != list(
                range(1, item.version + 1)):
            self.doubled.append(f"{cid}: {len(trail)} audit events for version "
                                f"{item.version}")
        # Links do not change during the run: every version must bring a new snapshot.
        if [e.snapshot_version for e in trail] != list(range(1, len(trail) + 1)):
            self.doubled.append(f"{cid}: a version without new content "
                                f"{[e.snapshot_version for e in trail]}")
        if item.version > content_states:
            self.doubled.append(f"{cid}: {item.version} versions for {content_states} "
                                "content states in Procore")


def _ready(store: Any, record: dict[str, Any], lines: list[dict[str, Any]]) -> bool:
    """The readiness rules (README, DESIGN.md) with Sage's default limits (12 / 30)."""
    vendor = record.get("vendor") or {}
    return (record["status"] == "Approved"
            and store.get_link(COMPANY, "project", record["project"]["id"]) is not None
            and bool(vendor) and store.get_link(COMPANY, "vendor", vendor["id"]) is not None
            and 0 < len(record["number"] or "") <= 12
            and len(record["title"] or "") <= 30
            and bool(lines)
            and all(ln.get("cost_code") and ln.get("line_item_type") for ln in lines))


def _refused(url: str) -> bool:
    host, port = url.removeprefix("http://").split(":")
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex((host, int(port))) != 0


def test_duplicated_shuffled_deliveries_lose_nothing_and_double_nothing() -> None:
    check = StoredCheck()
    config = LoadConfig(deliveries=300, commitments=20, duplicate_share=0.30)
    result = run(config, inspect=check)

    assert result.deliveries == 300
    assert result.receiver_answers == {"202 queued": 300}
    # Repeats really reached the intake (moto, unlike SQS, forgets a deduplication id once
    # its message is deleted): its own idempotency was exercised, not only SQS's.
    assert result.intake_messages > config.distinct_events
    assert check.commitments == 20
    assert check.lost == []
    assert check.doubled == []
    assert set(check.statuses) == {"ready_to_export", "not_ready"}
    assert result.lost == [] and result.doubled == []  # the bench's own checks agree
    assert result.dead_letters == 0 and result.left_on_queue == 0
    assert _refused(check.sandbox_url)  # the sandbox (127.0.0.1) is stopped


@pytest.mark.parametrize("payload_version", ["v3.0", "v4.0"])
def test_other_payload_versions(payload_version: str) -> None:
    check = StoredCheck()
    run(LoadConfig(deliveries=40, commitments=4, payload_version=payload_version),
        inspect=check)
    assert check.commitments == 4
    assert check.lost == [] and check.doubled == []


def test_the_checks_see_a_lost_final_change() -> None:
    """Negative control: each commitment's last change is never delivered and the intake
    runs after every delivery, so commitments whose final state no later event brought
    must show up as lost."""
    check = StoredCheck()
    result = run(LoadConfig(deliveries=40, commitments=4, rounds=40, pump_every=1,
                            skip_final_changes=True), inspect=check)
    assert check.lost
    assert result.lost
    assert check.doubled == []
