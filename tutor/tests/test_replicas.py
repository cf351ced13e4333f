"""Read replicas against gunicorn on a private PostgreSQL primary and a streaming replica of it.

Both servers log every statement, so each test sees which of them ran the reads of a request.
Replay is paused on the replica to hold it behind the primary, as a lagging replica would be.
"""

import os
import re
import threading
import time
import uuid
from collections.abc import Callable
from typing import TypeVar

import psycopg
import pytest
import requests

from tutor.tests.gunicorn_server import GunicornServer, manage
from tutor.tests.postgres_server import PostgresServer
from tutor.tests.redis_server import RedisServer

SETUP = """
from django.contrib.auth import get_user_model
from tutor import api_keys
staff = get_user_model().objects.create_user(username="staff", is_staff=True)
print(api_keys.create(client=staff, name="replicas")[1])
"""
LISTS = ("/api/errors", "/api/exercises", "/api/users", "/api/exercise-attempts")
STATEMENT = re.compile(r"(?:statement|execute [^:]*): (SELECT .*)")
FROM = re.compile(r'\bFROM "?(tutor_\w+)')
# The tables the lists and the ranking read (not API keys, which every request may check on the primary).
READ_TABLES = {"tutor_error", "tutor_exercise", "tutor_user", "tutor_exerciseattempt", "tutor_exercisememory"}
TENSE = {"errorCategory": 1, "errorSubCategory": 3}
T = TypeVar("T")


class Stack:
    """gunicorn on a private primary with DATABASE_REPLICA_URLS naming its replica, and a private Redis."""

    def __init__(self, workdir):
        logged = ("log_statement=all",)
        self.primary = PostgresServer(options=logged)
        database = self.primary.create_database("tutor")
        self.replica = PostgresServer(replica_of=self.primary, options=logged)
        self.redis = RedisServer(workdir)
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "english_tutor.settings",
            "DJANGO_SECRET_KEY": "replicas-test-" + uuid.uuid4().hex,
            "DJANGO_DEBUG": "false",
            "DATABASE_URL": database,
            "DATABASE_REPLICA_URLS": self.replica.url("tutor"),
            "REDIS_URL": f"redis://127.0.0.1:{self.redis.port}/1",
            "EVENT_BUFFER_URL": f"redis://127.0.0.1:{self.redis.port}/0",
            "CELERY_BROKER_URL": "memory://",
        }
        manage(self.env, "migrate", "--no-input")
        self.key = manage(self.env, "shell", "-c", SETUP).splitlines()[-1]
        self.server = GunicornServer(self.env, workers=1)

    def call(self, method: str, path: str, body=None, expect: int = 200, **params) -> dict:
        response = requests.request(
            method,
            f"{self.server.url}{path}",
            json=body,
            params=params,
            headers={"Authorization": f"Token {self.key}"},
            timeout=10,
        )
        assert response.status_code == expect, response.text
        return response.json()

    def new_learner(self) -> str:
        name = f"learner-{uuid.uuid4().hex[:8]}"
        learner = {"username": name, "email": f"{name}@example.com", "first_name": "A", "last_name": "B"}
        return self.call("POST", "/api/users", learner, expect=201)["id"]

    def post_events(self, learner: str, count: int) -> None:
        self.call("POST", "/api/error-events", [{"user_id": learner, **TENSE}] * count, expect=202)

    def counted(self, learner: str) -> int:
        """Return the learner's errors as generate-exercise counts them (stored and still buffered)."""
        answer = self.call("GET", "/api/generate-exercise", user_id=learner)
        return sum(pair["errorFrequency"] for pair in answer["top_errors"])

    def listed(self, learner: str) -> int:
        """Return how many of the learner's stored errors GET /api/errors lists."""
        return self.call("GET", "/api/errors", user_id=learner, limit=1)["count"]

    def sql(self, server: PostgresServer, query: str):
        with psycopg.connect(server.url("tutor"), autocommit=True) as conn:
            return conn.execute(query).fetchone()[0]

    def wait_until_caught_up(self) -> None:
        needed = self.sql(self.primary, "SELECT pg_current_wal_insert_lsn() - '0/0'::pg_lsn")
        deadline = time.monotonic() + 20
        while self.sql(self.replica, "SELECT pg_last_wal_replay_lsn() - '0/0'::pg_lsn") < needed:
            assert time.monotonic() < deadline, "the replica did not catch up within 20 s"
            time.sleep(0.05)

    def pause_replay(self) -> None:
        self.sql(self.replica, "SELECT pg_wal_replay_pause()")
        while self.sql(self.replica, "SELECT pg_get_wal_replay_pause_state()") != "paused":
            time.sleep(0.02)

    def resume_replay(self) -> None:
        self.sql(self.replica, "SELECT pg_wal_replay_resume()")

    def served(self, read: Callable[[], T]) -> tuple[T, dict[str, set[str]]]:
        """Return what `read` returns and, per server, the tables of READ_TABLES it read there."""
        ends = {name: server.log().stat().st_size for name, server in self.servers().items()}
        result = read()
        tables = {}
        for name, server in self.servers().items():
            with server.log().open(errors="replace") as log:
                log.seek(ends[name])
                statements = STATEMENT.findall(log.read())
            tables[name] = {table for statement in statements for table in FROM.findall(statement)} & READ_TABLES
        return result, tables

    def servers(self) -> dict[str, PostgresServer]:
        return {"primary": self.primary, "replica": self.replica}

    def close(self) -> None:
        self.server.stop()
        self.redis.stop()
        self.replica.destroy()
        self.primary.destroy()


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    running = Stack(tmp_path_factory.mktemp("replicas"))
    yield running
    running.close()


def test_lists_and_cold_rankings_are_read_from_a_replica_that_caught_up(stack):
    learner = stack.new_learner()
    stack.post_events(learner, 3)
    manage(stack.env, "flush_error_events")
    stack.wait_until_caught_up()

    counted, ranking_read = stack.served(lambda: stack.counted(learner))  # cold: nothing kept of the learner yet
    lists_read = [stack.served(lambda path=path: stack.call("GET", path))[1] for path in LISTS]

    assert counted == 3
    assert ranking_read["primary"] == set()
    assert {"tutor_error", "tutor_user", "tutor_exercisememory"} <= ranking_read["replica"]  # and the bank, once
    assert lists_read == [
        {"primary": set(), "replica": {"tutor_error"}},
        {"primary": set(), "replica": {"tutor_exercise"}},
        {"primary": set(), "replica": {"tutor_user"}},
        {"primary": set(), "replica": {"tutor_exerciseattempt"}},
    ]


def test_a_replica_held_behind_a_flush_never_undercounts_and_reads_return_to_it_once_it_replays(stack):
    learner = stack.new_learner()
    stack.post_events(learner, 3)
    manage(stack.env, "flush_error_events")
    stack.wait_until_caught_up()
    stack.pause_replay()
    stack.post_events(learner, 4)
    before_flush = (stack.counted(learner), stack.listed(learner))

    # Reads go on while the flush commits the 4 buffered events and removes them from the pending set.
    seen, flushing = [], threading.Event()

    def read_on():
        while flushing.is_set():
            seen.append((stack.counted(learner), stack.listed(learner)))

    flushing.set()
    reader = threading.Thread(target=read_on)
    reader.start()
    try:
        manage(stack.env, "flush_error_events")
    finally:
        flushing.clear()
        reader.join()
    after_flush, held_behind = stack.served(lambda: (stack.counted(learner), stack.listed(learner)))
    stack.call("POST", "/api/errors", {"user_id": learner, **TENSE}, expect=201)  # a write that skips the buffer
    after_direct_write = (stack.counted(learner), stack.listed(learner))
    stack.resume_replay()
    stack.wait_until_caught_up()
    stack.post_events(learner, 1)
    replayed, caught_up = stack.served(lambda: (stack.counted(learner), stack.listed(learner)))

    assert before_flush == (7, 3)  # 4 events still buffered
    assert seen
    assert {counted for counted, _ in seen} == {7}  # every event counted once, all along
    listed = [listed for _, listed in seen]
    assert set(listed) <= {3, 7}
    assert listed == sorted(listed)  # stored rows never disappear
    assert after_flush == (7, 7)
    assert held_behind["replica"] == set()
    assert "tutor_error" in held_behind["primary"]
    assert after_direct_write == (8, 8)
    assert replayed == (9, 8)
    assert caught_up["primary"] == set()
    assert "tutor_error" in caught_up["replica"]


def test_a_read_the_replica_fails_is_answered_from_the_primary(stack):
    learner = stack.new_learner()
    stack.post_events(learner, 2)
    manage(stack.env, "flush_error_events")
    stack.wait_until_caught_up()
    assert stack.listed(learner) == 2  # read on the replica, whose replay position the app now keeps
    stack.sql(
        stack.replica,
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
        "WHERE datname = 'tutor' AND backend_type = 'client backend' AND pid <> pg_backend_pid()",
    )

    listed, read = stack.served(lambda: stack.listed(learner))

    assert listed == 2
    assert read == {"primary": {"tutor_error"}, "replica": set()}


def test_a_stopped_replica_leaves_every_read_to_the_primary(stack):
    learner = stack.new_learner()
    stack.post_events(learner, 2)
    manage(stack.env, "flush_error_events")
    stack.post_events(learner, 1)
    stack.replica.stop("immediate")
    try:
        answers, read = stack.served(
            lambda: (stack.counted(learner), stack.listed(learner), *(stack.call("GET", path) for path in LISTS))
        )
    finally:
        stack.replica.start()

    assert answers[:2] == (3, 2)
    assert read == {"primary": READ_TABLES, "replica": set()}
