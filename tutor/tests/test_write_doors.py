"""Every door a write comes through, and every kind of change: the next recommendation reflects it.

Against gunicorn with 2 workers (each holding its own copy of what it may keep), once with the
buffer and a shared cache in Redis, once without any Redis. Each change is read back by many
concurrent requests, so both workers answer after having answered before the change.
"""

import html.parser
import json
import os
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
import requests
from django.conf import settings

from tutor.tests.gunicorn_server import GunicornServer, manage
from tutor.tests.redis_server import RedisServer

PASSWORD = "doors-" + uuid.uuid4().hex
SETUP = f"""
from django.contrib.auth import get_user_model
from tutor import api_keys
staff = get_user_model().objects.create_superuser(username="curator", email="c@example.com", password="{PASSWORD}")
print(api_keys.create(client=staff, name="doors")[1])
"""
TENSE, GRAMMAR = 3, 1
READS = 16  # concurrent reads after each change: both workers answer some


class Stack:
    """gunicorn with 2 workers on a database of its own; with the buffer in a private Redis, or without Redis."""

    def __init__(self, workdir, config: str):
        self.dbname = f"english_tutor_doors_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(_admin_url(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {self.dbname}")
        self.redis = RedisServer(workdir) if config == "buffer" else None
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "english_tutor.settings",
            "DJANGO_SECRET_KEY": "doors-test-" + uuid.uuid4().hex,
            "DJANGO_DEBUG": "false",
            "DATABASE_URL": _admin_url(self.dbname),
            "REDIS_URL": f"redis://127.0.0.1:{self.redis.port}/1" if self.redis else "",
            "EVENT_BUFFER_URL": f"redis://127.0.0.1:{self.redis.port}/0" if self.redis else "",
            "CELERY_BROKER_URL": "memory://",
        }
        self.manage("migrate", "--no-input")
        self.key = self.shell(SETUP).splitlines()[-1]
        self.server = GunicornServer(self.env)
        self.url = self.server.url
        self.admin = AdminSession(self.url)

    def manage(self, *args) -> str:
        return manage(self.env, *args)

    def shell(self, code: str) -> str:
        return self.manage("shell", "-c", code)

    def loaddata(self, workdir, records: list[dict]) -> None:
        fixture = workdir / f"fixture-{uuid.uuid4().hex}.json"
        fixture.write_text(json.dumps(records))
        self.manage("loaddata", str(fixture))

    def api(self, method: str, path: str, body: dict | list | None = None, expect: int = 200) -> dict:
        response = requests.request(
            method, f"{self.url}{path}", json=body, headers={"Authorization": f"Token {self.key}"}, timeout=10
        )
        assert response.status_code == expect, response.text
        return response.json() if response.content else {}

    def withdraw_exercises(self) -> None:
        """Delete the exercises earlier scenes left, so that each scene's own come first."""
        for exercise in self.api("GET", "/api/exercises?limit=1000")["results"]:
            self.api("DELETE", f"/api/exercises/{exercise['id']}", expect=204)

    def recommendations(self, learner: str) -> list[requests.Response]:
        """Ask for the learner's recommendation many times at once: every worker answers some."""
        url = f"{self.url}/api/generate-exercise"
        params = {"user_id": learner, "top_n_errors": 5, "last_n_days": 30, "exercises_per_error": 2}
        headers = {"Authorization": f"Token {self.key}"}
        with ThreadPoolExecutor(4) as pool:
            return list(pool.map(lambda _: requests.get(url, params=params, headers=headers, timeout=10), range(READS)))

    def close(self) -> None:
        self.server.stop()
        if self.redis:
            self.redis.stop()
        with psycopg.connect(_admin_url(), autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {self.dbname} WITH (FORCE)")


def _admin_url(dbname: str = "postgres") -> str:
    db = settings.DATABASES["default"]
    return f"postgres://{db['USER']}@{db['HOST']}:{db['PORT'] or 5432}/{dbname}"


class _Form(html.parser.HTMLParser):
    """The fields of the admin's change form, as a browser would submit them unchanged."""

    def __init__(self):
        super().__init__()
        self.fields, self._select, self._textarea = {}, None, None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        name = attrs.get("name")
        if tag == "input" and name and attrs.get("type") not in ("submit", "button", "file"):
            if attrs.get("type") not in ("checkbox", "radio") or "checked" in attrs:
                self.fields[name] = attrs.get("value", "on")
        elif tag == "select" and name:
            self._select = name
        elif tag == "option" and self._select and "selected" in attrs:
            self.fields[self._select] = attrs.get("value", "")
        elif tag == "textarea" and name:
            self._textarea = name
            self.fields[name] = ""

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data):
        if self._textarea:
            self.fields[self._textarea] += data


class AdminSession:
    """A curator signed in to the admin, filling in its forms as a browser does."""

    def __init__(self, url: str):
        self.url, self.session = url, requests.Session()
        page = self.session.get(f"{url}/admin/login/", timeout=10)
        done = self.session.post(
            f"{url}/admin/login/",
            data={**self._fields(page.text), "username": "curator", "password": PASSWORD, "next": "/admin/"},
            timeout=10,
        )
        assert done.url.endswith("/admin/"), done.text[:500]

    @staticmethod
    def _fields(page: str) -> dict:
        form = _Form()
        form.feed(page)
        return form.fields

    def submit(self, path: str, changes: dict) -> None:
        """Fill in the form at `path` with `changes` over what it shows, and save it."""
        page = self.session.get(f"{self.url}{path}", timeout=10)
        assert page.status_code == 200, page.text[:500]
        done = self.session.post(
            f"{self.url}{path}", data={**self._fields(page.text), **changes, "_save": "Save"}, timeout=10
        )
        assert "errorlist" not in done.text, done.text[done.text.find("errorlist") - 200 :][:1500]
        assert [r.status_code for r in done.history] == [302]

    def delete(self, model: str, pk) -> None:
        self.submit(f"/admin/tutor/{model}/{pk}/delete/", {"post": "yes"})

    def action(self, model: str, action: str, pks: list) -> None:
        page = self.session.get(f"{self.url}/admin/tutor/{model}/", timeout=10)
        token = self._fields(page.text)["csrfmiddlewaretoken"]
        done = self.session.post(
            f"{self.url}/admin/tutor/{model}/",
            data={"csrfmiddlewaretoken": token, "action": action, "index": 0, "_selected_action": pks},
            timeout=10,
        )
        assert [r.status_code for r in done.history] == [302], done.text[:500]


@pytest.fixture(scope="module", params=["buffer", "no-redis"])
def stack(request, tmp_path_factory):
    running = Stack(tmp_path_factory.mktemp(request.param), request.param)
    yield running
    running.close()


class Scene:
    """One learner with Tense errors and Tense exercises of their own, read by every worker before the change."""

    def __init__(self, stack: Stack, level: str = "A1"):
        self.stack, tag = stack, uuid.uuid4().hex[:8]
        stack.withdraw_exercises()
        self.learner = stack.api(
            "POST",
            "/api/users",
            {
                "username": f"l-{tag}",
                "email": f"{tag}@example.com",
                "first_name": "Ada",
                "last_name": tag,
                "level": level,
            },
            expect=201,
        )["id"]
        self.errors = [self.add_error_by_api() for _ in range(2)]
        self.exercises = {
            lvl: self.add_exercise_by_api(f"{tag} {lvl}", lvl)["id"] for lvl in ("A1", "C2")
        }  # ordered by closeness to the learner's level
        self.expect_everywhere(frequency=2)

    def add_error_by_api(self) -> str:
        body = {"user_id": self.learner, "errorCategory": GRAMMAR, "errorSubCategory": TENSE}
        return self.stack.api("POST", "/api/errors", body, expect=201)["id"]

    def add_exercise_by_api(self, title: str, level: str, active: bool = True) -> dict:
        body = {**exercise_fields(title, level), "is_active": active}
        return self.stack.api("POST", "/api/exercises", body, expect=201)

    def answers(self) -> list[dict]:
        responses = self.stack.recommendations(self.learner)
        assert {r.status_code for r in responses} == {200}, {r.status_code for r in responses}
        return [r.json() for r in responses]

    def expect_everywhere(self, *, frequency: int | None = None, first: str | None = None) -> None:
        """Every answer shows the learner's Tense errors `frequency` times and offers exercise `first` first."""
        for answer in self.answers():
            (top,) = [t for t in answer["top_errors"] if t["errorSubCategory"] == "Tense"]
            if frequency is not None:
                assert top["errorFrequency"] == frequency, answer
            if first is not None:
                assert top["exercises"][0]["id"] == first, (first, top["exercises"])

    def offered_everywhere(self, exercise: str, offered: bool) -> None:
        for answer in self.answers():
            (top,) = [t for t in answer["top_errors"] if t["errorSubCategory"] == "Tense"]
            fresh = [e["id"] for e in top["exercises"] if not e.get("repeat")]
            assert (exercise in fresh) == offered, (exercise, offered, top["exercises"])


def exercise_fields(title: str, level: str) -> dict:
    return {
        "title": title,
        "errorCategory": GRAMMAR,
        "errorSubCategory": TENSE,
        "exercise_type": "gap_fill",
        "level": level,
        "instructions": "Say each sentence aloud with the verb in the right tense.",
        "content": {
            "answer_mode": "typed",
            "items": [
                {
                    "id": f"doors-{uuid.uuid4().hex}",
                    "prompt": f"Yesterday I ___ to the market ({title}). (go)",
                    "answer": "went",
                }
            ],
        },
    }


def now_text() -> str:
    return datetime.now(UTC).isoformat()


# Each door: (stack, scene, workdir) -> None, making one change of its kind.
ERROR_ADDED = {
    "api": lambda stack, scene, _: scene.add_error_by_api(),
    "event-buffer-and-flush": lambda stack, scene, _: (
        stack.api(
            "POST",
            "/api/error-events",
            {"user_id": scene.learner, "errorCategory": GRAMMAR, "errorSubCategory": TENSE},
            expect=202,
        ),
        stack.manage("flush_error_events") if stack.redis else None,
    ),
    "admin": lambda stack, scene, _: stack.admin.submit(
        "/admin/tutor/error/add/",
        {
            "user": scene.learner,
            "errorCategory": GRAMMAR,
            "errorSubCategory": TENSE,
            "timestamp_utc_0": datetime.now(UTC).strftime("%Y-%m-%d"),
            "timestamp_utc_1": (datetime.now(UTC) - timedelta(minutes=1)).strftime("%H:%M:%S"),
        },
    ),
    "shell": lambda stack, scene, _: stack.shell(
        "from tutor.models import Error; "
        f"Error.objects.create(user_id='{scene.learner}', errorCategory={GRAMMAR}, errorSubCategory={TENSE})"
    ),
    "loaddata": lambda stack, scene, workdir: stack.loaddata(
        workdir,
        [
            {
                "model": "tutor.error",
                "fields": {
                    "event_id": str(uuid.uuid4()),
                    "user": scene.learner,
                    "errorCategory": GRAMMAR,
                    "errorSubCategory": TENSE,
                    "timestamp_utc": now_text(),
                },
            }
        ],
    ),
}

ERROR_DELETED = {
    "api": lambda stack, scene, _: stack.api("DELETE", f"/api/errors/{scene.errors[0]}", expect=204),
    "admin": lambda stack, scene, _: stack.admin.delete("error", scene.errors[0]),
    "shell": lambda stack, scene, _: stack.shell(
        f"from tutor.models import Error; Error.objects.filter(pk='{scene.errors[0]}').delete()"
    ),
}

ATTEMPTED = {
    "api": lambda stack, scene, _: stack.api(
        "POST", "/api/exercise-attempts", {"user_id": scene.learner, "exercise_id": scene.exercises["A1"]}, expect=201
    ),
    "admin": lambda stack, scene, _: stack.admin.submit(
        "/admin/tutor/exerciseattempt/add/",
        {
            "user": scene.learner,
            "exercise": scene.exercises["A1"],
            "completed_at_0": datetime.now(UTC).strftime("%Y-%m-%d"),
            "completed_at_1": (datetime.now(UTC) - timedelta(minutes=1)).strftime("%H:%M:%S"),
            "score": "0.5",
        },
    ),
    "service-in-shell": lambda stack, scene, _: stack.shell(
        "from django.utils import timezone; from tutor import ingest; from tutor.models import Exercise; "
        f"exercise = Exercise.objects.get(pk='{scene.exercises['A1']}'); "
        f"ingest.record_attempt(user_id='{scene.learner}', exercise=exercise, completed_at=timezone.now(), score=None)"
    ),
    "loaddata": lambda stack, scene, workdir: stack.loaddata(
        workdir,
        [
            {
                "model": "tutor.exerciseattempt",
                "fields": {"user": scene.learner, "exercise": scene.exercises["A1"], "completed_at": now_text()},
            }
        ],
    ),
}

LEVEL_CHANGED = {
    "api": lambda stack, scene, _: stack.api("PATCH", f"/api/users/{scene.learner}", {"level": "C2"}),
    "admin": lambda stack, scene, _: stack.admin.submit(f"/admin/tutor/user/{scene.learner}/change/", {"level": "C2"}),
    "shell": lambda stack, scene, _: stack.shell(
        f"from tutor.models import User; u = User.objects.get(pk='{scene.learner}'); u.level = 'C2'; u.save()"
    ),
}

LEARNER_DELETED = {
    "api": lambda stack, scene, _: stack.api("DELETE", f"/api/users/{scene.learner}", expect=204),
    "admin": lambda stack, scene, _: stack.admin.delete("user", scene.learner),
    "shell": lambda stack, scene, _: stack.shell(
        f"from tutor.models import User; User.objects.get(pk='{scene.learner}').delete()"
    ),
}

EXERCISE_DEACTIVATED = {
    "api": lambda stack, scene, _: stack.api("PATCH", f"/api/exercises/{scene.exercises['A1']}", {"is_active": False}),
    "admin": lambda stack, scene, _: stack.admin.submit(
        f"/admin/tutor/exercise/{scene.exercises['A1']}/change/", {"is_active": ""}
    ),
    "admin-bulk-action": lambda stack, scene, _: stack.admin.action("exercise", "deactivate", [scene.exercises["A1"]]),
    "shell": lambda stack, scene, _: stack.shell(
        "from tutor.models import Exercise; "
        f"e = Exercise.objects.get(pk='{scene.exercises['A1']}'); e.is_active = False; e.save()"
    ),
}

EXERCISE_DELETED = {
    "api": lambda stack, scene, _: stack.api("DELETE", f"/api/exercises/{scene.exercises['A1']}", expect=204),
    "admin": lambda stack, scene, _: stack.admin.delete("exercise", scene.exercises["A1"]),
}

# An exercise added at the learner's own level is offered first from then on.
EXERCISE_ADDED = {
    "api": lambda stack, scene, _: scene.add_exercise_by_api(f"new {scene.learner}", "A1")["id"],
    "admin": lambda stack, scene, _: stack.admin.submit(
        "/admin/tutor/exercise/add/",
        {
            **exercise_fields(f"new {scene.learner}", "A1"),
            "content": json.dumps(exercise_fields(f"new {scene.learner}", "A1")["content"]),
            "is_active": "on",
        },
    ),
    "loaddata": lambda stack, scene, workdir: stack.loaddata(
        workdir,
        [
            {
                "model": "tutor.exercise",
                "pk": str(uuid.uuid4()),
                "fields": {
                    **exercise_fields(f"new {scene.learner}", "A1"),
                    "is_active": True,
                    "created_at": now_text(),
                    "updated_at": now_text(),
                },
            }
        ],
    ),
}


def _cases(doors: dict) -> list:
    return [pytest.param(door, id=name) for name, door in doors.items()]


@pytest.mark.parametrize("door", _cases(ERROR_ADDED))
def test_an_error_added_through_any_door_is_counted_by_every_worker(stack, door, tmp_path):
    scene = Scene(stack)
    door(stack, scene, tmp_path)
    scene.expect_everywhere(frequency=3)


@pytest.mark.parametrize("door", _cases(ERROR_DELETED))
def test_an_error_deleted_through_any_door_is_uncounted_by_every_worker(stack, door, tmp_path):
    scene = Scene(stack)
    door(stack, scene, tmp_path)
    scene.expect_everywhere(frequency=1)


@pytest.mark.parametrize("door", _cases(ATTEMPTED))
def test_an_attempt_recorded_through_any_door_cools_the_exercise_down_in_every_worker(stack, door, tmp_path):
    scene = Scene(stack)
    scene.offered_everywhere(scene.exercises["A1"], offered=True)
    door(stack, scene, tmp_path)
    scene.offered_everywhere(scene.exercises["A1"], offered=False)


@pytest.mark.parametrize("door", _cases(LEVEL_CHANGED))
def test_a_level_changed_through_any_door_reorders_the_exercises_in_every_worker(stack, door, tmp_path):
    scene = Scene(stack, level="A1")
    scene.expect_everywhere(first=scene.exercises["A1"])
    door(stack, scene, tmp_path)
    scene.expect_everywhere(first=scene.exercises["C2"])


@pytest.mark.parametrize("door", _cases(LEARNER_DELETED))
def test_a_learner_deleted_through_any_door_is_not_found_by_any_worker(stack, door, tmp_path):
    scene = Scene(stack)
    door(stack, scene, tmp_path)
    assert {r.status_code for r in stack.recommendations(scene.learner)} == {404}


@pytest.mark.parametrize("door", _cases({**EXERCISE_DEACTIVATED, **EXERCISE_DELETED}))
def test_an_exercise_withdrawn_through_any_door_is_offered_by_no_worker(stack, door, tmp_path):
    scene = Scene(stack)
    scene.offered_everywhere(scene.exercises["A1"], offered=True)
    door(stack, scene, tmp_path)
    scene.offered_everywhere(scene.exercises["A1"], offered=False)


@pytest.mark.parametrize("door", _cases(EXERCISE_ADDED))
def test_an_exercise_added_through_any_door_is_offered_by_every_worker(stack, door, tmp_path):
    scene = Scene(stack)
    door(stack, scene, tmp_path)
    title = f"new {scene.learner}"
    for answer in scene.answers():
        (top,) = [t for t in answer["top_errors"] if t["errorSubCategory"] == "Tense"]
        assert title in [e["title"] for e in top["exercises"]], top["exercises"]
