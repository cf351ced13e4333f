"""GET /api/users/{id}/progress: who may read it, what it answers, what it refuses."""

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from tutor import ingest, progress
from tutor.buffer import Event
from tutor.models import ExerciseAttempt
from tutor.tests.factories import ErrorFactory, ExerciseFactory, UserFactory

pytestmark = pytest.mark.django_db


def url(learner_id) -> str:
    return f"/api/users/{learner_id}/progress"


@pytest.fixture
def learner(db):
    learner = UserFactory(username="progress-learner", first_name="Pia", last_name="Progress", level="C1")
    exercise = ExerciseFactory(title="Past simple drill")
    now = timezone.now()
    ErrorFactory(user=learner, errorSubCategory=3, timestamp_utc=now - timedelta(weeks=1))
    ExerciseAttempt.objects.create(user=learner, exercise=exercise, completed_at=now - timedelta(days=3), score=0.0)
    ingest.accept_events([Event(uuid.uuid4(), learner.pk, 3, 9, now)])  # still in the real-time buffer
    return learner


def test_a_service_client_reads_weeks_trends_and_what_is_due_without_the_profile(api, learner):
    response = api.get(url(learner.pk), {"weeks": 2})

    assert response.status_code == 200
    body = response.json()
    assert body["user_id"] == str(learner.pk)
    this_monday = progress.week_start(timezone.now()).date()
    assert [week["week_start"] for week in body["weeks"]] == [
        (this_monday - timedelta(weeks=1)).isoformat(),
        this_monday.isoformat(),
    ]
    pairs = {
        (week["week_start"], pair["errorSubCategory"]): (pair["errors"], pair["attempts"])
        for week in body["weeks"]
        for pair in week["pairs"]
    }
    assert pairs[(this_monday.isoformat(), "Mispronounced_Word")] == (1, 0)
    assert sum(errors for errors, _ in pairs.values()) == 2
    assert sum(attempts for _, attempts in pairs.values()) == 1
    assert {t["errorSubCategory"] for t in body["trends"]} == {"Tense", "Mispronounced_Word"}
    # Failed three days ago: due again within a day of it.
    assert [(e["title"], e["errorSubCategory"]) for e in body["due"]] == [("Past simple drill", "Tense")]
    for value in ("progress-learner", "Pia", "Progress", "C1", learner.email):
        assert value not in response.content.decode()


def test_staff_read_it_too_and_the_default_is_twelve_weeks(staff_api, learner):
    response = staff_api.get(url(learner.pk))

    assert response.status_code == 200
    assert len(response.json()["weeks"]) == progress.WEEKS == 12


def test_an_anonymous_call_is_refused_with_401(anon, learner):
    response = anon.get(url(learner.pk))

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"


@pytest.mark.parametrize("learner_id", [uuid.UUID(int=1), "not-a-uuid"])
def test_an_unknown_learner_is_a_404(api, learner_id):
    response = api.get(url(learner_id))

    assert response.status_code == 404
    assert response.json() == {"error": "User not found"}


@pytest.mark.parametrize("weeks", ["0", "105", "-1", "1.5", "twelve", ""])
def test_weeks_out_of_range_is_a_400_naming_the_field_and_range(api, learner, weeks):
    response = api.get(url(learner.pk), {"weeks": weeks})

    assert response.status_code == 400
    assert response.json() == {"weeks": ["weeks must be a whole number from 1 to 104."]}


@pytest.mark.parametrize("weeks", [1, 104])
def test_the_ends_of_the_range_are_accepted(api, learner, weeks):
    response = api.get(url(learner.pk), {"weeks": weeks})

    assert response.status_code == 200
    assert len(response.json()["weeks"]) == weeks
