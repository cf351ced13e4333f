import django_filters

from tutor.fields import BooleanFormField, UTCDateTimeFormField, UUIDFormField
from tutor.models import Error, Exercise, ExerciseAttempt


class UTCDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UTCDateTimeFormField


class UUIDFilter(django_filters.UUIDFilter):
    field_class = UUIDFormField


class BooleanFilter(django_filters.BooleanFilter):
    field_class = BooleanFormField


class StrictFilterSet(django_filters.FilterSet):
    """Filters whose parameters, when given, hold a value of their type: an empty value is a 400, not ignored."""

    def is_valid(self):
        valid = super().is_valid()
        empty = [name for name in self.filters if self.data.get(name) == ""]
        for name in empty:
            self.form.add_error(name, f"Send a value for {name}, or leave the parameter out.")
        return valid and not empty


class ErrorFilter(StrictFilterSet):
    user_id = UUIDFilter(field_name="user_id", help_text="Only this learner's errors.")
    timestamp_utc_after = UTCDateTimeFilter(
        field_name="timestamp_utc", lookup_expr="gte", help_text="Errors at or after this time (ISO 8601)."
    )
    timestamp_utc_before = UTCDateTimeFilter(
        field_name="timestamp_utc", lookup_expr="lte", help_text="Errors at or before this time (ISO 8601)."
    )

    class Meta:
        model = Error
        fields = ("user_id", "errorCategory", "errorSubCategory", "timestamp_utc_after", "timestamp_utc_before")


class ExerciseFilter(StrictFilterSet):
    is_active = BooleanFilter(help_text="true: only active exercises; false: only inactive ones.")

    class Meta:
        model = Exercise
        fields = ("errorCategory", "errorSubCategory", "exercise_type", "level", "is_active")


class ExerciseAttemptFilter(StrictFilterSet):
    user_id = UUIDFilter(field_name="user_id", help_text="Only this learner's attempts.")
    exercise_id = UUIDFilter(field_name="exercise_id", help_text="Only attempts of this exercise.")

    class Meta:
        model = ExerciseAttempt
        fields = ("user_id", "exercise_id")
