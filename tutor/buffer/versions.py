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


def bank_changed() -> None:
    """Give the exercise bank a new version: every reader loads it afresh (nothing to do without a buffer)."""
    if not enabled():
        return
    with translated_errors():
        client().set(keys.BANK_VERSION, uuid.uuid4().hex)
