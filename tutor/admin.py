from django.conf import settings
from django.contrib import admin, messages

from tutor import api_keys, curation
from tutor.exercise_content import recordings_summary
from tutor.models import ApiKey, Error, Exercise, ExerciseAttempt, User


@admin.register(Exercise)
class ExerciseAdmin(admin.ModelAdmin):
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
    actions = ("activate", "deactivate")

    @admin.display(description="Recordings")
    def recordings(self, exercise: Exercise) -> str:
        """Pronunciation items say whether a person recorded them; no synthetic voice stands in."""
        return recordings_summary(exercise.content) or "-"

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


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    """API keys: made here (the key shows once, in a message), then listed by prefix and revoked, never changed."""

    list_display = ("name", "client", "prefix", "created_at", "expires_at", "revoked_at")
    list_filter = (("revoked_at", admin.EmptyFieldListFilter),)
    list_select_related = ("client",)
    search_fields = ("name", "prefix", "client__username")
    actions = ("revoke",)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("client", "name", "expires_at")
        return ("client", "name", "prefix", "created_at", "expires_at", "revoked_at")

    def has_change_permission(self, request, obj=None):
        # A key is made, then revoked (the list's action): its page only shows it.
        return obj is None and super().has_change_permission(request)

    def save_model(self, request, obj, form, change):
        key = api_keys.issue(api_key=obj)
        self.message_user(
            request,
            f"The new key of “{obj.name}” is {key} — copy it now: it is not shown again, only its prefix.",
            messages.WARNING,
        )

    @admin.action(description="Revoke selected API keys", permissions=["change"])
    def revoke(self, request, queryset):
        revoked = api_keys.revoke(api_keys=queryset)
        self.message_user(
            request,
            f"{revoked} key(s) revoked: they stop working within {settings.TOKEN_CACHE_SECONDS} s.",
            messages.SUCCESS,
        )
