import pytest

from tutor.tests.test_resilience import postgresql_unreachable


@pytest.mark.django_db
def test_it_is_healthy_when_every_dependency_answers(anon):
    response = anon.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_it_names_an_unreachable_event_buffer(anon, settings):
    settings.EVENT_BUFFER_URL = "redis://127.0.0.1:1/0"

    response = anon.get("/healthz")

    assert response.status_code == 503
    assert list(response.json()["problems"]) == ["event_buffer"]


@pytest.mark.django_db(transaction=True)
def test_it_names_an_unreachable_database(anon):
    with postgresql_unreachable():
        response = anon.get("/healthz")

    assert response.status_code == 503
    assert list(response.json()["problems"]) == ["database"]
