"""Versions of exercises: kept through every door, compared side by side, restored; bulk duplicates."""

import json
from pathlib import Path

import pytest
from django.core.management import call_command

from tutor.exercise_content import items_of
from tutor.models import Exercise

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def gap_fill(item_id: str, answer: str) -> dict:
    return {
        "answer_mode": "typed",
        "items": [{"id": item_id, "prompt": "I have lived here ___ 2019.", "answer": answer}],
    }


def admin_form(exercise: Exercise, **changes) -> dict:
    return {
        "title": exercise.title,
        "errorCategory": exercise.errorCategory,
        "errorSubCategory": exercise.errorSubCategory,
        "exercise_type": exercise.exercise_type,
        "level": exercise.level,
        "instructions": exercise.instructions,
        "content": json.dumps(exercise.content),
        "is_active": "on" if exercise.is_active else "",
        # The recordings inline's management form, with no recording changed.
        "recordings-TOTAL_FORMS": "0",
        "recordings-INITIAL_FORMS": "0",
        **changes,
    }


def patch_content(staff_api, exercise: Exercise, content: dict, **changes) -> None:
    response = staff_api.patch(
        f"/api/exercises/{exercise.pk}",
        {"exercise_type": exercise.exercise_type, "content": content, **changes},
        format="json",
    )
    assert response.status_code == 200, response.content


def served_answers(api, user) -> list[str]:
    """The answers of the exercises generate-exercise gives the learner now."""
    response = api.get("/api/generate-exercise", {"user_id": user.pk})
    assert response.status_code == 200
    return [e["content"]["items"][0]["answer"] for top in response.json()["top_errors"] for e in top["exercises"]]


def test_an_api_patch_is_kept_as_a_version_naming_the_client(staff_api, make_exercise):
    exercise = make_exercise(title="Before")

    response = staff_api.patch(f"/api/exercises/{exercise.pk}", {"title": "After"}, format="json")

    assert response.status_code == 200
    versions = list(exercise.history.all())
    assert [(v.history_type, v.title) for v in versions] == [("~", "After"), ("+", "Before")]
    assert versions[0].history_user.username == "staff-client"


def test_an_admin_change_is_kept_as_a_version_naming_the_curator(admin_client, admin_user, make_exercise):
    exercise = make_exercise(title="Before")

    response = admin_client.post(f"/admin/tutor/exercise/{exercise.pk}/change/", admin_form(exercise, title="After"))

    assert response.status_code == 302
    latest = exercise.history.first()
    assert (latest.history_type, latest.title, latest.history_user) == ("~", "After", admin_user)
    assert latest.history_change_reason == "Edited in the admin"


def test_bulk_deactivation_keeps_a_version_of_each_exercise(admin_client, admin_user, make_exercise):
    exercises = make_exercise.create_batch(3)

    admin_client.post(
        "/admin/tutor/exercise/", {"action": "deactivate", "_selected_action": [str(e.pk) for e in exercises[:2]]}
    )

    for exercise in exercises[:2]:
        latest = exercise.history.first()
        assert (latest.is_active, latest.history_change_reason, latest.history_user) == (
            False,
            "Deactivated",
            admin_user,
        )
    assert exercises[2].history.count() == 1


def test_a_fixture_loaded_exercise_has_a_first_version(db):
    call_command("loaddata", FIXTURES / "exercises.json", verbosity=0)

    exercise = Exercise.objects.order_by("title").first()
    assert [(v.history_type, v.history_change_reason) for v in exercise.history.all()] == [
        ("+", "Loaded from a fixture")
    ]


def test_duplicate_makes_inactive_copies_with_fresh_unique_item_ids(admin_client, make_exercise, committed):
    originals = [make_exercise(title="Since", content=gap_fill("since.1", "since")), make_exercise(title="For")]
    selected = {"action": "duplicate", "_selected_action": [str(e.pk) for e in originals]}

    with committed():
        response = admin_client.post("/admin/tutor/exercise/", selected, follow=True)
        admin_client.post("/admin/tutor/exercise/", selected)

    assert "inactive" in response.content.decode()
    copies = Exercise.objects.exclude(pk__in=[e.pk for e in originals])
    assert sorted(copies.values_list("title", "is_active")) == [
        ("For (copy 2)", False),
        ("For (copy)", False),
        ("Since (copy 2)", False),
        ("Since (copy)", False),
    ]
    assert Exercise.objects.get(title="Since (copy)").content == gap_fill("since.1-copy", "since")
    assert Exercise.objects.get(title="Since (copy 2)").content == gap_fill("since.1-copy2", "since")
    item_ids = [item["id"] for e in Exercise.objects.all() for _, item in items_of(e.content)]
    assert len(item_ids) == len(set(item_ids)) == 6
    for copy in copies:
        copy.full_clean()
        assert copy.history.get().history_change_reason.startswith("Copied from ")


def test_compare_shows_both_versions_with_the_changed_fields_marked(admin_client, staff_api, make_exercise):
    exercise = make_exercise(title="Before", content=gap_fill("cmp.1", "since"))
    patch_content(staff_api, exercise, gap_fill("cmp.1", "for"), title="After")
    newer, older = exercise.history.all()

    response = admin_client.get(
        f"/admin/tutor/exercise/{exercise.pk}/history/compare/", {"older": older.pk, "newer": newer.pk}
    )

    assert response.status_code == 200
    changed = {field.name for field in response.context["comparisons"] if field.changed}
    assert changed == {"title", "content"}
    html = response.content.decode()
    assert 'class="changed" id="field-title" data-changed="true"' in html
    assert 'id="field-level" data-changed="false"' in html
    content = next(field for field in response.context["comparisons"] if field.name == "content")
    assert '"answer": "since"' in content.older
    assert '"answer": "for"' in content.newer
    assert 'class="diff_chg"' in content.diff_table
    assert content.diff_table in html


def test_the_history_page_offers_to_compare_each_version(admin_client, make_exercise):
    exercise = make_exercise()
    version = exercise.history.get()

    response = admin_client.get(f"/admin/tutor/exercise/{exercise.pk}/history/")

    html = response.content.decode()
    assert f'id="older-{version.pk}"' in html
    assert f'id="newer-{version.pk}"' in html
    assert f'id="compare-current-{version.pk}"' in html
    assert 'id="compare-versions"' in html


def test_restore_brings_back_the_old_content_and_the_api_serves_it(
    admin_client, api, staff_api, user, make_error, make_exercise, committed
):
    make_error(user=user, errorSubCategory=3)
    exercise = make_exercise(errorSubCategory=3, content=gap_fill("restore.1", "since"))
    first = exercise.history.get()
    assert served_answers(api, user) == ["since"]
    with committed():
        patch_content(staff_api, exercise, gap_fill("restore.1", "for"))
    assert served_answers(api, user) == ["for"]

    with committed():
        response = admin_client.post(f"/admin/tutor/exercise/{exercise.pk}/history/restore/", {"version": first.pk})

    assert response.status_code == 302
    assert response["Location"] == f"/admin/tutor/exercise/{exercise.pk}/change/"
    assert served_answers(api, user) == ["since"]
    exercise.refresh_from_db()
    assert exercise.content == gap_fill("restore.1", "since")
    latest = exercise.history.first()
    assert (latest.history_type, exercise.history.count()) == ("~", 3)
    assert latest.history_change_reason.startswith("Restored the version of ")


def test_a_version_whose_item_ids_another_exercise_took_is_not_restored(admin_client, staff_api, make_exercise):
    exercise = make_exercise(title="Mine", content=gap_fill("shared.1", "since"))
    first = exercise.history.get()
    patch_content(staff_api, exercise, gap_fill("mine.1", "since"))
    make_exercise(title="Theirs", content=gap_fill("shared.1", "for"))

    response = admin_client.post(
        f"/admin/tutor/exercise/{exercise.pk}/history/restore/", {"version": first.pk}, follow=True
    )

    assert "cannot be restored" in response.content.decode()
    assert "&#x27;shared.1&#x27; is already used by &#x27;Theirs&#x27;" in response.content.decode()
    exercise.refresh_from_db()
    assert exercise.content == gap_fill("mine.1", "since")
    assert exercise.history.count() == 2


def test_a_version_of_another_exercise_is_not_restored(admin_client, make_exercise):
    exercise, other = make_exercise.create_batch(2)

    response = admin_client.post(
        f"/admin/tutor/exercise/{exercise.pk}/history/restore/", {"version": other.history.get().pk}
    )

    assert response.status_code == 404


def test_history_pages_need_a_staff_login(client, make_exercise):
    exercise = make_exercise()

    response = client.get(f"/admin/tutor/exercise/{exercise.pk}/history/compare/")

    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_compare_without_versions_named_shows_the_last_change(admin_client, staff_api, make_exercise):
    exercise = make_exercise(level="B1")
    staff_api.patch(f"/api/exercises/{exercise.pk}", {"level": "B2"}, format="json")
    staff_api.patch(f"/api/exercises/{exercise.pk}", {"title": "Renamed"}, format="json")

    response = admin_client.get(f"/admin/tutor/exercise/{exercise.pk}/history/compare/")

    assert response.status_code == 200
    assert [field.name for field in response.context["comparisons"] if field.changed] == ["title"]
    assert response.context["newer"] == exercise.history.first()


def test_a_copy_has_no_recordings_of_its_own(admin_client, make_exercise, committed):
    item = {"id": "copied.1", "text": "banana", "audio": [{"accent": "GB", "url": "/media/recordings/banana.wav"}]}
    original = make_exercise(
        exercise_type="repeat_after_me", errorSubCategory=8, content={"answer_mode": "spoken", "items": [item]}
    )

    with committed():
        admin_client.post("/admin/tutor/exercise/", {"action": "duplicate", "_selected_action": [str(original.pk)]})

    copy = Exercise.objects.exclude(pk=original.pk).get()
    assert copy.content["items"][0]["audio"] == []  # the original's file goes when the original's recording does
    assert original.content["items"][0]["audio"] == item["audio"]
