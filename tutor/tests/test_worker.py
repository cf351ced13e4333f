"""The flush run by a real Celery worker (and beat), including a worker killed in the middle of a flush."""

import os
import signal
import subprocess
import sys
import time
import uuid

import psycopg
import pytest
import redis
from django.conf import settings
from django.db import connection

from english_tutor.celery import app as celery_app
from tutor import buffer, ingest
from tutor.models import Error
from tutor.tasks import flush_error_events
from tutor.tests.buffer_backends import buffer_environment
from tutor.tests.test_flush import make_events, total

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("buffer_backend")]


def wait_for(condition, timeout, message):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(message)
        time.sleep(0.1)


@pytest.fixture
def start_worker(tmp_path):
    redis.Redis.from_url(settings.CELERY_BROKER_URL).flushdb()
    celery_app.conf.task_always_eager = False  # tasks go to the worker (the autouse fixture restores it)
    workers = []
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "english_tutor.settings_test",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "REDIS_URL": settings.REDIS_URL,
        **buffer_environment(),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "CELERY_TASK_TIME_LIMIT": "6",
        "CELERY_TASK_SOFT_TIME_LIMIT": "4",
        "ERROR_FLUSH_INTERVAL": "0.5",
    }

    def start(*extra):
        log = tmp_path / f"worker{len(workers)}.log"
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "english_tutor",
                "worker",
                "--pool",
                "solo",
                "--loglevel",
                "INFO",
                "--without-gossip",
                "--without-mingle",
                "--schedule",
                str(tmp_path / "beat-schedule"),
                *extra,
            ],
            env=env,
            cwd=settings.BASE_DIR,
            stdout=log.open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        workers.append(process)
        wait_for(lambda: "ready." in log.read_text(), 60, f"the worker did not start:\n{log.read_text()}")
        return process

    yield start
    for process in workers:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def test_beat_and_a_worker_flush_accepted_events_on_their_own(api, user, start_worker):
    start_worker("--beat")
    response = api.post(
        "/api/error-events",
        [{"user_id": str(user.pk), "errorCategory": 3, "errorSubCategory": 9} for _ in range(25)],
        format="json",
    )
    assert response.status_code == 202

    wait_for(lambda: Error.objects.filter(user=user).count() == 25, 30, "beat never flushed the events")
    assert set(Error.objects.values_list("event_id", flat=True)) == {uuid.UUID(i) for i in response.json()["event_ids"]}
    wait_for(lambda: buffer.backlog()["entries"] == 0, 10, "the stream was not emptied")
    assert total(user) == 25


def test_a_worker_killed_mid_flush_loses_nothing_and_a_fresh_worker_recovers(user, start_worker):
    events = make_events(user, 40)
    for chunk in (events[:20], events[20:]):
        ingest.accept_events(chunk)
    db = connection.settings_dict
    # Lock the errors table: the worker's flush then waits in its INSERT and is killed there,
    # before it could send its COMMIT. (A COMMIT already sent would complete without the client.)
    params = {"host": db["HOST"], "port": db["PORT"], "user": db["USER"], "dbname": db["NAME"]}
    with psycopg.connect(**params) as blocker, psycopg.connect(**params, autocommit=True) as observer:
        blocker.execute("LOCK TABLE tutor_error IN SHARE MODE")
        worker = start_worker()
        flush_error_events.delay()

        def insert_is_waiting():
            row = observer.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
            ).fetchone()
            return row[0] > 0

        wait_for(insert_is_waiting, 30, "the worker's flush never reached its INSERT")
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)
        blocker.rollback()

        def killed_backend_is_gone():
            row = observer.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid() AND state <> 'idle'"
            ).fetchone()
            return row[0] == 0

        wait_for(killed_backend_is_gone, 30, "the killed worker's transaction did not end")

    assert Error.objects.count() == 0
    assert buffer.backlog()["entries"] == 2
    assert total(user) == 40

    start_worker()

    def recovered():
        flush_error_events.delay()  # beat's job; the dead worker's lock lapses within two flush intervals
        return Error.objects.filter(user=user).count() == 40

    wait_for(recovered, 40, "the fresh worker did not recover the entries")
    assert set(Error.objects.values_list("event_id", flat=True)) == {e.event_id for e in events}
    wait_for(lambda: buffer.backlog() == {"entries": 0, "dead": 0}, 10, "the stream was not emptied")
    assert total(user) == 40
