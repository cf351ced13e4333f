"""The errors table's monthly partitions on PostgreSQL: made ahead of time, and dropped whole past the retention.

`tutor_error` is range-partitioned on `timestamp_utc`: one partition per calendar month (UTC) named
`tutor_error_yYYYYmMM`, and below the first of them one partition for everything earlier. Readers of a
learner's last days touch only the months they ask for; retention drops a month at once instead of
deleting its rows. A month is dropped only when all of it is older than ERROR_RETENTION_DAYS, so up
to one month more than the retention is kept.

Nothing here runs on SQLite (the embedded demo), whose table is not partitioned.
"""

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import ProgrammingError, connection, transaction

from tutor import event_receipts, invalidation
from tutor.buffer import EARLIEST_EVENT_TIME

logger = logging.getLogger(__name__)

TABLE = "tutor_error"
# The beat task keeps this many months ahead of the current one, so rows never wait for a partition.
MONTHS_AHEAD = 3
DUPLICATE_TABLE = "42P07"  # PostgreSQL's code for a table made meanwhile
UNDEFINED_TABLE = "42P01"  # and for one dropped meanwhile


@dataclass(frozen=True)
class Partition:
    """One partition of the errors table and the range of times it holds: [start, end); start None is unbounded."""

    name: str
    start: datetime | None
    end: datetime


def enabled() -> bool:
    """Say whether the errors table is partitioned (it is on PostgreSQL)."""
    return connection.vendor == "postgresql"


def month_start(moment: datetime) -> datetime:
    """Return the first instant (UTC) of the month `moment` falls in."""
    moment = moment.astimezone(UTC)
    return datetime(moment.year, moment.month, 1, tzinfo=UTC)


def next_month(start: datetime) -> datetime:
    """Return the first instant of the month after the one starting at `start`."""
    return (start + timedelta(days=32)).replace(day=1)


def month_name(start: datetime) -> str:
    """Return the name of the partition of the month starting at `start`."""
    return f"{TABLE}_y{start.year:04d}m{start.month:02d}"


def partitions() -> list[Partition]:
    """Return the errors table's partitions, earliest first, with their ranges as PostgreSQL holds them."""
    with connection.cursor() as cursor:
        # The bounds come back as text in this session's time zone and are cast back in the same session.
        cursor.execute(
            "SELECT c.relname, m[1], m[2]::timestamptz FROM pg_inherits i "
            "JOIN pg_class c ON c.oid = i.inhrelid, "
            "regexp_match(pg_get_expr(c.relpartbound, c.oid), 'FROM \\((.+)\\) TO \\(''(.+)''\\)') m "
            # A partition another session is dropping reads back with no bound: it is gone.
            "WHERE i.inhparent = %s::regclass AND m IS NOT NULL ORDER BY 3",
            [TABLE],
        )
        rows = cursor.fetchall()
    found = []
    for name, start, end in rows:
        if start == "MINVALUE":
            found.append(Partition(name, None, end))
        else:
            found.append(Partition(name, datetime.fromisoformat(start.strip("'")).astimezone(UTC), end))
    return found


def create_month(start: datetime) -> None:
    """Create the partition of the month starting at `start`, unless it exists."""
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            # The bounds are literals of our own datetimes: PostgreSQL takes no parameters in DDL.
            cursor.execute(
                f"CREATE TABLE IF NOT EXISTS {month_name(start)} PARTITION OF {TABLE} "
                f"FOR VALUES FROM ('{start.isoformat()}') TO ('{next_month(start).isoformat()}')"
            )
    except ProgrammingError as exc:
        # Two makers racing: both find the month missing, the second then waits on the parent's lock
        # and finds the table made; its savepoint is rolled back and the month is there.
        if getattr(exc.__cause__, "sqlstate", None) != DUPLICATE_TABLE:
            raise


def ensure_months(*, now: datetime) -> list[str]:
    """Create the partitions of this month and the MONTHS_AHEAD next ones that are missing; return their names."""
    start, months = month_start(now), []
    for _ in range(MONTHS_AHEAD + 1):
        months.append(start)
        start = next_month(start)
    return ensure_for(months, now=now)


def ensure_for(moments: list[datetime], *, now: datetime) -> list[str]:
    """Create the month partitions that rows at `moments` need and lack; return their names.

    Only months from EARLIEST_EVENT_TIME to MONTHS_AHEAD ahead of `now`, the times a door accepts:
    a row beyond them stays refused.
    """
    if not enabled() or not moments:
        return []
    held = partitions()
    latest = month_start(now)
    for _ in range(MONTHS_AHEAD):
        latest = next_month(latest)
    missing = sorted(
        start
        for start in {month_start(moment) for moment in moments}
        if EARLIEST_EVENT_TIME <= start <= latest
        and not any((p.start is None or p.start <= start) and start < p.end for p in held)
    )
    for start in missing:
        create_month(start)
    return [month_name(start) for start in missing]


def lacking(exc: BaseException) -> bool:
    """Say whether PostgreSQL refused a row because no partition holds its month."""
    cause = exc.__cause__ or exc
    return getattr(cause, "sqlstate", None) == "23514" and "no partition of relation" in str(cause)


def drop_expired(*, retention_days: int, now: datetime) -> list[str]:
    """Drop the partitions wholly older than `retention_days` before `now`; announce their learners; return the names.

    Each drop commits with the announcement of the learners whose rows it removed, so no reader
    keeps counting them (tutor.invalidation, on commit).
    """
    if not enabled() or retention_days <= 0:
        return []
    cutoff = now - timedelta(days=retention_days)
    dropped = []
    for partition in partitions():
        if partition.end > cutoff:
            break
        try:
            learners = _drop(partition)
        except ProgrammingError as exc:
            # Another upkeep dropped it first, while this one waited for it.
            if getattr(exc.__cause__, "sqlstate", None) != UNDEFINED_TABLE:
                raise
            continue
        logger.info("Dropped %s (rows before %s) for learners %d", partition.name, partition.end, len(learners))
        dropped.append(partition.name)
    return dropped


def _drop(partition: Partition) -> list:
    """Drop one partition and announce its learners, in one transaction; return the learners."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"SELECT DISTINCT user_id FROM {partition.name}")
        learners = [row[0] for row in cursor.fetchall()]
        cursor.execute(f"ALTER TABLE {TABLE} DETACH PARTITION {partition.name}")
        cursor.execute(f"DROP TABLE {partition.name}")
        invalidation.learners_changed(learners)
    return learners


@dataclass(frozen=True)
class Upkeep:
    """What one run of the errors table's upkeep did."""

    made: list[str]
    dropped: list[str]
    receipts_forgotten: int


def keep(*, now: datetime) -> Upkeep:
    """Make the months ahead, drop those past the retention, and forget event ids past their window."""
    return Upkeep(
        made=ensure_months(now=now),
        dropped=drop_expired(retention_days=settings.ERROR_RETENTION_DAYS, now=now),
        receipts_forgotten=event_receipts.forget_before(now - timedelta(days=settings.EVENT_ID_WINDOW_DAYS)),
    )
