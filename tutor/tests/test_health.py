import re
import uuid

import orjson
import pytest
from django.utils import timezone

from tutor import buffer, ingest
from tutor.buffer import Event
from tutor.models import Error
from tutor.tests.test_resilience import postgresql_unreachable
from tutor.tests.test_settings import manage


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


def buffer_an_event_accepted_seconds_ago(user, seconds: float) -> Event:
    """Put an event in the stream under an entry id dated `seconds` ago, as if it had waited that long."""
    event = Event(uuid.uuid4(), user.pk, 1, 3, timezone.now())
    now_seconds, now_micros = buffer.client().time()
    entry_ms = int((now_seconds + now_micros / 1e6 - seconds) * 1000)
    buffer.client().xadd(buffer.keys.STREAM, {"events": orjson.dumps([tuple(event.buffered())])}, id=f"{entry_ms}-0")
    return event


@pytest.mark.django_db
def test_it_is_degraded_but_serving_while_the_oldest_event_waits_past_the_bound(anon, user, settings):
    settings.HEALTH_MAX_FLUSH_LAG_SECONDS = 1
    buffer_an_event_accepted_seconds_ago(user, 75)

    response = anon.get("/healthz")

    assert response.status_code == 200
    assert response.json()["status"] == "degraded"
    assert list(response.json()["problems"]) == ["flush"]
    assert re.fullmatch(
        r"the oldest unflushed event is 75\.\d s old \(bound: 1 s\)", response.json()["problems"]["flush"]
    )


@pytest.mark.django_db
def test_it_is_ok_again_once_the_flush_caught_up(anon, user, settings):
    settings.HEALTH_MAX_FLUSH_LAG_SECONDS = 1
    event = buffer_an_event_accepted_seconds_ago(user, 75)
    assert anon.get("/healthz").json()["status"] == "degraded"

    ingest.flush()
    response = anon.get("/healthz")

    assert Error.objects.filter(event_id=event.event_id).exists()
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_it_stays_ok_while_events_wait_less_than_the_bound(api, anon, user):
    event = {"user_id": str(user.pk), "errorCategory": 1, "errorSubCategory": 3}
    assert api.post("/api/error-events", event, format="json").status_code == 202

    response = anon.get("/healthz")

    assert buffer.backlog()["entries"] == 1
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db(transaction=True)
def test_a_dependency_that_does_not_answer_outranks_a_lagging_flush(anon, user, settings):
    settings.HEALTH_MAX_FLUSH_LAG_SECONDS = 1
    buffer_an_event_accepted_seconds_ago(user, 75)

    with postgresql_unreachable():
        response = anon.get("/healthz")

    assert response.status_code == 503
    assert response.json()["status"] == "unavailable"
    assert list(response.json()["problems"]) == ["database"]


@pytest.mark.parametrize("bound", ["0", "-5"])
def test_a_flush_lag_bound_that_is_not_positive_stops_the_start_naming_it(bound):
    result = manage("check", DJANGO_DEBUG="true", HEALTH_MAX_FLUSH_LAG_SECONDS=bound)

    assert result.returncode != 0
    assert "HEALTH_MAX_FLUSH_LAG_SECONDS must be a positive number" in result.stderr.strip().splitlines()[-1]
