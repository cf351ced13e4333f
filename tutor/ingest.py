"""Writes: accepting the errors learners make, and flushing buffered events into PostgreSQL."""

import dataclasses
import logging
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.db import DatabaseError, IntegrityError, InterfaceError, OperationalError, connection, transaction
from django.utils import timezone

from tutor import buffer, event_receipts, grading, invalidation, learners, metrics, partitions
from tutor.buffer import BufferedEvent, DeadLetter, Event
from tutor.exceptions import ServiceUnavailable, UnknownUsers
from tutor.models import Error, Exercise, ExerciseAttempt

logger = logging.getLogger(__name__)

_INCOMING = "tutor_error_incoming"
_COLUMNS = 'event_id, user_id, "errorCategory", "errorSubCategory", timestamp_utc'


def record_error(*, user_id: uuid.UUID, category: int, subcategory: int, timestamp: datetime) -> Error:
    """Store one error straight in the database and return the stored row."""
    return Error.objects.create(
        user_id=user_id, errorCategory=category, errorSubCategory=subcategory, timestamp_utc=timestamp
    )


def record_attempt(
    *,
    user_id: uuid.UUID,
    exercise: Exercise,
    completed_at: datetime,
    score: float | None,
    answers: dict[str, str] | None = None,
) -> ExerciseAttempt:
    """Store that a learner did an exercise, graded here when `answers` are given; recommendations follow it."""
    items = None
    if answers is not None:
        graded = grading.grade(exercise.content, answers)
        score, items = graded.score, [dataclasses.asdict(verdict) for verdict in graded.items]
    return ExerciseAttempt.objects.create(
        user_id=user_id,
        exercise=exercise,
        completed_at=completed_at,
        score=score,
        answers=answers,
        items=items,
    )


def _refuse_unknown(user_ids: set[uuid.UUID]) -> bool:
    """Raise UnknownUsers naming those of `user_ids` that are no learner (in PostgreSQL or the cache).

    Return False when PostgreSQL could not tell (and the buffer takes events meanwhile).
    """
    if not user_ids:
        return True
    try:
        unknown = user_ids - learners.existing(user_ids)
    except (OperationalError, InterfaceError):
        if not buffer.enabled():
            raise
        # PostgreSQL is away but the buffer takes events: accept them now; the flush checks the
        # users again and sends events of unknown users to the dead letters, with the reason.
        return False
    if unknown:
        raise UnknownUsers(unknown)
    return True


def _push(events: list[Event], counter: buffer.WindowCounter | None, users: set, unseen: set) -> None:
    """Buffer the events, the unseen learners checked in the same round trip; look up only those it does not know."""
    try:
        buffer.push(events, counter, verify=unseen)
    except buffer.UnknownLearners as exc:
        confirmed = _refuse_unknown(exc.user_ids)
        buffer.push(events, counter)
        if confirmed:
            buffer.mark_existing(exc.user_ids)  # the next pushes need no look-up
        else:
            users = users - exc.user_ids
    learners.remember(users)


def accept_events(events: list[Event], counter: buffer.WindowCounter | None = None) -> None:
    """Accept validated events: into the buffer when there is one, else (or when it is down) into the database.

    Events naming a learner that does not exist raise UnknownUsers, and nothing is accepted. The
    buffer checks the learners this process has not seen lately in the same round trip as the
    write; only learners it does not know either are looked up (cache, then PostgreSQL).
    With the throttle's counter, the buffer counts the request and raises OverLimit, having
    written nothing, when that passes the limit.
    """
    users = {e.user_id for e in events}
    unseen = learners.unseen(users)
    if buffer.enabled():
        try:
            _push(events, counter, users, unseen)
            return
        except buffer.BufferFull as exc:
            logger.error("Event buffer full, refusing %d events: %s", len(events), exc)
            raise ServiceUnavailable("the event buffer is full; retry later") from exc
        except buffer.BufferUnavailable as exc:
            logger.warning("Event buffer unreachable, writing %d events through: %s", len(events), exc)
    _refuse_unknown(unseen)
    try:
        try:
            _write_through(events)
        except IntegrityError as exc:
            # A month with no partition (retention dropped it, or the upkeep stopped): made, then written again.
            if not (
                partitions.lacking(exc) and partitions.ensure_for([e.timestamp for e in events], now=timezone.now())
            ):
                raise
            _write_through(events)
    except (OperationalError, InterfaceError) as exc:
        raise ServiceUnavailable("neither the event buffer nor the database can take events; retry later") from exc
    metrics.EVENTS_WRITTEN_THROUGH.inc(len(events))


def _write_through(events: list[Event]) -> None:
    with transaction.atomic():
        fresh = event_receipts.take(e.event_id for e in events)
        new = {e.event_id: e for e in reversed(events) if e.event_id in fresh}  # an id twice: the first counts
        with event_receipts.taken_by_caller():
            Error.objects.bulk_create(
                [
                    Error(
                        event_id=e.event_id,
                        user_id=e.user_id,
                        errorCategory=e.category,
                        errorSubCategory=e.subcategory,
                        timestamp_utc=e.timestamp,
                    )
                    for e in new.values()
                ],
                # SQLite's unique index skips known ids; PostgreSQL returns no ids for rows of a trigger.
                ignore_conflicts=True,
            )
        invalidation.learners_changed({e.user_id for e in events})  # bulk_create sends no signal


@dataclass
class FlushReport:
    batches: int = 0
    entries: int = 0
    events: int = 0
    inserted: int = 0
    dead: int = 0
    problems: list[str] = field(default_factory=list)

    def add(self, other: "FlushReport") -> None:
        self.batches += other.batches
        self.entries += other.entries
        self.events += other.events
        self.inserted += other.inserted
        self.dead += other.dead
        self.problems += other.problems


def flush(
    *, shard: buffer.Shard | None = None, max_seconds: float | None = None, batch_size: int | None = None, lock=None
) -> FlushReport:
    """Move buffered events into PostgreSQL until the shard is empty (or `max_seconds` have passed).

    Without a shard, every shard in turn. With the shard's flush lock (`buffer.flush_lock`), it is
    renewed before each batch, and the flush stops if another flusher took it over. A shard count
    changed while the old shards hold events is refused (ShardCountChanged): they would be stranded.
    """
    buffer.check_shard_count()
    report = FlushReport()
    deadline = None if max_seconds is None else time.monotonic() + max_seconds
    for each in [shard] if shard is not None else buffer.shards():
        while deadline is None or time.monotonic() < deadline:
            if lock is not None and not lock.renew():
                break
            batch = flush_batch(shard=each, batch_size=batch_size or settings.ERROR_FLUSH_BATCH)
            if batch.entries == 0:
                break
            report.add(batch)
    return report


def flush_batch(*, shard: buffer.Shard, batch_size: int) -> FlushReport:
    """Claim one batch of the shard, commit it to PostgreSQL, and only then acknowledge it in Redis."""
    started = time.monotonic()
    entries = buffer.claim(
        shard=shard,
        consumer=settings.ERROR_FLUSH_CONSUMER,
        count=batch_size,
        min_idle_ms=settings.ERROR_FLUSH_CLAIM_IDLE_SECONDS * 1000,
    )
    if not entries:
        return FlushReport()
    dead = [DeadLetter(entry.id, entry.problem, raw=entry.raw) for entry in entries if entry.problem]
    dead += [DeadLetter(entry.id, reason, event=row) for entry in entries for row, reason in entry.refused]
    events = [event for entry in entries for event in entry.events]
    entry_of = {id(event): entry for entry in entries for event in entry.events}
    # A crash from here to the commit leaves the entries claimed but unacknowledged: the next
    # flush claims them again. A crash after the commit makes the next flush insert nothing new.
    inserted, refused = store(events)
    dead += [DeadLetter(entry_of[id(event)].id, reason, event=event._asdict()) for event, reason in refused]
    buffer.ack(
        shard=shard,
        entries=entries,
        stored_users={e.user_id for e in events},
        dead=dead,
        flushed=len(events) - len(refused),
        seconds=time.monotonic() - started,
    )
    if dead:
        logger.error("Flush sent %d events to the dead letters: %s", len(dead), sorted({d.reason for d in dead}))
    return FlushReport(
        batches=1,
        entries=len(entries),
        events=len(events) + sum(len(entry.refused) for entry in entries),
        inserted=inserted,
        dead=len(dead),
        problems=[letter.reason for letter in dead],
    )


def store(events: list[BufferedEvent]) -> tuple[int, list[tuple[BufferedEvent, str]]]:
    """Insert events, ignoring known event_ids; return (inserted, refused with reasons).

    Whatever PostgreSQL refuses, for any reason and in any combination, is refused alone: a
    batch it refuses is split in halves, each stored on its own, down to the single events
    it refuses. (The flush checks rows first, so this is for what only PostgreSQL can tell.)
    """
    if not events:
        return 0, []
    try:
        with transaction.atomic(), connection.wrap_database_errors:
            return _copy_batch(events)
    except (OperationalError, InterfaceError):
        raise  # The database is away: nothing was committed, the entries stay claimed for a retry.
    except DatabaseError as exc:
        if partitions.lacking(exc) and partitions.ensure_for(
            [buffer.from_micros(e.micros) for e in events], now=timezone.now()
        ):
            return store(events)  # A month that had no partition (retention dropped it, or upkeep stopped).
        if len(events) == 1:
            return 0, [(events[0], f"refused by the database: {exc}".strip())]
        logger.warning("Batch of %d events refused (%s); storing it in halves", len(events), exc)
    half = len(events) // 2
    first, second = store(events[:half]), store(events[half:])
    return first[0] + second[0], first[1] + second[1]


def _copy_batch(events: list[BufferedEvent]) -> tuple[int, list[tuple[BufferedEvent, str]]]:
    """Insert the events of known learners, skipping known event_ids; return (inserted, orphans).

    The usual batch is all new: its receipts, then its rows, are copied straight into their tables,
    as fast as PostgreSQL takes rows. A batch claimed again after a crash, or racing another flusher
    or a deleted learner, breaks a constraint there; it is then merged through a temporary table,
    where the receipts' trigger skips known event ids row by row.
    """
    # PostgreSQL itself, not the buffer's marks nor the cache: only it can tell for the flush.
    existing = _existing_users({e.user_id for e in events})
    orphans = [(e, f"user {e.user_id} does not exist") for e in events if e.user_id not in existing]
    # In index order: each learner's rows land on neighbouring index pages.
    stored = sorted((e for e in events if e.user_id in existing), key=_index_order)
    try:
        with transaction.atomic(), connection.cursor() as cursor, connection.wrap_database_errors:
            # The learners' foreign key is checked at the end of the COPY, not at the commit,
            # so that a learner deleted since `_existing_users` fails this attempt, not the batch.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            # A known event id breaks the receipts' primary key here, before any row is copied.
            with cursor.copy("COPY tutor_event_receipt (event_id) FROM STDIN") as copy:
                for e in stored:
                    copy.write_row((e.event_id,))
            with (
                event_receipts.taken_by_caller(),
                cursor.copy(f"COPY tutor_error ({_COLUMNS}) FROM STDIN") as copy,
            ):
                for e in stored:
                    copy.write_row((e.event_id, e.user_id, e.category, e.subcategory, buffer.from_micros(e.micros)))
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
        return len(stored), orphans
    except IntegrityError:
        return _merge_batch(events)


def _index_order(event: BufferedEvent) -> tuple[str, int]:
    return event.user_id, event.micros


def _existing_users(user_ids: set[str]) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT id::text FROM tutor_user WHERE id = ANY(%s::uuid[])", [list(user_ids)])
        return {row[0] for row in cursor.fetchall()}


def _merge_batch(events: list[BufferedEvent]) -> tuple[int, list[tuple[BufferedEvent, str]]]:
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {_INCOMING} (event_id uuid, user_id uuid, "
            '"errorCategory" smallint, "errorSubCategory" smallint, micros bigint) ON COMMIT DELETE ROWS'
        )
        cursor.execute(f"TRUNCATE {_INCOMING}")
        with cursor.copy(
            f'COPY {_INCOMING} (event_id, user_id, "errorCategory", "errorSubCategory", micros) FROM STDIN'
        ) as copy:
            # The buffer's text goes to COPY as it is (the buffer checked its shape); PostgreSQL parses it.
            copy.write(
                "".join(f"{e.event_id}\t{e.user_id}\t{e.category}\t{e.subcategory}\t{e.micros}\n" for e in events)
            )
        # Known event ids (and a second row of one id) take no receipt, so no row; orphans neither.
        with event_receipts.taken_by_caller():
            cursor.execute(
                "WITH new AS (INSERT INTO tutor_event_receipt (event_id) "
                f"SELECT DISTINCT i.event_id FROM {_INCOMING} i JOIN tutor_user u ON u.id = i.user_id "
                "ON CONFLICT DO NOTHING RETURNING event_id) "
                f"INSERT INTO tutor_error ({_COLUMNS}) "
                f'SELECT DISTINCT ON (i.event_id) i.event_id, i.user_id, i."errorCategory", i."errorSubCategory", '
                "timestamptz 'epoch' + i.micros * interval '1 microsecond' "
                f"FROM {_INCOMING} i JOIN new USING (event_id)"
            )
            inserted = cursor.rowcount
        cursor.execute(
            f"SELECT DISTINCT i.user_id FROM {_INCOMING} i "
            "LEFT JOIN tutor_user u ON u.id = i.user_id WHERE u.id IS NULL"
        )
        missing = {str(row[0]) for row in cursor.fetchall()}
    orphans = [(e, f"user {e.user_id} does not exist") for e in events if e.user_id in missing]
    return inserted, orphans
