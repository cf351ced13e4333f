"""Writes to the exercise bank that bypass model signals, and so keep the caches true and record versions themselves."""

import copy
import re

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from simple_history.utils import bulk_create_with_history, bulk_update_with_history

from tutor import invalidation
from tutor.exercise_content import ITEM_ID_MAX_LENGTH, items_of
from tutor.models import Exercise
from tutor.recordings import with_recordings

_TITLE_LENGTH = Exercise._meta.get_field("title").max_length


def set_active(exercises: QuerySet[Exercise], *, active: bool, user=None) -> int:
    """Activate or deactivate exercises in bulk, each change kept as a version; return how many changed."""
    with transaction.atomic():
        # By primary key: the admin's list may hand over a queryset grouped for its figures, which cannot lock.
        chosen = list(exercises.values_list("pk", flat=True))
        changing = list(Exercise.objects.filter(pk__in=chosen).exclude(is_active=active).select_for_update())
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


def duplicate(exercises: QuerySet[Exercise], *, user=None) -> list[Exercise]:
    """Copy exercises, inactive, with new ids, new item ids and a title marked as a copy; return the copies.

    A copy starts inactive so that learners are not served the same exercise twice until a
    curator has made it different. Item ids stay unique in the bank: `<id>-copy`, else
    `<id>-copy2`, `-copy3`...; titles likewise: `<title> (copy)`, else `(copy 2)`...
    """
    with transaction.atomic():
        taken_ids = set(Exercise.item_ids_in_bank())
        taken_titles = set(Exercise.objects.values_list("title", flat=True))
        now = timezone.now()
        copies = []
        for original in exercises.order_by("errorSubCategory", "level", "title"):
            # A copy has no recordings of its own: the original's files go when the original's do.
            content = with_recordings(_with_new_item_ids(original.content, taken_ids), {})
            base_title = re.sub(r" \(copy(?: \d+)?\)$", "", original.title)
            title = _free(base_title, taken_titles, " (copy)", " (copy {n})", _TITLE_LENGTH)
            twin = Exercise(
                title=title,
                errorCategory=original.errorCategory,
                errorSubCategory=original.errorSubCategory,
                exercise_type=original.exercise_type,
                level=original.level,
                instructions=original.instructions,
                content=content,
                is_active=False,
                created_at=now,
                updated_at=now,
            )
            twin._change_reason = f"Copied from {original.title!r} ({original.pk})"
            copies.append(twin)
        if copies:
            bulk_create_with_history(copies, Exercise, default_user=user)
            invalidation.exercise_bank_changed()  # bulk_create sends no signal
    return copies


def _with_new_item_ids(content: dict, taken: set[str]) -> dict:
    """Return a deep copy of content whose items have ids no exercise uses (and add them to `taken`)."""
    copied = copy.deepcopy(content)
    for _, item in items_of(copied):
        if isinstance(item.get("id"), str):
            item["id"] = _free(re.sub(r"-copy\d*$", "", item["id"]), taken, "-copy", "-copy{n}", ITEM_ID_MAX_LENGTH)
    return copied


def _free(base: str, taken: set[str], first: str, next_: str, length: int) -> str:
    """Return base with the first suffix that makes it unused, cut to `length`; mark it as taken."""
    n = 1
    while True:
        suffix = first if n == 1 else next_.format(n=n)
        candidate = base[: length - len(suffix)] + suffix
        if candidate not in taken:
            taken.add(candidate)
            return candidate
        n += 1
