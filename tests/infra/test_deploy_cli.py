"""The deploy command (infra/deploy.py) against moto in-process: it refuses a stage whose
secrets are missing (naming them), creates them with --create-secrets without ever
printing a value, and runs the change set, printing the stack's outputs.

The package step is the real one (infra/package.py) made deployable to moto
(tests/infra/moto_template.py); everything else is the command as `make deploy` runs it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from infra import deploy
from infra.deploy import Clients, Deployer, DeployError
from tests.infra.moto_template import cloudformation_gaps_filled, for_moto, packaged

REGION = "us-east-1"
PARAMETERS = {"COMPANY_ID": "4264", "PROCORE_CLIENT_ID": "procore-client-1",
              "CONNECTOR_USER_ID": "7788", "ALARM_EMAIL": "ops@example.com"}
DEV_SECRETS = ["/procore-sage/dev/procore-client-secret", "/procore-sage/dev/tax-id-key",
               "/procore-sage/dev/webhook-token"]


@pytest.fixture
def clients() -> Iterator[Clients]:
    with mock_aws(), cloudformation_gaps_filled():
        yield Clients(*(boto3.client(name, region_name=REGION) for name in
                        ("ssm", "s3", "cloudformation", "apigateway", "sts")))


def moto_package(stage: str, out_dir: Path) -> Path:
    """The stage's real package, made deployable to moto, beside a small code zip."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "deployment.zip").write_bytes(b"PK\x05\x06" + b"\x00" * 18)  # empty zip
    sam = out_dir / "sam.json"
    sam.write_text(json.dumps(for_moto(packaged(stage))[0]))
    return sam


def deployer(clients: Clients, environ: dict[str, str],
             answers: dict[str, str] | None = None) -> tuple[Deployer, list[str]]:
    asked: list[str] = []

    def prompt(text: str) -> str:
        asked.append(text)
        return next((v for k, v in (answers or {}).items() if k in text), "")

    return Deployer(clients, region=REGION, environ=environ, prompt=prompt,
                    package=moto_package, wait_delay=1), asked


def leaks(value: str, text: str, run: int = 6) -> bool:
    """True when any ``run`` characters of ``value`` appear in ``text`` (a part is a leak)."""
    return any(value[i:i + run] in text for i in range(len(value) - run + 1))


def put_secrets(clients: Clients, stage: str = "dev") -> None:
    for secret in deploy.stage_secrets(stage):
        clients.ssm.put_parameter(Name=secret.parameter, Value="x" * 16, Type="SecureString")


def test_the_stage_secrets_are_the_parameters_config_json_names() -> None:
    assert [s.parameter for s in deploy.stage_secrets("dev")] == DEV_SECRETS
    assert [s.parameter for s in deploy.stage_secrets("prod")] == [
        name.replace("/dev/", "/prod/") for name in DEV_SECRETS]
    assert {s.setting for s in deploy.stage_secrets("prod")} == {
        "WEBHOOK_TOKEN", "PROCORE_CLIENT_SECRET", "TAX_ID_KEY"}


def test_a_missing_secret_stops_the_deploy_named_and_nothing_is_deployed(
        clients: Clients, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    clients.ssm.put_parameter(Name="/procore-sage/dev/webhook-token", Value="tok-7f3a9q-kept",
                              Type="SecureString")
    for key, value in PARAMETERS.items():
        monkeypatch.setenv(key, value)
    assert deploy.main(["--stage", "dev", "--region", REGION]) == 1  # the CLI as make runs it
    captured = capsys.readouterr()
    assert "/procore-sage/dev/procore-client-secret" in captured.err
    assert "/procore-sage/dev/tax-id-key" in captured.err
    assert "/procore-sage/dev/webhook-token" not in captured.err  # it exists
    assert "--create-secrets" in captured.err
    assert not leaks("tok-7f3a9q-kept", captured.out + captured.err)
    assert clients.cloudformation.list_stacks()["StackSummaries"] == []


def test_a_plain_string_parameter_is_refused_as_a_secret(clients: Clients) -> None:
    put_secrets(clients)
    clients.ssm.put_parameter(Name="/procore-sage/dev/webhook-token", Value="plain",
                              Type="String", Overwrite=True)
    with pytest.raises(DeployError, match="webhook-token is a String, not a SecureString"):
        deployer(clients, PARAMETERS)[0].ensure_secrets("dev", create=True)


def test_create_secrets_stores_them_encrypted_and_never_prints_one(
        clients: Clients, capsys: pytest.CaptureFixture[str]) -> None:
    environ = {**PARAMETERS, "WEBHOOK_TOKEN": "whk-8c1f0e-from-the-environment"}
    runner, asked = deployer(clients, environ,
                             answers={"procore-client-secret": "pcs-5b9a-typed-at-prompt"})
    runner.ensure_secrets("dev", create=True)
    stored = {name: clients.ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]
              for name in DEV_SECRETS}
    assert {p["Type"] for p in stored.values()} == {"SecureString"}
    assert stored["/procore-sage/dev/webhook-token"]["Value"] == environ["WEBHOOK_TOKEN"]
    assert stored["/procore-sage/dev/procore-client-secret"]["Value"] == (
        "pcs-5b9a-typed-at-prompt")
    generated = stored["/procore-sage/dev/tax-id-key"]["Value"]
    assert len(generated) >= 40  # left empty at the prompt: a random key was made
    # Asked only for what the environment did not give, and the prompt shows no value.
    assert len(asked) == 2 and all("whk-" not in text for text in asked)
    captured = capsys.readouterr()
    for value in (environ["WEBHOOK_TOKEN"], "pcs-5b9a-typed-at-prompt", generated):
        assert not leaks(value, captured.out + captured.err)
    assert "created SecureString /procore-sage/dev/tax-id-key" in captured.out
    # Run again: nothing missing, nothing asked, nothing overwritten.
    runner.ensure_secrets("dev", create=True)
    assert len(asked) == 2


def test_the_client_secret_cannot_be_left_empty(clients: Clients) -> None:
    runner, _ = deployer(clients, PARAMETERS)
    with pytest.raises(DeployError, match="procore-client-secret: set PROCORE_CLIENT_SECRET"):
        runner.ensure_secrets("dev", create=True)


def test_a_first_deploy_names_the_parameters_it_lacks(clients: Clients) -> None:
    put_secrets(clients)
    runner, _ = deployer(clients, {"COMPANY_ID": "4264"})
    with pytest.raises(DeployError, match="PROCORE_CLIENT_ID, CONNECTOR_USER_ID, ALARM_EMAIL"):
        runner.deploy("dev", stack="procore-sage-dev", out_dir=Path("/nonexistent"))


def test_the_deploy_runs_the_change_set_and_prints_the_outputs(
        clients: Clients, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    put_secrets(clients)
    runner, _ = deployer(clients, PARAMETERS)
    outputs = runner.deploy("dev", stack="procore-sage-dev", out_dir=tmp_path / "pkg")
    stack = clients.cloudformation.describe_stacks(StackName="procore-sage-dev")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    given = {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}
    assert given["CompanyId"] == "4264" and given["Stage"] == "dev"
    assert given["CreateApiGatewayLoggingRole"] == "true"  # the account had no role yet
    assert outputs["WebhookUrl"].endswith("/api/webhooks/procore")
    out = capsys.readouterr().out
    assert "change set deploy-" in out and "Add     ConnectorTable" in out
    assert f"WebhookUrl: {outputs['WebhookUrl']}" in out
    assert f"InboxUrl: {outputs['InboxUrl']}" in out
    bucket = f"procore-sage-deploy-123456789012-{REGION}"
    keys = [o["Key"] for o in clients.s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert any(k.endswith(".zip") for k in keys) and any(k.endswith(".json") for k in keys)
    public = clients.s3.get_public_access_block(Bucket=bucket)
    assert all(public["PublicAccessBlockConfiguration"].values())


def test_an_upgrade_keeps_the_previous_parameters(clients: Clients, tmp_path: Path) -> None:
    put_secrets(clients)
    deployer(clients, PARAMETERS)[0].deploy("dev", stack="procore-sage-dev",
                                            out_dir=tmp_path / "one")
    runner, _ = deployer(clients, {"ALARM_EMAIL": "oncall@example.com"})
    parameters = runner.parameters("dev", runner.existing_stack("procore-sage-dev"))
    assert {"ParameterKey": "CompanyId", "UsePreviousValue": True} in parameters
    assert {"ParameterKey": "AlarmEmail", "ParameterValue": "oncall@example.com"} in parameters
    assert {"ParameterKey": "CreateApiGatewayLoggingRole",
            "UsePreviousValue": True} in parameters


def test_a_second_stack_in_the_account_leaves_the_logging_role_alone(
        clients: Clients) -> None:
    role = "arn:aws:iam::123456789012:role/existing-apigw-logs"
    clients.apigateway.update_account(patchOperations=[
        {"op": "replace", "path": "/cloudwatchRoleArn", "value": role}])
    parameters = deployer(clients, PARAMETERS)[0].parameters("prod", None)
    assert {"ParameterKey": "CreateApiGatewayLoggingRole",
            "ParameterValue": "false"} in parameters


def test_review_stops_at_the_change_set(clients: Clients, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    put_secrets(clients)
    runner, _ = deployer(clients, PARAMETERS)
    assert runner.deploy("dev", stack="procore-sage-dev", out_dir=tmp_path / "pkg",
                         review=True) == {}
    summaries = clients.cloudformation.list_change_sets(StackName="procore-sage-dev")
    assert [s["ExecutionStatus"] for s in summaries["Summaries"]] == ["AVAILABLE"]
    assert "review it" in capsys.readouterr().out
