"""Whether the service's dependencies answer: for load balancers and container health checks."""

import redis
from django.conf import settings
from django.db import DatabaseError, connection

from tutor import buffer


def problems() -> dict[str, str]:
    """Return each dependency that does not answer, with why (empty when all is well)."""
    found = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError as exc:
        found["database"] = f"unreachable: {exc}".strip()
    checks = {"cache": settings.REDIS_URL} if settings.REDIS_URL else {}
    if buffer.enabled():
        checks["event_buffer"] = settings.EVENT_BUFFER_URL
    for name, url in checks.items():
        try:
            redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1).ping()
        except redis.RedisError as exc:
            found[name] = f"unreachable: {exc}"
    return found
