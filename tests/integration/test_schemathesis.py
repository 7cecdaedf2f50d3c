"""schemathesis over /openapi.json, in-process (chalice's local gateway behind a WSGI
adapter, moto, the Procore sandbox): every operation, every user level and no token.

No answer is a 5xx, every answer conforms to the document (status, content type, schema),
and a refused request leaves the table and the queues as they were. Bounded and
derandomized (max_examples per operation, a fixed seed), so CI replays the same requests.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.fixtures_sandbox import demo_fixture, sandbox_fixture  # noqa: F401
from tests.openapi_harness import ChaliceWsgi, Recorder, fuzz, operations_of, seed_world

MAX_EXAMPLES = 4
# The operations in groups (by tag), so two workers share the run.
GROUPS = (("items",), ("setup", "links"), ("projects",), ("settings", "reports", "sync"),
          ("users", "ops", "meta", "web", "webhooks"))


def test_the_groups_cover_every_tag() -> None:
    from app import app
    from chalicelib.openapi import build

    tags = {op["tags"][0] for methods in build(app.routes)["paths"].values()
            for op in methods.values() if "tags" in op}
    assert tags == {tag for group in GROUPS for tag in group}


@pytest.mark.parametrize("tags", GROUPS, ids=lambda tags: "+".join(tags))
def test_fuzz_every_operation_as_every_caller(
        tags: tuple[str, ...], aws: Any, sandbox: Any, demo: dict[str, Any],
        chalice_client: Any, mint: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from app import app
    from chalicelib.openapi import build

    quarantined = seed_world(monkeypatch, sandbox, demo, chalice_client)
    document = build(app.routes)
    examples = {"item_id": "commitment-501", "entry_id": quarantined,
                "project_id": demo["project_ids"]["main"],
                "procore_id": demo["project_ids"]["main"]}
    known = {f"{method.upper()} {path}": {name: examples[name] for name in examples
                                           if "{" + name + "}" in path}
             for path, methods in document["paths"].items() for method in methods}
    wsgi = ChaliceWsgi(chalice_client, Recorder())
    failures = fuzz(operations_of(document, tags), wsgi, aws, mint,
                    max_examples=MAX_EXAMPLES, examples={k: v for k, v in known.items() if v})
    assert not failures, "\n".join(failures)
