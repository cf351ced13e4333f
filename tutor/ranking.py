"""Reads: a learner's weakest (category, subcategory) pairs and the exercises that train them."""

import logging
from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from uuid import UUID, uuid4

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.db.models import Count, Max
from django.utils import timezone

from tutor import buffer, learners
from tutor.exceptions import UserNotFound
from tutor.models import Error, Exercise
from tutor.taxonomy import CATEGORY_OF, ErrorCategory, ErrorSubCategory

logger = logging.getLogger(__name__)

BANK_VERSION_KEY = "exercise-bank:version"
EXERCISE_FIELDS = ("id", "title", "exercise_type", "level", "instructions", "content")


@dataclass(frozen=True)
class ErrorStat:
    category: int
    subcategory: int
    frequency: int
    last_seen: datetime


def rank(stats: list[ErrorStat]) -> list[ErrorStat]:
    """Order pairs by frequency, then the most recent error, then subcategory number."""
    return sorted(stats, key=lambda s: (-s.frequency, -s.last_seen.timestamp(), s.subcategory))


def top_errors(*, user_id: UUID, last_n_days: int | None, limit: int | None) -> list[ErrorStat]:
    """Return the user's most frequent error pairs of the last N days (all time when None), at most `limit`."""
    return _top_errors(user_id, last_n_days, limit, cache.get(_stats_key(user_id)))


def _top_errors(user_id: UUID, last_n_days: int | None, limit: int | None, cached: dict | None) -> list[ErrorStat]:
    since = timezone.now() - timedelta(days=last_n_days) if last_n_days else None
    if not buffer.enabled():
        return rank(_stored_stats(user_id, since))[:limit]
    try:
        # Pending events are read BEFORE PostgreSQL: an event flushed between the two reads is
        # then seen as pending and found stored, and counted once, from PostgreSQL.
        snap = buffer.snapshot(user_id, None if since is None else buffer.to_micros(since))
    except buffer.BufferUnavailable as exc:
        logger.warning("Event buffer unreachable, ranking from PostgreSQL only: %s", exc)
        return rank(_stored_stats(user_id, since))[:limit]
    pending_ids = [p.event_id for p in snap.pending]
    window = last_n_days or 0
    cached = cached or {}
    version, rows = cached.get(window, (None, None))
    # Cached counts are labelled with the user's version read before their query; every flush
    # bumps it (atomically with removing its events from pending) after committing. So counts
    # of the snapshot's version hold every row flushed before the snapshot, and any row of a
    # flush still in progress is one of our pending events, which the check below finds.
    if version == snap.version and not (pending_ids and _already_stored(pending_ids)):
        stats, stored = [ErrorStat(CATEGORY_OF[sub], sub, n, last) for sub, n, last in rows], set()
    else:
        stats, stored = _stored_stats_and_ids(user_id, since, pending_ids)
        rows = [(s.subcategory, s.frequency, s.last_seen) for s in stats]
        cache.set(_stats_key(user_id), {**cached, window: (snap.version, rows)}, settings.RANKING_CACHE_SECONDS)
    return rank(_with_pending(stats, [p for p in snap.pending if p.event_id not in stored]))[:limit]


def _stats_key(user_id: UUID) -> str:
    return f"error-stats:{user_id}"


def forget_stats(user_ids: set[UUID]) -> None:
    """Drop the users' cached counts (after a write that did not go through the buffer)."""
    cache.delete_many([_stats_key(u) for u in user_ids])


def _stored_stats(user_id: UUID, since: datetime | None) -> list[ErrorStat]:
    errors = Error.objects.filter(user_id=user_id)
    if since is not None:
        errors = errors.filter(timestamp_utc__gte=since)
    rows = errors.values("errorSubCategory").annotate(frequency=Count("pk"), last_seen=Max("timestamp_utc"))
    return [
        ErrorStat(CATEGORY_OF[row["errorSubCategory"]], row["errorSubCategory"], row["frequency"], row["last_seen"])
        for row in rows.order_by()
    ]


def _already_stored(event_ids: list[UUID]) -> bool:
    return Error.objects.filter(event_id__in=event_ids).exists()


def _stored_stats_and_ids(user_id: UUID, since: datetime | None, event_ids: list[UUID]):
    """Return the user's counts per pair and which of `event_ids` are stored, from ONE snapshot of the database."""
    window = "" if since is None else "AND timestamp_utc >= %(since)s"
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT "errorSubCategory", count(*), max(timestamp_utc), NULL::uuid
              FROM tutor_error WHERE user_id = %(user_id)s {window} GROUP BY "errorSubCategory"
            UNION ALL
            SELECT NULL, NULL, NULL, event_id FROM tutor_error WHERE event_id = ANY(%(event_ids)s::uuid[])
            """,
            {"user_id": user_id, "since": since, "event_ids": event_ids},
        )
        rows = cursor.fetchall()
    stats = [ErrorStat(CATEGORY_OF[sub], sub, n, last) for sub, n, last, _ in rows if sub is not None]
    return stats, {event_id for sub, _, _, event_id in rows if sub is None}


def _with_pending(stats: list[ErrorStat], pending: list[buffer.PendingEvent]) -> list[ErrorStat]:
    by_sub = {s.subcategory: s for s in stats}
    for event in pending:
        seen = buffer.from_micros(event.micros)
        current = by_sub.get(event.subcategory)
        if current is None:
            by_sub[event.subcategory] = ErrorStat(CATEGORY_OF[event.subcategory], event.subcategory, 1, seen)
        else:
            by_sub[event.subcategory] = replace(
                current, frequency=current.frequency + 1, last_seen=max(current.last_seen, seen)
            )
    return list(by_sub.values())


_local_bank: tuple[str, dict[int, list[dict]]] = ("", {})


def exercise_bank(version: str | None = None) -> dict[int, list[dict]]:
    """Return the active exercises by subcategory, in recommendation order, for the bank's current version."""
    global _local_bank
    # The version is read before the database: a bank loaded while a curator's change commits is
    # kept under the old version, which nobody uses once the change has bumped it.
    if version is None:
        # A fresh random version, never a counter: after a cache reset, a process must not
        # mistake its old bank for the current one.
        version = cache.get_or_set(BANK_VERSION_KEY, uuid4().hex, timeout=None)
    if _local_bank[0] == version:
        return _local_bank[1]
    key = f"exercise-bank:{version}"
    bank = cache.get(key)
    if bank is None:
        bank = defaultdict(list)
        for exercise in Exercise.objects.filter(is_active=True).order_by("errorSubCategory", "level", "title", "id"):
            bank[exercise.errorSubCategory].append({field: getattr(exercise, field) for field in EXERCISE_FIELDS})
        bank = dict(bank)
        cache.set(key, bank, timeout=settings.CACHE_TIMEOUT)
    _local_bank = (version, bank)
    return bank


def exercise_bank_changed() -> None:
    """Make every reader load the exercise bank afresh."""
    cache.set(BANK_VERSION_KEY, uuid4().hex, timeout=None)


def recommend(
    *, user_id: UUID, last_n_days: int | None = None, top_n_errors: int | None = None, exercises_per_error: int = 3
) -> dict:
    """Return the user's top error pairs over the window, each with exercises that train it."""
    known_key, stats_key = learners.cache_key(user_id), _stats_key(user_id)
    cached = cache.get_many([known_key, stats_key, BANK_VERSION_KEY])  # one round trip for the hot path
    if not cached.get(known_key) and not learners.exists(user_id):
        raise UserNotFound(user_id)
    bank = exercise_bank(cached.get(BANK_VERSION_KEY))
    return {
        "user_id": user_id,
        "top_errors": [
            {
                "errorCategory": ErrorCategory(stat.category).label,
                "errorSubCategory": ErrorSubCategory(stat.subcategory).label,
                "errorFrequency": stat.frequency,
                "exercises": bank.get(stat.subcategory, [])[:exercises_per_error],
            }
            for stat in _top_errors(user_id, last_n_days, top_n_errors, cached.get(stats_key))
        ],
    }
