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
    pipe = client().pipeline(transaction=False)
    for user_id in set(user_ids):
        pipe.incr(keys.version(user_id))
        pipe.expire(keys.version(user_id), VERSION_SECONDS)
        if deleted:
            pipe.delete(keys.exists(user_id))
    try:
        with translated_errors():
            pipe.execute()
    except (BufferUnavailable, BufferFull) as exc:
        logger.warning("Could not bump user versions: %s", exc)
        return False
    return True


def bank_version() -> str | None:
    """Return the exercise bank's version as readers see it here (None without a buffer, or before one is set)."""
    if not enabled():
        return None
    with translated_errors():
        value = client().get(keys.BANK_VERSION)
    return value.decode() if value else None


def bank_changed(version: str) -> None:
    """Give the exercise bank its new version: every reader loads it afresh (nothing to do without a buffer)."""
    if not enabled():
        return
    with translated_errors():
        client().set(keys.BANK_VERSION, version)
