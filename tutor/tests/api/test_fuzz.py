"""Property-based fuzzing of every API operation against our own OpenAPI document (schemathesis).

Every check schemathesis has runs, on each operation and on sequences of operations that follow
the document's links (create, then read, change and delete what was created): the API must never
fail, must accept what the document allows and refuse what it does not, and answer as documented.
"""

import itertools
import re
import uuid
from datetime import timedelta

import pytest
import schemathesis
from django.core import signals
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import close_old_connections, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from hypothesis import HealthCheck, settings

from english_tutor.wsgi import application
from tutor.buffer import EARLIEST_EVENT_TIME
from tutor.grading import keyed_items
from tutor.models import Exercise, ExerciseAttempt, User
from tutor.serializers import MAX_ANSWERS
from tutor.tests.factories import ErrorFactory, ExerciseFactory, UserFactory
from tutor.text import VISIBLE_TEXT

schema = schemathesis.openapi.from_wsgi("/api/schema", application)
_unique = itertools.count()


def fill_in(case) -> None:
    """Fill in what the document cannot know: existing learners and exercises, new user names, keys among options."""
    if case.operation.path == PROGRESS_PATH and _is_uuid(case.path_parameters.get("id")):
        case.path_parameters["id"] = str(_learner_with_progress())
    body = case.body
    for item in body if isinstance(body, list) else [body]:
        if isinstance(item, dict):
            _known_ids(item)


def _known_ids(body: dict) -> None:
    if _is_uuid(body.get("user_id")):
        body["user_id"] = str(_existing(User) or UserFactory().pk)
    if _is_uuid(body.get("exercise_id")):
        body["exercise_id"] = str(_existing(Exercise) or ExerciseFactory().pk)
        if isinstance(body.get("answers"), dict) and 0 < len(body["answers"]) <= MAX_ANSWERS:
            # Answers name the exercise's own keyed items, which only the data knows.
            keyed = list(keyed_items(Exercise.objects.get(pk=body["exercise_id"]).content)) or ["none"]
            body["answers"] = {keyed[n % len(keyed)]: text for n, text in enumerate(body["answers"].values())}
    # Unique names and addresses, only in place of valid ones: a value drawn to be refused stays as drawn.
    if _valid_text(body.get("username"), 50):
        body["username"] = f"u{next(_unique)}"
    if _valid_text(body.get("email"), 100) and _is_email(body["email"]):
        fresh = f"u{next(_unique)}@{body['email'].rpartition('@')[2]}"
        if _is_email(fresh) and len(fresh) <= 100:
            body["email"] = fresh
    for name in ("timestamp_utc", "completed_at"):
        # A date-time the document allows, inside the bounds it states in words (from 2000 to now).
        try:
            moment = parse_datetime(body[name]) if isinstance(body.get(name), str) else None
        except ValueError:  # well formed, but no such time (12:99): the API refuses it, as it should
            moment = None
        if moment is not None and moment.tzinfo is not None and not EARLIEST_EVENT_TIME <= moment <= timezone.now():
            body[name] = timezone.now().isoformat()
    content = body.get("content")
    prefix = uuid.uuid4().hex[:12]
    for number, item in enumerate(_content_items(content)):
        # The rules JSON Schema cannot state: a key among its options, feedback for distractors only,
        # ids unique in the bank, a stressed syllable that exists.
        item["id"] = f"fuzz-{prefix}.{number}"
        if isinstance(item.get("options"), list) and item["options"] and "answer" in item:
            item["answer"] = item["options"][0]
        item.pop("feedback", None)
        for entry in item.get("stress", []) if isinstance(item.get("stress"), list) else []:
            if isinstance(entry, dict):
                entry["stressed"] = 0


PROGRESS_PATH = "/api/users/{id}/progress"


def _learner_with_progress():
    """A learner whose progress holds every kind of figure: errors, scored and unscored attempts, a due exercise."""
    learner = User.objects.filter(username="fuzz-progress").first()
    if learner is None:
        learner = UserFactory(username="fuzz-progress")
        exercise = ExerciseFactory()
        now = timezone.now()
        for days_ago, score in [(40, 0.0), (9, None), (2, 0.5)]:
            ExerciseAttempt.objects.create(
                user=learner, exercise=exercise, completed_at=now - timedelta(days=days_ago), score=score
            )
        for days_ago in (60, 60, 30, 1):
            ErrorFactory(user=learner, timestamp_utc=now - timedelta(days=days_ago))
    return learner.pk


def _content_items(content) -> list[dict]:
    if not isinstance(content, dict):
        return []
    lists = [content.get(step) for step in ("items", "identify", "pairs", "sentences")]
    return [item for entries in lists if isinstance(entries, list) for item in entries if isinstance(item, dict)]


def _valid_text(value, max_length: int) -> bool:
    return isinstance(value, str) and len(value) <= max_length and re.search(VISIBLE_TEXT, value) is not None


def _is_email(value: str) -> bool:
    try:
        validate_email(value)
    except ValidationError:
        return False
    return True


def _existing(model):
    return model.objects.values_list("pk", flat=True).first()


def _is_uuid(value) -> bool:
    try:
        uuid.UUID(value)
    except (TypeError, ValueError, AttributeError):
        return False
    return True


@pytest.fixture(autouse=True)
def _keep_the_test_transaction():
    """Serve requests inside the test's transaction, as Django's test client does."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def token(db):
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from tutor import api_keys

    call_command("seed_demo", verbosity=0)
    staff = get_user_model().objects.create_user("fuzzer", is_staff=True)
    return api_keys.create(client=staff, name="fuzzer")[1]


# Derandomized: the suite replays the same examples every run, so that main stays green; raise max_examples
# and drop derandomize to explore further by hand (or run the schemathesis CLI against a server).
FUZZ = settings(max_examples=50, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)


@schema.parametrize()
@FUZZ
def test_no_input_makes_the_api_fail_or_break_its_schema(case, token):
    fill_in(case)
    case.call_and_validate(headers={"Authorization": f"Token {token}"})


class Workflow(schema.as_state_machine()):
    """Sequences of calls that follow the document's links, as a staff client."""

    token = ""

    def setup(self):
        # Each sequence starts from the same stored state: what a step draws may depend on earlier answers.
        self.savepoint = transaction.savepoint()

    def teardown(self):
        transaction.savepoint_rollback(self.savepoint)

    def before_call(self, case):
        fill_in(case)

    def get_call_kwargs(self, case):
        return {"headers": self.headers()}

    def validate_response(self, response, case, additional_checks=None, **kwargs):
        case.validate_response(response, headers=self.headers(), transport_kwargs=kwargs)

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Token {self.token}"}


def test_no_sequence_of_linked_calls_breaks_the_api(token):
    Workflow.token = token
    Workflow.run(
        settings=settings(
            max_examples=15,
            stateful_step_count=4,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
        )
    )
