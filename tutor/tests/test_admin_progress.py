"""The learner's admin page charts their progress as GET /api/users/{id}/progress gives it."""

from datetime import timedelta

import pytest
from django.contrib.staticfiles import finders
from django.utils import timezone

from tutor.models import ExerciseAttempt, ExerciseMemory
from tutor.progress import TREND_RULE, iso_week, learner_progress, week_start
from tutor.tests.factories import ErrorFactory, ExerciseFactory, UserFactory
from tutor.tests.test_admin_learners import Tables, embedded, page, section

pytestmark = pytest.mark.django_db


def test_the_progress_chart_shows_the_api_figures_per_week(admin_client, api):
    learner = UserFactory()
    this_monday = week_start(timezone.now())
    exercise = ExerciseFactory(title="Past simple drill")
    ErrorFactory(user=learner, errorSubCategory=3, timestamp_utc=this_monday - timedelta(weeks=2))
    ErrorFactory(user=learner, errorSubCategory=9, timestamp_utc=this_monday - timedelta(weeks=2))
    for weeks_ago, score in [(2, 0.25), (2, None), (2, 0.75), (1, None)]:
        ExerciseAttempt.objects.create(
            user=learner, exercise=exercise, completed_at=this_monday - timedelta(weeks=weeks_ago), score=score
        )
    # An error still in the real-time buffer: the progress chart counts it, as the API does.
    event = {"user_id": str(learner.pk), "errorCategory": 1, "errorSubCategory": 3}
    assert api.post("/api/error-events", event, format="json").status_code == 202

    html = page(admin_client, learner)
    chart = embedded(html, "progress-chart-data")

    assert chart == learner_progress(user_id=learner.pk).chart()
    assert chart["weeks"][-3:] == [iso_week(this_monday - timedelta(weeks=w)) for w in (2, 1, 0)]
    assert chart["week_starts"][-1] == this_monday.date().isoformat()
    assert chart["errors"] == [0] * 9 + [2, 0, 1]
    assert chart["attempts"] == [0] * 9 + [3, 1, 0]
    assert chart["average_score"] == [None] * 9 + [0.5, None, None]
    assert 'id="progress-chart"' in section(html, "progress-module")
    assert "progress_chart.js" in html


def test_the_page_lists_each_pairs_trend_and_what_is_due(admin_client, api):
    learner = UserFactory()
    this_monday = week_start(timezone.now())
    for weeks_ago, count in [(11, 4), (1, 1)]:
        for _ in range(count):
            ErrorFactory(user=learner, errorSubCategory=9, timestamp_utc=this_monday - timedelta(weeks=weeks_ago))
    due, resting = ExerciseFactory(title="Due drill"), ExerciseFactory(title="Resting drill")
    now = timezone.now()
    ExerciseMemory.objects.create(user=learner, exercise=due, card={}, last_done=now, due=now - timedelta(hours=1))
    ExerciseMemory.objects.create(user=learner, exercise=resting, card={}, last_done=now, due=now + timedelta(days=1))

    html = page(admin_client, learner)
    tables = Tables(html).tables
    answer = api.get(f"/api/users/{learner.pk}/progress").json()

    assert [row[:5] for row in tables["progress-trends"]] == [
        [t["errorCategory"], t["errorSubCategory"], t["trend"], str(t["earlier_errors"]), str(t["later_errors"])]
        for t in answer["trends"]
    ]
    assert tables["progress-trends"][0][:3] == ["Pronunciation", "Mispronounced_Word", "improving"]
    assert TREND_RULE in section(html, "progress-module")
    assert [row[0] for row in tables["progress-due"]] == ["Due drill"]
    assert f'href="/admin/tutor/exercise/{due.pk}/change/">Due drill</a>' in section(html, "progress-module")


def test_a_learner_without_anything_gets_an_empty_progress_chart(admin_client):
    html = page(admin_client, UserFactory())
    tables = Tables(html).tables

    chart = embedded(html, "progress-chart-data")
    assert chart["errors"] == chart["attempts"] == [0] * 12
    assert chart["average_score"] == [None] * 12
    assert tables["progress-trends"] == [["No errors or attempts in these weeks."]]
    assert tables["progress-due"] == [["Nothing is due for review."]]


def test_the_progress_chart_script_is_served():
    assert finders.find("tutor/progress_chart.js")
