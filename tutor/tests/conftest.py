import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from tutor import buffer
from tutor.tests.factories import ErrorFactory, ExerciseFactory, UserFactory

DEMO_USER_ID = "dcc44822-4b8d-43cf-be83-fb510ea07bae"


@pytest.fixture(autouse=True)
def _empty_cache_and_buffer():
    cache.clear()
    buffer.client().flushdb()
    yield
    cache.clear()
    buffer.client().flushdb()


@pytest.fixture
def api():
    return APIClient()


@pytest.fixture
def user(db):
    return UserFactory()


@pytest.fixture
def make_error(db):
    return ErrorFactory


@pytest.fixture
def make_exercise(db):
    return ExerciseFactory
