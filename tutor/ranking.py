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

from tutor import buffer, exercise_bank, learner_state, learners, replicas, stored_rows
from tutor.learner_state import KeptAnswer, LearnerState, Profile, WindowRows, window_key
from tutor.practice import Practice
from tutor.scoring import DEFAULT, DEFAULT_SCORING, MODES, ErrorStat, Scoring, rank, score_pairs
from tutor.taxonomy import LEVEL_RANK, pair_labels

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


def _profile(user_id: UUID, known: LearnerState) -> tuple[str | None, dict[UUID, Practice]]:
    """Return the learner's level and practice of each exercise they did (UserNotFound for an unknown id)."""
    if known.profile is None:
        level, practice = learners.profile(user_id)
        kept = {
            str(e): {"last_done": buffer.to_micros(p.last_done), "due": buffer.to_micros(p.due)}
            for e, p in practice.items()
        }
        known.profile, known.changed = Profile(_until(), level, kept), True
        return level, practice
    return known.profile.level, {
        UUID(e): Practice(buffer.from_micros(p["last_done"]), buffer.from_micros(p["due"]))
        for e, p in known.profile.practice.items()
    }


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
            known.profile = Profile(_until(), reading.learner.level, reading.learner.practice)
            known.verified = True
            learners.remember([user_id])
        pairs, stored = reading.pairs, reading.stored
        known.windows[window] = WindowRows(_until(), pairs)
        known.changed = True
    pending = stored_rows.pairs_of(((p.subcategory, p.micros) for p in in_window if p.event_id not in stored), rows)
    return rank(score_pairs(pairs, pending, scoring, now_micros))[:limit]


def select_exercises(
    pool: list[dict],
    *,
    practice: dict[UUID, Practice],
    level: str | None,
    limit: int,
    now: datetime,
    cooldown_since: datetime | None = None,
) -> list[dict]:
    """Pick up to `limit` exercises of one pair for a learner, the same way for the same state.

    The learner's schedule decides (`tutor.scheduling`): exercises due for review come first, the
    most overdue first, then exercises never done; each group by closeness to the learner's level (no
    level: the easiest first), then varied exercise types, then title. Exercises not yet due rest;
    with `cooldown_since`, so do those done since then, due or not. When too few remain, the resting
    ones due soonest fill the list, marked as repeats. Each exercise says its `status` (new, due,
    repeat) and when it was `last_done`.
    """
    target = LEVEL_RANK[level] if level else 0
    ready, resting = [], []
    for exercise in pool:
        done = practice.get(exercise["id"])
        if done is not None and (done.due > now or (cooldown_since is not None and done.last_done >= cooldown_since)):
            resting.append((done.due, exercise["title"], exercise["id"], exercise))
            continue
        distance = abs(LEVEL_RANK[exercise["level"]] - target)
        priority = (1, distance, buffer.UNIX_EPOCH) if done is None else (0, distance, done.due)
        ready.append((priority, exercise["title"], exercise["id"], exercise))
    ready.sort(key=lambda c: c[:3])  # UUIDs order as their text does
    picked, types = [], Counter()
    while ready and len(picked) < limit:
        best = ready[0][0][:2]
        # Among equally good candidates, the type used least so far: practice is interleaved.
        index = min(
            (i for i, c in enumerate(ready) if c[0][:2] == best), key=lambda i: types[ready[i][3]["exercise_type"]]
        )
        choice = ready.pop(index)[3]
        types[choice["exercise_type"]] += 1
        picked.append(_offered(choice, practice.get(choice["id"]), "due" if choice["id"] in practice else "new"))
    resting.sort(key=lambda c: c[:3])
    return picked + [_offered(e, practice[e["id"]], "repeat") for *_, e in resting[: limit - len(picked)]]


def _offered(exercise: dict, done: Practice | None, status: str) -> dict:
    return {
        **exercise,
        "repeat": status == "repeat",
        "status": status,
        "last_done": done.last_done if done else None,
    }


def recommend(
    *, user_id: UUID, counter: buffer.WindowCounter | None = None, from_replica: bool = False, **params
) -> dict:
    """Return the user's top error pairs over the window, each with exercises that train it.

    `params` are those of `_recommend`. With the throttle's counter, the request is counted in
    the same round trip as the buffer's snapshot (OverLimit past its limit). With `from_replica`,
    what is read from PostgreSQL is read from a replica caught up with the primary (tutor.replicas).
    """
    snap, known = _read(user_id, counter)
    answer = _computed(user_id, snap, known, from_replica, params)
    _keep(user_id, known)
    return answer


def recommend_rendered(
    *,
    user_id: UUID,
    render: Callable[[dict], bytes],
    counter: buffer.WindowCounter | None = None,
    from_replica: bool = False,
    **params,
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
    body = render(_computed(user_id, snap, known, from_replica, params))
    if known is not None and query is not None:
        # It holds no longer than the parts it was made from (expired parts were dropped on reading).
        until = min([known.profile.until, *(window.until for window in known.windows.values())])
        known.answer, known.body, known.changed = KeptAnswer(query, until), body, True
    _keep(user_id, known)
    return body


def _computed(
    user_id: UUID, snap: buffer.Snapshot | None, known: LearnerState | None, from_replica: bool, params: dict
) -> dict:
    """Return `_recommend`'s answer; with `from_replica`, its reads of PostgreSQL on a caught-up replica.

    The snapshot is taken before: the replica, chosen at the first read, has then replayed every
    flush that removed events from the snapshot's pending set (tutor.replicas).
    """
    if from_replica:
        return replicas.on_replica(_recommend, user_id, snap, known, **params)
    return _recommend(user_id, snap, known, **params)


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
    cooldown_days: int | None = None,
) -> dict:
    # Without a buffer nothing is kept between requests: the learner is read from the cache and PostgreSQL.
    bank = exercise_bank.active_by_subcategory(snap.bank_version if snap else None)
    scoring = Scoring(ranking, half_life_days)
    stats = _ranked(user_id, last_n_days, top_n_errors, scoring, snap, known)  # fills a cold profile in
    level, practice = _profile(user_id, known or LearnerState("", 0))
    now = timezone.now()
    cooldown_since = None if cooldown_days is None else now - timedelta(days=cooldown_days)
    return {
        "user_id": user_id,
        "top_errors": [
            {
                **pair_labels(stat.subcategory),
                "errorFrequency": stat.frequency,
                "score": MODES[ranking].shown(stat.score),
                "last_seen": stat.last_seen,
                "exercises": select_exercises(
                    bank.get(stat.subcategory, []),
                    practice=practice,
                    level=level,
                    limit=exercises_per_error,
                    now=now,
                    cooldown_since=cooldown_since,
                ),
            }
            for stat in stats
        ],
    }
