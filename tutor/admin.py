from django.contrib import admin, messages

from tutor import curation, ingest, learners
from tutor.models import Error, Exercise, ExerciseAttempt, User


@admin.register(Exercise)
class ExerciseAdmin(admin.ModelAdmin):
    list_display = ("title", "errorCategory", "errorSubCategory", "exercise_type", "level", "is_active", "updated_at")
    list_filter = ("errorCategory", "errorSubCategory", "exercise_type", "level", "is_active")
    search_fields = ("title", "instructions")
    ordering = ("errorSubCategory", "level", "title")
    readonly_fields = ("id", "created_at", "updated_at")
    actions = ("activate", "deactivate")

    def save_model(self, request, obj, form, change):
        curation.save_exercise(obj)

    def delete_model(self, request, obj):
        curation.delete_exercise(obj)

    def delete_queryset(self, request, queryset):
        for exercise in queryset:
            curation.delete_exercise(exercise)

    @admin.action(description="Activate selected exercises")
    def activate(self, request, queryset):
        changed = curation.set_active(queryset, active=True)
        self.message_user(request, f"{changed} exercise(s) activated.", messages.SUCCESS)

    @admin.action(description="Deactivate selected exercises")
    def deactivate(self, request, queryset):
        changed = curation.set_active(queryset, active=False)
        self.message_user(request, f"{changed} exercise(s) deactivated.", messages.SUCCESS)


@admin.register(User)
class UserAdmin(admin.ModelAdmin):
    list_display = ("username", "email", "first_name", "last_name", "level", "created_at")
    list_filter = ("level",)
    search_fields = ("username", "email", "first_name", "last_name")
    readonly_fields = ("id", "created_at", "updated_at")

    # Through learners, so that the cached level and existence follow the change at once.
    def save_model(self, request, obj, form, change):
        learners.save_user(obj)

    def delete_model(self, request, obj):
        learners.delete_user(obj)

    def delete_queryset(self, request, queryset):
        for user in queryset:
            learners.delete_user(user)


@admin.register(Error)
class ErrorAdmin(admin.ModelAdmin):
    list_display = ("timestamp_utc", "user", "errorCategory", "errorSubCategory")
    list_filter = ("errorCategory", "errorSubCategory")
    search_fields = ("user__username", "user__email", "event_id")
    list_select_related = ("user",)
    raw_id_fields = ("user",)
    readonly_fields = ("event_id",)
    date_hierarchy = "timestamp_utc"

    # Through ingest, so that the learner's cached counts follow the change at once.
    def save_model(self, request, obj, form, change):
        ingest.save_error(obj)

    def delete_model(self, request, obj):
        ingest.delete_error(obj)

    def delete_queryset(self, request, queryset):
        for error in queryset:
            ingest.delete_error(error)


@admin.register(ExerciseAttempt)
class ExerciseAttemptAdmin(admin.ModelAdmin):
    list_display = ("completed_at", "user", "exercise", "score")
    list_select_related = ("user", "exercise")
    raw_id_fields = ("user", "exercise")
    search_fields = ("user__username", "exercise__title")
