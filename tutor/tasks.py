import logging

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from tutor import buffer, ingest, invalidation, partitions

logger = logging.getLogger(__name__)


@shared_task(ignore_result=True)
def flush_error_events() -> None:
    """Tell the buffer what it missed, then have each shard flushed by a task of its own (beat, every
    ERROR_FLUSH_INTERVAL seconds): more workers flush more shards at once."""
    invalidation.announce_owed()
    for shard in buffer.shards():
        # A task that waited longer than one interval is superseded by the next tick's.
        flush_error_shard.apply_async((shard.number,), expires=max(settings.ERROR_FLUSH_INTERVAL, 1.0))


@shared_task(ignore_result=True)
def flush_error_shard(number: int) -> None:
    """Move one shard's buffered error events into PostgreSQL, under the shard's flush lock."""
    shard = buffer.shards()[number]
    try:
        # The lock lapses two intervals after the flusher last renewed it (before each batch), so a
        # flusher that died holds up the next one by at most that.
        with buffer.flush_lock(shard, seconds=2 * settings.ERROR_FLUSH_INTERVAL) as lock:
            if lock is None:
                return  # Another flush of this shard is running; running both would be correct, only wasteful.
            report = ingest.flush(shard=shard, max_seconds=settings.CELERY_TASK_SOFT_TIME_LIMIT / 2, lock=lock)
    except buffer.BufferUnavailable as exc:
        # What was claimed and not acknowledged is claimed again by the next flush that reaches it.
        logger.warning("Shard %d waits for its Redis to answer: %s", shard.number, exc)
        return
    if report.entries:
        logger.info(
            "Flushed %d events of shard %d (%d new rows, %d dead letters)",
            report.events,
            shard.number,
            report.inserted,
            report.dead,
        )


@shared_task(ignore_result=True)
def keep_error_storage() -> None:
    """Keep the errors table's months ahead, its retention and its event-id window (run by beat hourly)."""
    upkeep = partitions.keep(now=timezone.now())
    if upkeep.made or upkeep.dropped or upkeep.receipts_forgotten:
        logger.info("Errors table upkeep: %s", upkeep)
