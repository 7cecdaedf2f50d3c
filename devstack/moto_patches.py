"""Where moto's SQS differs from SQS in a way that matters here, and the fix.

moto 5.2.5 hands a FIFO message group back out of order after a visibility timeout: it
frees timed-out messages one by one while it iterates, so the group stays "pending" until
its last in-flight message, and that one is delivered first (send A1 A2 A3, receive all,
let them time out, receive: [A3], then A1 A2). Real SQS returns A1 A2 A3 again, and the
relay agent's per-job order relies on it (an agent that dies mid-batch gets its batch
back). The fix frees every timed-out message of a FIFO queue before moto iterates.

moto stamps each message of a batch with its own visibility deadline (milliseconds apart,
in the order it returns them), so a receive can fall between them: the group's first
messages timed out, its last still in flight, and moto then frees and delivers them in
the wrong order as above. A batch times out as one in SQS for this purpose (SQS blocks a
group while any of its messages is in flight and hands the earliest back first), so the
fix frees a group's in-flight messages together once its earliest one has timed out,
when the rest were due within BATCH_SPREAD_MS of it (taken in the same receive).

Applied by the local stack and by the tests (in-process and server), once per process.
"""

from __future__ import annotations

from typing import Any

_applied = False
BATCH_SPREAD_MS = 1000  # in-flight messages of a group due this close were one batch


def apply() -> None:
    """Patch moto's SQS backend (idempotent)."""
    global _applied
    if _applied:
        return
    from moto.core.utils import unix_time
    from moto.sqs.models import SQSBackend

    original = SQSBackend.receive_message

    def receive_message(self: Any, queue_name: str, count: int, wait_seconds_timeout: int,
                        visibility_timeout: int,
                        message_attribute_names: list[str] | None = None) -> Any:
        queue = self.get_queue(queue_name)
        if not queue.fifo_queue:
            return original(self, queue_name, count, wait_seconds_timeout, visibility_timeout,
                            message_attribute_names)
        # moto's own long poll re-checks without freeing timed-out messages first, so the
        # poll is ours: free, take what is visible now, wait a little, again.
        deadline = unix_time() + wait_seconds_timeout
        while True:
            _free_timed_out(queue)
            got = original(self, queue_name, count, 0, visibility_timeout,
                           message_attribute_names)
            if got or unix_time() >= deadline:
                return got
            queue.wait_for_messages(1)

    SQSBackend.receive_message = receive_message  # type: ignore[method-assign]
    _applied = True


def _free_timed_out(queue: Any) -> None:
    """Free the FIFO queue's timed-out in-flight messages, a group's batch together."""
    from moto.core.utils import unix_time_millis

    now = unix_time_millis()
    by_group: dict[Any, list[Any]] = {}
    for message in list(queue.pending_messages):
        by_group.setdefault(message.group_id, []).append(message)
    for messages in by_group.values():
        first_due = min(m.visible_at for m in messages)
        if first_due >= now:
            continue  # the group's earliest is still in flight: it stays blocked
        for message in messages:
            if message.visible_at - first_due <= BATCH_SPREAD_MS:
                message.visible_at = min(message.visible_at, now - 1)
                queue.pending_messages.discard(message)
