"""The active exercise bank as readers use it: each process loads it once per version of the bank."""

import time
from collections import defaultdict

from django.conf import settings

from tutor.models import Exercise, ExerciseBankVersion

EXERCISE_FIELDS = ("id", "title", "exercise_type", "level", "instructions", "content")

_held: tuple[str, float, dict[int, list[dict]]] = ("", 0.0, {})


def active_by_subcategory(version: str | None = None) -> dict[int, list[dict]]:
    """Return the active exercises by subcategory, in recommendation order, for the bank's current version.

    The version comes from the buffer's snapshot or, without a buffer, from PostgreSQL (one read
    by primary key), so that no process serves a bank another process has changed. Each process
    loads the bank once per version, and again after CACHE_TIMEOUT.
    """
    global _held
    # The version is read before the bank: a bank loaded while a curator's change commits is
    # held under the old version, which nobody asks for once the change has replaced it.
    if version is None:
        version = ExerciseBankVersion.current()
    held, loaded_at, bank = _held
    if held == version and time.monotonic() - loaded_at < settings.CACHE_TIMEOUT:
        return bank
    bank = defaultdict(list)
    for exercise in Exercise.objects.filter(is_active=True).order_by("errorSubCategory", "level", "title", "id"):
        bank[exercise.errorSubCategory].append({field: getattr(exercise, field) for field in EXERCISE_FIELDS})
    _held = (version, time.monotonic(), dict(bank))
    return _held[2]
