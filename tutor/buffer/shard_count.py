"""The shard count a buffer's events were pushed under, and the check that the flush never strands them."""

import logging

import redis
from redis.cluster import RedisCluster

from tutor.buffer import keys
from tutor.buffer.connection import BufferFull, BufferUnavailable, client, translated_errors

logger = logging.getLogger(__name__)


class ShardCountChanged(Exception):
    """EVENT_STREAM_SHARDS changed while the shards of the count before still hold events."""


def check_shard_count() -> None:
    """Refuse (ShardCountChanged) a shard count other than the recorded one while that one's shards hold entries.

    A learner's events and pending set are found only in the shard their count maps them to:
    under another count, events still waiting in the old shards would never be flushed, nor counted
    by readers. Once those shards are empty, the configured count is recorded and used. A buffer
    with no record was written by a release with one untagged shard. While a node the check reads
    is down (on a cluster), the shards of the other nodes are flushed unchecked: a changed count is
    refused once it answers, and until then the old shards' events wait there, they are not lost.
    """
    configured = keys.shards()
    r = client()
    try:
        with translated_errors():
            recorded = r.get(keys.SHARD_COUNT)
            if recorded is not None and int(recorded) == len(configured):
                return
            earlier = keys.shards(int(recorded)) if recorded is not None else keys.layout(1, False)
            waiting = _entries(r, earlier) if earlier != configured else 0
    except BufferUnavailable as exc:
        logger.warning("The shard count is checked once every node answers: %s", exc)
        return
    if waiting:
        raise ShardCountChanged(
            f"EVENT_STREAM_SHARDS is {len(configured)}, but {waiting} entries wait in the {len(earlier)} "
            f"shards they were pushed under: set EVENT_STREAM_SHARDS={len(earlier)} again, stop the writers, "
            "run `python manage.py flush_error_events` until it leaves none, then start every process with "
            "the new count."
        )
    try:
        with translated_errors():
            r.set(keys.SHARD_COUNT, len(configured))
    except (BufferFull, BufferUnavailable) as exc:
        logger.warning("The shard count is recorded once the buffer has drained and answers: %s", exc)


def _entries(r: redis.Redis | RedisCluster, shards: tuple[keys.Shard, ...]) -> int:
    """Return how many entries wait in the streams of these shards."""
    pipe = r.pipeline(transaction=False)
    for shard in shards:
        pipe.xlen(shard.stream)
    return sum(pipe.execute())
