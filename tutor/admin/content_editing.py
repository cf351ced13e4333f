"""Editing an exercise's content through a form generated from its type's JSON Schema (django-jsonform).

`tutor.exercise_content.SCHEMAS` stays the one definition: the widget gets a copy of the type's schema
made for display (`widget_schema`), the server keeps validating with the full schema (`content_problems`),
and the problems it finds are shown at the fields they concern (`field_errors`).
"""

import json
from collections.abc import Iterable

from django import forms
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse, HttpResponseNotAllowed
from django.urls import path, reverse
from django_jsonform.constants import JOIN_SYMBOL
from django_jsonform.widgets import JSONFormWidget
from jsonschema import Draft202012Validator

from tutor.admin.exercise_preview import render_preview
from tutor.exercise_content import SCHEMAS, ContentProblem, content_problems
from tutor.models import Exercise
from tutor.taxonomy import ExerciseType

# Keys whose label is not the key with its underscores as spaces.
_LABELS = {"id": "Item id", "ipa": "IPA", "also_accepted": "Also accepted answers"}
# Keywords that only the server checks: the widget would misread them or apply them to blank rows.
_SERVER_ONLY = {"pattern", "additionalProperties", "uniqueItems"}


def widget_schema(exercise_type: str) -> dict:
    """Return the type's schema as django-jsonform should render it; the full schema still decides what is valid.

    Rules, applied to every node:
    - a choice (`enum`) without a `type` gets `"type": "string"` (all our choices are text; the widget
      needs a type on every property);
    - a property gets a `title` (its key in words) and its `description` as help text;
    - `pattern`, `uniqueItems` and `additionalProperties: false` are left to the server (the widget
      neither needs them to draw the form nor checks them alike); `additionalProperties` given as a
      schema (the feedback per distractor) stays, so that keys can be added;
    - an object known only by its `additionalProperties` gets empty `properties` (the widget needs them);
    - an optional list loses its `minItems`, so that it may be left empty (the widget would otherwise
      draw blank rows that cannot be removed); a required list keeps it;
    - each branch of a `oneOf` is titled by the required fields only it has, so that the curator
      picks the shape of an item by name.
    """
    return _for_widget(SCHEMAS[exercise_type], required=True)


def widget_schemas() -> dict[str, dict]:
    """The widget's schema of every exercise type, for switching the form when the type changes."""
    return {str(kind): widget_schema(kind) for kind in ExerciseType}


def _for_widget(schema: dict, *, required: bool, key: str | None = None) -> dict:
    node = {name: value for name, value in schema.items() if name not in _SERVER_ONLY}
    if isinstance(schema.get("additionalProperties"), dict):
        node["additionalProperties"] = _for_widget(schema["additionalProperties"], required=True)
    if schema.get("type") == "object" and "properties" not in schema:
        node["properties"] = {}
    if "enum" in schema and "type" not in schema:
        node["type"] = "string"
    if key is not None:
        node["title"] = _LABELS.get(key, key.replace("_", " ").capitalize())
    if "description" in schema:
        node["help_text"] = schema["description"]
    if not required:
        node.pop("minItems", None)
    if isinstance(schema.get("items"), dict):
        node["items"] = _for_widget(schema["items"], required=True)
    if "properties" in schema:
        node["properties"] = {
            name: _for_widget(sub, required=name in schema.get("required", []), key=name)
            for name, sub in schema["properties"].items()
        }
    if "oneOf" in schema:
        shared = set.intersection(*(set(branch.get("required", [])) for branch in schema["oneOf"]))
        node["oneOf"] = [
            {
                **_for_widget(branch, required=True),
                "title": "With " + " and ".join(_words(n) for n in branch["required"] if n not in shared),
            }
            for branch in schema["oneOf"]
        ]
    return node


def _words(key: str) -> str:
    return key.replace("_", " ")


def for_widget(value: object, schema: dict) -> object:
    """Return content as the widget can load it: each item of a `oneOf` holds every field of its branch.

    The widget picks an item's branch by comparing the item's keys with each branch's fields, and
    draws the item wrongly when none is equal; the fields the item leaves out are added blank
    (`without_blanks` removes them again on save).
    """
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [for_widget(entry, schema["items"]) for entry in value]
    if not isinstance(value, dict):
        return value
    branch = _branch_for(value, schema)
    padded = {name: for_widget(entry, branch.get("properties", {}).get(name, {})) for name, entry in value.items()}
    if "oneOf" in schema:
        for name, sub in branch.get("properties", {}).items():
            padded.setdefault(name, _BLANKS.get(sub.get("type"), ""))
    return padded


_BLANKS = {"array": [], "object": {}, "integer": None, "string": ""}


def blank_content(schema: dict) -> object:
    """Return the content a new exercise starts from in the widget (given its `widget_schema`): every field blank.

    A list holds as many blank rows as it needs at least; an item that may take several shapes takes
    the first. The widget cannot build this itself for an item of several shapes.
    """
    if "oneOf" in schema:
        return blank_content(schema["oneOf"][0])
    if "properties" in schema:
        return {name: blank_content(sub) for name, sub in schema["properties"].items()}
    if schema.get("type") == "array":
        return [blank_content(schema.get("items", {})) for _ in range(schema.get("minItems", 0))]
    return _BLANKS.get(schema.get("type"), "")


def blank_contents() -> dict[str, object]:
    """The blank content of every exercise type, which the form starts from when the type is switched."""
    return {str(kind): blank_content(widget_schema(kind)) for kind in ExerciseType}


def without_blanks(value: object, schema: dict) -> object:
    """Leave out what the curator left blank where it is optional: the form draws every field of the schema.

    An optional property is dropped when it is blank: null, text of white space only, or a list or object
    holding nothing but blanks. A required one is kept as it is, so that the check names it; so is every
    row of a list (rows keep their positions, which the errors point to).
    """
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [without_blanks(entry, schema["items"]) for entry in value]
    if not isinstance(value, dict):
        return value
    schema = _branch_for(value, schema)
    properties = schema.get("properties", {})
    required = schema.get("required", [])
    pruned = {}
    for name, entry in value.items():
        entry = without_blanks(entry, properties.get(name, {}))
        if name in required or not _blank(entry):
            pruned[name] = entry
    return pruned


def _branch_for(value: dict, schema: dict) -> dict:
    """The branch of a `oneOf` whose fields the value fills (the first one when none fits better)."""
    branches = schema.get("oneOf")
    if not branches:
        return schema
    filled = {name for name, entry in value.items() if not _blank(entry)}

    def fit(branch: dict) -> int:
        fields = set(branch.get("properties", {}))
        return len(filled & fields) - len(filled - fields)

    return max(branches, key=fit)


def _blank(value: object) -> bool:
    if value is None or (isinstance(value, str) and not value.strip()):
        return True
    if isinstance(value, list | dict) and not isinstance(value, str):
        entries = value.values() if isinstance(value, dict) else value
        return all(_blank(entry) for entry in entries)
    return False


def field_errors(content: object, problems: Iterable[ContentProblem], schema: dict) -> tuple[dict, list[str]]:
    """Split problems into the widget's error map (by field) and the messages no field can show.

    A problem is shown at its field when its path leads to a value the form draws, except a missing
    property (the form always draws the fields it has, so only hand-made JSON misses one). A `oneOf`
    item that fits no branch is checked against the branch the curator filled, so that its errors too
    land on the fields. The text at the field drops the path the field already says.
    """
    error_map: dict[str, list[str]] = {}
    elsewhere: list[str] = []
    for problem in problems:
        placed = _placed(content, problem, schema)
        if not placed:
            elsewhere.append(problem.message)
        for where, text in placed:
            texts = error_map.setdefault(JOIN_SYMBOL.join(str(step) for step in where), [])
            if text not in texts:
                texts.append(text)
    return error_map, elsewhere


def _placed(content: object, problem: ContentProblem, schema: dict) -> list[tuple[tuple, str]]:
    value, node = content, schema
    for step in problem.path:
        try:
            value = value[step]
        except (KeyError, IndexError, TypeError):
            return []
        node = _child(node, step)
    text = problem.message.split(": ", 1)[-1]
    if not problem.path or text.endswith("is a required property"):
        return []
    if "oneOf" in node and isinstance(value, dict):
        branch = _branch_for(value, node)
        inner = [
            ContentProblem("schema", e.message, (*problem.path, *e.absolute_path))
            for e in Draft202012Validator(branch).iter_errors(value)
        ]
        return [placed for sub in inner for placed in _placed(content, sub, schema)] or [(problem.path, text)]
    if isinstance(value, str) and not value.strip():
        return [(problem.path, "This field is required.")]
    if " does not match " in text:
        return [(problem.path, node.get("description", "This text is not in the expected form."))]
    return [(problem.path, text)]


def _child(node: dict, step: str | int) -> dict:
    if isinstance(step, int):
        return node.get("items", {})
    if step in node.get("properties", {}):
        return node["properties"][step]
    extra = node.get("additionalProperties")
    return extra if isinstance(extra, dict) else {}


class ContentWidget(JSONFormWidget):
    """The django-jsonform editor, drawing the content of one exercise type (`edit_as`).

    Its textarea holds the content as loaded (django-jsonform's leaves it empty until its script runs),
    so that a client that posts the form as served, without running scripts, keeps the content.
    """

    template_name = "admin/tutor/exercise/content_widget.html"

    def __init__(self):
        super().__init__(schema=None)
        self.exercise_type = str(ExerciseType.GAP_FILL)

    def get_schema(self) -> dict:
        return widget_schema(self.exercise_type)

    def edit_as(self, exercise_type: str) -> None:
        """Draw the form of this exercise type."""
        self.exercise_type = exercise_type

    def render(self, name, value, attrs=None, renderer=None):
        return super().render(name, self.format_value(value), attrs, renderer)

    def format_value(self, value):
        try:
            content = json.loads(value) if isinstance(value, str) else value
        except ValueError:
            content = None  # JSON typed by hand that does not parse: the form starts blank, the error says why.
        if content is None:
            return json.dumps(blank_content(widget_schema(self.exercise_type)))
        return json.dumps(for_widget(content, SCHEMAS[self.exercise_type]))


class ExerciseContentForm(forms.ModelForm):
    """The exercise form whose content is edited field by field, in the form of the chosen type.

    The content field is Django's JSONField with django-jsonform's widget, not django-jsonform's own
    form field: that one also runs the library's validator, which refuses content without its optional
    keys. `content_problems` alone decides.
    """

    class Meta:
        model = Exercise
        fields = "__all__"  # noqa: DJ007 (the admin chooses the fields: its fieldsets, or every editable one)
        widgets = {"content": ContentWidget}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "content" in self.fields:  # staff who may only view get the content shown, not a field
            self.fields["content"].widget.edit_as(self.exercise_type())
            self.fields["content"].help_text = "Switch the exercise type above to edit the content of another type."

    def exercise_type(self) -> str:
        """The type the content is edited as: the one posted, else the exercise's, else the first."""
        chosen = self.data.get("exercise_type") if self.is_bound else None
        chosen = chosen or self.initial.get("exercise_type") or self.instance.exercise_type
        return chosen if chosen in SCHEMAS else str(ExerciseType.GAP_FILL)

    def clean(self):
        cleaned = super().clean()
        kind, content = cleaned.get("exercise_type"), cleaned.get("content")
        if kind not in SCHEMAS or "content" not in cleaned:
            return cleaned
        content = cleaned["content"] = without_blanks(content, SCHEMAS[kind])
        self._content_reported = bool(problems := content_problems(kind, content))
        if problems:
            error_map, elsewhere = field_errors(content, problems, SCHEMAS[kind])
            self.fields["content"].widget.add_error(error_map)
            marked = [f"{len(error_map)} field(s) of the content need correcting: see the marks in the form below."]
            self.add_error("content", ValidationError([*(marked if error_map else []), *elsewhere]))
        return cleaned

    def _update_errors(self, errors):
        # The model's clean runs the same content check: its messages would repeat the ones placed above.
        if getattr(self, "_content_reported", False) and hasattr(errors, "error_dict"):
            errors.error_dict.pop("content", None)
        super()._update_errors(errors)


class ContentEditingAdmin:
    """Mixin for the exercise's admin: the content form per type, and the preview beside it (live while editing).

    The preview is drawn on the add and change pages, and again by `preview/` (POST: exercise_type,
    instructions, content as JSON) whenever the curator edits the form.
    """

    form = ExerciseContentForm
    change_form_template = "admin/tutor/exercise/content_change_form.html"

    def get_urls(self):
        preview = path("preview/", self.admin_site.admin_view(self.preview_view), name="tutor_exercise_preview")
        return [preview, *super().get_urls()]

    def preview_view(self, request):
        """Draw the preview of the content the form holds now (nothing is saved)."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        try:
            content = json.loads(request.POST.get("content", ""))
        except (ValueError, RecursionError):
            content = None
        kind = request.POST.get("exercise_type", "")
        return HttpResponse(
            render_preview(
                exercise_type=kind,
                instructions=request.POST.get("instructions", ""),
                content=without_blanks(content, SCHEMAS[kind]) if kind in SCHEMAS else content,
            )
        )

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        form = context["adminform"].form
        kind, instructions, content = _shown(form)
        context.update(
            exercise_preview=render_preview(exercise_type=kind, instructions=instructions, content=content),
            content_editable="content" in form.fields,
            preview_url=reverse("admin:tutor_exercise_preview"),
            content_schemas=widget_schemas(),
            content_blanks=blank_contents(),
            content_as_loaded={"exercise_type": kind, "content": for_widget(content, SCHEMAS.get(kind, {}))},
        )
        return super().render_change_form(request, context, add=add, change=change, form_url=form_url, obj=obj)


def _shown(form: ExerciseContentForm) -> tuple[str, str, object]:
    """The type, instructions and content the page shows: as posted when the form came back with errors."""
    kind = form.exercise_type()
    if not form.is_bound:
        instructions = form.initial.get("instructions") or form.instance.instructions or ""
        return kind, instructions, form.initial.get("content", form.instance.content)
    content = form.cleaned_data.get("content") if hasattr(form, "cleaned_data") else None
    if content is None:
        try:
            content = without_blanks(json.loads(form.data.get("content", "")), SCHEMAS[kind])
        except ValueError:
            content = None
    return kind, form.data.get("instructions", ""), content
