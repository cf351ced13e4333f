"""Events spread over stream shards by learner: on a 3-node Redis Cluster, and on one Redis with several shards."""

import uuid
from datetime import timedelta

import pytest
import redis
from django.core.management import CommandError, call_command
from django.utils import timezone

from tutor import buffer, ingest
from tutor.buffer import Event
from tutor.models import Error, UnannouncedChange
from tutor.tasks import flush_error_events, flush_error_shard
from tutor.tests.buffer_backends import CLUSTER_SHARDS
from tutor.tests.factories import UserFactory
from tutor.tests.test_flush import claim_all, make_events, total
from tutor.tests.test_resilience import EVENTS, RANKING, event, frequencies

pytestmark = pytest.mark.django_db


@pytest.fixture
def on_cluster(settings, redis_cluster):
    """The buffer on the shared 3-node cluster, with 16 shards."""
    settings.EVENT_BUFFER_URL = redis_cluster.url
    settings.EVENT_BUFFER_CLUSTER = True
    settings.EVENT_STREAM_SHARDS = CLUSTER_SHARDS
    buffer.client().flushdb()
    yield redis_cluster
    buffer.client().flushdb()


def learners_of_every_shard() -> dict[int, list]:
    """Create learners until each shard has one; return them by shard number (with the others made on the way)."""
    by_shard = {}
    while len(by_shard) < len(buffer.shards()):
        user = UserFactory()
        by_shard.setdefault(buffer.keys.shard_of(user.pk).number, []).append(user)
    return by_shard


def node_port(shard: buffer.Shard) -> int:
    return buffer.client().get_node_from_key(shard.stream).port


def titles(api, user) -> list[str]:
    """Return the titles of the exercises recommended to the learner."""
    response = api.get(RANKING, {"user_id": user.pk})
    assert response.status_code == 200
    return [exercise["title"] for error in response.json()["top_errors"] for exercise in error["exercises"]]


def test_the_learner_to_shard_hash_is_pinned():
    # Changing any of this would strand buffered events in shards no process reads any more.
    learner = uuid.UUID("dcc44822-4b8d-43cf-be83-fb510ea07bae")
    assert [buffer.keys.shard_number(learner, count) for count in (1, 3, 16, 1024)] == [0, 0, 14, 942]
    assert buffer.keys.shard_number(str(learner), 16) == 14
    assert [buffer.keys.shard_tag(n, 16) for n in (0, 1, 15)] == ["{0/16.60}", "{1/16.23}", "{15/16.2}"]
    assert buffer.keys.layout(1, False)[0].stream == "tutor:events"  # one Redis, one shard: the old names
    assert buffer.keys.layout(1, False)[0].pending(learner) == f"tutor:pending:{learner}"


def test_each_shard_s_slot_lies_in_its_share_of_the_slots():
    for count in (3, 16, 100):
        for shard in buffer.keys.layout(count, True):
            slot = redis.crc.key_slot(shard.stream.encode())
            assert shard.number * 16384 // count <= slot < (shard.number + 1) * 16384 // count
            assert {redis.crc.key_slot(key.encode()) for key in (shard.stats, shard.pending("x"))} == {slot}


def test_events_spread_over_every_node_and_each_shard_is_flushed_on_its_own(on_cluster):
    learners = learners_of_every_shard()
    events = [e for users in learners.values() for e in make_events(users[0], 3)]
    ingest.accept_events(events)  # one request naming a learner of each shard: an entry per shard

    sizes = [redis.Redis(port=node.port).dbsize() for node in on_cluster.nodes]
    assert all(size > 0 for size in sizes), sizes
    per_node = {node.port: 0 for node in on_cluster.nodes}
    for shard in buffer.shards():
        per_node[node_port(shard)] += redis.Redis(port=node_port(shard)).xlen(shard.stream)
    assert sorted(per_node.values()) == [5, 5, 6]  # 16 shards over 3 nodes splitting the slots evenly
    assert buffer.backlog()["entries"] == CLUSTER_SHARDS

    first = buffer.shards()[0]
    flush_error_shard(first.number)

    assert Error.objects.count() == 3
    assert set(Error.objects.values_list("user_id", flat=True)) == {learners[0][0].pk}
    assert buffer.backlog()["entries"] == CLUSTER_SHARDS - 1
    assert buffer.pipeline_stats().accepted == 3 * CLUSTER_SHARDS
    assert all(total(users[0]) == 3 for users in learners.values())

    flush_error_events()  # the beat's task: one task per shard

    assert Error.objects.count() == 3 * CLUSTER_SHARDS
    assert buffer.pipeline_stats().flushed == 3 * CLUSTER_SHARDS
    assert buffer.backlog() == {"entries": 0, "dead": 0}


def test_two_flushers_flush_different_shards_at_once(on_cluster, settings):
    learners = learners_of_every_shard()
    busy, free = buffer.shards()[0], buffer.shards()[1]
    ingest.accept_events(make_events(learners[0][0], 4) + make_events(learners[1][0], 5))
    with buffer.flush_lock(busy, seconds=30) as lock:  # a flusher at work on one shard...
        assert lock is not None
        flush_error_shard(busy.number)  # ...holds up another flusher of that shard only
        flush_error_shard(free.number)

        assert set(Error.objects.values_list("user_id", flat=True)) == {learners[1][0].pk}

    flush_error_shard(busy.number)
    assert Error.objects.count() == 9


def test_a_flush_that_dies_in_one_shard_loses_nothing_and_counts_each_event_once(on_cluster):
    learners = learners_of_every_shard()
    one, other = learners[3][0], learners[11][0]
    events = make_events(one, 10) + make_events(other, 7)
    ingest.accept_events(events)
    ingest.flush(shard=buffer.keys.shard_of(other.pk))
    claimed = claim_all()  # ...the flusher of the other shard dies here, having claimed, before its commit
    assert {e.user_id for entry in claimed for e in entry.events} == {str(one.pk)}
    assert (total(one), total(other)) == (10, 7)

    report = ingest.flush()

    assert (report.inserted, report.dead) == (10, 0)
    assert set(Error.objects.values_list("event_id", flat=True)) == {e.event_id for e in events}
    assert (total(one), total(other)) == (10, 7)
    assert buffer.backlog()["entries"] == 0


def test_a_dead_letter_names_its_shard_as_two_shards_may_hold_one_entry_id(on_cluster):
    first, second = buffer.shards()[:2]
    for shard in (first, second):  # two writes in one millisecond get one id, each in its own stream
        buffer.client().xadd(shard.stream, {"events": b"\x80 garbage"}, id="1-1")

    ingest.flush()

    letters = buffer.dead_letters()
    assert sorted((letter["shard"], letter["entry"]) for letter in letters) == [("0", "1-1"), ("1", "1-1")]
    assert buffer.backlog() == {"entries": 0, "dead": 2}


def test_a_request_over_shards_naming_an_unknown_learner_writes_nothing(on_cluster):
    learners = learners_of_every_shard()
    stranger = next(u for u in (uuid.uuid4() for _ in range(100)) if buffer.keys.shard_of(u).number == 9)
    events = [*make_events(learners[2][0], 2), Event(uuid.uuid4(), stranger, 1, 3, timezone.now())]

    with pytest.raises(buffer.UnknownLearners) as refused:
        buffer.push(events, verify={learners[2][0].pk, stranger})

    assert refused.value.user_ids == {learners[2][0].pk, stranger}  # neither is marked yet
    buffer.mark_existing([learners[2][0].pk])
    with pytest.raises(buffer.UnknownLearners) as refused:
        buffer.push(events, verify={learners[2][0].pk, stranger})
    assert refused.value.user_ids == {stranger}
    assert buffer.backlog()["entries"] == 0


def test_the_throttle_counts_a_request_once_on_a_cluster_too(api, user, on_cluster, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"client": "3/hour"}}
    answers = [api.post(EVENTS, event(user), format="json").status_code for _ in range(3)]
    answers += [api.get("/api/generate-exercise", {"user_id": user.pk}).status_code]

    assert answers == [202, 202, 202, 429]
    assert api.post(EVENTS, event(user), format="json").status_code == 429
    assert total(user) == 3  # the refused requests wrote nothing


def test_a_stopped_node_s_shards_write_through_and_the_others_keep_buffering(api, settings, private_redis):
    settings.EVENT_BUFFER_CLUSTER, settings.EVENT_STREAM_SHARDS = True, CLUSTER_SHARDS
    cluster = private_redis()
    settings.EVENT_BUFFER_URL = cluster.url
    learners = learners_of_every_shard()
    stopped = cluster.nodes[2]
    down = [users[0] for n, users in learners.items() if node_port(buffer.shards()[n]) == stopped.port]
    up = [users[0] for n, users in learners.items() if node_port(buffer.shards()[n]) != stopped.port]
    assert api.post(EVENTS, [event(u) for u in down + up], format="json").status_code == 202  # all buffered
    stopped.stop()

    to_down = api.post(EVENTS, event(down[0], sub=1), format="json")
    to_up = api.post(EVENTS, event(up[0], sub=1), format="json")
    to_both = api.post(EVENTS, [event(down[1], sub=2), event(up[1], sub=2)], format="json")

    assert (to_down.status_code, to_up.status_code, to_both.status_code) == (202, 202, 202)
    stored = {str(i) for i in Error.objects.values_list("event_id", flat=True)}
    assert set(to_down.json()["event_ids"]) <= stored  # written through, as with the whole buffer down
    assert not set(to_up.json()["event_ids"]) & stored  # buffered
    assert set(to_both.json()["event_ids"]) <= stored  # a part met the stopped node: all written through
    assert frequencies(api, up[0]) == {"Tense": 1, "Pronoun": 1}

    stopped.start()  # empty: what it held is gone with it (a node of a buffer runs with AOF)
    cluster.wait_until_ok()
    ingest.flush()

    assert Error.objects.filter(event_id__in=to_up.json()["event_ids"]).count() == 1
    assert Error.objects.filter(user=up[1]).count() == 2  # buffered before, and written through: each once
    assert buffer.backlog()["entries"] == 0


def test_with_a_node_down_the_learners_of_the_others_are_read_afresh_and_their_shards_flushed(
    api, settings, private_redis, committed
):
    settings.EVENT_BUFFER_CLUSTER, settings.EVENT_STREAM_SHARDS = True, CLUSTER_SHARDS
    cluster = private_redis()
    settings.EVENT_BUFFER_URL = cluster.url
    learners = learners_of_every_shard()
    stopped = cluster.nodes[1]  # not the node EVENT_BUFFER_URL names
    down = [users[0] for n, users in learners.items() if node_port(buffer.shards()[n]) == stopped.port]
    up = [users[0] for n, users in learners.items() if node_port(buffer.shards()[n]) != stopped.port]
    assert api.post(EVENTS, [event(up[0])] * 2, format="json").status_code == 202
    assert frequencies(api, up[0]) == {"Tense": 2}  # kept in the buffer now
    stopped.stop()

    with committed():  # a part meets the stopped node: all of it is written through
        assert api.post(EVENTS, [event(down[0], sub=1), event(up[0], sub=1)], format="json").status_code == 202

    assert frequencies(api, up[0]) == {"Tense": 2, "Pronoun": 1}  # its node heard of the write at once
    flush_error_events()  # the beat's task: the shards of the nodes up are flushed
    assert Error.objects.filter(user=up[0]).count() == 3
    assert not UnannouncedChange.objects.filter(user=up[0]).exists()
    assert UnannouncedChange.objects.filter(user=down[0]).exists()  # told once its node answers again

    stopped.start()  # empty (a node of a buffer runs with AOF)
    cluster.wait_until_ok()
    flush_error_events()
    assert not UnannouncedChange.objects.exists()
    assert frequencies(api, down[0]) == {"Pronoun": 1}


def test_with_a_node_down_a_change_to_the_bank_reaches_the_readers_of_the_other_nodes(
    api, settings, private_redis, committed, make_exercise
):
    settings.EVENT_BUFFER_CLUSTER, settings.EVENT_STREAM_SHARDS = True, CLUSTER_SHARDS
    cluster = private_redis()
    settings.EVENT_BUFFER_URL = cluster.url
    exercise = make_exercise(title="Past simple: went, saw, took")
    learners = learners_of_every_shard()
    stopped = cluster.nodes[1]
    up = next(users[0] for n, users in learners.items() if node_port(buffer.shards()[n]) != stopped.port)
    assert api.post(EVENTS, event(up), format="json").status_code == 202
    assert titles(api, up) == ["Past simple: went, saw, took"]  # the bank is held under its version now
    stopped.stop()

    with committed():  # a curator's edit, through the model's save as every door
        exercise.title = "Past simple: irregular verbs"
        exercise.save()

    assert titles(api, up) == ["Past simple: irregular verbs"]


def test_a_process_started_while_the_url_s_node_is_down_finds_the_cluster_through_the_other_nodes(
    api, settings, private_redis
):
    settings.EVENT_BUFFER_CLUSTER, settings.EVENT_STREAM_SHARDS = True, CLUSTER_SHARDS
    cluster = private_redis()
    settings.EVENT_BUFFER_URL = cluster.url
    learners = learners_of_every_shard()
    named = cluster.nodes[0]
    up = [users[0] for n, users in learners.items() if node_port(buffer.shards()[n]) != named.port]
    named.stop()
    buffer.connection._client.cache_clear()  # as in a process that starts now

    alone = api.post(EVENTS, event(up[0]), format="json")  # it knows only the URL's node
    settings.EVENT_BUFFER_CLUSTER_NODES = [node.url.removesuffix("/0") for node in cluster.nodes[1:]]
    found = api.post(EVENTS, event(up[1]), format="json")  # a client of these settings finds the cluster

    assert (alone.status_code, found.status_code) == (202, 202)
    stored = {str(i) for i in Error.objects.values_list("event_id", flat=True)}
    assert set(alone.json()["event_ids"]) <= stored  # it reached no node: written through
    assert not set(found.json()["event_ids"]) & stored  # buffered on its node
    flush_error_events()
    assert Error.objects.filter(user=up[1]).count() == 1


def test_one_redis_may_hold_several_shards(api, user, settings):
    settings.EVENT_STREAM_SHARDS = 4
    others = [UserFactory() for _ in range(6)]
    assert api.post(EVENTS, [event(u) for u in [user, *others]], format="json").status_code == 202

    assert buffer.backlog()["entries"] == len({buffer.keys.shard_of(u.pk) for u in [user, *others]})
    assert frequencies(api, user) == {"Tense": 1}
    call_command("flush_error_events", verbosity=0)
    assert Error.objects.count() == 7
    assert frequencies(api, user) == {"Tense": 1}


def test_a_changed_shard_count_is_refused_while_the_old_shards_hold_events(user, settings):
    ingest.accept_events(make_events(user, 2))  # one shard, the old names
    ingest.flush(max_seconds=0)  # records the count
    settings.EVENT_STREAM_SHARDS = 4

    with pytest.raises(CommandError, match="EVENT_STREAM_SHARDS=1 again"):
        call_command("flush_error_events", verbosity=0)
    assert Error.objects.count() == 0

    settings.EVENT_STREAM_SHARDS = 1
    call_command("flush_error_events", verbosity=0)  # drained under the old count
    settings.EVENT_STREAM_SHARDS = 4
    ingest.accept_events(make_events(user, 3, sub=1))
    ingest.flush()

    assert Error.objects.count() == 5
    assert total(user) == 5


def test_a_buffer_of_the_release_before_shards_counts_as_one_untagged_shard(user, settings):
    ingest.accept_events(make_events(user, 2, sub=5) + make_events(user, 1, sub=5))
    buffer.client().delete(buffer.keys.SHARD_COUNT)  # as that release left it: no record
    settings.EVENT_STREAM_SHARDS = 2

    with pytest.raises(buffer.ShardCountChanged):
        ingest.flush()

    settings.EVENT_STREAM_SHARDS = 1
    assert ingest.flush().inserted == 3
    assert Error.objects.filter(timestamp_utc__gte=timezone.now() - timedelta(hours=1)).count() == 3
