"""A learner's stored errors, read as one row per pair: the shape every ranking mode scores.

Two readers give the same rows (a property test runs both on random data): `read`, through the
ORM on any database, and `read_at_once`, one PostgreSQL statement that also says which pending
events are already stored and, on a cold read, the learner's level and attempts.
"""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from django.db import connections, router
from django.db.models import Count, Max

from tutor.buffer import to_micros
from tutor.exceptions import UserNotFound
from tutor.models import Error, EventReceipt


class Rows(StrEnum):
    """What a ranking mode reads of each pair's errors."""

    TOTALS = "totals"  # how many, and the newest one's time
    TIMES = "times"  # the totals and each error's time


@dataclass
class PairRows:
    """The errors of one pair in a window; times are µs since the epoch, as the buffer keeps them."""

    subcategory: int
    count: int
    last: int
    times: list[int] | None = None  # each error's time (in no particular order), when the mode reads them

    def plus(self, other: "PairRows") -> "PairRows":
        """Return the rows of both (of the same pair and shape)."""
        times = None if self.times is None else self.times + other.times
        return PairRows(self.subcategory, self.count + other.count, max(self.last, other.last), times)


def pairs_of(errors: Iterable[tuple[int, int]], rows: Rows) -> list[PairRows]:
    """Group errors given as (subcategory, time in µs) into rows of the given shape."""
    times = defaultdict(list)
    for sub, micros in errors:
        times[sub].append(micros)
    keep = rows is Rows.TIMES
    return [PairRows(sub, len(t), max(t), t if keep else None) for sub, t in times.items()]


def read(*, user_id: UUID, since: datetime | None, rows: Rows) -> list[PairRows]:
    """Return the user's rows per pair, of errors since `since` (all of them when None)."""
    errors = Error.objects.filter(user_id=user_id).order_by()
    if since is not None:
        errors = errors.filter(timestamp_utc__gte=since)
    if rows is Rows.TIMES:
        return pairs_of(
            ((sub, to_micros(moment)) for sub, moment in errors.values_list("errorSubCategory", "timestamp_utc")), rows
        )
    totals = errors.values("errorSubCategory").annotate(count=Count("pk"), last=Max("timestamp_utc"))
    return [PairRows(t["errorSubCategory"], t["count"], to_micros(t["last"])) for t in totals]


def any_stored(event_ids: list[UUID]) -> bool:
    """Say whether PostgreSQL received any of the events (stored it, or holds its id as received: tutor.event_receipts).

    A received id is never stored again, so its pending copy must not count either.
    """
    return EventReceipt.objects.filter(event_id__in=event_ids).exists()


@dataclass(frozen=True)
class LearnerRows:
    """A learner's level and their practice of each exercise (exercise id -> {"last_done", "due"} in µs)."""

    level: str | None
    practice: dict[str, dict[str, int]]


@dataclass(frozen=True)
class Reading:
    """What `read_at_once` found, all of one snapshot of the database."""

    pairs: list[PairRows]
    stored: set[UUID]  # those of the given event ids that PostgreSQL received (any_stored)
    learner: LearnerRows | None  # read when asked for


def read_at_once(*, user_id: UUID, since: datetime | None, rows: Rows, event_ids: list[UUID], learner: bool) -> Reading:
    """Return `read`'s rows, which of `event_ids` are stored and (if `learner`) the learner, in one statement.

    PostgreSQL only. With `learner`, an unknown user raises UserNotFound: PostgreSQL, the source
    of truth, just said so.
    """
    window = "" if since is None else "AND timestamp_utc >= %(since)s"
    times = f"array_agg({_micros('timestamp_utc')})" if rows is Rows.TIMES else "NULL::bigint[]"
    # Columns: part, subcategory, time (µs), count, id, level, times (µs); an exercise's practice (part 1)
    # has its last done in time and when it is due in count. Times come as µs since the epoch, as the
    # state keeps them: no datetimes to build and take apart.
    parts = [
        f'SELECT 2, "errorSubCategory", {_micros("max(timestamp_utc)")}, count(*), NULL::uuid, NULL, {times} '
        f'FROM tutor_error WHERE user_id = %(user_id)s {window} GROUP BY "errorSubCategory"',
        # Received ids, by the receipts' primary key: a stored row has one from the same commit.
        "SELECT 3, NULL, NULL, NULL, event_id, NULL, NULL FROM tutor_event_receipt "
        "WHERE event_id = ANY(%(event_ids)s::uuid[])",
    ]
    if learner:
        parts += [
            "SELECT 0, NULL, NULL, NULL, NULL, level, NULL FROM tutor_user WHERE id = %(user_id)s",
            f"SELECT 1, NULL, {_micros('last_done')}, {_micros('due')}, exercise_id, NULL, NULL "
            "FROM tutor_exercisememory WHERE user_id = %(user_id)s",
        ]
    # Raw SQL takes the connection the router gives a read of errors (a replica inside tutor.replicas.on_replica).
    with connections[router.db_for_read(Error)].cursor() as cursor:
        cursor.execute(" UNION ALL ".join(parts), {"user_id": user_id, "since": since, "event_ids": event_ids})
        result = cursor.fetchall()
    pairs, stored, levels, practice = [], set(), [], {}
    for part, sub, micros, count, some_id, level, error_times in result:
        if part == 2:
            pairs.append(PairRows(sub, count, micros, error_times))
        elif part == 3:
            stored.add(some_id)
        elif part == 0:
            levels.append(level)
        else:
            practice[str(some_id)] = {"last_done": micros, "due": count}
    if learner and not levels:
        raise UserNotFound(user_id)
    return Reading(pairs, stored, LearnerRows(levels[0], practice) if learner else None)


def _micros(column: str) -> str:
    return f"(extract(epoch FROM {column}) * 1000000)::bigint"
