"""The Redis buffer of accepted error events: the only module that knows its keys.

Why it exists: errors stream in from live conversations faster than one PostgreSQL write per
request can take. An accepted event is written here in one round trip and answered 202 at
once; a Celery flush moves events to PostgreSQL (the source of truth) in batches.

What it guarantees:
- An event is accepted only if every command of its request was applied (one script: Redis
  refuses a full buffer's first write, and a script that has written runs to its end): a full
  buffer (noeviction) or a dead Redis refuses the whole request, never part of it.
- An entry leaves the stream only after PostgreSQL has committed it (`ack` runs after the
  commit), so a crash at any point loses nothing; a repeated batch inserts nothing twice
  because the database ignores known event_ids.
- The read path sees every event from acceptance on: `tutor:pending:<user>` holds it until
  the same MULTI that bumps the user's version removes it, so a reader's snapshot shows an
  event either as pending or as committed under a newer version, never neither.

Keys:
- tutor:events                stream, one entry per accepted request; group "flush"
- tutor:pending:<user_id>     sorted set, member "<event_id>:<subcategory>", score = µs since epoch
- tutor:version:<user_id>     bumped each time PostgreSQL commits rows of the user (or the learner's
                              level or attempts change)
- tutor:version:exercise-bank the bank's version in PostgreSQL, set when a change to the bank commits (a
                              random one when this Redis starts, until the next flush sets it again)
- tutor:known:<user_id>       set while the learner is known to exist (confirmed by PostgreSQL or the
                              cache at most KNOWN_SECONDS ago): a push naming others is refused unwritten
- tutor:learner:<user_id>     what readers last computed of the learner (ranking.py), labelled with
                              the epoch and version it holds under; expires after RANKING_CACHE_SECONDS
- tutor:epoch                 random id of this buffer's lifetime: state cached under versions of an
                              earlier lifetime (before a reset or a restart of this Redis) is never taken
                              as current
- tutor:epoch:run             the Redis run (server run_id) the epoch belongs to: the first connection
                              to a restarted Redis starts a new epoch, before any state is read through it
- tutor:throttle:<client>:<n> a throttle's counter of window n (Counter): requests per API client,
                              failed authentications per client IP
- tutor:events:dead           stream of events that could not be stored, with the reason
- tutor:stats                 hash of the pipeline's counters (accepted, flushed, dead_lettered, flushes,
                              flush durations), read by the metrics endpoint
- tutor:flush:lock            saves duplicate work between flushers; correctness never needs it. It
                              lives two flush intervals and the flusher renews it between batches, so
                              a crashed flusher delays the next flush by at most that

Memory: with the buffer full (noeviction at maxmemory) Redis refuses commands that may grow it.
Everything the flush needs to drain a full buffer runs anyway (scripts flagged allow-oom), and
the acknowledgement frees the batch's entries before it adds anything (dead letters, versions).
"""

import logging
import os
import re
import socket
import uuid
from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import NamedTuple

import orjson
import redis
from django.conf import settings
from redis.commands.core import Script

from tutor.taxonomy import CATEGORY_OF

logger = logging.getLogger(__name__)

STREAM = "tutor:events"
DEAD = "tutor:events:dead"
GROUP = "flush"
LOCK = "tutor:flush:lock"
VERSION_TTL = 7 * 24 * 3600
# How long a learner just confirmed to exist (by PostgreSQL or the cache) is marked known here.
KNOWN_SECONDS = 300


def _pending_key(user_id) -> str:
    return f"tutor:pending:{user_id}"


def _version_key(user_id) -> str:
    return f"tutor:version:{user_id}"


def _state_key(user_id) -> str:
    return f"tutor:learner:{user_id}"


def _known_key(user_id) -> str:
    return f"tutor:known:{user_id}"


BANK_VERSION = "tutor:version:exercise-bank"
EPOCH_KEY = "tutor:epoch"
EPOCH_RUN_KEY = "tutor:epoch:run"
STATS = "tutor:stats"


class BufferUnavailable(Exception):
    """The buffer's Redis cannot be reached."""


class BufferFull(Exception):
    """The buffer's Redis refuses writes because it reached maxmemory (noeviction)."""


class OverLimit(Exception):
    """The client's request counter passed its limit: nothing was written."""


class UnknownLearners(Exception):
    """Some events name learners the buffer does not know to exist: nothing was written or counted."""

    def __init__(self, user_ids: set[uuid.UUID]):
        super().__init__(f"{len(user_ids)} learners to verify")
        self.user_ids = user_ids


@dataclass(frozen=True)
class Counter:
    """A throttle's counter for one client and window, counted alone or in the same round trip as a read or write."""

    name: str  # the client and the window
    seconds: int  # the counter expires after the window
    limit: int

    @property
    def key(self) -> str:
        return f"tutor:throttle:{self.name}"


class Event(NamedTuple):
    """An accepted, validated error event (a tuple: batches create a thousand at a time)."""

    event_id: uuid.UUID
    user_id: uuid.UUID
    category: int
    subcategory: int
    timestamp: datetime

    def buffered(self) -> "BufferedEvent":
        return BufferedEvent(
            str(self.event_id), str(self.user_id), self.category, self.subcategory, to_micros(self.timestamp)
        )


def new_event_ids(count: int) -> list[uuid.UUID]:
    """Return `count` random (version 4) event ids, from one read of the system's random source."""
    raw = os.urandom(16 * count)
    return [uuid.UUID(bytes=raw[i : i + 16], version=4) for i in range(0, 16 * count, 16)]


class BufferedEvent(NamedTuple):
    """An event as the buffer holds it: ids as text and time in µs, cheap to read back and to COPY."""

    event_id: str
    user_id: str
    category: int
    subcategory: int
    micros: int


@dataclass(frozen=True)
class PendingEvent:
    event_id: uuid.UUID
    subcategory: int
    micros: int


@dataclass(frozen=True)
class Snapshot:
    """What a reader needs from the buffer, read atomically in one round trip."""

    user_id: uuid.UUID
    pending: list[PendingEvent]
    version: int
    epoch: str
    bank_version: str
    state: bytes | None  # what a reader last kept of the learner (`keep_state`), whatever its version
    count: int | None = None  # the throttle's count, when a counter was given and could be taken


@dataclass
class Entry:
    """One stream entry: the events of one accepted request that can be stored, and those that cannot."""

    id: str
    events: list[BufferedEvent]
    refused: list[tuple[object, str]] = field(default_factory=list)  # (row as read, why it cannot be stored)
    problem: str | None = None  # why the entry could not be split into rows at all
    raw: dict | None = None


@dataclass(frozen=True)
class DeadLetter:
    """Why one event (or one unreadable entry) was not stored; kept in the dead-letter stream."""

    entry: str  # the stream entry it came in
    reason: str
    event: object = None  # the event's row as read from the entry, when the entry could be split
    raw: dict | None = None  # the entry's fields, when it could not

    def fields(self, at: str) -> dict[str, str]:
        record = {"entry": self.entry, "reason": self.reason, "at": at}
        if self.raw is None:
            record["event"] = orjson.dumps(self.event, default=str).decode()
        else:
            record["raw"] = orjson.dumps(self.raw).decode()
        return record


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)


def to_micros(moment: datetime) -> int:
    return (moment - EPOCH) // MICROSECOND


def from_micros(micros: int) -> datetime:
    return EPOCH + micros * MICROSECOND


def enabled() -> bool:
    """Say whether accepted events go through the buffer (else they are written straight to the database)."""
    return bool(settings.EVENT_BUFFER_URL)


# Runs on every new connection, before anything else is sent through it, and when a reader finds
# no epoch: a Redis that restarted (a new run_id) gets a new epoch and bank version, so state kept
# before the restart (events written through to PostgreSQL meanwhile, a bank changed meanwhile) is
# never taken as current. allow-oom: a full buffer must still be readable.
_START_EPOCH = """#!lua flags=allow-oom
assert(#KEYS == 3 and #ARGV == 2, 'start_epoch takes KEYS epoch, bank version, epoch run; ARGV two fresh ids')
local run = string.match(redis.call('INFO', 'server'), 'run_id:(%x+)')
if redis.call('GET', KEYS[3]) ~= run or redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('SET', KEYS[1], ARGV[1])
  redis.call('SET', KEYS[2], ARGV[2])
  redis.call('SET', KEYS[3], run)
end
return redis.call('MGET', KEYS[1], KEYS[2])
"""


def _start_epoch_args() -> list:
    return [_START_EPOCH, 3, EPOCH_KEY, BANK_VERSION, EPOCH_RUN_KEY, uuid.uuid4().hex, uuid.uuid4().hex]


def _on_connect(connection: redis.Connection) -> None:
    connection.on_connect()
    try:
        connection.send_command("EVAL", *_start_epoch_args())
        connection.read_response()
    except redis.exceptions.ResponseError as exc:
        raise redis.exceptions.ConnectionError(f"could not start the buffer's epoch: {exc}") from exc


FLUSH_TIMEOUT_SECONDS = 30


@cache
def _client(url: str, single_connection_for_pid: int | None = None, timeout: float | None = None) -> redis.Redis:
    return redis.Redis.from_url(
        url,
        socket_connect_timeout=settings.EVENT_BUFFER_TIMEOUT,
        socket_timeout=timeout or settings.EVENT_BUFFER_TIMEOUT,
        health_check_interval=30,
        single_connection_client=single_connection_for_pid is not None,
        redis_connect_func=_on_connect,
    )


def client() -> redis.Redis:
    return _client(settings.EVENT_BUFFER_URL)


def _flush_client() -> redis.Redis:
    """The flusher's client: a batch's claim and acknowledgement may take longer than a request may wait."""
    return _client(settings.EVENT_BUFFER_URL, timeout=FLUSH_TIMEOUT_SECONDS)


def _request_client() -> redis.Redis:
    """The client of the one or two calls each API request makes: one connection of this process's own.

    It skips the connection pool's bookkeeping (a tenth of a warm request's round trip). A forked
    process gets its own, never its parent's socket.
    """
    return _client(settings.EVENT_BUFFER_URL, os.getpid())


@contextmanager
def _translated_errors() -> Iterator[None]:
    try:
        yield
    except redis.exceptions.OutOfMemoryError as exc:
        raise BufferFull(str(exc)) from exc
    except redis.exceptions.ExecAbortError as exc:
        if "OOM" in str(exc):
            raise BufferFull(str(exc)) from exc
        raise
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
        raise BufferUnavailable(str(exc)) from exc


def _encode(events: Iterable[BufferedEvent]) -> bytes:
    return orjson.dumps([tuple(event) for event in events])


# The times an event may have: from EARLIEST_EVENT_TIME (the API refuses earlier ones) to what a
# datetime can hold, with a day to spare for time zones.
EARLIEST_EVENT_TIME = datetime(2000, 1, 1, tzinfo=UTC)
_MICROS_MIN = to_micros(EARLIEST_EVENT_TIME)
_MICROS_MAX = to_micros(datetime(9999, 12, 30, tzinfo=UTC))
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _read_event(row: object) -> BufferedEvent:
    """Return the row as an event PostgreSQL will take, or raise ValueError saying why it would not."""
    if type(row) is not list or len(row) != len(BufferedEvent._fields):
        raise ValueError(f"not an event row: {row!r}")
    event_id, user_id, category, sub, micros = row
    # Checked here rather than parsed into UUID objects: this is the flush's hottest loop, and
    # only well-formed text may reach COPY.
    if not (type(event_id) is str and _UUID.fullmatch(event_id)):
        raise ValueError(f"event_id is not a UUID: {event_id!r}")
    if not (type(user_id) is str and _UUID.fullmatch(user_id)):
        raise ValueError(f"user_id is not a UUID: {user_id!r}")
    if not (type(category) is int and type(sub) is int and CATEGORY_OF.get(sub) == category):
        raise ValueError(f"no such pair: errorCategory {category!r}, errorSubCategory {sub!r}")
    if not (type(micros) is int and _MICROS_MIN <= micros <= _MICROS_MAX):
        raise ValueError(f"time out of range: {micros!r} µs since 1970")
    return BufferedEvent(event_id, user_id, category, sub, micros)


def _decode(entry_id: bytes, fields: dict | None) -> Entry:
    entry_id = entry_id.decode()
    if not fields:
        return Entry(entry_id, [], problem="entry vanished from the stream", raw={})
    raw = {k.decode(errors="replace"): v.decode(errors="replace") for k, v in fields.items()}
    try:
        rows = orjson.loads(fields[b"events"])
    except (KeyError, orjson.JSONDecodeError) as exc:
        return Entry(entry_id, [], problem=f"unreadable entry: {exc!r}", raw=raw)
    if type(rows) is not list:
        return Entry(entry_id, [], problem="unreadable entry: events is not a list", raw=raw)
    entry = Entry(entry_id, [], raw=raw)
    for row in rows:
        try:
            entry.events.append(_read_event(row))
        except ValueError as exc:
            entry.refused.append((row, str(exc)))
    return entry


# A pending member: "<event_id>:<subcategory>" in the set of the event's learner, added by the
# push script from the stream entry's own rows. `pending_member` below builds the same from a row
# read back, so the acknowledgement removes every member its entry added, whatever the row holds.
_MEMBER = """
local function member(e)
  return e[1] .. ':' .. string.format('%d', e[4])
end
local function pending_key(prefix, e)
  return prefix .. e[2]
end
"""


def pending_member(row: object) -> tuple[str, str] | None:
    """Return (user_id, member) that the push script added for this stream row, or None if it added none.

    The push script builds members only from rows our encoder wrote: text ids and an integer
    subcategory; a row of any other shape could not have come through it.
    """
    if type(row) in (list, BufferedEvent) and len(row) == len(BufferedEvent._fields):
        event_id, user_id, _, sub, _ = row
        if type(event_id) is str and type(user_id) is str and type(sub) is int:
            return user_id, f"{event_id}:{sub}"
    return None


# Counting is the script's first write: with the buffer full (noeviction) Redis refuses that
# first write and the script writes nothing, so a request is accepted whole or not at all.
_COUNT = """
local function count(key, seconds)
  local n = redis.call('INCR', key)
  if n == 1 then redis.call('EXPIRE', key, seconds) end
  return n
end
"""

# The events travel once, as the stream entry's JSON; the script adds each to its user's pending
# set from there (the pending keys are declared in KEYS too). Times go to ZADD as integers written
# out in full: Lua would print a float with 14 digits and lose the microseconds.
_PUSH = (
    _COUNT
    + _MEMBER
    + """
local unknown = {}
for i = tonumber(ARGV[5]), #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 0 then unknown[#unknown + 1] = KEYS[i] end
end
if #unknown > 0 then return unknown end
local limit = tonumber(ARGV[1])
if limit >= 0 then
  local n = count(KEYS[2], ARGV[2])
  if n > limit then return n end
end
redis.call('XADD', KEYS[1], '*', 'events', ARGV[3])
local rows = cjson.decode(ARGV[3])
for _, e in ipairs(rows) do
  redis.call('ZADD', pending_key(ARGV[4], e), string.format('%d', e[5]), member(e))
end
redis.call('HINCRBY', KEYS[3], 'accepted', #rows)
return 0
"""
)

# The read path's one round trip. A full buffer only costs the count (the request is let through).
_SNAPSHOT = (
    _COUNT
    + """
local members = redis.call('ZRANGE', KEYS[1], '-inf', '+inf', 'BYSCORE', 'WITHSCORES')
local counted = false
if KEYS[6] then
  local ok, n = pcall(count, KEYS[6], ARGV[1])
  if ok then counted = n end
end
local values = redis.call('MGET', KEYS[2], KEYS[3], KEYS[4], KEYS[5])
return {members, values[1], values[2], values[3], values[4], counted}
"""
)

_COUNT_ONLY = _COUNT + "return count(KEYS[1], ARGV[1])"

_KEEP = """
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
if KEYS[2] then redis.call('SET', KEYS[2], 1, 'EX', ARGV[3]) end
"""


@cache
def _script(url: str, source: str) -> Script:
    return _client(url).register_script(source)


def _run(source: str, keys: list, args: list):
    with _translated_errors():
        return _script(settings.EVENT_BUFFER_URL, source)(keys=keys, args=args, client=_request_client())


def push(events: list[Event], counter: Counter | None = None, verify: Iterable[uuid.UUID] = ()) -> None:
    """Accept events: append them to the stream and to each user's pending set, all or nothing.

    Learners in `verify` must be known (`mark_known`), else nothing is written or counted and
    UnknownLearners names the others. With a counter, the request is counted, and nothing is
    written if that passes the counter's limit (OverLimit).
    """
    buffered = [event.buffered() for event in events]
    keys = [STREAM, counter.key if counter else STREAM, STATS, *{_pending_key(e.user_id) for e in buffered}]
    first_known = len(keys) + 1  # Lua counts from 1
    keys += [_known_key(user_id) for user_id in set(verify)]
    args = [
        counter.limit if counter else -1,
        counter.seconds if counter else 0,
        _encode(buffered),
        _pending_key(""),
        first_known,
    ]
    result = _run(_PUSH, keys, args)
    if isinstance(result, list):
        prefix = _known_key("")
        raise UnknownLearners({uuid.UUID(key.decode().removeprefix(prefix)) for key in result})
    if result:
        raise OverLimit(result)


def mark_known(user_ids: Iterable[uuid.UUID], seconds: int) -> None:
    """Say that these learners exist, for `seconds` (just confirmed by PostgreSQL or the cache; best effort)."""
    try:
        with _translated_errors():
            pipe = client().pipeline(transaction=False)
            for user_id in user_ids:
                pipe.set(_known_key(user_id), 1, ex=seconds)
            pipe.execute()
    except (BufferUnavailable, BufferFull) as exc:
        logger.info("Could not mark learners as known: %s", exc)


def count(counter: Counter) -> int:
    """Count one request of the counter's client and return the count in this window."""
    return _run(_COUNT_ONLY, [counter.key], [counter.seconds])


def peek(counter: Counter) -> int:
    """Return the count of the counter's client in this window, without counting."""
    with _translated_errors():
        return int(_request_client().get(counter.key) or 0)


def snapshot(user_id: uuid.UUID, counter: Counter | None = None) -> Snapshot:
    """Return the user's pending events, versions, epoch and kept state (`keep_state`), read atomically.

    With a counter, the request is also counted (Snapshot.count; None when the buffer is full).
    """
    keys = [_pending_key(user_id), _version_key(user_id), EPOCH_KEY, BANK_VERSION, _state_key(user_id)]
    members, version, epoch, bank_version, state, counted = _run(
        _SNAPSHOT, keys + ([counter.key] if counter else []), [counter.seconds if counter else 0]
    )
    if epoch is None or bank_version is None:
        epoch, bank_version = _start_epoch()
    pending = {}
    for member, score in zip(members[::2], members[1::2], strict=True):
        event_id, sub = member.decode().split(":")
        pending[event_id] = PendingEvent(uuid.UUID(event_id), int(sub), int(float(score)))
    return Snapshot(
        user_id,
        list(pending.values()),
        int(version or 0),
        epoch.decode(),
        bank_version.decode(),
        state,
        counted or None,
    )


def keep_state(user_id: uuid.UUID, state: bytes, seconds: int, known_seconds: int | None = None) -> None:
    """Keep what a reader computed of the learner, for the next snapshots (best effort: it can be recomputed).

    With `known_seconds`, the learner was just read from PostgreSQL: it is marked known too (`mark_known`).
    """
    keys = [_state_key(user_id), *([_known_key(user_id)] if known_seconds else [])]
    try:
        _run(_KEEP, keys, [state, seconds, known_seconds or 0])
    except (BufferUnavailable, BufferFull) as exc:
        logger.info("Could not keep the state of learner %s: %s", user_id, exc)


def _start_epoch() -> tuple[bytes, bytes]:
    """Give a new (or reset) buffer its epoch and bank version, unless another process just did."""
    with _translated_errors():
        return tuple(client().execute_command("EVAL", *_start_epoch_args()))


def bank_version() -> str | None:
    """Return the exercise bank's version as readers see it here."""
    with _translated_errors():
        value = client().get(BANK_VERSION)
    return value.decode() if value else None


def bank_changed(version: str) -> None:
    """Give the exercise bank its new version: every reader loads it afresh."""
    with _translated_errors():
        client().set(BANK_VERSION, version)


_CREATE_GROUP = """#!lua flags=allow-oom
assert(#KEYS == 1 and #ARGV == 1, 'create_group takes KEYS stream; ARGV group')
redis.pcall('XGROUP', 'CREATE', KEYS[1], ARGV[1], '0', 'MKSTREAM')
"""


def _read_group(r: redis.Redis, consumer: str, start: str, count: int) -> list:
    try:
        found = r.xreadgroup(GROUP, consumer, {STREAM: start}, count=count)
    except redis.exceptions.ResponseError as exc:
        if "NOGROUP" not in str(exc):
            raise
        # A new (or emptied) buffer: the group is made here, even with the buffer full.
        r.eval(_CREATE_GROUP, 1, STREAM, GROUP)
        found = r.xreadgroup(GROUP, consumer, {STREAM: start}, count=count)
    return list(found[0][1]) if found else []


def claim(*, consumer: str, count: int, min_idle_ms: int) -> list[Entry]:
    """Claim up to `count` entries: this consumer's unacknowledged ones, then idle ones of others, then new ones."""
    r = _flush_client()
    with _translated_errors():
        # Entries this consumer name read before and never acknowledged: a flush that died.
        claimed = _read_group(r, consumer, "0", count)
        if len(claimed) < count:
            _, stolen, _ = r.xautoclaim(STREAM, GROUP, consumer, min_idle_ms, "0-0", count=count - len(claimed))
            known = {entry_id for entry_id, _ in claimed}
            claimed += [item for item in stolen if item[0] not in known]
        if len(claimed) < count:
            claimed += _read_group(r, consumer, ">", count - len(claimed))
    return [_decode(entry_id, fields) for entry_id, fields in claimed]


# The batch's pending members and entries go first: that frees memory, and a reader sees the
# events either still pending under the old versions or gone under the new ones (one script, so
# one atomic step). Then what needs new memory: dead letters, versions, counters. allow-oom: a
# full buffer must drain, and this frees at least what it adds.
_ACK = """#!lua flags=allow-oom
assert(#KEYS == 3 and #ARGV >= 5,
  'ack takes KEYS stream, dead letters, stats; ARGV group, pending prefix, version prefix, version ttl, ' ..
  'batch, then the members named by batch.pending')
local batch = cjson.decode(ARGV[5])
local at = 6
for _, group in ipairs(batch.pending) do
  local user, count = group.user, group.count
  -- In slices: Lua unpacks at most a few thousand values at once.
  for first = at, at + count - 1, 1000 do
    redis.call('ZREM', ARGV[2] .. user, unpack(ARGV, first, math.min(first + 999, at + count - 1)))
  end
  at = at + count
end
for _, id in ipairs(batch.entries) do
  redis.call('XACK', KEYS[1], ARGV[1], id)
  redis.call('XDEL', KEYS[1], id)
end
for _, letter in ipairs(batch.dead) do
  redis.call('XADD', KEYS[2], '*', unpack(letter))
end
for _, user in ipairs(batch.changed_users) do
  redis.call('INCR', ARGV[3] .. user)
  redis.call('EXPIRE', ARGV[3] .. user, ARGV[4])
end
for name, n in pairs(batch.counters) do
  redis.call('HINCRBY', KEYS[3], name, n)
end
redis.call('HINCRBYFLOAT', KEYS[3], 'flush_seconds_sum', tostring(batch.seconds))
"""


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
        "pending": [{"user": user, "count": len(user_members)} for user, user_members in members.items()],
        "entries": [entry.id for entry in entries],
        "changed_users": sorted(stored_users | set(members)),
        "dead": [[part for pair in letter.fields(at).items() for part in pair] for letter in dead],
        "counters": counters,
        "seconds": seconds,
    }
    args = [GROUP, _pending_key(""), _version_key(""), VERSION_TTL, orjson.dumps(batch)]
    args += [member for user_members in members.values() for member in user_members]
    with _translated_errors():
        _flush_client().eval(_ACK, 3, STREAM, DEAD, STATS, *args)


def bump_versions(user_ids: Iterable[uuid.UUID], deleted: bool = False) -> bool:
    """Tell readers that the users' rows in PostgreSQL changed outside the buffer; say whether it was told.

    For deleted learners, also forget that they are known.
    """
    pipe = client().pipeline(transaction=False)
    for user_id in set(user_ids):
        pipe.incr(_version_key(user_id))
        pipe.expire(_version_key(user_id), VERSION_TTL)
        if deleted:
            pipe.delete(_known_key(user_id))
    try:
        with _translated_errors():
            pipe.execute()
    except (BufferUnavailable, BufferFull) as exc:
        logger.warning("Could not bump user versions: %s", exc)
        return False
    return True


# Take the lock, or renew it for the flusher that holds it (allow-oom: a full buffer must drain).
_TAKE_LOCK = """#!lua flags=allow-oom
assert(#KEYS == 1 and #ARGV == 2, 'take_lock takes KEYS lock; ARGV token, milliseconds')
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""
_RELEASE_LOCK = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"


@dataclass
class FlushLock:
    """The flush lock while a flusher holds it; it lapses `seconds` after it was last taken or renewed."""

    token: str
    seconds: float

    def renew(self) -> bool:
        """Hold the lock for `seconds` more; say whether it was still ours."""
        with _translated_errors():
            return bool(client().eval(_TAKE_LOCK, 1, LOCK, self.token, int(self.seconds * 1000)))


@contextmanager
def flush_lock(seconds: float) -> Iterator[FlushLock | None]:
    """Hold the flush lock if it is free, for `seconds` at a time; yield it, or None when another flusher has it."""
    lock = FlushLock(f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4()}", seconds)
    taken = lock.renew()
    try:
        yield lock if taken else None
    finally:
        if taken:
            # Release only our own lock: it may have lapsed and been taken by another flusher.
            with _translated_errors():
                client().eval(_RELEASE_LOCK, 1, LOCK, lock.token)


# Upper bounds (seconds) of the flush-duration histogram kept in STATS, as Prometheus buckets.
FLUSH_SECONDS_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


@dataclass(frozen=True)
class PipelineStats:
    """How the pipeline is doing, from the buffer's own Redis (the same for every process that asks)."""

    entries: int  # stream entries (accepted requests) not yet flushed
    oldest_age_seconds: float | None  # age of the oldest of them; None when the stream is empty
    dead_letters: int  # events held in the dead-letter stream
    accepted: int  # events accepted into the buffer, since this Redis was first used
    flushed: int  # events whose flush committed (stored now, or found stored already)
    dead_lettered: int  # events sent to the dead letters
    flushes: int  # flushed batches
    flush_seconds_sum: float  # their total duration
    flush_seconds_buckets: dict[float, int]  # batches that took at most each bound (cumulative)


def pipeline_stats() -> PipelineStats:
    """Read the stream's depth and age and the pipeline's counters, in one round trip."""
    pipe = client().pipeline(transaction=False)
    pipe.xlen(STREAM)
    pipe.xrange(STREAM, count=1)
    pipe.xlen(DEAD)
    pipe.hgetall(STATS)
    pipe.time()
    with _translated_errors():
        entries, first, dead, counters, (seconds, micros) = pipe.execute()
    oldest = None
    if first:
        first_ms = int(first[0][0].split(b"-")[0])
        oldest = max(0.0, seconds + micros / 1e6 - first_ms / 1000)
    counters = {k.decode(): v.decode() for k, v in counters.items()}
    return PipelineStats(
        entries=entries,
        oldest_age_seconds=oldest,
        dead_letters=dead,
        accepted=int(counters.get("accepted", 0)),
        flushed=int(counters.get("flushed", 0)),
        dead_lettered=int(counters.get("dead_lettered", 0)),
        flushes=int(counters.get("flushes", 0)),
        flush_seconds_sum=float(counters.get("flush_seconds_sum", 0)),
        flush_seconds_buckets={b: int(counters.get(f"flush_seconds_le_{b}", 0)) for b in FLUSH_SECONDS_BUCKETS},
    )


def backlog() -> dict[str, int]:
    """Return how many entries wait in the stream and how many events are dead letters."""
    r = client()
    with _translated_errors():
        return {"entries": r.xlen(STREAM), "dead": r.xlen(DEAD)}


def dead_letters(count: int = 100) -> list[dict[str, str]]:
    """Return the oldest dead letters."""
    with _translated_errors():
        rows = client().xrange(DEAD, count=count)
    return [{"id": i.decode(), **{k.decode(): v.decode() for k, v in f.items()}} for i, f in rows]
