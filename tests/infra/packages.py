"""The packaged template per stage, built once per test process (infra/package.py, as
`make package` does) into a folder of its own: never build/package, which another run may
be rebuilding, and never a folder another worker shares."""

from __future__ import annotations

import tempfile
from functools import cache
from pathlib import Path


@cache
def packaged_text(stage: str) -> str:
    """The stage's sam.json text (each caller parses its own copy)."""
    from infra.package import build

    with tempfile.TemporaryDirectory(prefix=f"package-{stage}-") as folder:
        return build(stage, Path(folder) / "package").read_text()
