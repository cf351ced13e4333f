import json
from collections import defaultdict
from pathlib import Path

import pytest
from django.core.management import call_command

from tutor.exercise_content import content_errors
from tutor.models import Error, Exercise, User
from tutor.taxonomy import CATEGORY_OF, ErrorSubCategory

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def load(name: str) -> list[dict]:
    return json.loads((FIXTURES / name).read_text())


@pytest.mark.django_db
def test_every_fixture_loads_with_the_reference_command():
    call_command("loaddata", *sorted(str(p) for p in FIXTURES.glob("*.json")), verbosity=0)

    assert User.objects.count() == len(load("users.json"))
    assert Error.objects.count() == len(load("errors.json"))
    assert Exercise.objects.count() == len(load("exercises.json"))
    for row in load("errors.json"):
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
