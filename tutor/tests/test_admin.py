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
    "content": '{"items": [{"prompt": "I have lived here ___ 2019.", "answer": "since"}]}',
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
