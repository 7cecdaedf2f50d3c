"""The inbox's accessibility, checked by axe-core in real Chromium against the real
connector: every page and state (sign-in, the approver's list, an item's detail, the reject
dialog, reports, admin, the viewer's list) has no serious or critical violation of the
WCAG 2.0/2.1 A and AA rules or axe's best practices.

axe-core comes from npm (package.json/package-lock.json at the repo root, installed into
node_modules/ by `bash .ci/axe`, which `make test` runs; never committed). The page's
Content-Security-Policy (script-src 'self') refuses inline scripts, so axe.min.js is
served to the page by Playwright from the page's own origin (page.route) and added with
page.add_script_tag: the page is checked exactly as it is served, its CSP included.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from tests.browser.harness import BrowserStack
from tests.browser.test_inbox import enabled_action, open_item, row, show_tab

pytestmark = pytest.mark.browser

SignIn = Callable[[str], Any]
ROOT = Path(__file__).resolve().parents[2]
AXE_JS = ROOT / "node_modules" / "axe-core" / "axe.min.js"
AXE_PATH = "/__axe-core__/axe.min.js"  # served by Playwright (page.route), never by the API
TAGS = ("wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice")
BLOCKING = ("serious", "critical")

RUN_AXE = """async (tags) => {
  const results = await axe.run(document, {runOnly: {type: "tag", values: tags}});
  return results.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
    nodes: v.nodes.map((n) => ({target: n.target, impact: n.impact,
                                summary: n.failureSummary || "", html: n.html})),
  }));
}"""


# ---- the check -------------------------------------------------------------------------
def inject_axe(page: Any) -> None:
    """axe-core into the page (once per document), from node_modules/."""
    if not AXE_JS.is_file():
        pytest.fail(f"{AXE_JS.relative_to(ROOT)} is missing: run `bash .ci/axe` (installs "
                    "axe-core with npm from package-lock.json), as `make test` does")
    if page.evaluate("typeof window.axe !== 'undefined'"):
        return
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(page.url))
    page.route(f"{origin}{AXE_PATH}", lambda route: route.fulfill(
        path=str(AXE_JS), content_type="text/javascript; charset=utf-8"))
    page.add_script_tag(url=f"{origin}{AXE_PATH}")


def axe_violations(page: Any) -> list[dict[str, Any]]:
    """The serious and critical violations axe finds in the page as it is now."""
    inject_axe(page)
    violations = page.evaluate(RUN_AXE, list(TAGS))
    return [v for v in violations if v["impact"] in BLOCKING]


def describe(violations: list[dict[str, Any]]) -> str:
    lines = []
    for violation in violations:
        lines.append(f"- {violation['id']} ({violation['impact']}): {violation['help']} "
                     f"<{violation['helpUrl']}>")
        for node in violation["nodes"]:
            target = " ".join(" >> ".join(t) if isinstance(t, list) else t
                              for t in node["target"])
            summary = re.sub(r"\s+", " ", node["summary"]).strip()
            lines.append(f"    {target}: {summary[:300]}")
    return "\n".join(lines)


def assert_accessible(page: Any, state: str) -> None:
    violations = axe_violations(page)
    assert not violations, (
        f"axe found {len(violations)} serious or critical violation(s) in {state} "
        f"(tags {', '.join(TAGS)}):\n{describe(violations)}")


# ---- the check can fail ----------------------------------------------------------------
def test_the_check_reports_a_known_serious_violation(page: Any,
                                                     connector: BrowserStack) -> None:
    page.goto(connector.inbox_url)
    expect(page.locator("#signin-submit")).to_be_enabled()
    page.evaluate("""() => {
      const button = document.createElement("button");
      button.id = "axe-canary-button";  // no text, no label: no accessible name
      button.type = "button";
      const image = document.createElement("img");  // no alt
      image.id = "axe-canary-image";
      image.src = "data:image/gif;base64,R0lGODlhAQABAAAAACw=";
      document.querySelector("main").append(button, image);
    }""")
    found = {v["id"]: v for v in axe_violations(page)}
    assert {"button-name", "image-alt"} <= found.keys(), describe(list(found.values()))
    assert [["#axe-canary-button"]] == [n["target"] for n in found["button-name"]["nodes"]]
    with pytest.raises(AssertionError) as raised:
        assert_accessible(page, "the canary")
    message = str(raised.value)
    for expected in ("button-name", found["button-name"]["help"], "#axe-canary-button",
                     "image-alt", "#axe-canary-image"):
        assert expected in message, message


# ---- every page and state --------------------------------------------------------------
def test_sign_in_view(page: Any, connector: BrowserStack) -> None:
    page.goto(connector.inbox_url)
    expect(page.locator("#signin-user")).to_be_visible()
    expect(page.locator("#signin-submit")).to_be_enabled()
    assert_accessible(page, "the sign-in view (signed out)")


def test_approvers_inbox_detail_and_reject_dialog(page: Any, connector: BrowserStack,
                                                  signed_in: SignIn) -> None:
    item_id, item = connector.ready_commitment(title="Accessible walls")
    signed_in("approver")
    show_tab(page, "ready_to_export")
    expect(row(page, item_id)).to_be_visible()
    assert_accessible(page, "the approver's inbox list")

    open_item(page, item_id, item["number"])
    expect(page.locator("#detail-lines")).to_contain_text("Footings")
    expect(page.locator("#detail-history li").first).to_be_visible()
    assert_accessible(page, "an item's detail")

    enabled_action(page, "reject").click()
    dialog = page.locator("dialog#reject-dialog")
    expect(dialog).to_be_visible()
    expect(page.locator("#reject-reason")).to_be_focused()
    assert_accessible(page, "the reject dialog")
    page.locator("#reject-cancel").click()
    expect(dialog).to_be_hidden()


def test_reports_view(page: Any, signed_in: SignIn) -> None:
    signed_in("admin")
    page.locator("#nav-reports").click()
    expect(page.locator("#reports-view")).to_be_visible()
    expect(page.locator("#report-accountant-csv")).to_be_visible()
    assert_accessible(page, "the reports view")

    page.locator("#report-job-costs-show").click()
    expect(page.locator("#report-output-title")).to_be_visible()
    assert_accessible(page, "the reports view with a report shown")


def test_admin_view(page: Any, signed_in: SignIn) -> None:
    signed_in("admin")
    page.locator("#nav-admin").click()
    expect(page.locator("#admin-view")).to_be_visible()
    expect(page.locator('#users tr[data-subject="approver"]')).to_be_visible()
    # The settings forms, loaded: the schedule's values, the history and pulls tables.
    expect(page.locator("#settings-schedule-form")).to_be_visible()
    expect(page.locator("#schedule-vendors")).not_to_have_value("")
    expect(page.locator("#advanced-cost-code-rule")).to_be_visible()
    expect(page.locator("#settings-history tbody tr").first).to_be_visible()
    expect(page.locator("#settings-pulls tbody tr").first).to_be_visible()
    assert_accessible(page, "the admin view with its settings forms")

    page.locator('#users tr[data-subject="approver"] button').click()
    expect(page.locator("#user-form")).to_be_visible()
    assert_accessible(page, "the admin view with a user being edited")

    # The links: the list, a preview's differences, the unlink confirmation.
    expect(page.locator("#links tbody tr[data-procore-id]").first).to_be_visible()
    page.locator("#link-procore-id").fill("1")
    page.locator("#link-sage-key").fill("1")
    page.locator("#links-kind").select_option("vendors")
    expect(page.locator("#links tbody")).to_contain_text("3001")  # the seeded vendor links
    page.locator("#links tbody tr[data-procore-id] button").first.click()
    expect(page.locator("#unlink-dialog")).to_be_visible()
    assert_accessible(page, "the unlink confirmation")
    page.keyboard.press("Escape")
    expect(page.locator("#unlink-dialog")).to_be_hidden()


def test_viewers_inbox(page: Any, connector: BrowserStack, signed_in: SignIn) -> None:
    item_id, item = connector.ready_commitment(title="Seen, not touched")
    signed_in("viewer")
    show_tab(page, "ready_to_export")
    expect(row(page, item_id)).to_be_visible()
    expect(page.locator("#accept-selected")).to_be_disabled()
    assert_accessible(page, "the viewer's inbox list")

    open_item(page, item_id, item["number"])
    expect(page.locator("#action-accept")).to_be_disabled()
    assert_accessible(page, "an item's detail for the viewer")
