"""Reads: a learner's weakest (category, subcategory) pairs and the exercises that train them."""

import logging
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from uuid import UUID, uuid4

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.db.models import Count, Max
from django.utils import timezone

from tutor import buffer, learners
from tutor.models import Error, Exercise, ExerciseAttempt
from tutor.taxonomy import CATEGORY_OF, LEVEL_RANK, ErrorCategory, ErrorSubCategory

logger = logging.getLogger(__name__)

BANK_VERSION_KEY = "exercise-bank:version"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
EXERCISE_FIELDS = ("id", "title", "exercise_type", "level", "instructions", "content")


class Ranking(StrEnum):
    COUNT = "count"  # errors in the window, as the reference counts them
    DECAY = "decay"  # each error weighs 0.5 ** (age in days / half-life): recent mistakes count more


@dataclass(frozen=True)
class ErrorStat:
    category: int
    subcategory: int
    frequency: int
    last_seen: datetime
    score: float


@dataclass(frozen=True)
class Scoring:
    mode: Ranking = Ranking.COUNT
    half_life_days: float = 7.0

    def weight(self, age_seconds: float) -> float:
        return 0.5 ** (max(age_seconds, 0.0) / (self.half_life_days * 86400))


def rank(stats: list[ErrorStat]) -> list[ErrorStat]:
    """Order pairs by score, then count, then the most recent error, then subcategory number."""
    return sorted(stats, key=lambda s: (-s.score, -s.frequency, -s.last_seen.timestamp(), s.subcategory))


def top_errors(
    *, user_id: UUID, last_n_days: int | None, limit: int | None, scoring: Scoring = Scoring()
) -> list[ErrorStat]:
    """Return the user's weakest error pairs of the last N days (all time when None), at most `limit`."""
    return _top_errors(user_id, last_n_days, limit, scoring, cache.get(_stats_key(user_id)))


def _top_errors(
    user_id: UUID, last_n_days: int | None, limit: int | None, scoring: Scoring, cached: dict | None
) -> list[ErrorStat]:
    now = timezone.now()
    since = now - timedelta(days=last_n_days) if last_n_days else None
    # Counting needs one aggregate row per pair; decay needs each error's time.
    detailed = scoring.mode == Ranking.DECAY
    if not buffer.enabled():
        return rank(_score(_stored_rows(user_id, since, detailed), [], scoring, now, detailed))[:limit]
    try:
        # Pending events are read BEFORE PostgreSQL: an event flushed between the two reads is
        # then seen as pending and found stored, and counted once, from PostgreSQL.
        snap = buffer.snapshot(user_id, None if since is None else buffer.to_micros(since))
    except buffer.BufferUnavailable as exc:
        logger.warning("Event buffer unreachable, ranking from PostgreSQL only: %s", exc)
        return rank(_score(_stored_rows(user_id, since, detailed), [], scoring, now, detailed))[:limit]
    pending_ids = [p.event_id for p in snap.pending]
    window = (last_n_days or 0, detailed)
    cached = cached or {}
    version, rows = cached.get(window, (None, None))
    # Cached rows are labelled with the user's version read before their query; every flush
    # bumps it (atomically with removing its events from pending) after committing. So rows
    # of the snapshot's version hold every row flushed before the snapshot, and any row of a
    # flush still in progress is one of our pending events, which the check below finds.
    if version == snap.version and not (pending_ids and _already_stored(pending_ids)):
        stored = set()
    else:
        rows, stored = _stored_rows_and_ids(user_id, since, pending_ids, detailed)
        cache.set(_stats_key(user_id), {**cached, window: (snap.version, rows)}, settings.RANKING_CACHE_SECONDS)
    pending = [p for p in snap.pending if p.event_id not in stored]
    return rank(_score(rows, pending, scoring, now, detailed))[:limit]


def _stats_key(user_id: UUID) -> str:
    return f"error-stats:{user_id}"


def forget_stats(user_ids: set[UUID]) -> None:
    """Drop the users' cached counts (after a write that did not go through the buffer)."""
    cache.delete_many([_stats_key(u) for u in user_ids])


def _stored_rows(user_id: UUID, since: datetime | None, detailed: bool) -> list[tuple]:
    errors = Error.objects.filter(user_id=user_id)
    if since is not None:
        errors = errors.filter(timestamp_utc__gte=since)
    if detailed:
        return list(errors.order_by().values_list("errorSubCategory", "timestamp_utc"))
    rows = errors.values("errorSubCategory").annotate(frequency=Count("pk"), last_seen=Max("timestamp_utc"))
    return [(row["errorSubCategory"], row["frequency"], row["last_seen"]) for row in rows.order_by()]


def _already_stored(event_ids: list[UUID]) -> bool:
    return Error.objects.filter(event_id__in=event_ids).exists()


def _stored_rows_and_ids(user_id: UUID, since: datetime | None, event_ids: list[UUID], detailed: bool):
    """Return the user's rows (per pair, or per error) and which of `event_ids` are stored, from ONE snapshot."""
    window = "" if since is None else "AND timestamp_utc >= %(since)s"
    rows_sql = (
        f'SELECT "errorSubCategory", timestamp_utc, NULL::bigint, NULL::uuid FROM tutor_error '
        f"WHERE user_id = %(user_id)s {window}"
        if detailed
        else f'SELECT "errorSubCategory", max(timestamp_utc), count(*), NULL::uuid FROM tutor_error '
        f'WHERE user_id = %(user_id)s {window} GROUP BY "errorSubCategory"'
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"{rows_sql} UNION ALL "
            "SELECT NULL, NULL, NULL, event_id FROM tutor_error WHERE event_id = ANY(%(event_ids)s::uuid[])",
            {"user_id": user_id, "since": since, "event_ids": event_ids},
        )
        result = cursor.fetchall()
    rows = [(sub, moment) if detailed else (sub, n, moment) for sub, moment, n, _ in result if sub is not None]
    return rows, {event_id for sub, _, _, event_id in result if sub is None}


def _score(
    rows: list[tuple], pending: list[buffer.PendingEvent], scoring: Scoring, now: datetime, detailed: bool
) -> list[ErrorStat]:
    """Combine stored rows and pending events into one ErrorStat per pair."""
    frequency, last_seen, score = defaultdict(int), {}, defaultdict(float)
    moments = [(sub, moment) for sub, moment in rows] if detailed else []
    if not detailed:
        for sub, n, moment in rows:
            frequency[sub] += n
            last_seen[sub] = moment
    moments += [(p.subcategory, buffer.from_micros(p.micros)) for p in pending]
    for sub, moment in moments:
        frequency[sub] += 1
        last_seen[sub] = max(last_seen.get(sub, moment), moment)
        if detailed:
            score[sub] += scoring.weight((now - moment).total_seconds())
    return [
        ErrorStat(
            CATEGORY_OF[sub], sub, frequency[sub], last_seen[sub], score[sub] if detailed else float(frequency[sub])
        )
        for sub in frequency
    ]


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


def _attempts_key(user_id: UUID) -> str:
    return f"attempts:{user_id}"


def forget_attempts(user_id: UUID) -> None:
    """Drop the learner's cached attempts (after recording a new one)."""
    cache.delete(_attempts_key(user_id))


def _last_done(user_id: UUID, cached: dict | None) -> dict[UUID, datetime]:
    if cached is not None:
        return cached
    done = dict(
        ExerciseAttempt.objects.filter(user_id=user_id)
        .values("exercise_id")
        .annotate(last=Max("completed_at"))
        .values_list("exercise_id", "last")
    )
    cache.set(_attempts_key(user_id), done, timeout=settings.CACHE_TIMEOUT)
    return done


def select_exercises(
    pool: list[dict], *, done: dict[UUID, datetime], level: str | None, limit: int, cooldown_since: datetime
) -> list[dict]:
    """Pick up to `limit` exercises of one pair for a learner, the same way for the same state.

    Exercises done since `cooldown_since` are skipped. The rest are ordered by closeness to the
    learner's level (no level: the easiest first), then never done before done longest ago, then
    varied exercise types, then title. When too few remain, the least recently done ones fill
    the list, marked as repeats.
    """
    target = LEVEL_RANK[level] if level else 0
    fresh, cooling = [], []
    for exercise in pool:
        last = done.get(exercise["id"])
        if last is not None and last >= cooldown_since:
            cooling.append(exercise)
        else:
            priority = (abs(LEVEL_RANK[exercise["level"]] - target), last is not None, last or EPOCH)
            fresh.append((priority, exercise["title"], exercise["id"], exercise))
    fresh.sort(key=lambda c: c[:3])  # UUIDs order as their text does
    picked, types = [], Counter()
    while fresh and len(picked) < limit:
        best = fresh[0][0]
        # Among equally good candidates, the type used least so far: practice is interleaved.
        index = min((i for i, c in enumerate(fresh) if c[0] == best), key=lambda i: types[fresh[i][3]["exercise_type"]])
        choice = fresh.pop(index)[3]
        types[choice["exercise_type"]] += 1
        picked.append({**choice, "repeat": False})
    cooling.sort(key=lambda e: (done[e["id"]], e["title"], e["id"]))
    return picked + [{**e, "repeat": True} for e in cooling[: limit - len(picked)]]


def cache_keys(user_id: UUID) -> list[str]:
    """Return the cache keys `recommend` reads for the user: learner, counts, attempts, bank version."""
    return [learners.cache_key(user_id), _stats_key(user_id), _attempts_key(user_id), BANK_VERSION_KEY]


def recommend(
    *,
    user_id: UUID,
    last_n_days: int | None = None,
    top_n_errors: int | None = None,
    exercises_per_error: int = 3,
    ranking: str = Ranking.COUNT,
    half_life_days: int = 7,
    cooldown_days: int = 7,
    cached: dict | None = None,
) -> dict:
    """Return the user's top error pairs over the window, each with exercises that train it.

    `cached` may hold the entries of `cache_keys(user_id)`, already read (None for absent ones).
    """
    keys = cache_keys(user_id)
    if cached is None or not all(k in cached for k in keys):
        cached = cache.get_many(keys)  # one round trip for the hot path
    level = learners.level(user_id, cached.get(keys[0]))
    bank = exercise_bank(cached.get(BANK_VERSION_KEY))
    done = _last_done(user_id, cached.get(keys[2]))
    scoring = Scoring(Ranking(ranking), half_life_days)
    cooldown_since = timezone.now() - timedelta(days=cooldown_days)
    return {
        "user_id": user_id,
        "top_errors": [
            {
                "errorCategory": ErrorCategory(stat.category).label,
                "errorSubCategory": ErrorSubCategory(stat.subcategory).label,
                "errorFrequency": stat.frequency,
                "score": stat.frequency if scoring.mode == Ranking.COUNT else float(f"{stat.score:.6g}"),
                "last_seen": stat.last_seen,
                "exercises": select_exercises(
                    bank.get(stat.subcategory, []),
                    done=done,
                    level=level,
                    limit=exercises_per_error,
                    cooldown_since=cooldown_since,
                ),
            }
            for stat in _top_errors(user_id, last_n_days, top_n_errors, scoring, cached.get(keys[1]))
        ],
    }
