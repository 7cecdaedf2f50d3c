"""The relay agent's identity: IAM Roles Anywhere (temporary credentials from its
certificate) when a CA is given, a dedicated user without access keys otherwise; either
way only the queue calls the agent's code makes (derived from relay/ with ast)."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest

from tests.infra.iam_policy import (
    ACCOUNT,
    PARTITION,
    REGION,
    Template,
    actions_for,
    allows,
    packaged,
)

RELAY = Path(__file__).resolve().parents[2] / "relay"
CA = "-----BEGIN CERTIFICATE-----\nMIIB...\n-----END CERTIFICATE-----\n"
QUEUE_OF_URL = {"commands_queue_url": "RelayCommandsQueue",
                "results_queue_url": "RelayResultsQueue"}


def queue(name: str) -> str:
    return f"arn:{PARTITION}:sqs:{REGION}:{ACCOUNT}:{name}"


def agent_calls() -> list[tuple[str, str, str]]:
    """(where, IAM action, queue ARN) for every SQS call in relay/: ``<x>.sqs.<op>(`` or
    ``sqs.<op>(``; the queue from its QueueUrl (``...commands_queue_url``), both queues
    when the URL is a variable (``relay doctor`` checks each)."""
    calls: list[tuple[str, str, str]] = []
    for path in sorted(RELAY.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            owner = node.func.value
            name = owner.attr if isinstance(owner, ast.Attribute) else getattr(owner, "id", "")
            if name != "sqs":
                continue
            url = next((ast.unparse(k.value) for k in node.keywords if k.arg == "QueueUrl"), "")
            queues = [q for key, q in QUEUE_OF_URL.items() if key in url] or list(
                QUEUE_OF_URL.values())
            where = f"{path.relative_to(RELAY.parent)}:{node.lineno} {node.func.attr}"
            calls += [(where, action, queue(q)) for action in actions_for("sqs", node.func.attr)
                      for q in queues]
    return calls


@pytest.fixture(scope="module")
def with_ca() -> Template:
    return Template(packaged("dev"), "dev", {"RelayAgentCaCertificate": CA})


@pytest.fixture(scope="module")
def without_ca() -> Template:
    return Template(packaged("dev"), "dev", {"RelayAgentCaCertificate": ""})


def created(template: Template, logical: str) -> bool:
    condition = template.resources[logical].get("Condition")
    return condition is None or template.condition(condition)


def outputs(template: Template) -> set[str]:
    return {k for k, v in template.doc["Outputs"].items()
            if "Condition" not in v or template.condition(v["Condition"])}


def test_the_agents_calls_are_found() -> None:
    actions = {(a, q.rsplit(":", 1)[1]) for _, a, q in agent_calls()}
    assert {("sqs:ReceiveMessage", "RelayCommandsQueue"), ("sqs:DeleteMessage",
            "RelayCommandsQueue"), ("sqs:ChangeMessageVisibility", "RelayCommandsQueue"),
            ("sqs:SendMessage", "RelayResultsQueue")} <= actions
    assert ("sqs:SendMessage", "RelayCommandsQueue") not in actions


@pytest.mark.parametrize("identity", ["RelayAgentRole", "RelayAgentUser"])
def test_every_agent_call_is_allowed_and_nothing_else(with_ca: Template, identity: str) -> None:
    statements = with_ca.statements(identity)
    calls = agent_calls()
    gaps = [f"{where}: {identity} lacks {action} on {arn}" for where, action, arn in calls
            if not allows(statements, action, arn)]
    assert not gaps, "\n".join(gaps)
    for statement in statements:
        for action in statement["Action"]:
            for resource in statement["Resource"]:
                assert any(a == action and r == resource for _, a, r in calls), (
                    f"{identity} is granted {action} on {resource}, which relay/ never calls")


def test_with_a_ca_the_agent_takes_its_role_through_roles_anywhere(with_ca: Template) -> None:
    anchor = with_ca.resolve(with_ca.resources["RelayAgentTrustAnchor"]["Properties"])
    assert created(with_ca, "RelayAgentTrustAnchor")
    assert anchor["Source"] == {"SourceType": "CERTIFICATE_BUNDLE",
                                "SourceData": {"X509CertificateData": CA}}
    profile = with_ca.resolve(with_ca.resources["RelayAgentProfile"]["Properties"])
    assert profile["RoleArns"] == [f"arn:{PARTITION}:iam::{ACCOUNT}:role/RelayAgentRole"]
    assert profile["DurationSeconds"] <= 3600
    (trust,) = with_ca.resolve(with_ca.resources["RelayAgentRole"]["Properties"])[
        "AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "rolesanywhere.amazonaws.com"}
    assert sorted(trust["Action"]) == ["sts:AssumeRole", "sts:SetSourceIdentity",
                                       "sts:TagSession"]
    assert trust["Condition"] == {
        "StringEquals": {"aws:PrincipalTag/x509Subject/CN": "procore-sage-relay"},
        "ArnEquals": {"aws:SourceArn": "<RelayAgentTrustAnchor.TrustAnchorArn>"}}
    assert not created(with_ca, "RelayAgentUser")  # no long-lived identity at all
    assert {"RelayAgentRoleArn", "RelayAgentProfileArn", "RelayAgentTrustAnchorArn"} <= outputs(
        with_ca)
    assert "RelayAgentUserName" not in outputs(with_ca)


def test_without_a_ca_only_the_fallback_user_and_never_an_access_key(
        without_ca: Template) -> None:
    assert not created(without_ca, "RelayAgentTrustAnchor")
    assert created(without_ca, "RelayAgentUser")
    assert "RelayAgentTrustAnchorArn" not in outputs(without_ca)
    assert "RelayAgentUserName" in outputs(without_ca)
    kinds: set[Any] = {r["Type"] for r in without_ca.resources.values()}
    assert "AWS::IAM::AccessKey" not in kinds  # keys are made by hand and rotated (docs/iam.md)
    (trust,) = without_ca.resolve(without_ca.resources["RelayAgentRole"]["Properties"])[
        "AssumeRolePolicyDocument"]["Statement"]
    assert trust["Condition"] == {
        "StringEquals": {"aws:PrincipalTag/x509Subject/CN": "procore-sage-relay"}}


def test_the_old_shared_policy_is_gone() -> None:
    assert "ConnectorAccessPolicy" not in packaged("dev")["Resources"]
