from datetime import timedelta

import pytest
from django.utils import timezone

from tutor.models import Error

pytestmark = pytest.mark.django_db


def test_it_stores_an_error_and_returns_the_row(staff_api, user):
    response = staff_api.post(
        "/api/errors",
        {"user_id": str(user.pk), "errorCategory": 1, "errorSubCategory": 3, "timestamp_utc": "2026-01-02T03:04:05Z"},
        format="json",
    )

    assert response.status_code == 201
    body = response.json()
    stored = Error.objects.get(pk=body["id"])
    assert (stored.user_id, stored.errorCategory, stored.errorSubCategory) == (user.pk, 1, 3)
    assert stored.timestamp_utc.isoformat() == "2026-01-02T03:04:05+00:00"
    assert body["user_id"] == str(user.pk)
    assert "user" not in body
    assert body["event_id"] == str(stored.event_id)


def test_the_timestamp_defaults_to_now(staff_api, user):
    before = timezone.now()
    response = staff_api.post("/api/errors", {"user_id": str(user.pk), "errorCategory": 3, "errorSubCategory": 8})

    assert response.status_code == 201
    assert before <= Error.objects.get().timestamp_utc <= timezone.now()


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"errorCategory": 1, "errorSubCategory": 9}, "errorSubCategory"),
        ({"errorCategory": 4, "errorSubCategory": 5}, "errorSubCategory"),
        ({"errorCategory": 9, "errorSubCategory": 3}, "errorCategory"),
        ({"errorCategory": 1, "errorSubCategory": 13}, "errorSubCategory"),
        ({"errorCategory": "Grammar", "errorSubCategory": 3}, "errorCategory"),
        ({"errorSubCategory": 3}, "errorCategory"),
        ({"errorCategory": 1, "errorSubCategory": 3, "timestamp_utc": "yesterday"}, "timestamp_utc"),
        ({"errorCategory": 1, "errorSubCategory": 3, "user_id": "00000000-0000-0000-0000-000000000000"}, "user_id"),
        ({"errorCategory": 1, "errorSubCategory": 3, "user_id": "bad"}, "user_id"),
    ],
)
def test_it_rejects_bad_errors_naming_the_field(staff_api, user, payload, field):
    response = staff_api.post("/api/errors", {"user_id": str(user.pk), **payload}, format="json")

    assert response.status_code == 400
    assert field in response.json()
    assert Error.objects.count() == 0


def test_a_mismatched_pair_says_where_the_subcategory_belongs(staff_api, user):
    response = staff_api.post("/api/errors", {"user_id": str(user.pk), "errorCategory": 2, "errorSubCategory": 3})

    assert response.json()["errorSubCategory"] == [
        "errorSubCategory 3 (Tense) belongs to errorCategory 1 (Grammar), not 2 (Vocabulary). "
        "Allowed for Vocabulary: 5 Wrong_Word, 6 Apostrophe, 7 Plural."
    ]


def test_it_rejects_a_timestamp_in_the_future(staff_api, user):
    future = (timezone.now() + timedelta(hours=1)).isoformat()
    response = staff_api.post(
        "/api/errors",
        {"user_id": str(user.pk), "errorCategory": 1, "errorSubCategory": 1, "timestamp_utc": future},
    )

    assert response.status_code == 400
    assert "in the future" in response.json()["timestamp_utc"][0]


def test_it_filters_errors_by_user_pair_and_time(staff_api, user, make_error):
    make_error(user=user, errorSubCategory=3, days_ago=1)
    make_error(user=user, errorSubCategory=3, days_ago=10)
    make_error(user=user, errorSubCategory=9, days_ago=1)
    make_error(errorSubCategory=3, days_ago=1)
    after = (timezone.now() - timedelta(days=5)).isoformat()

    response = staff_api.get(
        "/api/errors", {"user_id": str(user.pk), "errorSubCategory": 3, "timestamp_utc_after": after}
    )

    assert response.status_code == 200
    assert response.json()["count"] == 1
    assert staff_api.get("/api/errors", {"errorCategory": 1}).json()["count"] == 3


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"errorCategory": "7"}, "errorCategory"),
        ({"user_id": "nope"}, "user_id"),
        ({"timestamp_utc_after": "not-a-date"}, "timestamp_utc_after"),
        ({"timestamp_utc_before": "1113-12-08T20:10:39-21:41"}, None),
        ({"timestamp_utc_after": "0001-01-01T00:00:00+05:00"}, "timestamp_utc_after"),
    ],
)
def test_a_bad_filter_is_a_400_and_an_odd_offset_is_understood(staff_api, db, params, field):
    response = staff_api.get("/api/errors", params)

    if field is None:
        assert response.status_code == 200
    else:
        assert response.status_code == 400
        assert field in response.json()


def test_it_retrieves_and_deletes_an_error(staff_api, make_error):
    error = make_error()

    assert staff_api.get(f"/api/errors/{error.pk}").json()["errorSubCategory"] == error.errorSubCategory
    assert staff_api.delete(f"/api/errors/{error.pk}").status_code == 204
    assert not Error.objects.filter(pk=error.pk).exists()
    assert staff_api.get("/api/errors/99999999999999999999999").status_code == 404


def test_a_far_offset_is_stored_in_utc_and_a_time_before_year_one_is_refused(staff_api, user):
    body = {"user_id": str(user.pk), "errorCategory": 1, "errorSubCategory": 3}

    response = staff_api.post("/api/errors", {**body, "timestamp_utc": "2026-01-01T00:00:00-21:41"}, format="json")
    assert response.status_code == 201
    assert Error.objects.get().timestamp_utc.isoformat() == "2026-01-01T21:41:00+00:00"

    response = staff_api.post("/api/errors", {**body, "timestamp_utc": "0001-01-01T00:00:00+05:00"}, format="json")
    assert response.status_code == 400
    assert "out of range" in response.json()["timestamp_utc"][0]
