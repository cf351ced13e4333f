import pytest

from tutor.models import User

pytestmark = pytest.mark.django_db


def test_it_creates_a_user(staff_api):
    payload = {"username": "mia", "email": "mia@example.com", "first_name": "Mia", "last_name": "Rossi"}

    response = staff_api.post("/api/users", payload, format="json")

    assert response.status_code == 201
    stored = User.objects.get(pk=response.json()["id"])
    assert (stored.username, stored.email) == ("mia", "mia@example.com")


def test_it_rejects_a_duplicate_email_and_a_bad_email(staff_api, user):
    response = staff_api.post(
        "/api/users", {"username": "x", "email": user.email, "first_name": "A", "last_name": "B"}, format="json"
    )
    assert response.status_code == 400
    assert "email" in response.json()

    response = staff_api.post("/api/users", {"username": "y", "email": "nope", "first_name": "A", "last_name": "B"})
    assert response.status_code == 400
    assert User.objects.count() == 1


def test_it_lists_users_in_the_reference_envelope(staff_api, make_error):
    users = [make_error().user for _ in range(3)]

    response = staff_api.get("/api/users", {"limit": 2, "offset": 1})

    assert response.status_code == 200
    body = response.json()
    assert {k: body[k] for k in ("has_previous", "has_next", "count", "offset")} == {
        "has_previous": True,
        "has_next": False,
        "count": 3,
        "offset": 1,
    }
    assert [u["username"] for u in body["results"]] == sorted(u.username for u in users)[1:]


@pytest.mark.parametrize("params", [{"limit": "0"}, {"limit": "x"}, {"limit": "5000"}, {"offset": "-1"}])
def test_a_bad_page_is_a_400_naming_the_parameter(staff_api, user, params):
    response = staff_api.get("/api/users", params)

    assert response.status_code == 400
    assert list(response.json()) == list(params)


def test_it_updates_and_deletes_a_user(staff_api, user, make_error):
    make_error(user=user)

    response = staff_api.patch(f"/api/users/{user.pk}", {"first_name": "Grace"}, format="json")
    assert response.status_code == 200
    user.refresh_from_db()
    assert user.first_name == "Grace"

    assert staff_api.delete(f"/api/users/{user.pk}").status_code == 204
    assert not User.objects.filter(pk=user.pk).exists()
    assert user.errors.count() == 0


def test_a_malformed_or_unknown_id_is_a_404(staff_api, db):
    assert staff_api.get("/api/users/not-a-uuid").status_code == 404
    assert staff_api.get("/api/users/00000000-0000-0000-0000-000000000000").status_code == 404
