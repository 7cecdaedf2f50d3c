"""The intake load run (bench/intake_load.py): driving it. The environment, the
connector's logger and moto around the run, and the run itself: the sandbox's changes,
the deliveries to the receiver, the inbound queue fed to the intake, the counters and
the checks of the stored items."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import random
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bench.intake_load_plan import COMPANY, PlannedCommitment, _Changes, _Company, _plan

if TYPE_CHECKING:
    from bench.intake_load import LoadConfig

WEBHOOK_TOKEN = "Bearer intake-load-token"
CLIENT_ID = "connector-client"
CLIENT_SECRET = "connector-secret"
WRITE_OPERATIONS = ("PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems",
                    "BatchWriteItem")


@dataclass
class LoadResult:
    config: LoadConfig
    deliveries: int = 0  # POSTed to the receiver
    commitments: int = 0
    items: int = 0
    ready: int = 0
    not_ready: int = 0
    lost: list[str] = field(default_factory=list)
    doubled: list[str] = field(default_factory=list)
    item_versions: int = 0
    content_states: int = 0  # distinct consecutive content states, summed over commitments
    receiver_answers: Counter[str] = field(default_factory=Counter)
    intake_messages: int = 0  # messages the intake handled (duplicates past SQS included)
    intake_failures: int = 0  # batch item failures reported (retried)
    dead_letters: int = 0
    left_on_queue: int = 0
    receiver_seconds: float = 0.0
    intake_seconds: float = 0.0
    aws_seconds: float = 0.0  # of which inside DynamoDB/SQS calls (moto, in-process)
    dynamodb_calls: Counter[str] = field(default_factory=Counter)
    dynamodb_write_items: int = 0
    procore_requests: Counter[str] = field(default_factory=Counter)
    warnings: Counter[str] = field(default_factory=Counter)  # the connector's, by message

    @property
    def lost_count(self) -> int:
        return len(self.lost)

    @property
    def doubled_count(self) -> int:
        return len(self.doubled)

    @property
    def deliveries_per_second(self) -> float:
        return self.deliveries / (self.receiver_seconds + self.intake_seconds)

    @property
    def deliveries_per_second_outside_aws(self) -> float:
        """The same, less the time spent inside the (emulated) DynamoDB and SQS calls."""
        return self.deliveries / (
            self.receiver_seconds + self.intake_seconds - self.aws_seconds)

    @property
    def dynamodb_write_requests(self) -> int:
        return sum(self.dynamodb_calls[op] for op in WRITE_OPERATIONS)

    @property
    def dynamodb_read_requests(self) -> int:
        return sum(self.dynamodb_calls.values()) - self.dynamodb_write_requests

    @property
    def procore_gets(self) -> int:
        return self.procore_requests["GET"]

    def per_delivery(self, value: float) -> float:
        return value / self.deliveries



@contextlib.contextmanager
def _environment(values: dict[str, str | None]) -> Iterator[None]:
    """Set (or, with None, remove) environment variables; put them back afterwards."""
    saved = {key: os.environ.get(key) for key in values}
    try:
        for key, value in values.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


class _Tally(logging.Handler):
    """Counts the connector's warnings by message (they are not printed during the run)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: Counter[str] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        self.messages[record.getMessage()] += 1


@contextlib.contextmanager
def _quiet_logger() -> Iterator[Counter[str]]:
    """The connector logs every event at INFO: thousands of lines would time the logger.
    Warnings are counted instead of printed (errors are still printed)."""
    from chalicelib.observability import logger

    level = logger.log_level
    printer = getattr(logger, "registered_handler", None)
    printer_level = printer.level if printer is not None else logging.NOTSET
    tally = _Tally()
    logger.setLevel("WARNING")
    logger.addHandler(tally)
    if printer is not None:
        printer.setLevel(logging.ERROR)
    try:
        yield tally.messages
    finally:
        logger.removeHandler(tally)
        logger.setLevel(level)
        if printer is not None:
            printer.setLevel(printer_level)


@contextlib.contextmanager
def _light_transaction_backups(enabled: bool = True) -> Iterator[None]:
    """moto backs up every table a TransactWriteItems touches with a deep copy of the whole
    table, for its rollback: O(table) per transaction, so a long run turns quadratic and
    times the emulator, not the connector; and the copy is never freed (moto's BaseModel
    tracks every instance it makes until the mock ends: about 12 GB over 10,000
    deliveries). A transaction of Put, Delete and ConditionCheck operations only replaces
    or removes items (never changes an Item object in place), so an untracked copy of the
    table's key -> item index restores exactly the same state; transactions with an Update
    keep moto's deep copy. The connector's code is not touched."""
    if not enabled:
        yield
        return
    import copy as real_copy
    from collections import defaultdict

    from moto.dynamodb import models

    light = {"on": False}

    class _Copy:
        copy = staticmethod(real_copy.copy)

        @staticmethod
        def deepcopy(value: Any, memo: Any = None) -> Any:
            if light["on"] and isinstance(value, models.Table):
                # object.__new__: moto's BaseModel.__new__ would track the copy for ever.
                clone = object.__new__(type(value))
                clone.__dict__.update(value.__dict__)
                clone.items = defaultdict(dict, {
                    key: dict(entry) if isinstance(entry, dict) else entry
                    for key, entry in value.items.items()})
                return clone
            return real_copy.deepcopy(value, memo)

    backend = models.DynamoDBBackend
    original = backend.transact_write_items

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        light["on"] = all(next(iter(op)) in ("Put", "Delete", "ConditionCheck")
                          for op in transact_items)
        try:
            return original(self, transact_items)
        finally:
            light["on"] = False

    saved_copy = models.copy
    models.copy = _Copy  # type: ignore[assignment]
    backend.transact_write_items = transact_write_items  # type: ignore[method-assign]
    try:
        yield
    finally:
        models.copy = saved_copy
        backend.transact_write_items = original  # type: ignore[method-assign]


class _Run:
    def __init__(self, config: LoadConfig, sandbox: Any, resources: Any) -> None:
        import boto3

        from chalicelib import wiring

        self.config = config
        self.sandbox = sandbox
        self.sqs = boto3.client("sqs")
        self.inbound_url = resources.refs["InboundEventsQueue"]
        self.dead_letter_url = resources.refs["InboundEventsDeadLetterQueue"]
        self.store = wiring.get_store()
        self.result = LoadResult(config)
        self.rng = random.Random(config.seed)
        self.counting = False
        self.received = 0
        self.plans: list[PlannedCommitment] = []

    # -- counters ------------------------------------------------------------------------
    def _count_request(self, model: Any, **_: Any) -> None:
        """before-call: one request sent to DynamoDB (before any retry of it)."""
        if self.counting:
            self.result.dynamodb_calls[model.name] += 1

    def _count_items(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        """before-parameter-build: the records a write request writes."""
        if not self.counting or model.name not in WRITE_OPERATIONS:
            return
        if model.name == "TransactWriteItems":
            self.result.dynamodb_write_items += len(params.get("TransactItems", []))
        elif model.name == "BatchWriteItem":
            self.result.dynamodb_write_items += sum(
                len(v) for v in params.get("RequestItems", {}).values())
        else:
            self.result.dynamodb_write_items += 1

    def _time_aws(self, client: Any) -> None:
        """Time spent inside each DynamoDB/SQS call (request, moto, answer)."""
        started: list[float] = []

        def before(**_: Any) -> None:
            started.append(time.perf_counter())

        def after(**_: Any) -> None:
            if started:
                elapsed = time.perf_counter() - started.pop()
                if self.counting:
                    self.result.aws_seconds += elapsed

        client.meta.events.register("before-call", before)
        client.meta.events.register("after-call", after)
        client.meta.events.register("after-call-error", after)

    def _count_procore(self) -> None:
        original = self.sandbox.handle

        def handle(method: str, target: str, headers: Any, body: bytes) -> Any:
            if self.counting:
                label = method.upper() if target.startswith("/rest/") else f"{method} {target}"
                self.result.procore_requests[label] += 1
            return original(method, target, headers, body)

        self.sandbox.handle = handle

    # -- the run -------------------------------------------------------------------------
    def go(self) -> LoadResult:
        from chalice.test import Client

        from app import app
        from chalicelib import wiring

        config, rng = self.config, self.rng
        company = _Company(self.sandbox, config.project_count)
        self.unlinked_project = company.unlinked_project
        company.link(self.store)
        plans = self.plans = _plan(config, company, rng)
        changes = _Changes(self.sandbox, company, rng)
        # One slot per change, shuffled: each commitment's changes stay in order, but
        # commitments interleave, and they start and finish at different times.
        order = [c for c in plans for _ in range(c.budget)]
        rng.shuffle(order)
        extra_copies = Counter(rng.choices(range(len(order)), k=config.duplicate_deliveries))
        rounds = min(config.round_count, len(order))
        schedule: list[list[dict[str, Any]]] = [[] for _ in range(rounds)]
        events = self.store.client.meta.events
        events.register("before-call.dynamodb.*", self._count_request)
        events.register("before-parameter-build.dynamodb.*", self._count_items)
        self._count_procore()
        for client in {id(c): c for c in (self.store.client, self.sqs,
                                          wiring.get_inbound_queue().client)}.values():
            self._time_aws(client)
        with Client(app, stage_name="test") as client:
            self.client = client
            first = fired = len(self.sandbox.events)
            final_changes: set[int] = set()
            for r in range(rounds):
                for c in order[r * len(order) // rounds:(r + 1) * len(order) // rounds]:
                    last = c.step == c.budget - 1
                    changes.apply_next(c)
                    if last:
                        final_changes.add(len(self.sandbox.events) - 1 - first)
                for n, payload in enumerate(self.sandbox.events[fired:], start=fired - first):
                    if config.skip_final_changes and n in final_changes:
                        continue
                    # Delivered this round or a little later; its repeats later still.
                    schedule[min(rounds - 1, r + int(rng.expovariate(1.0)))].append(payload)
                    for _ in range(extra_copies[n]):
                        late = r + int(rng.expovariate(1 / 3))
                        schedule[min(rounds - 1, late)].append(payload)
                fired = len(self.sandbox.events)
                batch = schedule[r]
                rng.shuffle(batch)
                self.counting = True
                for payload in batch:
                    self._deliver(payload)
                self.counting = False
            if fired - first != len(order):
                raise RuntimeError(f"{len(order)} changes fired {fired - first} events")
            self.counting = True
            self._drain(final=True)
            self.counting = False
        self._check(plans)
        return self.result

    def _deliver(self, payload: dict[str, Any]) -> None:
        started = time.perf_counter()
        answer = self.client.http.post(
            "/webhooks/procore", body=json.dumps(payload),
            headers={"Content-Type": "application/json", "Authorization": WEBHOOK_TOKEN})
        self.result.receiver_seconds += time.perf_counter() - started
        status = ""
        with contextlib.suppress(ValueError, AttributeError):
            status = json.loads(answer.body).get("status", "")
        self.result.receiver_answers[f"{answer.status_code} {status}".strip()] += 1
        self.received += 1
        self.result.deliveries = self.received
        if self.received % self.config.pump_every == 0:
            self._drain(final=False)
        if self.config.progress and self.received % 1000 == 0:
            print(f"{self.received} deliveries, receiver {self.result.receiver_seconds:.0f} s, "
                  f"intake {self.result.intake_seconds:.0f} s", file=sys.stderr, flush=True)

    def _invoke(self, event: dict[str, Any]) -> Any:
        return self.client.lambda_.invoke("intake", event).payload

    def _drain(self, *, final: bool) -> None:
        """Poll the inbound queue like the event source mapping until it is empty; at the
        end also wait for failed messages to come back (or go to the dead letters)."""
        from devstack.pump import pump_once

        deadline = time.monotonic() + 60 + 6 * self.config.visibility_timeout
        while True:
            started = time.perf_counter()
            handled, failed = pump_once(self.sqs, self.inbound_url, self._invoke,
                                        visibility_timeout=self.config.visibility_timeout)
            self.result.intake_seconds += time.perf_counter() - started
            self.result.intake_messages += handled
            self.result.intake_failures += failed
            if handled or failed:
                continue
            if not final or self._depth(self.inbound_url) == 0 or time.monotonic() > deadline:
                return
            time.sleep(0.05)

    def _depth(self, url: str) -> int:
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages",
                                          "ApproximateNumberOfMessagesNotVisible"])
        values = attributes["Attributes"]
        return int(values["ApproximateNumberOfMessages"]) + int(
            values["ApproximateNumberOfMessagesNotVisible"])

    # -- the checks ----------------------------------------------------------------------
    def _check(self, plans: list[PlannedCommitment]) -> None:
        from chalicelib.domain.commitments import build_snapshot
        from chalicelib.domain.state_machine import Status

        result, sandbox, store = self.result, self.sandbox, self.store
        result.commitments = len(plans)
        result.dead_letters = self._depth(self.dead_letter_url)
        result.left_on_queue = self._depth(self.inbound_url)
        stored, cursor = [], None
        while True:
            page, cursor = store.list_items(COMPANY, limit=100, cursor=cursor)
            stored += page
            if cursor is None:
                break
        result.items = len(stored)
        expected_ids = {c.procore_id for c in plans}
        for item in stored:
            if item.kind != "commitment" or item.procore_id not in expected_ids:
                result.doubled.append(f"{item.item_id}: an item no commitment explains")
        for c in plans:
            name = f"commitment-{c.procore_id} ({c.profile})"
            record = sandbox.get_commitment(c.kind, c.procore_id)
            lines = sandbox.list_line_items(c.kind, c.procore_id)
            item = store.get_item(COMPANY, "commitment", c.procore_id)
            result.content_states += c.content_states
            if item is None:
                result.lost.append(f"{name}: no item")
                continue
            result.ready += item.status is Status.READY_TO_EXPORT
            result.not_ready += item.status is Status.NOT_READY
            problems = self._lost_problems(c, item, record, lines,
                                           build_snapshot(c.kind, record, lines))
            if problems:
                result.lost.append(f"{name}: " + "; ".join(problems))
            trail = store.audit_trail(COMPANY, "commitment", c.procore_id)
            result.item_versions += item.version
            problems = []
            if [e.version for e in trail] != list(range(1, item.version + 1)):
                problems.append(f"audit versions {[e.version for e in trail]} for version "
                                f"{item.version}")
            if [e.snapshot_version for e in trail] != list(range(1, len(trail) + 1)):
                problems.append("a version without a new snapshot: snapshot versions "
                                f"{[e.snapshot_version for e in trail]}")
            if item.version > c.content_states:
                problems.append(f"{item.version} versions for {c.content_states} content "
                                "states in Procore")
            if problems:
                result.doubled.append(f"{name}: " + "; ".join(problems))

    def _lost_problems(self, c: PlannedCommitment, item: Any, record: dict[str, Any],
                       lines: list[dict[str, Any]], expected: dict[str, Any]) -> list[str]:
        from chalicelib.domain.state_machine import Status

        problems = []
        snapshot = item.snapshot
        if snapshot != expected:
            differing = sorted(k for k in {*snapshot, *expected}
                               if snapshot.get(k) != expected.get(k))
            problems.append(f"snapshot differs from Procore in {differing}")
        # The same, field by field against the sandbox record (not through the builder).
        vendor = (snapshot.get("vendor") or {}).get("id")
        if (snapshot.get("title"), snapshot.get("number"), snapshot.get("status"), vendor,
                snapshot.get("grand_total")) != (
                record["title"], record["number"], record["status"],
                (record.get("vendor") or {}).get("id"), record["grand_total"]):
            problems.append("header differs from Procore")
        if sorted(ln["id"] for ln in snapshot.get("lines", [])) != sorted(
                ln["id"] for ln in lines):
            problems.append("lines differ from Procore")
        if item.deleted_in_procore:
            problems.append("marked deleted")
        wanted = self._expected_reasons(c)
        text = " | ".join(item.reasons)
        if not wanted:
            if item.status is not Status.READY_TO_EXPORT or item.reasons:
                problems.append(f"should be ready_to_export, is {item.status.value} "
                                f"({text})")
        elif item.status is not Status.NOT_READY or not all(w in text for w in wanted):
            problems.append(f"should be not_ready for {wanted}, is {item.status.value} "
                            f"({text})")
        return problems

    def _expected_reasons(self, c: PlannedCommitment) -> list[str]:
        wanted = {"ready": [], "draft": [f"is {c.final_status}."],
                  "vendor_unlinked": ["is not linked to a Sage vendor"],
                  "uncoded": ["has no cost code", "has no cost type"],
                  "long_title": ["takes at most 30"],
                  "long_number": ["takes at most 12"]}[c.profile]
        if c.project == self.unlinked_project:
            wanted = [*wanted, "is not linked to a Sage 100 Contractor job"]
        return wanted
