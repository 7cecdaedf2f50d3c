"""Known vulnerabilities in what is installed, from PyPI's project JSON.

pip-audit asks PyPI for each release's own page (/pypi/NAME/VERSION/json). Where only the
project pages are reachable (this workplace's network), it audits nothing and says so per
package. The project page still lists the known vulnerabilities of the latest release,
so for every installed distribution that is the latest release this check is complete;
any other is named as not audited here (not a failure: nothing is known either way).

Run with the interpreter whose packages are audited:  .venv/bin/python .ci/audit_pins.py
Exit 1 when any installed release has a known vulnerability.
"""

from __future__ import annotations

import importlib.metadata
import json
import sys
import urllib.request
from concurrent.futures import ThreadPoolExecutor

PYPI = "https://pypi.org/pypi/{name}/json"


def _project(name: str) -> dict | None:
    try:
        url = PYPI.format(name=name)  # a fixed https URL
        with urllib.request.urlopen(url, timeout=30) as response:  # nosec B310
            return json.loads(response.read())
    except OSError:
        return None


def main() -> int:
    installed = sorted({(d.metadata["Name"].lower(), d.version)
                        for d in importlib.metadata.distributions() if d.metadata["Name"]})
    with ThreadPoolExecutor(max_workers=8) as pool:
        pages = list(pool.map(lambda pair: _project(pair[0]), installed))
    vulnerable, unaudited, unreachable = [], [], []
    for (name, version), page in zip(installed, pages, strict=True):
        if page is None:
            unreachable.append(name)
        elif page["info"]["version"] != version:
            unaudited.append(f"{name}=={version} (latest {page['info']['version']})")
        else:
            vulnerable += [f"{name}=={version}: {v.get('id')} {v.get('summary') or ''}".strip()
                           for v in page.get("vulnerabilities") or [] if not v.get("withdrawn")]
    audited = len(installed) - len(unaudited) - len(unreachable)
    sys.stdout.write(f"audit_pins: {audited} of {len(installed)} installed releases audited "
                     f"(latest releases); known vulnerabilities: {len(vulnerable)}\n")
    for line in unaudited:
        sys.stdout.write(f"  not audited here (an older release): {line}\n")
    for name in unreachable:
        sys.stdout.write(f"  PyPI had no page for: {name}\n")
    for line in vulnerable:
        sys.stdout.write(f"  VULNERABLE {line}\n")
    return 1 if vulnerable else 0


if __name__ == "__main__":
    raise SystemExit(main())
