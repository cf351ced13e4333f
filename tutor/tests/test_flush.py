import subprocess
import sys
import threading
import time
import uuid
from datetime import timedelta
from io import StringIO

import orjson
import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection, connections
from django.utils import timezone

from tutor import buffer, ingest
from tutor.buffer import Event
from tutor.models import Error
from tutor.ranking import top_errors
from tutor.taxonomy import CATEGORY_OF
from tutor.tests.buffer_backends import buffer_environment, raw_entry
from tutor.tests.factories import UserFactory


def make_events(user, n, sub=3):
    now = timezone.now()
    return [Event(uuid.uuid4(), user.pk, CATEGORY_OF[sub], sub, now - timedelta(seconds=i)) for i in range(n)]


def total(user) -> int:
    return sum(s.frequency for s in top_errors(user_id=user.pk, last_n_days=None, limit=None))


def pending_members(user) -> int:
    return len(buffer.snapshot(user.pk).pending)


def claim_all():
    """Claim every shard's entries, as flushes that then die would."""
    return [
        entry
        for shard in buffer.shards()
        for entry in buffer.claim(shard=shard, consumer=settings.ERROR_FLUSH_CONSUMER, count=1000, min_idle_ms=60_000)
    ]


pytestmark = pytest.mark.usefixtures("buffer_backend")


@pytest.mark.django_db
def test_a_flush_that_dies_before_its_commit_loses_nothing(user):
    events = make_events(user, 30)
    for chunk in (events[:10], events[10:]):
        ingest.accept_events(chunk)

    claimed = claim_all()  # ...and the flusher dies here, before writing anything
    assert sum(len(e.events) for e in claimed) == 30
    assert total(user) == 30

    report = ingest.flush()

    assert (report.inserted, report.dead) == (30, 0)
    assert Error.objects.filter(user=user).count() == 30
    assert pending_members(user) == 0
    assert total(user) == 30


@pytest.mark.django_db
def test_a_flush_that_dies_after_its_commit_changes_nothing_next_time(user):
    events = make_events(user, 12)
    ingest.accept_events(events)
    claimed = claim_all()
    inserted, refused = ingest.store([e for entry in claimed for e in entry.events])
    assert (inserted, refused) == (12, [])
    # ...the flusher dies here, after the commit and before the acknowledge.
    assert pending_members(user) == 12
    assert total(user) == 12  # stored and pending at once, still counted once...
    assert total(user) == 12  # ...also from the cached counts

    report = ingest.flush()

    assert (report.events, report.inserted) == (12, 0)
    assert Error.objects.filter(user=user).count() == 12
    assert pending_members(user) == 0
    assert buffer.backlog()["entries"] == 0
    assert total(user) == 12


@pytest.mark.django_db
def test_a_batch_partly_stored_already_stores_the_rest_once(user):
    other = UserFactory()
    events = make_events(user, 10) + make_events(other, 5)
    ingest.accept_events(events)
    ingest.store([e.buffered() for e in events[:4]])  # e.g. by a flusher that died after its commit
    other.delete()

    report = ingest.flush()

    assert (report.events, report.inserted, report.dead) == (15, 6, 5)
    assert set(Error.objects.values_list("event_id", flat=True)) == {e.event_id for e in events[:10]}
    assert pending_members(user) == 0
    assert total(user) == 10


@pytest.mark.django_db(transaction=True)
def test_concurrent_flushes_ingestion_and_reads_count_every_event_once():
    users = [UserFactory() for _ in range(3)]
    accepted = {u.pk: set() for u in users}

    def accept(user, n, sub):
        events = make_events(user, n, sub=sub)
        ingest.accept_events(events)
        accepted[user.pk] |= {e.event_id for e in events}

    for user in users:
        for i in range(20):
            accept(user, 5, sub=1 + i % 12)
    reads, problems = [], []
    stop = threading.Event()

    def in_thread(work):
        def run():
            try:
                work()
            except Exception as exc:  # reported by the main thread
                problems.append(repr(exc))
            finally:
                connections.close_all()

        return threading.Thread(target=run)

    def flusher():
        while not stop.is_set():
            ingest.flush(batch_size=7)

    def reader():
        # Only users[0] is read: nothing is added to it while the flushes run.
        while not stop.is_set():
            reads.append(total(users[0]))

    def writer():
        for _ in range(40):
            accept(users[1], 3, sub=4)

    threads = [in_thread(flusher), in_thread(flusher), in_thread(reader), in_thread(reader)]
    write = in_thread(writer)
    for thread in [*threads, write]:
        thread.start()
    write.join()
    deadline = time.monotonic() + 20
    while len(reads) < 50 and time.monotonic() < deadline:
        time.sleep(0.01)
    stop.set()
    for thread in threads:
        thread.join()

    assert problems == []
    assert len(reads) >= 50
    assert set(reads) == {len(accepted[users[0].pk])}
    for user in users:
        stored = set(Error.objects.filter(user=user).values_list("event_id", flat=True))
        pending = {e.event_id for e in buffer.snapshot(user.pk).pending}
        assert stored | pending == accepted[user.pk]
        assert total(user) == len(accepted[user.pk])
    ingest.flush()
    for user in users:
        assert set(Error.objects.filter(user=user).values_list("event_id", flat=True)) == accepted[user.pk]
        assert pending_members(user) == 0


@pytest.mark.django_db
def test_a_poison_entry_goes_to_the_dead_letters_and_the_rest_commits(user):
    good = make_events(user, 4)
    ingest.accept_events(good[:2])
    raw_entry({"events": "this is not json"}, user_id=user.pk)
    mismatched = Event(uuid.uuid4(), user.pk, 2, 3, timezone.now())  # Tense is no Vocabulary error
    ingest.accept_events([*good[2:], mismatched])

    report = ingest.flush()

    assert report.inserted == 4
    assert report.dead == 2
    assert set(Error.objects.values_list("event_id", flat=True)) == {e.event_id for e in good}
    letters = buffer.dead_letters()
    assert len(letters) == 2
    assert any("unreadable entry" in letter["reason"] for letter in letters)
    assert any(str(mismatched.event_id) in letter.get("event", "") for letter in letters)
    assert buffer.backlog() == {"entries": 0, "dead": 2}
    assert pending_members(user) == 0
    assert total(user) == 4
    out = StringIO()
    call_command("flush_error_events", dead_letters=5, stdout=out)
    assert "dead letters in all: 2" in out.getvalue()
    assert out.getvalue().count("reason=") == 2


@pytest.mark.django_db
def test_an_entry_the_release_before_wrote_is_flushed_and_leaves_nothing_pending(user):
    # Format 1, as that release's push wrote it: a bare list of positional rows, each also added to
    # its learner's pending set.
    events = make_events(user, 3)
    rows = [[str(e.event_id), str(e.user_id), e.category, e.subcategory, buffer.to_micros(e.timestamp)] for e in events]
    raw_entry({"events": orjson.dumps(rows)}, user_id=user.pk)
    buffer.client().zadd(buffer.keys.pending(user.pk), {f"{row[0]}:{row[3]}": row[4] for row in rows})
    ingest.accept_events(make_events(user, 2))  # and an entry of this release's format
    assert pending_members(user) == 5
    assert total(user) == 5

    report = ingest.flush()

    assert (report.entries, report.inserted, report.dead) == (2, 5, 0)
    assert {e.event_id for e in events} <= set(Error.objects.values_list("event_id", flat=True))
    assert pending_members(user) == 0
    assert buffer.backlog() == {"entries": 0, "dead": 0}
    assert total(user) == 5


@pytest.mark.django_db
def test_an_entry_with_a_time_out_of_range_goes_to_the_dead_letters(user):
    good = make_events(user, 1)
    ingest.accept_events(good)
    bad = [str(uuid.uuid4()), str(user.pk), 1, 3, 2**62]  # year 146,000 or so
    raw_entry({"events": orjson.dumps([bad])}, user_id=user.pk)

    report = ingest.flush()

    assert (report.inserted, report.dead) == (1, 1)
    assert "time out of range" in buffer.dead_letters()[0]["reason"]
    assert buffer.backlog()["entries"] == 0


@pytest.mark.django_db
def test_events_of_a_user_deleted_meanwhile_go_to_the_dead_letters(user):
    other = UserFactory()
    ingest.accept_events(make_events(user, 2) + make_events(other, 3))
    other.delete()

    report = ingest.flush()

    assert (report.inserted, report.dead) == (2, 3)
    assert all("does not exist" in letter["reason"] for letter in buffer.dead_letters())


@pytest.mark.django_db(transaction=True)
def test_a_flush_without_postgresql_keeps_every_entry_for_the_next_one(user):
    ingest.accept_events(make_events(user, 8))
    unreachable = dict(connection.settings_dict, HOST="127.0.0.1", PORT="1")
    env = {
        "DATABASE_URL": f"postgres://{unreachable['USER']}@127.0.0.1:1/{unreachable['NAME']}",
        **buffer_environment(),
        "PATH": "/usr/bin:/bin",
    }

    failed = subprocess.run(
        [sys.executable, "manage.py", "flush_error_events"],
        env={**env, "DJANGO_SETTINGS_MODULE": "english_tutor.settings_test"},
        capture_output=True,
        text=True,
        timeout=60,
        cwd=settings.BASE_DIR,
    )

    assert failed.returncode != 0
    assert "OperationalError" in failed.stderr or "connection" in failed.stderr.lower()
    assert Error.objects.count() == 0
    assert total(user) == 8

    report = ingest.flush()

    assert report.inserted == 8
    assert Error.objects.filter(user=user).count() == 8
    assert buffer.backlog()["entries"] == 0
