"""The agent's single reads: one command, one read of Sage, one Result.

READ_JOB_CONTRACT (the prime contract import) reads a job's contract and budget lines
(relay/sage/contract_reads.py) and answers ONE Result, the row compressed in
``data_zlib`` (dedup id ``<command_id>:p1``). Merged into ``relay.agent`` by one branch
of ``process_message``: like the pulls it is read-only and skips the journal (a
redelivered read simply reads again), reads a real Sage company database when one is
configured, retries a busy Sage with the agent's back-off, and answers a Sage refusal
(12802: no such job) with one error Result. An unexpected error is logged and the message
left for redelivery / the DLQ.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from chalicelib.relay_protocol import Command, CommandType, Result, SageFailure
from relay.sage.contract_reads import SageContractReads
from relay.sage.port import INVALID_DATA, SageError
from relay.sage.reads import SageReads

if TYPE_CHECKING:
    from relay.agent import RelayAgent

log = logging.getLogger("relay.agent")

# A result message's JSON stays under this (relay.agent.PAGE_BYTES_MAX).
RESULT_BYTES_MAX = 200_000


def _job_contract(agent: RelayAgent, payload: Any) -> list[dict[str, Any]]:
    reads = agent.reads
    if isinstance(reads, SageReads):  # a real Sage company database
        return [SageContractReads(reads.engine, reads._errors).read_job_contract(payload.job)]
    return [agent.sage.read_job_contract(payload.job)]


SINGLE_READS: dict[CommandType, Callable[[RelayAgent, Any], list[dict[str, Any]]]] = {
    CommandType.READ_JOB_CONTRACT: _job_contract,
}


def answer_read(agent: RelayAgent, command: Command, message: dict[str, Any]) -> bool:
    """Read, send the one Result, then delete the command; whether the read succeeded."""
    read = SINGLE_READS[command.type]
    try:
        payload = command.typed_payload()
    except ValidationError as exc:
        result = agent._error(command, SageFailure(code=INVALID_DATA, message=str(exc)), 1)
    else:
        try:
            rows, attempts = agent._retrying(command, lambda: read(agent, payload))
            result = agent._result(command, ok=True, data_zlib=Result.pack_rows(rows), page=1,
                                   attempts=attempts)
            if len(result.model_dump_json().encode()) > RESULT_BYTES_MAX:
                raise SageError(INVALID_DATA, f"{command.type.value}: the answer is too large "
                                f"to send (over {RESULT_BYTES_MAX} bytes)")
        except SageError as exc:
            attempts = agent.config.max_attempts if exc.retryable else 1
            result = agent._error(command, SageFailure(
                code=exc.code, message=exc.message, retryable=exc.retryable), attempts)
        except Exception:  # an adapter bug must not kill the loop
            log.exception("read failed unexpectedly", extra={"fields": {
                "command_id": command.command_id, "item_id": command.item_id,
                "outcome": "exception"}})
            return False
    agent._send_result(result, dedup_id=f"{command.command_id}:p1")
    agent.sqs.delete_message(QueueUrl=agent.config.commands_queue_url,
                             ReceiptHandle=message["ReceiptHandle"])
    log.log(logging.INFO if result.ok else logging.WARNING, "read answered", extra={
        "fields": {"command_id": command.command_id, "item_id": command.item_id,
                   "type": command.type.value, "outcome": "ok" if result.ok else "error",
                   "code": result.error.code if result.error else None}})
    return result.ok
