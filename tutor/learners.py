"""Which learners exist, and at which level: seen by this process, known to the buffer, cached, or in PostgreSQL."""

import time
from collections.abc import Iterable
from uuid import UUID

from django.core.cache import cache
from django.db import transaction

from tutor import buffer
from tutor.exceptions import UserNotFound
from tutor.models import User

KNOWN_TIMEOUT = 24 * 3600
NO_LEVEL = "-"  # cached for a learner without a level: any cached value means "exists"


def cache_key(user_id: UUID) -> str:
    """Return the cache key that holds the learner's level (read together with others on hot paths)."""
    return f"learner:{user_id}"


# Learners this process saw exist, until when (time.monotonic()): most requests name learners
# seen moments ago, and need no round trip for them. A learner deleted meanwhile through another
# process is taken for existing up to SEEN_SECONDS; the flush sends such events to the dead letters.
_seen: dict[UUID, float] = {}
SEEN_SECONDS = 60
_SEEN_LIMIT = 100_000


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
    """Remember learners just found to exist, in this process, for SEEN_SECONDS."""
    if len(_seen) >= _SEEN_LIMIT:
        _seen.clear()
    _seen.update(dict.fromkeys(user_ids, time.monotonic() + SEEN_SECONDS))


def level(user_id: UUID, cached: str | None = None) -> str | None:
    """Return the learner's CEFR level (None when not set); raise UserNotFound for an unknown id."""
    value = cached or _levels({user_id}).get(user_id)
    if value is None:
        raise UserNotFound(user_id)
    return None if value == NO_LEVEL else value


def _levels(wanted: set[UUID]) -> dict[UUID, str]:
    cached = cache.get_many([cache_key(u) for u in wanted])
    found = {u: cached[cache_key(u)] for u in wanted if cache_key(u) in cached}
    missing = wanted - set(found)
    if missing:
        # Only learners that exist are cached: one created later is found by the next query.
        loaded = {pk: lvl or NO_LEVEL for pk, lvl in User.objects.filter(pk__in=missing).values_list("pk", "level")}
        cache.set_many({cache_key(u): lvl for u, lvl in loaded.items()}, timeout=KNOWN_TIMEOUT)
        found |= loaded
    return found


def exists(user_id: UUID) -> bool:
    """Say whether `user_id` names a learner."""
    return user_id in existing([user_id])


def save_user(user: User) -> User:
    """Store a new or changed learner and refresh what the cache knows of them."""
    with transaction.atomic():
        user.save()
    cache.delete(cache_key(user.pk))
    buffer.bump_versions([user.pk])  # the level may have changed
    return user


def delete_user(user: User) -> None:
    """Delete a learner and their errors, and forget them in the cache and the read path."""
    user_id = user.pk
    with transaction.atomic():
        user.delete()
    cache.delete(cache_key(user_id))
    _seen.pop(user_id, None)
    buffer.bump_versions([user_id], deleted=True)
