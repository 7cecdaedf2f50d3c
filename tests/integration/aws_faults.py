"""AWS refusing calls, as a role without the permission sees it, and the app's JSON logs.

``refuse`` patches botocore's one entry point (``BaseClient._make_api_call``): the chosen
operations raise the ClientError AWS sends (its message names the account and the role
ARN), every other call still reaches moto.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

import pytest

ACCOUNT = "123456789012"
ROLE_ARN = f"arn:aws:sts::{ACCOUNT}:assumed-role/connector-api-role/connector-api"


def denied(service: str, operation: str) -> Any:
    from botocore.exceptions import ClientError

    code = "AccessDenied" if service in ("sqs", "ses", "sesv2") else "AccessDeniedException"
    message = (f"User: {ROLE_ARN} is not authorized to perform: {service}:{operation} on "
               f"resource: arn:aws:{service}:us-east-1:{ACCOUNT}:connector because no "
               "identity-based policy allows the action")
    return ClientError({"Error": {"Code": code, "Message": message},
                        "ResponseMetadata": {"HTTPStatusCode": 400}}, operation)


def refuse(monkeypatch: pytest.MonkeyPatch, calls: Iterable[tuple[str, str]] | None = None,
           *, error: Any = None,
           allow: Callable[[str, str, dict[str, Any]], bool] | None = None,
           ) -> list[tuple[str, str]]:
    """Make ``calls`` ((service, Operation); None: every call) fail with AccessDenied, or
    with ``error(service, operation)``, except those ``allow(service, operation, params)``
    lets through. Returns the refused calls, in order."""
    from botocore.client import BaseClient

    wanted = None if calls is None else set(calls)
    real = BaseClient._make_api_call
    refused: list[tuple[str, str]] = []

    def make_api_call(self: Any, operation: str, params: Any) -> Any:
        service = self.meta.service_model.service_name
        if allow is not None and allow(service, operation, params):
            return real(self, operation, params)
        if wanted is None or (service, operation) in wanted:
            refused.append((service, operation))
            raise (error or denied)(service, operation)
        return real(self, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", make_api_call)
    return refused


class AppLogs:
    """The app logger's JSON lines, formatted as in Lambda (its handler's formatter)."""

    def __init__(self) -> None:
        import io
        import logging

        from chalicelib.observability import logger

        self.stream = io.StringIO()
        self.handler = logging.StreamHandler(self.stream)
        self.handler.setFormatter(logger.registered_formatter)
        self.target = logging.getLogger(logger.name)
        self.target.addHandler(self.handler)

    def records(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stream.getvalue().splitlines()
                if line.startswith("{")]

    def close(self) -> None:
        self.target.removeHandler(self.handler)


@pytest.fixture
def app_logs() -> Any:
    logs = AppLogs()
    yield logs
    logs.close()


def assert_no_aws_text(text: str) -> None:
    for leak in ("arn:aws", ACCOUNT, "AccessDenied", "not authorized", "connector-api-role"):
        assert leak not in text, f"{leak!r} reached a response: {text}"
