"""Importing and exporting exercises in the admin: the list's Import and Export buttons.

The rules of an import are tutor.exercise_files'. This adds the page a curator reads: before
anything is stored (the dry run), every row of the file with what would happen to it (created,
changed, unchanged or refused) and why a refused row is refused; a file with any refused row
cannot be confirmed.
"""

from dataclasses import dataclass

from django.contrib import messages
from django.http import HttpResponseRedirect
from django.urls import reverse
from import_export.admin import ImportExportMixin
from import_export.results import Result, RowResult

from tutor.exercise_files import FORMATS, ExerciseResource

OUTCOMES = {
    RowResult.IMPORT_TYPE_NEW: "new",
    RowResult.IMPORT_TYPE_UPDATE: "changed",
    RowResult.IMPORT_TYPE_SKIP: "unchanged",
    RowResult.IMPORT_TYPE_INVALID: "refused",
    RowResult.IMPORT_TYPE_ERROR: "refused",
}


@dataclass(frozen=True)
class RowOutcome:
    """What an import does with one row of the file."""

    number: int
    outcome: str
    title: str
    reasons: list[str]


def row_outcomes(result: Result) -> list[RowOutcome]:
    """Return each row of an import's result, in file order, with its outcome and the reasons it is refused."""
    outcomes = []
    for row in result.rows:
        if row.validation_error is not None:
            reasons = row.validation_error.messages
        else:
            reasons = [f"Row {row.number}: {error.error}" for error in row.errors]
        title = row.object_repr or str(row.row_values.get("title") or "")
        outcomes.append(RowOutcome(row.number, OUTCOMES.get(row.import_type, row.import_type), title, reasons))
    return outcomes


def summary(result: Result) -> str:
    """Say in one sentence what the import would do, or why nothing of the file is stored."""
    totals = result.totals
    refused = totals[RowResult.IMPORT_TYPE_INVALID] + totals[RowResult.IMPORT_TYPE_ERROR]
    if result.base_errors:
        return "The file is refused and nothing was stored: it cannot be read as exercises (see below)."
    if refused:
        return (
            f"The file is refused and nothing was stored: {refused} of {result.total_rows} row(s) cannot be "
            "imported. Correct them and upload the file again."
        )
    return (
        f"{totals[RowResult.IMPORT_TYPE_NEW]} new, {totals[RowResult.IMPORT_TYPE_UPDATE]} changed, "
        f"{totals[RowResult.IMPORT_TYPE_SKIP]} unchanged. Nothing is stored until you confirm the import."
    )


class ExerciseFilesMixin(ImportExportMixin):
    """Import (with a dry run to confirm) and export of exercises, in CSV and JSON."""

    resource_classes = [ExerciseResource]
    import_formats = FORMATS
    export_formats = FORMATS
    import_template_name = "admin/tutor/exercise/import.html"

    def has_import_permission(self, request):
        """An import adds and changes exercises: it needs both permissions."""
        return self.has_add_permission(request) and self.has_change_permission(request)

    def has_export_permission(self, request):
        return self.has_view_permission(request)

    def import_action(self, request, **kwargs):
        response = super().import_action(request, **kwargs)
        result = response.context_data.get("result")
        if result is not None:
            response.context_data["row_outcomes"] = row_outcomes(result)
            response.context_data["import_summary"] = summary(result)
        return response

    def process_result(self, result, request):
        if not (result.has_errors() or result.has_validation_errors()):
            return super().process_result(result, request)
        # The bank changed between the dry run and the confirmation: the transaction kept nothing.
        reasons = [str(error.error) for error in result.base_errors]
        reasons += [reason for outcome in row_outcomes(result) for reason in outcome.reasons]
        messages.error(request, "The import was refused when confirmed; nothing was stored. " + " ".join(reasons))
        return HttpResponseRedirect(reverse(f"{self.admin_site.name}:tutor_exercise_changelist"))
