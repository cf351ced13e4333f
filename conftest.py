"""Stop the test run at once, naming the service, when PostgreSQL or Redis cannot be reached."""

import os

import pytest

START_COMMANDS = {
    "PostgreSQL": "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start",
    "Redis": 'redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no',
}


def _unreachable() -> list[str]:
    import psycopg
    import redis
    from django.conf import settings

    problems = []
    db = settings.DATABASES["default"]
    try:
        psycopg.connect(
            host=db["HOST"],
            port=db["PORT"] or 5432,
            user=db["USER"],
            password=db["PASSWORD"],
            dbname="postgres",
            connect_timeout=3,
        ).close()
    except psycopg.Error as exc:
        problems.append(f"PostgreSQL at {db['HOST']}:{db['PORT']} ({exc}). Start it: {START_COMMANDS['PostgreSQL']}")
    redis_urls = {
        "REDIS_URL": settings.REDIS_URL,
        "EVENT_BUFFER_URL": settings.EVENT_BUFFER_URL,
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
    }
    for name, url in redis_urls.items():
        try:
            redis.Redis.from_url(url, socket_connect_timeout=3).ping()
        except redis.RedisError as exc:
            problems.append(f"Redis at {name}={url} ({exc}). Start it: {START_COMMANDS['Redis']}")
    return problems


def pytest_sessionstart(session):
    if os.environ.get("PYTEST_XDIST_WORKER"):
        return
    problems = _unreachable()
    if problems:
        pytest.exit("Test services are not reachable:\n- " + "\n- ".join(problems), returncode=3)
