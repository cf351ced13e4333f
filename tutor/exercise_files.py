"""Exercises in and out of files (CSV and JSON), through django-import-export.

One row is one exercise, with the columns of `COLUMNS`. In CSV the content is a JSON string; in
JSON it is an object, as the API serves it (a string is accepted too).

What an import guarantees:
- A row with an `id` of a stored exercise updates it; a row without one (or with an empty cell, or
  a file without the column) creates a new exercise; an `id` that no stored exercise has creates
  an exercise with that id, so that a bank moves between servers with its ids. A file holds an
  exercise once: a row with the id of an earlier row is refused.
- Each row passes the model's validation, the admin's and the API's: the pair rule, the level and
  type among their choices, the content against its type's schema, and item ids unused by any
  other exercise of the bank (rows before it in the same file included). A refused row says why,
  with its row number (rows are counted from 1, the header not counted).
- All or nothing: one refused row refuses the whole file, in the dry run and at the confirmation
  alike; nothing of it is stored.
- Rows are saved one by one through the model's save, so that the caches are kept true by the
  signals (tutor.invalidation) and each change is kept as a version naming the file and the row
  (tutor.exercise_history).
- An exported file imports back unchanged: every row is reported as skipped.
"""

import json
import uuid

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from import_export import fields, resources, widgets
from import_export.formats import base_formats

from tutor.exercise_history import CURATED_FIELDS
from tutor.models import Exercise

COLUMNS = ("id", *CURATED_FIELDS)


class ExerciseIdWidget(widgets.Widget):
    """An exercise's id: a UUID, or nothing for a new exercise."""

    def clean(self, value, row=None, **kwargs):
        if value is None or str(value).strip() == "":
            return None
        try:
            return uuid.UUID(str(value).strip())
        except ValueError:
            raise ValueError(
                f"{value!r} is not an exercise id (a UUID); leave the cell empty to create a new exercise."
            ) from None

    def render(self, value, obj=None, **kwargs):
        return "" if value is None else str(value)


class ContentWidget(widgets.Widget):
    """An exercise's content: JSON text in a cell, or an object in a JSON file."""

    def clean(self, value, row=None, **kwargs):
        if isinstance(value, dict | list):
            return value
        if value is None or str(value).strip() == "":
            raise ValueError("The content is empty: it must be the exercise's content as JSON.")
        try:
            return json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValueError(f"The content is not valid JSON: {exc}.") from None

    def render(self, value, obj=None, **kwargs):
        return json.dumps(value, ensure_ascii=False)


class ExerciseJSON(base_formats.JSON):
    """JSON with each exercise's content as an object rather than a string of JSON."""

    def export_data(self, dataset, **kwargs):
        rows = [{**row, "content": json.loads(row["content"])} for row in dataset.dict]
        return json.dumps(rows, ensure_ascii=False, indent=2)


FORMATS = (base_formats.CSV, ExerciseJSON)


class ExerciseResource(resources.ModelResource):
    id = fields.Field(attribute="id", column_name="id", widget=ExerciseIdWidget(), saves_null_values=False)
    content = fields.Field(attribute="content", column_name="content", widget=ContentWidget())

    class Meta:
        model = Exercise
        fields = COLUMNS
        export_order = COLUMNS
        # Numbers and booleans as such in JSON; CSV writes them as text all the same.
        widgets = {name: {"coerce_to_string": False} for name in ("errorCategory", "errorSubCategory", "is_active")}
        import_id_fields = ("id",)
        clean_model_instances = True
        skip_unchanged = True
        report_skipped = True
        store_row_values = True  # a refused row is named by its title too
        use_transactions = True

    def import_data(
        self,
        dataset,
        dry_run=False,
        raise_errors=False,
        use_transactions=None,
        collect_failed_rows=False,
        rollback_on_validation_errors=False,
        **kwargs,
    ):
        """Import in one transaction that keeps nothing when any row is refused."""
        return super().import_data(
            dataset,
            dry_run=dry_run,
            raise_errors=raise_errors,
            use_transactions=True,
            collect_failed_rows=collect_failed_rows,
            rollback_on_validation_errors=True,
            **kwargs,
        )

    def before_import(self, dataset, **kwargs):
        self.row_of_id: dict[uuid.UUID, int] = {}
        if dataset.headers and not set(dataset.headers) & (set(COLUMNS) - {"id"}):
            raise ValueError(
                f"The file names none of an exercise's columns ({', '.join(COLUMNS)}); "
                f"its header is: {', '.join(map(str, dataset.headers))}."
            )
        if dataset.headers and "id" not in dataset.headers:
            dataset.append_col([""] * len(dataset), header="id")

    def before_import_row(self, row, **kwargs):
        try:
            exercise_id = self.fields["id"].clean(row)
        except ValueError:
            return  # get_instance refuses the row, saying why
        if exercise_id is None:
            return
        earlier = self.row_of_id.setdefault(exercise_id, kwargs["row_number"])
        if earlier != kwargs["row_number"]:
            raise ValidationError({"id": f"row {earlier} has this id too: a file holds each exercise once."})

    def get_instance(self, instance_loader, row):
        try:
            exercise_id = self.fields["id"].clean(row)
        except ValueError as exc:
            raise ValidationError({"id": str(exc)}) from None
        if exercise_id is None:
            return None
        return Exercise.objects.filter(pk=exercise_id).first()

    def import_row(self, row, instance_loader, **kwargs):
        result = super().import_row(row, instance_loader, **kwargs)
        result.number = kwargs["row_number"]
        if result.validation_error is not None:
            result.validation_error = _numbered(result.validation_error, result.number)
        return result

    def before_save_instance(self, instance, row, **kwargs):
        source = kwargs.get("file_name") or "a file"
        instance._change_reason = f"Imported from {source}, row {kwargs['row_number']}"
        if kwargs.get("user") is not None:
            instance._history_user = kwargs["user"]


def _numbered(error: ValidationError, number: int) -> ValidationError:
    """Return the same refusal with each message naming the row."""
    by_field = error.message_dict if hasattr(error, "error_dict") else {NON_FIELD_ERRORS: error.messages}
    return ValidationError(
        {field: [f"Row {number}: {message}" for message in messages] for field, messages in by_field.items()}
    )
