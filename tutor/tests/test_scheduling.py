"""Practice scheduled from the learner's own results: the memory of each (learner, exercise), and the API."""

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone
from fsrs import Rating

from tutor import scheduling
from tutor.models import ExerciseAttempt, ExerciseMemory

URL = "/api/generate-exercise"
T0 = datetime(2026, 12, 1, 9, tzinfo=UTC)
GAPS = {
    "answer_mode": "typed",
    "items": [
        {"id": "sched-{n}.1", "prompt": "I ___ here since 2019. (live)", "answer": "have lived"},
        {"id": "sched-{n}.2", "prompt": "She ___ to Rome last year. (go)", "answer": "went"},
    ],
}


def gaps(n: int) -> dict:
    return {**GAPS, "items": [{**item, "id": item["id"].format(n=n)} for item in GAPS["items"]]}


@pytest.mark.parametrize(
    ("score", "rating"),
    [
        (0, Rating.Again),
        (0.49, Rating.Again),
        (0.5, Rating.Hard),
        (0.7, Rating.Good),
        (0.9, Rating.Easy),
        (1, Rating.Easy),
    ],
)
def test_a_score_earns_a_rating(score, rating):
    assert scheduling.rating(score) == rating


@pytest.mark.parametrize(
    ("attempts", "due_after"),
    [
        ([(T0, 0.0)], timedelta(hours=4)),  # failed: back the same day
        ([(T0, 1.0)], timedelta(days=8)),  # perfect: more than a week
        ([(T0, 0.8)], timedelta(days=2)),
        ([(T0, None)], scheduling.UNSCORED_REST),  # done, not scored: the old cooldown
    ],
)
def test_one_attempt_sets_when_the_exercise_is_due(attempts, due_after):
    _, practice = scheduling.replay(attempts)
    assert (practice.last_done, practice.due) == (T0, T0 + due_after)


def test_each_success_puts_the_next_review_further_away_and_a_failure_brings_it_back():
    history = [(T0, 1.0)]
    gaps_in_days = []
    for _ in range(3):
        _, practice = scheduling.replay(history)
        gaps_in_days.append((practice.due - practice.last_done).days)
        history.append((practice.due, 1.0))
    assert gaps_in_days == sorted(gaps_in_days)
    assert gaps_in_days[0] < gaps_in_days[-1] <= scheduling.MAXIMUM_INTERVAL_DAYS

    _, after_failure = scheduling.replay([*history, (history[-1][0] + timedelta(days=1), 0.0)])
    assert after_failure.due - after_failure.last_done <= timedelta(days=1)


def test_the_same_attempts_give_the_same_card():
    attempts = [(T0, 0.4), (T0 + timedelta(days=1), 1.0)]
    assert scheduling.replay(attempts)[0].to_dict() == scheduling.replay(attempts)[0].to_dict()


@pytest.mark.django_db
def test_the_memory_follows_the_attempts_in_the_order_they_were_done_whatever_the_order_they_come(user, make_exercise):
    exercise = make_exercise()
    late = ExerciseAttempt.objects.create(user=user, exercise=exercise, completed_at=T0 + timedelta(days=5), score=0)
    ExerciseAttempt.objects.create(user=user, exercise=exercise, completed_at=T0, score=1)

    _, expected = scheduling.replay([(T0, 1.0), (T0 + timedelta(days=5), 0.0)])
    memory = ExerciseMemory.objects.get(user=user, exercise=exercise)
    assert (memory.last_done, memory.due) == (expected.last_done, expected.due)

    late.delete()
    memory.refresh_from_db()
    assert memory.due == T0 + timedelta(days=8)
    ExerciseAttempt.objects.filter(user=user).get().delete()
    assert not ExerciseMemory.objects.exists()


@pytest.mark.django_db
class TestThroughTheApi:
    """On PostgreSQL and Redis, as a client sees it: graded answers in, the schedule in the recommendation."""

    @pytest.fixture(autouse=True)
    def _committing(self, committed):
        self.committed = committed

    @pytest.fixture
    def pool(self, user, make_exercise, make_error):
        make_error(user=user, errorSubCategory=3)
        return [make_exercise(title=f"Exercise {n}", level="B1", content=gaps(n)) for n in range(4)]

    def answer(self, api, user, exercise, *, right: bool, hours_ago: float):
        key = {item["id"]: item["answer"] if right else "wrong" for item in exercise.content["items"]}
        with self.committed():  # readers hear of the attempt when it commits
            response = self._post(api, user, exercise, key, hours_ago)
        assert response.status_code == 201, response.json()
        return response.json()

    def _post(self, api, user, exercise, key, hours_ago):
        return api.post(
            "/api/exercise-attempts",
            {
                "user_id": str(user.pk),
                "exercise_id": str(exercise.pk),
                "answers": key,
                "completed_at": (timezone.now() - timedelta(hours=hours_ago)).isoformat(),
            },
            format="json",
        )

    def offered(self, api, user, **params) -> dict[str, tuple[str, str | None]]:
        response = api.get(URL, {"user_id": str(user.pk), "exercises_per_error": 4, **params})
        assert response.status_code == 200
        return {e["title"]: (e["status"], e["last_done"]) for e in response.json()["top_errors"][0]["exercises"]}

    def test_a_failed_exercise_is_offered_again_within_a_day(self, api, user, pool):
        failed = self.answer(api, user, pool[0], right=False, hours_ago=0)
        assert failed["score"] == 0
        # Just failed: it rests a few hours, and is shown only after the new ones.
        assert list(self.offered(api, user)) == ["Exercise 1", "Exercise 2", "Exercise 3", "Exercise 0"]
        assert self.offered(api, user)["Exercise 0"][0] == "repeat"
        due = ExerciseMemory.objects.get(user=user, exercise=pool[0]).due
        assert due - timezone.now() < timedelta(days=1)

        # Failed 23 hours ago: due again, and offered before every new exercise.
        self.answer(api, user, pool[1], right=False, hours_ago=23)
        offered = self.offered(api, user)
        assert next(iter(offered)) == "Exercise 1"
        assert offered["Exercise 1"][0] == "due"

    def test_an_exercise_done_perfectly_is_not_offered_for_at_least_three_days(self, api, user, pool):
        perfect = self.answer(api, user, pool[0], right=True, hours_ago=71)
        assert perfect["score"] == 1

        offered = self.offered(api, user, exercises_per_error=3)
        assert "Exercise 0" not in offered
        assert set(offered.values()) == {("new", None)}
        assert self.offered(api, user)["Exercise 0"][0] == "repeat"  # only when the pool runs out
        memory = ExerciseMemory.objects.get(user=user, exercise=pool[0])
        assert memory.due - memory.last_done >= timedelta(days=3)

    def test_a_cooldown_the_client_sends_is_a_lower_bound(self, api, user, pool):
        self.answer(api, user, pool[0], right=False, hours_ago=23)
        assert self.offered(api, user)["Exercise 0"][0] == "due"
        assert self.offered(api, user, cooldown_days=2)["Exercise 0"][0] == "repeat"


@pytest.mark.django_db
def test_a_learner_or_exercise_deleted_takes_its_memories_without_rebuilding_them(
    user, make_exercise, django_assert_max_num_queries
):
    exercises = [make_exercise(), make_exercise()]
    for exercise in exercises:
        for day in range(20):
            ExerciseAttempt.objects.create(user=user, exercise=exercise, completed_at=T0 + timedelta(days=day), score=1)
    assert ExerciseMemory.objects.count() == 2

    exercises[0].delete()
    assert ExerciseMemory.objects.count() == 1
    with django_assert_max_num_queries(30):  # not a rebuild per attempt
        user.delete()
    assert not ExerciseMemory.objects.exists()


@pytest.mark.django_db
def test_an_attempt_moved_to_another_exercise_leaves_the_memory_of_the_one_it_left_true(user, make_exercise):
    left, joined = make_exercise(), make_exercise()
    ExerciseAttempt.objects.create(user=user, exercise=left, completed_at=T0, score=1)
    moved = ExerciseAttempt.objects.create(user=user, exercise=left, completed_at=T0 + timedelta(days=1), score=0)

    moved.exercise = joined
    moved.save()

    assert ExerciseMemory.objects.get(user=user, exercise=left).due == T0 + timedelta(days=8)
    assert ExerciseMemory.objects.get(user=user, exercise=joined).last_done == T0 + timedelta(days=1)


@pytest.mark.django_db(transaction=True)
def test_upgrading_gives_the_attempts_made_before_the_schedule_their_memories(user, make_exercise):
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    def migrate(target):
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(target)
        return executor.loader.project_state(target).apps

    exercise = make_exercise()
    latest = MigrationExecutor(connection).loader.graph.leaf_nodes()
    try:
        apps = migrate([("tutor", "0012_exercise_history")])
        # Written as the release before wrote them: no signal, no memory.
        Attempt = apps.get_model("tutor", "ExerciseAttempt")
        Attempt.objects.create(user_id=user.pk, exercise_id=exercise.pk, completed_at=T0 + timedelta(days=2), score=0)
        Attempt.objects.create(user_id=user.pk, exercise_id=exercise.pk, completed_at=T0, score=1)
        apps.get_model("tutor", "ExerciseMemory").objects.all().delete()

        migrate(latest)
    finally:
        migrate(latest)

    _, expected = scheduling.replay([(T0, 1.0), (T0 + timedelta(days=2), 0.0)])
    memory = ExerciseMemory.objects.get(user=user, exercise=exercise)
    assert (memory.last_done, memory.due) == (expected.last_done, expected.due)
