"""How exercises do with learners, in the exercise list (sortable columns, a filter) and on the change page."""

from django.contrib import admin
from django.contrib.admin.utils import display_for_value
from django.contrib.admin.views.main import ORDER_VAR

from tutor.exercise_performance import FAIL_BELOW, FLAG_MARGIN, FLAG_MIN_SCORED_ATTEMPTS, NullsLast, with_performance
from tutor.models import Exercise

PERFORMANCE_FIELDS = ("attempt_count", "learner_count", "average_score", "fail_share", "last_done", "fails_far_more")
FLAG_RULE = (
    f"At least {FLAG_MIN_SCORED_ATTEMPTS} scored attempts, and the share of them below {FAIL_BELOW} at least "
    f"{FLAG_MARGIN * 100:.0f} percentage points above the share of all scored attempts at its level."
)


class FailsFarMoreFilter(admin.SimpleListFilter):
    title = "fails far more than its level"
    parameter_name = "fails_far_more"

    def lookups(self, request, model_admin):
        return (("yes", "Yes"), ("no", "No"))

    def queryset(self, request, queryset):
        if self.value() in ("yes", "no"):
            return queryset.filter(fails_far_more=self.value() == "yes")
        return queryset


class ExercisePerformanceMixin:
    """Adds to an exercise ModelAdmin the figures of `tutor.exercise_performance`, read in the list's own query."""

    def get_queryset(self, request):
        return with_performance(super().get_queryset(request))

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)
        changelist = getattr(response, "context_data", {}).get("cl")
        if changelist is not None:
            # The list's own columns number the sort parameter, so the link follows whatever columns precede.
            column = changelist.list_display.index("fail_share")
            response.context_data["most_failed_url"] = changelist.get_query_string({ORDER_VAR: f"-{column}"})
        return response

    def get_list_display(self, request):
        return (*super().get_list_display(request), *PERFORMANCE_FIELDS)

    def get_list_filter(self, request):
        return (*super().get_list_filter(request), FailsFarMoreFilter)

    def get_readonly_fields(self, request, obj=None):
        return (*super().get_readonly_fields(request, obj), *PERFORMANCE_FIELDS)

    def get_fields(self, request, obj=None):
        return [field for field in super().get_fields(request, obj) if field not in PERFORMANCE_FIELDS]

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None:
            return fieldsets
        return [*fieldsets, ("How learners do", {"fields": PERFORMANCE_FIELDS, "description": FLAG_RULE})]

    @admin.display(description="Attempts", ordering="attempt_count")
    def attempt_count(self, exercise: Exercise) -> int:
        return exercise.attempt_count

    @admin.display(description="Learners", ordering="learner_count")
    def learner_count(self, exercise: Exercise) -> int:
        return exercise.learner_count

    @admin.display(description="Average score", ordering=NullsLast("average_score"))
    def average_score(self, exercise: Exercise) -> str | None:
        return None if exercise.average_score is None else f"{exercise.average_score:.2f}"

    @admin.display(description=f"Below {FAIL_BELOW}", ordering=NullsLast("fail_share"))
    def fail_share(self, exercise: Exercise) -> str | None:
        """The share of scored attempts below FAIL_BELOW, and of how many."""
        if exercise.fail_share is None:
            return None
        return f"{exercise.fail_share:.0%} of {exercise.scored_count}"

    @admin.display(description="Last done", ordering=NullsLast("last_done"))
    def last_done(self, exercise: Exercise) -> str | None:
        return None if exercise.last_done is None else display_for_value(exercise.last_done, "")

    @admin.display(description="Fails far more", ordering="fails_far_more", boolean=True)
    def fails_far_more(self, exercise: Exercise) -> bool:
        return exercise.fails_far_more
