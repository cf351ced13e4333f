"""GET /metrics: who may read it, and whether its numbers follow the pipeline and the requests."""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection
from prometheus_client.parser import text_string_to_metric_families

from tutor import api_keys, buffer, ingest
from tutor.models import Error

PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"
ERROR_EVENTS_ANSWERED = 'tutor_http_request_duration_seconds_count{endpoint="error-events",method="POST",status="202"}'


def series(text: str) -> dict[str, float]:
    """Read Prometheus's text format as {'name{label="value",...}': value}, the way Prometheus names series."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f'{name}="{value}"' for name, value in sorted(sample.labels.items()))
            found[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return found


def scrape(client) -> dict[str, float]:
    response = client.get("/metrics")
    assert response.status_code == 200, response.content
    return series(response.content.decode())


def report_errors(client, user, count: int):
    events = [{"user_id": str(user.pk), "errorCategory": 1, "errorSubCategory": 3} for _ in range(count)]
    return client.post("/api/error-events", events, format="json")


@pytest.mark.django_db
def test_it_refuses_anonymous_callers_with_401(anon):
    response = anon.get("/metrics")

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert b"tutor_" not in response.content


@pytest.mark.django_db
def test_it_refuses_clients_that_are_not_staff(api):
    response = api.get("/metrics")

    assert response.status_code == 403
    assert b"tutor_" not in response.content


@pytest.mark.django_db
def test_it_serves_a_staff_token_in_the_prometheus_text_format(staff_api):
    response = staff_api.get("/metrics", HTTP_ACCEPT="application/openmetrics-text;version=1.0.0,*/*;q=0.1")

    assert response.status_code == 200
    assert response["Content-Type"] == PROMETHEUS_TEXT
    scraped = series(response.content.decode())
    assert scraped["tutor_buffer_up"] == 1
    assert scraped["tutor_buffer_entries"] == 0


@pytest.mark.django_db
def test_it_serves_a_signed_in_staff_member(client):
    client.force_login(get_user_model().objects.create_user(username="curator", is_staff=True))

    assert scrape(client)["tutor_buffer_up"] == 1


@pytest.mark.django_db
def test_it_is_left_out_of_the_openapi_document(client):
    response = client.get("/api/schema", HTTP_ACCEPT="application/json")

    assert response.status_code == 200
    assert "/metrics" not in response.json()["paths"]


@pytest.mark.django_db
def test_it_shows_the_buffer_filling_and_then_draining_after_a_flush(api, staff_api, user):
    before = scrape(staff_api)
    assert before["tutor_buffer_entries"] == 0
    assert before["tutor_buffer_oldest_unflushed_age_seconds"] == 0

    assert report_errors(api, user, 3).status_code == 202
    assert report_errors(api, user, 2).status_code == 202
    time.sleep(0.05)
    filling = scrape(staff_api)
    time.sleep(0.05)
    older = scrape(staff_api)

    assert filling["tutor_buffer_entries"] == 2
    assert filling["tutor_buffer_oldest_unflushed_age_seconds"] >= 0.05
    assert older["tutor_buffer_oldest_unflushed_age_seconds"] > filling["tutor_buffer_oldest_unflushed_age_seconds"]

    ingest.flush()
    drained = scrape(staff_api)

    assert Error.objects.filter(user=user).count() == 5
    assert drained["tutor_buffer_entries"] == 0
    assert drained["tutor_buffer_oldest_unflushed_age_seconds"] == 0


@pytest.mark.django_db
def test_it_counts_requests_by_url_pattern_method_and_status_never_by_path(api, staff_api, user):
    before = scrape(staff_api)

    assert report_errors(api, user, 1).status_code == 202
    assert report_errors(api, user, 1).status_code == 202
    assert api.post("/api/error-events", {"user_id": "nobody"}, format="json").status_code == 400
    assert api.get(f"/api/no-such-thing-{uuid.uuid4()}").status_code == 404
    response = staff_api.get("/metrics")
    after = series(response.content.decode())

    def counted(series_name: str) -> float:
        return after.get(series_name, 0) - before.get(series_name, 0)

    assert counted(ERROR_EVENTS_ANSWERED) == 2
    assert counted(ERROR_EVENTS_ANSWERED.replace("202", "400")) == 1
    assert counted('tutor_http_request_duration_seconds_count{endpoint="unmatched",method="GET",status="404"}') == 1
    assert b"no-such-thing" not in response.content


@pytest.mark.django_db
@pytest.mark.parametrize("buffer_url", ["redis://127.0.0.1:1/0", ""], ids=["unreachable", "absent"])
def test_it_counts_events_written_through_when_there_is_no_buffer_to_take_them(
    api, staff_api, user, settings, buffer_url
):
    settings.EVENT_BUFFER_URL = buffer_url
    before = scrape(staff_api)

    assert report_errors(api, user, 3).status_code == 202
    after = scrape(staff_api)

    assert Error.objects.filter(user=user).count() == 3
    assert after["tutor_events_written_through_total"] - before["tutor_events_written_through_total"] == 3
    assert after["tutor_buffer_up"] == 0
    assert "tutor_buffer_entries" not in after
    assert "tutor_events_accepted_total" not in after


# The next three read the counters the buffer's scripts keep in tutor:stats.


@pytest.mark.django_db
def test_it_counts_the_events_the_buffer_accepted(api, staff_api, user):
    before = scrape(staff_api)

    assert report_errors(api, user, 5).status_code == 202
    after = scrape(staff_api)

    assert after["tutor_events_accepted_total"] - before["tutor_events_accepted_total"] == 5
    assert after["tutor_events_written_through_total"] == before["tutor_events_written_through_total"]


@pytest.mark.django_db
def test_it_counts_flushed_events_and_times_each_flushed_batch(api, staff_api, user):
    assert report_errors(api, user, 5).status_code == 202
    before = scrape(staff_api)

    report = ingest.flush()
    after = scrape(staff_api)

    assert report.batches == 1
    assert after["tutor_events_flushed_total"] - before["tutor_events_flushed_total"] == 5
    assert after["tutor_flush_duration_seconds_count"] - before["tutor_flush_duration_seconds_count"] == 1
    assert after["tutor_flush_duration_seconds_sum"] > before["tutor_flush_duration_seconds_sum"]
    assert after['tutor_flush_duration_seconds_bucket{le="+Inf"}'] == after["tutor_flush_duration_seconds_count"]
    assert after['tutor_flush_duration_seconds_bucket{le="60.0"}'] == after["tutor_flush_duration_seconds_count"]


@pytest.mark.django_db
def test_it_counts_a_poison_entry_as_dead_lettered(staff_api):
    buffer.client().xadd(buffer.keys.STREAM, {"events": "this is not json"})
    before = scrape(staff_api)

    assert ingest.flush().dead == 1
    after = scrape(staff_api)

    assert after["tutor_events_dead_lettered_total"] - before["tutor_events_dead_lettered_total"] == 1
    assert after["tutor_buffer_dead_letters"] == before["tutor_buffer_dead_letters"] + 1
    assert after["tutor_events_flushed_total"] == before["tutor_events_flushed_total"]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _workers(master: int) -> set[int]:
    return {int(pid) for pid in open(f"/proc/{master}/task/{master}/children").read().split()}


def _wait_for(condition, *, seconds: float, failure: str):
    deadline = time.monotonic() + seconds
    while not (found := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(failure)
        time.sleep(0.1)
    return found


@pytest.mark.django_db(transaction=True)
def test_it_adds_up_every_gunicorn_worker_those_replaced_included(tmp_path):
    _, token = api_keys.create(
        client=get_user_model().objects.create_user(username="scraper", is_staff=True), name="scraper"
    )
    db = connection.settings_dict
    port = _free_port()
    env = {
        **{name: value for name, value in os.environ.items() if name != "PROMETHEUS_MULTIPROC_DIR"},
        "DJANGO_SETTINGS_MODULE": "english_tutor.settings_test",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "REDIS_URL": settings.REDIS_URL,
        "EVENT_BUFFER_URL": settings.EVENT_BUFFER_URL,
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_WORKERS": "2",
        "TMPDIR": str(tmp_path),  # where the config makes the metrics' directory
    }
    log = tmp_path / "gunicorn.log"
    serve = [sys.executable, "-m", "gunicorn", "-c", "python:english_tutor.gunicorn", "english_tutor.wsgi:application"]
    master = subprocess.Popen(
        [*serve, "--no-control-socket"],  # the default control socket is shared by every gunicorn of this account
        env=env,
        cwd=settings.BASE_DIR,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )

    def get(path: str, **headers) -> tuple[int, str]:
        request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()
        except OSError:
            return 0, ""

    try:
        _wait_for(lambda: get("/healthz")[0] == 200, seconds=60, failure=f"no answer:\n{log.read_text()}")
        for _ in range(20):
            assert get("/no-such-page")[0] == 404
        first = _wait_for(lambda: _workers(master.pid), seconds=10, failure="no workers")

        master.send_signal(signal.SIGHUP)  # replace every worker with a new one
        _wait_for(
            lambda: len(now := _workers(master.pid)) == 2 and not now & first,
            seconds=60,
            failure=f"the workers were not replaced:\n{log.read_text()}",
        )
        status, text = get("/metrics", Authorization=f"Token {token}")
    finally:
        os.killpg(master.pid, signal.SIGTERM)
        master.wait(timeout=30)

    assert status == 200, text
    scraped = series(text)
    assert scraped['tutor_http_request_duration_seconds_count{endpoint="unmatched",method="GET",status="404"}'] == 20
    assert scraped["tutor_buffer_up"] == 1
    assert list(tmp_path.glob("tutor-metrics-*/*.db"))
    assert "Traceback" not in log.read_text()
