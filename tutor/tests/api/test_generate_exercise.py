import json
from collections import Counter
from pathlib import Path

import pytest
import redis
from django.core.management import call_command

from tutor.taxonomy import ErrorCategory, ErrorSubCategory
from tutor.tests.conftest import DEMO_USER_ID

pytestmark = pytest.mark.django_db
FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
URL = "/api/generate-exercise"


@pytest.fixture
def demo(db):
    call_command(
        "loaddata", *(FIXTURES / name for name in ("users.json", "errors.json", "exercises.json")), verbosity=0
    )


def reference_counts() -> Counter:
    """Count the demo user's errors per pair straight from the fixture file, as the reference would."""
    rows = json.loads((FIXTURES / "errors.json").read_text())
    return Counter(
        (ErrorCategory(r["fields"]["errorCategory"]).label, ErrorSubCategory(r["fields"]["errorSubCategory"]).label)
        for r in rows
        if r["fields"]["user"] == DEMO_USER_ID
    )


def test_the_demo_user_gets_the_reference_counts_with_exercises(api, demo):
    response = api.get(URL, {"user_id": DEMO_USER_ID})

    assert response.status_code == 200
    body = response.json()
    assert body["user_id"] == DEMO_USER_ID
    got = Counter({(e["errorCategory"], e["errorSubCategory"]): e["errorFrequency"] for e in body["top_errors"]})
    assert got == reference_counts()
    frequencies = [e["errorFrequency"] for e in body["top_errors"]]
    assert frequencies == sorted(frequencies, reverse=True)
    for top in body["top_errors"]:
        assert len(top["exercises"]) == 3
        assert set(top["exercises"][0]) == {
            "id",
            "title",
            "exercise_type",
            "level",
            "instructions",
            "content",
            "repeat",
            "status",
            "last_done",
        }


def test_top_n_and_exercises_per_error_limit_the_answer(api, demo):
    response = api.get(URL, {"user_id": DEMO_USER_ID, "top_n_errors": 2, "exercises_per_error": 5})

    assert response.status_code == 200
    top = response.json()["top_errors"]
    expected = [pair for pair, _ in sorted(reference_counts().items(), key=lambda kv: -kv[1])[:2]]
    assert [(t["errorCategory"], t["errorSubCategory"]) for t in top] == expected
    assert [len(t["exercises"]) for t in top] == [5, 5]


def test_the_same_data_gives_the_same_answer(api, demo):
    first = api.get(URL, {"user_id": DEMO_USER_ID}).content
    second = api.get(URL, {"user_id": DEMO_USER_ID}).content
    assert first == second


def test_a_window_with_no_errors_gives_an_empty_list(api, user, make_error):
    make_error(user=user, days_ago=30)

    response = api.get(URL, {"user_id": user.pk, "last_n_days": 7})

    assert response.status_code == 200
    assert response.json() == {"user_id": str(user.pk), "top_errors": []}


def test_an_unknown_user_is_a_404(api, db):
    response = api.get(URL, {"user_id": "00000000-0000-0000-0000-000000000001"})

    assert response.status_code == 404
    assert response.json() == {"error": "User not found"}


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({}, "user_id", "required"),
        ({"user_id": "not-a-uuid"}, "user_id", "must be a UUID"),
        ({"user_id": ""}, "user_id", "must be a UUID"),
        ({"top_n_errors": "0"}, "top_n_errors", "from 1 to 1000"),
        ({"top_n_errors": "-3"}, "top_n_errors", "from 1 to 1000"),
        ({"top_n_errors": "abc"}, "top_n_errors", "from 1 to 1000"),
        ({"top_n_errors": str(10**21)}, "top_n_errors", "from 1 to 1000"),
        ({"top_n_errors": "1e3"}, "top_n_errors", "from 1 to 1000"),
        ({"last_n_days": "0"}, "last_n_days", "from 1 to 36500"),
        ({"last_n_days": "100000000"}, "last_n_days", "from 1 to 36500"),
        ({"last_n_days": "2.5"}, "last_n_days", "from 1 to 36500"),
        ({"last_n_days": "9" * 5000}, "last_n_days", "from 1 to 36500"),
        ({"exercises_per_error": "0"}, "exercises_per_error", "from 1 to 10"),
        ({"exercises_per_error": "11"}, "exercises_per_error", "from 1 to 10"),
        ({"exercises_per_error": "NaN"}, "exercises_per_error", "from 1 to 10"),
    ],
)
def test_bad_parameters_are_a_400_naming_the_parameter(api, user, params, field, message):
    query = {"user_id": str(user.pk), **params} if field != "user_id" else params

    response = api.get(URL, query)

    assert response.status_code == 400
    errors = response.json()
    assert list(errors) == [field]
    assert message in errors[field][0]
    if field != "user_id":
        assert errors[field][0].startswith(field)


def test_a_warm_request_costs_no_database_query(api, user, make_error, make_exercise, django_assert_num_queries):
    make_error.create_batch(3, user=user)
    make_exercise()
    api.get(URL, {"user_id": user.pk})  # caches the user, the user's counts and the exercise bank

    with django_assert_num_queries(0):
        response = api.get(URL, {"user_id": user.pk})
    assert response.json()["top_errors"][0]["errorFrequency"] == 3


def test_a_warm_request_is_one_round_trip_to_redis(api, user, make_error, make_exercise, monkeypatch):
    make_error.create_batch(3, user=user)
    make_exercise()
    api.get(URL, {"user_id": user.pk})  # keeps the learner's state beside their version
    sent = []
    send = redis.connection.AbstractConnection.send_packed_command

    def counted(connection, command, check_health=True):
        sent.append(command)
        return send(connection, command, check_health)

    monkeypatch.setattr(redis.connection.AbstractConnection, "send_packed_command", counted)
    response = api.get(URL, {"user_id": user.pk})

    assert response.json()["top_errors"][0]["errorFrequency"] == 3
    assert len(sent) == 1  # the snapshot script: pending events, versions, kept state and the throttle's count
