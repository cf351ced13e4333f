"""Importing and exporting exercises in the admin: the dry run, all or nothing, round trips."""

import csv
import io
import json

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile

from tutor.exercise_files import COLUMNS
from tutor.models import Exercise

pytestmark = pytest.mark.django_db

CSV, JSON = "0", "1"  # the admin's format choices, in tutor.exercise_files.FORMATS order


def exercise_row(n: int, **changes) -> dict:
    """A valid new exercise as a file row (content as JSON text, as in CSV)."""
    content = {
        "answer_mode": "typed",
        "items": [{"id": f"import-{n}.1", "prompt": f"I have lived here ___ {2000 + n}.", "answer": "since"}],
    }
    return {
        "id": "",
        "title": f"Since or for, set {n}",
        "errorCategory": "1",
        "errorSubCategory": "3",
        "exercise_type": "gap_fill",
        "level": "B1",
        "is_active": "1",
        "instructions": "Write the missing word.",
        "content": json.dumps(content),
        **changes,
    }


def csv_text(rows: list[dict]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def dry_run(admin_client, data: str | bytes, *, name="exercises.csv", file_format=CSV):
    upload = SimpleUploadedFile(name, data.encode() if isinstance(data, str) else data)
    response = admin_client.post("/admin/tutor/exercise/import/", {"import_file": upload, "format": file_format})
    assert response.status_code == 200
    return response


def confirm(admin_client, dry_run_response):
    form = dry_run_response.context["confirm_form"]
    return admin_client.post("/admin/tutor/exercise/process_import/", {**form.initial, "confirm": "Confirm import"})


def outcomes(response) -> list[str]:
    return [row.outcome for row in response.context["row_outcomes"]]


def reasons(response) -> list[str]:
    return [reason for row in response.context["row_outcomes"] for reason in row.reasons]


def export(admin_client, file_format: str) -> bytes:
    selected = {f"exerciseresource_{column}": "on" for column in COLUMNS}
    response = admin_client.post("/admin/tutor/exercise/export/", {"format": file_format, "resource": "0", **selected})
    assert response.status_code == 200, response.content[:500]
    return response.content


def test_a_csv_of_twenty_exercises_shows_twenty_new_in_the_dry_run_then_stores_them(admin_client):
    response = dry_run(admin_client, csv_text([exercise_row(n) for n in range(1, 21)]))

    assert outcomes(response) == ["new"] * 20
    assert "20 new, 0 changed, 0 unchanged" in response.content.decode()
    assert not Exercise.objects.exists()

    response = confirm(admin_client, response)

    assert response.status_code == 302
    assert Exercise.objects.count() == 20
    stored = Exercise.objects.get(title="Since or for, set 7")
    assert stored.content["items"][0]["id"] == "import-7.1"
    assert stored.history.get().history_change_reason == "Imported from exercises.csv, row 7"


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        ({"content": json.dumps({"answer_mode": "typed", "items": [{"id": "x.1", "prompt": "No gap."}]})}, "'answer'"),
        ({"content": "{not json"}, "The content is not valid JSON"),
        ({"errorCategory": "3"}, "errorSubCategory 3 (Tense) belongs to errorCategory 1 (Grammar), not 3"),
        ({"level": "D1"}, "'D1' is not a valid choice"),
        ({"exercise_type": "essay"}, "'essay' is not a valid choice"),
        ({"id": "not-an-id"}, "'not-an-id' is not an exercise id"),
        ({"title": ""}, "This field cannot be blank"),
    ],
)
def test_a_file_with_one_bad_row_is_refused_with_its_row_number_and_nothing_is_stored(admin_client, bad, reason):
    rows = [exercise_row(n) for n in range(1, 6)]
    rows[2] = exercise_row(3, **bad)

    response = dry_run(admin_client, csv_text(rows))

    assert outcomes(response) == ["new", "new", "refused", "new", "new"]
    assert [r for r in reasons(response) if r.startswith("Row 3: ") and reason in r], reasons(response)
    assert "The file is refused and nothing was stored: 1 of 5 row(s)" in response.content.decode()
    assert "confirm_form" not in response.context
    assert not Exercise.objects.exists()


def test_a_row_reusing_an_item_id_of_the_bank_or_of_an_earlier_row_is_refused(admin_client, make_exercise):
    make_exercise(
        title="Stored", content={"answer_mode": "typed", "items": [{"id": "taken.1", "prompt": "a ___", "answer": "b"}]}
    )
    rows = [exercise_row(n) for n in range(1, 4)]
    rows[0] = exercise_row(1, content=rows[0]["content"].replace("import-1.1", "taken.1"))
    rows[2] = exercise_row(3, content=rows[2]["content"].replace("import-3.1", "import-2.1"))

    response = dry_run(admin_client, csv_text(rows))

    assert outcomes(response) == ["refused", "new", "refused"]
    assert any("Row 1: " in r and "'taken.1' is already used by 'Stored'" in r for r in reasons(response))
    assert any(
        "Row 3: " in r and "'import-2.1' is already used by 'Since or for, set 2'" in r for r in reasons(response)
    )
    assert Exercise.objects.count() == 1


def test_the_confirmation_stores_nothing_when_the_bank_changed_since_the_dry_run(admin_client, make_exercise):
    response = dry_run(admin_client, csv_text([exercise_row(n) for n in range(1, 4)]))
    make_exercise(
        title="Meanwhile",
        content={"answer_mode": "typed", "items": [{"id": "import-2.1", "prompt": "a ___", "answer": "b"}]},
    )

    response = confirm(admin_client, response)

    assert response.status_code == 302
    assert list(Exercise.objects.values_list("title", flat=True)) == ["Meanwhile"]
    message = str(next(iter(response.wsgi_request._messages)))
    assert "refused when confirmed; nothing was stored" in message
    assert "Row 2: " in message


@pytest.mark.parametrize("file_format", [CSV, JSON])
def test_an_exported_file_imports_back_unchanged(admin_client, make_exercise, file_format):
    make_exercise(title='Ship or sheep, "quoted", with commas', instructions="Line one.\nLine two.")
    make_exercise(
        title="Banana",
        exercise_type="repeat_after_me",
        errorSubCategory=8,
        level="A1",
        is_active=False,
        content={
            "answer_mode": "spoken",
            "items": [
                {
                    "id": "syl-banana.1",
                    "text": "banana",
                    "ipa": "/bəˈnɑːnə/",  # noqa: RUF001
                    "stress": [{"word": "banana", "syllables": ["ba", "na", "na"], "stressed": 1}],
                    "audio": [],
                }
            ],
        },
    )
    before = {e.pk: (e.updated_at, e.history.count()) for e in Exercise.objects.all()}
    exported = export(admin_client, file_format)

    response = dry_run(
        admin_client, exported, name="bank." + ("csv" if file_format == CSV else "json"), file_format=file_format
    )

    assert outcomes(response) == ["unchanged", "unchanged"]
    confirm(admin_client, response)
    assert {e.pk: (e.updated_at, e.history.count()) for e in Exercise.objects.all()} == before


def test_a_json_export_holds_content_as_objects_and_a_json_file_imports(admin_client, make_exercise):
    exercise = make_exercise(title="Tense set")

    exported = json.loads(export(admin_client, JSON))

    assert exported == [
        {
            "id": str(exercise.pk),
            "title": "Tense set",
            "errorCategory": 1,
            "errorSubCategory": 3,
            "exercise_type": "gap_fill",
            "level": "B1",
            "is_active": True,
            "instructions": exercise.instructions,
            "content": exercise.content,
        }
    ]
    new = {**exported[0], "id": None, "title": "Tense set, new", "content": json.loads(exercise_row(1)["content"])}
    changed = {**exported[0], "level": "B2"}

    response = dry_run(admin_client, json.dumps([changed, new]), name="bank.json", file_format=JSON)

    assert outcomes(response) == ["changed", "new"]
    confirm(admin_client, response)
    assert sorted(Exercise.objects.values_list("title", "level")) == [("Tense set", "B2"), ("Tense set, new", "B1")]


def test_a_file_without_an_id_column_creates_exercises(admin_client):
    rows = [{key: value for key, value in exercise_row(n).items() if key != "id"} for n in (1, 2)]

    response = dry_run(admin_client, csv_text(rows))

    assert outcomes(response) == ["new", "new"]
    confirm(admin_client, response)
    assert Exercise.objects.count() == 2


def test_an_exercise_withdrawn_by_an_import_is_no_longer_recommended(
    admin_client, user, make_error, make_exercise, committed
):
    from tutor.ranking import recommend

    make_error(user=user, errorSubCategory=3)
    exercise = make_exercise(errorSubCategory=3, title="Withdrawn by file")
    assert recommend(user_id=user.pk)["top_errors"][0]["exercises"][0]["title"] == "Withdrawn by file"
    row = exercise_row(
        1, id=str(exercise.pk), title=exercise.title, content=json.dumps(exercise.content), is_active="0"
    )
    response = dry_run(admin_client, csv_text([row]))
    assert outcomes(response) == ["changed"]

    with committed():
        confirm(admin_client, response)

    assert recommend(user_id=user.pk)["top_errors"][0]["exercises"] == []


def test_staff_who_may_only_view_exercises_can_export_but_not_import(client, make_exercise):
    viewer = get_user_model().objects.create_user(username="viewer", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_exercise"))
    client.force_login(viewer)
    make_exercise(title="Visible")

    assert b"Visible" in export(client, CSV)
    upload = SimpleUploadedFile("exercises.csv", csv_text([exercise_row(1)]).encode())
    response = client.post("/admin/tutor/exercise/import/", {"import_file": upload, "format": CSV})

    assert response.status_code == 403
    assert Exercise.objects.count() == 1


@pytest.mark.parametrize(
    ("data", "name", "file_format"),
    [("x,y\nhello,world\n", "odd.csv", CSV), ('[{"x": 1}]', "odd.json", JSON)],
    ids=["csv", "json"],
)
def test_a_file_that_names_no_column_of_an_exercise_is_refused(admin_client, data, name, file_format):
    response = dry_run(admin_client, data, name=name, file_format=file_format)

    assert "names none of an exercise&#x27;s columns" in response.content.decode()
    assert "confirm_form" not in response.context or response.context["confirm_form"] is None
    assert not Exercise.objects.exists()
