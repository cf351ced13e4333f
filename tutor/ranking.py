"""Reads: a learner's weakest (category, subcategory) pairs and the exercises that train them."""

import logging
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from uuid import UUID

import orjson
from django.conf import settings
from django.db import connection
from django.db.models import Count, Max
from django.utils import timezone

from tutor import buffer, exercise_bank, learners
from tutor.exceptions import UserNotFound
from tutor.models import Error
from tutor.taxonomy import CATEGORY_OF, LEVEL_RANK, ErrorCategory, ErrorSubCategory

logger = logging.getLogger(__name__)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


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
    snap, known = _read(user_id, None)
    stats = _ranked(user_id, last_n_days, limit, scoring, snap, known)
    _keep(user_id, known)
    return stats


def _read(user_id: UUID, counter: buffer.WindowCounter | None) -> tuple[buffer.Snapshot | None, "_Learner | None"]:
    """Return the buffer's snapshot of the user and what was kept of them; with a counter, count the request too.

    (None, None) without a buffer, or with it unreachable: then everything comes from PostgreSQL.
    """
    try:
        snap = buffer.snapshot(user_id, counter)
    except buffer.BufferUnavailable as exc:
        logger.warning("Event buffer unreachable, ranking from PostgreSQL only: %s", exc)
        return None, None
    return (None, None) if snap is None else (snap, _learner(snap))


@dataclass
class _Learner:
    """What readers computed of a learner, true while the learner's version and the buffer's generation hold.

    It is kept in the buffer beside the version and comes back in the snapshot, so a warm read is
    one round trip. Every change that matters bumps the version: a flush or a direct write of the
    learner's errors, a new attempt, a new level. It expires after RANKING_CACHE_SECONDS even so
    (a bump is best effort), and each window's rows after that much time too (the window slides).
    """

    label: list  # [generation, version]
    rows: dict[str, list]  # window "days:detailed" -> [until (time.time()), rows with times in µs]
    profile: list | None  # [until (time.time()), level or None, [[exercise id, last done in µs], ...]]
    answer: list | None = None  # [query, until (time.time())] of the last recommendation rendered
    body: bytes = b""  # that recommendation, rendered
    changed: bool = False
    verified: bool = False  # PostgreSQL just said the learner exists: the buffer is told with the state


def _learner(snap: buffer.Snapshot) -> _Learner:
    label = [snap.generation, snap.version]
    if snap.state:
        # The state's JSON, then the rendered answer as it is: a warm read parses only the first.
        head, _, body = snap.state.partition(b"\0")
        try:
            kept = orjson.loads(head)
        except orjson.JSONDecodeError:
            kept = None
        if kept and kept.get("label") == label:
            # Each part holds until its own time: saving the state again never makes a part live longer.
            now = time.time()
            rows = {window: part for window, part in kept["rows"].items() if part[0] > now}
            profile = kept["profile"] if kept["profile"] and kept["profile"][0] > now else None
            answer = kept.get("answer") if kept.get("answer") and kept["answer"][1] > now else None
            return _Learner(label, rows, profile, answer, body if answer else b"")
    return _Learner(label, {}, None)


def _keep(user_id: UUID, known: _Learner | None) -> None:
    if known is not None and known.changed:
        state = {"label": known.label, "rows": known.rows, "profile": known.profile, "answer": known.answer}
        buffer.keep_state(
            user_id,
            orjson.dumps(state) + b"\0" + known.body,
            settings.RANKING_CACHE_SECONDS,
            exists=known.verified,
        )


def _profile(user_id: UUID, known: _Learner) -> tuple[str | None, dict[UUID, datetime]]:
    """Return the learner's level and when each exercise was last done (UserNotFound for an unknown id)."""
    if known.profile is None:
        level, done = learners.profile(user_id)
        known.profile = [_until(), level, [[str(e), buffer.to_micros(moment)] for e, moment in done.items()]]
        known.changed = True
        return level, done
    _, level, done = known.profile
    return level, {UUID(e): buffer.from_micros(micros) for e, micros in done}


def _until() -> float:
    """Until when a part of the learner's state computed now may be used (the window's trailing edge moves)."""
    return time.time() + settings.RANKING_CACHE_SECONDS


def _ranked(
    user_id: UUID,
    last_n_days: int | None,
    limit: int | None,
    scoring: Scoring,
    snap: buffer.Snapshot | None,
    known: _Learner | None,
) -> list[ErrorStat]:
    now = timezone.now()
    since = now - timedelta(days=last_n_days) if last_n_days else None
    # Counting needs one aggregate row per pair; decay needs each error's time.
    detailed = scoring.mode == Ranking.DECAY
    if snap is None or known is None:
        return rank(_score(_stored_rows(user_id, since, detailed), [], scoring, now, detailed))[:limit]
    # The snapshot was read BEFORE PostgreSQL: an event flushed between the two reads is then
    # seen as pending and found stored, and counted once, from PostgreSQL.
    since_micros = None if since is None else buffer.to_micros(since)
    in_window = [p for p in snap.pending if since_micros is None or p.micros >= since_micros]
    pending_ids = [p.event_id for p in in_window]
    window = f"{last_n_days or 0}:{int(detailed)}"
    until, rows = known.rows.get(window, (0.0, None))
    # Rows are labelled with the user's version read before their query; every flush bumps it
    # (atomically with removing its events from pending) after committing. So rows of the
    # snapshot's version hold every row flushed before the snapshot, and any row of a flush
    # still in progress is one of our pending events, which the check below finds.
    # Without a profile the rows are read again with it, so that level, attempts and counts all come
    # from PostgreSQL in one statement.
    fresh = until > time.time() and known.profile is not None
    if fresh and not (pending_ids and _already_stored(pending_ids)):
        stored = set()
    else:
        rows, stored = _stored_rows_and_ids(user_id, since, pending_ids, detailed, known)
        known.rows[window] = [_until(), rows]
        known.changed = True
    pending = [p for p in in_window if p.event_id not in stored]
    return rank(_score(rows, pending, scoring, now, detailed))[:limit]


def _stored_rows(user_id: UUID, since: datetime | None, detailed: bool) -> list[tuple]:
    errors = Error.objects.filter(user_id=user_id)
    if since is not None:
        errors = errors.filter(timestamp_utc__gte=since)
    if detailed:
        rows = errors.order_by().values_list("errorSubCategory", "timestamp_utc")
        return [(sub, buffer.to_micros(moment)) for sub, moment in rows]
    rows = errors.values("errorSubCategory").annotate(frequency=Count("pk"), last_seen=Max("timestamp_utc"))
    return [(r["errorSubCategory"], r["frequency"], buffer.to_micros(r["last_seen"])) for r in rows.order_by()]


def _already_stored(event_ids: list[UUID]) -> bool:
    return Error.objects.filter(event_id__in=event_ids).exists()


def _stored_rows_and_ids(
    user_id: UUID, since: datetime | None, event_ids: list[UUID], detailed: bool, known: _Learner | None = None
) -> tuple[list[tuple], set[UUID]]:
    """Return the user's rows (per pair, or per error; times in µs) and which of `event_ids` are stored.

    One statement, so one snapshot of the database. Given a learner without a profile, the same
    statement reads the level and the attempts too (a cold request makes one query), and fills it in.
    """
    window = "" if since is None else "AND timestamp_utc >= %(since)s"
    # Times come as µs since the epoch, as the state keeps them: no datetimes to build and take apart.
    parts = [
        f'SELECT 2, "errorSubCategory", {_micros("timestamp_utc")}, NULL::bigint, NULL::uuid, NULL FROM tutor_error '
        f"WHERE user_id = %(user_id)s {window}"
        if detailed
        else f'SELECT 2, "errorSubCategory", {_micros("max(timestamp_utc)")}, count(*), NULL::uuid, NULL '
        f'FROM tutor_error WHERE user_id = %(user_id)s {window} GROUP BY "errorSubCategory"',
        "SELECT 3, NULL, NULL, NULL, event_id, NULL FROM tutor_error WHERE event_id = ANY(%(event_ids)s::uuid[])",
    ]
    if known is not None and known.profile is None:
        parts += [
            "SELECT 0, NULL, NULL, NULL, NULL, level FROM tutor_user WHERE id = %(user_id)s",
            f"SELECT 1, NULL, {_micros('max(completed_at)')}, NULL, exercise_id, NULL FROM tutor_exerciseattempt "
            "WHERE user_id = %(user_id)s GROUP BY exercise_id",
        ]
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(parts), {"user_id": user_id, "since": since, "event_ids": event_ids})
        result = cursor.fetchall()
    rows, stored, found, done = [], set(), None, []
    for kind, sub, micros, n, some_id, level in result:
        if kind == 2:
            rows.append((sub, micros) if detailed else (sub, n, micros))
        elif kind == 3:
            stored.add(some_id)
        elif kind == 0:
            found = [level]
        else:
            done.append([str(some_id), micros])
    if known is not None and known.profile is None:
        if found is None:
            raise UserNotFound(user_id)  # PostgreSQL, the source of truth, just said so
        known.profile = [_until(), *found, done]
        known.verified = True
        learners.remember([user_id])
    return rows, stored


def _micros(column: str) -> str:
    return f"(extract(epoch FROM {column}) * 1000000)::bigint"


def _score(
    rows: list[tuple], pending: list[buffer.PendingEvent], scoring: Scoring, now: datetime, detailed: bool
) -> list[ErrorStat]:
    """Combine stored rows and pending events (times in µs) into one ErrorStat per pair."""
    frequency, last_seen, score = defaultdict(int), {}, defaultdict(float)
    moments = list(rows) if detailed else []
    if not detailed:
        for sub, n, micros in rows:
            frequency[sub] += n
            last_seen[sub] = micros
    moments += [(p.subcategory, p.micros) for p in pending]
    now_micros = buffer.to_micros(now)
    for sub, micros in moments:
        frequency[sub] += 1
        last_seen[sub] = max(last_seen.get(sub, micros), micros)
        if detailed:
            score[sub] += scoring.weight((now_micros - micros) / 1e6)
    return [
        ErrorStat(
            CATEGORY_OF[sub],
            sub,
            frequency[sub],
            buffer.from_micros(last_seen[sub]),
            score[sub] if detailed else float(frequency[sub]),
        )
        for sub in frequency
    ]


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


def recommend(*, user_id: UUID, counter: buffer.WindowCounter | None = None, **params) -> dict:
    """Return the user's top error pairs over the window, each with exercises that train it.

    `params` are those of `_recommend`. With the throttle's counter, the request is counted in
    the same round trip as the buffer's snapshot (OverLimit past its limit).
    """
    snap, known = _read(user_id, counter)
    answer = _recommend(user_id, snap, known, **params)
    _keep(user_id, known)
    return answer


def recommend_rendered(
    *, user_id: UUID, render: Callable[[dict], bytes], counter: buffer.WindowCounter | None = None, **params
) -> bytes:
    """Return `recommend`'s answer rendered, reusing the one kept with the learner while it holds.

    The kept answer holds while the learner's version, the bank's version and the query are the
    same, no event is pending, and the rows it was made from are fresh (RANKING_CACHE_SECONDS).
    """
    snap, known = _read(user_id, counter)
    query = (
        None
        if snap is None or snap.pending
        else orjson.dumps([snap.bank_version, params], option=orjson.OPT_SORT_KEYS).decode()
    )
    held = known.answer if known is not None and query is not None else None
    if held and held[0] == query and held[1] > time.time():
        return known.body
    body = render(_recommend(user_id, snap, known, **params))
    if known is not None and query is not None:
        # It holds no longer than the parts it was made from (expired parts were dropped on reading).
        until = min([known.profile[0], *(until for until, _ in known.rows.values())])
        known.answer, known.body, known.changed = [query, until], body, True
    _keep(user_id, known)
    return body


def _recommend(
    user_id: UUID,
    snap: buffer.Snapshot | None,
    known: _Learner | None,
    *,
    last_n_days: int | None = None,
    top_n_errors: int | None = None,
    exercises_per_error: int = 3,
    ranking: str = Ranking.COUNT,
    half_life_days: int = 7,
    cooldown_days: int = 7,
) -> dict:
    # Without a buffer nothing is kept between requests: the learner is read from the cache and PostgreSQL.
    bank = exercise_bank.active_by_subcategory(snap.bank_version if snap else None)
    scoring = Scoring(Ranking(ranking), half_life_days)
    stats = _ranked(user_id, last_n_days, top_n_errors, scoring, snap, known)  # fills a cold profile in
    level, done = _profile(user_id, known or _Learner([], {}, None))
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
            for stat in stats
        ],
    }
