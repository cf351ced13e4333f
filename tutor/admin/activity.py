"""What learners did: their errors and their attempts at exercises."""

from django.contrib import admin

from tutor.models import Error, ExerciseAttempt


@admin.register(Error)
class ErrorAdmin(admin.ModelAdmin):
    list_display = ("timestamp_utc", "user", "errorCategory", "errorSubCategory")
    list_filter = ("errorCategory", "errorSubCategory")
    search_fields = ("user__username", "user__email", "event_id")
    list_select_related = ("user",)
    raw_id_fields = ("user",)
    readonly_fields = ("event_id",)
    date_hierarchy = "timestamp_utc"


@admin.register(ExerciseAttempt)
class ExerciseAttemptAdmin(admin.ModelAdmin):
    list_display = ("completed_at", "user", "exercise", "score")
    list_select_related = ("user", "exercise")
    raw_id_fields = ("user", "exercise")
    search_fields = ("user__username", "exercise__title")
