"""The relay agent's loop: long-poll commands, apply each to Sage once, report the result.

Order is the point: Sage write -> journal finish -> send result -> mark reported -> delete
the command message. A crash at any step leaves the message on the queue (SQS redelivers it
after the visibility timeout) and the journal tells the next delivery what already
happened: 'done' replays the stored result without writing; 'started' (a crash between the
Sage write and the journal finish) looks the record up in Sage by its natural key before
writing. Results journaled but never sent go out first on the next loop.

Pulls (PULL_JOBS, PULL_VENDORS, ...) are read-only and skip the journal: a redelivered
pull simply reads again. Each page read from Sage becomes one Result (page 1..n, more=True
but on the last; halved until its JSON is under PAGE_BYTES_MAX), each with its own
deduplication id ``<command_id>:p<page>``, grouped by the command's item so pages arrive in
order; the command message is deleted after the last page is sent. A Sage error ends the
pull with one error Result (page None). Pages come from the port, or from a real Sage
company database when ``sage_database_url`` is configured; that database is read-only for
the agent, so writes are then refused (12806) until Sage's API stands behind the port.

A job cost pull (PULL_JOB_COSTS) is one page per command: the agent reads ONE page of the
job's jobcst rows after the command's cursor and up to its cap (``read_job_costs``; with
no cap, Sage's clock less JOB_COST_SETTLE_SECONDS) and answers ONE Result (page 1, rows
compressed in ``data_zlib``, sage_keys {"cursor": next cursor or "", "until": the cap},
more while rows remain before the cap; dedup id ``<command_id>:p1``). The cloud sends the
next page's command only after Procore took this one. A page whose message would be over
PAGE_BYTES_MAX ends early, its cursor after its last row sent.

Order within a job: the command queue is FIFO, grouped by Sage job (MessageGroupId), and
one batch may hold several messages of a group. When one of them fails (its parse, an
unexpected exception, or a Result that is not ok) the rest of that group in the batch is
not processed but released (visibility 0), so SQS hands it back after the failed one: a
job's later command (its subcontract) never overtakes an earlier one (the job) that is
still to be retried. Other groups in the batch carry on.

A large command carries its payload compressed (``payload_zlib``); the agent reads every
payload through ``Command.typed_payload()``, which decodes either form.

AWS being unreachable never stops the agent: it logs, backs off (exponential, full
jitter, capped) and carries on when AWS answers again.
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import ValidationError

from chalicelib.relay_protocol import (
    PROTOCOL_VERSION,
    PULLS,
    Command,
    CommandType,
    Heartbeat,
    JobCostPullPayload,
    PullPayload,
    Result,
    SageFailure,
)
from relay.config import AgentConfig
from relay.journal import Journal
from relay.sage.port import INVALID_DATA, SECURITY_DENIED, SageError, SagePort, SageReader
from relay.sage.reads import SageReads, job_cost_cursor
from relay.setup_writes import SETUP_FINDS, SETUP_JOB_PULLS, SETUP_PULLS, SETUP_WRITES
from relay.single_reads import SINGLE_READS, answer_read

AGENT_VERSION = "0.1.0"

log = logging.getLogger("relay.agent")

_Read = TypeVar("_Read")  # what a read retried by RelayAgent._retrying answers

# A result message's JSON stays under this (SQS allows 256 KB): bigger pages are halved.
PAGE_BYTES_MAX = 200_000

# Pull command -> the list SagePort.read serves.
PULL_TABLES: dict[CommandType, str] = {
    CommandType.PULL_JOBS: "jobs",
    CommandType.PULL_VENDORS: "vendors",
    CommandType.PULL_COST_CODES: "cost_codes",
    CommandType.PULL_COST_TYPES: "cost_types",
    CommandType.PULL_PHASES: "phases",
    CommandType.PULL_BUDGETS: "budgets",
    CommandType.PULL_PAYMENTS: "payments",
    CommandType.PULL_COMMITMENTS: "commitments", **SETUP_PULLS,  # + receipts, receivables
}
# Pulls that PullPayload.job narrows to one job (not the others: a job given with them is
# ignored, the whole list is read).
JOB_PULLS = frozenset({CommandType.PULL_PHASES, CommandType.PULL_BUDGETS,
                       CommandType.PULL_COMMITMENTS, *SETUP_JOB_PULLS})

# Write command -> the port method that applies it.
WRITES: dict[CommandType, Callable[[SagePort, Any], dict[str, str]]] = {
    CommandType.ADD_SUBCONTRACT: lambda sage, payload: sage.add_subcontract(payload),
    CommandType.ADD_PURCHASE_ORDER: lambda sage, payload: sage.add_purchase_order(payload),
    CommandType.ADD_JOB: lambda sage, payload: sage.add_job(payload),
    CommandType.ADD_VENDOR: lambda sage, payload: sage.add_vendor(payload),
    CommandType.MODIFY_SUBCONTRACT: lambda sage, payload: sage.modify_subcontract(payload),
    CommandType.MODIFY_PURCHASE_ORDER:
        lambda sage, payload: sage.modify_purchase_order(payload),
    CommandType.ADD_BUDGET: lambda sage, payload: sage.add_budget(payload),
    CommandType.CHANGE_BUDGET: lambda sage, payload: sage.change_budget(payload),
    CommandType.ADD_SUBCONTRACT_CHANGE_ORDER:
        lambda sage, payload: sage.add_subcontract_change_order(payload),
    CommandType.APPEND_PURCHASE_ORDER_LINES:
        lambda sage, payload: sage.append_purchase_order_lines(payload),
    CommandType.ADD_PAYABLE_INVOICE: lambda sage, payload: sage.add_payable_invoice(payload),
    **SETUP_WRITES,  # cost codes and phases (relay/setup_writes.py)
}

# Add command -> how Sage is asked whether it already has the record (reconciliation).
# Modifies and budget change sets set absolute values: they have none and are simply
# applied again.
FINDS: dict[CommandType, Callable[[SagePort, Any], dict[str, str] | None]] = {
    CommandType.ADD_SUBCONTRACT:
        lambda sage, payload: sage.find_subcontract(payload.job, payload.number),
    CommandType.ADD_PURCHASE_ORDER: lambda sage, payload: sage.find_purchase_order(
        payload.number),
    CommandType.ADD_JOB: lambda sage, payload: sage.find_job(payload.job),
    # By number, or by name when Sage chose the number.
    CommandType.ADD_VENDOR: lambda sage, payload: sage.find_vendor(payload.vendor,
                                                                   payload.name),
    # Every line there with exactly its amounts.
    CommandType.ADD_BUDGET: lambda sage, payload: sage.find_budget(payload),
    # Change orders add amounts (deltas): never applied twice, found by their reference.
    CommandType.ADD_SUBCONTRACT_CHANGE_ORDER:
        lambda sage, payload: sage.find_subcontract_change_order(payload),
    CommandType.APPEND_PURCHASE_ORDER_LINES:
        lambda sage, payload: sage.find_purchase_order_lines(payload),
    # An invoice adds to what the subcontract billed: found by vendor, number, job,
    # subcontract and total, never posted twice.
    CommandType.ADD_PAYABLE_INVOICE: lambda sage, payload: sage.find_payable_invoice(payload),
    **SETUP_FINDS,
}

# ClientError codes that mean "AWS is busy, try later" rather than "you are wrong".
_THROTTLING = frozenset({
    "Throttling", "ThrottlingException", "RequestThrottled", "TooManyRequestsException",
    "RequestLimitExceeded", "AWS.SimpleQueueService.RequestThrottled", "ServiceUnavailable",
    "InternalError", "InternalFailure", "SlowDown",
})


def _event(level: int, event: str, **fields: Any) -> None:
    log.log(level, event, extra={"fields": fields})


def backoff_delay(attempt: int, base: float, cap: float, rng: Callable[[], float]) -> float:
    """Full jitter: uniform in [0, min(cap, base * 2**attempt)) so retries do not align."""
    return rng() * min(cap, base * 2 ** attempt)


def is_transient(exc: BaseException) -> bool:
    """Connection failures, 5xx and throttling: AWS will answer again, so keep trying."""
    if isinstance(exc, BotoCoreError):
        return True
    if isinstance(exc, ClientError):
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0
        code = exc.response.get("Error", {}).get("Code", "")
        return status >= 500 or code in _THROTTLING
    return False


class RelayAgent:
    """Applies the cloud's commands to Sage exactly once and reports each result."""

    def __init__(
        self,
        config: AgentConfig,
        sage: SagePort,
        sqs_client: Any,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        rng: Callable[[], float] = random.random,
        crash_after_sage_write: bool = False,
        reads: SageReader | None = None,
    ) -> None:
        self.config = config
        self.sage = sage
        # Pulls read a real Sage company database when one is configured (read-only for
        # the agent), else through the port: the embedded stand-in reads its own file with
        # the same statements (relay/sage/reads.py).
        if reads is None and config.sage_database_url is not None:
            reads = SageReads.connect(config.sage_database_url)
            _event(logging.INFO, "pulls read the Sage company database",
                   database=reads.describe())
        self.reads: SageReader = reads if reads is not None else sage
        self.sqs = sqs_client  # public: tests swap it to simulate AWS going away and back
        self.journal = Journal(config.journal_path, clock=clock)
        self._clock = clock
        self._sleep = sleep
        self._rng = rng
        self._crash_after_sage_write = crash_after_sage_write
        self._next_heartbeat = float("-inf")  # first heartbeat on the first loop
        self.commands_applied = 0  # commands now in Sage because of this agent (ok results)
        self.results_sent = 0  # results put on the results queue (re-sends included)
        self.heartbeats_sent = 0

    # ---- the loop -----------------------------------------------------------------------
    def run(self, stop: threading.Event) -> None:
        """Loop until ``stop`` is set; the message in hand is always finished first."""
        failures = 0
        while not stop.is_set():
            try:
                self.poll_once(stop)
            except (BotoCoreError, ClientError) as exc:
                delay = backoff_delay(failures, self.config.backoff_base,
                                      self.config.backoff_cap, self._rng)
                failures += 1
                _event(logging.WARNING if is_transient(exc) else logging.ERROR,
                       "aws call failed; backing off", error=type(exc).__name__,
                       detail=str(exc), consecutive_failures=failures,
                       retry_in=round(delay, 3))
                self._pause(stop, delay)
            else:
                if failures:
                    _event(logging.INFO, "aws reachable again", after_failures=failures)
                failures = 0
        _event(logging.INFO, "agent stopped", agent_id=self.config.agent_id,
               commands_applied=self.commands_applied, results_sent=self.results_sent)

    def poll_once(self, stop: threading.Event | None = None) -> int:
        """One turn: heartbeat if due, re-send unreported results, take one batch.

        AWS errors propagate (``run`` backs off); returns how many messages were handled.
        """
        now = self._clock()
        if now >= self._next_heartbeat:
            self.send_heartbeat()
            self._next_heartbeat = now + self.config.heartbeat_seconds
        self.flush_unreported()
        # Never poll past the next heartbeat, so a quiet queue does not delay it.
        wait = int(max(0.0, min(self.config.wait_seconds, self._next_heartbeat - self._clock())))
        response = self.sqs.receive_message(
            QueueUrl=self.config.commands_queue_url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=wait,
            VisibilityTimeout=self.config.visibility_timeout,
            # The group (Sage job) is what keeps a failure from being overtaken in the batch.
            MessageSystemAttributeNames=["ApproximateReceiveCount", "MessageGroupId"],
        )
        messages = response.get("Messages", [])
        self._process_batch(messages, stop)
        return len(messages)

    def _process_batch(self, messages: list[dict[str, Any]],
                       stop: threading.Event | None) -> None:
        """Process in order; after a failure, the rest of its group is released, not run.

        A released message returns after the failed one: SQS delivers a group in order and
        holds the whole group back while any of its messages is in flight. A failure left on
        the queue comes back with the released ones behind it in one batch, so they share
        its receive count and reach the DLQ with it, still in order, after maxReceiveCount.
        """
        failed: dict[str, str | None] = {}  # group -> message id of its failure
        held: list[dict[str, Any]] = []
        for index, message in enumerate(messages):
            if stop is not None and stop.is_set():
                held.extend(messages[index:])  # stopping: hand the rest back now
                break
            group = _group(message)
            if group is not None and group in failed:
                _event(logging.WARNING, "message held back: an earlier message of its group "
                       "failed", group=group, message_id=message.get("MessageId"),
                       after_message_id=failed[group], outcome="held")
                held.append(message)
                continue
            if not self.process_message(message) and group is not None:
                failed[group] = message.get("MessageId")
        if held:
            self._release(held)

    def process_message(self, message: dict[str, Any]) -> bool:
        """Parse, handle, report, then delete: the delete comes last, after the send.

        Returns whether the command succeeded (False: it failed or is left on the queue).
        """
        command = self._parse(message)
        if command is None:
            return False  # left on the queue: SQS redrives it to the DLQ after maxReceiveCount
        if command.type in SINGLE_READS:  # one read, one Result (relay/single_reads.py)
            return answer_read(self, command, message)
        if command.type in PULLS or command.type is CommandType.PULL_JOB_COSTS:
            if command.type is CommandType.PULL_JOB_COSTS:
                last = self.pull_job_costs(command)
            else:
                last = self.pull(command)
            if last is None:
                return False  # failed unexpectedly (logged): redelivered, then the DLQ
            self.sqs.delete_message(QueueUrl=self.config.commands_queue_url,
                                    ReceiptHandle=message["ReceiptHandle"])
            return last.ok
        try:
            result = self.handle(command)
        except Exception:  # an adapter bug must not kill the loop; logged with its traceback
            # The journal says 'started'; the message comes back and is reconciled, and
            # after maxReceiveCount it goes to the DLQ where a person looks at it.
            log.exception("command failed unexpectedly",
                          extra={"fields": {"command_id": command.command_id,
                                            "item_id": command.item_id,
                                            "outcome": "exception"}})
            return False
        self._send_result(result)
        self.journal.mark_reported(result.command_id)
        self.sqs.delete_message(QueueUrl=self.config.commands_queue_url,
                                ReceiptHandle=message["ReceiptHandle"])
        return result.ok

    def flush_unreported(self) -> int:
        """Send results journaled before a crash or an AWS outage; returns how many."""
        results = self.journal.unreported()
        for result in results:
            self._send_result(result)
            self.journal.mark_reported(result.command_id)
            _event(logging.INFO, "pending result sent", command_id=result.command_id,
                   item_id=result.item_id, outcome="ok" if result.ok else "error")
        return len(results)

    def send_heartbeat(self) -> Heartbeat:
        """Tell the cloud this agent is alive (and how much it has done)."""
        beat = Heartbeat(agent_id=self.config.agent_id, company_id=self.config.company_id,
                         at=self._now_iso(), agent_version=AGENT_VERSION,
                         commands_applied=self.commands_applied)
        self.sqs.send_message(
            QueueUrl=self.config.results_queue_url,
            MessageBody=beat.model_dump_json(),
            MessageGroupId=f"heartbeat:{self.config.agent_id}",
            MessageDeduplicationId=f"hb:{self.config.agent_id}:{beat.at}",
        )
        self.heartbeats_sent += 1
        _event(logging.DEBUG, "heartbeat sent", at=beat.at)
        return beat

    def close(self) -> None:
        self.journal.close()

    # ---- pulls -----------------------------------------------------------------------------
    def pull(self, command: Command) -> Result | None:
        """Answer a read-only pull with one Result per page; returns the last one sent.

        No journal: reading again on redelivery is harmless. AWS errors propagate (``run``
        backs off; the message comes back and the pull starts over, the pages already sent
        being dropped by FIFO deduplication within its 5-minute window). An unexpected
        error is logged and None returned, leaving the message for redelivery / the DLQ.
        """
        try:
            payload: PullPayload = command.typed_payload()
        except ValidationError as exc:
            failure = SageFailure(code=INVALID_DATA, message=_validation_message(exc))
            return self._send_pull_error(command, failure, 1, pages=0)
        table = PULL_TABLES[command.type]
        job = payload.job if command.type in JOB_PULLS else None
        cursor: str | None = None
        page = rows_sent = 0
        result: Result | None = None
        while True:
            try:
                rows, next_cursor, attempts = self._read_page(command, table, cursor,
                                                              payload.page_size, job)
                chunks = self._split(command, rows)
            except SageError as exc:  # a retryable one was retried max_attempts times
                failure = SageFailure(code=exc.code, message=exc.message,
                                      retryable=exc.retryable)
                return self._send_pull_error(command, failure,
                                             self.config.max_attempts if exc.retryable else 1,
                                             pages=page)
            except Exception:  # an adapter bug must not kill the loop
                log.exception("pull failed unexpectedly", extra={"fields": {
                    "command_id": command.command_id, "item_id": command.item_id,
                    "outcome": "exception", "pages_sent": page}})
                return None
            if not rows:
                next_cursor = None  # an empty page is always the last
            elif next_cursor is not None and next_cursor == cursor:
                # A reader that does not advance would page forever: end the pull as failed.
                failure = SageFailure(code=INVALID_DATA, message=(
                    f"{command.type.value}: reading {table} did not advance past {cursor}"))
                return self._send_pull_error(command, failure, 1, pages=page)
            for index, chunk in enumerate(chunks):
                page += 1
                last = next_cursor is None and index == len(chunks) - 1
                result = self._result(command, ok=True, data=chunk, page=page, more=not last,
                                      attempts=attempts)
                self._send_result(result, dedup_id=f"{command.command_id}:p{page}")
                rows_sent += len(chunk)
            if next_cursor is None:
                break
            cursor = next_cursor
        _event(logging.INFO, "pull answered", command_id=command.command_id,
               item_id=command.item_id, type=command.type.value, outcome="ok", pages=page,
               rows=rows_sent)
        return result

    def _read_page(self, command: Command, table: str, cursor: str | None, limit: int,
                   job: int | None) -> tuple[list[dict[str, Any]], str | None, int]:
        """One sage.read, retried with back-off while Sage is busy; (rows, next, attempts)."""
        (rows, next_cursor), attempts = self._retrying(
            command, lambda: self.reads.read(table, after=cursor, limit=limit, job=job))
        return rows, next_cursor, attempts

    def _retrying(self, command: Command, read: Callable[[], _Read]) -> tuple[_Read, int]:
        """``read`` retried with back-off while Sage is busy; (its answer, attempts)."""
        attempts = self.config.max_attempts
        for attempt in range(1, attempts + 1):
            try:
                answer = read()
            except SageError as exc:
                if not (exc.retryable and attempt < attempts):
                    raise
                delay = backoff_delay(attempt - 1, self.config.backoff_base,
                                      self.config.backoff_cap, self._rng)
                _event(logging.WARNING, "sage busy; retrying read",
                       command_id=command.command_id, item_id=command.item_id, code=exc.code,
                       attempt=attempt, retry_in=round(delay, 3))
                self._sleep(delay)
                continue
            return answer, attempt
        raise AssertionError("unreachable: the last attempt returns or raises")

    def pull_job_costs(self, command: Command) -> Result | None:
        """Answer PULL_JOB_COSTS with ONE Result: one page of the job's job costs.

        Rows in ``data_zlib``; sage_keys {"cursor": the position after the page's last row
        (the last page's too), "until": the run's cap}; more while rows remain before the
        cap. No journal (read-only). An
        invalid payload, cursor or cap and a Sage error (a busy Sage retried as for every
        pull) answer one error Result; an unexpected error is logged and None returned,
        leaving the message for redelivery / the DLQ.
        """
        try:
            payload: JobCostPullPayload = command.typed_payload()
        except ValidationError as exc:
            failure = SageFailure(code=INVALID_DATA, message=_validation_message(exc))
            return self._send_pull_error(command, failure, 1, pages=0)
        try:
            (rows, cursor, until), attempts = self._retrying(
                command, lambda: self.reads.read_job_costs(
                    payload.job, after=payload.after, until=payload.until,
                    limit=payload.page_size))
            result = self._job_cost_page(command, rows, cursor is not None, until, attempts,
                                         after=payload.after)
        except SageError as exc:  # a retryable one was retried max_attempts times
            failure = SageFailure(code=exc.code, message=exc.message, retryable=exc.retryable)
            return self._send_pull_error(command, failure,
                                         self.config.max_attempts if exc.retryable else 1,
                                         pages=0)
        except ValueError as exc:  # a cursor or cap the reader does not take
            failure = SageFailure(code=INVALID_DATA, message=f"{command.type.value}: {exc}")
            return self._send_pull_error(command, failure, 1, pages=0)
        except Exception:  # an adapter bug must not kill the loop
            log.exception("pull failed unexpectedly", extra={"fields": {
                "command_id": command.command_id, "item_id": command.item_id,
                "outcome": "exception", "pages_sent": 0}})
            return None
        self._send_result(result, dedup_id=f"{command.command_id}:p1")
        _event(logging.INFO, "pull answered", command_id=command.command_id,
               item_id=command.item_id, type=command.type.value, outcome="ok", pages=1,
               rows=len(result.rows()), more=result.more, job=payload.job)
        return result

    def _job_cost_page(self, command: Command, rows: list[dict[str, Any]], more: bool,
                       until: str, attempts: int, *, after: str | None) -> Result:
        """The page's Result, its rows halved until the message is under PAGE_BYTES_MAX.

        sage_keys["cursor"] is the position after the last row sent, on the last page too
        (the next run starts there), or ``after`` as asked when no row was read.
        """
        while True:
            cursor = job_cost_cursor(rows[-1]) if rows else (after or "")
            result = self._result(command, ok=True, data_zlib=Result.pack_rows(rows), page=1,
                                  more=more, sage_keys={"cursor": cursor, "until": until},
                                  attempts=attempts)
            if len(result.model_dump_json().encode()) <= PAGE_BYTES_MAX:
                return result
            if len(rows) == 1:
                raise SageError(INVALID_DATA, f"{command.type.value}: the record "
                                f"{rows[0].get('record')} is too large to send (over "
                                f"{PAGE_BYTES_MAX} bytes)")
            rows = rows[:len(rows) // 2]
            more = True

    def _split(self, command: Command, rows: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
        """``rows`` in as few halvings as keep each result message under PAGE_BYTES_MAX."""
        probe = self._result(command, ok=True, data=rows, page=1, more=True)
        if len(probe.model_dump_json().encode()) <= PAGE_BYTES_MAX:
            return [rows]
        if len(rows) == 1:
            key = next(iter(rows[0].values()), None)
            raise SageError(INVALID_DATA, f"{command.type.value}: the record {key} is too "
                            f"large to send (over {PAGE_BYTES_MAX} bytes)")
        half = len(rows) // 2
        return self._split(command, rows[:half]) + self._split(command, rows[half:])

    def _send_pull_error(self, command: Command, failure: SageFailure, attempts: int, *,
                         pages: int) -> Result:
        result = self._error(command, failure, attempts)
        self._send_result(result, dedup_id=f"{command.command_id}:error")
        _event(logging.WARNING, "pull failed", command_id=command.command_id,
               item_id=command.item_id, type=command.type.value, outcome="error",
               code=failure.code, pages_sent=pages)
        return result

    # ---- one command --------------------------------------------------------------------
    def handle(self, command: Command) -> Result:
        """Apply ``command`` to Sage at most once and return (and journal) its result."""
        entry = self.journal.begin(command)
        reconcile = False
        if entry is not None:
            if entry.state == "done" and entry.result is not None and not _retry_later(
                    entry.result):
                _event(logging.INFO, "command replayed from journal",
                       command_id=command.command_id, item_id=command.item_id,
                       outcome="replayed")
                return entry.result
            # 'started': we may have written before crashing. A retryable failure: the
            # cloud asks again; Sage may or may not have the record. Look before writing.
            reconcile = True
            if entry.state == "done":
                self.journal.restart(command.command_id)
        try:
            payload = command.typed_payload()
        except ValidationError as exc:
            result = self._error(command, SageFailure(code=INVALID_DATA,
                                                      message=_validation_message(exc)), 1)
        else:
            result = self._apply(command, payload, reconcile=reconcile)
        self.journal.finish(command.command_id, result)
        _event(logging.INFO if result.ok else logging.WARNING, "command handled",
               command_id=command.command_id, item_id=command.item_id,
               type=command.type.value, outcome="ok" if result.ok else "error",
               code=result.error.code if result.error else None,
               attempts=result.attempts, sage_keys=result.sage_keys)
        return result

    def _apply(self, command: Command, payload: Any, *, reconcile: bool) -> Result:
        """Write with retries for retryable Sage errors; reconcile first when unsure."""
        attempts = self.config.max_attempts
        for attempt in range(1, attempts + 1):
            try:
                if reconcile:
                    keys = self._find(command.type, payload)
                    if keys is not None:
                        _event(logging.INFO, "found in Sage; not written again",
                               command_id=command.command_id, item_id=command.item_id,
                               outcome="reconciled", sage_keys=keys)
                        return self._ok(command, keys, attempt)
                keys = self._write(command.type, payload)
            except SageError as exc:
                if exc.retryable and attempt < attempts:
                    delay = backoff_delay(attempt - 1, self.config.backoff_base,
                                          self.config.backoff_cap, self._rng)
                    _event(logging.WARNING, "sage busy; retrying", command_id=command.command_id,
                           item_id=command.item_id, code=exc.code, attempt=attempt,
                           retry_in=round(delay, 3))
                    self._sleep(delay)
                    reconcile = True  # a failure may hide a commit (e.g. a timeout): look first
                    continue
                return self._error(command, SageFailure(code=exc.code, message=exc.message,
                                                        retryable=exc.retryable), attempt)
            if self._crash_after_sage_write:
                os._exit(137)  # test hook: die between the Sage write and journal.finish
            return self._ok(command, keys, attempt)
        raise AssertionError("unreachable: the last attempt always returns")

    def _write(self, kind: CommandType, payload: Any) -> dict[str, str]:
        if self.config.sage_database_url is not None:
            # A real Sage is written only through Sage's own API (behind the port), never
            # into its database; until that adapter exists, nothing is written anywhere.
            raise SageError(SECURITY_DENIED, (
                f"{kind.value} refused: this agent reads a real Sage company database "
                "(sage_database_url), which it may not write to; writes to a real Sage go "
                "through Sage's API, which this agent version does not have"))
        write = WRITES.get(kind)
        if write is None:
            raise SageError(INVALID_DATA, f"command type {kind} is not supported by this agent")
        return write(self.sage, payload)

    def _find(self, kind: CommandType, payload: Any) -> dict[str, str] | None:
        find = FINDS.get(kind)
        return None if find is None else find(self.sage, payload)

    def _ok(self, command: Command, keys: dict[str, str], attempts: int) -> Result:
        self.commands_applied += 1
        return self._result(command, ok=True, sage_keys={k: str(v) for k, v in keys.items()},
                            attempts=attempts)

    def _error(self, command: Command, failure: SageFailure, attempts: int) -> Result:
        return self._result(command, ok=False, error=failure, attempts=attempts)

    def _result(self, command: Command, **fields: Any) -> Result:
        return Result(command_id=command.command_id, company_id=command.company_id,
                      item_id=command.item_id, export_version=command.export_version,
                      agent_id=self.config.agent_id, finished_at=self._now_iso(), **fields)

    # ---- plumbing -----------------------------------------------------------------------
    def _parse(self, message: dict[str, Any]) -> Command | None:
        """A Command for this company and protocol, or None (logged, left for the DLQ)."""
        message_id = message.get("MessageId")
        receives = message.get("Attributes", {}).get("ApproximateReceiveCount")
        try:
            command = Command.model_validate_json(message.get("Body", ""))
        except ValidationError as exc:
            _event(logging.ERROR, "unparseable command left for the DLQ", message_id=message_id,
                   receive_count=receives, outcome="unparseable",
                   detail=_validation_message(exc))
            return None
        problem = None
        if command.protocol != PROTOCOL_VERSION:
            problem = f"protocol {command.protocol}, agent speaks {PROTOCOL_VERSION}"
        elif command.company_id != self.config.company_id:
            problem = f"company {command.company_id}, agent serves {self.config.company_id}"
        if problem:
            _event(logging.ERROR, "command not for this agent; left for the DLQ",
                   message_id=message_id, command_id=command.command_id,
                   item_id=command.item_id, outcome="refused", detail=problem)
            return None
        return command

    def _send_result(self, result: Result, *, dedup_id: str | None = None) -> None:
        # Group by item: results of one item (and the pages of a pull) arrive in order.
        # Dedup by command id (a pull's pages: by command id and page): a replayed result
        # inside SQS's 5-minute window reaches the cloud once.
        self.sqs.send_message(
            QueueUrl=self.config.results_queue_url,
            MessageBody=result.model_dump_json(),
            MessageGroupId=result.item_id,
            MessageDeduplicationId=dedup_id or result.command_id,
        )
        self.results_sent += 1

    def _release(self, messages: list[dict[str, Any]]) -> None:
        """Stopping: hand untouched messages back now instead of after the visibility timeout."""
        entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
                   for i, m in enumerate(messages)]
        try:
            self.sqs.change_message_visibility_batch(QueueUrl=self.config.commands_queue_url,
                                                     Entries=entries)
        except (BotoCoreError, ClientError) as exc:
            _event(logging.WARNING, "could not release messages; they return after the "
                   "visibility timeout", error=type(exc).__name__, count=len(entries))

    def _pause(self, stop: threading.Event, seconds: float) -> None:
        # The real sleep is stop.wait so SIGTERM cuts a back-off short; tests inject sleep.
        if self._sleep is time.sleep:
            stop.wait(seconds)
        else:
            self._sleep(seconds)

    def _now_iso(self) -> str:
        return datetime.fromtimestamp(self._clock(), UTC).isoformat(timespec="milliseconds")


def _group(message: dict[str, Any]) -> str | None:
    """The message's FIFO group (its Sage job), as receive_message was asked to return."""
    group: str | None = message.get("Attributes", {}).get("MessageGroupId")
    return group


def _retry_later(result: Result) -> bool:
    """A stored failure the cloud may ask again about (Sage was busy): not final."""
    return not result.ok and result.error is not None and result.error.retryable


def _validation_message(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error["loc"]) or "payload"
        parts.append(f"{where}: {error['msg']}")
    return "; ".join(parts)
