"""The static derivation checked against the calls the functions really make.

Each function is invoked under moto in one small story (a webhook in, intake re-reading
Procore's sandbox, accept, export, a result and a heartbeat back, every schedule), with
secrets read from SSM and approver e-mail on. Every boto3 call made while a function runs
is recorded (botocore's ``_make_api_call``, which every client goes through, Powertools'
SSM client included) and turned into the (action, resource) IAM checks; each must be in
what tests/infra/iam_calls.py derived for that function, so a path the scan misses fails
here instead of in AWS.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from devstack.pump import drain, sqs_event
from tests.conftest import WEBHOOK_TOKEN
from tests.fixtures_sandbox import (  # noqa: F401
    demo_fixture,
    sandbox_fixture,
    webhook_receiver_fixture,
)
from tests.helpers import COMPANY_ID, seed_personas, use_division_dash_codes
from tests.infra.iam_policy import ACCOUNT, PARTITION, REGION, Template, needs, packaged

SENDER = "approvals@example.com"
SECRETS = {"WEBHOOK_TOKEN": ("webhook-token", WEBHOOK_TOKEN),
           "PROCORE_CLIENT_SECRET": ("procore-client-secret", "connector-secret"),
           "TAX_ID_KEY": ("tax-id-key", "test-tax-id-key")}
TRANSACT_ACTIONS = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem",
                    "ConditionCheck": "ConditionCheckItem"}


class Recorder:
    """Who is running (a packaged function's logical id) and the calls made meanwhile."""

    def __init__(self) -> None:
        self.function: str | None = None
        self.calls: dict[str, list[tuple[str, str, dict[str, Any]]]] = defaultdict(list)

    @contextmanager
    def running(self, function: str) -> Iterator[None]:
        self.function = function
        try:
            yield
        finally:
            self.function = None

    def as_function(self, function: str, run: Callable[[], Any]) -> Any:
        with self.running(function):
            return run()


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch) -> Recorder:
    from botocore.client import BaseClient

    recorder = Recorder()
    original = BaseClient._make_api_call

    def record(client: Any, operation: str, params: dict[str, Any]) -> Any:
        if recorder.function:
            service = client.meta.service_model.service_name
            recorder.calls[recorder.function].append((service, operation, dict(params)))
        return original(client, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", record)
    return recorder


def checks(service: str, operation: str, params: dict[str, Any],
           logical: dict[str, str]) -> set[tuple[str, str]]:
    """The (action, resource) pairs IAM checks for one recorded call."""
    def table(name: str) -> str:
        return f"arn:{PARTITION}:dynamodb:{REGION}:{ACCOUNT}:table/{logical[name]}"

    if service == "dynamodb":
        if operation == "TransactWriteItems":
            return {(f"dynamodb:{TRANSACT_ACTIONS[kind]}", table(part["TableName"]))
                    for entry in params["TransactItems"] for kind, part in entry.items()}
        if operation in ("BatchGetItem", "BatchWriteItem"):
            return {(f"dynamodb:{operation}", table(t)) for t in params["RequestItems"]}
        arn = table(params["TableName"])
        if params.get("IndexName"):
            arn += f"/index/{params['IndexName']}"
        return {(f"dynamodb:{operation}", arn)}
    if service == "sqs":
        return {(f"sqs:{operation}",
                 f"arn:{PARTITION}:sqs:{REGION}:{ACCOUNT}:{logical[params['QueueUrl']]}")}
    if service == "ssm":
        name = params["Name"].lstrip("/")
        return {(f"ssm:{operation}", f"arn:{PARTITION}:ssm:{REGION}:{ACCOUNT}:parameter/{name}")}
    if service == "sesv2":
        return {(f"ses:{operation}", f"arn:{PARTITION}:ses:{REGION}:{ACCOUNT}:identity/"
                                     f"{params['FromEmailAddress']}")}
    raise AssertionError(f"a {service} call ({operation}): teach checks() its resource")


@pytest.fixture
def story(aws: Any, sandbox: Any, demo: dict[str, Any], webhook_receiver: Any,
          chalice_client: Any, mint: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The deployed configuration's shape: secrets by SSM parameter (the dev stage's names),
    approver e-mail on, Procore's sandbox behind."""
    import boto3
    from aws_lambda_powertools.utilities import parameters

    from chalicelib import wiring
    from chalicelib.domain.permissions import Level, User
    from chalicelib.wiring import get_store

    ssm = boto3.client("ssm", region_name=REGION)
    for env, (name, value) in SECRETS.items():
        ssm.put_parameter(Name=f"/procore-sage/dev/{name}", Value=value, Type="SecureString")
        monkeypatch.delenv(env, raising=False)
        monkeypatch.setenv(f"{env}_PARAMETER", f"/procore-sage/dev/{name}")
    boto3.client("sesv2", region_name=REGION).create_email_identity(EmailIdentity=SENDER)
    parameters.clear_caches()
    monkeypatch.setenv("NOTIFY_FROM_EMAIL", SENDER)
    monkeypatch.setenv("PROCORE_BASE_URL", sandbox.url)
    monkeypatch.setenv("PROCORE_AUTH_URL", sandbox.url)
    monkeypatch.setenv("CONNECTOR_PROCORE_USER_ID", str(sandbox.service_account_user_id))
    wiring.reset()
    seed_personas()
    get_store().put_user(User(subject="mailed", company_id=COMPANY_ID, name="Mailed",
                              erp_level=Level.STANDARD, can_push_to_accounting=True,
                              email="mailed@example.com", notify="immediate"))
    use_division_dash_codes()
    sandbox.set_webhook(webhook_receiver.url, WEBHOOK_TOKEN)
    yield
    parameters.clear_caches()


def test_every_call_made_is_one_the_scan_derived(
        aws: Any, sandbox: Any, demo: dict[str, Any], webhook_receiver: Any,
        chalice_client: Any, mint: Any, story: Any, recorder: Recorder) -> None:
    from chalicelib.domain.models import Link, utc_now
    from chalicelib.relay_protocol import Heartbeat
    from chalicelib.wiring import get_store

    client, run = chalice_client, recorder.as_function
    project = demo["project_ids"]["main"]
    store = get_store()
    store.put_link(Link(company_id=COMPANY_ID, kind="project", procore_id=project,
                        sage_key="24001"))
    store.put_link(Link(company_id=COMPANY_ID, kind="vendor",
                        procore_id=demo["vendor_ids"]["concrete"], sage_key="3001"))
    record = sandbox.create_commitment("work_order_contract", project, number="SC-001",
                                       title="Concrete", status="Approved",
                                       vendor_id=demo["vendor_ids"]["concrete"])
    sandbox.add_line_item("work_order_contract", record["id"], description="Footings",
                          amount="1000", cost_code_id=demo["cost_code_ids"]["main"]["03-300"],
                          line_item_type_id=demo["line_item_type_ids"]["S"])

    def invoke(name: str, function: str) -> Callable[[dict[str, Any]], Any]:
        return lambda event: run(function, lambda: client.lambda_.invoke(name, event).payload)

    # the API: webhooks in, the inbox, the health probe
    for hook in webhook_receiver.received:
        answer = run("APIHandler", lambda h=hook: client.http.post(
            "/webhooks/procore", body=json.dumps(h.payload),
            headers={"Content-Type": "application/json",
                     "Authorization": h.headers.get("authorization")}))
        assert answer.status_code == 202
    assert drain(aws.sqs, aws.inbound_url, invoke("intake", "Intake"))[0] >= 1
    approver = {"Authorization": mint("approver")}
    listed = run("APIHandler", lambda: client.http.get("/items", headers=approver))
    (item,) = [i for i in json.loads(listed.body)["items"] if i["procore_id"] == record["id"]]
    run("APIHandler", lambda: client.http.get("/health", headers=approver))
    accepted = run("APIHandler", lambda: client.http.post(
        f"/items/{item['id']}/accept", headers={**approver, "Content-Type":
                                                     "application/json"}, body="{}"))
    assert accepted.status_code == 200, accepted.body
    assert drain(aws.sqs, aws.export_url, invoke("exporter", "Exporter"))[0] == 1
    beat = Heartbeat(agent_id="agent-1", company_id=COMPANY_ID, at=utc_now())
    run("Results", lambda: client.lambda_.invoke("results", sqs_event(
        [{"MessageId": "m1", "ReceiptHandle": "r", "Body": beat.model_dump_json(),
          "Attributes": {"MessageGroupId": "g"}}], "arn")).payload)
    schedule = client.events.generate_cw_event(
        source="aws.events", detail_type="Scheduled Event", detail={},
        resources=[f"arn:aws:events:{REGION}:{ACCOUNT}:rule/x"])
    for name, function in (("sweep-exports", "SweepExports"),
                           ("scheduled-pulls", "ScheduledPulls"),
                           ("reconcile-commitments", "ReconcileCommitments"),
                           ("notify-approvers", "NotifyApprovers")):
        run(function, lambda n=name: client.lambda_.invoke(n, schedule).payload)

    logical = {physical: name for name, physical in aws.resources.refs.items()}
    template = Template(packaged("dev"), "dev", {"NotifyFromEmail": SENDER})
    escaped: list[str] = []
    made: set[str] = set()
    for function, calls in recorder.calls.items():
        derived = {(n.action, n.resource) for n in needs(template, function)[0]}
        for service, operation, params in calls:
            for action, resource in checks(service, operation, params, logical):
                made.add(action)
                if (action, resource) not in derived:
                    escaped.append(f"{function}: {action} on {resource} was made but not "
                                   "derived by the scan")
    assert not escaped, "\n".join(sorted(set(escaped)))
    # the story did reach every function, and the kinds of call worth checking
    assert set(recorder.calls) == {"APIHandler", "Intake", "Exporter", "Results",
                                   "SweepExports", "ScheduledPulls", "ReconcileCommitments",
                                   "NotifyApprovers"}
    assert {"ssm:GetParameter", "sqs:SendMessage", "dynamodb:PutItem", "dynamodb:Query",
            "dynamodb:GetItem", "ses:SendEmail"} <= made, made
