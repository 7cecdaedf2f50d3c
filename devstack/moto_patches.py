"""Where moto's SQS differs from SQS in a way that matters here, and the fix.

moto 5.2.5 hands a FIFO message group back out of order after a visibility timeout: it
frees timed-out messages one by one while it iterates, so the group stays "pending" until
its last in-flight message, and that one is delivered first (send A1 A2 A3, receive all,
let them time out, receive: [A3], then A1 A2). Real SQS returns A1 A2 A3 again, and the
relay agent's per-job order relies on it (an agent that dies mid-batch gets its batch
back). The fix frees every timed-out message of a FIFO queue before moto iterates.

Applied by the local stack and by the tests (in-process and server), once per process.
"""

from __future__ import annotations

from typing import Any

_applied = False


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
            for message in list(queue.pending_messages):
                if message.visible:
                    queue.pending_messages.discard(message)
            got = original(self, queue_name, count, 0, visibility_timeout,
                           message_attribute_names)
            if got or unix_time() >= deadline:
                return got
            queue.wait_for_messages(1)

    SQSBackend.receive_message = receive_message  # type: ignore[method-assign]
    _applied = True
