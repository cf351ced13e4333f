"""Versions that tell readers their kept state is stale: a learner's rows changed, or the exercise bank did."""

import logging
import uuid
from collections.abc import Iterable

from tutor.buffer import keys
from tutor.buffer.connection import BufferFull, BufferUnavailable, by_node, client, enabled, translated_errors

logger = logging.getLogger(__name__)

VERSION_SECONDS = 7 * 24 * 3600


def bump_versions(user_ids: Iterable[uuid.UUID], deleted: bool = False) -> set[uuid.UUID]:
    """Tell readers that the users' rows in PostgreSQL changed outside the buffer; return those not told.

    One pipeline per node: on a cluster with a node down (or full), only the learners it serves go
    untold. For deleted learners, also drop their learner-exists marks. Without a buffer no reader
    keeps anything: there is nothing to tell.
    """
    if not enabled():
        return set()
    untold = set()
    for group in by_node(set(user_ids), keys.version):
        try:
            pipe = client().pipeline(transaction=False)
            for user_id in group:
                pipe.incr(keys.version(user_id))
                pipe.expire(keys.version(user_id), VERSION_SECONDS)
                if deleted:
                    pipe.delete(keys.exists(user_id))
            with translated_errors():
                pipe.execute()
        except (BufferUnavailable, BufferFull) as exc:
            logger.warning("Could not bump the versions of %d learners: %s", len(group), exc)
            untold.update(group)
    return untold


def bank_version() -> str | None:
    """Return the exercise bank's version as readers see it here: the one every shard holds.

    None without a buffer, before one is set, or while shards hold different ones or some cannot be
    read (a shard's node restarted or is down, or a change reached only some): `bank_changed` then
    sets it everywhere it can.
    """
    if not enabled():
        return None
    held = set()
    for group in by_node(keys.shards(), lambda shard: shard.bank_version):
        try:
            pipe = client().pipeline(transaction=False)
            for shard in group:
                pipe.get(shard.bank_version)
            with translated_errors():
                held.update(pipe.execute())
        except BufferUnavailable:
            held.add(None)
    value = held.pop() if len(held) == 1 else None
    return value.decode() if value else None


def bank_changed(version: str) -> None:
    """Give the exercise bank its new version in every shard: every reader loads it afresh (nothing to do without
    a buffer).

    Each node's shards are set even when another node fails; then BufferUnavailable (or BufferFull)
    is raised for it, once the others are set.
    """
    if not enabled():
        return
    failure = None
    for group in by_node(keys.shards(), lambda shard: shard.bank_version):
        try:
            pipe = client().pipeline(transaction=False)
            for shard in group:
                pipe.set(shard.bank_version, version)
            with translated_errors():
                pipe.execute()
        except (BufferUnavailable, BufferFull) as exc:
            failure = exc
    if failure is not None:
        raise failure
