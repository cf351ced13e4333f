"""Receipts of error event ids: an event id counts once, whatever door its retries come through, within the window.

On PostgreSQL the errors table is partitioned by month, and a unique index of a partitioned table
must hold the month. So every event id received takes a receipt (`tutor_event_receipt`, primary key
event_id), and a trigger on the errors table refuses a row whose id already has one (migration
0014), as the unique index did. A writer of many rows, some perhaps known, takes their receipts
first (`take`) and inserts only the new ones, telling the trigger so (`taken_by_caller`). Receipts
are kept EVENT_ID_WINDOW_DAYS from their arrival: a retry later than that would be stored again.
SQLite's one table keeps its unique index: there, `take` finds every id new and the insert skips
known ones.
"""

import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime

from django.db import connection

# Receipts are forgotten in slices, each its own short statement, so the table is never locked for long.
FORGET_SLICE = 10_000


def take(event_ids: Iterable[uuid.UUID]) -> set[uuid.UUID]:
    """Take the receipts of the event ids not received yet, in the current transaction; return those ids."""
    ids = list(dict.fromkeys(event_ids))
    if connection.vendor != "postgresql" or not ids:
        return set(ids)
    with connection.cursor() as cursor:
        # Two writers taking one id: the second waits for the first's commit, then finds it taken.
        cursor.execute(
            "INSERT INTO tutor_event_receipt (event_id) SELECT unnest(%s::uuid[]) ON CONFLICT DO NOTHING "
            "RETURNING event_id",
            [ids],
        )
        return {row[0] for row in cursor.fetchall()}


@contextmanager
def taken_by_caller() -> Iterator[None]:
    """Insert rows inside whose receipts the caller took in this transaction, each id once (PostgreSQL)."""
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('tutor.receipts_taken', 'on', true)")
        yield
        # Set until the transaction ends otherwise, and that may be a caller's outer one.
        cursor.execute("SELECT set_config('tutor.receipts_taken', 'off', true)")


def forget_before(cutoff: datetime) -> int:
    """Forget the receipts received before `cutoff`; return how many."""
    forgotten = 0
    with connection.cursor() as cursor:
        while True:
            cursor.execute(
                "DELETE FROM tutor_event_receipt WHERE event_id IN "
                "(SELECT event_id FROM tutor_event_receipt WHERE received_at < %s LIMIT %s)",
                [cutoff, FORGET_SLICE],
            )
            forgotten += cursor.rowcount
            if cursor.rowcount < FORGET_SLICE:
                return forgotten
