"""Learners in the admin: named apart from staff accounts, and a learner's page shows their progress."""

import json
import math
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

import pytest
from django.contrib.staticfiles import finders
from django.core.management import call_command
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tutor.models import Error, ExerciseAttempt
from tutor.progress import week_start, weekly_errors
from tutor.taxonomy import CATEGORY_OF, ErrorCategory
from tutor.tests.factories import ErrorFactory, ExerciseFactory, UserFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 26, 15, 30, tzinfo=UTC)  # a Thursday of ISO week 2026-W48
FIRST_MONDAY = datetime(2026, 9, 7, tzinfo=UTC)  # Monday of 2026-W37, 11 weeks before NOW's week
# Errors land on the window's week edges, beside them by a microsecond, or anywhere from 14 weeks back to
# the end of NOW's week (those after NOW are early clocks the API lets in: still this week).
EDGES = [FIRST_MONDAY + timedelta(weeks=w) for w in range(13)]
moments = st.one_of(
    st.sampled_from(EDGES),
    st.builds(
        lambda edge, shift: edge + timedelta(microseconds=shift), st.sampled_from(EDGES), st.sampled_from([-1, 1])
    ),
    st.integers(min_value=0, max_value=14 * 7 * 86400).map(lambda s: EDGES[-1] - timedelta(seconds=s)),
)


def page(admin_client, learner) -> str:
    response = admin_client.get(f"/admin/tutor/user/{learner.pk}/change/")
    assert response.status_code == 200
    return response.content.decode()


def embedded(html: str, element_id: str):
    """Return the JSON the page embeds with json_script under this id."""
    opening = f'<script id="{element_id}" type="application/json">'
    start = html.index(opening) + len(opening)
    return json.loads(html[start : html.index("</script>", start)])


class Tables(HTMLParser):
    """The text of each cell of each table with an id, row by row (header rows left out)."""

    def __init__(self, html: str):
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.table = self.row = self.cell = None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.table = self.tables.setdefault(dict(attrs).get("id") or f"table-{len(self.tables)}", [])
        elif tag == "tr":
            self.row = []
        elif tag == "td" and self.row is not None:
            self.cell = []

    def handle_endtag(self, tag):
        if tag == "td" and self.cell is not None:
            self.row.append(" ".join("".join(self.cell).split()))
            self.cell = None
        elif tag == "tr" and self.row:
            self.table.append(self.row)
            self.row = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell.append(data)


def section(html: str, element_id: str) -> str:
    """Return the page from the element with this id to the next module (or the end)."""
    start = html.index(f'id="{element_id}"')
    end = html.find('<div class="module"', start)
    return html[start : end if end != -1 else None]


@settings(max_examples=60, deadline=None, derandomize=True)
@given(errors=st.lists(st.tuples(st.integers(0, 1), st.integers(1, 12), moments), max_size=40))
@example(errors=[])
@example(errors=[(0, 3, EDGES[0]), (0, 3, EDGES[0] - timedelta(microseconds=1)), (0, 9, EDGES[-1])])
def test_the_weekly_counts_equal_a_direct_count_per_week_and_category(errors):
    with transaction.atomic():
        learners = [UserFactory(), UserFactory()]
        Error.objects.bulk_create(
            Error(user=learners[who], errorCategory=CATEGORY_OF[sub], errorSubCategory=sub, timestamp_utc=moment)
            for who, sub, moment in errors
        )
        learner = learners[0]

        with CaptureQueriesContext(connection) as queries:
            weekly = weekly_errors(user_id=learner.pk, now=NOW)

        assert len(queries) == 1
        assert weekly.weeks == EDGES[:12]
        with connection.cursor() as cursor:
            for category in ErrorCategory:
                direct = []
                for monday in weekly.weeks:
                    cursor.execute(
                        'SELECT count(*) FROM tutor_error WHERE user_id = %s AND "errorCategory" = %s'
                        " AND timestamp_utc >= %s AND timestamp_utc < %s",
                        [learner.pk, category.value, monday, monday + timedelta(weeks=1)],
                    )
                    direct.append(cursor.fetchone()[0])
                assert weekly.counts[category.value] == direct, category.label
        transaction.set_rollback(True)


def test_the_chart_names_iso_weeks_and_shows_empty_weeks_as_zero(admin_client):
    learner = UserFactory()
    this_monday = week_start(timezone.now())
    ErrorFactory(user=learner, errorSubCategory=9, timestamp_utc=this_monday - timedelta(weeks=3) + timedelta(hours=1))
    ErrorFactory(user=learner, errorSubCategory=9, timestamp_utc=this_monday - timedelta(weeks=12))  # before the chart

    chart = embedded(page(admin_client, learner), "errors-chart-data")

    assert len(chart["weeks"]) == len(chart["week_starts"]) == 12
    year, week, _ = this_monday.isocalendar()
    assert chart["weeks"][-1] == f"{year}-W{week:02d}"
    assert chart["week_starts"][-1] == this_monday.date().isoformat()
    assert [c["label"] for c in chart["categories"]] == ErrorCategory.labels
    pronunciation = next(c for c in chart["categories"] if c["code"] == ErrorCategory.PRONUNCIATION)
    assert pronunciation["counts"] == [0] * 8 + [1] + [0] * 3
    assert all(c["counts"] == [0] * 12 for c in chart["categories"] if c["code"] != ErrorCategory.PRONUNCIATION)


def test_the_page_shows_the_top_errors_and_recommendation_the_api_gives(admin_client, api, staff_api):
    learner = UserFactory(level="B1")
    for sub, days in [(3, 1), (3, 2), (3, 40), (3, 41), (3, 42), (9, 0), (9, 1), (5, 20), (11, 3)]:
        ErrorFactory(user=learner, errorSubCategory=sub, days_ago=days)
    for sub in (3, 5, 9, 11):
        for level in ("A2", "B1", "B2", "C1"):
            ExerciseFactory(errorSubCategory=sub, errorCategory=CATEGORY_OF[sub], level=level)
    done = ExerciseFactory(errorSubCategory=9, errorCategory=3, level="B1", title="Done yesterday")
    ExerciseAttempt.objects.create(user=learner, exercise=done, completed_at=timezone.now() - timedelta(days=1))
    # Two errors still in the real-time buffer, not flushed: the API counts them, and so must the page.
    accepted = api.post(
        "/api/error-events",
        [{"user_id": str(learner.pk), "errorCategory": 3, "errorSubCategory": 9} for _ in range(2)],
        format="json",
    )
    assert accepted.status_code == 202
    assert Error.objects.filter(user=learner).count() == 9

    by_count = staff_api.get("/api/generate-exercise", {"user_id": str(learner.pk)}).json()
    by_decay = staff_api.get("/api/generate-exercise", {"user_id": str(learner.pk), "ranking": "decay"}).json()
    html = page(admin_client, learner)
    tables = Tables(html).tables

    assert [row[1:5] for row in tables["top-errors-count"]] == [
        [e["errorCategory"], e["errorSubCategory"], str(e["errorFrequency"]), str(e["score"])]
        for e in by_count["top_errors"]
    ]
    assert [row[2] for row in tables["top-errors-count"]] == ["Tense", "Mispronounced_Word", "Repetition", "Wrong_Word"]
    decay_rows = tables["top-errors-decay"]
    assert decay_rows[0][2] == "Mispronounced_Word"  # four errors of the last days outweigh five, three of them old
    assert [row[1:4] for row in decay_rows] == [
        [e["errorCategory"], e["errorSubCategory"], str(e["errorFrequency"])] for e in by_decay["top_errors"]
    ]
    for row, expected in zip(decay_rows, by_decay["top_errors"], strict=True):
        assert math.isclose(float(row[4]), expected["score"], rel_tol=1e-4)  # decay moves as the seconds pass

    recommended = embedded(html, "recommendation-data")["top_errors"]
    assert recommended == [
        {
            "errorCategory": e["errorCategory"],
            "errorSubCategory": e["errorSubCategory"],
            "errorFrequency": e["errorFrequency"],
            "score": e["score"],
            "exercises": [{"id": x["id"], "title": x["title"], "repeat": x["repeat"]} for x in e["exercises"]],
        }
        for e in by_count["top_errors"]
    ]
    shown = section(html, "recommendation")
    for pair in by_count["top_errors"]:
        for exercise in pair["exercises"]:
            assert f'href="/admin/tutor/exercise/{exercise["id"]}/change/">{exercise["title"]}</a>' in shown
    assert "Done yesterday" not in shown  # the API's cooldown holds on the page too
    # The chart counts stored errors only (the page says so): the two buffered ones join at the flush.
    assert total(embedded(html, "errors-chart-data")) == 9
    call_command("flush_error_events", verbosity=0)
    assert total(embedded(page(admin_client, learner), "errors-chart-data")) == 11


def total(chart: dict) -> int:
    return sum(sum(category["counts"]) for category in chart["categories"])


def test_a_learner_without_errors_or_attempts_gets_an_empty_page_not_an_error(admin_client):
    html = page(admin_client, UserFactory())
    tables = Tables(html).tables

    assert total(embedded(html, "errors-chart-data")) == 0
    assert tables["top-errors-count"] == tables["top-errors-decay"] == [["No errors recorded."]]
    assert embedded(html, "recommendation-data") == {"top_errors": []}
    assert "No attempts yet." in section(html, "recent-attempts")


def test_a_new_learner_is_added_on_a_page_without_progress(admin_client):
    response = admin_client.get("/admin/tutor/user/add/")

    assert response.status_code == 200
    assert response.context["title"] == "Add learner"
    assert 'id="learner-progress"' not in response.content.decode()


def test_the_page_lists_the_latest_20_attempts_with_scores_and_links(admin_client):
    learner = UserFactory()
    exercises = ExerciseFactory.create_batch(3)
    start = timezone.now() - timedelta(days=30)
    for i in range(25):
        ExerciseAttempt.objects.create(
            user=learner,
            exercise=exercises[i % 3],
            completed_at=start + timedelta(days=i),
            score=None if i == 24 else i / 25,
        )
    ExerciseAttempt.objects.create(user=UserFactory(), exercise=exercises[0], completed_at=timezone.now(), score=1)

    html = page(admin_client, learner)
    rows = Tables(html).tables["recent-attempts-table"]

    assert len(rows) == 20
    assert [row[0] for row in rows] == [f"{start + timedelta(days=i):%Y-%m-%d %H:%M}" for i in range(24, 4, -1)]
    assert [row[4] for row in rows[:3]] == ["-", "0.92", "0.88"]
    assert rows[0][1] == exercises[0].title
    attempts = section(html, "recent-attempts")
    assert f'href="/admin/tutor/exercise/{exercises[0].pk}/change/">{exercises[0].title}</a>' in attempts
    assert f'href="/admin/tutor/exerciseattempt/?user={learner.pk}"' in attempts


def test_the_attempts_link_lists_this_learners_attempts_only(admin_client):
    learner, other = UserFactory(), UserFactory()
    exercise = ExerciseFactory()
    ExerciseAttempt.objects.create(user=learner, exercise=exercise, score=0.5)
    ExerciseAttempt.objects.create(user=other, exercise=exercise, score=0.25)

    response = admin_client.get("/admin/tutor/exerciseattempt/", {"user": str(learner.pk)})

    assert response.status_code == 200
    assert response.context["cl"].result_count == 1


def test_the_admin_index_names_learners_apart_from_the_staff_users(admin_client):
    html = admin_client.get("/admin/").content.decode()

    assert '<a href="/admin/tutor/user/">Learners</a>' in html
    assert html.count(">Users</a>") == 1
    assert '<a href="/admin/auth/user/">Users</a>' in html


def test_chart_js_is_served_from_this_server(admin_client):
    assert finders.find("chart.js/chart.min.js")

    response = admin_client.get("/static/chart.js/chart.min.js")

    assert response.status_code == 200
    assert b"Chart.js v3" in b"".join(response.streaming_content)[:200]
    html = page(admin_client, UserFactory())
    assert '<script src="/static/chart.js/chart.min.js" defer></script>' in html
    assert '<script src="/static/tutor/learner_chart.js" defer></script>' in html
    assert "cdn" not in html.lower()
