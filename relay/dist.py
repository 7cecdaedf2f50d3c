"""``python -m relay.dist OUT``: the folder the agent is installed from (`pip install OUT`).

OUT gets relay/pyproject.toml at its root, all of relay/ and, of chalicelib, only
``__init__.py`` and ``relay_protocol.py``: the agent's files (docs/decisions.md), so the
wheel built from OUT holds nothing of the cloud. Standard library only.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

AGENT_ROOT = Path(__file__).resolve().parents[1]  # the folder holding relay/ and chalicelib/
PROTOCOL_FILES = ("chalicelib/__init__.py", "chalicelib/relay_protocol.py")


def assemble(out: Path, root: Path = AGENT_ROOT) -> Path:
    """Copy the agent's files into ``out`` (which must not exist yet); returns ``out``."""
    if out.exists():
        raise FileExistsError(f"{out} already exists: give a new folder")
    shutil.copytree(root / "relay", out / "relay",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "pyproject.toml"))
    for name in PROTOCOL_FILES:
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(root / name, out / name)
    shutil.copyfile(root / "relay" / "pyproject.toml", out / "pyproject.toml")
    return out


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        sys.stderr.write("usage: python -m relay.dist OUT  (then: pip install OUT)\n")
        return 2
    try:
        out = assemble(Path(args[0]))
    except FileExistsError as exc:
        sys.stderr.write(f"relay.dist: {exc}\n")
        return 2
    sys.stdout.write(f"{out}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
