"""The exercise bank in the admin: the curators' workbench."""

from django.contrib import admin, messages

from tutor import curation
from tutor.admin.content_editing import ContentEditingAdmin
from tutor.admin.coverage import ExerciseCoverageMixin
from tutor.admin.exercise_files import ExerciseFilesMixin
from tutor.admin.exercise_history import ExerciseHistoryAdmin
from tutor.admin.performance import ExercisePerformanceMixin
from tutor.admin.recordings import RecordingsMixin
from tutor.exercise_content import recordings_summary
from tutor.models import Exercise


@admin.register(Exercise)
class ExerciseAdmin(
    ContentEditingAdmin,
    RecordingsMixin,
    ExerciseCoverageMixin,
    ExercisePerformanceMixin,
    ExerciseFilesMixin,
    ExerciseHistoryAdmin,
):
    # The list's own links (coverage, most failed first); import and export build on it.
    change_list_template = "admin/tutor/exercise/change_list.html"
    list_display = (
        "title",
        "errorCategory",
        "errorSubCategory",
        "exercise_type",
        "level",
        "is_active",
        "recordings",
        "updated_at",
    )
    list_filter = ("errorCategory", "errorSubCategory", "exercise_type", "level", "is_active")
    search_fields = ("title", "instructions")
    ordering = ("errorSubCategory", "level", "title")
    readonly_fields = ("id", "recordings", "created_at", "updated_at")
    actions = ("activate", "deactivate", "duplicate")

    @admin.display(description="Recordings")
    def recordings(self, exercise: Exercise) -> str:
        """Pronunciation items say whether a person recorded them; no synthetic voice stands in."""
        return recordings_summary(exercise.content) or "-"

    @admin.action(description="Activate selected exercises")
    def activate(self, request, queryset):
        changed = curation.set_active(queryset, active=True, user=request.user)
        self.message_user(request, f"{changed} exercise(s) activated.", messages.SUCCESS)

    @admin.action(description="Deactivate selected exercises")
    def deactivate(self, request, queryset):
        changed = curation.set_active(queryset, active=False, user=request.user)
        self.message_user(request, f"{changed} exercise(s) deactivated.", messages.SUCCESS)

    @admin.action(description="Duplicate selected exercises (the copies start inactive)")
    def duplicate(self, request, queryset):
        copies = curation.duplicate(queryset, user=request.user)
        self.message_user(
            request,
            f"{len(copies)} copy(ies) made, each inactive with new item ids and a title ending in (copy): "
            "learners are not served a copy until you edit it and activate it.",
            messages.SUCCESS,
        )
