"""The ERP admin's links page in real Chromium: see who linked what, link two existing
records after looking at their differences, and unlink through a confirmation."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from tests.browser.harness import BrowserStack, until
from tests.browser.test_inbox import SignIn


def sage_job_listed(connector: BrowserStack, job: int) -> None:
    """Pull Sage's jobs list (as the admin's refresh does) until ``job`` is in it."""
    status, answer = connector.call("POST", "/erp/lists/jobs/refresh", "admin")
    assert status == 202, answer

    def listed() -> bool:
        status, jobs = connector.call("GET", "/erp/jobs", "admin")
        return status == 200 and any(row["job"] == job for row in jobs["jobs"])

    until(listed, 60, lambda: f"Sage job {job} never reached the pulled jobs list")


def link_rows(page: Any) -> Any:
    return page.locator("#links tbody tr[data-procore-id]")


def test_admin_sees_links_links_after_a_preview_and_unlinks(
    page: Any, connector: BrowserStack, signed_in: SignIn
) -> None:
    sage_job_listed(connector, 24002)
    second = int(connector.demo["project_ids"]["second"])
    signed_in("admin")
    page.locator("#nav-admin").click()
    main_row = page.locator(f'#links tr[data-procore-id="{connector.project}"]')
    expect(main_row).to_contain_text("24001")
    expect(main_row).to_contain_text("Riverside Medical Office Building")
    expect(main_row).to_contain_text("devstack")

    page.locator("#link-procore-id").fill(str(second))
    page.locator("#link-sage-key").fill("24002")
    expect(page.locator("#link-submit")).to_be_disabled()  # differences first
    page.locator("#link-preview").click()
    differences = page.locator("#link-differences")
    expect(differences).to_contain_text("differences between them")
    number = differences.locator("tr", has=page.locator("th", has_text="number"))
    expect(number).to_contain_text("24002")  # Procore's project number against Sage's job
    page.locator("#link-submit").click()
    expect(page.locator("#message")).to_contain_text(f"Linked Procore project {second}")
    new_row = page.locator(f'#links tr[data-procore-id="{second}"]')
    expect(new_row).to_contain_text("Oak Street Warehouse Renovation")
    expect(new_row).to_contain_text("admin")
    _, link = connector.call("GET", "/links?kind=projects", "admin")
    assert {row["procore_id"]: row["sage_key"] for row in link["links"]}[second] == "24002"

    # Unlink: the dialog names both sides; Cancel changes nothing, Unlink unlinks.
    new_row.get_by_role("button", name="Unlink").click()
    dialog = page.locator("#unlink-dialog")
    expect(dialog).to_be_visible()
    expect(page.locator("#unlink-what")).to_contain_text("Sage job 24002")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(new_row.get_by_role("button", name="Unlink")).to_be_focused()
    new_row.get_by_role("button", name="Unlink").click()
    page.locator("#unlink-confirm").click()
    expect(page.locator("#message")).to_contain_text(f"Unlinked Procore project {second}")
    expect(new_row).to_have_count(0)
    _, link = connector.call("GET", "/links?kind=projects", "admin")
    assert second not in {row["procore_id"] for row in link["links"]}
    assert connector.sandbox.state.projects[second].get("origin_id") is None

    # Vendors: the seeded links show too, with their Sage names.
    page.locator("#links-kind").select_option("vendors")
    expect(page.locator("#links-sage-col")).to_have_text("Sage vendor")
    expect(link_rows(page)).to_have_count(2)


def test_a_refused_link_shows_the_apis_reason_and_links_nothing(
    page: Any, connector: BrowserStack, signed_in: SignIn, console: Any
) -> None:
    console.allow(r"status of 409")  # the refusal this test provokes
    sage_job_listed(connector, 24002)
    signed_in("admin")
    page.locator("#nav-admin").click()
    expect(link_rows(page).first).to_be_visible()
    # The main project is linked to 24001 already: the API's 409 reaches the person.
    page.locator("#link-procore-id").fill(str(connector.project))
    page.locator("#link-sage-key").fill("24002")
    page.locator("#link-preview").click()
    expect(page.locator("#message")).to_contain_text("already linked to Sage 24001")
    expect(page.locator("#link-submit")).to_be_disabled()
    page.locator("#link-procore-id").fill("12a")
    page.locator("#link-preview").click()
    expect(page.locator("#message")).to_contain_text("digits only")
    expect(page.locator("#link-procore-id")).to_be_focused()
    _, links = connector.call("GET", "/links?kind=projects", "admin")
    assert {row["procore_id"]: row["sage_key"] for row in links["links"]} == {
        connector.project: "24001"}
