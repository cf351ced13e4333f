"""Writes to the exercise bank that bypass model signals, and so keep the caches true and record versions themselves."""

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from simple_history.utils import bulk_update_with_history

from tutor import invalidation
from tutor.models import Exercise


def set_active(exercises: QuerySet[Exercise], *, active: bool, user=None) -> int:
    """Activate or deactivate exercises in bulk, each change kept as a version; return how many changed."""
    with transaction.atomic():
        changing = list(exercises.exclude(is_active=active).select_for_update())
        now = timezone.now()
        for exercise in changing:
            exercise.is_active, exercise.updated_at = active, now
        if changing:
            bulk_update_with_history(
                changing,
                Exercise,
                ["is_active", "updated_at"],
                default_user=user,
                default_change_reason="Activated" if active else "Deactivated",
            )
            invalidation.exercise_bank_changed()  # bulk_update sends no signal
    return len(changing)
