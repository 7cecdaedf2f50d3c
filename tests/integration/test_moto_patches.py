"""moto's FIFO queues, as patched by devstack.moto_patches, return a timed-out group in
order, as SQS does (the relay agent's per-job order after a crash depends on it)."""

from __future__ import annotations

import time
from typing import Any


def test_a_timed_out_fifo_group_comes_back_in_order(aws: Any) -> None:
    sqs = aws.sqs
    url = sqs.create_queue(QueueName="order-check.fifo", Attributes={
        "FifoQueue": "true", "VisibilityTimeout": "1"})["QueueUrl"]
    for n in (1, 2, 3):
        sqs.send_message(QueueUrl=url, MessageBody=f"A{n}", MessageGroupId="A",
                         MessageDeduplicationId=f"A{n}")
    first = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in first] == ["A1", "A2", "A3"]
    time.sleep(1.2)  # nobody deleted them: the whole group is visible again
    again = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in again] == ["A1", "A2", "A3"]


def test_a_long_poll_waiting_for_the_timeout_gets_the_group_in_order(aws: Any) -> None:
    sqs = aws.sqs
    url = sqs.create_queue(QueueName="order-poll.fifo", Attributes={
        "FifoQueue": "true", "VisibilityTimeout": "1"})["QueueUrl"]
    for n in (1, 2, 3):
        sqs.send_message(QueueUrl=url, MessageBody=f"A{n}", MessageGroupId="A",
                         MessageDeduplicationId=f"A{n}")
    sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)
    # Polling starts while the group is still in flight, as a restarted agent's does.
    again = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                WaitTimeSeconds=5)["Messages"]
    assert [m["Body"] for m in again] == ["A1", "A2", "A3"]


def test_a_receive_between_a_batchs_deadlines_still_gets_the_group_in_order(aws: Any) -> None:
    """moto stamps each message of a batch with its own deadline (milliseconds apart): a
    receive that falls between them must not hand the group back out of order."""
    from moto.core.utils import unix_time_millis
    from moto.sqs import sqs_backends

    sqs = aws.sqs
    url = sqs.create_queue(QueueName="order-spread.fifo", Attributes={
        "FifoQueue": "true", "VisibilityTimeout": "30"})["QueueUrl"]
    for n in (1, 2, 3):
        sqs.send_message(QueueUrl=url, MessageBody=f"A{n}", MessageGroupId="A",
                         MessageDeduplicationId=f"A{n}")
    sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)
    queue = sqs_backends["123456789012"]["us-east-1"].get_queue("order-spread.fifo")
    now = unix_time_millis()
    due = {"A1": now - 5, "A2": now - 1, "A3": now + 40}  # A3 due a moment later
    for message in queue.pending_messages:
        message.visible_at = due[message.body]
    again = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in again] == ["A1", "A2", "A3"]
