"""Every queue a Lambda consumes keeps a message invisible at least 6x the function's
timeout (AWS's advice for SQS event sources): shorter, a message still being handled is
handed to a second invocation, and a batch's retries are counted twice."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def function_timeouts(stage: str = "dev") -> dict[str, int]:
    """Chalice function name -> timeout in seconds, as ``chalice package`` sets them."""
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    default = int(config.get("lambda_timeout", 60))
    stage_config = config["stages"][stage]
    stage_default = int(stage_config.get("lambda_timeout", default))
    overrides = {name: int(values["lambda_timeout"])
                 for name, values in stage_config.get("lambda_functions", {}).items()
                 if "lambda_timeout" in values}
    names = ("intake", "exporter", "results")
    return {name: overrides.get(name, stage_default) for name in names}


def resources() -> dict[str, Any]:
    return json.loads((ROOT / "infra" / "resources.json").read_text())["Resources"]


def test_visibility_timeouts_are_at_least_six_times_the_consumer_timeout() -> None:
    timeouts = function_timeouts()
    found = resources()
    mappings = {k: v["Properties"] for k, v in found.items()
                if v["Type"] == "AWS::Lambda::EventSourceMapping"}
    assert len(mappings) == 3
    for props in mappings.values():
        function = props["FunctionName"]["Ref"].lower()  # "Intake" -> chalice's "intake"
        queue = props["EventSourceArn"]["Fn::GetAtt"][0]
        visibility = found[queue]["Properties"]["VisibilityTimeout"]
        assert visibility >= 6 * timeouts[function], (
            f"{queue} hides a message {visibility}s; {function} may run "
            f"{timeouts[function]}s, so it needs at least {6 * timeouts[function]}s")


def test_the_intake_timeout_is_read_from_its_override() -> None:
    assert function_timeouts()["intake"] == 120  # the test above checks 720s for it
