"""The README's lifecycle table is the code's transition table, row for row."""

from __future__ import annotations

from pathlib import Path

from chalicelib.domain.state_machine import TRANSITIONS, Action, Status

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_transitions() -> dict[tuple[Status, Action], Status]:
    text = README.read_text(encoding="utf-8")
    section = text.split("## Item lifecycle", 1)[1].split("\n## ", 1)[0]
    table: dict[tuple[Status, Action], Status] = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 3 or cells[0] in ("from", "") or set(cells[0]) <= {"-"}:
            continue
        froms = [Status(s.strip()) for s in cells[0].split(",")]
        actions = [Action(a.strip()) for a in cells[1].split(",")]
        for start in froms:
            for action in actions:
                assert (start, action) not in table, f"row repeated: {start} {action}"
                table[(start, action)] = start if cells[2] == "(same)" else Status(cells[2])
    return table


def test_readme_lifecycle_table_matches_the_state_machine() -> None:
    documented = readme_transitions()
    assert documented == TRANSITIONS, (
        f"missing from README: {set(TRANSITIONS.items()) - set(documented.items())}; "
        f"not in code: {set(documented.items()) - set(TRANSITIONS.items())}")


def test_every_status_and_action_appears() -> None:
    documented = readme_transitions()
    assert {a for _, a in documented} == set(Action)
    assert {s for s, _ in documented} | set(documented.values()) == set(Status)
