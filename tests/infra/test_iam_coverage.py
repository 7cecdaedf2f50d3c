"""Every AWS call a function's code can make is allowed by its role, and nothing more.

moto does not enforce IAM, so without this a call the role lacks fails only in AWS. The
calls are derived from the code (tests/infra/iam_calls.py) and compared with the packaged
template's policies (tests/infra/iam_policy.py), for each stage, with and without approver
e-mail configured. test_iam_runtime.py checks the derivation against calls really made.
"""

from __future__ import annotations

import copy
import fnmatch
from typing import Any

import pytest

from tests.infra import iam_reach
from tests.infra.iam_policy import (
    ACCOUNT,
    PARTITION,
    REGION,
    Template,
    access_statements,
    functions,
    missing,
    needs,
    packaged,
    unused,
)

SENDER = "approvals@example.com"
TABLE = f"arn:{PARTITION}:dynamodb:{REGION}:{ACCOUNT}:table/ConnectorTable"


def queue(name: str) -> str:
    return f"arn:{PARTITION}:sqs:{REGION}:{ACCOUNT}:{name}"


def parameter(stage: str, name: str) -> str:
    return f"arn:{PARTITION}:ssm:{REGION}:{ACCOUNT}:parameter/procore-sage/{stage}/{name}"


@pytest.fixture(scope="module", params=["dev", "prod"])
def stage(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module", params=[SENDER, ""], ids=["mail", "no-mail"])
def template(request: pytest.FixtureRequest, stage: str) -> Template:
    return Template(packaged(stage), stage, {"NotifyFromEmail": request.param})


def needed(template: Template, function: str) -> set[tuple[str, str]]:
    return {(n.action, n.resource) for n in needs(template, function)[0]}


def test_every_call_a_function_can_make_is_allowed_by_its_role(template: Template) -> None:
    gaps = [line for f in functions(template) for line in missing(template, f)]
    assert not gaps, "calls the roles do not allow:\n" + "\n".join(gaps)


def test_no_function_is_granted_what_its_code_does_not_use(template: Template) -> None:
    extra = [line for f in functions(template) for line in unused(template, f)]
    assert not extra, "grants no code path uses:\n" + "\n".join(extra)


def test_function_policies_name_actions_and_resources_without_wildcards(
        template: Template) -> None:
    for function in functions(template):
        for statement in access_statements(template, function):
            assert statement["Effect"] == "Allow"
            assert not [a for a in statement["Action"] if "*" in a], (function, statement)
            if "Condition" not in statement:  # KMS: key/*, narrowed by its condition
                assert not [r for r in statement["Resource"] if "*" in r], (function, statement)


def test_the_derivation_finds_the_calls_each_function_is_known_to_make(
        template: Template, stage: str) -> None:
    """Anchors: if the scan silently stopped finding calls, the tests above would pass."""
    api, intake = needed(template, "APIHandler"), needed(template, "Intake")
    assert ("dynamodb:DescribeTable", TABLE) in api  # the health probe
    assert ("dynamodb:Query", f"{TABLE}/index/inbox") in api  # the inbox listing
    assert ("ssm:GetParameter", parameter(stage, "webhook-token")) in api
    assert ("sqs:SendMessage", queue("InboundEventsQueue")) in api  # webhooks
    assert ("sqs:SendMessage", queue("ExportsQueue")) in intake
    assert ("sqs:ReceiveMessage", queue("InboundEventsQueue")) in intake  # event source
    assert ("ssm:GetParameter", parameter(stage, "webhook-token")) not in intake
    assert ("sqs:SendMessage", queue("RelayCommandsQueue")) in needed(template, "Exporter")
    assert ("sqs:SendMessage", queue("RelayCommandsQueue")) not in intake
    assert ("dynamodb:PutItem", TABLE) in needed(template, "Results")  # transaction parts
    mails = {f for f in functions(template) if any(
        a == "ses:SendEmail" for a, _ in needed(template, f))}
    if template.params["NotifyFromEmail"]:
        assert {"NotifyApprovers", "Intake"} <= mails
        assert "ReconcileCommitments" not in mails
    else:
        assert mails == set()


def test_every_function_has_entry_points_and_calls(template: Template) -> None:
    for function in functions(template):
        handler = template.resources[function]["Properties"]["Handler"]
        assert iam_reach.entry_points(handler), f"{function}: {handler} not found in app.py"
        assert needed(template, function), f"{function}: no AWS call derived"


def _without(doc: dict[str, Any], policy: str, action: str, resource_part: str = "") -> Any:
    """A copy of the packaged template with ``action`` (on resources containing
    ``resource_part``) taken out of ``policy``."""
    changed = copy.deepcopy(doc)
    for statement in changed["Resources"][policy]["Properties"]["PolicyDocument"]["Statement"]:
        if "Action" not in statement or action not in statement["Action"]:
            continue
        if resource_part:
            statement["Resource"] = [r for r in statement["Resource"]
                                     if resource_part not in str(r)]
        else:
            statement["Action"] = [a for a in statement["Action"] if a != action]
    return changed


def test_an_action_taken_from_a_role_is_reported_with_function_call_and_resource() -> None:
    doc = packaged("dev")
    assert missing(Template(doc, "dev"), "Exporter") == []
    broken = Template(_without(doc, "ExporterAccessPolicy", "sqs:SendMessage"), "dev")
    gaps = missing(broken, "Exporter")
    assert gaps
    assert any("Exporter (ExporterRole)" in g and "sqs:SendMessage" in g
               and g.endswith(queue("RelayCommandsQueue"))
               and "chalicelib.adapters.queues.FifoQueue.send" in g
               and "chalicelib.wiring.get_relay_commands_queue" in g for g in gaps), gaps
    assert all(g.startswith("Exporter") for g in gaps)


def test_a_resource_taken_from_a_statement_is_reported() -> None:
    doc = packaged("dev")
    broken = Template(_without(doc, "ApiHandlerAccessPolicy", "dynamodb:Query", "/index/inbox"),
                      "dev")
    gaps = missing(broken, "APIHandler")
    assert gaps and all("dynamodb:Query on" in g and g.endswith(f"{TABLE}/index/inbox")
                        for g in gaps), gaps


def test_a_deny_statement_wins_over_the_allow() -> None:
    doc = copy.deepcopy(packaged("dev"))
    statements = doc["Resources"]["IntakeAccessPolicy"]["Properties"]["PolicyDocument"][
        "Statement"]
    statements.append({"Effect": "Deny", "Action": ["dynamodb:Put*"], "Resource": "*"})
    gaps = missing(Template(doc, "dev"), "Intake")
    assert gaps and all("dynamodb:PutItem" in g for g in gaps), gaps


def test_a_grant_no_code_path_uses_is_reported() -> None:
    doc = copy.deepcopy(packaged("dev"))
    policy = doc["Resources"]["SweepExportsAccessPolicy"]["Properties"]["PolicyDocument"]
    policy["Statement"][0]["Action"].append("dynamodb:DeleteItem")
    extra = unused(Template(doc, "dev"), "SweepExports")
    assert extra == [f"SweepExports: Table grants dynamodb:DeleteItem on {TABLE}, which no code "
                     "path of it uses"]


def test_secrets_are_those_of_the_stage_only(stage: str) -> None:
    """Each function reads only its own stage's parameters, by name; a package of one stage
    deployed with the other's Stage gets no secrets at all."""
    other = "prod" if stage == "dev" else "dev"
    doc = packaged(stage)
    template = Template(doc, stage)
    for function in functions(template):
        for statement in access_statements(template, function):
            for resource in statement["Resource"]:
                if ":ssm:" in resource:
                    assert resource.startswith(parameter(stage, "")), (function, resource)
                    assert "*" not in resource, (function, resource)
    mismatched = Template(doc, other)
    gaps = missing(mismatched, "APIHandler")
    assert gaps and all("ssm:GetParameter" in g and f"/procore-sage/{stage}/" in g
                        for g in gaps), gaps


def test_kms_decrypt_only_through_ssm_for_the_parameters_read(template: Template) -> None:
    for function in functions(template):
        read = sorted(r for a, r in needed(template, function) if a == "ssm:GetParameter")
        kms = [s for s in access_statements(template, function)
               if any(fnmatch.fnmatchcase("kms:Decrypt", a) for a in s["Action"])]
        if not read:
            assert kms == [], function
            continue
        (statement,) = kms
        condition = statement["Condition"]["StringEquals"]
        assert condition["kms:ViaService"] == f"ssm.{REGION}.amazonaws.com"
        assert sorted(condition["kms:EncryptionContext:PARAMETER_ARN"]) == read, function
