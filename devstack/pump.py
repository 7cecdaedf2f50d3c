"""Feed SQS messages to a Lambda-style handler the way Lambda's event source mapping does.

moto triggers no functions, so the local stack and the tests move messages themselves:
receive a batch, build the SQS event Lambda would build, call the handler, delete what
succeeded, and leave reported failures (ReportBatchItemFailures) to become visible
again, so redrive to the dead-letter queue happens exactly as in AWS.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

log = logging.getLogger("devstack.pump")

Handler = Callable[[dict[str, Any]], dict[str, Any] | None]


def sqs_event(messages: list[dict[str, Any]], queue_arn: str,
              region: str = "us-east-1") -> dict[str, Any]:
    return {"Records": [{
        "messageId": m["MessageId"],
        "receiptHandle": m["ReceiptHandle"],
        "body": m["Body"],
        "attributes": m.get("Attributes", {}),
        "messageAttributes": m.get("MessageAttributes", {}),
        "md5OfBody": m.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    } for m in messages]}


def pump_once(sqs: Any, queue_url: str, handler: Handler, *, batch_size: int = 10,
              visibility_timeout: int | None = None, wait_seconds: int = 0) -> tuple[int, int]:
    """One receive -> handle -> delete round. Returns (handled, failed) counts."""
    kwargs: dict[str, Any] = {"QueueUrl": queue_url, "MaxNumberOfMessages": batch_size,
                              "AttributeNames": ["All"], "MessageAttributeNames": ["All"],
                              "WaitTimeSeconds": wait_seconds}
    if visibility_timeout is not None:
        kwargs["VisibilityTimeout"] = visibility_timeout
    messages = sqs.receive_message(**kwargs).get("Messages", [])
    if not messages:
        return 0, 0
    arn = sqs.get_queue_attributes(QueueUrl=queue_url,
                                   AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    try:
        answer = handler(sqs_event(messages, arn)) or {}
    except Exception:  # Lambda treats a raised error as a whole-batch failure
        log.exception("handler failed on a batch of %d; it comes back", len(messages))
        return 0, len(messages)
    failed = {f["itemIdentifier"] for f in answer.get("batchItemFailures", [])}
    done = [m for m in messages if m["MessageId"] not in failed]
    for start in range(0, len(done), 10):
        sqs.delete_message_batch(QueueUrl=queue_url, Entries=[
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
            for i, m in enumerate(done[start:start + 10])])
    return len(done), len(failed)


def drain(sqs: Any, queue_url: str, handler: Handler, *, max_rounds: int = 50,
          visibility_timeout: int | None = None) -> tuple[int, int]:
    """Pump until the queue gives nothing; returns total (handled, failed)."""
    handled = failed = 0
    for _ in range(max_rounds):
        ok, bad = pump_once(sqs, queue_url, handler, visibility_timeout=visibility_timeout)
        if not ok and not bad:
            break
        handled, failed = handled + ok, failed + bad
    return handled, failed


class Pumps:
    """Several queues, each feeding its Lambda handler: stepped by tests, looped by the
    local stack."""

    def __init__(self, sqs: Any, routes: list[tuple[str, str, Handler]]) -> None:
        self.sqs = sqs
        self.routes = routes  # (name, queue url, handler)
        self.counts: dict[str, list[int]] = {name: [0, 0] for name, _, _ in routes}

    def step(self, wait_seconds: int = 0) -> int:
        """One round over every queue; returns how many messages were handled."""
        moved = 0
        for name, url, handler in self.routes:
            ok, bad = pump_once(self.sqs, url, handler, wait_seconds=wait_seconds)
            self.counts[name][0] += ok
            self.counts[name][1] += bad
            moved += ok + bad
        return moved

    def drain(self, max_rounds: int = 50) -> None:
        for _ in range(max_rounds):
            if not self.step():
                return
