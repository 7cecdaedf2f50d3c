"""Create the table and queues of infra/resources.json in an AWS emulator (moto).

Tests and the local stack call ``provision`` so that they run against exactly the
resources CloudFormation deploys: same keys, indexes, FIFO flags, visibility timeouts
and redrive policies. Only the resource types the connector's data path needs are
created; the rest of the template (alarms, IAM, event source mappings) has no emulated
behaviour that matters to a test and is checked by cfn-lint instead.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TEMPLATE = Path(__file__).resolve().parent.parent / "infra" / "resources.json"


@dataclass
class Provisioned:
    refs: dict[str, str] = field(default_factory=dict)  # logical id -> Ref value
    arns: dict[str, str] = field(default_factory=dict)  # logical id -> Arn
    environment: dict[str, str] = field(default_factory=dict)  # function env from Globals


def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    return json.loads(path.read_text())


def provision(dynamodb: Any, sqs: Any, *, prefix: str = "connector",
              template: dict[str, Any] | None = None) -> Provisioned:
    """Create every table and queue of the template; return refs, arns and the env."""
    template = template or load_template()
    resources = template["Resources"]
    out = Provisioned()

    def resolve(value: Any) -> Any:
        if isinstance(value, dict) and "Ref" in value:
            return out.refs[value["Ref"]]
        if isinstance(value, dict) and "Fn::GetAtt" in value:
            logical, attribute = value["Fn::GetAtt"]
            if attribute != "Arn":
                raise ValueError(f"unsupported GetAtt {logical}.{attribute}")
            return out.arns[logical]
        if isinstance(value, dict):
            return {k: resolve(v) for k, v in value.items()}
        if isinstance(value, list):
            return [resolve(v) for v in value]
        return value

    # Dead-letter queues first: other queues' redrive policies point at them.
    ordered = sorted(resources.items(), key=lambda kv: "RedrivePolicy" in kv[1].get(
        "Properties", {}))
    for logical, resource in ordered:
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::DynamoDB::Table":
            name = f"{prefix}-{logical}"
            _create_table(dynamodb, name, props)
            out.refs[logical] = name
            out.arns[logical] = dynamodb.describe_table(TableName=name)["Table"]["TableArn"]
        elif resource["Type"] == "AWS::SQS::Queue":
            fifo = bool(props.get("FifoQueue"))
            name = f"{prefix}-{logical}" + (".fifo" if fifo else "")
            attributes = {}
            for key, value in props.items():
                if key == "RedrivePolicy":
                    attributes[key] = json.dumps(resolve(value))
                elif key in ("FifoQueue", "ContentBasedDeduplication"):
                    attributes[key] = "true" if value else "false"
                else:
                    attributes[key] = str(value)
            url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
            out.refs[logical] = url
            out.arns[logical] = sqs.get_queue_attributes(
                QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]

    variables = template.get("Globals", {}).get("Function", {}).get("Environment", {}).get(
        "Variables", {})
    out.environment = {key: str(resolve(value)) for key, value in variables.items()}
    return out


def _create_table(dynamodb: Any, name: str, props: dict[str, Any]) -> None:
    args: dict[str, Any] = {
        "TableName": name,
        "AttributeDefinitions": props["AttributeDefinitions"],
        "KeySchema": props["KeySchema"],
        "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
    }
    if props.get("GlobalSecondaryIndexes"):
        args["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
    dynamodb.create_table(**args)
    ttl = props.get("TimeToLiveSpecification")
    if ttl:
        dynamodb.update_time_to_live(TableName=name, TimeToLiveSpecification=ttl)
