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
- Events are spread over EVENT_STREAM_SHARDS shards, each learner in one (keys.shard_number), each
  shard a stream of its own with its own consumer group and flush lock; every key a script touches
  carries its shard's hash tag (keys.py), so each script touches one slot of a Redis Cluster
  (EVENT_BUFFER_CLUSTER). A request is one entry per shard it names, each pushed by one script; the
  learner-exists marks of a request over several shards are checked before any part is written. A
  part that meets a full shard raises BufferFull, one whose node is down BufferUnavailable, with the
  parts before it written: those events are accepted and flushed as any others, and the request's
  retry or write-through (same event ids) stores each once. So the API answers 202 only once every
  event was accepted, by its shard or by PostgreSQL.
- The read path sees every event from acceptance on: `tutor:pending:<user>` holds it until
  the same script that bumps the user's version removes it, so a reader's snapshot shows an
  event either as pending or as committed under a newer version, never neither.

Keys (built in keys.py only; `{t}` is the hash tag of the learner's or the shard's shard, which is empty,
with the `:` before it, on one Redis with one shard: the names of the release before shards):
- tutor:events:{t}             a shard's stream, one entry per accepted request and shard (format: entries.py);
                               group "flush"
- tutor:pending:{t}:<user_id>  sorted set, member "<event_id>:<subcategory>", score = µs since the Unix epoch
- tutor:version:{t}:<user_id>  bumped each time PostgreSQL commits rows of the user (or the learner's
                               level or attempts change)
- tutor:version:exercise-bank:{t}  the shard's copy of the bank's version in PostgreSQL, set when a change to the
                               bank commits (a random one when its node starts, until the next flush sets it again)
- tutor:exists:{t}:<user_id>   set while the learner is known to exist (confirmed by PostgreSQL or the
                               cache at most EXISTS_MARK_SECONDS ago): a push naming others is refused unwritten
- tutor:state:{t}:<user_id>    what readers last computed of the learner (learner_state.py; opaque here), labelled
                               with the generation and version it holds under; expires after RANKING_CACHE_SECONDS
- tutor:generation:{t}         random id of the shard's lifetime: state kept under versions of an
                               earlier lifetime (before a reset or a restart of its Redis) is never taken
                               as current
- tutor:generation:run:{t}     the Redis run (server run_id) the generation belongs to: the first connection
                               to a restarted Redis starts a new generation of each shard it serves, before any
                               state is read through it
- tutor:throttle:<client>:<n>  a throttle's counter of window n (WindowCounter): requests per API client,
                               failed authentications per client IP. Untagged: on a cluster it is counted in
                               a round trip of its own (counters.for_script), on one Redis inside the scripts
- tutor:events:dead:{t}        a shard's stream of events that could not be stored, with the reason
- tutor:stats:{t}              hash of a shard's counters (accepted, flushed, dead_lettered, flushes,
                               flush durations), summed over shards for the metrics endpoint
- tutor:flush:lock:{t}         saves duplicate work between flushers of a shard; correctness never needs it. It
                               lives two flush intervals and the flusher renews it between batches, so
                               a crashed flusher delays the shard's next flush by at most that
- tutor:shards                 the shard count the events were pushed under: the flush refuses another count
                               while those shards hold entries (shard_count.py)

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
