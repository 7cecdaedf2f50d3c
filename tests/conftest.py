"""Shared fixtures: moto with the resources of infra/, approver tokens, the Chalice client.

No test talks to AWS: credentials are fake, AWS_ENDPOINT_URL is removed, and every AWS
call in-process goes to moto (mock_aws), created from infra/resources.json.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

COMPANY_ID = 4264
WEBHOOK_TOKEN = "Bearer test-webhook-token"
ISSUER = "https://auth.test.local"
AUDIENCE = "connector-api"
CONNECTOR_APP_ID = "connector-client"


@pytest.fixture(autouse=True)
def _no_real_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith("AWS_") or key in ("TABLE_NAME", "INBOUND_QUEUE_URL",
                                             "EXPORT_QUEUE_URL", "STAGE"):
            monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "ProcoreSageConnectorTest")
    monkeypatch.setenv("POWERTOOLS_DEV", "false")


@pytest.fixture(scope="session")
def signing_keys() -> tuple[str, str]:
    from chalicelib.auth import generate_local_keypair

    return generate_local_keypair()


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch, signing_keys: tuple[str, str]) -> Iterator[Any]:
    """moto with the table and queues of infra/resources.json, and the app's environment."""
    import boto3
    from moto import mock_aws

    from chalicelib import wiring
    from devstack import moto_patches
    from devstack.resources import provision

    moto_patches.apply()

    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        sqs = boto3.client("sqs", region_name="us-east-1")
        resources = provision(dynamodb, sqs, prefix="test")
        for key, value in resources.environment.items():
            monkeypatch.setenv(key, value)
        monkeypatch.setenv("STAGE", "test")
        monkeypatch.setenv("PROCORE_COMPANY_ID", str(COMPANY_ID))
        monkeypatch.setenv("WEBHOOK_TOKEN", WEBHOOK_TOKEN)
        monkeypatch.setenv("TAX_ID_KEY", "test-tax-id-key")
        monkeypatch.setenv("CONNECTOR_APPLICATION_ID", CONNECTOR_APP_ID)
        monkeypatch.setenv("JWT_ISSUER", ISSUER)
        monkeypatch.setenv("JWT_AUDIENCE", AUDIENCE)
        monkeypatch.setenv("JWT_PUBLIC_KEY_PEM", signing_keys[1])
        monkeypatch.setenv("PROCORE_CLIENT_ID", CONNECTOR_APP_ID)
        monkeypatch.setenv("PROCORE_CLIENT_SECRET", "connector-secret")
        wiring.reset()
        yield AwsHandles(dynamodb, sqs, resources)
        wiring.reset()


class AwsHandles:
    def __init__(self, dynamodb: Any, sqs: Any, resources: Any) -> None:
        self.dynamodb = dynamodb
        self.sqs = sqs
        self.resources = resources

    @property
    def table_name(self) -> str:
        return self.resources.refs["ConnectorTable"]

    @property
    def inbound_url(self) -> str:
        return self.resources.refs["InboundEventsQueue"]

    @property
    def export_url(self) -> str:
        return self.resources.refs["ExportsQueue"]

    def table_snapshot(self) -> list[dict[str, Any]]:
        """Every record in the table, sorted: compare before/after to prove nothing moved."""
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"TableName": self.table_name}
        while True:
            page = self.dynamodb.scan(**kwargs)
            items += page["Items"]
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return sorted(items, key=lambda r: (r["PK"]["S"], r["SK"]["S"]))

    def queue_depth(self, url: str) -> int:
        attrs = self.sqs.get_queue_attributes(
            QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages",
                                          "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
        return int(attrs["ApproximateNumberOfMessages"]) + int(
            attrs["ApproximateNumberOfMessagesNotVisible"])

    def receive_all(self, url: str) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = []
        while True:
            got = self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                           AttributeNames=["All"]).get("Messages", [])
            if not got:
                return messages
            messages += got


@pytest.fixture
def mint(signing_keys: tuple[str, str]) -> Any:
    """mint(subject) -> an Authorization header value for that approver."""
    from chalicelib.auth import mint_local_token

    def _mint(subject: str, **kwargs: Any) -> str:
        token = mint_local_token(signing_keys[0], issuer=ISSUER, audience=AUDIENCE,
                                 subject=subject, **kwargs)
        return f"Bearer {token}"

    return _mint


@pytest.fixture
def chalice_client(aws: Any) -> Iterator[Any]:
    from chalice.test import Client

    from app import app

    with Client(app, stage_name="test") as client:
        yield client
