"""Writes to the exercise bank that bypass model signals, and so keep the caches true themselves."""

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from tutor import invalidation
from tutor.models import Exercise


def set_active(exercises: QuerySet[Exercise], *, active: bool) -> int:
    """Activate or deactivate exercises in bulk; return how many changed."""
    with transaction.atomic():
        changed = exercises.exclude(is_active=active).update(is_active=active, updated_at=timezone.now())
        if changed:
            invalidation.exercise_bank_changed()  # QuerySet.update sends no signal
    return changed
