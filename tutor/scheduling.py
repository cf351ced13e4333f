"""When a learner should meet an exercise again, from their own results (FSRS, the scheduler of Anki).

Each (learner, exercise) has a memory: the FSRS card that replaying the learner's attempts at the
exercise in the order they were done gives, with when it was last done and when it is due. It is
rebuilt from the attempts whenever one is added, changed or deleted, through any door, so it never
disagrees with them. A scored attempt rates the exercise by its score (`rating`); an attempt without a
score says only that it was done, and keeps the exercise resting for `UNSCORED_REST`.

Recommendations offer exercises that are due before new ones, skip those still resting, and fill a
short list with the ones due soonest, marked as repeats (`tutor.ranking.select_exercises`).
"""

from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import QuerySet
from django.db.models.signals import post_delete, post_save, pre_save
from django.dispatch import receiver
from fsrs import Card, Rating, Scheduler

from tutor import invalidation
from tutor.models import Exercise, ExerciseAttempt, ExerciseMemory, User
from tutor.practice import Practice

# An exercise, unlike a flashcard, is not met again minutes later: a failed one comes back after these hours.
LEARNING_STEPS = (timedelta(hours=4),)
# However well it went, an exercise comes back within this many days.
MAXIMUM_INTERVAL_DAYS = 90
# Done without a score: nothing to rate, so it rests as long as the old fixed cooldown did.
UNSCORED_REST = timedelta(days=7)
# Scores at or above each bound earn the rating; below the first, Again.
RATING_BOUNDS = ((0.9, Rating.Easy), (0.7, Rating.Good), (0.5, Rating.Hard))

SCHEDULER = Scheduler(
    learning_steps=LEARNING_STEPS,
    relearning_steps=LEARNING_STEPS,
    maximum_interval=MAXIMUM_INTERVAL_DAYS,
    enable_fuzzing=False,  # the same attempts always give the same schedule
)


def rating(score: float) -> Rating:
    """The FSRS rating a score from 0 to 1 earns: below 0.5 Again, then Hard, Good from 0.7, Easy from 0.9."""
    return next((grade for bound, grade in RATING_BOUNDS if score >= bound), Rating.Again)


def replay(attempts: list[tuple[datetime, float | None]]) -> tuple[Card, Practice]:
    """The card and practice that attempts (completed_at, score), in the order they were done, give."""
    # Without an id, Card() sleeps 1 ms to make one from the clock; a memory is known by its learner and exercise.
    card, due = Card(card_id=0), None
    for completed_at, score in attempts:
        if score is None:
            due = max(due or completed_at, completed_at + UNSCORED_REST)
            continue
        card, _ = SCHEDULER.review_card(card, rating(score), completed_at)
        due = card.due
    return card, Practice(attempts[-1][0], due)


def rebuild(user_id, exercise_id) -> None:
    """Set the memory of (user, exercise) from its attempts, or remove it when none is left."""
    attempts = list(
        ExerciseAttempt.objects.filter(user_id=user_id, exercise_id=exercise_id)
        .order_by("completed_at", "id")
        .values_list("completed_at", "score")
    )
    if not attempts:
        ExerciseMemory.objects.filter(user_id=user_id, exercise_id=exercise_id).delete()
        return
    card, practice = replay(attempts)
    ExerciseMemory.objects.update_or_create(
        user_id=user_id,
        exercise_id=exercise_id,
        defaults={"card": card.to_dict(), "last_done": practice.last_done, "due": practice.due},
    )


@receiver(pre_save, sender=ExerciseAttempt)
def _remember_the_pair(sender, instance: ExerciseAttempt, raw=False, **kwargs) -> None:
    """Note the (learner, exercise) a changed attempt had, so that a pair it leaves is rebuilt too."""
    if instance.pk is None:
        instance._stored_pair = None  # a new attempt
        return
    instance._stored_pair = ExerciseAttempt.objects.filter(pk=instance.pk).values_list("user_id", "exercise_id").first()


@receiver(post_save, sender=ExerciseAttempt)
@receiver(post_delete, sender=ExerciseAttempt)
def _attempts_changed(sender, instance: ExerciseAttempt, signal, origin=None, **kwargs) -> None:
    if signal is post_delete and _deleted_with_its_learner_or_exercise(origin):
        return  # the memories go with them (the keys cascade)
    pairs = {(instance.user_id, instance.exercise_id), getattr(instance, "_stored_pair", None)} - {None}
    with transaction.atomic():
        for user_id, exercise_id in sorted(pairs, key=str):
            _lock(user_id, exercise_id)
            rebuild(user_id, exercise_id)
        # Readers may have heard of the attempt before the memory changed: they hear again.
        invalidation.learners_changed({user_id for user_id, _ in pairs})


def _lock(user_id, exercise_id) -> None:
    """Rebuild one (learner, exercise) at a time, each seeing the attempts committed before it (PostgreSQL)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [f"memory:{user_id}:{exercise_id}"])


def _deleted_with_its_learner_or_exercise(origin) -> bool:
    """Whether a deletion that started at `origin` (an instance or a queryset) took attempts by cascade."""
    model = origin.model if isinstance(origin, QuerySet) else type(origin)
    return model in (User, Exercise)
