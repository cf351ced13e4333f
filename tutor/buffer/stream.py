"""The stream of accepted events: push, claim and acknowledge entries, and the dead letters of those not stored."""

import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson
import redis

from tutor.buffer import keys
from tutor.buffer.connection import client, flush_client, run, translated_errors
from tutor.buffer.counters import WindowCounter
from tutor.buffer.entries import Entry, decode, encode, pending_member
from tutor.buffer.events import Event
from tutor.buffer.marks import UnknownLearners
from tutor.buffer.stats import FLUSH_SECONDS_BUCKETS
from tutor.buffer.versions import VERSION_SECONDS

GROUP = "flush"


@dataclass(frozen=True)
class DeadLetter:
    """Why one event (or one unreadable entry) was not stored; kept in the dead-letter stream."""

    entry: str  # the stream entry it came in
    reason: str
    event: object = None  # the event as read from the entry (values by field name), when the entry could be split
    raw: dict | None = None  # the entry's fields, when it could not

    def fields(self, at: str) -> dict[str, str]:
        record = {"entry": self.entry, "reason": self.reason, "at": at}
        if self.raw is None:
            record["event"] = orjson.dumps(self.event, default=str).decode()
        else:
            record["raw"] = orjson.dumps(self.raw).decode()
        return record


def push(events: list[Event], counter: WindowCounter | None = None, verify: Iterable[uuid.UUID] = ()) -> None:
    """Accept events: append them to the stream and to each user's pending set, all or nothing.

    Learners in `verify` must be marked as existing (`mark_existing`), else nothing is written or
    counted and UnknownLearners names the others. With a counter, the request is counted, and
    nothing is written if that passes the counter's limit (OverLimit).
    """
    buffered = [event.buffered() for event in events]
    counters = [counter.key] if counter else []
    pending = list({keys.pending(e.user_id) for e in buffered})
    marks = [keys.exists(user_id) for user_id in set(verify)]
    options = {
        "counters": len(counters),
        "pending": len(pending),
        "exists": len(marks),
        "limit": counter.limit if counter else 0,
        "seconds": counter.seconds if counter else 0,
        "pending_prefix": keys.PENDING_PREFIX,
    }
    result = run(
        "push", [keys.STREAM, keys.STATS, *counters, *pending, *marks], [orjson.dumps(options), encode(buffered)]
    )
    if isinstance(result, list):
        raise UnknownLearners({uuid.UUID(keys.exists_user(key)) for key in result})
    if counter:
        counter.took(result)


def _read_group(r: redis.Redis, consumer: str, start: str, count: int) -> list:
    try:
        found = r.xreadgroup(GROUP, consumer, {keys.STREAM: start}, count=count)
    except redis.exceptions.ResponseError as exc:
        if "NOGROUP" not in str(exc):
            raise
        # A new (or emptied) buffer: the group is made here, even with the buffer full.
        run("create_group", [keys.STREAM], [orjson.dumps({"group": GROUP})], client=r)
        found = r.xreadgroup(GROUP, consumer, {keys.STREAM: start}, count=count)
    return list(found[0][1]) if found else []


def claim(*, consumer: str, count: int, min_idle_ms: int) -> list[Entry]:
    """Claim up to `count` entries: this consumer's unacknowledged ones, then idle ones of others, then new ones."""
    r = flush_client()
    with translated_errors():
        # Entries this consumer name read before and never acknowledged: a flush that died.
        claimed = _read_group(r, consumer, "0", count)
        if len(claimed) < count:
            _, stolen, _ = r.xautoclaim(keys.STREAM, GROUP, consumer, min_idle_ms, "0-0", count=count - len(claimed))
            known = {entry_id for entry_id, _ in claimed}
            claimed += [item for item in stolen if item[0] not in known]
        if len(claimed) < count:
            claimed += _read_group(r, consumer, ">", count - len(claimed))
    return [decode(entry_id, fields) for entry_id, fields in claimed]


def ack(*, entries: list[Entry], stored_users: set[str], dead: list[DeadLetter], flushed: int, seconds: float) -> None:
    """After the commit: forget the entries and their pending events, keep the dead letters, bump versions.

    The versions of `stored_users` and of every learner whose pending events change are bumped.
    `flushed` events are in PostgreSQL now (stored or found stored); the flush took `seconds`.
    """
    members = defaultdict(list)
    for entry in entries:
        for row in [*entry.events, *(row for row, _ in entry.refused)]:
            found = pending_member(row)
            if found:
                members[found[0]].append(found[1])
    at = datetime.now(UTC).isoformat()
    counters = {"flushed": flushed, "dead_lettered": len(dead), "flushes": 1}
    counters |= {f"flush_seconds_le_{bound}": 1 for bound in FLUSH_SECONDS_BUCKETS if seconds <= bound}
    batch = {
        "group": GROUP,
        "pending_prefix": keys.PENDING_PREFIX,
        "version_prefix": keys.VERSION_PREFIX,
        "version_seconds": VERSION_SECONDS,
        "pending": [{"user": user, "count": len(user_members)} for user, user_members in members.items()],
        "entries": [entry.id for entry in entries],
        "changed_users": sorted(stored_users | set(members)),
        "dead": [[part for pair in letter.fields(at).items() for part in pair] for letter in dead],
        "counters": counters,
        "seconds": seconds,
    }
    args = [orjson.dumps(batch), *(member for user_members in members.values() for member in user_members)]
    run("ack", [keys.STREAM, keys.DEAD_LETTERS, keys.STATS], args, client=flush_client())


def backlog() -> dict[str, int]:
    """Return how many entries wait in the stream and how many events are dead letters."""
    r = client()
    with translated_errors():
        return {"entries": r.xlen(keys.STREAM), "dead": r.xlen(keys.DEAD_LETTERS)}


def dead_letters(count: int = 100) -> list[dict[str, str]]:
    """Return the oldest dead letters."""
    with translated_errors():
        rows = client().xrange(keys.DEAD_LETTERS, count=count)
    return [{"id": i.decode(), **{k.decode(): v.decode() for k, v in f.items()}} for i, f in rows]
