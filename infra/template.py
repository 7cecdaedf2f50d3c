"""Build the template Chalice merges into its own: infra/resources.json plus every other
fragment in infra/ (``*.json``), each owning its resources, parameters, conditions and
outputs.

Why fragments: one file per concern (storage and queues, identity, alarms, sign-in, API)
stays readable; ``chalice package --merge-template`` takes one file, so they are joined
here. A key defined in two fragments is an error, never a silent override; SAM
``Globals`` (the functions' environment) are merged the same way, key by key.

    python -m infra.template build/merged.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

INFRA = Path(__file__).resolve().parent
BASE = INFRA / "resources.json"
SECTIONS = ("Parameters", "Conditions", "Mappings", "Resources", "Outputs")


def fragments() -> list[Path]:
    """resources.json first, then the others in name order."""
    return [BASE, *sorted(p for p in INFRA.glob("*.json") if p != BASE)]


def merged() -> dict[str, Any]:
    template: dict[str, Any] = json.loads(BASE.read_text())
    for path in fragments()[1:]:
        fragment = json.loads(path.read_text())
        for section in SECTIONS:
            into = template.setdefault(section, {})
            for key, value in fragment.get(section, {}).items():
                if key in into:
                    raise ValueError(f"{path.name}: {section}.{key} is already defined")
                into[key] = value
        _merge_globals(template.setdefault("Globals", {}), fragment.get("Globals", {}),
                       f"{path.name}: Globals")
    return {k: v for k, v in template.items() if v != {}}


def _merge_globals(into: dict[str, Any], extra: dict[str, Any], where: str) -> None:
    """SAM Globals nest (Function.Environment.Variables): merged key by key, a value
    defined twice is an error as elsewhere."""
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge_globals(into[key], value, f"{where}.{key}")
        elif key in into:
            raise ValueError(f"{where}.{key} is already defined")
        else:
            into[key] = value


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        sys.stderr.write("usage: python -m infra.template OUT.json\n")
        return 2
    out = Path(args[0])
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(merged(), indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
