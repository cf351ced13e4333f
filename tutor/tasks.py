import logging

from celery import shared_task
from django.conf import settings

from tutor import buffer, ingest

logger = logging.getLogger(__name__)


@shared_task(ignore_result=True)
def flush_error_events() -> None:
    """Move buffered error events into PostgreSQL (run by beat every ERROR_FLUSH_INTERVAL seconds)."""
    with buffer.flush_lock(ttl_seconds=settings.CELERY_TASK_TIME_LIMIT) as taken:
        if not taken:
            return  # Another flush is running; running both would be correct, only wasteful.
        report = ingest.flush(max_seconds=settings.CELERY_TASK_SOFT_TIME_LIMIT / 2)
    if report.entries:
        logger.info("Flushed %d events (%d new rows, %d dead letters)", report.events, report.inserted, report.dead)
