"""The infrastructure security scan: checkov over the packaged template, with waivers.

Every failed check must be waived for that resource in infra/waivers/checkov.json with a
written reason ({"CKV_AWS_117": {"reason": "...", "resources": ["Intake", ...]}}; "*" for
every resource of the check); anything else fails the scan. A waiver that no longer
matches a finding fails too, so the list stays true.

    .venv-scan/bin/python .ci/infra_scan.py build/package/sam.json
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WAIVERS = ROOT / "infra" / "waivers" / "checkov.json"


def findings(template: Path) -> list[tuple[str, str, str]]:
    """(check id, resource logical id, check name) of each failed check."""
    checkov = Path(sys.executable).with_name("checkov")
    run = subprocess.run(  # noqa: S603  # nosec B603 - our own tool, fixed arguments
        [str(checkov), "-f", str(template), "--framework", "cloudformation", "-o", "json",
         "--quiet", "--compact", "--skip-download"],
        capture_output=True, text=True, check=False)
    if not run.stdout.strip():
        raise SystemExit(f"checkov gave no report: {run.stderr[-2000:]}")
    report = json.loads(run.stdout)
    reports = report if isinstance(report, list) else [report]
    found = []
    for one in reports:
        for check in one.get("results", {}).get("failed_checks", []):
            resource = check["resource"].rsplit(".", 1)[-1]
            found.append((check["check_id"], resource, check["check_name"]))
    return sorted(set(found))


def main(argv: list[str]) -> int:
    template = Path(argv[0] if argv else ROOT / "build" / "package" / "sam.json")
    waivers = json.loads(WAIVERS.read_text())
    found = findings(template)
    unwaived, used = [], set()
    for check, resource, name in found:
        waiver = waivers.get(check)
        if waiver and (resource in waiver["resources"] or "*" in waiver["resources"]):
            used.add((check, resource if resource in waiver["resources"] else "*"))
        else:
            unwaived.append(f"{check} on {resource}: {name}")
    stale = [f"{check} on {resource}" for check, waiver in waivers.items()
             for resource in waiver["resources"] if (check, resource) not in used]
    sys.stdout.write(f"infra scan: {len(found)} findings, {len(found) - len(unwaived)} "
                     f"waived (infra/waivers/checkov.json), {len(unwaived)} not\n")
    for line in unwaived:
        sys.stdout.write(f"  NOT WAIVED {line}\n")
    for line in stale:
        sys.stdout.write(f"  STALE WAIVER (no such finding now) {line}\n")
    return 1 if unwaived or stale else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
