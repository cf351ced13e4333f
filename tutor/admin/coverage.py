"""The bank coverage page: active exercises per subcategory and level, thin and empty cells in sight."""

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.urls import path, reverse

from tutor.bank_coverage import bank_coverage
from tutor.bank_lint import MIN_EXERCISES_PER_CELL, MIN_TYPES_PER_CELL
from tutor.taxonomy import CEFRLevel

# The admin index links to the coverage page from a template of this app (the admin's own comes first).
admin.site.index_template = "admin/tutor/index.html"


class ExerciseCoverageMixin:
    """Adds to the exercise ModelAdmin its coverage page, at `coverage/` beside the list."""

    def get_urls(self):
        coverage = path(
            "coverage/",
            self.admin_site.admin_view(self.coverage_view),
            name=f"{self.opts.app_label}_{self.opts.model_name}_coverage",
        )
        return [coverage, *super().get_urls()]

    def coverage_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "title": "Bank coverage",
            "opts": self.opts,
            "coverage": bank_coverage(),
            "levels": CEFRLevel.values,
            "min_exercises": MIN_EXERCISES_PER_CELL,
            "min_types": MIN_TYPES_PER_CELL,
            "active_list_url": f"{reverse('admin:tutor_exercise_changelist')}?is_active__exact=1",
        }
        return TemplateResponse(request, "admin/tutor/exercise/coverage.html", context)
