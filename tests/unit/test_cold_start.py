"""Cold start: importing app.py must not pull in the heavy libraries.

Not a timing test (timings live in bench/): it checks which modules an import loads, a
fact that does not depend on how busy the machine is.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

# Powertools imports the botocore package itself (a few hundred microseconds, for its
# user agent); what costs is a session or client, hence the submodules named here.
HEAVY = {"boto3", "botocore.session", "botocore.client", "pydantic", "pydantic_settings",
         "jwt", "cryptography", "moto", "aws_xray_sdk"}


def test_importing_app_leaves_heavy_libraries_for_the_handlers() -> None:
    code = ("import sys, app\n"
            f"heavy = set({sorted(HEAVY)!r})\n"
            "print(','.join(sorted(heavy & set(sys.modules))))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=Path(__file__).resolve().parents[2], check=True)
    assert result.stdout.strip() == ""
