"""Which learners exist, answered from the cache in front of PostgreSQL."""

from collections.abc import Iterable
from uuid import UUID

from django.core.cache import cache
from django.db import transaction

from tutor import buffer
from tutor.models import User

KNOWN_TIMEOUT = 24 * 3600


def cache_key(user_id: UUID) -> str:
    """Return the cache key that says the learner exists (read together with others on hot paths)."""
    return f"user-exists:{user_id}"


def existing(user_ids: Iterable[UUID]) -> set[UUID]:
    """Return those of `user_ids` that name a learner, with at most one database query."""
    wanted = set(user_ids)
    cached = cache.get_many([cache_key(u) for u in wanted])
    known = {u for u in wanted if cached.get(cache_key(u))}
    missing = wanted - known
    if missing:
        found = set(User.objects.filter(pk__in=missing).values_list("pk", flat=True))
        # Only existence is cached: a learner created later is found by the next query.
        cache.set_many({cache_key(u): True for u in found}, timeout=KNOWN_TIMEOUT)
        known |= found
    return known


def exists(user_id: UUID) -> bool:
    """Say whether `user_id` names a learner."""
    return user_id in existing([user_id])


def delete_user(user: User) -> None:
    """Delete a learner and their errors, and forget them in the cache and the read path."""
    user_id = user.pk
    with transaction.atomic():
        user.delete()
    cache.delete(cache_key(user_id))
    if buffer.enabled():
        buffer.bump_versions([user_id])
