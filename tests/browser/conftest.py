"""Browser tests: the real connector (devstack.Stack in a tmp dir, every server on
127.0.0.1, all stopped afterwards) and real Chromium (Debian's /usr/bin/chromium, driven by
Playwright; Playwright's own browser download is not used).

Fixtures:
- ``connector``: one BrowserStack for the browser tests (tests/browser/harness.py):
  ``api_url``, ``inbox_url``, ``sandbox``, ``sage``, ``stop_agent()``/``start_agent()``,
  ``mint(subject)``, ``call(method, path, who, body)``, ``wait_for(item_id, *statuses)``,
  ``ready_commitment(kind, number=..., lines=...)``, ``cost_code(code, name)``.
  Package-scoped: it lives while the browser tests run and no longer, since it runs the
  connector's handlers in this process on its own environment (the root conftest scrubs
  AWS_* for every other test); with xdist the tests keep together (xdist_group "browser",
  ``--dist loadgroup``), so it starts once.
- ``browser``: one headless Chromium per session; ``page``: a fresh context per test at
  1280x800 whose console errors must be none at the end of the test (``console.allow``
  for an error the test provokes on purpose, such as a 403 it forges).
- ``screenshot(page, name)``: into SCREENSHOTS_DIR when set (``make screenshots``), else
  the test's tmp dir.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.harness import BrowserStack

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")


def pytest_itemcollected(item: pytest.Item) -> None:
    """Every browser test in xdist group "browser": one worker runs them all against one
    stack. Marked as each item is collected, so the mark is there when xdist's worker turns
    it into the node id suffix `--dist loadgroup` schedules by (a collection_modifyitems
    hook here ran after xdist's, and the tests went to both workers, two stacks)."""
    if Path(__file__).parent in Path(str(item.fspath)).parents:
        item.add_marker(pytest.mark.xdist_group("browser"))


@pytest.fixture(scope="package")
def connector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrowserStack]:
    from chalicelib import wiring

    saved = dict(os.environ)  # the stack sets the connector's environment in this process
    stack = BrowserStack(tmp_path_factory.mktemp("devstack"))
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()
        os.environ.clear()
        os.environ.update(saved)
        wiring.reset()


@pytest.fixture(autouse=True)
def _no_real_aws(connector: BrowserStack) -> None:
    """Overrides the root conftest's scrub: the stack's pump thread calls the handlers in
    this process with the stack's environment (its own emulator, never AWS)."""
    assert os.environ["AWS_ENDPOINT_URL"].startswith("http://127.0.0.1:")


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (.ci/run does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM,
                                              args=["--no-sandbox"], headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


class Console:
    """Console errors and uncaught exceptions of a page; ``allow(pattern)`` excuses the
    ones a test provokes on purpose."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        # Chromium's own favicon request (not the page's code) on a page without an icon.
        self.allowed: list[re.Pattern[str]] = [re.compile(r"/favicon\.ico\)$")]

    def allow(self, pattern: str) -> None:
        self.allowed.append(re.compile(pattern))

    def unexpected(self) -> list[str]:
        return [e for e in self.errors if not any(p.search(e) for p in self.allowed)]


@pytest.fixture
def console() -> Console:
    return Console()


@pytest.fixture
def page(browser: Any, console: Console) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 800},
                                  accept_downloads=True)
    context.set_default_timeout(15_000)
    # expect(...) waits as long as actions do: `chalice local` answers one request at a
    # time, and on a loaded 2-core machine an item's detail took over expect's 5 s default.
    expect.set_options(timeout=15_000)
    page = context.new_page()
    page.on("console", lambda message: console.errors.append(
        f"console: {message.text} ({message.location.get('url', '')})")
        if message.type == "error" else None)
    page.on("pageerror", lambda error: console.errors.append(f"uncaught: {error}"))
    try:
        yield page
    finally:
        context.close()
    assert console.unexpected() == [], "console errors on the page"


@pytest.fixture
def screenshot(tmp_path: Path) -> Callable[[Any, str], Path]:
    target = Path(os.environ["SCREENSHOTS_DIR"]) if os.environ.get("SCREENSHOTS_DIR") \
        else tmp_path / "screenshots"

    def take(page: Any, name: str) -> Path:
        target.mkdir(parents=True, exist_ok=True)
        path = target / name
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


@pytest.fixture
def signed_in(page: Any, connector: BrowserStack) -> Callable[[str], Any]:
    """signed_in(subject): the inbox open in ``page``, signed in as that seeded user."""
    from playwright.sync_api import expect

    def sign_in(subject: str) -> Any:
        page.goto(connector.inbox_url)
        page.locator("#signin-user").select_option(subject)
        page.locator("#signin-submit").click()
        expect(page.locator("#whoami")).to_contain_text(subject)
        return page

    return sign_in

