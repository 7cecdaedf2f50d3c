"""AWS clients, made once per process and only when first needed.

boto3 honours AWS_ENDPOINT_URL, so the same code talks to moto in tests and the local
stack and to AWS when deployed. Timeouts are short and retries bounded: the webhook
receiver must answer Procore within 5 seconds.
"""

from __future__ import annotations

import threading
from typing import Any

_clients: dict[str, Any] = {}
_lock = threading.Lock()


def client(service: str) -> Any:
    with _lock:
        if service not in _clients:
            import boto3
            from botocore.config import Config

            from chalicelib.settings import get_settings

            _clients[service] = boto3.client(
                service,
                region_name=get_settings().aws_region,
                config=Config(connect_timeout=2, read_timeout=5,
                              retries={"mode": "standard", "max_attempts": 3}),
            )
        return _clients[service]


def reset_clients() -> None:
    """Forget every client (tests switch emulators between runs)."""
    with _lock:
        _clients.clear()
