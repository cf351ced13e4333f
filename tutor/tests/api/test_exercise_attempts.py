from datetime import timedelta

import pytest
from django.utils import timezone

from tutor.models import ExerciseAttempt

pytestmark = pytest.mark.django_db
URL = "/api/exercise-attempts"


@pytest.fixture
def exercise(make_exercise):
    return make_exercise()


def test_a_client_records_an_attempt(api, user, exercise):
    response = api.post(URL, {"user_id": str(user.pk), "exercise_id": str(exercise.pk), "score": 0.75}, format="json")

    assert response.status_code == 201
    stored = ExerciseAttempt.objects.get(pk=response.json()["id"])
    assert (stored.user_id, stored.exercise_id, stored.score) == (user.pk, exercise.pk, 0.75)
    assert timezone.now() - stored.completed_at < timedelta(seconds=5)


def test_a_recorded_attempt_rotates_the_next_recommendation(api, user, make_error, make_exercise, committed):
    make_error(user=user, errorSubCategory=3)
    first, second = make_exercise(title="First"), make_exercise(title="Second")
    shown = api.get("/api/generate-exercise", {"user_id": user.pk, "exercises_per_error": 1}).json()
    assert shown["top_errors"][0]["exercises"][0]["id"] == str(first.pk)

    with committed():
        api.post(URL, {"user_id": str(user.pk), "exercise_id": str(first.pk)}, format="json")

    shown = api.get("/api/generate-exercise", {"user_id": user.pk, "exercises_per_error": 1}).json()
    assert shown["top_errors"][0]["exercises"][0]["id"] == str(second.pk)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"user_id": "00000000-0000-0000-0000-000000000000"}, "user_id"),
        ({"exercise_id": "00000000-0000-0000-0000-000000000000"}, "exercise_id"),
        ({"exercise_id": "nope"}, "exercise_id"),
        ({"score": 1.5}, "score"),
        ({"score": -0.1}, "score"),
        ({"score": "nan"}, "score"),
        ({"completed_at": "2999-01-01T00:00:00Z"}, "completed_at"),
    ],
)
def test_bad_attempts_are_a_400_naming_the_field(api, user, exercise, change, field):
    body = {"user_id": str(user.pk), "exercise_id": str(exercise.pk), **change}

    response = api.post(URL, body, format="json")

    assert response.status_code == 400
    assert field in response.json()
    assert not ExerciseAttempt.objects.exists()


def test_staff_list_attempts_by_learner_and_exercise(staff_api, api, user, make_exercise):
    first, second = make_exercise(), make_exercise()
    for exercise in (first, first, second):
        api.post(URL, {"user_id": str(user.pk), "exercise_id": str(exercise.pk)}, format="json")

    assert staff_api.get(URL, {"user_id": str(user.pk)}).json()["count"] == 3
    assert staff_api.get(URL, {"exercise_id": str(first.pk)}).json()["count"] == 2
    assert api.get(URL).status_code == 403
