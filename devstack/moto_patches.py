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
    from moto.sqs.models import SQSBackend

    original = SQSBackend.receive_message

    def receive_message(self: Any, queue_name: str, *args: Any, **kwargs: Any) -> Any:
        queue = self.get_queue(queue_name)
        if queue.fifo_queue:
            for message in list(queue.pending_messages):
                if message.visible:
                    queue.pending_messages.discard(message)
        return original(self, queue_name, *args, **kwargs)

    SQSBackend.receive_message = receive_message  # type: ignore[method-assign]
    _applied = True
