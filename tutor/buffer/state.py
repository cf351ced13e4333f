"""What readers keep about a learner, and the snapshot that hands it back with the learner's pending events."""

import logging
import uuid
from dataclasses import dataclass

import orjson

from tutor.buffer import keys
from tutor.buffer.connection import BufferFull, BufferUnavailable, enabled, run, start_generation
from tutor.buffer.counters import WindowCounter, for_script
from tutor.buffer.marks import EXISTS_MARK_SECONDS

logger = logging.getLogger(__name__)


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
    generation: str
    bank_version: str
    state: bytes | None  # what a reader last kept of the learner (`keep_state`), whatever its version


def snapshot(user_id: uuid.UUID, counter: WindowCounter | None = None) -> Snapshot | None:
    """Return the user's pending events, versions, generation and kept state, read atomically; None without a buffer.

    With a counter, the request is counted in the same round trip (OverLimit past its limit; not
    counted when the buffer is full); on a cluster, in a round trip of its own just before.
    The generation and bank version are the learner's shard's copies, read in the learner's slot.
    """
    if not enabled():
        return None
    counter = for_script(counter)
    shard = keys.shard_of(user_id)
    counters = [counter.key] if counter else []
    options = {"counters": len(counters), "seconds": counter.seconds if counter else 0}
    read = [keys.pending(user_id), keys.version(user_id), shard.generation, shard.bank_version, keys.state(user_id)]
    members, version, generation, bank_version, state, counted = run(
        "snapshot", [*read, *counters], [orjson.dumps(options)]
    )
    if counted:
        counter.took(counted)
    if generation is None or bank_version is None:
        generation, bank_version = start_generation(shard)
    pending = {}
    for member, score in zip(members[::2], members[1::2], strict=True):
        event_id, sub = member.decode().split(":")
        pending[event_id] = PendingEvent(uuid.UUID(event_id), int(sub), int(float(score)))
    return Snapshot(
        user_id=user_id,
        pending=list(pending.values()),
        version=int(version or 0),
        generation=generation.decode(),
        bank_version=bank_version.decode(),
        state=state,
    )


def keep_state(user_id: uuid.UUID, state: bytes, seconds: int, *, exists: bool = False) -> None:
    """Keep what a reader computed of the learner for `seconds`, for the next snapshots (best effort).

    It can be recomputed. With `exists`, the learner was just read from PostgreSQL: it is marked as existing too.
    """
    marks = [keys.exists(user_id)] if exists else []
    options = {"exists": len(marks), "seconds": seconds, "exists_seconds": EXISTS_MARK_SECONDS}
    try:
        run("keep_state", [keys.state(user_id), *marks], [orjson.dumps(options), state])
    except (BufferUnavailable, BufferFull) as exc:
        logger.info("Could not keep the state of learner %s: %s", user_id, exc)
