"""The workbench against careless or hostile input: odd ids, markup in names, odd headers and files."""

import json
import uuid

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.test import Client

from tutor.models import Exercise, Recording
from tutor.tests.test_exercise_files import csv_text, dry_run, exercise_row, outcomes, reasons
from tutor.tests.test_recordings import exercise, fetched, media, stored_files, upload  # noqa: F401 (fixtures)

pytestmark = pytest.mark.django_db

SCRIPT = "<script>alert(1)</script>"


@pytest.fixture
def viewer(db):
    """A staff client who may view exercises and nothing else."""
    account = get_user_model().objects.create_user(username="viewer", is_staff=True)
    account.user_permissions.add(Permission.objects.get(codename="view_exercise"))
    client = Client()
    client.force_login(account)
    return client


def test_staff_who_may_only_view_see_an_exercise_and_its_preview(viewer, make_exercise):
    shown = make_exercise(title="Went or gone")

    response = viewer.get(f"/admin/tutor/exercise/{shown.pk}/change/")

    assert response.status_code == 200
    page = response.content.decode()
    assert 'id="exercise-preview"' in page
    assert "Yesterday I" in page
    assert 'name="_save"' not in page
    assert "exercise_content.js" not in page  # nothing to edit, so no editor's script


@pytest.mark.parametrize(
    ("method", "url", "data"),
    [
        ("get", "/admin/tutor/exercise/not-a-uuid/history/compare/", {}),
        ("post", "/admin/tutor/exercise/not-a-uuid/history/restore/", {"version": "1"}),
        ("post", "/admin/tutor/exercise/{pk}/history/restore/", {"version": "abc"}),
        ("post", "/admin/tutor/exercise/{pk}/history/restore/", {}),
    ],
)
def test_a_malformed_exercise_or_version_in_history_urls_is_not_found(admin_client, make_exercise, method, url, data):
    stored = make_exercise()

    response = getattr(admin_client, method)(url.format(pk=stored.pk), data)

    assert response.status_code == 404
    assert Exercise.objects.get(pk=stored.pk).title == stored.title


def test_the_compare_page_shows_an_author_name_as_text(client, make_exercise):
    author = get_user_model().objects.create_superuser(username=SCRIPT)
    client.force_login(author)
    edited = make_exercise()
    edited._history_user = author
    edited.content = {**edited.content, "items": [{**edited.content["items"][0], "answer": "has gone"}]}
    edited.save()

    response = client.get(f"/admin/tutor/exercise/{edited.pk}/history/compare/")

    assert response.status_code == 200
    page = response.content.decode()
    assert SCRIPT not in page
    assert "by &lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_two_rows_with_one_id_are_refused_naming_the_earlier_row(admin_client):
    shared = str(uuid.uuid4())
    rows = [exercise_row(1, id=shared), exercise_row(2), exercise_row(3, id=shared, title="Another title")]

    response = dry_run(admin_client, csv_text(rows))

    assert outcomes(response) == ["new", "new", "refused"]
    assert [r for r in reasons(response) if r.startswith("Row 3: ") and "row 1" in r], reasons(response)
    assert not Exercise.objects.filter(pk=shared).exists()


@pytest.mark.parametrize("digits", ["bytes=" + "1" * 5000 + "-", "bytes=0-" + "9" * 5000, "bytes=-" + "1" * 5000])
def test_a_range_with_a_number_of_thousands_of_digits_gets_the_whole_file(client, media, digits):  # noqa: F811
    (media / "recordings").mkdir(parents=True)
    (media / "recordings" / "a.wav").write_bytes(b"RIFF\0\0\0\0WAVE" + bytes(100))

    response, body = fetched(client, "/media/recordings/a.wav", Range=digits)

    assert response.status_code == 200
    assert len(body) == 112


def test_a_preview_of_content_nested_too_deep_to_read_draws_nothing(admin_client):
    deep = "[" * 100_000 + "]" * 100_000

    response = admin_client.post("/admin/tutor/exercise/preview/", {"exercise_type": "gap_fill", "content": deep})

    assert response.status_code == 200
    assert 'id="exercise-preview"' in response.content.decode()


def test_restoring_a_version_keeps_the_url_of_the_recording_it_has_now(admin_client, exercise, media, committed):  # noqa: F811
    with committed():
        upload(admin_client, exercise)
    with_first_file = exercise.history.first()
    with committed():
        upload(admin_client, exercise, row=0)  # replaced: the first file is removed
    current = Recording.objects.get().file.url

    with committed():
        response = admin_client.post(
            f"/admin/tutor/exercise/{exercise.pk}/history/restore/", {"version": with_first_file.pk}
        )

    assert response.status_code == 302
    exercise.refresh_from_db()
    assert exercise.content["items"][0]["audio"] == [{"accent": "GB", "url": current}]
    assert fetched(admin_client, current)[0].status_code == 200
    assert len(stored_files(media)) == 1
    assert json.dumps(exercise.history.first().content) == json.dumps(exercise.content)
