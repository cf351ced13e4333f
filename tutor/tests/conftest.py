import functools

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from rest_framework.test import APIClient

from tutor import api_keys, buffer
from tutor.tests.factories import ErrorFactory, ExerciseFactory, UserFactory
from tutor.tests.redis_server import RedisServer

DEMO_USER_ID = "dcc44822-4b8d-43cf-be83-fb510ea07bae"


@pytest.fixture(autouse=True)
def _empty_cache_and_buffer():
    cache.clear()
    buffer.client().flushdb()
    yield
    cache.clear()
    buffer.client().flushdb()


def _client_with_key(*, staff: bool) -> APIClient:
    account = get_user_model().objects.create_user(username="staff-client" if staff else "service", is_staff=staff)
    _, key = api_keys.create(client=account, name=account.username)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """`with committed(): ...` runs what the writes inside defer to their commit, as a real commit would."""
    return functools.partial(django_capture_on_commit_callbacks, execute=True)


@pytest.fixture
def anon():
    """A client without credentials."""
    return APIClient()


@pytest.fixture
def api(db):
    """A service client (not staff) with a valid API key."""
    return _client_with_key(staff=False)


@pytest.fixture
def staff_api(db):
    """A staff client with a valid API key."""
    return _client_with_key(staff=True)


@pytest.fixture
def user(db):
    return UserFactory()


@pytest.fixture
def make_error(db):
    return ErrorFactory


@pytest.fixture
def make_exercise(db):
    return ExerciseFactory


@pytest.fixture
def fast_passwords(settings):
    """Hash new passwords with a cheap hasher, for tests that sign in many times (old hashes still check)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher", *settings.PASSWORD_HASHERS]


@pytest.fixture
def private_redis(tmp_path):
    """Start redis-server instances of this test's own (to stop, kill or fill), stopped at its end."""
    servers = []

    def start(*options):
        server = RedisServer(tmp_path, *options)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()
