"""The pipeline heals itself after each fault an operator met, on real (private where they break) services."""

import time
import uuid
from datetime import timedelta

import orjson
import pytest
from django.db import connection
from django.utils import timezone

from tutor import buffer, ingest
from tutor.buffer import Event
from tutor.models import Error, UnannouncedChange
from tutor.tasks import flush_error_events
from tutor.tests.buffer_backends import pending_keys
from tutor.tests.buffer_backends import raw_entry as add_raw_entry
from tutor.tests.test_resilience import EVENTS, event, frequencies

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("buffer_backend")]


def raw_entry(*rows) -> None:
    """Add a stream entry as a client of the buffer's Redis could, bypassing every check (in the first row's shard)."""
    add_raw_entry({"events": orjson.dumps(list(rows))}, user_id=rows[0][1])


def row(user, category=1, sub=3, micros=None):
    return [str(uuid.uuid4()), str(user.pk), category, sub, micros or buffer.to_micros(timezone.now())]


def fill(api, user) -> int:
    """POST batches until the buffer answers 503 (full); return how many events it accepted."""
    accepted = 0
    while (response := api.post(EVENTS, [event(user)] * 1000, format="json")).status_code == 202:
        accepted += 1000
        assert accepted < 200_000, "the buffer never filled up"
    assert response.status_code == 503
    assert response["Retry-After"]
    return accepted


def test_a_full_buffer_drains_by_itself_and_then_takes_events_again(api, user, settings, private_redis):
    server = private_redis("--maxmemory", "3mb", "--maxmemory-policy", "noeviction")
    settings.EVENT_BUFFER_URL = server.url
    accepted = fill(api, user)

    flush_error_events()  # the beat's task: lock, claim, store, acknowledge, with the buffer full

    assert Error.objects.filter(user=user).count() == accepted
    assert buffer.backlog()["entries"] == 0
    assert pending_keys() == []
    assert api.post(EVENTS, event(user), format="json").status_code == 202
    assert frequencies(api, user) == {"Tense": accepted + 1}


def test_a_full_buffer_drains_even_with_poison_in_it(api, user, settings, private_redis):
    server = private_redis("--maxmemory", "3mb", "--maxmemory-policy", "noeviction")
    settings.EVENT_BUFFER_URL = server.url
    raw_entry(row(user, sub=99999))
    accepted = fill(api, user)

    flush_error_events()

    assert Error.objects.filter(user=user).count() == accepted
    assert [letter["reason"] for letter in buffer.dead_letters()] == [
        "no such pair: errorCategory 1, errorSubCategory 99999"
    ]
    assert buffer.backlog()["entries"] == 0


def test_two_bad_rows_are_dead_lettered_alone_and_the_rest_of_the_batch_commits(user):
    good = [row(user), row(user, sub=1)]
    mismatched, out_of_range = row(user, category=1, sub=9), row(user, category=1, sub=99999)
    raw_entry(good[0], mismatched)
    raw_entry(out_of_range, good[1])

    report = ingest.flush()

    assert (report.inserted, report.dead) == (2, 2)
    assert set(Error.objects.values_list("event_id", flat=True)) == {uuid.UUID(r[0]) for r in good}
    letters = {orjson.loads(letter["event"])["event_id"]: letter["reason"] for letter in buffer.dead_letters()}
    assert letters == {
        mismatched[0]: "no such pair: errorCategory 1, errorSubCategory 9",
        out_of_range[0]: "no such pair: errorCategory 1, errorSubCategory 99999",
    }
    assert buffer.backlog()["entries"] == 0


def test_a_row_only_postgresql_refuses_is_dead_lettered_alone(user):
    events = [Event(uuid.uuid4(), user.pk, 1, 3, timezone.now() - timedelta(seconds=i)) for i in range(40)]
    poisoned = events[17].event_id
    with connection.cursor() as cursor:
        # A rule the flush cannot know: PostgreSQL alone refuses this one row.
        cursor.execute(
            "CREATE FUNCTION refuse_one() RETURNS trigger AS $$ BEGIN "
            f"IF NEW.event_id = '{poisoned}' THEN RAISE EXCEPTION 'refused by a rule'; END IF; "
            "RETURN NEW; END $$ LANGUAGE plpgsql"
        )
        cursor.execute(
            "CREATE TRIGGER refuse_one BEFORE INSERT ON tutor_error FOR EACH ROW EXECUTE FUNCTION refuse_one()"
        )
    ingest.accept_events(events[:25])
    ingest.accept_events(events[25:])

    report = ingest.flush()

    assert (report.inserted, report.dead) == (39, 1)
    assert set(Error.objects.values_list("event_id", flat=True)) == {e.event_id for e in events} - {poisoned}
    (letter,) = buffer.dead_letters()
    assert "refused by a rule" in letter["reason"]
    assert orjson.loads(letter["event"])["event_id"] == str(poisoned)
    assert pending_keys() == []


def test_a_year_one_timestamp_is_refused_at_the_door_naming_it(api, user):
    payload = [event(user) for _ in range(10)]
    payload[4]["timestamp_utc"] = "0001-01-01T00:00:00Z"

    response = api.post(EVENTS, payload, format="json")

    assert response.status_code == 400
    assert response.json() == {
        "events": {"4": {"timestamp_utc": ["timestamp_utc must be from 2000-01-01T00:00:00Z on."]}}
    }
    assert buffer.backlog()["entries"] == 0
    assert pending_keys() == []


def test_a_stored_row_out_of_range_leaves_neither_pending_events_nor_a_wrong_count(api, user):
    events = [Event(uuid.uuid4(), user.pk, 1, 3, timezone.now()) for _ in range(9)]
    year_one = Event(uuid.uuid4(), user.pk, 1, 3, timezone.now().replace(year=1))
    buffer.push([*events, year_one])  # as a release with a laxer door could have

    report = ingest.flush()

    assert (report.inserted, report.dead) == (9, 1)
    assert "time out of range" in buffer.dead_letters()[0]["reason"]
    assert pending_keys() == []
    assert frequencies(api, user) == {"Tense": 9}


@pytest.mark.parametrize("bad", [False, True, 7, 0, None, "not-a-uuid", ["0b8f5d1e-6f1c-4d57-9a53-0d3c1f7b8a10"]])
def test_an_event_id_is_a_uuid_string_and_nothing_else(api, user, bad):
    response = api.post(EVENTS, [event(user), event(user, event_id=bad)], format="json")

    assert response.status_code == 400
    assert list(response.json()["events"]["1"]) == ["event_id"]
    assert "event_id must be a UUID" in response.json()["events"]["1"]["event_id"][0]
    assert buffer.backlog()["entries"] == 0


def test_a_user_id_is_a_uuid_string_too(api, user):
    response = api.post(EVENTS, {"user_id": 5, "errorCategory": 1, "errorSubCategory": 3}, format="json")

    assert response.status_code == 400
    assert response.json() == {"user_id": ["user_id must be a UUID such as dcc44822-4b8d-43cf-be83-fb510ea07bae."]}


def test_after_a_restart_of_the_buffer_a_learner_written_through_meanwhile_is_read_afresh(
    api, user, settings, private_redis
):
    server = private_redis("--appendonly", "yes", "--appendfsync", "always")
    settings.EVENT_BUFFER_URL = server.url
    assert api.post(EVENTS, [event(user)] * 3, format="json").status_code == 202
    flush_error_events()
    assert frequencies(api, user) == {"Tense": 3}  # kept in the buffer now
    server.stop()

    written = api.post(EVENTS, [event(user, sub=1)] * 50, format="json")
    assert written.status_code == 202
    assert Error.objects.filter(user=user).count() == 53  # written through
    server.start()  # on its AOF: the kept state, the version and the generation come back

    assert frequencies(api, user) == {"Pronoun": 50, "Tense": 3}


def test_a_learner_written_through_while_only_this_process_lost_the_buffer_is_read_afresh_after_a_flush(
    api, user, settings, committed
):
    assert api.post(EVENTS, [event(user)] * 3, format="json").status_code == 202
    flush_error_events()
    assert frequencies(api, user) == {"Tense": 3}
    reachable = settings.EVENT_BUFFER_URL
    settings.EVENT_BUFFER_URL = "redis://127.0.0.1:1/0"  # a timeout or a partition, for this process only
    with committed():
        assert api.post(EVENTS, [event(user, sub=1)] * 5, format="json").status_code == 202
    assert UnannouncedChange.objects.filter(user=user).exists()
    settings.EVENT_BUFFER_URL = reachable

    flush_error_events()

    assert frequencies(api, user) == {"Tense": 3, "Pronoun": 5}
    assert not UnannouncedChange.objects.exists()


def test_a_crashed_flusher_holds_up_the_next_flush_for_at_most_two_intervals(user, settings):
    settings.ERROR_FLUSH_INTERVAL = 0.5
    shard = buffer.keys.shard_of(user.pk)
    crashed = buffer.FlushLock("a flusher that died", seconds=2 * settings.ERROR_FLUSH_INTERVAL, shard=shard)
    assert crashed.renew()  # ...and it never releases it
    ingest.accept_events([Event(uuid.uuid4(), user.pk, 1, 3, timezone.now())])

    flush_error_events()
    assert Error.objects.count() == 0  # the lock still holds
    time.sleep(2 * settings.ERROR_FLUSH_INTERVAL + 0.1)
    flush_error_events()

    assert Error.objects.count() == 1
    assert buffer.backlog()["entries"] == 0
