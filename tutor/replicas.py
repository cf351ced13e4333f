"""Read replicas: the reads `on_replica` runs go to a replica that has replayed every commit they must see.

Only two kinds of reads are sent to a replica: the list endpoints and what GET /api/generate-exercise
reads from PostgreSQL when no kept state answers it alone. Every other read, every write, the admin,
the flush and migrations use the primary (`default`). Without DATABASE_REPLICA_URLS there is no
router and `on_replica` only runs what it is given.

The rule, which never undercounts: a replica is chosen at the first read of an `on_replica` call,
and only if its replay position is at least the primary's WAL insert position read at that moment;
otherwise the reads go to the primary. Why it holds, whatever the door a write came through:
1. A writer acknowledges nothing before COMMIT returns: the flush removes its events from the
   learner's pending set in Redis only then, and the API answers a write only then.
2. COMMIT returns after the commit record is inserted in the WAL (and flushed, with synchronous
   commit; the insert position covers a commit made with synchronous_commit off as well, which
   pg_current_wal_lsn, the write position, may not yet).
3. A reader takes its Redis snapshot first, then at its first read asks the primary for the insert
   position. So every commit acknowledged before the snapshot ends at or before that position.
4. A replica that has replayed up to it shows every such commit to a query started afterwards
   (replay only moves forward while the server runs). An event is then either pending in the
   snapshot or in the rows the replica returns (both at once is counted once, by event id, as on
   the primary). A client that just wrote reads its write the same way.
A replica's replay position is kept per process with the connection it was read through and is
read again only when it is not enough: it only moves forward while that connection lives, and a
restarted replica, which may open at an earlier point than it had replayed, breaks the connection.
An idle primary whose last record ended at a page's edge reports its insert position past the
page's header, which no replica reaches until the next record: the reads then go to the primary.

A replica that cannot be reached, is not in recovery (promoted, or the primary itself) or fails a
read is left alone for DOWN_SECONDS, logged; the reads run again on the primary, never a 500.
"""

import itertools
import logging
import time
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import ParamSpec, TypeVar

from django.conf import settings
from django.db import InterfaceError, OperationalError, connections

logger = logging.getLogger(__name__)

PRIMARY = "default"
DOWN_SECONDS = 5  # how long a replica that failed is left alone
_FAILURES = (OperationalError, InterfaceError)  # the server or the connection failed, not the query

P = ParamSpec("P")
T = TypeVar("T")


@dataclass
class _Choice:
    """Where the reads of one `on_replica` call go: decided at its first read (None until then)."""

    alias: str | None = None


@dataclass(frozen=True)
class _Replayed:
    """A replica's replay position (bytes of WAL), true while the connection it was read through lives."""

    connection: object
    position: int


_choice: ContextVar[_Choice | None] = ContextVar("tutor_replica_choice", default=None)
_replayed: dict[str, _Replayed] = {}
_down_until: dict[str, float] = {}
_turn = itertools.count()


def on_replica(read: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run `read` with its database reads on a caught-up replica; on the primary when none is, or one fails.

    The replica is chosen at the first read inside `read`, so a Redis snapshot taken before it is
    older than the primary's position the replica is checked against (the module's rule). If the
    replica fails, `read` runs again on the primary: it must only read.
    """
    choice = _Choice()
    token = _choice.set(choice)
    try:
        return read(*args, **kwargs)
    except _FAILURES as exc:
        if choice.alias in (None, PRIMARY):
            raise
        _leave_alone(choice.alias, exc)
    finally:
        _choice.reset(token)
    return read(*args, **kwargs)


class ReplicaRouter:
    """Send the reads of `on_replica` to the replica it chose, everything else to the primary."""

    def db_for_read(self, model, **hints):
        choice = _choice.get()
        if choice is None:
            return PRIMARY
        if choice.alias is None:
            choice.alias = _choose()
        return choice.alias

    def db_for_write(self, model, **hints):
        return PRIMARY

    def allow_relation(self, obj1, obj2, **hints):
        return True  # every alias holds the same rows

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db == PRIMARY


def _choose() -> str:
    """Return a replica that has replayed all the primary holds now (taken in turn), else the primary."""
    replicas = settings.DATABASE_REPLICAS
    start, now, needed = next(_turn), time.monotonic(), None
    for offset in range(len(replicas)):
        alias = replicas[(start + offset) % len(replicas)]
        if _down_until.get(alias, 0.0) > now:
            continue
        if needed is None:
            needed = _primary_position()  # after the reader's snapshot: see the module's rule
        if _caught_up(alias, needed):
            return alias
    return PRIMARY


def _primary_position() -> int:
    """Return the primary's WAL insert position, in bytes (a read of no table)."""
    with connections[PRIMARY].cursor() as cursor:
        cursor.execute("SELECT pg_current_wal_insert_lsn() - '0/0'::pg_lsn")
        return int(cursor.fetchone()[0])


def _caught_up(alias: str, needed: int) -> bool:
    """Say whether the replica has replayed the WAL up to `needed`; leave it alone if it cannot say."""
    database = connections[alias]
    try:
        database.ensure_connection()
        known = _replayed.get(alias)
        if known is None or known.connection is not database.connection or known.position < needed:
            with database.cursor() as cursor:
                cursor.execute("SELECT pg_last_wal_replay_lsn() - '0/0'::pg_lsn")
                position = cursor.fetchone()[0]
            if position is None:
                _leave_alone(alias, "it is not in recovery, so not a replica")
                return False
            known = _replayed[alias] = _Replayed(database.connection, int(position))
    except _FAILURES as exc:
        _leave_alone(alias, exc)
        return False
    return known.position >= needed


def _leave_alone(alias: str, reason: object) -> None:
    """Read from the primary instead of this replica for DOWN_SECONDS, and close its connection."""
    _down_until[alias] = time.monotonic() + DOWN_SECONDS
    _replayed.pop(alias, None)
    connections[alias].close()
    logger.warning("Replica %s left alone for %s s, reading from the primary: %s", alias, DOWN_SECONDS, reason)
