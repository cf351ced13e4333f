import json
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.core.management import call_command

from tutor.exercise_content import content_errors
from tutor.exercise_performance import FLAG_MIN_SCORED_ATTEMPTS, NullsLast, with_performance
from tutor.models import Error, Exercise, ExerciseAttempt, ExerciseMemory, User
from tutor.taxonomy import CATEGORY_OF, CEFRLevel, ErrorSubCategory

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
# The demo practice (practice.json) was made for the 12 weeks before this date: its dates are absolute.
PRACTICE_UNTIL = datetime(2026, 12, 7, tzinfo=UTC)


def load(name: str) -> list[dict]:
    return json.loads((FIXTURES / name).read_text())


def practice(model: str) -> list[dict]:
    return [row for row in load("practice.json") if row["model"] == f"tutor.{model}"]


@pytest.mark.django_db
def test_every_fixture_loads_with_the_reference_command():
    call_command("loaddata", *sorted(str(p) for p in FIXTURES.glob("*.json")), verbosity=0)

    assert User.objects.count() == len(load("users.json")) + len(practice("user"))
    assert Error.objects.count() == len(load("errors.json")) + len(practice("error"))
    assert Exercise.objects.count() == len(load("exercises.json"))
    assert ExerciseAttempt.objects.count() == len(practice("exerciseattempt"))
    for row in load("errors.json") + practice("error"):
        stored = Error.objects.get(pk=row["pk"])
        assert (stored.user_id.hex, stored.errorCategory, stored.errorSubCategory) == (
            row["fields"]["user"].replace("-", ""),
            row["fields"]["errorCategory"],
            row["fields"]["errorSubCategory"],
        )


def test_every_subcategory_has_six_varied_active_exercises():
    by_sub = defaultdict(list)
    for row in load("exercises.json"):
        if row["fields"]["is_active"]:
            by_sub[row["fields"]["errorSubCategory"]].append(row["fields"])

    for sub in ErrorSubCategory.values:
        exercises = by_sub[sub]
        assert len(exercises) >= 6, ErrorSubCategory(sub).label
        assert len({e["level"] for e in exercises}) >= 3, ErrorSubCategory(sub).label
        assert len({e["exercise_type"] for e in exercises}) >= 3, ErrorSubCategory(sub).label


def test_every_exercise_is_well_formed():
    rows = load("exercises.json")
    assert len({r["pk"] for r in rows}) == len(rows)
    assert len({r["fields"]["title"] for r in rows}) == len(rows)
    for row in rows:
        fields = row["fields"]
        assert CATEGORY_OF[fields["errorSubCategory"]] == fields["errorCategory"], fields["title"]
        assert content_errors(fields["exercise_type"], fields["content"]) == [], fields["title"]
        assert fields["instructions"].strip(), fields["title"]


@pytest.mark.django_db
def test_seed_demo_loads_once_and_then_leaves_curated_data_alone():
    call_command("seed_demo", verbosity=0)
    assert Exercise.objects.count() == len(load("exercises.json"))
    exercise = Exercise.objects.order_by("title").first()
    exercise.title = "Edited by a curator"
    exercise.save()

    call_command("seed_demo", verbosity=0)

    exercise.refresh_from_db()
    assert exercise.title == "Edited by a curator"


def test_the_demo_practice_is_of_learners_with_levels_over_the_twelve_weeks_before_its_date():
    learners = {row["pk"] for row in practice("user")}
    bank = {row["pk"] for row in load("exercises.json")}
    since = PRACTICE_UNTIL - timedelta(weeks=12)

    assert len(learners) >= 10
    assert all(row["fields"]["level"] in CEFRLevel.values for row in practice("user"))
    errors, attempts = practice("error"), practice("exerciseattempt")
    assert {row["fields"]["user"] for row in errors} == learners
    assert {row["fields"]["user"] for row in attempts} == learners
    for row in errors:
        fields = row["fields"]
        assert CATEGORY_OF[fields["errorSubCategory"]] == fields["errorCategory"], row["pk"]
        assert since <= datetime.fromisoformat(fields["timestamp_utc"]) < PRACTICE_UNTIL, row["pk"]
    for row in attempts:
        fields = row["fields"]
        assert fields["exercise"] in bank, row["pk"]
        assert 0 <= fields["score"] <= 1, row["pk"]
        assert since <= datetime.fromisoformat(fields["completed_at"]) < PRACTICE_UNTIL, row["pk"]


@pytest.mark.django_db
def test_seed_demo_gives_learners_practice_in_which_a_few_exercises_are_failed_far_more_than_their_level():
    call_command("seed_demo", verbosity=0)

    flagged = with_performance(Exercise.objects.all()).filter(fails_far_more=True)
    assert 2 <= len(flagged) <= 3
    assert all(exercise.scored_count >= FLAG_MIN_SCORED_ATTEMPTS for exercise in flagged)
    most_failed = with_performance(Exercise.objects.all()).order_by(NullsLast("fail_share").desc()).first()
    assert most_failed in flagged
    # The fixture's attempts go through the signals: each (learner, exercise) practised has its memory.
    practised = ExerciseAttempt.objects.values_list("user", "exercise").distinct()
    assert ExerciseMemory.objects.count() == practised.count() > 0
