import pytest

from tutor.models import Exercise

pytestmark = pytest.mark.django_db

VALID = {
    "title": "Third person -s",
    "errorCategory": 1,
    "errorSubCategory": 4,
    "exercise_type": "multiple_choice",
    "level": "A2",
    "instructions": "Say the correct sentence aloud.",
    "content": {
        "answer_mode": "choice",
        "items": [
            {"id": "api.1", "question": "She ___ tea.", "options": ["like", "likes", "liking"], "answer": "likes"}
        ],
    },
}


def test_it_creates_an_exercise(staff_api):
    response = staff_api.post("/api/exercises", VALID, format="json")

    assert response.status_code == 201
    stored = Exercise.objects.get(pk=response.json()["id"])
    assert (stored.title, stored.is_active, stored.content) == (VALID["title"], True, VALID["content"])


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"errorCategory": 3}, "errorSubCategory"),
        ({"level": "D1"}, "level"),
        ({"exercise_type": "essay"}, "exercise_type"),
        ({"content": {"items": []}}, "content"),
        ({"content": {"items": [{"question": "?", "options": ["a", "b"], "answer": "c"}]}}, "content"),
        ({"content": "just text"}, "content"),
        ({"title": ""}, "title"),
    ],
)
def test_it_rejects_a_bad_exercise(staff_api, change, field):
    response = staff_api.post("/api/exercises", {**VALID, **change}, format="json")

    assert response.status_code == 400
    assert field in response.json()
    assert Exercise.objects.count() == 0


def test_a_partial_update_changes_the_pair_whole_or_not_at_all(staff_api, make_exercise):
    exercise = make_exercise(errorSubCategory=3)

    response = staff_api.patch(f"/api/exercises/{exercise.pk}", {"errorSubCategory": 9}, format="json")
    assert response.status_code == 400
    assert response.json() == {"errorCategory": ["Send errorCategory with errorSubCategory: they change together."]}

    response = staff_api.patch(
        f"/api/exercises/{exercise.pk}", {"errorCategory": 1, "errorSubCategory": 9}, format="json"
    )
    assert response.status_code == 400
    assert "errorSubCategory" in response.json()

    response = staff_api.patch(
        f"/api/exercises/{exercise.pk}", {"errorCategory": 3, "errorSubCategory": 9}, format="json"
    )
    assert response.status_code == 200
    exercise.refresh_from_db()
    assert (exercise.errorCategory, exercise.errorSubCategory) == (3, 9)

    response = staff_api.patch(f"/api/exercises/{exercise.pk}", {"level": "C1", "is_active": False}, format="json")
    assert response.status_code == 200
    exercise.refresh_from_db()
    assert (exercise.level, exercise.is_active) == ("C1", False)


def test_it_filters_exercises(staff_api, make_exercise):
    make_exercise(errorSubCategory=3, level="A2", exercise_type="gap_fill")
    make_exercise(errorSubCategory=3, level="B2", exercise_type="gap_fill", is_active=False)
    make_exercise(errorSubCategory=9, level="A2", exercise_type="gap_fill")

    def count(**params):
        return staff_api.get("/api/exercises", params).json()["count"]

    assert count(errorSubCategory=3) == 2
    assert count(errorCategory=3) == 1
    assert count(level="A2", is_active="true") == 2
    assert count(exercise_type="gap_fill", is_active="false") == 1
    assert staff_api.get("/api/exercises", {"level": "Z9"}).status_code == 400


def test_it_deletes_an_exercise(staff_api, make_exercise):
    exercise = make_exercise()

    assert staff_api.delete(f"/api/exercises/{exercise.pk}").status_code == 204
    assert not Exercise.objects.exists()


def test_an_item_id_is_unique_in_the_whole_bank(staff_api, make_exercise):
    other = make_exercise(title="Present simple", content={**VALID["content"]})
    response = staff_api.post("/api/exercises", VALID, format="json")
    assert response.status_code == 400
    assert response.json()["content"] == [f"content.items[0]['id']: 'api.1' is already used by {other.title!r}"]

    renamed = {**VALID["content"], "items": [{**VALID["content"]["items"][0], "id": "api.2"}]}
    created = staff_api.post("/api/exercises", {**VALID, "content": renamed}, format="json")
    assert created.status_code == 201
    # An exercise keeps its own ids when it is changed.
    changed = staff_api.patch(f"/api/exercises/{created.json()['id']}", {"title": "Renamed"}, format="json")
    assert changed.status_code == 200
    changed = staff_api.patch(f"/api/exercises/{created.json()['id']}", {"content": renamed}, format="json")
    assert changed.status_code == 400  # the content travels with its type
    both = {"exercise_type": "multiple_choice", "content": renamed}
    assert staff_api.patch(f"/api/exercises/{created.json()['id']}", both, format="json").status_code == 200
