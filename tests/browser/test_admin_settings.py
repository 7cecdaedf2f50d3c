"""The ERP admin's settings and users' Procore tool levels in real Chromium: the sync
schedule, direct exports and advanced settings saved through their forms (with the version
each form was loaded with), a stale save's 409 and a refused value's 400 shown as the API
words them, and a user's tool levels edited.

The browser tests share one stack: every test puts back what it changed (in a finally)."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from tests.browser.harness import BrowserStack
from tests.browser.test_inbox import SignIn

# What the connector uses while an advanced limit is unset (put back when one was unset).
ADVANCED_DEFAULTS = {"vendor_name_max": 30, "commitment_number_max": 12,
                     "commitment_title_max": 30}


def current_settings(connector: BrowserStack) -> dict[str, Any]:
    status, settings = connector.call("GET", "/settings", "admin")
    assert status == 200, settings
    return settings


def restore_settings(connector: BrowserStack, original: dict[str, Any]) -> None:
    """The schedule, direct exports and advanced limits as they were (over any version)."""
    for path, body in (
            ("/settings/sync-schedule", original["sync_schedule"]),
            ("/settings/direct-exports", {"enabled": original["direct_exports"]}),
            ("/settings/advanced", {**{k: original["advanced"].get(k, default)
                                       for k, default in ADVANCED_DEFAULTS.items()},
                                    "cost_code_rule": original["advanced"].get(
                                        "cost_code_rule", "none")})):
        status, answer = connector.call("PUT", path, "admin", body)
        assert status == 200, (path, answer)


def open_settings(page: Any, signed_in: SignIn, settings: dict[str, Any]) -> None:
    signed_in("admin")
    page.locator("#nav-admin").click()
    expect(page.locator("#schedule-vendors")).to_have_value(
        str(settings["sync_schedule"]["vendors"]))


def other_minutes(minutes: int) -> int:
    return 45 if minutes != 45 else 50


def test_admin_saves_the_schedule_direct_exports_and_a_limit(
    page: Any, connector: BrowserStack, signed_in: SignIn, screenshot: Any
) -> None:
    original = current_settings(connector)
    open_settings(page, signed_in, original)
    minutes = other_minutes(original["sync_schedule"]["vendors"])
    limit = 25 if original["advanced"].get("vendor_name_max") != 25 else 26
    direct = not original["direct_exports"]
    try:
        page.locator("#schedule-vendors").fill(str(minutes))
        page.locator("#settings-schedule-save").click()
        expect(page.locator("#settings-schedule-status")).to_contain_text(
            "Saved the sync schedule")
        expect(page.locator("#settings-schedule-save")).to_be_focused()

        expect(page.locator("#settings-direct-exports")).to_be_checked(
            checked=original["direct_exports"])
        page.locator("#settings-direct-exports").set_checked(direct)
        page.locator("#settings-direct-save").click()
        expect(page.locator("#settings-direct-status")).to_contain_text(
            f"direct exports are {'on' if direct else 'off'}")

        # Saved after the two others, from the version this page loaded: still current.
        expect(page.locator("#advanced-cost-code-rule")).to_have_value(
            original["advanced"].get("cost_code_rule", "none"))
        page.locator("#advanced-vendor-name-max").fill(str(limit))
        page.locator("#settings-advanced-save").click()
        expect(page.locator("#settings-advanced-status")).to_contain_text(
            "Saved the advanced settings")

        settings = current_settings(connector)
        assert settings["sync_schedule"]["vendors"] == minutes
        assert settings["direct_exports"] is direct
        assert settings["advanced"]["vendor_name_max"] == limit
        assert settings["advanced"].get("cost_code_rule") == original["advanced"].get(
            "cost_code_rule")  # the select sent what it was loaded with
        latest = settings["history"][-3:]
        assert [(h["by"], h["setting"]) for h in latest] == [
            ("admin", "sync_schedule"), ("admin", "direct_exports"), ("admin", "advanced")]
        assert latest[0]["value"]["vendors"] == minutes

        # The recent changes, newest first.
        first = page.locator("#settings-history tbody tr").first
        expect(first).to_contain_text("admin")
        expect(first).to_contain_text("Advanced")
        expect(first).to_contain_text(f"vendor name max: {limit}")
        expect(page.locator("#settings-history tbody tr").nth(2)).to_contain_text(
            f"Sage vendors: every {minutes} min")
        expect(page.locator("#settings-pulls tbody tr")).to_have_count(
            len(original["pulls"]) or 1)
        screenshot(page, "admin-settings.png")
    finally:
        restore_settings(connector, original)


def test_a_stale_save_shows_the_apis_409_and_then_the_current_settings(
    page: Any, connector: BrowserStack, signed_in: SignIn, console: Any
) -> None:
    console.allow(r"status of 409")  # the refusal this test provokes
    original = current_settings(connector)
    open_settings(page, signed_in, original)
    jobs = other_minutes(original["sync_schedule"]["jobs"])
    minutes = other_minutes(original["sync_schedule"]["vendors"])
    try:
        # Another admin's change after the page loaded the settings.
        status, answer = connector.call("PUT", "/settings/sync-schedule", "admin",
                                        {"jobs": jobs})
        assert status == 200, answer
        page.locator("#schedule-vendors").fill(str(minutes))
        page.locator("#settings-schedule-save").click()
        outcome = page.locator("#settings-schedule-status")
        expect(outcome).to_contain_text("the company settings were changed by admin")
        expect(outcome).to_contain_text("The current settings are shown now")
        expect(page.locator("#message")).to_contain_text("changed by admin")
        expect(page.locator("#schedule-jobs")).to_have_value(str(jobs))
        expect(page.locator("#schedule-vendors")).to_have_value(
            str(original["sync_schedule"]["vendors"]))
        expect(page.locator("#settings-schedule-title")).to_be_focused()
        assert current_settings(connector)["sync_schedule"]["vendors"] == \
            original["sync_schedule"]["vendors"]

        # Applied again over the current version: saved.
        page.locator("#schedule-vendors").fill(str(minutes))
        page.locator("#settings-schedule-save").click()
        expect(outcome).to_contain_text("Saved the sync schedule")
        schedule = current_settings(connector)["sync_schedule"]
        assert (schedule["jobs"], schedule["vendors"]) == (jobs, minutes)
    finally:
        restore_settings(connector, original)


def test_a_refused_limit_shows_the_fields_message(
    page: Any, connector: BrowserStack, signed_in: SignIn, console: Any
) -> None:
    console.allow(r"status of 400")  # the refusal this test provokes
    original = current_settings(connector)
    open_settings(page, signed_in, original)
    field = page.locator("#advanced-vendor-name-max")
    try:
        # The browser stops 0 (below the input's min) before it reaches the API...
        field.fill("0")
        assert field.evaluate("input => input.validity.rangeUnderflow") is True
        # ... without the limit in the page, the API's 400 names the field.
        field.evaluate("input => { input.removeAttribute('min'); input.removeAttribute('max'); }")
        field.fill("99")
        page.locator("#settings-advanced-save").click()
        outcome = page.locator("#settings-advanced-status")
        expect(outcome).to_contain_text("vendor_name_max")
        expect(outcome).to_have_class("message message-error")
        expect(field).to_be_focused()
        expect(field).to_have_attribute("aria-invalid", "true")
        assert current_settings(connector)["advanced"].get("vendor_name_max") == \
            original["advanced"].get("vendor_name_max")
    finally:
        restore_settings(connector, original)


def test_admin_edits_a_users_procore_tool_levels(
    page: Any, connector: BrowserStack, signed_in: SignIn
) -> None:
    status, answer = connector.call("GET", "/users", "admin")
    assert status == 200, answer
    pm = next(u for u in answer["users"] if u["subject"] == "pm")
    assert pm["tool_levels"]["reports"] == "read_only"
    signed_in("admin")
    page.locator("#nav-admin").click()
    page.locator('#users tr[data-subject="pm"] button').click()
    expect(page.locator("#user-form")).to_be_visible()
    expect(page.locator("#user-tool-reports")).to_have_value("read_only")
    expect(page.locator("#user-tool-commitments")).to_have_value("admin")
    expect(page.locator("#user-tool-projects")).to_have_value("none")
    try:
        page.locator("#user-tool-reports").select_option("none")
        page.get_by_label("Change orders").select_option("standard")
        page.locator("#user-save").click()
        expect(page.locator("#message")).to_contain_text("Saved")
        expect(page.locator('#users tr[data-subject="pm"] button')).to_be_focused()
        expect(page.locator('#users tr[data-subject="pm"]')).to_contain_text(
            "change orders: standard")
        _, after = connector.call("GET", "/users", "admin")
        levels = next(u for u in after["users"] if u["subject"] == "pm")["tool_levels"]
        assert levels == {**{k: v for k, v in pm["tool_levels"].items() if k != "reports"},
                          "change_orders": "standard"}
    finally:
        status, answer = connector.call("PUT", "/users/pm", "admin", {
            key: pm[key] for key in ("name", "erp_level", "can_push_to_accounting",
                                     "tool_levels", "privileges")})
        assert status == 200, answer
