"""What moto's CloudFormation cannot create, checked by the packaged template's properties:
the Cognito user pool, app client and hosted UI domain; the API stage's throttling and
access logs (a SAM property moto never sees); the account's API Gateway logging role;
and how the API reaches its function without a dependency cycle."""

from __future__ import annotations

import json
from typing import Any

import pytest

from infra import template
from infra.package import API_FUNCTION_ARN_BY_NAME, API_FUNCTION_ARN_REF
from tests.infra.moto_template import ROOT, packaged

INBOX_URL = {"Fn::Sub": "https://${RestAPI}.execute-api.${AWS::Region}.${AWS::URLSuffix}/api/inbox"}


@pytest.fixture(scope="module")
def resources() -> dict[str, Any]:
    return packaged("prod")["Resources"]


def test_the_user_pool_admits_only_admin_created_users_with_strong_passwords(
        resources: dict[str, Any]) -> None:
    pool = resources["ApproverUserPool"]
    props = pool["Properties"]
    assert props["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True
    policy = props["Policies"]["PasswordPolicy"]
    assert policy["MinimumLength"] >= 12
    assert all(policy[k] for k in ("RequireUppercase", "RequireLowercase", "RequireNumbers",
                                   "RequireSymbols"))
    assert props["MfaConfiguration"] in ("OPTIONAL", "ON")
    assert props["EnabledMfas"] == ["SOFTWARE_TOKEN_MFA"]
    assert pool["DeletionPolicy"] == "Retain"  # the approvers outlive a deleted stack


def test_the_inbox_client_is_public_with_code_and_pkce_back_to_the_inbox(
        resources: dict[str, Any]) -> None:
    props = resources["InboxAppClient"]["Properties"]
    assert props["UserPoolId"] == {"Ref": "ApproverUserPool"}
    assert props["GenerateSecret"] is False  # a browser page keeps no secret: PKCE instead
    assert props["AllowedOAuthFlows"] == ["code"]
    assert props["AllowedOAuthFlowsUserPoolClient"] is True
    assert set(props["AllowedOAuthScopes"]) == {"openid", "email", "profile"}  # signin.js
    assert props["CallbackURLs"] == [INBOX_URL]
    assert props["LogoutURLs"] == [INBOX_URL]
    assert packaged("prod")["Outputs"]["InboxUrl"]["Value"] == INBOX_URL


def test_the_hosted_ui_domain_prefix_is_given_or_derived(resources: dict[str, Any]) -> None:
    domain = resources["ApproverUserPoolDomain"]["Properties"]
    assert domain["UserPoolId"] == {"Ref": "ApproverUserPool"}
    assert domain["Domain"] == {"Fn::If": ["DeriveCognitoDomainPrefix",
                                           {"Fn::Sub": "${AWS::StackName}-${AWS::AccountId}"},
                                           {"Ref": "CognitoDomainPrefix"}]}


def test_the_functions_are_told_the_pool_client_and_domain() -> None:
    env = packaged("prod")["Globals"]["Function"]["Environment"]["Variables"]
    assert env["JWT_AUDIENCE"] == {"Ref": "InboxAppClient"}
    assert env["JWT_ISSUER"] == {
        "Fn::Sub": "https://cognito-idp.${AWS::Region}.${AWS::URLSuffix}/${ApproverUserPool}"}
    assert env["COGNITO_DOMAIN"] == {
        "Fn::Sub": "https://${ApproverUserPoolDomain}.auth.${AWS::Region}.amazoncognito.com"}
    assert packaged("prod")["Outputs"]["HostedUiDomain"]["Value"] == env["COGNITO_DOMAIN"]


def test_the_api_stage_is_throttled(resources: dict[str, Any]) -> None:
    (setting,) = resources["RestAPI"]["Properties"]["MethodSettings"]
    assert (setting["ResourcePath"], setting["HttpMethod"]) == ("/*", "*")
    assert setting["ThrottlingRateLimit"] == {"Ref": "ApiThrottlingRateLimit"}
    assert setting["ThrottlingBurstLimit"] == {"Ref": "ApiThrottlingBurstLimit"}
    assert setting["DataTraceEnabled"] is False  # request bodies (tokens) never logged
    parameters = packaged("prod")["Parameters"]
    rate = parameters["ApiThrottlingRateLimit"]["Default"]
    burst = parameters["ApiThrottlingBurstLimit"]["Default"]
    assert 0 < rate <= burst


def test_the_api_writes_json_access_logs_to_a_kept_log_group(
        resources: dict[str, Any]) -> None:
    access = resources["RestAPI"]["Properties"]["AccessLogSetting"]
    assert access["DestinationArn"] == {"Fn::GetAtt": ["ApiAccessLogGroup", "Arn"]}
    fields = json.loads(access["Format"])  # one JSON object per request
    assert {"requestId", "ip", "caller", "status", "path"} <= set(fields)
    assert fields["requestId"] == "$context.requestId"
    group = resources["ApiAccessLogGroup"]["Properties"]
    assert group["RetentionInDays"] == {"Ref": "AccessLogRetentionDays"}


def test_the_account_logging_role_comes_before_the_api_when_this_stack_creates_it(
        resources: dict[str, Any]) -> None:
    account = resources["ApiGatewayAccountLogging"]
    assert account["Condition"] == "CreateApiLoggingRole"
    assert account["Properties"]["CloudWatchRoleArn"] == {
        "Fn::GetAtt": ["ApiGatewayLoggingRole", "Arn"]}
    role = resources["ApiGatewayLoggingRole"]["Properties"]
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "apigateway.amazonaws.com"}
    # The stage's access logs need the account role set first: the API names it.
    description = resources["RestAPI"]["Properties"]["Description"]["Fn::If"]
    assert description[0] == "CreateApiLoggingRole"
    assert "${ApiGatewayAccountLogging}" in description[1]["Fn::Sub"]


def test_the_api_calls_its_function_by_name_so_sign_in_settings_make_no_cycle(
        resources: dict[str, Any]) -> None:
    body = json.dumps(resources["RestAPI"]["Properties"]["DefinitionBody"])
    assert API_FUNCTION_ARN_REF not in body
    assert body.count(API_FUNCTION_ARN_BY_NAME) >= 10  # one per route and method
    assert resources["APIHandler"]["Properties"]["FunctionName"] == {
        "Fn::Sub": "${AWS::StackName}-api"}


def test_the_urls_the_template_builds_use_the_stage_chalice_deploys() -> None:
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    for stage in ("dev", "prod"):
        assert config["stages"][stage]["api_gateway_stage"] == "api"
        assert packaged(stage)["Resources"]["RestAPI"]["Properties"]["StageName"] == "api"


def test_no_stage_overrides_the_template_environment_with_a_literal() -> None:
    """A function's own variable beats Globals in SAM: a blank JWT_AUDIENCE in
    config.json would switch sign-in off in the stack."""
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    from_template = set(template.merged()["Globals"]["Function"]["Environment"]["Variables"])
    for stage in ("dev", "prod"):
        literal = {**config.get("environment_variables", {}),
                   **config["stages"][stage].get("environment_variables", {})}
        assert not from_template & set(literal), stage


def test_the_prod_stage_keeps_the_dev_timeouts() -> None:
    stages = json.loads((ROOT / ".chalice" / "config.json").read_text())["stages"]
    assert stages["prod"]["lambda_functions"] == stages["dev"]["lambda_functions"]


def test_globals_from_two_fragments_merge_key_by_key_and_a_repeat_is_an_error() -> None:
    into = {"Function": {"Environment": {"Variables": {"TABLE_NAME": {"Ref": "T"}}}}}
    template._merge_globals(into, {"Function": {"Environment": {"Variables": {
        "JWT_AUDIENCE": {"Ref": "C"}}}}}, "a.json: Globals")
    assert set(into["Function"]["Environment"]["Variables"]) == {"TABLE_NAME", "JWT_AUDIENCE"}
    with pytest.raises(ValueError, match=r"Variables\.TABLE_NAME is already defined"):
        template._merge_globals(into, {"Function": {"Environment": {"Variables": {
            "TABLE_NAME": "x"}}}}, "b.json: Globals")
