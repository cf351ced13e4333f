"""Whether the service can do its work: for load balancers and container health checks."""

from dataclasses import dataclass, field
from enum import StrEnum

import redis
from django.conf import settings
from django.db import DatabaseError, connection

from tutor import buffer


class Status(StrEnum):
    OK = "ok"
    # Every dependency answers, so requests are served, but accepted events wait too long for the flush.
    DEGRADED = "degraded"
    UNAVAILABLE = "unavailable"  # some dependency does not answer


@dataclass(frozen=True)
class Health:
    status: Status
    problems: dict[str, str] = field(default_factory=dict)  # what is wrong, by dependency or stage


def check() -> Health:
    """Say whether every dependency answers and, if so, whether the flush keeps up with accepted events."""
    unanswered = _unanswered()
    if unanswered:
        return Health(Status.UNAVAILABLE, unanswered)
    try:
        stats = buffer.pipeline_stats()
    except buffer.BufferUnavailable as exc:
        return Health(Status.UNAVAILABLE, {"event_buffer": f"unreachable: {exc}"})
    age = stats.oldest_age_seconds if stats else None  # None: no buffer, or nothing waits in it
    bound = settings.HEALTH_MAX_FLUSH_LAG_SECONDS
    if age is not None and age > bound:
        return Health(Status.DEGRADED, {"flush": f"the oldest unflushed event is {age:.1f} s old (bound: {bound:g} s)"})
    return Health(Status.OK)


def _unanswered() -> dict[str, str]:
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
