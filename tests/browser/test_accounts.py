"""Logging in and out, opening a fan account, and what each role is shown."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.support import PASSWORD, LiveServer, log_in, log_out, page_width, shot

pytestmark = pytest.mark.browser


def test_keyboard_only_login_lands_a_fan_in_the_studio(page: Page) -> None:
    page.goto("/")
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    shot(page, "login")
    email = page.get_by_label("Email")
    for _ in range(10):  # Tab through the header until the email field has focus
        if email.evaluate("el => el === document.activeElement"):
            break
        page.keyboard.press("Tab")
    expect(email).to_be_focused()
    # Keyboard focus is visible: a solid outline of at least 2 px around the field.
    outline = email.evaluate("el => [getComputedStyle(el).outlineStyle, parseFloat(getComputedStyle(el).outlineWidth)]")
    assert outline[0] == "solid" and outline[1] >= 2
    page.keyboard.type("fan@test.example")
    page.keyboard.press("Tab")
    expect(page.get_by_label("Password")).to_be_focused()
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")

    expect(page.get_by_role("heading", name="Fan studio")).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("Welcome, Fiona Fan")
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Fan studio")).to_have_attribute("aria-current", "page")
    expect(nav.get_by_role("link", name="Artist console")).to_have_count(0)


def test_wrong_password_is_refused_with_the_reason(page: Page) -> None:
    page.goto("/app/#/login")
    page.get_by_label("Email").fill("fan@test.example")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("status")).to_have_text("Log in refused: email or password is wrong.")
    expect(page.get_by_role("status")).to_have_attribute("data-tone", "error")
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    expect(page.get_by_label("Password")).to_be_focused()


def test_new_fan_signs_up_logs_in_and_out(page: Page) -> None:
    page.goto("/app/#/login")
    page.get_by_role("link", name="Open a fan account").click()
    page.get_by_label("Email").fill("newfan@test.example")
    page.get_by_label("Display name").fill("Nina New")
    page.get_by_label("Password").fill("short")
    page.get_by_role("button", name="Open fan account").click()
    # The browser's own check stops a too-short password before it is sent.
    expect(page.get_by_role("heading", name="Open a fan account")).to_be_visible()
    page.get_by_label("Password").fill("long enough password")
    page.get_by_role("button", name="Open fan account").click()
    expect(page.get_by_role("status")).to_contain_text("Your fan account is open")

    page.get_by_label("Email").fill("newfan@test.example")
    page.get_by_label("Password").fill("long enough password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Fan studio")).to_be_visible()
    expect(page.locator(".who-name")).to_have_text("Nina New")

    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("logged out")
    # The session is over on the server too: the studio sends us back to log in.
    page.goto("/app/#/studio")
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()


def test_signing_up_twice_with_one_email_says_so(page: Page) -> None:
    page.goto("/app/#/register")
    page.get_by_label("Email").fill("fan@test.example")
    page.get_by_label("Display name").fill("Copy Cat")
    page.get_by_label("Password").fill("long enough password")
    page.get_by_role("button", name="Open fan account").click()
    expect(page.get_by_role("status")).to_contain_text("Already exists")


def test_each_role_sees_its_own_sections(page: Page) -> None:
    nav = page.get_by_role("navigation", name="Main")
    log_in(page, "artist")
    expect(page.get_by_role("heading", name="Artist console")).to_be_visible()
    expect(nav.get_by_role("link")).to_have_text(["Artist console"])
    expect(page.get_by_role("list", name="Albums of Alpha Band")).to_contain_text("Morning Coffee")
    shot(page, "artist-console")
    # A fan-only page is not offered to an artist: the console opens instead.
    page.goto("/app/#/studio")
    expect(page.get_by_role("heading", name="Artist console")).to_be_visible()
    log_out(page)

    log_in(page, "finance")
    expect(page.get_by_role("heading", name="Finance", level=1)).to_be_visible()
    expect(nav.get_by_role("link")).to_have_text(["Finance", "Catalog"])
    nav.get_by_role("link", name="Catalog").click()
    page.get_by_role("link", name="Morning Coffee").click()
    page.get_by_role("link", name="Steam Rising").click()
    expect(page.get_by_role("heading", name="Steam Rising")).to_be_visible()
    expect(page.get_by_role("region", name="Mixer")).to_have_count(0)  # read-only
    shot(page, "finance-catalog-track")
    log_out(page)

    log_in(page, "admin")
    expect(nav.get_by_role("link")).to_have_text(
        ["Fan studio", "My purchases", "Finance", "Artist console", "Audit log"])


def test_admin_verifies_the_audit_chain(page: Page) -> None:
    log_in(page, "admin")
    page.get_by_role("link", name="Audit log").click()
    page.get_by_role("button", name="Verify the audit chain").click()
    expect(page.locator(".verdict")).to_contain_text("Intact")
    expect(page.get_by_role("status")).to_contain_text("Audit chain intact")
    shot(page, "admin-audit")


def test_a_long_display_name_keeps_the_header_tidy_on_a_phone(browser: Browser, live_server: LiveServer) -> None:
    phone = browser.new_context(base_url=live_server.base_url, viewport={"width": 390, "height": 844},
                                is_mobile=True, has_touch=True)
    page = phone.new_page()
    answer = phone.request.post("/api/auth/register", data={
        "email": "longname@test.example", "display_name": "Maximiliane Sophie von Musterhausen", "password": PASSWORD})
    assert answer.ok, answer.text()
    assert phone.request.post("/api/auth/login", data={"email": "longname@test.example", "password": PASSWORD}).ok
    page.goto("/app/")
    log_out_button = page.get_by_role("button", name="Log out")
    expect(log_out_button).to_be_visible()
    expect(page.get_by_text("Maximiliane Sophie von Musterhausen")).to_be_visible()
    # "Log out" stays on one line (it broke into "Log / out" beside a long name) and the page fits the phone.
    # Counted in the page until it holds: the header may be redrawn once more after the session loads, and a
    # replaced button has no boxes at all.
    page.wait_for_function("""() => {
        const button = [...document.querySelectorAll("#account button")].find((b) => b.textContent === "Log out");
        if (!button) return false;
        const range = document.createRange();
        range.selectNodeContents(button);
        return range.getClientRects().length === 1;
    }""", timeout=5_000)
    assert page_width(page) <= 390
    phone.close()
