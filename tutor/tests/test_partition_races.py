"""The partitioned errors table under the writes a user makes: moving an error's time, and upkeep racing itself."""

import threading
import time
from datetime import timedelta

import psycopg
import pytest
from django.db import connection, connections
from django.utils import timezone

from tutor import partitions
from tutor.partitions import month_name, month_start, next_month


def _months_ahead(n: int):
    start = month_start(timezone.now())
    for _ in range(n):
        start = next_month(start)
    return start


def _locker() -> psycopg.Connection:
    """A connection of its own, outside Django, that holds a lock while threads line up behind it."""
    return psycopg.connect(**connection.get_connection_params())


def _waiting_on_locks(cursor, count: int) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        cursor.execute("SELECT count(*) FROM pg_locks WHERE NOT granted")
        if cursor.fetchone()[0] >= count:
            return
        time.sleep(0.02)
    raise AssertionError(f"{count} sessions never waited on a lock")


def _in_threads(target, count: int) -> tuple[list[threading.Thread], list[BaseException]]:
    failures = []

    def run():
        try:
            target()
        except BaseException as exc:  # reported by the test
            failures.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(count)]
    return threads, failures


@pytest.mark.django_db
def test_an_error_moved_to_another_month_in_the_admin_is_saved(admin_client, make_error):
    error = make_error(timestamp_utc=month_start(timezone.now()) + timedelta(days=2))
    moved = month_start(month_start(timezone.now()) - timedelta(days=1)) + timedelta(days=5)

    response = admin_client.post(
        f"/admin/tutor/error/{error.pk}/change/",
        {
            "user": str(error.user_id),
            "errorCategory": error.errorCategory,
            "errorSubCategory": error.errorSubCategory,
            "timestamp_utc_0": moved.strftime("%Y-%m-%d"),
            "timestamp_utc_1": moved.strftime("%H:%M:%S"),
        },
    )

    assert response.status_code == 302
    error.refresh_from_db()
    assert error.timestamp_utc == moved


@pytest.mark.django_db(transaction=True)
def test_two_makers_of_one_missing_month_both_succeed():
    ahead = _months_ahead(partitions.MONTHS_AHEAD)
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE {month_name(ahead)}")
    threads, failures = _in_threads(
        lambda: partitions.ensure_for([ahead + timedelta(days=1)], now=timezone.now()), count=2
    )
    try:
        with _locker() as locker, locker.cursor() as cursor:
            # Both makers find the month missing, then wait for the table while it is held.
            cursor.execute("LOCK TABLE tutor_error IN ACCESS EXCLUSIVE MODE")
            for thread in threads:
                thread.start()
            _waiting_on_locks(cursor, 2)
        for thread in threads:
            thread.join(10)
        assert failures == []
        assert month_name(ahead) in {p.name for p in partitions.partitions()}
    finally:
        partitions.ensure_months(now=timezone.now())


@pytest.mark.django_db(transaction=True)
def test_two_upkeeps_dropping_the_same_expired_month_both_succeed():
    first = partitions.partitions()[0]
    retention_days = (timezone.now() - first.end).days
    threads, failures = _in_threads(
        lambda: partitions.drop_expired(retention_days=retention_days, now=timezone.now()), count=2
    )
    try:
        with _locker() as locker, locker.cursor() as cursor:
            # A reader of the expired month holds it while both upkeeps reach it, one after the other.
            cursor.execute(f"SELECT count(*) FROM {first.name}")
            threads[0].start()
            _waiting_on_locks(cursor, 1)
            threads[1].start()
            _waiting_on_locks(cursor, 2)
        for thread in threads:
            thread.join(10)
        assert failures == []
        assert first.name not in {p.name for p in partitions.partitions()}
    finally:
        with connection.cursor() as cursor:
            bound = "MINVALUE" if first.start is None else f"'{first.start.isoformat()}'"
            cursor.execute(
                f"CREATE TABLE IF NOT EXISTS {first.name} PARTITION OF tutor_error "
                f"FOR VALUES FROM ({bound}) TO ('{first.end.isoformat()}')"
            )
