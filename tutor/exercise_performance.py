"""How exercises do with learners: figures per exercise from its attempts, and which ones learners fail.

How attempts count: every attempt counts in an exercise's attempts, learners and last done. Only
scored attempts (a score from 0 to 1, not null) count in the average score and in the share of
attempts below `FAIL_BELOW`; an attempt without a score is neither a pass nor a fail. An exercise
without scored attempts has no average and no share (shown as "-", sorted last), and is never flagged.
"""

from django.db.models import Avg, BooleanField, Case, Count, F, FloatField, Max, QuerySet, Value, When

from tutor.models import Exercise, ExerciseAttempt

# An attempt scored below this is a failed attempt.
FAIL_BELOW = 0.5
# An exercise fails far more than its level when the share of its scored attempts below FAIL_BELOW is
# at least FLAG_MARGIN (25 percentage points) above its level's share, over at least FLAG_MIN_SCORED_ATTEMPTS.
FLAG_MARGIN = 0.25
FLAG_MIN_SCORED_ATTEMPTS = 10


class NullsLast(F):
    """A field to sort by with its empty values last, whichever way the admin sorts it."""

    def asc(self, **kwargs):
        return super().asc(nulls_last=True)

    def desc(self, **kwargs):
        return super().desc(nulls_last=True)


def _failed(score: str) -> Case:
    """1 for a scored attempt below FAIL_BELOW, 0 for one at or above it, null without a score (so Avg skips it)."""
    return Case(
        When(**{f"{score}__lt": FAIL_BELOW}, then=Value(1.0)),
        When(**{f"{score}__isnull": False}, then=Value(0.0)),
        output_field=FloatField(),
    )


def level_fail_shares() -> dict[str, float]:
    """Return, per level, the share of all scored attempts at exercises of that level that are below FAIL_BELOW."""
    rows = (
        ExerciseAttempt.objects.filter(score__isnull=False)
        .order_by()
        .values_list("exercise__level")
        .annotate(share=Avg(_failed("score")))
    )
    return dict(rows)


def fails_far_more(level_shares: dict[str, float]) -> Case:
    """Whether an exercise fails far more than its level (the rule in this module's constants), as SQL.

    The exercise's share of scored attempts below FAIL_BELOW is compared with `level_shares` (from
    `level_fail_shares`), the share of every scored attempt at its level, the exercise's own included.
    """
    return Case(
        *(
            When(
                level=level,
                scored_count__gte=FLAG_MIN_SCORED_ATTEMPTS,
                fail_share__gte=share + FLAG_MARGIN,
                then=Value(True),
            )
            for level, share in level_shares.items()
        ),
        default=Value(False),
        output_field=BooleanField(),
    )


def with_performance(exercises: QuerySet[Exercise]) -> QuerySet[Exercise]:
    """Annotate each exercise with how learners do at it, in the same query as the exercises.

    attempt_count, learner_count (distinct learners), scored_count, average_score, fail_share (of
    scored attempts, below FAIL_BELOW), last_done, and fails_far_more; one more query reads the
    levels' shares.
    """
    return exercises.annotate(
        attempt_count=Count("attempts"),
        learner_count=Count("attempts__user", distinct=True),
        scored_count=Count("attempts__score"),
        average_score=Avg("attempts__score"),
        fail_share=Avg(_failed("attempts__score")),
        last_done=Max("attempts__completed_at"),
    ).annotate(fails_far_more=fails_far_more(level_fail_shares()))
