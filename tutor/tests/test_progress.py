"""A learner's progress: weekly counts per pair as SQL counts them, the trend rule, what is due for review."""

import uuid
from datetime import UTC, datetime, timedelta
from fractions import Fraction

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tutor import buffer, ingest, progress
from tutor.buffer import Event
from tutor.exceptions import UserNotFound
from tutor.models import Error, ExerciseAttempt, ExerciseMemory
from tutor.progress import IMPROVING, STABLE, TREND_MARGIN, TREND_MIN_ERRORS, WORSE, learner_progress, trend
from tutor.taxonomy import CATEGORY_OF, ErrorSubCategory
from tutor.tests.factories import ErrorFactory, ExerciseFactory, UserFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 26, 15, 30, tzinfo=UTC)  # a Thursday of ISO week 2026-W48
THIS_MONDAY = datetime(2026, 11, 23, tzinfo=UTC)
# Mondays from 14 weeks before NOW's week to the one after it: the edges of every window drawn below.
EDGES = [THIS_MONDAY + timedelta(weeks=w) for w in range(-14, 2)]
SUBCATEGORIES = (3, 5, 9)  # one exercise each: Tense, Wrong_Word, Mispronounced_Word
moments = st.one_of(
    st.sampled_from(EDGES),
    st.builds(
        lambda edge, shift: edge + timedelta(microseconds=shift), st.sampled_from(EDGES), st.sampled_from([-1, 1])
    ),
    st.integers(min_value=0, max_value=15 * 7 * 86400).map(lambda s: EDGES[-1] - timedelta(seconds=s)),
)
scores = st.one_of(st.none(), st.sampled_from([0.0, 1.0]), st.floats(min_value=0, max_value=1))


def direct_counts(user_id, first: datetime, weeks: int) -> dict:
    """Count errors, attempts and the average score per (Monday, subcategory label) with one query per week and pair."""
    counts = {}
    with connection.cursor() as cursor:
        for monday in (first + timedelta(weeks=w) for w in range(weeks)):
            week = (monday, monday + timedelta(weeks=1))
            for sub in ErrorSubCategory:
                cursor.execute(
                    'SELECT count(*) FROM tutor_error WHERE user_id = %s AND "errorSubCategory" = %s'
                    " AND timestamp_utc >= %s AND timestamp_utc < %s",
                    [user_id, sub.value, *week],
                )
                errors = cursor.fetchone()[0]
                cursor.execute(
                    "SELECT count(*), avg(a.score) FROM tutor_exerciseattempt a JOIN tutor_exercise e"
                    ' ON e.id = a.exercise_id WHERE a.user_id = %s AND e."errorSubCategory" = %s'
                    " AND a.completed_at >= %s AND a.completed_at < %s",
                    [user_id, sub.value, *week],
                )
                attempts, average = cursor.fetchone()
                if errors or attempts:
                    counts[(monday.date(), sub.label)] = (errors, attempts, average)
    return counts


def answered_counts(answer: dict) -> dict:
    return {
        (week["week_start"], pair["errorSubCategory"]): (pair["errors"], pair["attempts"], pair["average_score"])
        for week in answer["weeks"]
        for pair in week["pairs"]
    }


@settings(max_examples=60, deadline=None, derandomize=True)
@given(
    weeks=st.sampled_from([1, 2, 3, 12, 14]),
    errors=st.lists(st.tuples(st.integers(0, 1), st.sampled_from(SUBCATEGORIES), moments), max_size=30),
    attempts=st.lists(st.tuples(st.integers(0, 1), st.integers(0, 2), moments, scores), max_size=20),
)
@example(weeks=12, errors=[], attempts=[])
@example(  # on the window's first and last edges (2026-W37's Monday, next week's Monday) and a µs either side
    weeks=12,
    errors=[
        (0, 3, EDGES[3]),
        (0, 3, EDGES[3] - timedelta(microseconds=1)),
        (0, 5, EDGES[3] + timedelta(microseconds=1)),
        (0, 9, EDGES[-1] - timedelta(microseconds=1)),
        (0, 9, EDGES[-1]),
    ],
    attempts=[
        (0, 0, EDGES[3] - timedelta(microseconds=1), 0.5),
        (0, 0, EDGES[3], None),
        (0, 0, EDGES[3] + timedelta(microseconds=1), 0.5),
        (0, 1, EDGES[-1] - timedelta(microseconds=1), 1.0),
        (0, 1, EDGES[-1], 1.0),
    ],
)
def test_the_weekly_counts_equal_a_direct_sql_count_per_week_and_pair(weeks, errors, attempts):
    with transaction.atomic():
        learners = [UserFactory(), UserFactory()]
        exercises = [ExerciseFactory(errorSubCategory=sub) for sub in SUBCATEGORIES]
        Error.objects.bulk_create(
            Error(user=learners[who], errorCategory=CATEGORY_OF[sub], errorSubCategory=sub, timestamp_utc=moment)
            for who, sub, moment in errors
        )
        ExerciseAttempt.objects.bulk_create(
            ExerciseAttempt(user=learners[who], exercise=exercises[which], completed_at=moment, score=score)
            for who, which, moment, score in attempts
        )
        learner = learners[0]

        with CaptureQueriesContext(connection) as queries:
            answer = learner_progress(user_id=learner.pk, weeks=weeks, now=NOW).answer()

        first = THIS_MONDAY - timedelta(weeks=weeks - 1)
        assert [week["week_start"] for week in answer["weeks"]] == [
            (first + timedelta(weeks=w)).date() for w in range(weeks)
        ]
        direct = direct_counts(learner.pk, first, weeks)
        answered = answered_counts(answer)
        assert answered.keys() == direct.keys()
        for key, (errors_, attempts_, average) in direct.items():
            assert answered[key][:2] == (errors_, attempts_), key
            assert answered[key][2] == (None if average is None else pytest.approx(average)), key
        # One grouped query for the errors and one for the attempts, whatever the number of weeks.
        assert sum('FROM "tutor_error"' in q["sql"] for q in queries.captured_queries) == 1
        assert sum('FROM "tutor_exerciseattempt"' in q["sql"] for q in queries.captured_queries) == 1
        transaction.set_rollback(True)


def test_the_average_score_leaves_unscored_attempts_out_and_is_null_without_any():
    learner = UserFactory()
    tense, word = ExerciseFactory(errorSubCategory=3), ExerciseFactory(errorSubCategory=5)
    for exercise, score in [(tense, None), (tense, 0.25), (tense, 0.75), (word, None), (word, None)]:
        ExerciseAttempt.objects.create(user=learner, exercise=exercise, completed_at=NOW, score=score)

    (week,) = learner_progress(user_id=learner.pk, weeks=1, now=NOW).answer()["weeks"]

    assert week["pairs"] == [
        {"errorCategory": "Grammar", "errorSubCategory": "Tense", "errors": 0, "attempts": 3, "average_score": 0.5},
        {
            "errorCategory": "Vocabulary",
            "errorSubCategory": "Wrong_Word",
            "errors": 0,
            "attempts": 2,
            "average_score": None,
        },
    ]


def test_a_week_without_errors_or_attempts_is_listed_without_pairs():
    learner = UserFactory()
    ErrorFactory(user=learner, timestamp_utc=THIS_MONDAY - timedelta(weeks=2))

    answer = learner_progress(user_id=learner.pk, weeks=4, now=NOW).answer()

    assert [len(week["pairs"]) for week in answer["weeks"]] == [0, 1, 0, 0]


def events(user, *moments_and_subs) -> list[Event]:
    return [Event(uuid.uuid4(), user.pk, CATEGORY_OF[sub], sub, moment) for moment, sub in moments_and_subs]


def tense_errors_per_week(user_id, weeks: int = 2) -> list[int]:
    answer = learner_progress(user_id=user_id, weeks=weeks).answer()
    return [sum(p["errors"] for p in week["pairs"] if p["errorSubCategory"] == "Tense") for week in answer["weeks"]]


def test_events_still_in_the_buffer_count_in_their_week_once_also_when_a_flush_stored_them_already(user):
    now = timezone.now()
    last_week = progress.week_start(now) - timedelta(days=3)
    accepted = events(user, *[(now, 3)] * 3, *[(last_week, 3)] * 2)
    ingest.accept_events(accepted)
    ErrorFactory(user=user, timestamp_utc=now)
    assert len(buffer.snapshot(user.pk).pending) == 5

    assert tense_errors_per_week(user.pk) == [2, 4]

    ingest.store([e.buffered() for e in accepted[:2] + accepted[3:4]])  # ...and the flusher dies before its ack
    assert tense_errors_per_week(user.pk) == [2, 4]

    ingest.flush()
    assert buffer.snapshot(user.pk).pending == []
    assert tense_errors_per_week(user.pk) == [2, 4]


def test_it_refuses_an_unknown_learner(db):
    with pytest.raises(UserNotFound):
        learner_progress(user_id=uuid.uuid4())


@pytest.mark.parametrize(
    ("errors", "active", "expected"),
    [
        # 3 errors per active week, then 1: a fall of 67%.
        ([3, 3, 1, 1], [True] * 4, IMPROVING),
        ([1, 1, 3, 3], [True] * 4, WORSE),
        ([2, 2, 2, 2], [True] * 4, STABLE),
        # Errors after none are worse; none after some is improving.
        ([0, 0, 2, 2], [True] * 4, WORSE),
        ([2, 2, 0, 0], [True] * 4, IMPROVING),
        # Fewer than TREND_MIN_ERRORS over both halves: too little to tell.
        ([0, 0, 1, 2], [True] * 4, STABLE),
        # A half without an active week says nothing.
        ([0, 0, 4, 4], [False, False, True, True], STABLE),
        # Weeks without use of the service do not count as weeks without errors: 4 per active week both times.
        ([4, 0, 4, 4], [True, False, True, True], STABLE),
        # The middle week of an odd window is in neither half.
        ([1, 1, 9, 1, 1], [True] * 5, STABLE),
        # One week: no halves, no trend.
        ([9], [True], STABLE),
    ],
)
def test_the_trend_rule_on_constructed_histories(errors, active, expected):
    assert trend(errors, active).trend == expected


@pytest.mark.parametrize(
    ("earlier", "later", "expected"),
    [
        # With TREND_MARGIN at 25%: 8 errors in each half's two active weeks is 4 a week.
        (8, 10, STABLE),  # +25%, exactly the margin
        (8, 11, WORSE),  # +37.5%
        (80, 101, WORSE),  # +26.25%, just past it
        (8, 6, STABLE),  # -25%, exactly the margin
        (80, 59, IMPROVING),  # -26.25%, just past it
        (80, 61, STABLE),  # -23.75%
    ],
)
def test_the_trend_margin_is_exclusive(earlier, later, expected):
    assert Fraction(1, 4) == TREND_MARGIN

    figures = trend([earlier // 2, earlier - earlier // 2, later // 2, later - later // 2], [True] * 4)

    assert figures.trend == expected
    assert figures.change == Fraction(later, earlier) - 1


def test_the_minimum_count_is_inclusive():
    assert TREND_MIN_ERRORS == 4

    assert trend([0, 0, 1, 2], [True] * 4).trend == STABLE
    assert trend([0, 0, 2, 2], [True] * 4).trend == WORSE


def test_the_answer_gives_each_pair_its_trend_and_the_figures_it_came_from():
    learner = UserFactory()
    # 4 errors in the earlier half's one active week, 4 over the later half's two: from 4 a week to 2.
    for weeks_ago, count in [(3, 4), (1, 2), (0, 2)]:
        for _ in range(count):
            ErrorFactory(user=learner, errorSubCategory=9, timestamp_utc=THIS_MONDAY - timedelta(weeks=weeks_ago))
    ErrorFactory(user=learner, errorSubCategory=3, timestamp_utc=THIS_MONDAY)

    trends = learner_progress(user_id=learner.pk, weeks=4, now=NOW).answer()["trends"]

    assert trends == [
        {
            "errorCategory": "Grammar",
            "errorSubCategory": "Tense",
            "trend": STABLE,
            "earlier_errors": 0,
            "later_errors": 1,
            "earlier_active_weeks": 1,
            "later_active_weeks": 2,
            "earlier_errors_per_week": 0.0,
            "later_errors_per_week": 0.5,
            "change": None,
        },
        {
            "errorCategory": "Pronunciation",
            "errorSubCategory": "Mispronounced_Word",
            "trend": IMPROVING,
            "earlier_errors": 4,
            "later_errors": 4,
            "earlier_active_weeks": 1,
            "later_active_weeks": 2,
            "earlier_errors_per_week": 4.0,
            "later_errors_per_week": 2.0,
            "change": -0.5,
        },
    ]


def test_due_lists_exactly_the_active_exercises_due_now_the_most_overdue_first():
    learner, other = UserFactory(), UserFactory()
    exercises = {name: ExerciseFactory(title=name) for name in ("late", "later", "now", "soon", "inactive", "other's")}
    exercises["inactive"].is_active = False
    exercises["inactive"].save()
    dues = {"late": -timedelta(days=1), "later": -timedelta(days=3), "now": timedelta(0), "soon": timedelta(seconds=1)}
    for name, offset in [*dues.items(), ("inactive", -timedelta(days=2))]:
        ExerciseMemory.objects.create(
            user=learner, exercise=exercises[name], card={}, last_done=NOW - timedelta(days=9), due=NOW + offset
        )
    ExerciseMemory.objects.create(
        user=other, exercise=exercises["other's"], card={}, last_done=NOW, due=NOW - timedelta(days=5)
    )

    due = learner_progress(user_id=learner.pk, now=NOW).answer()["due"]

    assert [e["title"] for e in due] == ["later", "late", "now"]
    assert due[0] == {
        "exercise_id": exercises["later"].pk,
        "title": "later",
        "errorCategory": "Grammar",
        "errorSubCategory": "Tense",
        "due": NOW - timedelta(days=3),
        "last_done": NOW - timedelta(days=9),
    }


def test_a_failed_attempt_makes_its_exercise_due_within_a_day():
    learner, exercise = UserFactory(), ExerciseFactory()
    ExerciseAttempt.objects.create(user=learner, exercise=exercise, completed_at=NOW, score=0.0)

    assert learner_progress(user_id=learner.pk, now=NOW).answer()["due"] == []
    due = learner_progress(user_id=learner.pk, now=NOW + timedelta(days=1)).answer()["due"]
    assert [e["exercise_id"] for e in due] == [exercise.pk]
