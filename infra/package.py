"""Package the connector for one stage: the infra/ fragments joined (infra/template.py),
``chalice package --stage <stage> --merge-template``, then two finishing touches Chalice's
merge cannot express:

- The API calls its function by name, not by ``${APIHandler.Arn}``. The functions'
  environment names the Cognito app client and the inbox URL, and the app client's
  callback URL is the API's own URL: with the API pointing at the function's Arn that is
  a cycle (API -> function -> app client -> API) CloudFormation refuses. So the API
  handler gets a fixed name (``<stack name>-api``; stack names stay within 60 characters)
  and the API's integrations name it.
- Each function gets an Errors and a Throttles alarm to the alarm topic, generated from
  the functions Chalice packaged, so a function added to app.py is covered unlisted.

    python -m infra.package --stage dev build/package      (what `make package` runs)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess  # nosec B404 - runs the venv's own chalice (below)
import sys
from pathlib import Path
from typing import Any

from infra import template

ROOT = Path(__file__).resolve().parent.parent
API_FUNCTION = "APIHandler"
API_FUNCTION_NAME = "${AWS::StackName}-api"
API_FUNCTION_ARN_REF = f"${{{API_FUNCTION}.Arn}}"
API_FUNCTION_ARN_BY_NAME = (
    "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:"
    + API_FUNCTION_NAME)
ALARM_TOPIC = "AlarmTopic"
SAM_FUNCTION = "AWS::Serverless::Function"


def build(stage: str, out_dir: Path) -> Path:
    """Package ``stage`` into ``out_dir`` (emptied first); return its sam.json."""
    out_dir = Path(out_dir).resolve()
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    merge_template = out_dir.parent / f"merged-{out_dir.name}.json"
    merge_template.write_text(json.dumps(template.merged(), indent=2) + "\n")
    env = {**os.environ, "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION",
                                                              "us-east-1")}
    subprocess.run(  # noqa: S603  # nosec B603 - the venv's chalice, our own arguments
        [_chalice(), "package", "--stage", stage, "--merge-template", str(merge_template),
         str(out_dir)], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
    sam = out_dir / "sam.json"
    packaged = json.loads(sam.read_text())
    finish(packaged)
    sam.write_text(json.dumps(packaged, indent=2) + "\n")
    return sam


def finish(packaged: dict[str, Any]) -> None:
    """The two finishing touches (module docstring), in place."""
    _call_api_function_by_name(packaged["Resources"])
    _add_function_alarms(packaged["Resources"])


def _call_api_function_by_name(resources: dict[str, Any]) -> None:
    resources[API_FUNCTION]["Properties"]["FunctionName"] = {"Fn::Sub": API_FUNCTION_NAME}
    replaced = 0

    def walk(node: Any) -> Any:
        nonlocal replaced
        if isinstance(node, dict):
            if isinstance(node.get("Fn::Sub"), str) and API_FUNCTION_ARN_REF in node["Fn::Sub"]:
                replaced += 1
                return {"Fn::Sub": node["Fn::Sub"].replace(API_FUNCTION_ARN_REF,
                                                           API_FUNCTION_ARN_BY_NAME)}
            return {key: walk(value) for key, value in node.items()}
        if isinstance(node, list):
            return [walk(value) for value in node]
        return node

    api = resources["RestAPI"]["Properties"]
    api["DefinitionBody"] = walk(api["DefinitionBody"])
    if not replaced:
        raise ValueError(f"RestAPI no longer names {API_FUNCTION_ARN_REF}: check what "
                         "this Chalice version packages")


def function_alarm_ids(function: str) -> tuple[str, str]:
    return f"{function}ErrorsAlarm", f"{function}ThrottlesAlarm"


def _add_function_alarms(resources: dict[str, Any]) -> None:
    functions = [k for k, v in resources.items() if v["Type"] == SAM_FUNCTION]
    topic = [{"Ref": ALARM_TOPIC}]
    for function in functions:
        errors, throttles = function_alarm_ids(function)
        for logical, metric, what in (
                (errors, "Errors", "raised an error (or timed out): see its logs"),
                (throttles, "Throttles", "was throttled (account concurrency): its event "
                                         "waits or is retried")):
            if logical in resources:
                raise ValueError(f"{logical} is already defined")
            resources[logical] = {"Type": "AWS::CloudWatch::Alarm", "Properties": {
                "AlarmDescription": f"Function {function} {what}.",
                "Namespace": "AWS/Lambda",
                "MetricName": metric,
                "Dimensions": [{"Name": "FunctionName", "Value": {"Ref": function}}],
                "Statistic": "Sum",
                "Period": 300,
                "EvaluationPeriods": 1,
                "Threshold": 0,
                "ComparisonOperator": "GreaterThanThreshold",
                "TreatMissingData": "notBreaching",
                "AlarmActions": topic,
                "OKActions": topic,
            }}


def _chalice() -> str:
    beside = Path(sys.executable).parent / "chalice"
    found = str(beside) if beside.exists() else shutil.which("chalice")
    if not found:
        raise FileNotFoundError("chalice is not installed (make installs it in .venv)")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.package")
    parser.add_argument("--stage", default="dev", choices=["dev", "prod"])
    parser.add_argument("out_dir", type=Path)
    args = parser.parse_args(argv)
    sys.stdout.write(f"{build(args.stage, args.out_dir)}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
