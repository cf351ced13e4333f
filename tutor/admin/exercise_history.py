"""An exercise's versions in the admin: its History page, comparing two versions, restoring one.

- History (`<id>/history/`): every version, newest first, with who made it, why and what changed;
  pick an older and a newer version and press Compare, or follow a version's "compare with
  current".
- Compare (`<id>/history/compare/?older=<version>&newer=<version>`): the two versions side by side,
  changed fields highlighted, the content as a diff of its pretty-printed JSON. Without `newer`,
  the current version; without `older`, the one before it.
- Restore (POST `<id>/history/restore/` with `version`): makes that version the current exercise
  (tutor.exercise_history.restore), then opens the exercise.
"""

import uuid

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.views.decorators.http import require_POST
from simple_history.admin import SimpleHistoryAdmin

from tutor import exercise_history
from tutor.exercise_history import HistoricalExercise


class ExerciseHistoryAdmin(SimpleHistoryAdmin):
    """SimpleHistoryAdmin with a comparison of two versions and a restore that validates."""

    object_history_template = "admin/tutor/exercise/object_history.html"
    history_list_display = ["older", "newer", "compare"]

    def get_urls(self):
        # Before simple-history's `<id>/history/<version>/`, which would take "compare" for a version.
        return [
            path(
                "<path:object_id>/history/compare/",
                self.admin_site.admin_view(self.compare_view),
                name="tutor_exercise_compare",
            ),
            path(
                "<path:object_id>/history/restore/",
                self.admin_site.admin_view(require_POST(self.restore_view)),
                name="tutor_exercise_restore",
            ),
            *super().get_urls(),
        ]

    @staticmethod
    def older(version: HistoricalExercise) -> str:
        return _pick("older", version)

    @staticmethod
    def newer(version: HistoricalExercise) -> str:
        return _pick("newer", version)

    @staticmethod
    def compare(version: HistoricalExercise) -> str:
        url = reverse("admin:tutor_exercise_compare", args=[version.id])
        return format_html(
            '<a href="{}?older={}" id="compare-current-{}">compare with current</a>', url, version.pk, version.pk
        )

    def save_model(self, request, obj, form, change):
        obj._change_reason = "Edited in the admin" if change else "Added in the admin"
        super().save_model(request, obj, form, change)

    def compare_view(self, request, object_id):
        versions = _versions_of(object_id).select_related("history_user")
        if not versions.exists():
            raise Http404("This exercise has no versions.")
        exercise = self._exercise_or_latest_version(request, object_id, versions)
        if not self.has_view_history_or_change_history_permission(request, exercise):
            raise PermissionDenied
        newer = self._version(versions, request.GET.get("newer")) or versions.first()
        older = (
            self._version(versions, request.GET.get("older"))
            or versions.filter(history_date__lte=newer.history_date).exclude(pk=newer.pk).first()
            or newer
        )
        if (older.history_date, older.pk) > (newer.history_date, newer.pk):
            older, newer = newer, older
        latest = versions.first()
        context = {
            **self.admin_site.each_context(request),
            "title": f"Compare versions: {exercise}",
            "opts": self.model._meta,
            "object": exercise,
            "older": older,
            "newer": newer,
            "older_label": exercise_history.version_label(older),
            "newer_label": exercise_history.version_label(newer),
            "comparisons": exercise_history.compare(older, newer),
            "latest": latest,
            "can_restore": self.has_change_permission(request, exercise),
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/tutor/exercise/compare.html", context)

    def restore_view(self, request, object_id):
        version = self._version(_versions_of(object_id), request.POST.get("version"))
        if version is None:
            raise Http404("No version named.")
        if not self.has_change_permission(request, version.instance):
            raise PermissionDenied
        try:
            exercise = exercise_history.restore(version, user=request.user)
        except ValidationError as exc:
            problems = " ".join(exc.messages)
            messages.error(request, f"Version #{version.pk} cannot be restored, it no longer fits the bank: {problems}")
            return HttpResponseRedirect(reverse("admin:tutor_exercise_history", args=[object_id]))
        messages.success(
            request,
            f"Restored version #{version.pk} of {version.history_date:%Y-%m-%d %H:%M:%S}: it is now the current one.",
        )
        return HttpResponseRedirect(reverse("admin:tutor_exercise_change", args=[exercise.pk]))

    @staticmethod
    def _version(versions, value: str | None) -> HistoricalExercise | None:
        if not value:
            return None
        if not value.isdigit():
            raise Http404("No such version.")
        return get_object_or_404(versions, pk=int(value))

    def _exercise_or_latest_version(self, request, object_id, versions):
        exercise = self.get_object(request, object_id)
        return exercise if exercise is not None else versions.first().instance


def _versions_of(object_id: str):
    """The versions of the exercise an admin URL names; a URL naming no exercise id is not found."""
    try:
        return HistoricalExercise.objects.filter(id=uuid.UUID(object_id))
    except ValueError:
        raise Http404("No such exercise.") from None


def _pick(side: str, version: HistoricalExercise) -> str:
    """A radio button choosing this version as one side of the comparison."""
    return format_html(
        '<input type="radio" name="{}" value="{}" id="{}-{}" aria-label="{}: #{}">',
        side,
        version.pk,
        side,
        version.pk,
        side,
        version.pk,
    )
