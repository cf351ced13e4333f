"""Reads: a learner's weakest (category, subcategory) pairs and the exercises that train them."""

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, Max
from django.utils import timezone

from tutor.exceptions import UserNotFound
from tutor.models import Error, Exercise, User
from tutor.taxonomy import CATEGORY_OF, ErrorCategory, ErrorSubCategory

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


def top_errors(*, user_id: UUID, since: datetime | None, limit: int | None) -> list[ErrorStat]:
    """Return the user's most frequent error pairs since `since` (all time when None), at most `limit`."""
    errors = Error.objects.filter(user_id=user_id)
    if since is not None:
        errors = errors.filter(timestamp_utc__gte=since)
    rows = errors.values("errorSubCategory").annotate(frequency=Count("pk"), last_seen=Max("timestamp_utc"))
    stats = [
        ErrorStat(
            category=CATEGORY_OF[row["errorSubCategory"]],
            subcategory=row["errorSubCategory"],
            frequency=row["frequency"],
            last_seen=row["last_seen"],
        )
        for row in rows.order_by()
    ]
    return rank(stats)[:limit]


def exercise_bank() -> dict[int, list[dict]]:
    """Return the active exercises by subcategory, in recommendation order, from the cache when possible."""
    # The version is read before the database: a bank loaded while a curator's change commits is
    # stored under the old version, which nobody reads once the change has bumped it.
    version = cache.get_or_set(BANK_VERSION_KEY, 1, timeout=None)
    key = f"exercise-bank:{version}"
    bank = cache.get(key)
    if bank is None:
        bank = defaultdict(list)
        for exercise in Exercise.objects.filter(is_active=True).order_by("errorSubCategory", "level", "title", "id"):
            bank[exercise.errorSubCategory].append({field: getattr(exercise, field) for field in EXERCISE_FIELDS})
        bank = dict(bank)
        cache.set(key, bank, timeout=settings.CACHE_TIMEOUT)
    return bank


def exercise_bank_changed() -> None:
    """Make every reader load the exercise bank afresh."""
    try:
        cache.incr(BANK_VERSION_KEY)
    except ValueError:
        cache.set(BANK_VERSION_KEY, 2, timeout=None)


def recommend(
    *, user_id: UUID, last_n_days: int | None = None, top_n_errors: int | None = None, exercises_per_error: int = 3
) -> dict:
    """Return the user's top error pairs over the window, each with exercises that train it."""
    if not User.objects.filter(pk=user_id).exists():
        raise UserNotFound(user_id)
    since = timezone.now() - timedelta(days=last_n_days) if last_n_days else None
    bank = exercise_bank()
    return {
        "user_id": user_id,
        "top_errors": [
            {
                "errorCategory": ErrorCategory(stat.category).label,
                "errorSubCategory": ErrorSubCategory(stat.subcategory).label,
                "errorFrequency": stat.frequency,
                "exercises": bank.get(stat.subcategory, [])[:exercises_per_error],
            }
            for stat in top_errors(user_id=user_id, since=since, limit=top_n_errors)
        ],
    }
