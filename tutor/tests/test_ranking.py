from datetime import timedelta

import pytest
from django.utils import timezone

from tutor import curation
from tutor.exceptions import UserNotFound
from tutor.models import Exercise
from tutor.ranking import recommend, top_errors

pytestmark = pytest.mark.django_db


def pairs(stats):
    return [(s.subcategory, s.frequency) for s in stats]


def test_it_counts_errors_per_pair_most_frequent_first(user, make_error):
    make_error.create_batch(3, user=user, errorSubCategory=9)
    make_error.create_batch(5, user=user, errorSubCategory=1)
    make_error.create_batch(1, user=user, errorSubCategory=12)
    make_error.create_batch(4, errorSubCategory=12)  # someone else's

    assert pairs(top_errors(user_id=user.pk, last_n_days=None, limit=None)) == [(1, 5), (9, 3), (12, 1)]


def test_it_counts_only_the_window(user, make_error):
    make_error.create_batch(4, user=user, errorSubCategory=5, days_ago=10)
    make_error.create_batch(2, user=user, errorSubCategory=6, days_ago=1)

    assert pairs(top_errors(user_id=user.pk, last_n_days=7, limit=None)) == [(6, 2)]
    assert pairs(top_errors(user_id=user.pk, last_n_days=None, limit=None)) == [(5, 4), (6, 2)]


def test_it_breaks_ties_by_the_most_recent_error_then_subcategory(user, make_error):
    now = timezone.now()
    make_error(user=user, errorSubCategory=2, timestamp_utc=now - timedelta(hours=5))
    make_error(user=user, errorSubCategory=11, timestamp_utc=now - timedelta(hours=1))
    make_error(user=user, errorSubCategory=7, timestamp_utc=now - timedelta(hours=3))
    same = now - timedelta(hours=2)
    make_error(user=user, errorSubCategory=9, timestamp_utc=same)
    make_error(user=user, errorSubCategory=8, timestamp_utc=same)

    assert [s.subcategory for s in top_errors(user_id=user.pk, last_n_days=None, limit=None)] == [11, 8, 9, 7, 2]


def test_it_keeps_the_top_n(user, make_error):
    for sub, count in [(1, 4), (2, 3), (3, 2), (4, 1)]:
        make_error.create_batch(count, user=user, errorSubCategory=sub)

    assert pairs(top_errors(user_id=user.pk, last_n_days=None, limit=2)) == [(1, 4), (2, 3)]


def test_it_recommends_active_exercises_of_each_pair_up_to_k(user, make_error, make_exercise):
    make_error.create_batch(2, user=user, errorSubCategory=3)
    make_error(user=user, errorSubCategory=9)
    tense = [make_exercise(errorSubCategory=3, title=f"Tense {i}") for i in range(4)]
    make_exercise(errorSubCategory=3, title="Tense retired", is_active=False)
    make_exercise(errorSubCategory=4, title="Agreement")

    result = recommend(user_id=user.pk, exercises_per_error=3)

    first, second = result["top_errors"]
    assert (first["errorSubCategory"], first["errorFrequency"]) == ("Tense", 2)
    assert [e["id"] for e in first["exercises"]] == [e.pk for e in tense[:3]]
    assert (second["errorSubCategory"], second["exercises"]) == ("Mispronounced_Word", [])


def test_it_refuses_an_unknown_user(db):
    with pytest.raises(UserNotFound):
        recommend(user_id="00000000-0000-0000-0000-000000000000")


def test_a_curated_change_reaches_the_next_recommendation(
    user, make_error, make_exercise, django_capture_on_commit_callbacks
):
    make_error(user=user, errorSubCategory=3)
    exercise = make_exercise(errorSubCategory=3)

    def shown():
        return [e["title"] for e in recommend(user_id=user.pk)["top_errors"][0]["exercises"]]

    assert shown() == [exercise.title]  # the bank is now cached

    with django_capture_on_commit_callbacks(execute=True):
        curation.set_active(Exercise.objects.filter(pk=exercise.pk), active=False)
    assert shown() == []

    exercise.refresh_from_db()
    exercise.is_active = True
    exercise.title = "Renamed"
    with django_capture_on_commit_callbacks(execute=True):
        exercise.save()
    assert shown() == ["Renamed"]

    with django_capture_on_commit_callbacks(execute=True):
        exercise.delete()
    assert shown() == []
