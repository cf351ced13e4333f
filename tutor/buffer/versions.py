"""Versions that tell readers their kept state is stale: a learner's rows changed, or the exercise bank did."""

import logging
import uuid
from collections.abc import Iterable

from tutor.buffer import keys
from tutor.buffer.connection import BufferFull, BufferUnavailable, client, enabled, translated_errors

logger = logging.getLogger(__name__)

VERSION_SECONDS = 7 * 24 * 3600


def bump_versions(user_ids: Iterable[uuid.UUID], deleted: bool = False) -> bool:
    """Tell readers that the users' rows in PostgreSQL changed outside the buffer; say whether they were told.

    For deleted learners, also drop their learner-exists marks. Without a buffer no reader keeps
    anything: there is nothing to tell.
    """
    if not enabled():
        return True
    try:
        pipe = client().pipeline(transaction=False)
        for user_id in set(user_ids):
            pipe.incr(keys.version(user_id))
            pipe.expire(keys.version(user_id), VERSION_SECONDS)
            if deleted:
                pipe.delete(keys.exists(user_id))
        with translated_errors():
            pipe.execute()
    except (BufferUnavailable, BufferFull) as exc:
        logger.warning("Could not bump user versions: %s", exc)
        return False
    return True


def bank_version() -> str | None:
    """Return the exercise bank's version as readers see it here: the one every shard holds.

    None without a buffer, before one is set, or while shards hold different ones (a shard's
    node restarted, or a change reached only some): `bank_changed` then sets it everywhere.
    """
    if not enabled():
        return None
    pipe = client().pipeline(transaction=False)
    for shard in keys.shards():
        pipe.get(shard.bank_version)
    with translated_errors():
        held = set(pipe.execute())
    value = held.pop() if len(held) == 1 else None
    return value.decode() if value else None


def bank_changed(version: str) -> None:
    """Give the exercise bank its new version in every shard: every reader loads it afresh (nothing to do without
    a buffer)."""
    if not enabled():
        return
    pipe = client().pipeline(transaction=False)
    for shard in keys.shards():
        pipe.set(shard.bank_version, version)
    with translated_errors():
        pipe.execute()
