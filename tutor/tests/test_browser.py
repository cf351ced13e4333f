"""Swagger UI and the admin in a real headless Chromium (Debian's), driven by Playwright."""

import json
from pathlib import Path
from urllib.parse import urlparse

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from playwright.sync_api import expect, sync_playwright

from tutor import api_keys
from tutor.models import Exercise
from tutor.tests.conftest import DEMO_USER_ID

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def browser(monkeypatch):
    # Playwright's sync API keeps an event loop running in this thread; the test's own ORM calls
    # are still plain synchronous code.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing: apt-get install chromium chromium-driver"
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        yield browser
        browser.close()


def new_page(browser):
    """Open a page in a browser context of its own: its own cookies, so its own session."""
    page = browser.new_context().new_page()
    page.set_default_timeout(20_000)
    return page


@pytest.fixture
def browser_page(browser):
    return new_page(browser)


def submit_sign_in(page, username, password):
    """Fill the admin's login form on this page, send it and wait for the answer."""
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    with page.expect_navigation():
        page.click("input[type=submit]")


def sign_in(page, live_server, username, password):
    page.goto(live_server.url + "/admin/login/")
    submit_sign_in(page, username, password)


@pytest.fixture
def staff(db):
    call_command("seed_demo", verbosity=0)
    account = get_user_model().objects.create_user("curator", password="curator-password", is_staff=True)
    account.is_superuser = True
    account.save()
    return account


def test_swagger_renders_from_local_assets_and_runs_generate_exercise(live_server, browser_page, staff):
    page = browser_page
    hosts = set()
    page.on("request", lambda request: hosts.add(urlparse(request.url).netloc))
    _, token = api_keys.create(client=staff, name="browser")

    page.goto(live_server.url + "/")

    expect(page.locator(".opblock-summary-path", has_text="/api/generate-exercise")).to_be_visible()
    assert page.locator(".opblock").count() >= 15
    page.click("button.authorize")
    scheme = page.locator(".modal-ux .auth-container", has_text="tokenAuth")
    scheme.locator("input").fill(f"Token {token}")
    scheme.locator("button.authorize").click()
    expect(scheme).to_contain_text("Authorized")
    page.locator(".modal-ux button.btn-done").first.click()
    operation = page.locator(".opblock", has=page.locator(".opblock-summary-path", has_text="/api/generate-exercise"))
    operation.locator(".opblock-summary").click()
    operation.locator("button.try-out__btn").click()
    operation.locator("input[placeholder='user_id']").fill(DEMO_USER_ID)
    operation.locator("input[placeholder='top_n_errors']").fill("2")
    operation.locator("button.execute").click()

    response = operation.locator(".live-responses-table .response")
    expect(response.locator(".response-col_status")).to_contain_text("200")
    expect(response.locator(".response-col_description")).to_contain_text("Mispronounced_Word")
    page.screenshot(path=str(ARTIFACTS / "swagger.png"), full_page=True)
    assert hosts == {urlparse(live_server.url).netloc}, hosts


def test_the_admin_creates_an_exercise_and_refuses_a_mismatched_pair(live_server, browser_page, staff):
    page = browser_page
    sign_in(page, live_server, "curator", "curator-password")
    expect(page.locator("#site-name")).to_be_visible()

    page.goto(live_server.url + "/admin/tutor/exercise/add/")
    page.fill("#id_title", "Past simple: my weekend")
    page.select_option("#id_errorCategory", "3")
    page.select_option("#id_errorSubCategory", "3")
    page.select_option("#id_exercise_type", "gap_fill")
    page.select_option("#id_level", "A2")
    page.fill("#id_instructions", "Say each sentence aloud with the verb in the past simple.")
    page.fill(
        "#id_content",
        json.dumps(
            {
                "answer_mode": "typed",
                "items": [{"id": "browser.1", "prompt": "On Saturday I ___ football. (play)", "answer": "played"}],
            }
        ),
    )
    page.click("input[name=_save]")

    expect(page.locator(".errorlist")).to_contain_text("belongs to errorCategory 1 (Grammar)")
    page.screenshot(path=str(ARTIFACTS / "admin-mismatched-pair.png"), full_page=True)
    assert not Exercise.objects.filter(title="Past simple: my weekend").exists()

    page.select_option("#id_errorCategory", "1")
    page.click("input[name=_save]")

    expect(page.locator(".messagelist")).to_contain_text("was added successfully")
    page.screenshot(path=str(ARTIFACTS / "admin-exercise-added.png"), full_page=True)
    assert Exercise.objects.get(title="Past simple: my weekend").errorCategory == 1


def test_a_burst_of_wrong_passwords_locks_the_login_until_another_staff_member_lifts_it(
    live_server, browser, fast_passwords
):
    get_user_model().objects.create_user("curator", password="curator-password", is_staff=True)
    get_user_model().objects.create_superuser("reviewer", password="reviewer-password")
    reviewer, curator = new_page(browser), new_page(browser)
    # The reviewer signs in first: the burst below locks this address as well as the account.
    sign_in(reviewer, live_server, "reviewer", "reviewer-password")
    expect(reviewer.locator("#site-name")).to_be_visible()

    curator.goto(live_server.url + "/admin/login/")
    for _ in range(settings.ADMIN_LOCKOUT_FAILURES):
        submit_sign_in(curator, "curator", "not-the-password")
    submit_sign_in(curator, "curator", "curator-password")

    expect(curator.locator(".errornote")).to_have_text(
        "Too many failed sign-ins for this account or address. Try again in 15 minutes, "
        "or ask another staff member to lift the lockout."
    )
    curator.screenshot(path=str(ARTIFACTS / "admin-locked-out.png"), full_page=True)

    reviewer.goto(live_server.url + "/admin/axes/accessattempt/?q=curator")
    expect(reviewer.locator("#result_list")).to_contain_text("Locked Out")
    reviewer.check("#action-toggle")
    reviewer.select_option("select[name=action]", "delete_selected")
    reviewer.click("button[name=index]")
    reviewer.click("form:has(input[name=post]) input[type=submit]")
    expect(reviewer.locator(".messagelist")).to_contain_text("Successfully deleted")

    submit_sign_in(curator, "curator", "curator-password")
    expect(curator.locator("#user-tools")).to_contain_text("curator")
