"""The packaged (SAM) template made deployable to moto's CloudFormation.

moto does not expand the SAM transform, and it has no CloudFormation model for some of
the template's types. So:

- each ``AWS::Serverless::Function`` becomes an ``AWS::Lambda::Function``, its
  environment what SAM would give it (``Globals`` merged under its own, its own winning),
  its code a one-line stub (nothing is invoked), its schedule ``Events`` dropped (SAM's
  own output; checked by cfn-lint);
- the ``AWS::Serverless::Api`` becomes a bare ``AWS::ApiGateway::RestApi`` (its id is
  what the outputs and the sign-in URLs are built from); its stage settings are checked
  by properties;
- a FIFO queue gets a name ending ``.fifo`` (CloudFormation makes one; moto does not);
- ``{"Ref": "AWS::NoValue"}`` in a list (a policy statement under ``Fn::If``) removes the
  element, as in CloudFormation; moto keeps a ``None`` there (``cloudformation_gaps_filled``);
- the types moto lacks (``moto_lacks``) are left out, every reference to one becoming a
  ``stub-<LogicalId>`` string, and are checked by properties instead.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.infra.packages import packaged_text

ROOT = Path(__file__).resolve().parents[2]

SAM_TYPES = frozenset({"AWS::Serverless::Function", "AWS::Serverless::Api"})


def moto_lacks(resource_type: str) -> bool:
    """True for a type moto's CloudFormation has no model of (Cognito, CloudWatch alarms,
    the API Gateway account setting, IAM Roles Anywhere, ...)."""
    import warnings

    from moto.cloudformation.parsing import resource_class_from_type

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return resource_type not in SAM_TYPES and resource_class_from_type(resource_type) is None
FUNCTION_PROPERTIES = ("Handler", "Runtime", "Role", "Timeout", "MemorySize", "FunctionName")


def packaged_template(stage: str) -> str:
    """The stage packaged as `make package` does, once per test process."""
    return packaged_text(stage)


def packaged(stage: str) -> dict[str, Any]:
    return json.loads(packaged_template(stage))


def function_environment(packaged: dict[str, Any], logical: str) -> dict[str, Any]:
    """A SAM function's environment as SAM deploys it: Globals, then its own on top."""
    shared = packaged.get("Globals", {}).get("Function", {}).get("Environment", {}).get(
        "Variables", {})
    own = packaged["Resources"][logical]["Properties"].get("Environment", {}).get(
        "Variables", {})
    return {**shared, **own}


def for_moto(packaged: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """The template moto deploys, and the resources left out of it (id -> type)."""
    template = copy.deepcopy(packaged)
    resources: dict[str, Any] = template["Resources"]
    left_out = {k: v["Type"] for k, v in resources.items() if moto_lacks(v["Type"])}
    for logical, resource in list(resources.items()):
        if logical in left_out:
            del resources[logical]
        elif resource["Type"] == "AWS::Serverless::Function":
            props = resource["Properties"]
            lambda_props = {k: props[k] for k in FUNCTION_PROPERTIES if k in props}
            lambda_props["Code"] = {"ZipFile": "def handler(event, context):\n    return None\n"}
            lambda_props["Environment"] = {
                "Variables": function_environment(packaged, logical)}
            resources[logical] = {"Type": "AWS::Lambda::Function", "Properties": lambda_props}
        elif resource["Type"] == "AWS::SQS::Queue" and resource["Properties"].get(
                "FifoQueue") and "QueueName" not in resource["Properties"]:
            # CloudFormation names a FIFO queue <stack>-<id>-<random>.fifo; moto drops .fifo
            resource["Properties"]["QueueName"] = f"{logical}.fifo"
        elif resource["Type"] == "AWS::Serverless::Api":
            resources[logical] = {"Type": "AWS::ApiGateway::RestApi",
                                  "Properties": {"Name": resource["Properties"]["Name"]}}
    template.pop("Transform", None)
    template.pop("Globals", None)
    return _stub_references(template, set(left_out)), left_out


def _stub_references(node: Any, gone: set[str]) -> Any:
    if isinstance(node, dict):
        if node.get("Ref") in gone:
            return f"stub-{node['Ref']}"
        getatt = node.get("Fn::GetAtt")
        if isinstance(getatt, list) and getatt[0] in gone:
            return f"stub-{getatt[0]}-{getatt[1]}"
        sub = node.get("Fn::Sub")
        if isinstance(sub, str):
            return {"Fn::Sub": re.sub(
                r"\$\{([A-Za-z0-9]+)(\.[A-Za-z]+)?\}",
                lambda m: f"stub-{m.group(1)}" if m.group(1) in gone else m.group(0), sub)}
        return {k: _stub_references(v, gone) for k, v in node.items()}
    if isinstance(node, list):
        return [_stub_references(v, gone) for v in node]
    return node


@contextmanager
def cloudformation_gaps_filled() -> Iterator[None]:
    """While deploying, two things moto's CloudFormation does otherwise than AWS:
    an element resolving to AWS::NoValue leaves its list (moto keeps a None, and IAM then
    refuses the policy), and an executed change set's stack has its outputs (moto keeps
    the outputs computed before its resources existed)."""
    from moto.cloudformation import models, parsing

    original_clean = parsing.clean_json
    original_apply = models.ChangeSet.apply

    def clean_json(resource_json: Any, resources_map: Any) -> Any:
        cleaned = original_clean(resource_json, resources_map)
        if isinstance(resource_json, list) and isinstance(cleaned, list):
            return [value for value in cleaned if value is not None]
        return cleaned

    def apply(change_set: Any) -> None:
        original_apply(change_set)
        stack = change_set.stack
        stack.template = change_set.template
        stack._parse_template()
        stack.output_map = stack._create_output_map()

    parsing.clean_json = clean_json
    models.ChangeSet.apply = apply  # type: ignore[method-assign]
    try:
        yield
    finally:
        parsing.clean_json = original_clean
        models.ChangeSet.apply = original_apply  # type: ignore[method-assign]
