"""A PostgreSQL outage longer than the token cache, against gunicorn on a private PostgreSQL cluster."""

import os
import time
import uuid

import psycopg
import pytest
import requests

from tutor import api_keys
from tutor.tests.gunicorn_server import GunicornServer, manage
from tutor.tests.postgres_server import PostgresServer
from tutor.tests.redis_server import RedisServer

TOKEN_CACHE_SECONDS = 1
SETUP = """
from django.contrib.auth import get_user_model
from tutor import api_keys
from tutor.models import User
learner = User.objects.create(username="ada", email="ada@example.com", first_name="Ada", last_name="L")
accounts = [get_user_model().objects.create_user(username=name) for name in ("used", "never-used")]
print(learner.pk, *(api_keys.create(client=account, name=account.username)[1] for account in accounts))
"""


class Stack:
    """gunicorn (2 workers) on a private PostgreSQL cluster and a private Redis (buffer and cache)."""

    def __init__(self, workdir):
        self.pg = PostgresServer()
        self.redis = RedisServer(workdir, "--appendonly", "yes")
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "english_tutor.settings",
            "DJANGO_SECRET_KEY": "outage-test-" + uuid.uuid4().hex,
            "DJANGO_DEBUG": "false",
            "DATABASE_URL": self.pg.create_database("tutor"),
            "REDIS_URL": f"redis://127.0.0.1:{self.redis.port}/1",
            "EVENT_BUFFER_URL": f"redis://127.0.0.1:{self.redis.port}/0",
            "TOKEN_CACHE_SECONDS": str(TOKEN_CACHE_SECONDS),
        }
        self.manage("migrate", "--no-input")
        self.learner, self.token, self.unused_token = self.manage("shell", "-c", SETUP).splitlines()[-1].split()
        self.server = GunicornServer(self.env)
        self.url = self.server.url

    def manage(self, *args) -> str:
        return manage(self.env, *args)

    def post_events(self, token: str, count: int = 1) -> requests.Response:
        events = [{"user_id": self.learner, "errorCategory": 1, "errorSubCategory": 3} for _ in range(count)]
        return requests.post(
            f"{self.url}/api/error-events", json=events, headers={"Authorization": f"Token {token}"}, timeout=10
        )

    def stored(self) -> int:
        with psycopg.connect(self.env["DATABASE_URL"]) as conn:
            return conn.execute("SELECT count(*) FROM tutor_error").fetchone()[0]

    def close(self) -> None:
        self.server.stop()
        self.redis.stop()
        self.pg.destroy()


@pytest.fixture
def stack(tmp_path):
    running = Stack(tmp_path)
    yield running
    running.close()


def test_events_are_accepted_for_as_long_as_postgresql_is_down_and_counted_once_it_is_back(stack):
    assert stack.post_events(stack.token).status_code == 202  # the token is verified now
    stack.pg.stop("immediate")
    time.sleep(TOKEN_CACHE_SECONDS + 0.5)

    answers = []
    deadline = time.monotonic() + 4 * TOKEN_CACHE_SECONDS
    while time.monotonic() < deadline:
        answers.append(stack.post_events(stack.token, count=5).status_code)
        time.sleep(0.1)
    never_checked = stack.post_events(stack.unused_token)

    assert set(answers) == {202}
    assert never_checked.status_code == 503
    assert never_checked.headers["Retry-After"]
    stack.pg.start()
    stack.manage("flush_error_events")
    assert stack.stored() == 1 + 5 * len(answers)


def test_a_revoked_key_stops_working_within_the_token_cache_time(stack):
    assert stack.post_events(stack.token).status_code == 202
    with psycopg.connect(stack.env["DATABASE_URL"]) as conn:
        conn.execute("UPDATE tutor_apikey SET revoked_at = now() WHERE digest = %s", [api_keys.digest(stack.token)])

    time.sleep(TOKEN_CACHE_SECONDS + 0.5)

    assert {stack.post_events(stack.token).status_code for _ in range(6)} == {401}
