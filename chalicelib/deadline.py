"""How long the current Lambda invocation has left, for code that waits (retries).

A handler calls ``start(context)`` once per invocation; code deep in an adapter asks
``remaining()`` before sleeping for a retry. Waiting past the invocation's end would only
get the function killed mid-write; giving up early lets the queue retry the message.
Outside Lambda (tests, the local stack's pump) there is no deadline: ``remaining()`` is None.
"""

from __future__ import annotations

import os
import time
from contextvars import ContextVar
from typing import Any

_deadline: ContextVar[float | None] = ContextVar("lambda_deadline", default=None)


def start(context: Any) -> None:
    """Take the deadline from a Lambda context (anything without one clears it).

    Only the Lambda runtime's context is believed: Chalice's local and test contexts say
    3 seconds whatever the function's configured timeout.
    """
    remaining_ms = getattr(context, "get_remaining_time_in_millis", None)
    if not callable(remaining_ms) or not os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):
        _deadline.set(None)
        return
    _deadline.set(time.monotonic() + remaining_ms() / 1000)


def remaining() -> float | None:
    """Seconds left in this invocation, or None when there is no deadline."""
    deadline = _deadline.get()
    return None if deadline is None else deadline - time.monotonic()
