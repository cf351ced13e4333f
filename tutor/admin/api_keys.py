"""API keys of the service clients."""

from django.conf import settings
from django.contrib import admin, messages

from tutor import api_keys
from tutor.models import ApiKey


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
