"""The one-statement reader of stored rows gives what the ORM reader gives, whatever the data."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.db import transaction
from django.db.models import Max
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tutor import scheduling
from tutor.buffer import to_micros
from tutor.exceptions import UserNotFound
from tutor.learners import profile
from tutor.models import Error, ExerciseAttempt
from tutor.stored_rows import LearnerRows, Rows, read, read_at_once
from tutor.taxonomy import CATEGORY_OF
from tutor.tests.factories import ExerciseFactory, UserFactory

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 11, 29, 12, tzinfo=UTC)
# Windows start at whole days back; errors fall on those edges, beside them, or anywhere.
EDGES = [NOW - timedelta(days=days) for days in (1, 3, 7)]
moments = st.one_of(
    st.sampled_from(EDGES),
    st.builds(
        lambda edge, micros: edge + timedelta(microseconds=micros), st.sampled_from(EDGES), st.sampled_from([-1, 1])
    ),
    st.integers(min_value=0, max_value=10 * 86400 * 10**6).map(lambda micros: NOW - timedelta(microseconds=micros)),
)
errors = st.lists(st.tuples(st.integers(0, 2), st.integers(1, 12), moments), max_size=25)
attempts = st.lists(st.tuples(st.integers(0, 2), st.integers(0, 1), moments), max_size=4)


def comparable(pairs) -> list[tuple]:
    return sorted((p.subcategory, p.count, p.last, None if p.times is None else sorted(p.times)) for p in pairs)


@settings(max_examples=150, deadline=None, derandomize=True)
@given(
    errors=errors,
    attempts=attempts,
    since=st.one_of(st.none(), st.sampled_from(EDGES)),
    rows=st.sampled_from(Rows),
    level=st.sampled_from([None, "B1"]),
    asked=st.lists(st.integers(0, 30), max_size=4),
)
@example(errors=[], attempts=[], since=None, rows=Rows.TIMES, level=None, asked=[])
@example(
    errors=[(0, 3, EDGES[1])] * 2, attempts=[(0, 0, EDGES[0])], since=EDGES[1], rows=Rows.TIMES, level="B1", asked=[0]
)
def test_both_readers_give_the_same_rows(errors, attempts, since, rows, level, asked):
    with transaction.atomic():
        learners = [UserFactory(level=level), UserFactory(), UserFactory()]
        exercises = [ExerciseFactory(), ExerciseFactory()]
        stored = Error.objects.bulk_create(
            Error(user=learners[who], errorCategory=CATEGORY_OF[sub], errorSubCategory=sub, timestamp_utc=moment)
            for who, sub, moment in errors
        )
        ExerciseAttempt.objects.bulk_create(
            ExerciseAttempt(user=learners[who], exercise=exercises[which], completed_at=moment)
            for who, which, moment in attempts
        )
        for who, which in {(who, which) for who, which, _ in attempts}:  # bulk_create sends no signal
            scheduling.rebuild(learners[who].pk, exercises[which].pk)
        # Ids of the stored errors (any learner's) and ids stored nowhere.
        event_ids = [stored[i].event_id if i < len(stored) else uuid.uuid4() for i in asked]
        learner = learners[0]

        reading = read_at_once(user_id=learner.pk, since=since, rows=rows, event_ids=event_ids, learner=True)

        assert comparable(reading.pairs) == comparable(read(user_id=learner.pk, since=since, rows=rows))
        assert reading.stored == set(Error.objects.filter(event_id__in=event_ids).values_list("event_id", flat=True))
        _, practice = profile(learner.pk)
        kept = {str(e): {"last_done": to_micros(p.last_done), "due": to_micros(p.due)} for e, p in practice.items()}
        assert reading.learner == LearnerRows(level, kept)
        done = learner.attempts.values("exercise_id").annotate(last=Max("completed_at"))
        assert {str(d["exercise_id"]): to_micros(d["last"]) for d in done} == {
            e: p["last_done"] for e, p in kept.items()
        }
        transaction.set_rollback(True)


def test_the_one_statement_reader_refuses_an_unknown_learner_when_asked_for_them():
    unknown = uuid.uuid4()

    assert read_at_once(user_id=unknown, since=None, rows=Rows.TOTALS, event_ids=[], learner=False).pairs == []
    with pytest.raises(UserNotFound):
        read_at_once(user_id=unknown, since=None, rows=Rows.TOTALS, event_ids=[], learner=True)
