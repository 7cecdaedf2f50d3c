"""The inbox used with the keyboard only (tab order, Enter, Escape, focus visible) and at a
tablet's width, in real Chromium against the real connector."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.harness import BrowserStack
from tests.browser.test_inbox import row

pytestmark = pytest.mark.browser

MAX_TABS = 80  # key presses allowed to reach a control: the page's tab order is short


def tab_to(page: Any, is_target: str) -> None:
    """Press Tab until ``is_target`` (a JS expression on ``el``) holds for the focus."""
    for _ in range(MAX_TABS):
        page.keyboard.press("Tab")
        if page.evaluate(f"(() => {{ const el = document.activeElement; "
                         f"return !!el && ({is_target}); }})()"):
            return
    raise AssertionError(f"Tab never reached: {is_target}")


def test_an_approver_works_with_the_keyboard_only(page: Any,
                                                  connector: BrowserStack) -> None:
    item_id, _ = connector.ready_commitment(title="Keyboard walk")
    page.goto(connector.inbox_url)
    tab_to(page, "el.id === 'signin-user'")
    page.locator("#signin-user").select_option("approver")
    tab_to(page, "el.id === 'signin-submit'")
    page.keyboard.press("Enter")
    expect(page.locator("#whoami")).to_contain_text("approver")

    # The list's rows are in the tab order; Enter opens one, Escape closes it and gives
    # the focus back to the row.
    expect(row(page, item_id)).to_be_visible()
    tab_to(page, f"el.getAttribute('data-item-id') === '{item_id}'")
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none", "the focused row shows no focus outline"
    page.keyboard.press("Enter")
    detail = page.locator("#detail")
    expect(detail).to_be_visible()
    expect(page.locator("#action-accept")).to_be_enabled()
    page.keyboard.press("Escape")
    expect(detail).to_be_hidden()
    assert page.evaluate("document.activeElement.getAttribute('data-item-id')") == item_id

    # The reject dialog: opened from the keyboard, Escape closes it without rejecting.
    page.keyboard.press("Enter")
    expect(detail).to_be_visible()
    tab_to(page, "el.id === 'action-reject'")
    page.keyboard.press("Enter")
    expect(page.locator("#reject-dialog")).to_be_visible()
    expect(page.locator("#reject-reason")).to_be_focused()
    page.keyboard.press("Escape")
    expect(page.locator("#reject-dialog")).to_be_hidden()
    assert connector.item(item_id, "viewer")["status"] == "ready_to_export"


def test_the_inbox_fits_a_tablet(page: Any, connector: BrowserStack) -> None:
    item_id, item = connector.ready_commitment(title="Tablet view")
    page.set_viewport_size({"width": 768, "height": 1024})
    page.goto(connector.inbox_url)
    page.locator("#signin-user").select_option("approver")
    page.locator("#signin-submit").click()
    expect(page.locator("#whoami")).to_contain_text("approver")
    row(page, item_id).get_by_text(item["number"]).first.click()
    expect(page.locator("#detail")).to_be_visible()
    expect(page.locator("#items")).to_be_visible()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 768, f"the page is {width} px wide at a 768 px viewport"
