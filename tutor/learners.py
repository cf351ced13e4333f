"""Which learners exist, and at which level, answered from the cache in front of PostgreSQL."""

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


def existing(user_ids: Iterable[UUID], cached: dict | None = None) -> set[UUID]:
    """Return those of `user_ids` that name a learner, with at most one database query.

    `cached` may hold cache entries already read (`cache_key(u)`: level, or None when absent).
    """
    return set(_levels(set(user_ids), cached or {}))


def level(user_id: UUID, cached: str | None = None) -> str | None:
    """Return the learner's CEFR level (None when not set); raise UserNotFound for an unknown id."""
    value = cached or _levels({user_id}, {}).get(user_id)
    if value is None:
        raise UserNotFound(user_id)
    return None if value == NO_LEVEL else value


def _levels(wanted: set[UUID], cached: dict) -> dict[UUID, str]:
    keys = {u: cache_key(u) for u in wanted}
    unread = [k for k in keys.values() if k not in cached]
    if unread:
        cached = {**cached, **cache.get_many(unread)}
    found = {u: cached[k] for u, k in keys.items() if cached.get(k) is not None}
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
    return user


def delete_user(user: User) -> None:
    """Delete a learner and their errors, and forget them in the cache and the read path."""
    user_id = user.pk
    with transaction.atomic():
        user.delete()
    cache.delete(cache_key(user_id))
    if buffer.enabled():
        buffer.bump_versions([user_id])
