"""The browser harness itself: the real connector answers over HTTP on 127.0.0.1 and
Chromium reaches it."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.harness import BrowserStack, until

pytestmark = pytest.mark.browser


def test_the_stack_answers_health(connector: BrowserStack) -> None:
    assert connector.api_url.startswith("http://127.0.0.1:")
    status, health = connector.call("GET", "/health", who=None)
    assert status == 200 and health["status"] == "ok", health
    # The stack's own state stays out of the developer's .devstack/.
    assert ".devstack" not in str(connector.stack.state_dir)
    assert connector.stack.sage_db.exists()


def test_tokens_and_seeded_commitment(connector: BrowserStack) -> None:
    def seeded() -> bool:  # the stack's demo commitments arrive by webhook, in moments
        status, listing = connector.call("GET", "/items", "viewer")
        assert status == 200, listing
        return "ready_to_export" in {item["status"] for item in listing["items"]}

    until(seeded, 30)
    assert connector.call("GET", "/items", None)[0] == 401


def test_the_browser_opens_a_blank_page_and_the_api(page: Any,
                                                    connector: BrowserStack) -> None:
    page.goto("about:blank")
    assert page.evaluate("1 + 1") == 2
    answer = page.goto(f"{connector.api_url}/health")
    assert answer is not None and answer.status == 200
    assert '"status"' in page.content() and "ok" in page.content()


def test_browser_tests_run_together_on_one_worker(request: pytest.FixtureRequest) -> None:
    """Under `--dist loadgroup` (make test) every browser test carries the "browser" group
    in its node id, so one worker runs them all against one stack."""
    if not getattr(request.config.option, "loadgroup", False):  # set in xdist's workers
        return  # one process: nothing to group
    assert request.node.nodeid.endswith("@browser"), request.node.nodeid
