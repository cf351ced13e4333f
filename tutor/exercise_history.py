"""Versions of exercises: what changed between two, and restoring an earlier one.

django-simple-history keeps a version of an exercise at every save and delete (`Exercise.history`),
whatever the door: the admin, the API, an import, the shell. The doors that write in bulk record
their versions themselves (tutor.curation), and a fixture (`loaddata`, `seed_demo`), which Django
saves raw without the usual signal, gets a version here. Each version names who made it (the
signed-in user or API client, through simple-history's middleware) and, where the door knows it,
why (an import names its file and row, a restore the version it brought back).

Restoring saves the earlier version's fields as the current exercise through the model's save,
with the audio lists of the recordings it has now (a version's may name files since replaced or
deleted), after the same validation as any other write: the caches are kept true by the signals and the
restore is itself a new version, so that it can be undone in turn.
"""

import difflib
import html
import json
from dataclasses import dataclass

from django.db import transaction
from django.db.models.signals import post_save
from django.dispatch import receiver

from tutor.models import Exercise
from tutor.recordings import recording_urls, with_recordings

HistoricalExercise = Exercise.history.model

# What a curator writes (compared, restored, imported); the id and the times are not written by hand.
CURATED_FIELDS = (
    "title",
    "errorCategory",
    "errorSubCategory",
    "exercise_type",
    "level",
    "is_active",
    "instructions",
    "content",
)


@dataclass(frozen=True)
class FieldComparison:
    """One field of two versions side by side."""

    name: str
    label: str
    older: str
    newer: str
    changed: bool
    # Content only: a side-by-side diff of the pretty-printed JSON, as an HTML table (escaped).
    diff_table: str = ""


def compare(older: HistoricalExercise, newer: HistoricalExercise) -> list[FieldComparison]:
    """Return each field of two versions of an exercise, saying which changed."""
    comparisons = []
    for name in CURATED_FIELDS:
        field = Exercise._meta.get_field(name)
        old, new = getattr(older, name), getattr(newer, name)
        if name == "content":
            old_text, new_text = _pretty(old), _pretty(new)
            diff_table = difflib.HtmlDiff(wrapcolumn=60).make_table(
                old_text.splitlines(),
                new_text.splitlines(),
                fromdesc=html.escape(version_label(older)),
                todesc=html.escape(version_label(newer)),
                context=True,
                numlines=3,
            )
            comparisons.append(FieldComparison(name, field.verbose_name, old_text, new_text, old != new, diff_table))
        else:
            comparisons.append(
                FieldComparison(name, field.verbose_name, _shown(field, old), _shown(field, new), old != new)
            )
    return comparisons


def restore(version: HistoricalExercise, *, user=None) -> Exercise:
    """Make an earlier version the current exercise (a new version); raise ValidationError if it no longer fits.

    An earlier version may no longer fit the bank: another exercise may have taken one of its item
    ids since, or the schema may have changed. It is then refused as the admin would refuse it.
    """
    with transaction.atomic():
        exercise = Exercise.objects.select_for_update().filter(pk=version.id).first() or version.instance
        for name in CURATED_FIELDS:
            setattr(exercise, name, getattr(version, name))
        exercise.content = with_recordings(exercise.content, recording_urls(exercise))
        exercise.full_clean()
        exercise._change_reason = f"Restored the version of {version.history_date:%Y-%m-%d %H:%M:%S} (#{version.pk})"
        if user is not None:
            exercise._history_user = user
        exercise.save()
    return exercise


def version_label(version: HistoricalExercise) -> str:
    """Name a version for a curator: its number, time, kind and author."""
    author = version.history_user or "nobody signed in"
    return (
        f"#{version.pk}, {version.history_date:%Y-%m-%d %H:%M:%S} UTC, "
        f"{version.get_history_type_display().lower()} by {author}"
    )


def _pretty(content: object) -> str:
    return json.dumps(content, ensure_ascii=False, indent=2, sort_keys=True)


def _shown(field, value) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    label = dict(field.flatchoices).get(value) if field.choices else None
    return f"{value} ({label})" if label and label != value else str(value)


@receiver(post_save, sender=Exercise)
def _fixture_loaded(sender, instance, created, raw=False, **kwargs) -> None:
    """Keep a version of an exercise a fixture wrote: simple-history skips raw saves."""
    if raw:
        Exercise.history.bulk_history_create(
            [instance], update=not created, default_change_reason="Loaded from a fixture"
        )
