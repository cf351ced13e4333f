"""Editing an exercise's content through the form of its type, and the preview beside it."""

import html
import json
import re
from pathlib import Path

import pytest
from django.core.management import call_command

from tutor.admin.content_editing import blank_content, for_widget, widget_schema, without_blanks
from tutor.admin.exercise_preview import render_preview
from tutor.exercise_content import SCHEMAS, items_of
from tutor.models import Exercise
from tutor.taxonomy import ExerciseType

BANK = json.loads((Path(__file__).resolve().parents[1] / "fixtures" / "exercises.json").read_text())
ADD = "/admin/tutor/exercise/add/"


def change_url(exercise: Exercise) -> str:
    return f"/admin/tutor/exercise/{exercise.pk}/change/"


def editor(page: str) -> dict:
    """The django-jsonform editor's configuration on an admin page: its schema, data and errors by field."""
    found = re.search(r'data-django-jsonform="([^"]*)"', page)
    config = json.loads(html.unescape(found.group(1)))
    return {**config, "data": json.loads(config["data"])}


def section(page: str, element_id: str) -> str:
    """The text of one element of the preview, its tags removed."""
    found = re.search(rf'<section id="{element_id}".*?</section>', page, re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", found.group(0)))


def posted(exercise: Exercise, **changes) -> dict:
    """The change form as the admin posts it, the content as the editor sends it (every field, blanks included)."""
    fields = {
        "title": exercise.title,
        "errorCategory": str(exercise.errorCategory),
        "errorSubCategory": str(exercise.errorSubCategory),
        "exercise_type": exercise.exercise_type,
        "level": exercise.level,
        "instructions": exercise.instructions,
        "is_active": "on",
        # The recordings inline's management form, with no recording changed.
        "recordings-TOTAL_FORMS": "0",
        "recordings-INITIAL_FORMS": "0",
        **changes,
    }
    content = changes.get("content", exercise.content)
    fields["content"] = json.dumps(for_widget(content, SCHEMAS[fields["exercise_type"]]) | {"tip": ""})
    return fields


@pytest.fixture
def gap_fill(make_exercise):
    return make_exercise(
        exercise_type="gap_fill",
        errorCategory=1,
        errorSubCategory=3,
        instructions="Type the missing word.",
        content={
            "answer_mode": "typed",
            "items": [
                {"id": "edit.1", "prompt": "I have lived here ___ 2019.", "answer": "since", "explanation": "A point."},
                {"id": "edit.2", "prompt": "She has worked here ___ ten years.", "answer": "for"},
            ],
        },
    )


@pytest.fixture
def bank(db):
    call_command("loaddata", "exercises.json", verbosity=0)


def test_an_item_edited_through_the_form_is_stored_and_previewed(admin_client, gap_fill):
    content = json.loads(json.dumps(gap_fill.content))
    content["items"][1]["answer"] = "during"
    content["items"][1]["also_accepted"] = ["over"]
    content["items"][1]["prompt"] = "She worked here ___ the war."

    response = admin_client.post(change_url(gap_fill), posted(gap_fill, content=content))

    assert response.status_code == 302
    gap_fill.refresh_from_db()
    assert gap_fill.content["items"][1] == {
        "id": "edit.2",
        "prompt": "She worked here ___ the war.",
        "answer": "during",
        "also_accepted": ["over"],
    }
    assert "tip" not in gap_fill.content
    page = admin_client.get(change_url(gap_fill)).content.decode()
    assert "during" in section(page, "answer-key")
    assert "She worked here" in section(page, "exercise-preview")


def test_blank_optional_fields_the_editor_sends_are_not_stored(admin_client, gap_fill):
    response = admin_client.post(change_url(gap_fill), posted(gap_fill))

    assert response.status_code == 302
    gap_fill.refresh_from_db()
    assert gap_fill.content == {
        "answer_mode": "typed",
        "items": [
            {"id": "edit.1", "prompt": "I have lived here ___ 2019.", "answer": "since", "explanation": "A point."},
            {"id": "edit.2", "prompt": "She has worked here ___ ten years.", "answer": "for"},
        ],
    }


def test_an_item_added_and_the_items_reordered_are_stored_in_their_order(admin_client, gap_fill):
    first, second = gap_fill.content["items"]
    added = {"id": "edit.3", "prompt": "We met ___ Monday.", "answer": "on"}
    content = {"answer_mode": "typed", "items": [second, added, first]}

    response = admin_client.post(change_url(gap_fill), posted(gap_fill, content=content))

    assert response.status_code == 302
    gap_fill.refresh_from_db()
    assert [item["id"] for item in gap_fill.content["items"]] == ["edit.2", "edit.3", "edit.1"]


def test_a_blank_required_field_is_refused_at_the_field_and_nothing_is_stored(admin_client, gap_fill):
    before = gap_fill.content
    content = json.loads(json.dumps(before))
    content["items"][0]["answer"] = ""

    response = admin_client.post(change_url(gap_fill), posted(gap_fill, content=content))

    assert response.status_code == 200
    page = response.content.decode()
    assert editor(page)["errorMap"] == {"items§0§answer": ["This field is required."]}
    assert "1 field(s) of the content need correcting: see the marks in the form below." in page
    gap_fill.refresh_from_db()
    assert gap_fill.content == before


def test_an_answer_that_is_not_an_option_is_shown_at_the_answer(admin_client, make_exercise):
    exercise = make_exercise(exercise_type="multiple_choice", errorCategory=1, errorSubCategory=3)
    item = {"id": "edit.mc", "question": "I ___ here.", "options": ["live", "lives", "living"], "answer": "lived"}
    content = {"answer_mode": "choice", "items": [item]}

    response = admin_client.post(
        change_url(exercise), posted(exercise, exercise_type="multiple_choice", content=content)
    )

    assert response.status_code == 200
    assert editor(response.content.decode())["errorMap"] == {"items§0§answer": ["'lived' is not one of its options"]}
    exercise.refresh_from_db()
    assert exercise.content != content


def test_an_open_rewriting_with_blank_criteria_is_refused_at_the_criteria(admin_client, make_exercise):
    exercise = make_exercise(exercise_type="sentence_correction", errorCategory=1, errorSubCategory=3)
    item = {"id": "edit.open", "sentence": "Me and him goes.", "model_answer": "He and I go.", "criteria": [""]}
    content = {"answer_mode": "spoken", "items": [item]}

    response = admin_client.post(
        change_url(exercise), posted(exercise, exercise_type="sentence_correction", content=content)
    )

    assert response.status_code == 200
    assert editor(response.content.decode())["errorMap"] == {"items§0§criteria§0": ["This field is required."]}


def test_a_gap_without_its_blank_is_refused_with_what_the_field_needs(admin_client, gap_fill):
    content = json.loads(json.dumps(gap_fill.content))
    content["items"][0]["prompt"] = "I have lived here since 2019."

    response = admin_client.post(change_url(gap_fill), posted(gap_fill, content=content))

    assert response.status_code == 200
    assert editor(response.content.decode())["errorMap"] == {
        "items§0§prompt": ["The sentence with ___ where the gap is."]
    }


def test_content_without_a_required_list_is_refused_above_the_form(admin_client):
    form = {
        "title": "T",
        "errorCategory": "1",
        "errorSubCategory": "3",
        "exercise_type": "gap_fill",
        "level": "B1",
        "instructions": "Do it.",
        "content": '{"answer_mode": "typed"}',
    }

    response = admin_client.post(ADD, form)

    assert response.status_code == 200
    assert "content: &#x27;items&#x27; is a required property" in response.content.decode()
    assert editor(response.content.decode())["errorMap"] == {}
    assert not Exercise.objects.exists()


@pytest.mark.parametrize("kind", list(ExerciseType))
def test_the_add_page_draws_the_form_of_the_chosen_type(admin_client, kind):
    page = admin_client.get(ADD, {"exercise_type": kind}).content.decode()

    assert editor(page)["schema"] == widget_schema(kind)
    assert editor(page)["data"] == blank_content(widget_schema(kind))


def test_a_new_item_of_several_shapes_starts_blank_in_the_first_shape():
    item = blank_content(widget_schema("sentence_correction"))["items"][0]

    assert item == {"id": "", "answer_mode": "", "sentence": "", "answer": "", "also_accepted": [], "explanation": ""}


def test_switching_the_type_draws_the_other_types_form(admin_client, gap_fill):
    response = admin_client.post(change_url(gap_fill), posted(gap_fill, exercise_type="multiple_choice"))

    assert response.status_code == 200
    page = response.content.decode()
    config = editor(page)
    assert config["schema"] == widget_schema("multiple_choice")
    assert "question" in config["schema"]["properties"]["items"]["items"]["properties"]
    schemas = json.loads(re.search(r'id="exercise-content-schemas"[^>]*>(.*?)</script>', page, re.S).group(1))
    assert schemas == {str(kind): widget_schema(kind) for kind in ExerciseType}
    gap_fill.refresh_from_db()
    assert gap_fill.exercise_type == "gap_fill"


def test_a_type_switched_with_content_of_its_own_is_stored(admin_client, gap_fill):
    content = {"answer_mode": "spoken", "prompt": "Talk about your town.", "duration_seconds": 90}

    response = admin_client.post(
        change_url(gap_fill), posted(gap_fill, exercise_type="speaking_prompt", content=content)
    )

    assert response.status_code == 302
    gap_fill.refresh_from_db()
    assert (gap_fill.exercise_type, gap_fill.content) == ("speaking_prompt", content)


def test_the_widget_schema_keeps_what_the_form_needs_and_leaves_the_patterns_to_the_server():
    schema = widget_schema("sentence_correction")
    item = schema["properties"]["items"]["items"]
    feedback = widget_schema("multiple_choice")["properties"]["items"]["items"]["properties"]["feedback"]

    assert [branch["title"] for branch in item["oneOf"]] == ["With answer", "With model answer and criteria"]
    assert "pattern" not in json.dumps(schema)
    assert feedback["additionalProperties"]["type"] == "string"
    assert feedback["properties"] == {}
    assert schema["properties"]["answer_mode"]["enum"] == ["spoken", "typed", "choice"]
    stress = widget_schema("repeat_after_me")["properties"]["items"]["items"]["properties"]["stress"]
    assert stress["items"]["properties"]["stressed"]["type"] == "integer"
    assert "minItems" not in stress


@pytest.mark.parametrize("row", BANK, ids=lambda row: row["fields"]["title"][:40])
def test_the_shipped_bank_goes_through_the_editor_unchanged(row):
    fields = row["fields"]
    schema = SCHEMAS[fields["exercise_type"]]

    assert without_blanks(for_widget(fields["content"], schema), schema) == fields["content"]


@pytest.mark.parametrize("row", BANK, ids=lambda row: row["fields"]["title"][:40])
def test_every_exercise_of_the_shipped_bank_renders_in_the_preview(row):
    fields = row["fields"]
    page = render_preview(
        exercise_type=fields["exercise_type"], instructions=fields["instructions"], content=fields["content"]
    )

    learner = section(page, "exercise-preview")
    key = section(page, "answer-key")
    assert html.unescape(fields["instructions"]) in learner
    for _, item in items_of(fields["content"]):
        assert item["id"] in key
        shown = item.get("question") or item.get("sentence") or item.get("text") or " / ".join(item.get("words", []))
        if shown:
            assert shown in learner
        if "answer" in item:
            assert item["answer"] in key
        for also in item.get("also_accepted", []):
            assert also in key
        for feedback in item.get("feedback", {}).values():
            assert feedback in key
        if "audio" in item and not item["audio"]:
            assert "No recording" in learner
    for text in (fields["content"].get("model_answer"), fields["content"].get("prompt")):
        if text:
            assert text in page.replace("&#x27;", "'").replace("&quot;", '"').replace("&amp;", "&")


def test_each_type_of_the_bank_renders_on_its_change_page(admin_client, bank):
    for kind in ExerciseType:
        exercise = Exercise.objects.filter(exercise_type=kind).first()

        page = admin_client.get(change_url(exercise)).content.decode()

        assert 'id="exercise-preview"' in page
        assert 'id="answer-key"' in page
        assert editor(page)["schema"] == widget_schema(kind)
        assert editor(page)["data"]["answer_mode"] == exercise.content["answer_mode"]


def test_the_preview_draws_a_gap_options_as_buttons_and_the_speaking_time():
    gap = render_preview(
        exercise_type="gap_fill",
        instructions="Choose.",
        content={
            "answer_mode": "choice",
            "items": [{"id": "g", "prompt": "A ___ B", "options": ["x", "y"], "answer": "x"}],
        },
    )
    speaking = render_preview(
        exercise_type="speaking_prompt",
        instructions="Talk.",
        content={"answer_mode": "spoken", "prompt": "Your town.", "duration_seconds": 90, "criteria": ["Two places"]},
    )

    assert 'A <span class="preview-blank" aria-label="blank">&nbsp;</span> B' in gap
    assert gap.count('<button type="button" class="preview-option" disabled>') == 2
    assert "Time to speak: 1 min 30 s" in section(speaking, "exercise-preview")
    assert "Two places" in section(speaking, "answer-key")


def test_recordings_play_in_the_preview_and_a_missing_one_is_said():
    content = {
        "answer_mode": "spoken",
        "items": [
            {"id": "r1", "text": "cats", "audio": [{"accent": "GB", "url": "/media/audio/cats-gb.mp3"}]},
            {"id": "r2", "text": "dogs", "audio": []},
        ],
    }

    page = render_preview(exercise_type="repeat_after_me", instructions="Say it.", content=content)

    assert page.count("<audio controls") == 1
    assert 'src="/media/audio/cats-gb.mp3" data-accent="GB"' in page
    assert page.count("No recording") == 1


def test_the_live_preview_draws_the_content_being_edited(admin_client, gap_fill):
    content = {"answer_mode": "typed", "items": [{"id": "x", "prompt": "Not saved ___ yet.", "answer": "draft"}]}

    response = admin_client.post(
        "/admin/tutor/exercise/preview/",
        {"exercise_type": "gap_fill", "instructions": "Live.", "content": json.dumps(content)},
    )

    assert response.status_code == 200
    assert "draft" in section(response.content.decode(), "answer-key")
    gap_fill.refresh_from_db()
    assert gap_fill.content["items"][0]["answer"] == "since"


def test_the_live_preview_needs_staff_and_a_post(client, admin_client):
    assert client.post("/admin/tutor/exercise/preview/", {"exercise_type": "gap_fill"}).status_code == 302
    assert admin_client.get("/admin/tutor/exercise/preview/").status_code == 405


def test_a_form_posted_as_served_without_scripts_keeps_the_content(admin_client, gap_fill):
    page = admin_client.get(change_url(gap_fill)).content.decode()
    served = html.unescape(re.search(r'<textarea[^>]*name="content"[^>]*>(.*?)</textarea>', page, re.S).group(1))
    fields = {**posted(gap_fill), "content": served, "is_active": ""}

    response = admin_client.post(change_url(gap_fill), fields)

    assert response.status_code == 302
    stored = Exercise.objects.get(pk=gap_fill.pk)
    assert (stored.is_active, stored.content) == (False, gap_fill.content)
