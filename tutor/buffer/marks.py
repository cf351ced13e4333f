"""Learner-exists marks: learners confirmed to exist lately, so that a push naming them needs no look-up."""

import logging
import uuid
from collections.abc import Iterable

from tutor.buffer import keys
from tutor.buffer.connection import BufferFull, BufferUnavailable, client, request_client, translated_errors

logger = logging.getLogger(__name__)

# How long the buffer takes a learner just confirmed (by PostgreSQL or the cache) for existing.
EXISTS_MARK_SECONDS = 300


class UnknownLearners(Exception):
    """Some events name learners the buffer does not know to exist: nothing was written or counted."""

    def __init__(self, user_ids: set[uuid.UUID]):
        super().__init__(f"{len(user_ids)} learners to verify")
        self.user_ids = user_ids


def mark_existing(user_ids: Iterable[uuid.UUID]) -> None:
    """Mark learners just confirmed by PostgreSQL or the cache as existing, for EXISTS_MARK_SECONDS (best effort)."""
    try:
        with translated_errors():
            pipe = client().pipeline(transaction=False)
            for user_id in user_ids:
                pipe.set(keys.exists(user_id), 1, ex=EXISTS_MARK_SECONDS)
            pipe.execute()
    except (BufferUnavailable, BufferFull) as exc:
        logger.info("Could not mark learners as existing: %s", exc)


def missing_marks(user_ids: set[uuid.UUID]) -> set[uuid.UUID]:
    """Return the learners not marked as existing (one round trip; on a cluster, one per node)."""
    ordered = list(user_ids)
    with translated_errors():
        pipe = request_client().pipeline(transaction=False)
        for user_id in ordered:
            pipe.exists(keys.exists(user_id))
        found = pipe.execute()
    return {user_id for user_id, marked in zip(ordered, found, strict=True) if not marked}
