"""Recordings of pronunciation items: the `Recording` rows are the source, the content's `audio` lists follow.

Rules, whatever door a recording comes through (the admin, the shell, a command):
- Saving or deleting a recording rewrites the `audio` list of every item of its exercise from the
  exercise's recordings, `[{"accent": "GB", "url": "..."}]` in the order of ACCENTS, and saves the
  exercise: its post_save reaches tutor.invalidation, so the next recommendation carries the new URL.
- The exercise's row is locked while its lists are rewritten, so that two uploads to one exercise
  never lose each other's entry.
- A file is removed from storage once the change that dropped it commits: a replaced file, a deleted
  recording's, and every recording's of a deleted exercise. A rolled-back change keeps its files.
"""

import copy

from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import QuerySet
from django.db.models.signals import post_delete, post_save, pre_save
from django.dispatch import receiver

from tutor.exercise_content import ACCENTS, items_of
from tutor.models import Exercise, Recording


def pronunciation_items(content: object) -> list[tuple[str, str]]:
    """Return (item id, what a curator reads of it) for every item of a content that takes recordings."""
    return [(item["id"], f"{item['id']}: {_words(path, item)}") for path, item in items_of(content) if "audio" in item]


def _words(path: str, item: dict) -> str:
    step = path.split("[", 1)[0]
    if "words" in item:
        return f"{step}, {' / '.join(item['words'])}"
    if "options" in item:
        return f"{step}, {' or '.join(item['options'])} (answer: {item.get('answer', '')})"
    return f"{step}, {item.get('text', '')}" if step != "items" else item.get("text", "")


def with_recordings(content: dict, urls: dict[tuple[str, str], str]) -> dict:
    """Return a copy of `content` whose audio lists hold exactly the URLs in `urls`, by (item id, accent)."""
    content = copy.deepcopy(content)
    for _, item in items_of(content):
        if "audio" in item:
            item["audio"] = [
                {"accent": accent, "url": urls[item.get("id"), accent]}
                for accent in ACCENTS
                if (item.get("id"), accent) in urls
            ]
    return content


def recording_urls(exercise: Exercise) -> dict[tuple[str, str], str]:
    """Return the URL of each recording of the exercise, by (item id, accent)."""
    return {(r.item_id, r.accent): r.file.url for r in Recording.objects.filter(exercise_id=exercise.pk)}


@transaction.atomic
def write_audio_lists(exercise: Exercise) -> None:
    """Rewrite the audio lists of `exercise`'s content from its recordings, through the exercise's save."""
    locked = Exercise.objects.select_for_update().filter(pk=exercise.pk).values_list("content", flat=True).first()
    if locked is None:
        return
    content = with_recordings(locked, recording_urls(exercise))
    if content != exercise.content or content != locked:
        exercise.content = content
        exercise.save(update_fields=["content", "updated_at"])


def _remove_on_commit(name: str) -> None:
    transaction.on_commit(lambda: default_storage.delete(name))


@receiver(pre_save, sender=Recording)
def _file_replaced(sender, instance: Recording, raw: bool = False, **kwargs) -> None:
    if raw or instance.pk is None:
        return
    before = Recording.objects.filter(pk=instance.pk).values_list("file", flat=True).first()
    if before and before != instance.file.name:
        _remove_on_commit(before)


@receiver(post_save, sender=Recording)
def _recording_saved(sender, instance: Recording, raw: bool = False, **kwargs) -> None:
    if not raw:
        write_audio_lists(instance.exercise)


@receiver(post_delete, sender=Recording)
def _recording_deleted(sender, instance: Recording, origin=None, **kwargs) -> None:
    _remove_on_commit(instance.file.name)
    # Deleted with its exercise: nothing is left to rewrite.
    if isinstance(origin, Exercise) or (isinstance(origin, QuerySet) and origin.model is Exercise):
        return
    write_audio_lists(instance.exercise)
