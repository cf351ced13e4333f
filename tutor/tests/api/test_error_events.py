import uuid
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.utils import timezone

from tutor import buffer, learners
from tutor.models import Error
from tutor.ranking import top_errors

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("buffer_backend")]
URL = "/api/error-events"


def event(user, sub=3, **extra):
    from tutor.taxonomy import CATEGORY_OF

    return {"user_id": str(user.pk), "errorCategory": CATEGORY_OF[sub], "errorSubCategory": sub, **extra}


def counts(user, days=None):
    return {s.subcategory: s.frequency for s in top_errors(user_id=user.pk, last_n_days=days, limit=None)}


def flush():
    call_command("flush_error_events", verbosity=0)


def test_an_accepted_event_counts_before_and_after_the_flush(api, user, make_error):
    make_error(user=user, errorSubCategory=3)
    assert counts(user) == {3: 1}  # PostgreSQL part now cached

    response = api.post(URL, event(user, sub=3), format="json")

    assert response.status_code == 202
    event_id = uuid.UUID(response.json()["event_ids"][0])
    assert response.json()["accepted"] == 1
    assert not Error.objects.filter(event_id=event_id).exists()
    assert counts(user) == {3: 2}

    flush()

    assert Error.objects.get(event_id=event_id).user_id == user.pk
    assert counts(user) == {3: 2}
    assert buffer.backlog()["entries"] == 0


def test_a_list_of_events_is_accepted_in_order_with_their_ids(api, user):
    chosen = str(uuid.uuid4())
    payload = [event(user, sub=9), event(user, sub=9, event_id=chosen), event(user, sub=12)]

    response = api.post(URL, payload, format="json")

    assert response.status_code == 202
    ids = response.json()["event_ids"]
    assert len(ids) == 3
    assert ids[1] == chosen
    assert counts(user) == {9: 2, 12: 1}
    flush()
    assert set(Error.objects.values_list("event_id", flat=True)) == {uuid.UUID(i) for i in ids}


def test_the_same_event_id_is_counted_once(api, user):
    payload = event(user, sub=5, event_id=str(uuid.uuid4()))

    assert api.post(URL, payload, format="json").status_code == 202
    assert api.post(URL, payload, format="json").status_code == 202
    assert api.post(URL, [payload, payload], format="json").status_code == 202
    assert counts(user) == {5: 1}

    flush()
    assert Error.objects.count() == 1
    assert counts(user) == {5: 1}

    assert api.post(URL, payload, format="json").status_code == 202  # a late retry
    assert counts(user) == {5: 1}
    flush()
    assert Error.objects.count() == 1
    assert counts(user) == {5: 1}


def test_a_retry_without_timestamp_is_still_one_event(api, user):
    payload = event(user, sub=6, event_id=str(uuid.uuid4()))
    api.post(URL, payload, format="json")
    api.post(URL, payload, format="json")

    assert counts(user) == {6: 1}


def test_the_window_applies_to_pending_events(api, user):
    old = (timezone.now() - timedelta(days=10)).isoformat()
    api.post(URL, [event(user, sub=7, timestamp_utc=old), event(user, sub=8)], format="json")

    assert counts(user, days=7) == {8: 1}
    assert counts(user) == {7: 1, 8: 1}
    flush()
    assert counts(user, days=7) == {8: 1}


def test_one_bad_item_refuses_the_whole_request_naming_each_bad_item(api, user):
    payload = [
        event(user, sub=3),
        event(user, sub=3, errorCategory=2),
        event(user, sub=3, timestamp_utc=(timezone.now() + timedelta(hours=2)).isoformat()),
        {**event(user), "user_id": str(uuid.uuid4())},
    ]

    response = api.post(URL, payload, format="json")

    assert response.status_code == 400
    errors = response.json()["events"]
    assert set(errors) == {"1", "2"}
    assert "belongs to errorCategory 1 (Grammar)" in errors["1"]["errorSubCategory"][0]
    assert "in the future" in errors["2"]["timestamp_utc"][0]
    assert buffer.backlog()["entries"] == 0
    assert counts(user) == {}


def test_unknown_users_are_named_per_item(api, user):
    stranger = str(uuid.uuid4())
    response = api.post(URL, [event(user), {**event(user), "user_id": stranger}], format="json")

    assert response.status_code == 400
    assert response.json() == {"events": {"1": {"user_id": [f"No user with id {stranger}."]}}}
    assert buffer.backlog()["entries"] == 0


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"errorCategory": 1, "errorSubCategory": 3}, "user_id"),
        ({"user_id": "x", "errorCategory": 1, "errorSubCategory": 3}, "user_id"),
        ({"errorCategory": 1, "errorSubCategory": 99}, "errorSubCategory"),
        ({"errorCategory": 1, "errorSubCategory": 3, "event_id": "123"}, "event_id"),
        ({"errorCategory": 1, "errorSubCategory": 3, "timestamp_utc": "soon"}, "timestamp_utc"),
    ],
)
def test_a_single_bad_event_is_a_400_naming_the_field(api, user, payload, field):
    body = {"user_id": str(user.pk), **payload} if field != "user_id" else payload

    response = api.post(URL, body, format="json")

    assert response.status_code == 400
    assert field in response.json()


@pytest.mark.parametrize("body", ["[]", '"text"', "42", "null"])
def test_a_body_that_is_no_event_is_a_400(api, db, body):
    response = api.post(URL, body, content_type="application/json")

    assert response.status_code == 400
    assert "events" in response.json()


def test_more_than_a_thousand_events_is_a_400(api, user):
    response = api.post(URL, [event(user)] * 1001, format="json")

    assert response.status_code == 400
    assert "1 to 1000 events" in response.json()["events"][0]
    assert buffer.backlog()["entries"] == 0


def test_a_thousand_events_of_many_users_cost_one_query(api, make_error, django_assert_max_num_queries):
    users = [make_error().user for _ in range(10)]
    payload = [event(users[i % 10], sub=1 + i % 12) for i in range(1000)]
    api.get("/api/exercises", {"limit": 1})  # the client's token is now cached

    with django_assert_max_num_queries(1):
        assert api.post(URL, payload, format="json").status_code == 202
    with django_assert_max_num_queries(0):  # the users are now known to the cache
        assert api.post(URL, payload[:10], format="json").status_code == 202
    assert buffer.backlog()["entries"] == 2 * len({buffer.keys.shard_of(u.pk) for u in users})  # an entry per shard


@pytest.mark.parametrize("body", ['{"user_id": ', '{"errorCategory": NaN}', b'{"user_id": "\xff"}'])
def test_a_body_that_is_not_strict_json_is_a_400(api, db, body):
    response = api.post(URL, body, content_type="application/json")

    assert response.status_code == 400
    assert "JSON parse error" in response.json()["detail"]
    assert buffer.backlog()["entries"] == 0


def forget_what_this_process_saw():
    """As another worker process would be: it has seen none of these learners."""
    learners._seen.clear()


def test_a_learner_read_for_a_ranking_is_known_to_the_buffer(api, user, make_error, django_assert_num_queries):
    make_error(user=user)
    assert api.get("/api/generate-exercise", {"user_id": user.pk}).status_code == 200
    forget_what_this_process_saw()

    with django_assert_num_queries(0):  # the buffer knows the learner: checked in the same round trip
        assert api.post(URL, event(user), format="json").status_code == 202
    assert counts(user) == {3: 2}


def test_events_of_a_learner_just_deleted_are_refused_at_once(api, staff_api, user, committed):
    assert api.post(URL, event(user), format="json").status_code == 202  # the buffer now knows the learner
    with committed():
        assert staff_api.delete(f"/api/users/{user.pk}").status_code == 204
    forget_what_this_process_saw()

    response = api.post(URL, [event(user)], format="json")

    assert response.status_code == 400
    assert response.json() == {"events": {"0": {"user_id": [f"No user with id {user.pk}."]}}}


def test_a_learner_checked_for_one_post_is_known_to_the_buffer_for_the_next(api, user, django_assert_num_queries):
    assert api.post(URL, event(user), format="json").status_code == 202  # looked up in PostgreSQL
    forget_what_this_process_saw()
    cache.delete(learners.level_key(user.pk))

    with django_assert_num_queries(0):
        assert api.post(URL, event(user), format="json").status_code == 202
    assert counts(user) == {3: 2}
