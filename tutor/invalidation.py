"""Keeping every cache true: the one place every write reaches, whatever door it comes through.

What readers keep, and what makes it untrue:
- A learner's kept ranking state and last answer (in the buffer) hold while the learner's version
  there holds; the shared cache holds the learner's level and attempts. Both go when the
  learner's errors, attempts or level change, or the learner is deleted (`learners_changed`).
- Each process holds the active exercise bank under the bank's version. The version is replaced
  in PostgreSQL in the same transaction as the change, and in the buffer once it commits
  (`exercise_bank_changed`).

How writes reach this module:
- Model signals (post_save, post_delete) of Error, ExerciseAttempt, User and Exercise: the API,
  the admin, the services, management commands (loaddata) and the shell all save through them.
- Explicit calls where a write bypasses the signals: bulk writes (`QuerySet.update`,
  `bulk_create`) call `learners_changed` or `exercise_bank_changed` themselves.
- The flush is the one write that does not come here: its acknowledgement script bumps the
  versions of the learners it stored in the same step that removes their pending events
  (buffer.ack), which is what keeps a reader from counting an event twice or not at all.

Everything a reader could see runs on commit (transaction.on_commit): a reader that dropped its
state before the commit would reload the old rows and keep them. A learner whose version the
buffer could not take (it was unreachable) is recorded in PostgreSQL, and the next flush bumps it
(`announce_owed`), so a process that lost the buffer for a while never serves state from before.
"""

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from uuid import UUID

import redis
from django.core.cache import cache
from django.db import DatabaseError, connection, transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.utils import timezone

from tutor import buffer, learners
from tutor.models import Error, Exercise, ExerciseAttempt, ExerciseBankVersion, UnannouncedChange, User

logger = logging.getLogger(__name__)


@dataclass
class _Changes:
    """What this connection's writes changed and readers have not been told yet."""

    learners: set[UUID] = field(default_factory=set)
    deleted: set[UUID] = field(default_factory=set)
    bank_version: str | None = None


def _pending() -> _Changes:
    if getattr(connection, "_tutor_changes", None) is None:
        connection._tutor_changes = _Changes()
    return connection._tutor_changes


def _announce() -> None:
    """Tell readers everything written so far (run on commit; outside a transaction, at once).

    Every write registers this; the first to run after a commit tells everything, the others
    find nothing left. A write rolled back may still be told with the next commit: readers then
    reload what had not changed, which costs a read and is never wrong.
    """
    changes, connection._tutor_changes = _pending(), None
    # The write has committed: a failure here must not turn its answer into an error.
    try:
        if changes.learners:
            _announce_learners(changes.learners, changes.deleted)
        if changes.bank_version is not None:
            _announce_bank(changes.bank_version)
    except (DatabaseError, redis.RedisError, buffer.BufferUnavailable, buffer.BufferFull):
        logger.exception("A committed change could not be announced to readers")


def learners_changed(user_ids: Iterable[UUID], *, deleted: bool = False) -> None:
    """Make readers drop what they keep of these learners, once the current transaction commits."""
    user_ids = set(user_ids)
    if user_ids:
        changes = _pending()
        changes.learners |= user_ids
        if deleted:
            changes.deleted |= user_ids
        transaction.on_commit(_announce)


def exercise_bank_changed() -> None:
    """Give the bank a new version in the current transaction; readers load the bank afresh once it commits."""
    _pending().bank_version = ExerciseBankVersion.replace()
    transaction.on_commit(_announce)


def _announce_learners(user_ids: set[UUID], deleted: set[UUID]) -> None:
    cache.delete_many([key for u in user_ids for key in (learners.level_key(u), learners.practice_key(u))])
    learners.forget(deleted)
    untold = buffer.bump_versions(user_ids - deleted) | buffer.bump_versions(deleted, deleted=True)
    if owed := untold - deleted:
        _owe(owed)


def _owe(user_ids: set[UUID]) -> None:
    """Record learners whose change the buffer has not heard of; the next flush tells it."""
    # In one order, so that two processes recording the same learners never deadlock.
    UnannouncedChange.objects.bulk_create(
        [UnannouncedChange(user_id=user_id, changed_at=timezone.now()) for user_id in sorted(user_ids)],
        update_conflicts=True,
        unique_fields=["user"],
        update_fields=["changed_at"],
    )


def _announce_bank(version: str) -> None:
    try:
        buffer.bank_changed(version)
    except (buffer.BufferUnavailable, buffer.BufferFull, redis.RedisError) as exc:
        logger.error("The exercise bank changed but the buffer could not be told; the next flush tells it: %s", exc)


def announce_owed() -> int:
    """Tell the buffer of changes it missed while unreachable (run by the flush); return how many learners.

    What a node still down (or full) cannot take now waits for the next flush; the rest is told.
    """
    bank_version = ExerciseBankVersion.current()
    try:
        # Also true after the buffer (or a node) restarted: it then holds a version of its own until this runs.
        if buffer.bank_version() != bank_version:
            buffer.bank_changed(bank_version)
    except (buffer.BufferFull, buffer.BufferUnavailable) as exc:
        logger.warning("The exercise bank's version waits for the buffer to answer and have room: %s", exc)
    owed = dict(UnannouncedChange.objects.values_list("user_id", "changed_at")[:10_000])
    if not owed:
        return 0
    untold = buffer.bump_versions(owed)
    # Only the rows read here: a change recorded since then is announced by the next flush.
    told = {user_id: changed_at for user_id, changed_at in owed.items() if user_id not in untold}
    for user_id, changed_at in told.items():
        UnannouncedChange.objects.filter(user_id=user_id, changed_at=changed_at).delete()
    return len(told)


@receiver(post_save, sender=Error)
@receiver(post_delete, sender=Error)
@receiver(post_save, sender=ExerciseAttempt)
@receiver(post_delete, sender=ExerciseAttempt)
@receiver(post_save, sender=User)
def _learner_row_changed(sender, instance, **kwargs) -> None:
    learners_changed([instance.pk if sender is User else instance.user_id])


@receiver(post_delete, sender=User)
def _learner_deleted(sender, instance, **kwargs) -> None:
    learners_changed([instance.pk], deleted=True)


@receiver(post_save, sender=Exercise)
@receiver(post_delete, sender=Exercise)
def _exercise_changed(sender, instance, **kwargs) -> None:
    exercise_bank_changed()
