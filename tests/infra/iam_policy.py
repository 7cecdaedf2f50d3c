"""The packaged template's roles and what each function needs, compared.

``needs(template, function)`` turns the calls ``iam_calls`` derives for a function into
(IAM action, resource ARN) pairs, resolved against the function's packaged environment;
``missing(template, function)`` lists those its role does not allow. The template's
intrinsics are resolved for one made-up account (ARNs shaped as AWS shapes them), so
policy resources and needed resources compare as strings with IAM's wildcards.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from functools import cache
from typing import Any

from tests.infra import iam_calls, iam_reach

REGION, ACCOUNT, PARTITION = "us-east-1", "123456789012", "aws"
# boto3 methods whose IAM permission is not "<prefix>:<Operation>".
ACTIONS_OF = {("dynamodb", "transact_write_items"): (),  # its parts: Put -> PutItem, ...
              ("dynamodb", "transact_get_items"): ("GetItem",),
              ("dynamodb", "condition_check_item"): ("ConditionCheckItem",),
              # SQS batch calls are authorized as their single-message action
              ("sqs", "change_message_visibility_batch"): ("ChangeMessageVisibility",),
              ("sqs", "delete_message_batch"): ("DeleteMessage",),
              ("sqs", "send_message_batch"): ("SendMessage",)}
IAM_PREFIX = {"sesv2": "ses"}
# What Lambda's event source mapping does with the function's role (AWS Lambda docs).
NO_VALUE = object()  # AWS::NoValue: the key or list entry is dropped
EVENT_SOURCE_ACTIONS = ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes")


@dataclass(frozen=True)
class Need:
    action: str
    resource: str
    why: str


class Template:
    """The packaged template (sam.json) with its intrinsics resolved for one stage."""

    def __init__(self, doc: dict[str, Any], stage: str,
                 parameters: dict[str, str] | None = None) -> None:
        self.doc = doc
        self.resources: dict[str, Any] = doc["Resources"]
        self.params = {"Stage": stage, "AWS::Region": REGION, "AWS::AccountId": ACCOUNT,
                       "AWS::Partition": PARTITION, "AWS::URLSuffix": "amazonaws.com",
                       "AWS::StackName": "connector", **(parameters or {})}
        for name, spec in doc.get("Parameters", {}).items():
            self.params.setdefault(name, str(spec.get("Default", f"<{name}>")))

    def type_of(self, logical: str) -> str:
        return str(self.resources.get(logical, {}).get("Type", ""))

    def ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self.params:
            return self.params[name]
        kind = self.type_of(name)
        if kind == "AWS::SQS::Queue":
            return f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{name}"
        if kind:
            return name
        raise KeyError(f"Ref to unknown {name!r}")

    def arn(self, name: str) -> str:
        kind = self.type_of(name)
        shapes = {"AWS::DynamoDB::Table": f"dynamodb:{REGION}:{ACCOUNT}:table/{name}",
                  "AWS::SQS::Queue": f"sqs:{REGION}:{ACCOUNT}:{name}",
                  "AWS::IAM::Role": f"iam::{ACCOUNT}:role/{name}",
                  "AWS::SNS::Topic": f"sns:{REGION}:{ACCOUNT}:{name}"}
        if not kind:
            raise KeyError(f"GetAtt of unknown {name!r}")
        service = kind.split("::")[1].lower()
        return f"arn:{PARTITION}:" + shapes.get(kind, f"{service}:{REGION}:{ACCOUNT}:{name}")

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [r for r in (self.resolve(v) for v in value) if r is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if set(value) == {"Ref"}:
            return self.ref(value["Ref"])
        if set(value) == {"Fn::GetAtt"}:
            target = value["Fn::GetAtt"]
            name, attr = target if isinstance(target, list) else target.split(".", 1)
            if attr != "Arn":
                return f"<{name}.{attr}>"
            return self.arn(name)
        if set(value) == {"Fn::Sub"}:
            text, extra = (value["Fn::Sub"], {}) if isinstance(value["Fn::Sub"], str) \
                else value["Fn::Sub"]
            return re.sub(r"\$\{([^}!]+)\}", lambda m: self._sub(m.group(1), extra), text)
        if set(value) == {"Fn::Join"}:
            delimiter, parts = value["Fn::Join"]
            return delimiter.join(str(p) for p in self.resolve(parts))
        if set(value) == {"Fn::Split"}:
            delimiter, text = value["Fn::Split"]
            return str(self.resolve(text)).split(delimiter)
        if set(value) == {"Fn::Select"}:
            index, items = value["Fn::Select"]
            return self.resolve(items)[int(index)]
        if set(value) == {"Fn::If"}:
            condition, then, otherwise = value["Fn::If"]
            return self.resolve(then if self.condition(condition) else otherwise)
        resolved = {k: self.resolve(v) for k, v in value.items()}
        return {k: v for k, v in resolved.items() if v is not NO_VALUE}

    def condition(self, name: str) -> bool:
        return self._truth(self.doc["Conditions"][name])

    def _truth(self, spec: Any) -> bool:
        (function, args), = spec.items()
        if function == "Condition":
            return self.condition(args)
        if function == "Fn::Equals":
            return bool(self.resolve(args[0]) == self.resolve(args[1]))
        if function == "Fn::Not":
            return not self._truth(args[0])
        if function == "Fn::And":
            return all(self._truth(a) for a in args)
        if function == "Fn::Or":
            return any(self._truth(a) for a in args)
        raise ValueError(f"condition function {function} is not evaluated here")

    def _sub(self, name: str, extra: dict[str, Any]) -> str:
        if name in extra:
            return str(self.resolve(extra[name]))
        if "." in name and not name.startswith("AWS::"):
            return str(self.resolve({"Fn::GetAtt": name.split(".", 1)}))
        return self.ref(name)

    def environment(self, function: str) -> dict[str, str]:
        """The function's environment as deployed: Globals, then its own variables."""
        merged = dict(self.doc.get("Globals", {}).get("Function", {}).get(
            "Environment", {}).get("Variables", {}))
        merged |= self.resources[function]["Properties"].get("Environment", {}).get(
            "Variables", {})
        return {k: str(self.resolve(v)) for k, v in merged.items()}

    def role_of(self, function: str) -> str:
        role = self.resources[function]["Properties"]["Role"]
        return str(role["Fn::GetAtt"][0])

    def statements(self, role: str) -> list[dict[str, Any]]:
        """Every statement that applies to ``role``: its inline policies, and the template's
        policies attached to it (by their Roles, or the role's ManagedPolicyArns)."""
        spec = self.resources[role]["Properties"]
        docs = [p["PolicyDocument"] for p in spec.get("Policies", [])]
        attached = {a.get("Ref") for a in spec.get("ManagedPolicyArns", [])
                    if isinstance(a, dict)}
        for logical, resource in self.resources.items():
            if resource["Type"] not in ("AWS::IAM::ManagedPolicy", "AWS::IAM::Policy"):
                continue
            roles = {r.get("Ref") for r in resource["Properties"].get("Roles", [])
                     if isinstance(r, dict)}
            if role in roles or logical in attached:
                docs.append(resource["Properties"]["PolicyDocument"])
        out: list[dict[str, Any]] = []
        for doc in docs:
            found = doc["Statement"]
            out += self.resolve(found if isinstance(found, list) else [found])
        return out


def _listed(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value or [])


def allows(statements: list[dict[str, Any]], action: str, resource: str) -> bool:
    """IAM's answer for an unconditional request: an Allow matches and no Deny does.
    A statement with a Condition never counts as allowing (we cannot know its context)."""
    def matches(s: dict[str, Any]) -> bool:
        if "NotAction" in s or "NotResource" in s:
            raise ValueError("NotAction/NotResource: this check does not evaluate them")
        return any(fnmatch.fnmatchcase(action.lower(), a.lower()) for a in _listed(s["Action"])
                   ) and any(fnmatch.fnmatchcase(resource, r) for r in _listed(s["Resource"]))

    if any(s["Effect"] == "Deny" and matches(s) for s in statements):
        return False
    return any(s["Effect"] == "Allow" and "Condition" not in s and matches(s)
               for s in statements)


@cache
def _api_names(service: str) -> dict[str, str]:
    import boto3

    client = boto3.session.Session().client(service, region_name=REGION,
                                            aws_access_key_id="x", aws_secret_access_key="x")
    return dict(client.meta.method_to_api_mapping)


def actions_for(service: str, method: str) -> tuple[str, ...]:
    prefix = IAM_PREFIX.get(service, service)
    if (service, method) in ACTIONS_OF:
        return tuple(f"{prefix}:{a}" for a in ACTIONS_OF[(service, method)])
    names = _api_names(service)
    if method not in names:
        raise ValueError(f"{service} has no operation {method!r}")
    return (f"{prefix}:{names[method]}",)


def resource_arns(service: str, value: str) -> list[str]:
    """The ARNs of what a setting's value names, for the service that uses it."""
    if service == "dynamodb":
        return [f"arn:{PARTITION}:dynamodb:{REGION}:{ACCOUNT}:table/{value}"]
    if service == "sqs":
        _, _, rest = value.partition("amazonaws.com/")
        account, _, name = rest.partition("/")
        return [f"arn:{PARTITION}:sqs:{REGION}:{account}:{name}"]
    if service in ("ses", "sesv2"):
        # SES authorizes the verified identity: the address, or its domain when only the
        # domain is verified. Either may be the one set up, so both are needed.
        identity = f"arn:{PARTITION}:ses:{REGION}:{ACCOUNT}:identity/"
        return [identity + value, identity + value.rpartition("@")[2]]
    raise ValueError(f"no rule for the resources of {service}")


def secret_arn(parameter: str) -> tuple[str, str]:
    """(action, ARN) of reading secret ``parameter`` as chalicelib.settings.read_secret does."""
    if parameter.startswith("secret:"):
        name = parameter.removeprefix("secret:")
        return ("secretsmanager:GetSecretValue",
                f"arn:{PARTITION}:secretsmanager:{REGION}:{ACCOUNT}:secret:{name}-AbCdEf")
    return ("ssm:GetParameter",
            f"arn:{PARTITION}:ssm:{REGION}:{ACCOUNT}:parameter/{parameter.lstrip('/')}")


def _env_name(attr: str) -> str:
    from chalicelib.settings import Settings

    alias = Settings.model_fields[attr].alias
    return (alias or attr).upper()


def needs(template: Template, function: str) -> tuple[list[Need], list[str]]:
    """What ``function`` needs, and the problems that stop the derivation (unreadable
    settings, calls on an unknown client)."""
    from chalicelib.settings import Settings

    env = template.environment(function)
    handler = template.resources[function]["Properties"]["Handler"]
    reached, found, bound = iam_calls.calls_of(handler, frozenset(Settings.model_fields))
    bases = iam_reach.class_bases()
    out: list[Need] = []
    problems: list[str] = []
    for site in found:
        item = site.where
        why = f"{site.name} in {item.label}"
        route = f" (reached: {iam_reach.path(reached, item)})"
        if site.kind == "client":
            if (item.module, *site.at) not in {b.client_at for b in bound}:
                problems.append(f"a {site.name} client made in {item.label} (line "
                                f"{site.at[0]}) is not handed to an adapter's constructor, "
                                "so its calls cannot be followed")
            continue
        if site.kind == "secret":
            attr = f"{site.name.removesuffix('_pem')}_parameter"
            parameter = env.get(_env_name(attr), "")
            if parameter:  # unset: read_secret refuses before any AWS call
                action, arn = secret_arn(parameter)
                out.append(Need(action, arn, f"secret {why}{route}"))
            continue
        owners = [b for b in bound if item.cls and item.cls in bases.get(b.cls, set())]
        if not owners:
            if item.cls is None:
                problems.append(f"{why}: an AWS call outside an adapter class")
            continue  # a class no reached getter builds: never called here
        for binding in owners:
            for action in actions_for(binding.service, site.name):
                for attr in binding.settings:
                    value = env.get(_env_name(attr))
                    if not value:  # unset: the getter builds no adapter (or it refuses)
                        continue
                    src = f"{why} via {binding.getter}{route}"
                    for arn in resource_arns(binding.service, value):
                        out.append(Need(action, arn, src))
                        out += [Need(action, f"{arn}/index/{i}", src)
                                for i in site.index_names]
    for logical, resource in template.resources.items():
        props = resource.get("Properties", {})
        if (resource["Type"] == "AWS::Lambda::EventSourceMapping"
                and props.get("FunctionName") == {"Ref": function}):
            arn = str(template.resolve(props["EventSourceArn"]))
            out += [Need(a, arn, f"event source {logical}") for a in EVENT_SOURCE_ACTIONS]
    return out, problems


def functions(template: Template) -> list[str]:
    return sorted(k for k, v in template.resources.items()
                  if v["Type"] in ("AWS::Serverless::Function", "AWS::Lambda::Function"))


def missing(template: Template, function: str) -> list[str]:
    """One line per needed (action, resource) the function's role does not allow."""
    wanted, problems = needs(template, function)
    statements = template.statements(template.role_of(function))
    lines = [f"{function}: {p}" for p in problems]
    seen: set[tuple[str, str]] = set()
    for need in wanted:
        if (need.action, need.resource) in seen:
            continue
        seen.add((need.action, need.resource))
        if not allows(statements, need.action, need.resource):
            lines.append(f"{function} ({template.role_of(function)}): {need.why} needs "
                         f"{need.action} on {need.resource}")
    return lines


def packaged(stage: str) -> dict[str, Any]:
    """The template ``make package`` builds for ``stage`` (tests/infra/packages.py)."""
    import json

    from tests.infra.packages import packaged_text

    return dict(json.loads(packaged_text(stage)))


def access_statements(template: Template, function: str) -> list[dict[str, Any]]:
    """The statements of the template's own policies attached to ``function``'s role (not
    the logs policy Chalice writes into the role)."""
    role = template.role_of(function)
    out: list[dict[str, Any]] = []
    for resource in template.resources.values():
        if resource["Type"] in ("AWS::IAM::ManagedPolicy", "AWS::IAM::Policy") and {
                "Ref": role} in resource["Properties"].get("Roles", []):
            out += template.resolve(resource["Properties"]["PolicyDocument"]["Statement"])
    return out


def unused(template: Template, function: str) -> list[str]:
    """One line per (action, resource) a function's policies grant that nothing derived for
    it needs: least privilege kept, not only coverage. Conditional statements (KMS via SSM
    for the parameters it reads) are checked by their own test."""
    wanted, _ = needs(template, function)
    lines: list[str] = []
    for statement in access_statements(template, function):
        if statement["Effect"] != "Allow" or "Condition" in statement:
            continue
        for action in _listed(statement["Action"]):
            for resource in _listed(statement["Resource"]):
                if not any(fnmatch.fnmatchcase(n.action.lower(), action.lower())
                           and fnmatch.fnmatchcase(n.resource, resource) for n in wanted):
                    lines.append(f"{function}: {statement.get('Sid', '?')} grants {action} on "
                                 f"{resource}, which no code path of it uses")
    return lines
