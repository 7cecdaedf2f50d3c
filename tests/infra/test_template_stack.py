"""The packaged template (infra/package.py, as `make package`) deployed to moto's
CloudFormation: it creates, its outputs name what docs/deploy.md says, every function's
environment is complete for a prod deployment, and every alarm reaches the alarm topic.

What moto cannot create (tests/infra/moto_template.py: Cognito, CloudWatch alarms, the
API Gateway account setting) is checked by its properties in
test_template_properties.py; the SAM functions are deployed as plain Lambda functions
with the environment SAM would give them.
"""

from __future__ import annotations

import json
import typing
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from pydantic import SecretStr

from tests.infra.moto_template import (
    cloudformation_gaps_filled,
    for_moto,
    function_environment,
    packaged,
)

PARAMETERS = {"CompanyId": "4264", "ProcoreClientId": "procore-client-1",
              "ConnectorUserId": "7788", "AlarmEmail": "ops@example.com"}
OUTPUTS = ("WebhookUrl", "InboxUrl", "RelayCommandsQueueUrl", "RelayResultsQueueUrl",
           "UserPoolId", "AppClientId", "HostedUiDomain", "AlarmTopicArn")
# Settings a prod deployment may leave at their blank default, and why.
MAY_STAY_BLANK = {
    "four_eyes": "unset means on in prod",
    "connector_application_id": "our webhooks are recognised by CONNECTOR_PROCORE_USER_ID; "
                                "Procore's payloads carry no application id (null)",
    "jwt_public_key_parameter": "Cognito's JWKS (JWT_JWKS_URL) verifies tokens instead",
    "notify_from_email": "empty sends no approver e-mails (parameter NotifyFromEmail)",
}
# Settings whose non-blank default only suits the local stack.
LOCAL_DEFAULTS = {"stage", "table_name"}
SET_BY_LAMBDA = {"aws_region"}


def prod_required_variables() -> set[str]:
    """The environment variables a prod deployment must set, from the settings model:
    every setting whose default is blank (or local-only), except plain secrets (refused
    outside local/test) and those MAY_STAY_BLANK."""
    from chalicelib.settings import Settings

    required = set()
    for name, field in Settings.model_fields.items():
        if name in MAY_STAY_BLANK or name in SET_BY_LAMBDA:
            continue
        if SecretStr in typing.get_args(field.annotation):
            continue
        default = field.default
        blank = default is None or default == "" or (type(default) is int and default == 0)
        if blank or name in LOCAL_DEFAULTS:
            required.add((field.alias or name).upper())
    return required


def test_the_required_list_is_derived_from_the_settings_model() -> None:
    required = prod_required_variables()
    assert {"JWT_ISSUER", "JWT_AUDIENCE", "JWT_JWKS_URL", "COGNITO_DOMAIN",
            "PROCORE_COMPANY_ID", "PROCORE_CLIENT_ID", "CONNECTOR_PROCORE_USER_ID",
            "WEBHOOK_TOKEN_PARAMETER", "PROCORE_CLIENT_SECRET_PARAMETER", "STAGE",
            "TABLE_NAME", "INBOUND_QUEUE_URL", "RELAY_RESULTS_QUEUE_URL"} <= required
    assert "WEBHOOK_TOKEN" not in required and "MAX_WEBHOOK_BYTES" not in required


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_every_function_names_every_required_setting_in_the_template(stage: str) -> None:
    template = packaged(stage)
    functions = [k for k, v in template["Resources"].items()
                 if v["Type"] == "AWS::Serverless::Function"]
    assert {"APIHandler", "Intake", "Exporter", "SweepExports"} <= set(functions)
    for function in functions:
        env = function_environment(template, function)
        blank = sorted(name for name in prod_required_variables()
                       if env.get(name) in (None, ""))
        assert not blank, f"{stage} {function} leaves {blank} blank"
        assert env["STAGE"] == stage
        assert all(v.startswith(f"/procore-sage/{stage}/")
                   for k, v in env.items() if k.endswith("_PARAMETER"))


@pytest.fixture(scope="module")
def stack() -> Iterator[dict[str, Any]]:
    """The prod package created in moto: its outputs, resources and functions' config."""
    moto_template, left_out = for_moto(packaged("prod"))
    with mock_aws(), cloudformation_gaps_filled():
        region = "us-east-1"
        s3 = boto3.client("s3", region_name=region)
        s3.create_bucket(Bucket="deploy-test")
        s3.put_object(Bucket="deploy-test", Key="t.json", Body=json.dumps(moto_template))
        cfn = boto3.client("cloudformation", region_name=region)
        cfn.create_stack(StackName="procore-sage-prod",
                         TemplateURL="https://deploy-test.s3.us-east-1.amazonaws.com/t.json",
                         Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in
                                     {"Stage": "prod", **PARAMETERS}.items()],
                         Capabilities=["CAPABILITY_IAM"])
        found = cfn.describe_stacks(StackName="procore-sage-prod")["Stacks"][0]
        resources = cfn.describe_stack_resources(StackName="procore-sage-prod")[
            "StackResources"]
        lambdas = boto3.client("lambda", region_name=region)
        functions = {r["LogicalResourceId"]: lambdas.get_function_configuration(
            FunctionName=r["PhysicalResourceId"]) for r in resources
            if r["ResourceType"] == "AWS::Lambda::Function"}
        outputs = {o["OutputKey"]: o["OutputValue"] for o in found["Outputs"]}
        topic = outputs["AlarmTopicArn"]
        subscriptions = boto3.client("sns", region_name=region).list_subscriptions_by_topic(
            TopicArn=topic)["Subscriptions"]
        yield {"status": found["StackStatus"], "outputs": outputs, "functions": functions,
               "resources": {r["LogicalResourceId"]: r["ResourceType"] for r in resources},
               "left_out": left_out, "subscriptions": subscriptions}


def test_the_prod_package_creates_in_moto(stack: dict[str, Any]) -> None:
    assert stack["status"] == "CREATE_COMPLETE"
    created = set(stack["resources"])
    assert {"ConnectorTable", "InboundEventsQueue", "RelayCommandsQueue", "AlarmTopic",
            "ApiAccessLogGroup", "ApiGatewayLoggingRole", "RestAPI", "APIHandler",
            "IntakeEventSourceMapping"} <= created
    # Only what moto lacks is left out; this task's are checked by their properties
    # (test_template_properties.py, and the alarms above).
    assert {"AWS::Cognito::UserPool", "AWS::Cognito::UserPoolClient",
            "AWS::Cognito::UserPoolDomain", "AWS::CloudWatch::Alarm",
            "AWS::ApiGateway::Account"} <= set(stack["left_out"].values())
    assert not created & set(stack["left_out"])


def test_the_outputs_name_the_urls_people_need(stack: dict[str, Any]) -> None:
    outputs = stack["outputs"]
    assert set(OUTPUTS) <= set(outputs)
    api = outputs["RestAPIId"]
    assert outputs["WebhookUrl"] == (
        f"https://{api}.execute-api.us-east-1.amazonaws.com/api/webhooks/procore")
    assert outputs["InboxUrl"] == f"https://{api}.execute-api.us-east-1.amazonaws.com/api/inbox"
    assert outputs["RelayCommandsQueueUrl"].endswith("RelayCommandsQueue.fifo")
    assert outputs["RelayResultsQueueUrl"].endswith("RelayResultsQueue.fifo")
    assert outputs["AlarmTopicArn"].startswith("arn:aws:sns:us-east-1:")
    assert outputs["HostedUiDomain"].endswith(".auth.us-east-1.amazoncognito.com")


def test_the_alarm_topic_e_mails_the_alarm_address(stack: dict[str, Any]) -> None:
    assert [(s["Protocol"], s["Endpoint"]) for s in stack["subscriptions"]] == [
        ("email", "ops@example.com")]


def test_every_deployed_function_has_a_complete_prod_environment(
        stack: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    from chalicelib.settings import Settings

    functions = stack["functions"]
    assert {"APIHandler", "Intake", "Exporter", "Results", "ScheduledPulls", "SweepExports",
            "ReconcileCommitments"} <= set(functions)
    assert functions["APIHandler"]["FunctionName"] == "procore-sage-prod-api"
    for logical, config in functions.items():
        env = {k: str(v) for k, v in config["Environment"]["Variables"].items()}
        blank = sorted(name for name in prod_required_variables() if not env.get(name))
        assert not blank, f"{logical} deployed with {blank} blank"
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        settings = Settings()  # the function's settings load (types, no plain secrets)
        assert settings.stage == "prod"
        assert settings.procore_company_id == 4264
        assert settings.connector_procore_user_id == 7788
        assert settings.procore_client_id == "procore-client-1"
        assert settings.jwt_issuer == "https://cognito-idp.us-east-1.amazonaws.com/" \
                                      "stub-ApproverUserPool"
        assert settings.jwt_jwks_url == settings.jwt_issuer + "/.well-known/jwks.json"
        assert settings.inbox_url == stack["outputs"]["InboxUrl"]
        assert settings.export_stale_seconds == 300
        assert settings.relay_results_queue_url == stack["outputs"]["RelayResultsQueueUrl"]


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_every_alarm_reaches_the_alarm_topic(stage: str) -> None:
    resources = packaged(stage)["Resources"]
    alarms = {k: v["Properties"] for k, v in resources.items()
              if v["Type"] == "AWS::CloudWatch::Alarm"}
    assert {"InboundEventsDeadLetterAlarm", "ExportsDeadLetterAlarm", "StuckItemsAlarm",
            "WebhooksQuarantinedAlarm", "AgentSilentAlarm", "Api5xxAlarm"} <= set(alarms)
    for name, alarm in alarms.items():
        assert {"Ref": "AlarmTopic"} in alarm.get("AlarmActions", []), name
    topic = resources["AlarmTopic"]["Properties"]["Subscription"]
    assert topic == [{"Protocol": "email", "Endpoint": {"Ref": "AlarmEmail"}}]


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_every_function_has_errors_and_throttles_alarms(stage: str) -> None:
    resources = packaged(stage)["Resources"]
    functions = {k for k, v in resources.items() if v["Type"] == "AWS::Serverless::Function"}
    watched: dict[str, set[str]] = {f: set() for f in functions}
    for alarm in resources.values():
        props = alarm.get("Properties", {})
        if alarm["Type"] == "AWS::CloudWatch::Alarm" and props["Namespace"] == "AWS/Lambda":
            (dimension,) = props["Dimensions"]
            watched[dimension["Value"]["Ref"]].add(props["MetricName"])
            assert props["OKActions"] == [{"Ref": "AlarmTopic"}]
    assert watched == {f: {"Errors", "Throttles"} for f in functions}


def test_the_api_5xx_alarm_watches_this_stacks_api_stage() -> None:
    resources = packaged("prod")["Resources"]
    dimensions = {d["Name"]: d["Value"] for d in
                  resources["Api5xxAlarm"]["Properties"]["Dimensions"]}
    assert dimensions == {"ApiName": {"Ref": "AWS::StackName"}, "Stage": "api"}
    assert resources["RestAPI"]["Properties"]["Name"] == {"Ref": "AWS::StackName"}
    assert resources["RestAPI"]["Properties"]["StageName"] == "api"


def test_the_agent_silence_threshold_is_a_parameter() -> None:
    template = packaged("prod")
    env = template["Globals"]["Function"]["Environment"]["Variables"]
    assert env["EXPORT_STALE_SECONDS"] == {"Ref": "AgentSilentSeconds"}
    assert template["Parameters"]["AgentSilentSeconds"]["Default"] == 300
