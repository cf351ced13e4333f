"""The Redis buffer of accepted error events: the only package that knows its keys.

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
  the same script that bumps the user's version removes it, so a reader's snapshot shows an
  event either as pending or as committed under a newer version, never neither.

Keys (built in keys.py only):
- tutor:events                 stream, one entry per accepted request (format: entries.py); group "flush"
- tutor:pending:<user_id>      sorted set, member "<event_id>:<subcategory>", score = µs since the Unix epoch
- tutor:version:<user_id>      bumped each time PostgreSQL commits rows of the user (or the learner's
                               level or attempts change)
- tutor:version:exercise-bank  the bank's version in PostgreSQL, set when a change to the bank commits (a
                               random one when this Redis starts, until the next flush sets it again)
- tutor:exists:<user_id>       set while the learner is known to exist (confirmed by PostgreSQL or the
                               cache at most EXISTS_MARK_SECONDS ago): a push naming others is refused unwritten
- tutor:state:<user_id>        what readers last computed of the learner (learner_state.py; opaque here), labelled
                               with the generation and version it holds under; expires after RANKING_CACHE_SECONDS
- tutor:generation             random id of this buffer's lifetime: state kept under versions of an
                               earlier lifetime (before a reset or a restart of this Redis) is never taken
                               as current
- tutor:generation:run         the Redis run (server run_id) the generation belongs to: the first connection
                               to a restarted Redis starts a new generation, before any state is read through it
- tutor:throttle:<client>:<n>  a throttle's counter of window n (WindowCounter): requests per API client,
                               failed authentications per client IP
- tutor:events:dead            stream of events that could not be stored, with the reason
- tutor:stats                  hash of the pipeline's counters (accepted, flushed, dead_lettered, flushes,
                               flush durations), read by the metrics endpoint
- tutor:flush:lock             saves duplicate work between flushers; correctness never needs it. It
                               lives two flush intervals and the flusher renews it between batches, so
                               a crashed flusher delays the next flush by at most that

Scripts: each in its own file under scripts/, opening with the KEYS and ARGV it takes; named
arguments travel as one JSON object in ARGV[1].

Memory: with the buffer full (noeviction at maxmemory) Redis refuses commands that may grow it.
Everything the flush needs to drain a full buffer runs anyway (scripts flagged allow-oom), and
the acknowledgement frees the batch's entries before it adds anything (dead letters, versions).

Without a buffer (EVENT_BUFFER_URL empty), `snapshot` and `pipeline_stats` answer None and
`bump_versions`, `bank_changed` have nothing to do.
"""

from tutor.buffer import keys
from tutor.buffer.connection import BufferFull, BufferUnavailable, client, enabled
from tutor.buffer.counters import OverLimit, WindowCounter, count, peek
from tutor.buffer.entries import Entry
from tutor.buffer.events import (
    EARLIEST_EVENT_TIME,
    UNIX_EPOCH,
    BufferedEvent,
    Event,
    from_micros,
    new_event_ids,
    to_micros,
)
from tutor.buffer.flush_lock import FlushLock, flush_lock
from tutor.buffer.keys import Shard, shards
from tutor.buffer.marks import EXISTS_MARK_SECONDS, UnknownLearners, mark_existing
from tutor.buffer.shard_count import ShardCountChanged, check_shard_count
from tutor.buffer.state import PendingEvent, Snapshot, keep_state, snapshot
from tutor.buffer.stats import FLUSH_SECONDS_BUCKETS, PipelineStats, pipeline_stats
from tutor.buffer.stream import DeadLetter, ack, backlog, claim, dead_letters, push
from tutor.buffer.versions import bank_changed, bank_version, bump_versions

__all__ = [
    "EARLIEST_EVENT_TIME",
    "EXISTS_MARK_SECONDS",
    "FLUSH_SECONDS_BUCKETS",
    "UNIX_EPOCH",
    "BufferFull",
    "BufferUnavailable",
    "BufferedEvent",
    "DeadLetter",
    "Entry",
    "Event",
    "FlushLock",
    "OverLimit",
    "PendingEvent",
    "PipelineStats",
    "Shard",
    "ShardCountChanged",
    "Snapshot",
    "UnknownLearners",
    "WindowCounter",
    "ack",
    "backlog",
    "bank_changed",
    "bank_version",
    "bump_versions",
    "check_shard_count",
    "claim",
    "client",
    "count",
    "dead_letters",
    "enabled",
    "flush_lock",
    "from_micros",
    "keep_state",
    "keys",
    "mark_existing",
    "new_event_ids",
    "peek",
    "pipeline_stats",
    "push",
    "shards",
    "snapshot",
    "to_micros",
]
