"""The errors table's monthly partitions, its retention and the event-id window, on the real PostgreSQL."""

import itertools
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.utils import timezone

from tutor import buffer, ingest, partitions, tasks
from tutor.buffer import Event
from tutor.models import Error, EventReceipt
from tutor.partitions import month_name, month_start, next_month
from tutor.ranking import top_errors
from tutor.taxonomy import CATEGORY_OF

pytestmark = pytest.mark.django_db


def event(user, *, at: datetime, event_id: uuid.UUID | None = None, sub: int = 3) -> Event:
    return Event(event_id or uuid.uuid4(), user.pk, CATEGORY_OF[sub], sub, at)


def stored_in(event_id: uuid.UUID) -> list[str]:
    """Return the partitions holding rows of `event_id`."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT tableoid::regclass::text FROM tutor_error WHERE event_id = %s", [event_id])
        return [row[0] for row in cursor.fetchall()]


def months_back(n: int) -> datetime:
    start = month_start(timezone.now())
    for _ in range(n):
        start = (start - timedelta(days=1)).replace(day=1)
    return start


def drop(name: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE {name}")


def counted(user) -> int:
    return sum(s.frequency for s in top_errors(user_id=user.pk, last_n_days=None, limit=None))


def test_the_errors_table_is_partitioned_by_month_through_three_months_ahead():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT p.partstrat, a.attname FROM pg_partitioned_table p "
            "JOIN pg_attribute a ON a.attrelid = p.partrelid AND a.attnum = p.partattrs[0] "
            "WHERE p.partrelid = 'tutor_error'::regclass"
        )
        assert cursor.fetchall() == [("r", "timestamp_utc")]
    held = partitions.partitions()
    assert held[0].start is None  # everything before the first month has a home
    for earlier, later in itertools.pairwise(held):
        assert earlier.end == later.start  # no gap, no overlap
    for month in held[1:]:
        assert (month.name, month.end) == (month_name(month.start), next_month(month.start))
    assert held[-1].start >= months_back(-partitions.MONTHS_AHEAD)


def test_every_partition_a_month_made_later_included_has_the_learner_time_index():
    ahead = months_back(-partitions.MONTHS_AHEAD)
    drop(month_name(ahead))
    partitions.ensure_months(now=timezone.now())
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, count(x.indexrelid) FILTER (WHERE pg_get_indexdef(x.indexrelid) LIKE "
            '\'%%(user_id, timestamp_utc, "errorCategory", "errorSubCategory")\') '
            "FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid LEFT JOIN pg_index x ON x.indrelid = c.oid "
            "WHERE i.inhparent = 'tutor_error'::regclass GROUP BY c.relname"
        )
        counts = dict(cursor.fetchall())
    assert month_name(ahead) in counts
    assert set(counts.values()) == {1}


def test_a_flushed_event_lands_in_the_partition_of_its_month(user):
    last_month = months_back(1) + timedelta(days=3)
    now_event, old_event = event(user, at=timezone.now()), event(user, at=last_month)
    ingest.accept_events([now_event, old_event])
    ingest.flush()
    assert stored_in(now_event.event_id) == [month_name(month_start(timezone.now()))]
    assert stored_in(old_event.event_id) == [month_name(months_back(1))]


def test_the_upkeep_makes_missing_months_ahead_and_nothing_twice():
    ahead = months_back(-partitions.MONTHS_AHEAD)
    drop(month_name(ahead))

    tasks.keep_error_storage()

    assert month_name(ahead) in {p.name for p in partitions.partitions()}
    assert partitions.keep(now=timezone.now()).made == []


def test_retention_drops_whole_months_past_it_keeps_the_rest_and_uncounts_them(user, settings, committed):
    old = [event(user, at=months_back(n) + timedelta(days=2)) for n in (14, 6, 5)]
    recent = [event(user, at=months_back(1) + timedelta(days=1)), event(user, at=timezone.now())]
    with committed():
        ingest.accept_events(old + recent)
        ingest.flush()
    assert counted(user) == 5  # read once: the learner's counts are kept in the buffer

    # Five months and a half: the month five months back straddles the cutoff and stays whole.
    settings.ERROR_RETENTION_DAYS = (timezone.now() - (months_back(5) + timedelta(days=15))).days
    with committed():
        upkeep = partitions.keep(now=timezone.now())

    assert month_name(months_back(6)) in upkeep.dropped
    assert month_name(months_back(5)) not in upkeep.dropped
    assert "tutor_error_history" in upkeep.dropped  # the 14-month-old error's partition
    assert set(Error.objects.values_list("event_id", flat=True)) == {e.event_id for e in [old[2], *recent]}
    assert counted(user) == 3  # no reader keeps counting what retention dropped


def test_with_retention_an_event_older_than_it_is_refused_at_the_door_naming_the_field(api, user, settings):
    settings.ERROR_RETENTION_DAYS = 30
    too_old = (timezone.now() - timedelta(days=31)).isoformat()
    response = api.post(
        "/api/error-events",
        {"user_id": str(user.pk), "errorCategory": 1, "errorSubCategory": 3, "timestamp_utc": too_old},
        format="json",
    )
    assert response.status_code == 400
    assert "timestamp_utc" in str(response.json())
    assert buffer.backlog()["entries"] == 0


@pytest.mark.parametrize("through", ["buffer", "write-through"])
def test_an_event_in_a_month_left_without_a_partition_is_stored_and_its_month_made(user, settings, through):
    if through == "write-through":
        settings.EVENT_BUFFER_URL = ""
    this_month = month_name(month_start(timezone.now()))
    drop(this_month)
    sent = event(user, at=timezone.now())

    ingest.accept_events([sent])
    report = ingest.flush() if through == "buffer" else None

    assert stored_in(sent.event_id) == [this_month]
    assert report is None or report.dead == 0


def test_an_event_id_counts_once_whatever_door_and_time_its_retries_come_with(user, settings):
    event_id = uuid.uuid4()
    ingest.accept_events([event(user, at=timezone.now(), event_id=event_id)])
    ingest.flush()
    # The same id again: through the buffer in another month, written through, twice in one request.
    ingest.accept_events([event(user, at=months_back(2), event_id=event_id)])
    ingest.flush()
    settings.EVENT_BUFFER_URL = ""
    ingest.accept_events([event(user, at=months_back(3), event_id=event_id, sub=5)] * 2)

    assert len(stored_in(event_id)) == 1
    assert counted(user) == 1


def test_a_second_row_of_a_known_event_id_is_refused_through_the_orm_as_a_unique_index_would(user):
    from django.db import IntegrityError, transaction

    first = Error.objects.create(user=user, errorCategory=1, errorSubCategory=1)
    with pytest.raises(IntegrityError), transaction.atomic():
        Error.objects.create(
            user=user, errorCategory=1, errorSubCategory=1, event_id=first.event_id, timestamp_utc=months_back(4)
        )
    assert Error.objects.count() == 1


def test_event_ids_are_remembered_for_the_window_and_then_forgotten(user, settings):
    settings.EVENT_ID_WINDOW_DAYS = 30
    kept, forgotten = uuid.uuid4(), uuid.uuid4()
    for event_id in (kept, forgotten):
        ingest.accept_events([event(user, at=timezone.now(), event_id=event_id)])
    ingest.flush()
    EventReceipt.objects.filter(event_id=kept).update(received_at=timezone.now() - timedelta(days=29))
    EventReceipt.objects.filter(event_id=forgotten).update(received_at=timezone.now() - timedelta(days=31))

    assert partitions.keep(now=timezone.now()).receipts_forgotten == 1

    ingest.accept_events([event(user, at=timezone.now(), event_id=kept)])
    ingest.flush()
    assert len(stored_in(kept)) == 1
    assert EventReceipt.objects.filter(event_id=forgotten).count() == 0


def test_a_month_beyond_what_a_door_accepts_is_not_made_for_a_poison_row(user):
    far = datetime(2999, 1, 1, tzinfo=UTC)
    assert partitions.ensure_for([far], now=timezone.now()) == []
    assert month_name(far) not in {p.name for p in partitions.partitions()}


@pytest.mark.parametrize("to", ["another month", "the same month"])
def test_an_error_moved_in_time_keeps_its_receipt_and_its_id_stays_refused_after(user, to):
    from django.db import IntegrityError, transaction

    error = Error.objects.create(user=user, errorCategory=1, errorSubCategory=1, timestamp_utc=months_back(2))
    moved = months_back(1 if to == "another month" else 2) + timedelta(days=3)
    Error.objects.filter(pk=error.pk).update(timestamp_utc=moved)

    assert stored_in(error.event_id) == [month_name(month_start(moved))]
    with pytest.raises(IntegrityError), transaction.atomic():
        Error.objects.create(user=user, errorCategory=1, errorSubCategory=1, event_id=error.event_id)
    assert EventReceipt.objects.filter(event_id=error.event_id).count() == 1
