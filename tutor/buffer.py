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
- tutor:version:exercise-bank random id, replaced each time a curator changes the exercise bank
- tutor:known:<user_id>       set while the learner is known to exist (confirmed by PostgreSQL or the
                              cache at most learners.KNOWN_SECONDS ago): a push naming others is refused unwritten
- tutor:learner:<user_id>     what readers last computed of the learner (ranking.py), labelled with
                              the epoch and version it holds under; expires after RANKING_CACHE_SECONDS
- tutor:epoch                 random id of this buffer's lifetime: state cached under versions of an
                              earlier lifetime (before a reset of this Redis) is never taken as current
- tutor:throttle:<client>:<n> the API throttle's request counter of window n (Counter)
- tutor:events:dead           stream of events that could not be stored, with the reason
- tutor:flush:lock            saves duplicate work between flushers; correctness never needs it
"""

import json
import logging
import os
import re
import socket
import uuid
from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import NamedTuple

import orjson
import redis
from django.conf import settings
from redis.commands.core import Script

logger = logging.getLogger(__name__)

STREAM = "tutor:events"
DEAD = "tutor:events:dead"
GROUP = "flush"
LOCK = "tutor:flush:lock"
VERSION_TTL = 7 * 24 * 3600


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
    """The throttle's request counter for one client and window, counted in the same round trip as a read or write."""

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

    @property
    def member(self) -> str:
        return f"{self.event_id}:{self.subcategory}"


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
    """One stream entry: the events of one accepted request, or why they cannot be read."""

    id: str
    events: list[BufferedEvent]
    problem: str | None = None
    raw: dict | None = None


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)


def to_micros(moment: datetime) -> int:
    return (moment - EPOCH) // MICROSECOND


def from_micros(micros: int) -> datetime:
    return EPOCH + micros * MICROSECOND


def enabled() -> bool:
    """Say whether accepted events go through the buffer (else they are written straight to the database)."""
    return bool(settings.EVENT_BUFFER_URL)


@cache
def _client(url: str, single_connection_for_pid: int | None = None) -> redis.Redis:
    return redis.Redis.from_url(
        url,
        socket_connect_timeout=settings.EVENT_BUFFER_TIMEOUT,
        socket_timeout=settings.EVENT_BUFFER_TIMEOUT,
        health_check_interval=30,
        single_connection_client=single_connection_for_pid is not None,
    )


def client() -> redis.Redis:
    return _client(settings.EVENT_BUFFER_URL)


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


# Times a datetime can hold (years 1 to 9999), with a day to spare at each end for time zones.
_MICROS_MIN = to_micros(datetime(1, 1, 2, tzinfo=UTC))
_MICROS_MAX = to_micros(datetime(9999, 12, 30, tzinfo=UTC))
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _read_event(row: list) -> BufferedEvent:
    event_id, user_id, category, sub, micros = row
    # Checked here rather than parsed into UUID objects: this is the flush's hottest loop, and
    # only well-formed text may reach COPY.
    if not (_UUID.fullmatch(event_id) and _UUID.fullmatch(user_id)):
        raise ValueError(f"malformed ids in {row!r}")
    if not (type(category) is int and type(sub) is int and type(micros) is int):
        raise ValueError(f"malformed numbers in {row!r}")
    if not _MICROS_MIN <= micros <= _MICROS_MAX:
        raise ValueError(f"time out of range in {row!r}")
    return BufferedEvent(event_id, user_id, category, sub, micros)


def _decode(entry_id: bytes, fields: dict | None) -> Entry:
    entry_id = entry_id.decode()
    if not fields:
        return Entry(entry_id, [], problem="entry vanished from the stream", raw={})
    raw = {k.decode(errors="replace"): v.decode(errors="replace") for k, v in fields.items()}
    try:
        events = [_read_event(row) for row in orjson.loads(raw["events"])]
    except (KeyError, TypeError, ValueError, OverflowError) as exc:  # orjson.JSONDecodeError is a ValueError
        return Entry(entry_id, [], problem=f"unreadable entry: {exc!r}", raw=raw)
    return Entry(entry_id, events, raw=raw)


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
for _, e in ipairs(cjson.decode(ARGV[3])) do
  redis.call('ZADD', ARGV[4] .. e[2], string.format('%d', e[5]), e[1] .. ':' .. string.format('%d', e[4]))
end
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
    keys = [STREAM, counter.key if counter else STREAM, *{_pending_key(e.user_id) for e in buffered}]
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
    pipe = client().pipeline(transaction=True)
    pipe.set(EPOCH_KEY, uuid.uuid4().hex, nx=True)
    pipe.set(BANK_VERSION, uuid.uuid4().hex, nx=True)
    pipe.mget(EPOCH_KEY, BANK_VERSION)
    try:
        with _translated_errors():
            *_, (epoch, bank_version) = pipe.execute()
    except BufferFull:
        # Full before it ever had them: one-off ids, which match nothing kept, so nothing stale is used.
        return uuid.uuid4().hex.encode(), uuid.uuid4().hex.encode()
    return epoch, bank_version


def bank_changed() -> None:
    """Give the exercise bank a new version: every reader loads it afresh."""
    with _translated_errors():
        client().set(BANK_VERSION, uuid.uuid4().hex)


def _ensure_group(r: redis.Redis) -> None:
    try:
        r.xgroup_create(STREAM, GROUP, id="0", mkstream=True)
    except redis.exceptions.ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


def claim(*, consumer: str, count: int, min_idle_ms: int) -> list[Entry]:
    """Claim up to `count` entries: this consumer's unacknowledged ones, then idle ones of others, then new ones."""
    r = client()
    with _translated_errors():
        _ensure_group(r)
        # Entries this consumer name read before and never acknowledged: a flush that died.
        found = r.xreadgroup(GROUP, consumer, {STREAM: "0"}, count=count)
        claimed = list(found[0][1]) if found else []
        if len(claimed) < count:
            _, stolen, _ = r.xautoclaim(STREAM, GROUP, consumer, min_idle_ms, "0-0", count=count - len(claimed))
            known = {entry_id for entry_id, _ in claimed}
            claimed += [item for item in stolen if item[0] not in known]
        if len(claimed) < count:
            found = r.xreadgroup(GROUP, consumer, {STREAM: ">"}, count=count - len(claimed))
            claimed += list(found[0][1]) if found else []
    return [_decode(entry_id, fields) for entry_id, fields in claimed]


def ack(*, entries: list[Entry], stored_users: set[str], dead: list[tuple[Entry, BufferedEvent | None, str]]) -> None:
    """After the commit: bump the versions of users with new rows, forget the entries, keep the dead letters."""
    pipe = client().pipeline(transaction=True)
    # One MULTI: a reader sees the events either still pending under the old version, or gone
    # under the new one, whose cached counts come from a query made after the commit.
    for user_id in stored_users:
        pipe.incr(_version_key(user_id))
        pipe.expire(_version_key(user_id), VERSION_TTL)
    now = datetime.now(UTC).isoformat()
    for entry, event, reason in dead:
        record = {"entry": entry.id, "reason": reason, "at": now}
        record["event" if event else "raw"] = _encode([event]) if event else json.dumps(entry.raw)
        pipe.xadd(DEAD, record)
    members = defaultdict(list)
    for entry in entries:
        for event in entry.events:
            members[event.user_id].append(event.member)
    for user_id, user_members in members.items():
        pipe.zrem(_pending_key(user_id), *user_members)
    ids = [entry.id for entry in entries]
    if ids:
        pipe.xack(STREAM, GROUP, *ids)
        pipe.xdel(STREAM, *ids)
    with _translated_errors():
        pipe.execute()


def bump_versions(user_ids: Iterable[uuid.UUID], deleted: bool = False) -> None:
    """Tell readers that the users' rows in PostgreSQL changed outside the buffer (best effort).

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


@contextmanager
def flush_lock(ttl_seconds: int) -> Iterator[bool]:
    """Hold the flush lock if it is free; yield whether it was taken."""
    r = client()
    token = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4()}"
    with _translated_errors():
        taken = bool(r.set(LOCK, token, nx=True, ex=ttl_seconds))
    try:
        yield taken
    finally:
        if taken:
            # Release only our own lock: it may have expired and been taken by another flusher.
            r.eval(
                "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0",
                1,
                LOCK,
                token,
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
