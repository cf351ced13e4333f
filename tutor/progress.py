"""A learner's progress: errors and attempts per ISO week and pair, each pair's trend, what is due for review.

Reads only. `learner_progress` answers GET /api/users/{id}/progress and draws the admin's progress
chart: errors per (week, pair), events still in the real-time buffer included (as the ranking counts
them), attempts per (week, pair) with their average score, a trend per pair (`trend`), and the
exercises due for review now. The admin's errors-by-category chart (`weekly_errors`) counts stored
errors only: an event waiting in the buffer joins its week there at the next flush (ERROR_FLUSH_INTERVAL).

The learner's top errors and recommendation are not computed here: the admin asks tutor.ranking,
the code that answers the API, so the page shows what the API would answer now.
"""

import logging
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from uuid import UUID

from django.db.models import Count, Sum
from django.db.models.functions import TruncWeek
from django.utils import timezone

from tutor import buffer, learners
from tutor.exceptions import UserNotFound
from tutor.models import Error, ExerciseAttempt, ExerciseMemory
from tutor.taxonomy import ErrorCategory, pair_labels

logger = logging.getLogger(__name__)

WEEKS = 12
MAX_WEEKS = 104
RECENT_ATTEMPTS = 20

# The trend rule (`trend`): a pair needs this many errors over both halves of the window to have a trend,
TREND_MIN_ERRORS = 4
# and its errors per active week must fall, or rise, by more than this share to be improving, or worse.
TREND_MARGIN = Fraction(1, 4)
IMPROVING, STABLE, WORSE = "improving", "stable", "worse"
TRENDS = (IMPROVING, STABLE, WORSE)
TREND_RULE = (
    "Errors per active week (a week with any error or attempt of the learner) in the later half of the window "
    f"against the earlier half: worse above +{float(TREND_MARGIN):.0%}, improving below -{float(TREND_MARGIN):.0%}, "
    f"else stable; stable too with fewer than {TREND_MIN_ERRORS} errors in both halves or a half without an active "
    "week. Scores do not weigh in."
)


@dataclass(frozen=True)
class WeeklyErrors:
    """Errors per ISO week (Monday 00:00 UTC) and category, oldest week first; a week without errors counts 0."""

    weeks: list[datetime]
    counts: dict[int, list[int]]  # category code -> one count per week, in the order of `weeks`

    def chart(self) -> dict:
        """Return the counts as the admin's chart reads them (labels, then one series per category)."""
        return {
            "weeks": [iso_week(week) for week in self.weeks],
            "week_starts": [week.date().isoformat() for week in self.weeks],
            "categories": [
                {"code": category.value, "label": category.label, "counts": self.counts[category.value]}
                for category in ErrorCategory
            ],
        }


def iso_week(monday: datetime) -> str:
    """Name the ISO week that starts on `monday`, as 2026-W48."""
    year, week, _ = monday.isocalendar()
    return f"{year}-W{week:02d}"


def week_start(moment: datetime) -> datetime:
    """Return the Monday 00:00 UTC that starts the ISO week of `moment`."""
    day = moment.astimezone(UTC).date()
    return datetime.combine(day - timedelta(days=day.weekday()), datetime.min.time(), tzinfo=UTC)


def weekly_errors(*, user_id: UUID, weeks: int = WEEKS, now: datetime | None = None) -> WeeklyErrors:
    """Count the learner's stored errors per week and category over the last `weeks` ISO weeks, in one query.

    The current week is the last one, counted up to now; an error dated after this week is not counted.
    """
    first = week_start(now or timezone.now()) - timedelta(weeks=weeks - 1)
    starts = [first + timedelta(weeks=i) for i in range(weeks)]
    counts = {category.value: [0] * weeks for category in ErrorCategory}
    rows = (
        Error.objects.filter(
            user_id=user_id, timestamp_utc__gte=first, timestamp_utc__lt=first + timedelta(weeks=weeks)
        )
        .annotate(week=TruncWeek("timestamp_utc", tzinfo=UTC))
        .values_list("week", "errorCategory")
        .annotate(errors=Count("id"))
        .order_by()
    )
    for week, category, errors in rows:
        counts[category][(week - first) // timedelta(weeks=1)] = errors
    return WeeklyErrors(starts, counts)


def recent_attempts(*, user_id: UUID, limit: int = RECENT_ATTEMPTS) -> list[ExerciseAttempt]:
    """Return the learner's latest attempts, newest first, with their exercises."""
    return list(ExerciseAttempt.objects.filter(user_id=user_id).select_related("exercise")[:limit])


@dataclass
class PairWeek:
    """One pair's figures in one week: errors made, attempts completed at its exercises, and their scores."""

    errors: int = 0
    attempts: int = 0
    scored: int = 0  # attempts with a score
    score_sum: float = 0.0

    @property
    def average_score(self) -> float | None:
        return self.score_sum / self.scored if self.scored else None


@dataclass(frozen=True)
class Trend:
    """A pair's trend over the window and the figures `trend` decided it from."""

    trend: str
    earlier_errors: int
    later_errors: int
    earlier_active_weeks: int
    later_active_weeks: int

    @property
    def earlier_rate(self) -> Fraction | None:
        return Fraction(self.earlier_errors, self.earlier_active_weeks) if self.earlier_active_weeks else None

    @property
    def later_rate(self) -> Fraction | None:
        return Fraction(self.later_errors, self.later_active_weeks) if self.later_active_weeks else None

    @property
    def change(self) -> Fraction | None:
        """The relative change of errors per active week, later half against earlier (None without a base)."""
        earlier, later = self.earlier_rate, self.later_rate
        return None if not earlier or later is None else later / earlier - 1


def trend(errors: list[int], active: list[bool]) -> Trend:
    """Decide a pair's trend from its errors per week and which weeks the learner was active, oldest first.

    The window's weeks split into an earlier and a later half of N // 2 weeks each (with an odd N the
    middle week is in neither; with one week there are no halves). A week is active when the learner
    made any error or completed any attempt in it, of any pair; each half's rate is the pair's errors
    in it per active week of it, so weeks without use of the service say nothing either way. The trend
    is `worse` when the later rate exceeds the earlier one by more than TREND_MARGIN of it (any errors
    after none count as worse), `improving` when it falls below it by more than TREND_MARGIN, and
    `stable` otherwise, and also when either half has no active week or the two halves hold fewer
    than TREND_MIN_ERRORS errors of the pair: too little to tell. Attempts' scores do not weigh in:
    the exercises offered change as the learner does, so their scores over time do not measure the
    same thing; the weeks show them beside the errors.
    """
    half = len(errors) // 2
    earlier = slice(0, half)
    later = slice(len(errors) - half, len(errors))
    figures = Trend(STABLE, sum(errors[earlier]), sum(errors[later]), sum(active[earlier]), sum(active[later]))
    before, after = figures.earlier_rate, figures.later_rate
    if before is None or after is None or figures.earlier_errors + figures.later_errors < TREND_MIN_ERRORS:
        return figures
    if after > before * (1 + TREND_MARGIN):
        return replace(figures, trend=WORSE)
    if after < before * (1 - TREND_MARGIN):
        return replace(figures, trend=IMPROVING)
    return figures


@dataclass(frozen=True)
class DueExercise:
    exercise_id: UUID
    title: str
    subcategory: int
    due: datetime
    last_done: datetime


@dataclass(frozen=True)
class Progress:
    """A learner's progress over the last ISO weeks (Monday 00:00 UTC), oldest first, up to and including now's."""

    user_id: UUID
    weeks: list[datetime]
    pairs: list[dict[int, PairWeek]]  # one per week: subcategory -> its figures, for pairs with errors or attempts
    trends: dict[int, Trend] = field(default_factory=dict)  # subcategory -> trend, for every pair of the window
    due: list[DueExercise] = field(default_factory=list)

    def answer(self) -> dict:
        """Return the progress as GET /api/users/{id}/progress answers it (labels as generate-exercise prints them)."""
        return {
            "user_id": self.user_id,
            "weeks": [
                {
                    "week_start": week.date(),
                    "pairs": [
                        {
                            **pair_labels(sub),
                            "errors": figures.errors,
                            "attempts": figures.attempts,
                            "average_score": figures.average_score,
                        }
                        for sub, figures in sorted(pairs.items())
                    ],
                }
                for week, pairs in zip(self.weeks, self.pairs, strict=True)
            ],
            "trends": [
                {
                    **pair_labels(sub),
                    "trend": figures.trend,
                    "earlier_errors": figures.earlier_errors,
                    "later_errors": figures.later_errors,
                    "earlier_active_weeks": figures.earlier_active_weeks,
                    "later_active_weeks": figures.later_active_weeks,
                    "earlier_errors_per_week": _number(figures.earlier_rate),
                    "later_errors_per_week": _number(figures.later_rate),
                    "change": _number(figures.change),
                }
                for sub, figures in sorted(self.trends.items())
            ],
            "due": [
                {
                    "exercise_id": exercise.exercise_id,
                    "title": exercise.title,
                    **pair_labels(exercise.subcategory),
                    "due": exercise.due,
                    "last_done": exercise.last_done,
                }
                for exercise in self.due
            ],
        }

    def chart(self) -> dict:
        """Return the weekly totals as the admin's progress chart reads them (every pair together)."""
        totals = [
            PairWeek(
                errors=sum(p.errors for p in pairs.values()),
                attempts=sum(p.attempts for p in pairs.values()),
                scored=sum(p.scored for p in pairs.values()),
                score_sum=sum(p.score_sum for p in pairs.values()),
            )
            for pairs in self.pairs
        ]
        return {
            "weeks": [iso_week(week) for week in self.weeks],
            "week_starts": [week.date().isoformat() for week in self.weeks],
            "errors": [total.errors for total in totals],
            "attempts": [total.attempts for total in totals],
            "average_score": [total.average_score for total in totals],
        }


def _number(value: Fraction | None) -> float | None:
    return None if value is None else float(value)


def learner_progress(*, user_id: UUID, weeks: int = WEEKS, now: datetime | None = None) -> Progress:
    """Return the learner's progress over the last `weeks` ISO weeks, in two grouped queries and one for what is due.

    Errors count by when they were made, events still in the real-time buffer included (each
    once); attempts count by when they were completed, under their exercise's pair. What is due
    for review: the active exercises whose memory is due at `now` or before, the most overdue first.
    Raise UserNotFound for an unknown learner.
    """
    now = now or timezone.now()
    if not learners.exists(user_id):
        raise UserNotFound(user_id)
    first = week_start(now) - timedelta(weeks=weeks - 1)
    end = first + timedelta(weeks=weeks)
    starts = [first + timedelta(weeks=i) for i in range(weeks)]
    pairs: list[dict[int, PairWeek]] = [{} for _ in starts]

    def figures(moment: datetime, sub: int) -> PairWeek:
        return pairs[(moment - first) // timedelta(weeks=1)].setdefault(sub, PairWeek())

    # The buffer is read before PostgreSQL: an event flushed in between is then pending here and
    # stored there, and the query leaves it out, so that it counts once, from the buffer.
    pending = [p for p in _pending(user_id) if first <= buffer.from_micros(p.micros) < end]
    stored_errors = (
        Error.objects.filter(user_id=user_id, timestamp_utc__gte=first, timestamp_utc__lt=end)
        .exclude(event_id__in=[p.event_id for p in pending])
        .annotate(week=TruncWeek("timestamp_utc", tzinfo=UTC))
        .values_list("week", "errorSubCategory")
        .annotate(errors=Count("id"))
        .order_by()
    )
    for week, sub, errors in stored_errors:
        figures(week, sub).errors += errors
    for event in pending:
        figures(buffer.from_micros(event.micros), event.subcategory).errors += 1
    attempts = (
        ExerciseAttempt.objects.filter(user_id=user_id, completed_at__gte=first, completed_at__lt=end)
        .annotate(week=TruncWeek("completed_at", tzinfo=UTC))
        .values_list("week", "exercise__errorSubCategory")
        .annotate(attempts=Count("id"), scored=Count("score"), score_sum=Sum("score"))
        .order_by()
    )
    for week, sub, count, scored, score_sum in attempts:
        week_figures = figures(week, sub)
        week_figures.attempts, week_figures.scored, week_figures.score_sum = count, scored, score_sum or 0.0
    active = [bool(week) for week in pairs]
    trends = {
        sub: trend([week[sub].errors if sub in week else 0 for week in pairs], active) for sub in set().union(*pairs)
    }
    return Progress(user_id, starts, pairs, trends, due_exercises(user_id=user_id, now=now))


def _pending(user_id: UUID) -> list[buffer.PendingEvent]:
    try:
        snap = buffer.snapshot(user_id)
    except buffer.BufferUnavailable as exc:
        logger.warning("Event buffer unreachable, progress from PostgreSQL only: %s", exc)
        return []
    return [] if snap is None else snap.pending


def due_exercises(*, user_id: UUID, now: datetime) -> list[DueExercise]:
    """Return the learner's active exercises due for review at `now`, the most overdue first."""
    memories = (
        ExerciseMemory.objects.filter(user_id=user_id, due__lte=now, exercise__is_active=True)
        .order_by("due", "exercise__title", "exercise_id")
        .values_list("exercise_id", "exercise__title", "exercise__errorSubCategory", "due", "last_done")
    )
    return [DueExercise(*memory) for memory in memories]
