"""The invalidation module: readers are told of a change once, and only once it commits."""

from contextlib import suppress

import pytest
from django.db import transaction

from tutor import buffer
from tutor.models import Error, ExerciseBankVersion
from tutor.tasks import flush_error_events


class Refused(Exception):
    pass


def version(user) -> int:
    return buffer.snapshot(user.pk).version


def test_readers_are_told_of_a_write_only_once_it_commits(user, make_error, committed):
    before = version(user)
    with committed():
        make_error(user=user)
        assert version(user) == before  # not yet committed: a reader could still load the old rows
    assert version(user) > before


def test_many_writes_in_one_transaction_are_announced_once(user, make_error, committed):
    make_error.create_batch(300, user=user)
    before = version(user)
    with committed():
        Error.objects.filter(user=user).delete()  # a post_delete signal per row
    assert version(user) == before + 1


def test_a_write_after_one_rolled_back_is_still_announced(user, make_error, committed):
    before = version(user)
    with committed():
        with suppress(Refused), transaction.atomic():
            make_error(user=user)
            raise Refused
        assert version(user) == before
        make_error(user=user)
    assert version(user) == before + 1


def test_a_change_to_the_bank_replaces_its_version_in_the_same_transaction(make_exercise, committed):
    before = ExerciseBankVersion.current()
    with committed():
        make_exercise()
        during = ExerciseBankVersion.current()
        assert buffer.bank_version() != during  # the buffer hears of it on commit
    assert during != before
    assert buffer.bank_version() == during


@pytest.mark.django_db(transaction=True)
def test_a_learner_deleted_with_thousands_of_errors_is_announced_in_one_step(make_error):
    learner = make_error().user
    Error.objects.bulk_create([Error(user=learner, errorCategory=1, errorSubCategory=3) for _ in range(5000)])
    learner_id, before = learner.pk, version(learner)
    learner.delete()  # cascades: a post_delete per error, in one transaction
    assert buffer.snapshot(learner_id).version == before + 1


def test_a_bank_version_the_buffer_lost_is_set_again_by_the_next_flush(make_exercise, committed):
    with committed():
        make_exercise()
    flush_error_events()  # a running pipeline
    buffer.bank_changed("a version from before a restart of the buffer")  # or a change it never heard of

    flush_error_events()

    assert buffer.bank_version() == ExerciseBankVersion.current()
