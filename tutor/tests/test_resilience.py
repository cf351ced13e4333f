import uuid
from contextlib import contextmanager

import pytest
from django.db import connection

from tutor import buffer
from tutor.models import Error
from tutor.taxonomy import CATEGORY_OF

EVENTS = "/api/error-events"
RANKING = "/api/generate-exercise"

pytestmark = pytest.mark.usefixtures("buffer_backend")


def event(user, sub=3, **extra):
    return {"user_id": str(user.pk), "errorCategory": CATEGORY_OF[sub], "errorSubCategory": sub, **extra}


def frequencies(api, user):
    response = api.get(RANKING, {"user_id": user.pk})
    assert response.status_code == 200
    return {t["errorSubCategory"]: t["errorFrequency"] for t in response.json()["top_errors"]}


def cache_in(server, settings) -> None:
    """Keep the cache in the buffer's Redis too, so that stopping it stops both (a cluster holds the buffer only)."""
    if not settings.EVENT_BUFFER_CLUSTER:
        settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": server.url}}


@pytest.mark.django_db
def test_with_redis_stopped_events_are_written_through_and_ranking_answers(api, user, settings, private_redis):
    server = private_redis()
    settings.EVENT_BUFFER_URL = server.url
    cache_in(server, settings)
    assert api.post(EVENTS, event(user, sub=3), format="json").status_code == 202
    assert Error.objects.count() == 0  # buffered
    assert frequencies(api, user) == {"Tense": 1}

    server.stop()

    response = api.post(EVENTS, [event(user, sub=1), event(user, sub=1)], format="json")
    assert response.status_code == 202
    written = set(Error.objects.values_list("event_id", flat=True))
    assert written == {uuid.UUID(i) for i in response.json()["event_ids"]}
    # The buffered event waits in the stopped Redis (not lost); PostgreSQL answers for the rest.
    assert frequencies(api, user) == {"Pronoun": 2}


@pytest.mark.django_db
def test_a_process_that_never_reached_redis_writes_events_through(api, user, settings, private_redis):
    server = private_redis()
    server.stop()
    settings.EVENT_BUFFER_URL = server.url  # down since before this process first used it

    response = api.post(EVENTS, event(user), format="json")

    assert response.status_code == 202
    assert set(Error.objects.values_list("event_id", flat=True)) == {uuid.UUID(response.json()["event_ids"][0])}


@pytest.mark.django_db
def test_when_redis_comes_back_each_process_buffers_through_it_again(api, user, settings, private_redis):
    server = private_redis()
    settings.EVENT_BUFFER_URL = server.url
    assert api.post(EVENTS, event(user, sub=3), format="json").status_code == 202
    server.stop()
    assert api.post(EVENTS, event(user, sub=1), format="json").status_code == 202
    assert Error.objects.count() == 1  # written through while Redis was away

    server.start()  # empty: what it held before is gone with it

    response = api.post(EVENTS, [event(user, sub=1), event(user, sub=4)], format="json")
    assert response.status_code == 202
    assert Error.objects.count() == 1
    pending = {str(e.event_id) for e in buffer.snapshot(user.pk).pending}
    assert pending == set(response.json()["event_ids"])
    assert frequencies(api, user) == {"Pronoun": 2, "Subject_Verb_Agreement": 1}


@pytest.mark.django_db
def test_a_full_buffer_refuses_whole_requests_with_a_503_and_keeps_what_it_accepted(api, user, settings, private_redis):
    server = private_redis("--maxmemory", "3mb", "--maxmemory-policy", "noeviction")
    settings.EVENT_BUFFER_URL = server.url
    accepted, refused = set(), None
    for _ in range(200):
        response = api.post(EVENTS, [event(user)] * 1000, format="json")
        if response.status_code != 202:
            refused = response
            break
        accepted |= set(response.json()["event_ids"])

    assert refused is not None, "the buffer never filled up"
    assert refused.status_code == 503
    assert "event buffer is full" in refused.json()["error"]
    assert refused["Retry-After"]
    assert accepted
    in_buffer = {str(e.event_id) for e in buffer.snapshot(user.pk).pending}
    assert in_buffer == accepted
    assert Error.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_with_redis_and_postgresql_down_events_get_a_503(api, user, settings):
    settings.EVENT_BUFFER_URL = "redis://127.0.0.1:1/0"
    api.get("/api/exercises", {"limit": 1})  # the client's token is now cached
    with postgresql_unreachable():
        response = api.post(EVENTS, event(user), format="json")

    assert response.status_code == 503
    assert "retry later" in response.json()["error"]
    assert Error.objects.count() == 0


@contextmanager
def postgresql_unreachable():
    real = dict(connection.settings_dict)
    connection.close()
    connection.settings_dict["PORT"] = "1"
    try:
        yield
    finally:
        connection.close()
        connection.settings_dict.update(real)


@pytest.mark.django_db(transaction=True)
def test_with_postgresql_down_events_are_still_accepted_into_the_buffer(api, user):
    api.get("/api/exercises", {"limit": 1})  # the client's token is now cached
    with postgresql_unreachable():
        response = api.post(EVENTS, [event(user, sub=2), event(user, sub=2)], format="json")

    assert response.status_code == 202
    assert Error.objects.count() == 0
    assert {str(e.event_id) for e in buffer.snapshot(user.pk).pending} == set(response.json()["event_ids"])
    assert frequencies(api, user) == {"Adverb": 2}


@pytest.mark.django_db
def test_without_a_buffer_the_same_endpoint_writes_to_the_database(api, user, settings):
    settings.EVENT_BUFFER_URL = ""

    response = api.post(EVENTS, [event(user, sub=4)], format="json")

    assert response.status_code == 202
    assert str(Error.objects.get().event_id) == response.json()["event_ids"][0]
    assert frequencies(api, user) == {"Subject_Verb_Agreement": 1}


@pytest.mark.django_db
def test_with_the_buffer_full_rankings_still_answer_with_every_accepted_event(api, user, settings, private_redis):
    server = private_redis("--maxmemory", "3mb", "--maxmemory-policy", "noeviction")
    settings.EVENT_BUFFER_URL = server.url
    accepted = 0
    while (response := api.post(EVENTS, [event(user)] * 1000, format="json")).status_code == 202:
        accepted += 1000
        assert accepted < 200_000, "the buffer never filled up"
    assert response.status_code == 503

    assert frequencies(api, user) == {"Tense": accepted}


@pytest.mark.django_db(transaction=True)
def test_a_learner_accepted_unchecked_while_postgresql_was_down_is_checked_once_it_is_back(api, db):
    stranger = {"user_id": str(uuid.uuid4()), "errorCategory": 1, "errorSubCategory": 3}
    api.get("/api/exercises", {"limit": 1})  # the client's token is now cached
    with postgresql_unreachable():
        assert api.post(EVENTS, stranger, format="json").status_code == 202  # the flush will dead-letter it

    response = api.post(EVENTS, stranger, format="json")

    assert response.status_code == 400
    assert response.json() == {"user_id": [f"No user with id {stranger['user_id']}."]}


@pytest.mark.django_db
def test_with_redis_stopped_answers_are_graded_scheduled_and_shown_in_progress(
    api, user, settings, private_redis, make_exercise, make_error
):
    server = private_redis()
    settings.EVENT_BUFFER_URL = server.url
    cache_in(server, settings)
    content = {"answer_mode": "typed", "items": [{"id": "outage.1", "prompt": "I ___ here. (live)", "answer": "live"}]}
    failed = make_exercise(title="Failed", content=content)
    make_exercise(title="Fresh")
    make_error(user=user, errorSubCategory=3)

    server.stop()

    # Without a buffer nothing is kept between requests: readers read PostgreSQL, where the attempt is.
    attempt = api.post(
        "/api/exercise-attempts",
        {"user_id": str(user.pk), "exercise_id": str(failed.pk), "answers": {"outage.1": "lives"}},
        format="json",
    )
    assert attempt.status_code == 201
    assert attempt.json()["score"] == 0
    offered = api.get(RANKING, {"user_id": user.pk, "exercises_per_error": 2}).json()["top_errors"][0]["exercises"]
    # Just failed: it rests a few hours, so the new one comes first (the schedule read from PostgreSQL).
    assert [(e["title"], e["status"]) for e in offered] == [("Fresh", "new"), ("Failed", "repeat")]
    progress = api.get(f"/api/users/{user.pk}/progress", {"weeks": 1})
    assert progress.status_code == 200
    assert progress.json()["weeks"][-1]["pairs"] == [
        {
            "errorCategory": "Grammar",
            "errorSubCategory": "Tense",
            "errors": 1,
            "attempts": 1,
            "average_score": 0.0,
        }
    ]
