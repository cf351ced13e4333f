import django_filters

from tutor.models import Error, Exercise


class ErrorFilter(django_filters.FilterSet):
    user_id = django_filters.UUIDFilter(field_name="user_id", help_text="Only this learner's errors.")
    timestamp_utc = django_filters.IsoDateTimeFromToRangeFilter(
        help_text="Time range: timestamp_utc_after / timestamp_utc_before (ISO 8601, inclusive)."
    )

    class Meta:
        model = Error
        fields = ("user_id", "errorCategory", "errorSubCategory", "timestamp_utc")


class ExerciseFilter(django_filters.FilterSet):
    class Meta:
        model = Exercise
        fields = ("errorCategory", "errorSubCategory", "exercise_type", "level", "is_active")
