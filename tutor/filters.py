import django_filters

from tutor.fields import UTCDateTimeFormField
from tutor.models import Error, Exercise, ExerciseAttempt


class UTCDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UTCDateTimeFormField


class ErrorFilter(django_filters.FilterSet):
    user_id = django_filters.UUIDFilter(field_name="user_id", help_text="Only this learner's errors.")
    timestamp_utc_after = UTCDateTimeFilter(
        field_name="timestamp_utc", lookup_expr="gte", help_text="Errors at or after this time (ISO 8601)."
    )
    timestamp_utc_before = UTCDateTimeFilter(
        field_name="timestamp_utc", lookup_expr="lte", help_text="Errors at or before this time (ISO 8601)."
    )

    class Meta:
        model = Error
        fields = ("user_id", "errorCategory", "errorSubCategory", "timestamp_utc_after", "timestamp_utc_before")


class ExerciseFilter(django_filters.FilterSet):
    class Meta:
        model = Exercise
        fields = ("errorCategory", "errorSubCategory", "exercise_type", "level", "is_active")


class ExerciseAttemptFilter(django_filters.FilterSet):
    user_id = django_filters.UUIDFilter(field_name="user_id", help_text="Only this learner's attempts.")
    exercise_id = django_filters.UUIDFilter(field_name="exercise_id", help_text="Only attempts of this exercise.")

    class Meta:
        model = ExerciseAttempt
        fields = ("user_id", "exercise_id")
