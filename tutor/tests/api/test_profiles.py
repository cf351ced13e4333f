"""No answer to a non-staff client carries a learner's profile, on any operation the API documents."""

import pytest
from drf_spectacular.generators import SchemaGenerator

from tutor.tests.factories import ErrorFactory, ExerciseFactory, UserFactory

pytestmark = pytest.mark.django_db

NEW_EXERCISE = {
    "title": "A new one",
    "errorCategory": 1,
    "errorSubCategory": 3,
    "exercise_type": "gap_fill",
    "level": "B1",
    "instructions": "Say it.",
    "content": {
        "answer_mode": "typed",
        "items": [{"id": "profiles.1", "prompt": "I ___ there. (go)", "answer": "went"}],
    },
}


def requests_for(learner, exercise, error, attempt) -> dict[str, tuple[dict, dict]]:
    """A request (path parameters, body) for every operation, each one its owner could make successfully."""
    learner_id = str(learner.pk)
    return {
        "error_events_create": ({}, {"user_id": learner_id, "errorCategory": 1, "errorSubCategory": 3}),
        "errors_list": ({}, {}),
        "errors_create": ({}, {"user_id": learner_id, "errorCategory": 2, "errorSubCategory": 5}),
        "errors_retrieve": ({"id": error.pk}, {}),
        "errors_destroy": ({"id": error.pk}, {}),
        "exercise_attempts_list": ({}, {}),
        "exercise_attempts_create": ({}, {"user_id": learner_id, "exercise_id": str(exercise.pk), "score": 0.5}),
        "exercise_attempts_retrieve": ({"id": attempt}, {}),
        "exercises_list": ({}, {}),
        "exercises_create": ({}, NEW_EXERCISE),
        "exercises_retrieve": ({"id": exercise.pk}, {}),
        "exercises_update": ({"id": exercise.pk}, NEW_EXERCISE),
        "exercises_partial_update": ({"id": exercise.pk}, {"title": "Renamed"}),
        "exercises_destroy": ({"id": exercise.pk}, {}),
        "generate_exercise_retrieve": ({}, {"user_id": learner_id}),
        "users_list": ({}, {}),
        "users_create": ({}, {"username": "other", "email": "other@example.com", "first_name": "O", "last_name": "T"}),
        "users_retrieve": ({"id": learner_id}, {}),
        "users_update": (
            {"id": learner_id},
            {"username": "x", "email": "x@example.com", "first_name": "X", "last_name": "Y"},
        ),
        "users_partial_update": ({"id": learner_id}, {"first_name": "Changed"}),
        "users_destroy": ({"id": learner_id}, {}),
        "users_progress_retrieve": ({"id": learner_id}, {}),
    }


def documented_operations() -> list[tuple[str, str, str]]:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return [
        (operation["operationId"], method.upper(), path)
        for path, operations in schema["paths"].items()
        for method, operation in operations.items()
    ]


def test_every_operation_answers_a_non_staff_client_without_profile_fields(api, staff_api):
    learner = UserFactory(username="zebedee-quixote", email="zq@profiles.example", first_name="Zeb", level="C2")
    learner.last_name = "Quixotic"
    learner.save()
    exercise = ExerciseFactory()
    error = ErrorFactory(user=learner)
    attempt = staff_api.post(
        "/api/exercise-attempts", {"user_id": str(learner.pk), "exercise_id": str(exercise.pk)}, format="json"
    ).json()["id"]
    profile = [learner.username, learner.email, learner.first_name, learner.last_name, '"C2"']
    requests = requests_for(learner, exercise, error, attempt)

    answered = set()
    for operation_id, method, path in documented_operations():
        assert operation_id in requests, f"add a request for {method} {path} ({operation_id}) to this test"
        parameters, body = requests[operation_id]
        url = path.format(**parameters)
        send = getattr(api, method.lower())
        response = send(url, body) if method == "GET" else send(url, body, format="json")
        text = response.content.decode()
        assert response.status_code < 500, (method, path, text)
        for value in profile:
            assert value not in text, f"{method} {path} answered {response.status_code} with {value}: {text}"
        answered.add((operation_id, response.status_code))

    # The walk was real: the non-staff operations succeeded, the staff-only ones were refused.
    statuses = dict(answered)
    assert statuses["errors_create"] == 201
    assert statuses["exercise_attempts_create"] == 201
    assert statuses["error_events_create"] == 202
    assert statuses["generate_exercise_retrieve"] == 200
    assert statuses["users_retrieve"] == 403
    assert statuses["users_progress_retrieve"] == 200
    assert statuses["errors_list"] == 403


def test_staff_still_read_the_learner_with_an_error(staff_api):
    error = ErrorFactory()

    body = staff_api.get(f"/api/errors/{error.pk}").json()

    assert body["user"]["username"] == error.user.username
    assert body["user_id"] == str(error.user_id)
