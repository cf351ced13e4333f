import logging

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from tutor import buffer, ingest, invalidation, partitions

logger = logging.getLogger(__name__)


@shared_task(ignore_result=True)
def flush_error_events() -> None:
    """Move buffered error events into PostgreSQL (run by beat every ERROR_FLUSH_INTERVAL seconds)."""
    # The lock lapses two intervals after the flusher last renewed it (before each batch), so a
    # flusher that died holds up the next one by at most that.
    with buffer.flush_lock(seconds=2 * settings.ERROR_FLUSH_INTERVAL) as lock:
        if lock is None:
            return  # Another flush is running; running both would be correct, only wasteful.
        invalidation.announce_owed()
        report = ingest.flush(max_seconds=settings.CELERY_TASK_SOFT_TIME_LIMIT / 2, lock=lock)
    if report.entries:
        logger.info("Flushed %d events (%d new rows, %d dead letters)", report.events, report.inserted, report.dead)


@shared_task(ignore_result=True)
def keep_error_storage() -> None:
    """Keep the errors table's months ahead, its retention and its event-id window (run by beat hourly)."""
    upkeep = partitions.keep(now=timezone.now())
    if upkeep.made or upkeep.dropped or upkeep.receipts_forgotten:
        logger.info("Errors table upkeep: %s", upkeep)
