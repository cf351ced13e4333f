"""Writes to the exercise bank, shared by the API and the admin so the bank cache stays true."""

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from tutor.models import Exercise
from tutor.ranking import exercise_bank_changed


def save_exercise(exercise: Exercise) -> Exercise:
    """Store a new or changed exercise and invalidate the cached bank once it is committed."""
    with transaction.atomic():
        exercise.save()
        transaction.on_commit(exercise_bank_changed)
    return exercise


def delete_exercise(exercise: Exercise) -> None:
    """Delete an exercise and invalidate the cached bank once it is committed."""
    with transaction.atomic():
        exercise.delete()
        transaction.on_commit(exercise_bank_changed)


def set_active(exercises: QuerySet[Exercise], *, active: bool) -> int:
    """Activate or deactivate exercises in bulk; return how many changed."""
    with transaction.atomic():
        changed = exercises.exclude(is_active=active).update(is_active=active, updated_at=timezone.now())
        transaction.on_commit(exercise_bank_changed)
    return changed
