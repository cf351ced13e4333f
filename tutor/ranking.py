"""Reads: a learner's weakest (category, subcategory) pairs and the exercises that train them."""

import logging
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from uuid import UUID

import orjson
from django.conf import settings
from django.utils import timezone

from tutor import buffer, exercise_bank, learner_state, learners, stored_rows
from tutor.learner_state import KeptAnswer, LearnerState, Profile, WindowRows, window_key
from tutor.scoring import DEFAULT, DEFAULT_SCORING, MODES, ErrorStat, Scoring, rank, score_pairs
from tutor.taxonomy import LEVEL_RANK, ErrorCategory, ErrorSubCategory

logger = logging.getLogger(__name__)


def top_errors(
    *, user_id: UUID, last_n_days: int | None, limit: int | None, scoring: Scoring = DEFAULT_SCORING
) -> list[ErrorStat]:
    """Return the user's weakest error pairs of the last N days (all time when None), at most `limit`."""
    snap, known = _read(user_id, None)
    stats = _ranked(user_id, last_n_days, limit, scoring, snap, known)
    _keep(user_id, known)
    return stats


def _read(user_id: UUID, counter: buffer.WindowCounter | None) -> tuple[buffer.Snapshot | None, LearnerState | None]:
    """Return the buffer's snapshot of the user and what was kept of them; with a counter, count the request too.

    (None, None) without a buffer, or with it unreachable: then everything comes from PostgreSQL.
    """
    try:
        snap = buffer.snapshot(user_id, counter)
    except buffer.BufferUnavailable as exc:
        logger.warning("Event buffer unreachable, ranking from PostgreSQL only: %s", exc)
        return None, None
    return (None, None) if snap is None else (snap, learner_state.read(snap))


def _keep(user_id: UUID, known: LearnerState | None) -> None:
    if known is not None and known.changed:
        buffer.keep_state(
            user_id,
            known.dumps(),
            settings.RANKING_CACHE_SECONDS,
            exists=known.verified,
        )


def _profile(user_id: UUID, known: LearnerState) -> tuple[str | None, dict[UUID, datetime]]:
    """Return the learner's level and when each exercise was last done (UserNotFound for an unknown id)."""
    if known.profile is None:
        level, done = learners.profile(user_id)
        known.profile = Profile(_until(), level, {str(e): buffer.to_micros(moment) for e, moment in done.items()})
        known.changed = True
        return level, done
    return known.profile.level, {UUID(e): buffer.from_micros(micros) for e, micros in known.profile.done.items()}


def _until() -> float:
    """Until when a part of the learner's state computed now may be used (the window's trailing edge moves)."""
    return time.time() + settings.RANKING_CACHE_SECONDS


def _ranked(
    user_id: UUID,
    last_n_days: int | None,
    limit: int | None,
    scoring: Scoring,
    snap: buffer.Snapshot | None,
    known: LearnerState | None,
) -> list[ErrorStat]:
    now = timezone.now()
    now_micros = buffer.to_micros(now)
    since = now - timedelta(days=last_n_days) if last_n_days else None
    rows = MODES[scoring.mode].rows
    if snap is None or known is None:
        stored = stored_rows.read(user_id=user_id, since=since, rows=rows)
        return rank(score_pairs(stored, [], scoring, now_micros))[:limit]
    # The snapshot was read BEFORE PostgreSQL: an event flushed between the two reads is then
    # seen as pending and found stored, and counted once, from PostgreSQL.
    since_micros = None if since is None else buffer.to_micros(since)
    in_window = [p for p in snap.pending if since_micros is None or p.micros >= since_micros]
    pending_ids = [p.event_id for p in in_window]
    window = window_key(last_n_days, rows)
    kept = known.windows.get(window)
    # Rows are labelled with the user's version read before their query; every flush bumps it
    # (atomically with removing its events from pending) after committing. So rows of the
    # snapshot's version hold every row flushed before the snapshot, and any row of a flush
    # still in progress is one of our pending events, which the check below finds.
    # Without a profile the rows are read again with it, so that level, attempts and counts all come
    # from PostgreSQL in one statement.
    fresh = kept is not None and kept.until > time.time() and known.profile is not None
    if fresh and not (pending_ids and stored_rows.any_stored(pending_ids)):
        pairs, stored = kept.pairs, set()
    else:
        reading = stored_rows.read_at_once(
            user_id=user_id, since=since, rows=rows, event_ids=pending_ids, learner=known.profile is None
        )
        if reading.learner is not None:
            known.profile = Profile(_until(), reading.learner.level, reading.learner.done)
            known.verified = True
            learners.remember([user_id])
        pairs, stored = reading.pairs, reading.stored
        known.windows[window] = WindowRows(_until(), pairs)
        known.changed = True
    pending = stored_rows.pairs_of(((p.subcategory, p.micros) for p in in_window if p.event_id not in stored), rows)
    return rank(score_pairs(pairs, pending, scoring, now_micros))[:limit]


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
            priority = (abs(LEVEL_RANK[exercise["level"]] - target), last is not None, last or buffer.UNIX_EPOCH)
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
    if held and held.query == query and held.until > time.time():
        return known.body
    body = render(_recommend(user_id, snap, known, **params))
    if known is not None and query is not None:
        # It holds no longer than the parts it was made from (expired parts were dropped on reading).
        until = min([known.profile.until, *(window.until for window in known.windows.values())])
        known.answer, known.body, known.changed = KeptAnswer(query, until), body, True
    _keep(user_id, known)
    return body


def _recommend(
    user_id: UUID,
    snap: buffer.Snapshot | None,
    known: LearnerState | None,
    *,
    last_n_days: int | None = None,
    top_n_errors: int | None = None,
    exercises_per_error: int = 3,
    ranking: str = DEFAULT,
    half_life_days: int = 7,
    cooldown_days: int = 7,
) -> dict:
    # Without a buffer nothing is kept between requests: the learner is read from the cache and PostgreSQL.
    bank = exercise_bank.active_by_subcategory(snap.bank_version if snap else None)
    scoring = Scoring(ranking, half_life_days)
    stats = _ranked(user_id, last_n_days, top_n_errors, scoring, snap, known)  # fills a cold profile in
    level, done = _profile(user_id, known or LearnerState("", 0))
    cooldown_since = timezone.now() - timedelta(days=cooldown_days)
    return {
        "user_id": user_id,
        "top_errors": [
            {
                "errorCategory": ErrorCategory(stat.category).label,
                "errorSubCategory": ErrorSubCategory(stat.subcategory).label,
                "errorFrequency": stat.frequency,
                "score": MODES[ranking].shown(stat.score),
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
