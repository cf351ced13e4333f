"""Which learners exist, at which level, and when they last did each exercise.

Looked up in this process's memory, the cache, or PostgreSQL. The cache holds levels and attempts
only when it is shared by every process (Redis): a process-local cache could not be told of a
change made through another process (tutor.invalidation tells the shared one).
"""

import time
from collections.abc import Iterable
from uuid import UUID

from django.conf import settings
from django.core.cache import cache

from tutor.exceptions import UserNotFound
from tutor.models import ExerciseMemory, User
from tutor.practice import Practice

LEVEL_CACHE_SECONDS = 24 * 3600
NO_LEVEL = "-"  # cached for a learner without a level: any cached value means "exists"

# Learners this process saw exist, until when (time.monotonic()): most requests name learners
# seen moments ago, and need no round trip for them. A learner deleted meanwhile through another
# process is taken for existing up to SEEN_IN_PROCESS_SECONDS; the flush sends such events to the
# dead letters.
_seen: dict[UUID, float] = {}
SEEN_IN_PROCESS_SECONDS = 60
_SEEN_LIMIT = 100_000


def level_key(user_id: UUID) -> str:
    """Return the cache key that holds the learner's level."""
    return f"learner:{user_id}"


def practice_key(user_id: UUID) -> str:
    """Return the cache key that holds when the learner last did each exercise and when it is due."""
    return f"practice:{user_id}"


def existing(user_ids: Iterable[UUID]) -> set[UUID]:
    """Return those of `user_ids` that name a learner, with at most one database query."""
    now = time.monotonic()
    wanted = set(user_ids)
    found = {u for u in wanted if _seen.get(u, 0.0) > now}
    if len(found) < len(wanted):
        found |= set(_levels(wanted - found))
        remember(found)
    return found


def unseen(user_ids: Iterable[UUID]) -> set[UUID]:
    """Return those of `user_ids` this process has not seen exist lately."""
    now = time.monotonic()
    return {u for u in user_ids if _seen.get(u, 0.0) <= now}


def remember(user_ids: Iterable[UUID]) -> None:
    """Remember learners just found to exist, in this process, for SEEN_IN_PROCESS_SECONDS."""
    if len(_seen) >= _SEEN_LIMIT:
        _seen.clear()
    _seen.update(dict.fromkeys(user_ids, time.monotonic() + SEEN_IN_PROCESS_SECONDS))


def forget(user_ids: Iterable[UUID]) -> None:
    """Forget, in this process, that these (deleted) learners exist."""
    for user_id in user_ids:
        _seen.pop(user_id, None)


def exists(user_id: UUID) -> bool:
    """Say whether `user_id` names a learner."""
    return user_id in existing([user_id])


def profile(user_id: UUID) -> tuple[str | None, dict[UUID, Practice]]:
    """Return the learner's CEFR level (None when not set) and their practice of each exercise they did.

    Raise UserNotFound for an unknown id.
    """
    cached = cache.get_many([level_key(user_id), practice_key(user_id)]) if settings.CACHE_IS_SHARED else {}
    value = cached.get(level_key(user_id)) or _levels({user_id}).get(user_id)
    if value is None:
        raise UserNotFound(user_id)
    practice = cached.get(practice_key(user_id))
    if practice is None:
        practice = {
            exercise_id: Practice(last_done, due)
            for exercise_id, last_done, due in ExerciseMemory.objects.filter(user_id=user_id).values_list(
                "exercise_id", "last_done", "due"
            )
        }
        if settings.CACHE_IS_SHARED:
            cache.set(practice_key(user_id), practice, timeout=settings.CACHE_TIMEOUT)
    return (None if value == NO_LEVEL else value), practice


def _levels(wanted: set[UUID]) -> dict[UUID, str]:
    found = {}
    if settings.CACHE_IS_SHARED:
        cached = cache.get_many([level_key(u) for u in wanted])
        found = {u: cached[level_key(u)] for u in wanted if level_key(u) in cached}
    missing = wanted - set(found)
    if missing:
        # Only learners that exist are cached: one created later is found by the next query.
        loaded = {pk: lvl or NO_LEVEL for pk, lvl in User.objects.filter(pk__in=missing).values_list("pk", "level")}
        if settings.CACHE_IS_SHARED:
            cache.set_many({level_key(u): lvl for u, lvl in loaded.items()}, timeout=LEVEL_CACHE_SECONDS)
        found |= loaded
    return found
