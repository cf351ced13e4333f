"""Every Redis key of the buffer, named `tutor:<what>` or `tutor:<what>:<id>`: no other module builds one.

Events are spread over EVENT_STREAM_SHARDS shards, each learner in one of them (`shard_number`).
Every key a script touches carries its shard's hash tag, so that each script touches one slot
of a Redis Cluster: the shard's own keys (stream, dead letters, stats, flush lock, and its copy
of the generation, generation run and bank version) and the keys of each of its learners
(pending set, version, kept state, learner-exists mark). With one Redis and one shard the tag is
empty: the keys keep the names of the release before shards, so a running buffer carries on.
The throttle's counters are keyed by client, not by learner: they carry no tag.
"""

import uuid
from dataclasses import dataclass
from functools import cache

from django.conf import settings
from redis.crc import REDIS_CLUSTER_HASH_SLOTS, key_slot

STREAM = "tutor:events"
DEAD_LETTERS = "tutor:events:dead"
STATS = "tutor:stats"
FLUSH_LOCK = "tutor:flush:lock"
GENERATION = "tutor:generation"
GENERATION_RUN = "tutor:generation:run"
BANK_VERSION = "tutor:version:exercise-bank"
# The shard count the buffer's events were last pushed under (absent: one shard, untagged).
SHARD_COUNT = "tutor:shards"

# The scripts build a learner's pending and version keys from the user ids they read: prefix, then id.
PENDING_PREFIX = "tutor:pending:"
VERSION_PREFIX = "tutor:version:"
_STATE = "tutor:state:"
_EXISTS = "tutor:exists:"
_THROTTLE = "tutor:throttle:"


@dataclass(frozen=True)
class Shard:
    """The keys of one shard: its stream and what goes with it, and the prefixes of its learners' keys."""

    number: int
    tag: str  # "{...}", a hash tag whose slot lies in this shard's share of the slots; "" untagged

    def _name(self, base: str) -> str:
        return f"{base}:{self.tag}" if self.tag else base

    def _prefix(self, base: str) -> str:
        return f"{base}{self.tag}:" if self.tag else base

    @property
    def stream(self) -> str:
        """The stream of accepted requests of this shard's learners, one entry per request and shard."""
        return self._name(STREAM)

    @property
    def dead_letters(self) -> str:
        return self._name(DEAD_LETTERS)

    @property
    def stats(self) -> str:
        return self._name(STATS)

    @property
    def flush_lock(self) -> str:
        return self._name(FLUSH_LOCK)

    @property
    def generation(self) -> str:
        return self._name(GENERATION)

    @property
    def generation_run(self) -> str:
        return self._name(GENERATION_RUN)

    @property
    def bank_version(self) -> str:
        return self._name(BANK_VERSION)

    @property
    def pending_prefix(self) -> str:
        return self._prefix(PENDING_PREFIX)

    @property
    def version_prefix(self) -> str:
        return self._prefix(VERSION_PREFIX)

    @property
    def state_prefix(self) -> str:
        return self._prefix(_STATE)

    @property
    def exists_prefix(self) -> str:
        return self._prefix(_EXISTS)

    def pending(self, user_id) -> str:
        """Return the key of the pending set of a learner of this shard."""
        return f"{self.pending_prefix}{user_id}"


def shard_number(user_id: uuid.UUID | str, count: int) -> int:
    """Return the shard (0 to count - 1) of a learner: their UUID read as a number, modulo the count.

    Every process and release must agree on it: a learner's buffered events and pending set are
    found only in their shard. Never change it while a buffer holds events. An id that is no UUID
    (the API refuses them; the flush dead-letters them) is of shard 0.
    """
    if count == 1:
        return 0
    try:
        number = user_id.int if isinstance(user_id, uuid.UUID) else uuid.UUID(user_id).int
    except (TypeError, ValueError, AttributeError):
        return 0
    return number % count


@cache
def shard_tag(number: int, count: int) -> str:
    """Return the hash tag of shard `number` of `count`: the first `<number>/<count>.<i>` whose slot lies in
    the shard's share of the slots (the number-th count-th of them).

    A cluster whose nodes split the slots evenly, as `redis-cli --cluster create` does, then holds
    an even share of the shards on each node. The tag names its layout, so layouts never share keys.
    """
    low, high = number * REDIS_CLUSTER_HASH_SLOTS // count, (number + 1) * REDIS_CLUSTER_HASH_SLOTS // count
    i = 0
    while not low <= key_slot(f"{number}/{count}.{i}".encode()) < high:
        i += 1
    return f"{{{number}/{count}.{i}}}"


@cache
def layout(count: int, tagged: bool) -> tuple[Shard, ...]:
    """Return the shards of a buffer of `count` shards; untagged (one Redis, one shard) they keep the old names."""
    return tuple(Shard(number, shard_tag(number, count) if tagged else "") for number in range(count))


def shards(count: int | None = None) -> tuple[Shard, ...]:
    """Return the shards of the configured buffer (EVENT_STREAM_SHARDS, EVENT_BUFFER_CLUSTER), or of `count` shards."""
    count = count or settings.EVENT_STREAM_SHARDS
    return layout(count, count > 1 or settings.EVENT_BUFFER_CLUSTER)


def shard_of(user_id: uuid.UUID | str) -> Shard:
    """Return the shard of a learner."""
    configured = shards()
    return configured[shard_number(user_id, len(configured))]


def pending(user_id) -> str:
    """Return the key of the sorted set of the learner's events accepted but not yet in PostgreSQL."""
    return shard_of(user_id).pending(user_id)


def version(user_id) -> str:
    """Return the key of the learner's version, bumped each time their rows in PostgreSQL change."""
    return f"{shard_of(user_id).version_prefix}{user_id}"


def state(user_id) -> str:
    """Return the key of what readers kept about the learner."""
    return f"{shard_of(user_id).state_prefix}{user_id}"


def exists(user_id) -> str:
    """Return the key of the mark saying that the learner exists."""
    return f"{shard_of(user_id).exists_prefix}{user_id}"


def exists_user(key: bytes | str) -> str:
    """Return the user id a learner-exists mark's key names (its last part: a tag holds no colon)."""
    return (key.decode() if isinstance(key, bytes) else key).rpartition(":")[2]


def throttle(name: str) -> str:
    """Return the key of a throttle's counter, named after its client and window."""
    return f"{_THROTTLE}{name}"
