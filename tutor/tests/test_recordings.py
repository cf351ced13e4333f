"""Recordings of pronunciation items: uploaded in the admin, checked, written into the content, served by URL."""

import io
import wave

import pytest
from django import forms
from django.core.files.uploadedfile import SimpleUploadedFile

from tutor import media as media_files
from tutor.models import Exercise, Recording
from tutor.tests.factories import ErrorFactory

pytestmark = pytest.mark.django_db

CHANGE = "/admin/tutor/exercise/{}/change/"
CONTENT = {
    "answer_mode": "spoken",
    "items": [
        {"id": "rec-test.1", "text": "banana", "audio": []},
        {"id": "rec-test.2", "text": "tomato", "audio": []},
    ],
}


def wav_bytes(frames: int = 800) -> bytes:
    """A real WAV file: 0.1 s of silence, mono, 8 kHz, 16 bits."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as audio:
        audio.setnchannels(1)
        audio.setsampwidth(2)
        audio.setframerate(8000)
        audio.writeframes(b"\x00\x00" * frames)
    return buffer.getvalue()


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return tmp_path / "media"


@pytest.fixture
def exercise(make_exercise):
    return make_exercise(exercise_type="repeat_after_me", errorSubCategory=9, level="A2", content=CONTENT)


def stored_files(media) -> list:
    return sorted(path for path in media.rglob("*") if path.is_file()) if media.exists() else []


def change_form(admin_client, exercise: Exercise) -> dict:
    """The exercise's change form as the page fills it, with the recordings formset's existing rows."""
    response = admin_client.get(CHANGE.format(exercise.pk))
    form = response.context["adminform"].form
    data = {}
    for name, field in form.fields.items():
        value = form[name].value()
        if isinstance(field, forms.BooleanField):
            if value:
                data[name] = "on"
        elif value is not None:
            data[name] = value
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        rows = formset.initial_forms
        data.update(
            {
                f"{formset.prefix}-TOTAL_FORMS": str(len(rows)),
                f"{formset.prefix}-INITIAL_FORMS": str(len(rows)),
            }
        )
        for index, row in enumerate(rows):
            for name in ("id", "exercise", "item_id", "accent"):
                if name in row.fields:
                    value = row[name].value()
                    data[f"{formset.prefix}-{index}-{name}"] = "" if value is None else str(value)
    return data


def upload(admin_client, exercise, *, item_id="rec-test.1", accent="GB", file=None, row=None):
    """Post the change page with a new recording (or a replacement of row `row`)."""
    data = change_form(admin_client, exercise)
    if row is None:
        row = int(data["recordings-TOTAL_FORMS"])
        data["recordings-TOTAL_FORMS"] = str(row + 1)
        data[f"recordings-{row}-exercise"] = str(exercise.pk)
    data[f"recordings-{row}-item_id"] = item_id
    data[f"recordings-{row}-accent"] = accent
    data[f"recordings-{row}-file"] = file or SimpleUploadedFile("banana.wav", wav_bytes(), "audio/wav")
    return admin_client.post(CHANGE.format(exercise.pk), data)


def audio_of(staff_api, exercise, index: int = 0) -> list:
    response = staff_api.get(f"/api/exercises/{exercise.pk}")
    assert response.status_code == 200
    return response.json()["content"]["items"][index]["audio"]


def fetched(client, url: str, **headers):
    response = client.get(url, headers=headers)
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return response, body


def test_an_uploaded_recording_is_in_the_api_content_and_served_at_its_url(
    admin_client, staff_api, client, exercise, media, committed
):
    with committed():
        response = upload(admin_client, exercise)

    assert response.status_code == 302
    recording = Recording.objects.get()
    assert (recording.item_id, recording.accent) == ("rec-test.1", "GB")
    audio = audio_of(staff_api, exercise)
    assert audio == [{"accent": "GB", "url": recording.file.url}]
    assert audio[0]["url"].startswith(f"/media/recordings/{exercise.pk}/rec-test.1.GB.")
    assert audio_of(staff_api, exercise, 1) == []
    whole, body = fetched(client, audio[0]["url"])
    assert whole.status_code == 200
    assert whole["Content-Type"] == "audio/wav"
    assert whole["Accept-Ranges"] == "bytes"
    assert body == wav_bytes()


def test_a_range_request_gets_206_with_just_those_bytes(admin_client, client, exercise, committed):
    with committed():
        upload(admin_client, exercise)
    url = Recording.objects.get().file.url
    size = len(wav_bytes())

    part, body = fetched(client, url, Range="bytes=8-15")
    tail, tail_body = fetched(client, url, Range="bytes=-4")
    past, _ = fetched(client, url, Range=f"bytes={size}-")
    opening, opening_body = fetched(client, url, Range="bytes=0-")  # what Chromium asks first

    assert part.status_code == 206
    assert part["Content-Range"] == f"bytes 8-15/{size}"
    assert part["Content-Length"] == "8"
    assert body == wav_bytes()[8:16] == b"WAVEfmt "
    assert tail.status_code == 206
    assert tail_body == wav_bytes()[-4:]
    assert past.status_code == 416
    assert opening.status_code == 206
    assert opening["Content-Range"] == f"bytes 0-{size - 1}/{size}"
    assert opening_body == wav_bytes()
    assert past["Content-Range"] == f"bytes */{size}"


def test_the_media_view_serves_only_audio_inside_media_root(client, media):
    media.mkdir()
    (media / "notes.html").write_text("<script>alert(1)</script>")

    assert client.get("/media/notes.html").status_code == 404
    assert client.get("/media/../manage.py").status_code == 404
    assert client.get("/media/recordings/missing.wav").status_code == 404
    assert client.post("/media/recordings/missing.wav").status_code == 405


def test_a_link_inside_media_root_that_leads_out_of_it_is_not_served(client, media, tmp_path):
    media.mkdir()
    outside = tmp_path / "secret.wav"
    outside.write_bytes(wav_bytes())
    (media / "inside.wav").write_bytes(wav_bytes())
    (media / "link.wav").symlink_to(outside)

    assert client.get("/media/inside.wav").status_code == 200
    assert client.get("/media/link.wav").status_code == 404


def test_replacing_a_recording_serves_the_new_file_at_a_new_url_and_removes_the_old(
    admin_client, staff_api, client, exercise, media, committed
):
    with committed():
        upload(admin_client, exercise)
    old = Recording.objects.get()
    old_url, old_path = old.file.url, old.file.path
    longer = wav_bytes(frames=1600)

    with committed():
        response = upload(admin_client, exercise, row=0, file=SimpleUploadedFile("banana2.wav", longer))

    assert response.status_code == 302
    new = Recording.objects.get()
    assert new.pk == old.pk
    assert new.file.url != old_url
    assert audio_of(staff_api, exercise) == [{"accent": "GB", "url": new.file.url}]
    assert stored_files(media) == [media / new.file.name]
    assert fetched(client, new.file.url)[1] == longer
    assert client.get(old_url).status_code == 404
    assert old_path not in [str(path) for path in stored_files(media)]


def test_deleting_a_recording_removes_its_file_and_empties_the_audio_list(
    admin_client, staff_api, exercise, media, committed
):
    with committed():
        upload(admin_client, exercise)
        upload(admin_client, exercise, accent="GA")
    assert [entry["accent"] for entry in audio_of(staff_api, exercise)] == ["GB", "GA"]
    data = change_form(admin_client, exercise)
    gb_row = next(i for i in range(2) if data[f"recordings-{i}-accent"] == "GB")

    with committed():
        response = admin_client.post(CHANGE.format(exercise.pk), {**data, f"recordings-{gb_row}-DELETE": "on"})

    assert response.status_code == 302
    ga = Recording.objects.get()
    assert audio_of(staff_api, exercise) == [{"accent": "GA", "url": ga.file.url}]
    assert stored_files(media) == [media / ga.file.name]

    with committed():
        ga.delete()

    assert audio_of(staff_api, exercise) == []
    assert stored_files(media) == []


def test_deleting_an_exercise_removes_its_recordings_files(admin_client, exercise, media, committed):
    with committed():
        upload(admin_client, exercise)
        upload(admin_client, exercise, item_id="rec-test.2", accent="GA")
    assert len(stored_files(media)) == 2

    with committed():
        response = admin_client.post(f"/admin/tutor/exercise/{exercise.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert not Exercise.objects.exists()
    assert not Recording.objects.exists()
    assert stored_files(media) == []


TEXT = b"These are my notes, not a recording.\n"


@pytest.mark.parametrize(
    ("upload_kwargs", "message"),
    [
        (
            {"file": SimpleUploadedFile("banana.mp3", TEXT, "audio/mpeg")},
            "Recording file: &#x27;banana.mp3&#x27; is named .mp3 but its content is not MP3 audio; "
            "only MP3, OGG/Opus, WAV, M4A/AAC or WebM audio",
        ),
        (
            {"file": SimpleUploadedFile("banana.txt", TEXT, "text/plain")},
            "Recording file: &#x27;banana.txt&#x27; is not an audio file; only MP3, OGG/Opus, WAV, M4A/AAC or WebM",
        ),
        (
            {"file": SimpleUploadedFile("banana.wav", wav_bytes(frames=8000), "audio/wav")},
            "Recording file: &#x27;banana.wav&#x27; is 15.7 KB; at most 10 KB is allowed (AUDIO_MAX_BYTES).",
        ),
        ({"item_id": "rec-test.99"}, "Item: this exercise has no item &#x27;rec-test.99&#x27;."),
    ],
    ids=["text renamed .mp3", "not audio by name", "too large", "unknown item"],
)
def test_a_refused_upload_says_why_and_stores_nothing(
    admin_client, staff_api, exercise, media, settings, upload_kwargs, message
):
    settings.AUDIO_MAX_BYTES = 10 * 1024

    response = upload(admin_client, exercise, **upload_kwargs)

    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Recording.objects.exists()
    assert stored_files(media) == []
    assert audio_of(staff_api, exercise) == []


def test_an_item_that_takes_no_recording_is_refused(admin_client, make_exercise, media):
    gap_fill = make_exercise()
    item_id = gap_fill.content["items"][0]["id"]

    response = upload(admin_client, gap_fill, item_id=item_id)

    assert response.status_code == 200
    assert f"Item: &#x27;{item_id}&#x27; takes no recording; only pronunciation items do" in response.content.decode()
    assert not Recording.objects.exists()
    assert stored_files(media) == []
    assert Exercise.objects.get().content == gap_fill.content


def test_a_second_recording_of_one_item_and_accent_is_refused(admin_client, exercise, committed):
    with committed():
        upload(admin_client, exercise)

    response = upload(admin_client, exercise)

    assert response.status_code == 200
    assert "An item has one recording per accent: replace the file of its existing row instead." in (
        response.content.decode()
    )
    assert Recording.objects.count() == 1


def test_the_change_page_lists_the_items_with_their_text_and_plays_a_recording(admin_client, exercise, committed):
    with committed():
        upload(admin_client, exercise)

    page = admin_client.get(CHANGE.format(exercise.pk)).content.decode()

    assert '<option value="rec-test.2">rec-test.2: tomato</option>' in page
    assert f'<audio controls preload="none" src="{Recording.objects.get().file.url}"' in page
    assert 'id="recording-player-rec-test.1-GB"' in page


def save_in_the_shell(admin_client, exercise) -> None:
    Recording.objects.create(
        exercise=exercise, item_id="rec-test.1", accent="GB", file=SimpleUploadedFile("banana.wav", wav_bytes())
    )


@pytest.mark.parametrize("door", ["admin", "shell"])
def test_a_recommendation_carries_the_url_right_after_the_upload_and_not_after_the_delete(
    admin_client, api, user, exercise, committed, door
):
    ErrorFactory.create_batch(3, user=user, errorSubCategory=9)

    def recommended_audio() -> list:
        response = api.get("/api/generate-exercise", {"user_id": str(user.pk)})
        assert response.status_code == 200
        [top] = response.json()["top_errors"]
        [recommended] = top["exercises"]
        return recommended["content"]["items"][0]["audio"]

    assert recommended_audio() == []  # the bank is now held by this process
    with committed():
        (upload if door == "admin" else save_in_the_shell)(admin_client, exercise)

    assert recommended_audio() == [{"accent": "GB", "url": Recording.objects.get().file.url}]

    with committed():
        Recording.objects.get().delete()

    assert recommended_audio() == []


def test_with_s3_storage_the_content_carries_the_storage_url_and_this_server_serves_no_media(settings, exercise):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {"bucket_name": "tutor-media", "custom_domain": "media.example.com", "querystring_auth": False},
        },
    }
    recording = Recording(
        exercise=exercise, item_id="rec-test.1", accent="GA", file="recordings/x/rec-test.1.GA.ab.ogg"
    )

    assert recording.file.url == "https://media.example.com/recordings/x/rec-test.1.GA.ab.ogg"
    assert media_files.urlpatterns() == []
