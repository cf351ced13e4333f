import functools

import pytest
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.core.cache import caches
from rest_framework.test import APIClient

from english_tutor.celery import app as celery_app
from tutor import api_keys, buffer
from tutor.tests.buffer_backends import CLUSTER_SHARDS
from tutor.tests.factories import ErrorFactory, ExerciseFactory, UserFactory
from tutor.tests.redis_cluster import RedisClusterServers
from tutor.tests.redis_server import RedisServer

DEMO_USER_ID = "dcc44822-4b8d-43cf-be83-fb510ea07bae"


@pytest.fixture(autouse=True)
def _empty_cache_and_buffer(request):
    if "buffer_backend" in request.fixturenames:
        request.getfixturevalue("buffer_backend")  # first: the buffer to empty is the one the test runs on
    # Those of the backend: emptied again at the end, whatever the test pointed the settings at since.
    default_cache, buffer_client = caches["default"], buffer.client()
    default_cache.clear()
    buffer_client.flushdb()  # on a cluster, every node
    yield
    default_cache.clear()
    buffer_client.flushdb()


@pytest.fixture(autouse=True)
def _tasks_run_inline():
    """Run a task sent from the test (the beat's flush sends one per shard) in the test, as a worker would."""
    eager, propagates = celery_app.conf.task_always_eager, celery_app.conf.task_eager_propagates
    celery_app.conf.task_always_eager = celery_app.conf.task_eager_propagates = True
    yield
    celery_app.conf.task_always_eager, celery_app.conf.task_eager_propagates = eager, propagates


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory):
    """A 3-master Redis Cluster shared by the tests that run the buffer on a cluster (never stopped by them)."""
    servers = RedisClusterServers(tmp_path_factory.mktemp("redis-cluster"))
    yield servers
    servers.stop()


@pytest.fixture(params=["one Redis", "cluster"])
def buffer_backend(request, settings) -> str:
    """Run the test on the buffer of one Redis (one shard, the keys' old names) and on a 3-node cluster (16 shards)."""
    if request.param == "cluster":
        settings.EVENT_BUFFER_URL = request.getfixturevalue("redis_cluster").url
        settings.EVENT_BUFFER_CLUSTER = True
        settings.EVENT_STREAM_SHARDS = CLUSTER_SHARDS
    return request.param


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
    """Start redis-server instances of this test's own (to stop, kill or fill), stopped at its end.

    On the cluster backend, each is a private 3-node cluster, each node started with the options.
    """
    servers = []

    def start(*options):
        workdir = tmp_path / f"redis-{len(servers)}"
        workdir.mkdir()
        kind = RedisClusterServers if django_settings.EVENT_BUFFER_CLUSTER else RedisServer
        server = kind(workdir, *options)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()
