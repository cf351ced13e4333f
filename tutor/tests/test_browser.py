"""Swagger UI and the admin in a real headless Chromium (Debian's), driven by Playwright."""

import json
import math
import struct
import wave
from collections import Counter
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlparse

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.utils import timezone
from playwright.sync_api import expect, sync_playwright

from tutor import api_keys, progress
from tutor.exercise_performance import NullsLast, with_performance
from tutor.models import Error, Exercise, User
from tutor.taxonomy import CATEGORY_OF, CEFRLevel, ErrorCategory, ErrorSubCategory
from tutor.tests.conftest import DEMO_USER_ID
from tutor.tests.test_exercise_files import csv_text, exercise_row

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


def fill_gap_fill_item(page, index: int, *, item_id: str, prompt: str, answer: str) -> None:
    """Fill one item of a gap fill's generated form (the content editor draws each field as an input)."""
    page.fill(f'input[name="rjf§items§{index}§id"]', item_id)
    page.fill(f'input[name="rjf§items§{index}§prompt"]', prompt)
    page.fill(f'input[name="rjf§items§{index}§answer"]', answer)


def test_the_admin_creates_an_exercise_and_refuses_a_mismatched_pair(live_server, browser_page, staff):
    page = browser_page
    sign_in(page, live_server, "curator", "curator-password")
    expect(page.locator("#site-name")).to_be_visible()

    page.goto(live_server.url + "/admin/tutor/exercise/add/?exercise_type=gap_fill")
    page.fill("#id_title", "Past simple: my weekend")
    page.select_option("#id_errorCategory", "3")
    page.select_option("#id_errorSubCategory", "3")
    page.select_option("#id_level", "A2")
    page.fill("#id_instructions", "Say each sentence aloud with the verb in the past simple.")
    page.select_option('select[name="rjf§answer_mode"]', "typed")
    fill_gap_fill_item(page, 0, item_id="browser.1", prompt="On Saturday I ___ football. (play)", answer="played")
    page.click("input[name=_save]")

    expect(page.locator(".errorlist")).to_contain_text("belongs to errorCategory 1 (Grammar)")
    page.screenshot(path=str(ARTIFACTS / "admin-mismatched-pair.png"), full_page=True)
    assert not Exercise.objects.filter(title="Past simple: my weekend").exists()
    # The form comes back with the content as it was filled.
    expect(page.locator('input[name="rjf§items§0§answer"]')).to_have_value("played")

    page.select_option("#id_errorCategory", "1")
    page.click("input[name=_save]")

    expect(page.locator(".messagelist")).to_contain_text("was added successfully")
    page.screenshot(path=str(ARTIFACTS / "admin-exercise-added.png"), full_page=True)
    stored = Exercise.objects.get(title="Past simple: my weekend")
    assert stored.errorCategory == 1
    assert stored.content["items"] == [
        {"id": "browser.1", "prompt": "On Saturday I ___ football. (play)", "answer": "played"}
    ]


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


# The curators' workbench (issue #15): one test per thing a curator must be able to do from the demo.


def screenshot_from_to(page, first: str, last: str, name: str, *, above: int = 0) -> None:
    """Save the part of the page from `above` pixels over `first` to the bottom of `last` (the README's pictures)."""
    clip = page.evaluate(
        """([first, last]) => {
            const top = document.querySelector(first).getBoundingClientRect();
            const bottom = document.querySelector(last).getBoundingClientRect();
            const left = Math.min(top.left, bottom.left);
            return {
                x: left + window.scrollX,
                y: top.top + window.scrollY,
                width: Math.max(top.right, bottom.right) - left,
                height: bottom.bottom - top.top,
            };
        }""",
        [first, last],
    )
    clip["y"] -= above
    clip["height"] += above
    page.screenshot(path=str(ARTIFACTS / name), clip=clip, full_page=True)


def coverage_counts(page) -> dict[str, int]:
    """The active exercises per cell of the coverage matrix, as the page shows them, by cell id."""
    return page.eval_on_selector_all(
        "table#coverage td[id^=cell-]", "cells => Object.fromEntries(cells.map(c => [c.id, Number(c.dataset.count)]))"
    )


def test_a_curator_adds_an_exercise_to_the_thinnest_cell_through_the_form_and_sees_its_preview(
    live_server, browser_page, staff
):
    page = browser_page
    sign_in(page, live_server, "curator", "curator-password")
    page.goto(live_server.url + "/admin/tutor/exercise/")
    page.click("#coverage-link")

    expect(page.locator("table#coverage")).to_be_visible()
    thinnest = page.locator("#thinnest-cell a")
    query = parse_qs(urlparse(thinnest.get_attribute("href")).query)
    subcategory, level = int(query["errorSubCategory__exact"][0]), query["level__exact"][0]
    cell_id = f"cell-{subcategory}-{level}"
    before = coverage_counts(page)
    assert before[cell_id] == min(before.values())
    assert len(before) == len(ErrorSubCategory) * len(CEFRLevel)
    assert before[cell_id] == Exercise.objects.filter(is_active=True, errorSubCategory=subcategory, level=level).count()
    expect(thinnest).to_have_text(f"{ErrorSubCategory(subcategory).label} {level}")
    page.screenshot(path=str(ARTIFACTS / "workbench-coverage.png"), full_page=True)
    screenshot_from_to(page, "#thinnest-cell", "#category-1", "workbench-coverage-matrix.png")

    page.goto(live_server.url + "/admin/tutor/exercise/add/?exercise_type=multiple_choice")
    expect(page.locator('input[name="rjf§items§0§question"]')).to_be_visible()
    page.select_option("#id_exercise_type", "gap_fill")
    # Switching the type draws the gap fill's form in place of the multiple choice's.
    expect(page.locator('input[name="rjf§items§0§prompt"]')).to_be_visible()
    expect(page.locator('input[name="rjf§items§0§question"]')).to_have_count(0)
    page.fill("#id_title", "Browser: is or are, has or have")
    page.select_option("#id_errorCategory", str(CATEGORY_OF[subcategory]))
    page.select_option("#id_errorSubCategory", str(subcategory))
    page.select_option("#id_level", level)
    page.fill("#id_instructions", "Write the missing word.")
    page.select_option('select[name="rjf§answer_mode"]', "typed")
    fill_gap_fill_item(page, 0, item_id="browser-thin.1", prompt="My sister ___ two cats. (have)", answer="has")

    expect(page.locator("#preview-items-0")).to_contain_text("My sister")
    expect(page.locator("#key-items-0")).to_contain_text("Answer: has")
    page.locator("#id_content_jsonform .rjf-add-button").last.click()  # the items' own "Add item", below them
    fill_gap_fill_item(page, 1, item_id="browser-thin.2", prompt="The children ___ at school. (be)", answer="is")
    expect(page.locator("#preview-items-1")).to_contain_text("The children")
    expect(page.locator("#key-items-1")).to_contain_text("Answer: is")
    shown = page.get_attribute("#exercise-preview-panel", "data-updated")
    page.fill('input[name="rjf§items§1§answer"]', "are")
    expect(page.locator("#key-items-1")).to_contain_text("Answer: are")
    assert page.get_attribute("#exercise-preview-panel", "data-updated") != shown
    page.click("#id_content_jsonform .rjf-move-up-button")  # the second item's: the first has none
    expect(page.locator("#preview-items-0")).to_contain_text("The children")
    expect(page.locator("#key-items-1")).to_contain_text("Answer: has")
    page.locator("#exercise-preview-module").scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "workbench-editor-preview.png"), full_page=True)
    screenshot_from_to(page, "#id_content_jsonform", "#exercise-preview-module", "workbench-editor-preview-part.png")

    page.click("input[name=_save]")

    expect(page.locator(".messagelist")).to_contain_text("was added successfully")
    stored = Exercise.objects.get(title="Browser: is or are, has or have")
    assert (stored.errorSubCategory, stored.level, stored.is_active) == (subcategory, level, True)
    assert [(item["prompt"], item["answer"]) for item in stored.content["items"]] == [
        ("The children ___ at school. (be)", "are"),
        ("My sister ___ two cats. (have)", "has"),
    ]
    page.goto(live_server.url + "/admin/tutor/exercise/coverage/")
    after = coverage_counts(page)
    assert after[cell_id] == before[cell_id] + 1
    assert {cell: count for cell, count in after.items() if cell != cell_id} == {
        cell: count for cell, count in before.items() if cell != cell_id
    }
    expect(page.locator(f"td#{cell_id} .coverage-types")).to_contain_text("Gap fill")
    page.screenshot(path=str(ARTIFACTS / "workbench-coverage-after-add.png"), full_page=True)


def wav_file(path: Path, *, seconds: float = 1.0, rate: int = 8000) -> Path:
    """Write a real WAV file: a 440 Hz tone, mono, 16 bits."""
    with wave.open(str(path), "wb") as audio:
        audio.setnchannels(1)
        audio.setsampwidth(2)
        audio.setframerate(rate)
        audio.writeframes(
            b"".join(
                struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * n / rate)))
                for n in range(int(seconds * rate))
            )
        )
    return path


PLAY = """async (audio) => {
    audio.muted = true;
    await audio.play();
    const deadline = Date.now() + 10000;
    await new Promise((resolve) => {
        const check = () => (audio.currentTime > 0.2 || Date.now() > deadline ? resolve() : setTimeout(check, 50));
        check();
    });
    audio.pause();
    return {duration: audio.duration, currentTime: audio.currentTime, readyState: audio.readyState};
}"""


def test_a_curator_attaches_a_recording_to_a_pronunciation_item_and_plays_it(
    live_server, browser_page, staff, settings, tmp_path
):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    exercise = Exercise.objects.filter(exercise_type="repeat_after_me").order_by("title").first()
    page = browser_page
    sign_in(page, live_server, "curator", "curator-password")
    page.goto(f"{live_server.url}/admin/tutor/exercise/{exercise.pk}/change/")

    item_id = page.locator("#id_recordings-0-item_id option").nth(1).get_attribute("value")
    assert item_id == exercise.content["items"][0]["id"]
    page.select_option("#id_recordings-0-item_id", item_id)
    page.select_option("#id_recordings-0-accent", "GB")
    page.set_input_files("#id_recordings-0-file", str(wav_file(tmp_path / "take-1.wav")))
    page.click("input[name=_continue]")

    expect(page.locator(".messagelist")).to_contain_text("was changed successfully")
    player = page.locator(f'audio[id="recording-player-{item_id}-GB"]')
    played = player.evaluate(PLAY)
    assert abs(played["duration"] - 1.0) < 0.05, played
    assert played["currentTime"] > 0.2, played
    assert played["readyState"] >= 2, played
    # The preview plays the same file, beside the item.
    in_preview = page.locator(f'#exercise-preview .preview-item[data-item-id="{item_id}"] audio[data-accent="GB"]')
    assert in_preview.get_attribute("src") == player.get_attribute("src")
    assert in_preview.evaluate(PLAY)["currentTime"] > 0.2
    page.locator("#recordings-group").screenshot(path=str(ARTIFACTS / "workbench-recording.png"))
    page.locator("#exercise-preview-module").screenshot(path=str(ARTIFACTS / "workbench-recording-preview.png"))
    exercise.refresh_from_db()
    audio = next(item["audio"] for item in exercise.content["items"] if item["id"] == item_id)
    assert [entry["accent"] for entry in audio] == ["GB"]
    assert urlparse(audio[0]["url"]).path == urlparse(player.get_attribute("src")).path
    assert len(list((tmp_path / "media").rglob("*.wav"))) == 1


def csv_file(path: Path, rows: list[dict]) -> Path:
    path.write_text(csv_text(rows))
    return path


def check_import(page, live_server, path: Path) -> None:
    page.goto(live_server.url + "/admin/tutor/exercise/")
    page.click("a.import_link")
    page.set_input_files("#id_import_file", str(path))
    page.select_option("#id_format", label="csv")
    page.click("#import-submit")
    expect(page.locator("#import-summary")).to_be_visible()


def test_a_curator_imports_twenty_exercises_from_csv_and_a_file_with_a_bad_row_is_refused_whole(
    live_server, browser_page, staff, tmp_path
):
    page = browser_page
    sign_in(page, live_server, "curator", "curator-password")
    bank = Exercise.objects.count()

    check_import(page, live_server, csv_file(tmp_path / "twenty.csv", [exercise_row(n) for n in range(1, 21)]))

    expect(page.locator("#import-summary")).to_have_text(
        "20 new, 0 changed, 0 unchanged. Nothing is stored until you confirm the import."
    )
    rows = page.locator("#import-outcomes tbody tr")
    expect(rows).to_have_count(20)
    assert rows.evaluate_all("rows => rows.map(r => r.dataset.outcome)") == ["new"] * 20
    expect(page.locator("#import-row-20")).to_contain_text("Since or for, set 20")
    page.screenshot(path=str(ARTIFACTS / "workbench-import-dry-run.png"), full_page=True)
    assert Exercise.objects.count() == bank

    page.click("#import-confirm")

    expect(page.locator(".messagelist")).to_be_visible()
    assert Exercise.objects.count() == bank + 20
    assert Exercise.objects.filter(title__startswith="Since or for, set ", is_active=True).count() == 20
    page.goto(live_server.url + "/admin/tutor/exercise/?q=Since or for, set")
    expect(page.locator("#result_list tbody tr")).to_have_count(20)
    page.screenshot(path=str(ARTIFACTS / "workbench-imported.png"))

    rows = [exercise_row(n) for n in range(101, 106)]
    rows[2]["errorCategory"] = "3"  # Tense is a Grammar subcategory, not Pronunciation
    check_import(page, live_server, csv_file(tmp_path / "one-bad-row.csv", rows))

    expect(page.locator("#import-summary")).to_have_text(
        "The file is refused and nothing was stored: 1 of 5 row(s) cannot be imported. "
        "Correct them and upload the file again."
    )
    outcomes = page.locator("#import-outcomes tbody tr").evaluate_all("rows => rows.map(r => r.dataset.outcome)")
    assert outcomes == ["new", "new", "refused", "new", "new"]
    expect(page.locator("#import-row-3")).to_contain_text(
        "Row 3: errorSubCategory 3 (Tense) belongs to errorCategory 1 (Grammar), not 3"
    )
    expect(page.locator("#import-confirm")).to_have_count(0)
    page.screenshot(path=str(ARTIFACTS / "workbench-import-refused.png"), full_page=True)
    assert Exercise.objects.count() == bank + 20
    assert not Exercise.objects.filter(title__in=[row["title"] for row in rows]).exists()


def test_a_curator_finds_the_exercise_learners_fail_most_and_opens_it(live_server, browser_page, staff):
    ranked = with_performance(Exercise.objects.all()).order_by(NullsLast("fail_share").desc(), "title")
    expected, runner_up = ranked[0], ranked[1]
    assert expected.fail_share > runner_up.fail_share  # the demo practice has one clear answer
    flagged = with_performance(Exercise.objects.all()).filter(fails_far_more=True).count()
    page = browser_page
    page.set_viewport_size({"width": 1920, "height": 1000})  # the list's figures are its last columns
    sign_in(page, live_server, "curator", "curator-password")
    page.goto(live_server.url + "/admin/tutor/exercise/")

    page.click("#most-failed-link")

    first = page.locator("#result_list tbody tr").first
    expect(first.locator("th.field-title a")).to_have_text(expected.title)
    share = f"{expected.fail_share:.0%} of {expected.scored_count}"
    expect(first.locator("td.field-fail_share")).to_have_text(share)
    expect(first.locator("td.field-fails_far_more img")).to_have_attribute("alt", "True")
    page.screenshot(path=str(ARTIFACTS / "workbench-most-failed.png"))

    first.locator("th.field-title a").click()

    expect(page.locator("#id_title")).to_have_value(expected.title)
    expect(page.locator(".field-fail_share .readonly")).to_have_text(share)
    expect(page.locator(".field-attempt_count .readonly")).to_have_text(str(expected.attempt_count))
    expect(page.locator(".field-fails_far_more img")).to_have_attribute("alt", "True")
    figures = page.locator("fieldset", has=page.locator(".field-fail_share"))
    figures.screenshot(path=str(ARTIFACTS / "workbench-most-failed-exercise.png"))

    page.goto(live_server.url + "/admin/tutor/exercise/?fails_far_more=yes")
    expect(page.locator("#result_list tbody tr")).to_have_count(flagged)
    assert 2 <= flagged <= 3


def test_a_curator_restores_an_earlier_version_of_an_exercise(live_server, browser_page, staff):
    original = Exercise.objects.filter(exercise_type="gap_fill").order_by("title").first()
    page = browser_page
    sign_in(page, live_server, "curator", "curator-password")
    page.goto(f"{live_server.url}/admin/tutor/exercise/?{urlencode({'q': original.title})}")
    page.check(f"input[name=_selected_action][value='{original.pk}']")
    page.select_option("select[name=action]", "duplicate")
    page.click("button[name=index]")
    expect(page.locator(".messagelist")).to_contain_text("1 copy(ies) made")
    copy = Exercise.objects.get(title=f"{original.title} (copy)")
    assert not copy.is_active

    page.goto(f"{live_server.url}/admin/tutor/exercise/{copy.pk}/change/")
    page.fill("#id_title", "Revised by the browser")
    page.check("#id_is_active")
    page.click("input[name=_continue]")
    expect(page.locator(".messagelist")).to_contain_text("was changed successfully")
    copy.refresh_from_db()
    assert (copy.title, copy.is_active) == ("Revised by the browser", True)

    page.click("a.historylink")
    older, newer = copy.history.order_by("history_id")
    page.check(f"#older-{older.history_id}")
    page.check(f"#newer-{newer.history_id}")
    page.click("#compare-versions")

    compare = page.locator("#version-compare")
    expect(compare.locator("#field-title")).to_have_class("changed")
    expect(compare.locator("#field-title")).to_contain_text(f"{original.title} (copy)")
    expect(compare.locator("#field-title")).to_contain_text("Revised by the browser")
    expect(compare.locator("#field-is_active")).to_have_class("changed")
    expect(compare.locator("#field-level")).not_to_have_class("changed")
    expect(compare.locator("#field-content")).to_have_attribute("data-changed", "false")  # the form kept it as is
    page.screenshot(path=str(ARTIFACTS / "workbench-compare.png"), full_page=True)

    page.click("#restore-older")

    expect(page.locator("#id_title")).to_have_value(f"{original.title} (copy)")
    expect(page.locator("#id_is_active")).not_to_be_checked()
    page.screenshot(path=str(ARTIFACTS / "workbench-restored.png"))
    copy.refresh_from_db()
    assert (copy.title, copy.is_active, copy.content) == (f"{original.title} (copy)", False, older.content)
    assert copy.history.count() == 3


def test_a_curator_opens_a_learner_and_sees_the_chart_of_their_errors(live_server, browser_page, staff):
    learner = User.objects.get(username="mei.chen")
    # The demo practice's dates are fixed and age: errors of this week make the chart's last bar known.
    for minutes in (1, 2, 3):
        Error.objects.create(
            user=learner, errorCategory=3, errorSubCategory=9, timestamp_utc=timezone.now() - timedelta(minutes=minutes)
        )
    first_week = progress.week_start(timezone.now()) - timedelta(weeks=progress.WEEKS - 1)
    in_window = Error.objects.filter(user=learner, timestamp_utc__gte=first_week)
    this_week = in_window.filter(timestamp_utc__gte=progress.week_start(timezone.now()), errorCategory=3).count()
    counts = Counter(learner.errors.values_list("errorSubCategory", flat=True))
    top_count = max(counts.values())
    page = browser_page
    sign_in(page, live_server, "curator", "curator-password")
    page.goto(live_server.url + "/admin/tutor/user/?q=mei.chen")
    page.click(f"#result_list a[href*='/{learner.pk}/change/']")

    expect(page.locator("#errors-chart[data-drawn=true]")).to_be_visible()
    drawn = page.evaluate(
        "() => Chart.getChart(document.getElementById('errors-chart')).data.datasets"
        ".map(set => ({label: set.label, data: set.data}))"
    )
    assert [series["label"] for series in drawn] == [category.label for category in ErrorCategory]
    assert all(len(series["data"]) == progress.WEEKS for series in drawn)
    assert sum(sum(series["data"]) for series in drawn) == in_window.count()
    assert drawn[2]["data"][-1] == this_week >= 3
    assert json.loads(page.locator("#errors-chart-data").text_content())["categories"][2]["counts"] == drawn[2]["data"]
    first_pair = page.locator("#top-errors-count tbody tr").first
    expect(first_pair.locator("td").nth(3)).to_have_text(str(top_count))
    most_frequent = [ErrorSubCategory(sub).label for sub, count in counts.items() if count == top_count]
    assert first_pair.get_attribute("data-subcategory") in most_frequent
    expect(page.locator("#recommendation .recommended-exercise").first).to_be_visible()
    latest = learner.attempts.select_related("exercise").first()
    expect(page.locator("#recent-attempts-table tbody tr").first).to_contain_text(latest.exercise.title)
    expect(page.locator("#recent-attempts-table tbody tr")).to_have_count(min(20, learner.attempts.count()))
    page.screenshot(path=str(ARTIFACTS / "workbench-learner.png"), full_page=True)
    # The heading's box starts at the form (it clears the form's floats): the picture starts at the chart's box.
    screenshot_from_to(page, "#errors-chart-box", "#top-errors-count", "workbench-learner-chart.png", above=30)
