"""The stream of accepted events: push, claim and acknowledge entries, and the dead letters of those not stored."""

import heapq
import itertools
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson
import redis
from redis.cluster import RedisCluster

from tutor.buffer import keys
from tutor.buffer.connection import client, flush_client, run, translated_errors
from tutor.buffer.counters import WindowCounter, for_script
from tutor.buffer.entries import Entry, decode, encode, pending_member
from tutor.buffer.events import BufferedEvent, Event
from tutor.buffer.marks import UnknownLearners, missing_marks
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
    """Accept events: append them to their shards' streams and to each user's pending set.

    Learners in `verify` must be marked as existing (`mark_existing`), else nothing is written or
    counted and UnknownLearners names the others. With a counter, the request is counted, and
    nothing is written if that passes the counter's limit (OverLimit).

    A request whose learners are all of one shard (the usual one: a request names one learner) is
    one script, all or nothing, as on a single stream. A request spread over shards is one entry per
    shard, each pushed by one script, in turn; its marks are all checked first (one round trip), so
    that an unknown learner is refused before any part is written. A part refused (BufferFull,
    BufferUnavailable) raises after the parts before it were written: those are accepted events,
    flushed as any others, and a retry of the request (or its write-through to PostgreSQL) with the
    same event ids stores each event once. So no answer says accepted unless every part was.
    """
    by_shard = defaultdict(list)
    for event in events:
        buffered = event.buffered()
        by_shard[keys.shard_of(buffered.user_id)].append(buffered)
    counter = for_script(counter)
    verify = set(verify)
    if len(by_shard) > 1 and verify:
        missing = missing_marks(verify)
        if missing:
            raise UnknownLearners(missing)
        verify = set()
    for shard, buffered in by_shard.items():
        mine = {user_id for user_id in verify if keys.shard_of(user_id) == shard}
        _push_part(shard, buffered, counter, mine)
        counter = None  # counted by the first part


def _push_part(shard: keys.Shard, buffered: list[BufferedEvent], counter: WindowCounter | None, verify: set) -> None:
    """Push one shard's part of a request: one script, all or nothing."""
    counters = [counter.key] if counter else []
    pending = list({shard.pending(e.user_id) for e in buffered})
    marks = [keys.exists(user_id) for user_id in verify]
    options = {
        "counters": len(counters),
        "pending": len(pending),
        "exists": len(marks),
        "limit": counter.limit if counter else 0,
        "seconds": counter.seconds if counter else 0,
        "pending_prefix": shard.pending_prefix,
    }
    result = run(
        "push", [shard.stream, shard.stats, *counters, *pending, *marks], [orjson.dumps(options), encode(buffered)]
    )
    if isinstance(result, list):
        raise UnknownLearners({uuid.UUID(keys.exists_user(key)) for key in result})
    if counter:
        counter.took(result)


def _read_group(r: redis.Redis | RedisCluster, shard: keys.Shard, consumer: str, start: str, count: int) -> list:
    try:
        found = r.xreadgroup(GROUP, consumer, {shard.stream: start}, count=count)
    except redis.exceptions.ResponseError as exc:
        if "NOGROUP" not in str(exc):
            raise
        # A new (or emptied) shard: the group is made here, even with the buffer full.
        run("create_group", [shard.stream], [orjson.dumps({"group": GROUP})], client=r)
        found = r.xreadgroup(GROUP, consumer, {shard.stream: start}, count=count)
    return list(found[0][1]) if found else []


def claim(*, shard: keys.Shard, consumer: str, count: int, min_idle_ms: int) -> list[Entry]:
    """Claim up to `count` entries of a shard: this consumer's unacknowledged ones, then idle ones of others,
    then new ones."""
    r = flush_client()
    with translated_errors():
        # Entries this consumer name read before and never acknowledged: a flush that died.
        claimed = _read_group(r, shard, consumer, "0", count)
        if len(claimed) < count:
            _, stolen, _ = r.xautoclaim(shard.stream, GROUP, consumer, min_idle_ms, "0-0", count=count - len(claimed))
            known = {entry_id for entry_id, _ in claimed}
            claimed += [item for item in stolen if item[0] not in known]
        if len(claimed) < count:
            claimed += _read_group(r, shard, consumer, ">", count - len(claimed))
    return [decode(entry_id, fields) for entry_id, fields in claimed]


def ack(
    *,
    shard: keys.Shard,
    entries: list[Entry],
    stored_users: set[str],
    dead: list[DeadLetter],
    flushed: int,
    seconds: float,
) -> None:
    """After the commit: forget a shard's entries and their pending events, keep the dead letters, bump versions.

    The versions of `stored_users` and of every learner whose pending events change are bumped:
    all of them learners of this shard, whose entries name only its learners, so that the script
    touches only the shard's keys. `flushed` events are in PostgreSQL now (stored or found stored);
    the flush took `seconds`.
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
        "pending_prefix": shard.pending_prefix,
        "version_prefix": shard.version_prefix,
        "version_seconds": VERSION_SECONDS,
        "pending": [{"user": user, "count": len(user_members)} for user, user_members in members.items()],
        "entries": [entry.id for entry in entries],
        "changed_users": sorted(stored_users | set(members)),
        "dead": [[part for pair in letter.fields(at).items() for part in pair] for letter in dead],
        "counters": counters,
        "seconds": seconds,
    }
    args = [orjson.dumps(batch), *(member for user_members in members.values() for member in user_members)]
    run("ack", [shard.stream, shard.dead_letters, shard.stats], args, client=flush_client())


def backlog() -> dict[str, int]:
    """Return how many entries wait in the streams of every shard and how many events are dead letters."""
    pipe = client().pipeline(transaction=False)
    for shard in keys.shards():
        pipe.xlen(shard.stream)
        pipe.xlen(shard.dead_letters)
    with translated_errors():
        lengths = pipe.execute()
    return {"entries": sum(lengths[::2]), "dead": sum(lengths[1::2])}


def dead_letters(count: int = 100) -> list[dict[str, str]]:
    """Return the oldest dead letters, of every shard, each naming its shard: entry ids are only unique within one."""
    shards = keys.shards()
    pipe = client().pipeline(transaction=False)
    for shard in shards:
        pipe.xrange(shard.dead_letters, count=count)
    with translated_errors():
        found = pipe.execute()
    of_shards = [[(i, f, shard.number) for i, f in rows] for shard, rows in zip(shards, found, strict=True)]
    rows = heapq.merge(*of_shards, key=lambda row: _entry_order(row[0]))
    return [
        {"id": i.decode(), "shard": str(number), **{k.decode(): v.decode() for k, v in f.items()}}
        for i, f, number in itertools.islice(rows, count)
    ]


def _entry_order(entry_id: bytes) -> tuple[int, int]:
    """Return a stream entry id as (milliseconds, sequence), the order of its time of writing."""
    milliseconds, _, sequence = entry_id.partition(b"-")
    return int(milliseconds), int(sequence)
