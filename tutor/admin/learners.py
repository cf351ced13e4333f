"""Learners in the admin (the learners of the API, apart from the staff accounts that sign in here)."""

from django.contrib import admin

from tutor.models import User


@admin.register(User)
class UserAdmin(admin.ModelAdmin):
    list_display = ("username", "email", "first_name", "last_name", "level", "created_at")
    list_filter = ("level",)
    search_fields = ("username", "email", "first_name", "last_name")
    readonly_fields = ("id", "created_at", "updated_at")
