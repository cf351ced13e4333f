import json

import pytest

from tutor.models import Exercise

pytestmark = pytest.mark.django_db

FORM = {
    "title": "Present perfect with for and since",
    "errorCategory": "1",
    "errorSubCategory": "3",
    "exercise_type": "gap_fill",
    "level": "B1",
    "instructions": "Say each sentence aloud.",
    "content": json.dumps(
        {
            "answer_mode": "typed",
            "items": [{"id": "admin.1", "prompt": "I have lived here ___ 2019.", "answer": "since"}],
        }
    ),
    "is_active": "on",
}


def test_staff_create_an_exercise_in_the_admin(admin_client):
    response = admin_client.post("/admin/tutor/exercise/add/", FORM)

    assert response.status_code == 302
    assert Exercise.objects.get().title == FORM["title"]


def test_the_admin_refuses_a_mismatched_pair(admin_client):
    response = admin_client.post("/admin/tutor/exercise/add/", {**FORM, "errorCategory": "3"})

    assert response.status_code == 200
    assert "belongs to errorCategory 1 (Grammar)" in response.content.decode()
    assert not Exercise.objects.exists()


def test_the_admin_refuses_content_that_does_not_fit_the_type(admin_client):
    response = admin_client.post("/admin/tutor/exercise/add/", {**FORM, "content": '{"pairs": []}'})

    assert response.status_code == 200
    assert "&#x27;items&#x27; is a required property" in response.content.decode()
    assert not Exercise.objects.exists()


def test_staff_deactivate_exercises_in_bulk(admin_client, make_exercise):
    exercises = make_exercise.create_batch(3)

    response = admin_client.post(
        "/admin/tutor/exercise/",
        {"action": "deactivate", "_selected_action": [str(e.pk) for e in exercises[:2]]},
    )

    assert response.status_code == 302
    assert sorted(Exercise.objects.values_list("is_active", flat=True)) == [False, False, True]


@pytest.mark.parametrize("page", ["/admin/tutor/exercise/", "/admin/tutor/user/", "/admin/tutor/error/"])
def test_the_admin_lists_load(admin_client, make_error, make_exercise, page):
    make_error()
    make_exercise()

    response = admin_client.get(page, {"q": "a"})

    assert response.status_code == 200


def test_the_admin_needs_a_staff_login(client):
    response = client.get("/admin/tutor/exercise/")

    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_a_level_changed_in_the_admin_reaches_the_next_recommendation(
    admin_client, user, make_error, make_exercise, committed
):
    from tutor.ranking import recommend

    make_error(user=user, errorSubCategory=3)
    make_exercise(errorSubCategory=3, title="Easy", level="A1")
    make_exercise(errorSubCategory=3, title="Hard", level="C1")
    assert recommend(user_id=user.pk, exercises_per_error=1)["top_errors"][0]["exercises"][0]["title"] == "Easy"

    with committed():
        response = admin_client.post(
            f"/admin/tutor/user/{user.pk}/change/",
            {"username": user.username, "email": user.email, "first_name": "A", "last_name": "B", "level": "C1"},
        )

    assert response.status_code == 302
    assert recommend(user_id=user.pk, exercises_per_error=1)["top_errors"][0]["exercises"][0]["title"] == "Hard"


def test_an_error_deleted_in_the_admin_leaves_the_counts_at_once(admin_client, user, make_error, committed):
    from tutor.ranking import top_errors

    errors = make_error.create_batch(2, user=user, errorSubCategory=3)
    assert top_errors(user_id=user.pk, last_n_days=None, limit=None)[0].frequency == 2

    with committed():
        response = admin_client.post(f"/admin/tutor/error/{errors[0].pk}/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert top_errors(user_id=user.pk, last_n_days=None, limit=None)[0].frequency == 1
