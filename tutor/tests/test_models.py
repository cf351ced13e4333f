import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError

from tutor.models import Error, Exercise

pytestmark = pytest.mark.django_db


def test_the_database_refuses_an_error_with_a_mismatched_pair(user):
    with pytest.raises(IntegrityError):
        Error.objects.create(user=user, errorCategory=1, errorSubCategory=9)


def test_the_database_refuses_an_exercise_with_a_mismatched_pair(make_exercise):
    with pytest.raises(IntegrityError):
        make_exercise(errorCategory=4, errorSubCategory=3)


def test_model_validation_names_the_pair_rule(user):
    error = Error(user=user, errorCategory=2, errorSubCategory=3)
    with pytest.raises(ValidationError) as caught:
        error.full_clean()
    assert "belongs to errorCategory 1 (Grammar)" in str(caught.value.message_dict["errorSubCategory"])


def test_model_validation_checks_exercise_content_for_its_type(make_exercise):
    exercise = make_exercise.build(exercise_type="multiple_choice", content={"items": [{"question": "?"}]})
    with pytest.raises(ValidationError) as caught:
        exercise.full_clean()
    assert any("'options' is a required property" in m for m in caught.value.message_dict["content"])


def test_error_event_ids_are_unique(user):
    first = Error.objects.create(user=user, errorCategory=1, errorSubCategory=1)
    with pytest.raises(IntegrityError):
        Error.objects.create(user=user, errorCategory=1, errorSubCategory=1, event_id=first.event_id)


def test_a_valid_exercise_passes_model_validation(make_exercise):
    make_exercise.build().full_clean()
    assert Exercise.objects.count() == 0
