"""A learner's progress as staff see it in the admin: errors per week by category, recent attempts.

Reads only. The learner's top errors and recommendation are not computed here: the admin asks
tutor.ranking, the code that answers the API, so the page shows what the API would answer now
(events still in the real-time buffer included). The weekly counts are of stored errors only:
an event waiting in the buffer joins its week at the next flush (ERROR_FLUSH_INTERVAL).
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

from django.db.models import Count
from django.db.models.functions import TruncWeek
from django.utils import timezone

from tutor.models import Error, ExerciseAttempt
from tutor.taxonomy import ErrorCategory

WEEKS = 12
RECENT_ATTEMPTS = 20


@dataclass(frozen=True)
class WeeklyErrors:
    """Errors per ISO week (Monday 00:00 UTC) and category, oldest week first; a week without errors counts 0."""

    weeks: list[datetime]
    counts: dict[int, list[int]]  # category code -> one count per week, in the order of `weeks`

    def chart(self) -> dict:
        """Return the counts as the admin's chart reads them (labels, then one series per category)."""
        return {
            "weeks": [f"{week.isocalendar().year}-W{week.isocalendar().week:02d}" for week in self.weeks],
            "week_starts": [week.date().isoformat() for week in self.weeks],
            "categories": [
                {"code": category.value, "label": category.label, "counts": self.counts[category.value]}
                for category in ErrorCategory
            ],
        }


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
