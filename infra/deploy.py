"""Deploy one stage to AWS from this checkout (``make deploy STAGE=dev|prod``; docs/deploy.md).

1. Secrets: every SSM parameter the stage's functions read a secret from (the
   ``*_PARAMETER`` values of .chalice/config.json) must exist as a SecureString. Missing
   ones stop the deploy, named; ``--create-secrets`` creates them from the environment
   (``WEBHOOK_TOKEN=...``: the setting's name) or a hidden prompt. The webhook token and
   the tax id key are ours to choose: left empty, a random one is made. No value is ever
   printed.
2. Package (infra/package.py), upload the code and the template to S3 (``--bucket``, or
   ``procore-sage-deploy-<account>-<region>``, created private and encrypted).
3. A CloudFormation change set (create or update), its changes listed; ``--review`` stops
   there, otherwise it is executed and waited for, and the stack's outputs are printed.

Template parameters come from the environment (make passes ``COMPANY_ID=...`` through):
``COMPANY_ID``, ``PROCORE_CLIENT_ID``, ``CONNECTOR_USER_ID``, ``ALARM_EMAIL`` (required the
first time; afterwards the stack's previous values are kept unless given) and the optional
ones in ``PARAMETER_ENV``. The boto3 clients are passed in (tests give moto's).

    python -m infra.deploy --stage dev [--create-secrets] [--review] [--bucket NAME]
"""

from __future__ import annotations

import argparse
import getpass
import hashlib
import json
import os
import secrets
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError, WaiterError

ROOT = Path(__file__).resolve().parent.parent
CHALICE_CONFIG = ROOT / ".chalice" / "config.json"
#: template parameter -> the environment variable (make variable) giving it
PARAMETER_ENV = {
    "CompanyId": "COMPANY_ID",
    "ProcoreClientId": "PROCORE_CLIENT_ID",
    "ConnectorUserId": "CONNECTOR_USER_ID",
    "AlarmEmail": "ALARM_EMAIL",
    "NotifyFromEmail": "NOTIFY_FROM_EMAIL",
    "CognitoDomainPrefix": "COGNITO_DOMAIN_PREFIX",
    "AgentSilentSeconds": "AGENT_SILENT_SECONDS",
    "ApiThrottlingRateLimit": "API_THROTTLING_RATE_LIMIT",
    "ApiThrottlingBurstLimit": "API_THROTTLING_BURST_LIMIT",
    "AccessLogRetentionDays": "ACCESS_LOG_RETENTION_DAYS",
}
REQUIRED_PARAMETERS = ("CompanyId", "ProcoreClientId", "ConnectorUserId", "AlarmEmail")
#: secrets the connector chooses itself (Procore is told the webhook token at registration)
GENERATED_SECRETS = frozenset({"WEBHOOK_TOKEN", "TAX_ID_KEY"})
CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"]


class DeployError(Exception):
    """The deploy stops here; the message says why and what to do."""


@dataclass(frozen=True)
class Secret:
    setting: str  # WEBHOOK_TOKEN: the environment variable a value is read from
    parameter: str  # /procore-sage/<stage>/webhook-token

    @property
    def generated(self) -> bool:
        return self.setting in GENERATED_SECRETS


@dataclass(frozen=True)
class Clients:
    ssm: Any
    s3: Any
    cloudformation: Any
    apigateway: Any
    sts: Any


def stage_secrets(stage: str, config_path: Path = CHALICE_CONFIG) -> list[Secret]:
    """The SSM parameters the stage's functions read secrets from, as config.json names them."""
    config = json.loads(config_path.read_text())
    if stage not in config["stages"]:
        raise DeployError(f"no stage {stage!r} in {config_path.name}")
    variables = {**config.get("environment_variables", {}),
                 **config["stages"][stage].get("environment_variables", {})}
    return [Secret(name.removesuffix("_PARAMETER"), value)
            for name, value in sorted(variables.items())
            if name.endswith("_PARAMETER") and value and not value.startswith("secret:")]


def stack_name_for(stage: str) -> str:
    return f"procore-sage-{stage}"


class Deployer:
    def __init__(self, clients: Clients, *, region: str,
                 environ: Mapping[str, str] | None = None,
                 prompt: Callable[[str], str] = getpass.getpass,
                 say: Callable[[str], None] = print,
                 package: Callable[[str, Path], Path] | None = None,
                 wait_delay: int = 10) -> None:
        self.clients = clients
        self.region = region
        self.environ = os.environ if environ is None else environ
        self.prompt = prompt
        self.say = say
        self.package = package or _default_package
        self.wait_delay = wait_delay

    # --- 1. secrets -------------------------------------------------------------------
    def missing_secrets(self, wanted: list[Secret]) -> list[Secret]:
        missing = []
        for secret in wanted:
            try:
                found = self.clients.ssm.get_parameter(Name=secret.parameter,
                                                       WithDecryption=False)["Parameter"]
            except ClientError as exc:
                if exc.response["Error"]["Code"] != "ParameterNotFound":
                    raise
                missing.append(secret)
                continue
            if found["Type"] != "SecureString":
                raise DeployError(f"{secret.parameter} is a {found['Type']}, not a "
                                  "SecureString: delete it and run with --create-secrets")
        return missing

    def create_secret(self, secret: Secret) -> None:
        value = self.environ.get(secret.setting) or self.prompt(
            f"{secret.parameter} ({secret.setting})"
            + ("; empty makes a random one: " if secret.generated else ": "))
        if not value and secret.generated:
            value = secrets.token_urlsafe(32)
        if not value:
            raise DeployError(f"no value for {secret.parameter}: set {secret.setting} or "
                              "type it at the prompt")
        self.clients.ssm.put_parameter(Name=secret.parameter, Value=value,
                                       Type="SecureString", Overwrite=False,
                                       Description="procore-sage connector secret")
        self.say(f"created SecureString {secret.parameter}")

    def ensure_secrets(self, stage: str, *, create: bool) -> None:
        missing = self.missing_secrets(stage_secrets(stage))
        if missing and not create:
            names = ", ".join(s.parameter for s in missing)
            raise DeployError(f"missing SSM SecureString parameter(s): {names}. Run again "
                              "with --create-secrets (values from "
                              f"{', '.join(s.setting for s in missing)} or a prompt).")
        for secret in missing:
            self.create_secret(secret)

    # --- 2. package and upload ----------------------------------------------------------
    def bucket(self, given: str | None) -> str:
        s3 = self.clients.s3
        if given:
            return given
        account = self.clients.sts.get_caller_identity()["Account"]
        name = f"procore-sage-deploy-{account}-{self.region}"
        try:
            s3.head_bucket(Bucket=name)
            return name
        except ClientError as exc:
            if exc.response["Error"]["Code"] not in ("404", "NoSuchBucket"):
                raise
        kwargs: dict[str, Any] = {"Bucket": name}
        if self.region != "us-east-1":
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": self.region}
        s3.create_bucket(**kwargs)
        s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration={
            "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True})
        s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})
        self.say(f"created deployment bucket {name}")
        return name

    def upload(self, sam: Path, bucket: str, stack: str) -> str:
        """Upload the code and the template pointing at it; return the template's URL."""
        code = sam.parent / "deployment.zip"
        digest = hashlib.sha256(code.read_bytes()).hexdigest()[:20]
        code_key = f"{stack}/{digest}.zip"
        self.clients.s3.upload_file(str(code), bucket, code_key)
        packaged = json.loads(sam.read_text())
        for resource in packaged["Resources"].values():
            if resource["Type"] == "AWS::Serverless::Function":
                resource["Properties"]["CodeUri"] = {"Bucket": bucket, "Key": code_key}
        body = json.dumps(packaged, indent=1).encode()
        template_key = f"{stack}/{hashlib.sha256(body).hexdigest()[:20]}.template.json"
        self.clients.s3.put_object(Bucket=bucket, Key=template_key, Body=body)
        return f"https://{bucket}.s3.{self.region}.amazonaws.com/{template_key}"

    # --- 3. change set ------------------------------------------------------------------
    def existing_stack(self, stack: str) -> dict[str, Any] | None:
        try:
            found = self.clients.cloudformation.describe_stacks(StackName=stack)["Stacks"]
        except ClientError as exc:
            if "does not exist" in exc.response["Error"].get("Message", ""):
                return None
            raise
        if found and found[0]["StackStatus"] == "REVIEW_IN_PROGRESS":
            return None  # a change set was made but never executed: create again
        if found and found[0]["StackStatus"] == "ROLLBACK_COMPLETE":
            raise DeployError(f"{stack} failed its first create (ROLLBACK_COMPLETE): read "
                              "its events, delete it, then deploy again (docs/deploy.md)")
        return found[0] if found else None

    def parameters(self, stage: str, existing: dict[str, Any] | None) -> list[dict[str, Any]]:
        previous = {p["ParameterKey"] for p in (existing or {}).get("Parameters", [])}
        out: list[dict[str, Any]] = [{"ParameterKey": "Stage", "ParameterValue": stage}]
        missing = []
        for key, env in PARAMETER_ENV.items():
            value = self.environ.get(env, "")
            if value:
                out.append({"ParameterKey": key, "ParameterValue": value})
            elif key in previous:
                out.append({"ParameterKey": key, "UsePreviousValue": True})
            elif key in REQUIRED_PARAMETERS:
                missing.append(env)
        if missing:
            raise DeployError(f"first deploy of this stack: set {', '.join(missing)} "
                              "(make deploy ... COMPANY_ID=...)")
        if "CreateApiGatewayLoggingRole" in previous:
            out.append({"ParameterKey": "CreateApiGatewayLoggingRole",
                        "UsePreviousValue": True})
        else:
            # One CloudWatch role per account and region: create it unless already set.
            account = self.clients.apigateway.get_account()
            create = "false" if account.get("cloudwatchRoleArn") else "true"
            out.append({"ParameterKey": "CreateApiGatewayLoggingRole", "ParameterValue": create})
        return out

    def change_set(self, stack: str, template_url: str, parameters: list[dict[str, Any]],
                   *, create: bool) -> str | None:
        """Create the change set and list it; None when it changes nothing."""
        cfn = self.clients.cloudformation
        name = f"deploy-{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}"
        cfn.create_change_set(StackName=stack, ChangeSetName=name, TemplateURL=template_url,
                              Parameters=parameters, Capabilities=CAPABILITIES,
                              ChangeSetType="CREATE" if create else "UPDATE")
        try:
            cfn.get_waiter("change_set_create_complete").wait(
                StackName=stack, ChangeSetName=name,
                WaiterConfig={"Delay": max(self.wait_delay, 1), "MaxAttempts": 120})
        except WaiterError:
            described = cfn.describe_change_set(StackName=stack, ChangeSetName=name)
            reason = described.get("StatusReason", "")
            if "didn't contain changes" in reason or "No updates" in reason:
                cfn.delete_change_set(StackName=stack, ChangeSetName=name)
                self.say("no changes to deploy")
                return None
            raise DeployError(f"change set {name} failed: {reason}") from None
        described = cfn.describe_change_set(StackName=stack, ChangeSetName=name)
        self.say(f"change set {name} ({'create' if create else 'update'} {stack}):")
        for change in described.get("Changes", []):
            rc = change.get("ResourceChange", {})
            replace = " (REPLACEMENT)" if rc.get("Replacement") == "True" else ""
            self.say(f"  {rc.get('Action', '?'):<7} {rc.get('LogicalResourceId', '?')} "
                     f"{rc.get('ResourceType', '')}{replace}")
        return name

    def execute(self, stack: str, name: str, *, create: bool) -> None:
        cfn = self.clients.cloudformation
        cfn.execute_change_set(StackName=stack, ChangeSetName=name)
        waiter = "stack_create_complete" if create else "stack_update_complete"
        try:
            cfn.get_waiter(waiter).wait(StackName=stack, WaiterConfig={
                "Delay": max(self.wait_delay, 1), "MaxAttempts": 360})
        except WaiterError as exc:
            raise DeployError(f"{stack} did not deploy ({exc}); CloudFormation rolled it "
                              "back: see its events in the console") from None

    def outputs(self, stack: str) -> dict[str, str]:
        found = self.clients.cloudformation.describe_stacks(StackName=stack)["Stacks"][0]
        return {o["OutputKey"]: o["OutputValue"] for o in found.get("Outputs", [])}

    # --- all of it ----------------------------------------------------------------------
    def deploy(self, stage: str, *, stack: str, out_dir: Path, bucket: str | None = None,
               create_secrets: bool = False, review: bool = False) -> dict[str, str]:
        if len(stack) > 60:
            raise DeployError("stack names stay within 60 characters (the API function is "
                              "named <stack>-api, at most 64)")
        self.ensure_secrets(stage, create=create_secrets)
        existing = self.existing_stack(stack)
        parameters = self.parameters(stage, existing)
        self.say(f"packaging stage {stage}")
        sam = self.package(stage, out_dir)
        url = self.upload(sam, self.bucket(bucket), stack)
        name = self.change_set(stack, url, parameters, create=existing is None)
        if name is None:
            return self.outputs(stack) if existing else {}
        if review:
            self.say(f"review it, then execute it in the console or run again without "
                     f"--review (change set {name})")
            return {}
        self.execute(stack, name, create=existing is None)
        outputs = self.outputs(stack)
        for key in sorted(outputs):
            self.say(f"{key}: {outputs[key]}")
        return outputs


def _default_package(stage: str, out_dir: Path) -> Path:
    from infra.package import build

    return build(stage, out_dir)


def main(argv: list[str] | None = None) -> int:
    import boto3

    parser = argparse.ArgumentParser(prog="python -m infra.deploy")
    parser.add_argument("--stage", required=True, choices=["dev", "prod"])
    parser.add_argument("--stack-name", help="default procore-sage-<stage>")
    parser.add_argument("--bucket", default=os.environ.get("DEPLOY_BUCKET") or None)
    parser.add_argument("--create-secrets", action="store_true")
    parser.add_argument("--review", action="store_true",
                        help="stop after listing the change set")
    parser.add_argument("--region", default=os.environ.get("AWS_REGION")
                        or os.environ.get("AWS_DEFAULT_REGION"))
    args = parser.parse_args(argv)
    session = boto3.session.Session(region_name=args.region)
    region = session.region_name
    if not region:
        parser.error("no region: set AWS_REGION or pass --region")
    clients = Clients(*(session.client(name) for name in
                        ("ssm", "s3", "cloudformation", "apigateway", "sts")))
    try:
        Deployer(clients, region=region).deploy(
            args.stage, stack=args.stack_name or stack_name_for(args.stage),
            out_dir=ROOT / "build" / f"deploy-{args.stage}", bucket=args.bucket,
            create_secrets=args.create_secrets, review=args.review)
    except DeployError as exc:
        sys.stderr.write(f"deploy: {exc}\n")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
